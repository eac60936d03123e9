import ArgumentParser
import Training

extension Attack.Method: ExpressibleByArgument {}
extension Attack.Norm: ExpressibleByArgument {}

/// The budget of an attack, shared by `curate evaluate --attack` and `curate train --adversarial`.
struct AttackOptions: ParsableArguments {
    @Option(help: "The attack's budget, a fraction of the pixel range (8/255 or 0.0314).") var epsilon: String?
    @Option(help: "The budget's norm: linf or l2.") var norm: Attack.Norm = .linf
    @Option(help: "PGD's steps.") var steps = 10
    @Option(help: "PGD's step, a fraction of the pixel range (default 2.5 epsilon / steps).") var stepSize: String?
    @Flag(help: "PGD starts from the image itself, not a random point of the budget's ball.") var noRandomStart = false

    /// The attack `method` names with these options, or nil without one (then no budget may be given).
    func make(_ method: Attack.Method?, flag: String, seed: UInt64) throws -> Attack? {
        guard let method else {
            if epsilon != nil || stepSize != nil { throw ValidationError("--epsilon and --step-size need \(flag) fgsm|pgd") }
            return nil
        }
        guard let epsilon else { throw ValidationError("\(flag) needs --epsilon (for example 8/255)") }
        guard let e = Attack.budget(epsilon) else { throw ValidationError("--epsilon '\(epsilon)' is not a non-negative number or fraction (8/255)") }
        var step: Float?
        if let stepSize {
            guard let s = Attack.budget(stepSize) else { throw ValidationError("--step-size '\(stepSize)' is not a non-negative number or fraction (1/255)") }
            step = s
        }
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1") }
        return Attack(method, norm: norm, epsilon: e, stepSize: step, steps: steps, randomStart: !noRandomStart, seed: seed)
    }
}
