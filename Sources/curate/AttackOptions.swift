import ArgumentParser
import Training

extension Attack.Method: ExpressibleByArgument {}
extension Attack.Norm: ExpressibleByArgument {}

/// The budget of an attack, shared by `curate evaluate --attack` and `curate train --adversarial`.
struct AttackOptions: ParsableArguments {
    @Option(help: "The attack's budget, a fraction of the pixel range (8/255 or 0.0314).") var epsilon: String?
    @Option(name: .customLong("norm"), help: "The budget's norm: linf or l2 (default linf).") var normOption: Attack.Norm?
    @Option(name: .customLong("steps"), parsing: .unconditional, help: "PGD's steps (default 10).") var stepsOption: Int?
    var norm: Attack.Norm { normOption ?? .linf }
    var steps: Int { stepsOption ?? 10 }
    @Option(help: "PGD's step, a fraction of the pixel range (default 2.5 epsilon / steps).") var stepSize: String?
    @Flag(help: "PGD starts from the image itself, not a random point of the budget's ball.") var noRandomStart = false

    /// The attack `method` names with these options, or nil without one (then no budget may be given).
    func make(_ method: Attack.Method?, flag: String, seed: UInt64) throws -> Attack? {
        guard let method else {
            // Any budget option without an attack would be ignored: refused instead.
            let given = [("--epsilon", epsilon != nil), ("--step-size", stepSize != nil), ("--norm", normOption != nil),
                         ("--steps", stepsOption != nil), ("--no-random-start", noRandomStart)].filter(\.1).map(\.0)
            if !given.isEmpty { throw ValidationError("\(given.joined(separator: ", ")) \(given.count == 1 ? "needs" : "need") \(flag) fgsm|pgd") }
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
