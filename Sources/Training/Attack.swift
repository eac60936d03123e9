import Foundation
import NeuralNet

/// An adversarial attack on a model's input images: FGSM (Goodfellow et al.), or PGD (Madry et
/// al.) under an L-infinity or L2 budget.
///
/// Budgets are in pixel space: `epsilon` and `stepSize` are fractions of the full pixel range,
/// so 8/255 means 8 of the 256 grey levels, whatever the normalisation. The images the attack
/// takes and returns are normalised as `ImageData` holds them (x = p / 127.5 - 1, so one pixel
/// level is 2/255), and every adversarial image stays within the budget of its original and
/// inside the valid pixel range [0, 255].
public struct Attack: Sendable, Equatable, CustomStringConvertible {
    public enum Method: String, Sendable, CaseIterable { case fgsm, pgd }
    public enum Norm: String, Sendable, CaseIterable { case linf, l2 }

    public var method: Method
    public var norm: Norm
    /// The budget, as a fraction of the pixel range (per pixel for L-infinity; the whole image's
    /// perturbation, as a vector of such fractions, for L2).
    public var epsilon: Float
    /// PGD's step, in the same unit; FGSM takes one step of `epsilon`.
    public var stepSize: Float
    /// PGD's steps.
    public var steps: Int
    /// PGD starts from a uniformly random point of the L-infinity ball (for L2: a random direction
    /// at a uniformly random radius), drawn from `seed`.
    public var randomStart: Bool
    public var seed: UInt64

    /// - Parameters:
    ///   - stepSize: by default 2.5 epsilon / steps, Madry et al.'s choice.
    public init(_ method: Method, norm: Norm = .linf, epsilon: Float, stepSize: Float? = nil, steps: Int = 10,
                randomStart: Bool = true, seed: UInt64 = 0) {
        precondition(epsilon >= 0 && steps >= 1)
        self.method = method
        self.norm = norm
        self.epsilon = epsilon
        self.steps = method == .fgsm ? 1 : steps
        self.stepSize = method == .fgsm ? epsilon : stepSize ?? 2.5 * epsilon / Float(steps)
        self.randomStart = method == .pgd && randomStart
        self.seed = seed
    }

    /// A budget written as a fraction ("8/255") or a number, nil when it is neither or negative.
    public static func budget(_ text: String) -> Float? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 2, let a = Float(parts[0]), let b = Float(parts[1]), b > 0, a >= 0, a.isFinite { return a / b }
        if parts.count == 1, let v = Float(text), v >= 0, v.isFinite { return v }
        return nil
    }

    public var description: String {
        let budget = String(format: "%@ epsilon %.4g", norm.rawValue, epsilon)
        switch method {
        case .fgsm: return "FGSM, \(budget)"
        case .pgd: return String(format: "PGD-%d, %@, step %.4g%@", steps, budget, stepSize, randomStart ? ", random start" : "")
        }
    }

    /// Adversarial versions of the images `x` (N x H x W x C, normalised) against `net`, which
    /// is differentiated in its evaluation behaviour. `batchOffset` is the first image's index
    /// in the whole set, so that random starts do not depend on how the set is batched.
    public func perturb(_ net: Sequential, _ x: Tensor, labels: [Int], batchOffset: Int = 0) -> Tensor {
        let n = x.batch, per = x.itemCount
        precondition(labels.count == n)
        // Normalised units: one pixel level is 2/255 of the [-1, 1] range, so budgets double.
        let radius = 2 * epsilon, step = 2 * stepSize
        var adversarial = x
        if randomStart {
            for i in 0..<n {
                var rng = SplitMix64(seed: seed ^ SplitMix64.mix(UInt64(batchOffset + i) &+ 0x9E37_79B9))
                let base = i * per
                switch norm {
                case .linf:
                    for j in 0..<per { adversarial.storage[base + j] += rng.uniform(-radius, radius) }
                case .l2:
                    var direction = (0..<per).map { _ in rng.normal() }
                    let length = direction.reduce(0) { $0 + $1 * $1 }.squareRoot()
                    let r = radius * rng.uniform(0, 1) / max(length, 1e-12)
                    for j in 0..<per { direction[j] *= r; adversarial.storage[base + j] += direction[j] }
                }
            }
            project(&adversarial, around: x, radius: radius)
        }
        guard radius > 0 else { return x }
        for _ in 0..<steps {
            let g = net.inputGradient(adversarial, labels: labels).gradient
            for i in 0..<n {
                let base = i * per
                switch norm {
                case .linf:
                    for j in 0..<per {
                        let d = g.storage[base + j]
                        adversarial.storage[base + j] += d > 0 ? step : d < 0 ? -step : 0
                    }
                case .l2:
                    var length: Float = 0
                    for j in 0..<per { length += g.storage[base + j] * g.storage[base + j] }
                    length = length.squareRoot()
                    guard length > 0 else { continue }
                    for j in 0..<per { adversarial.storage[base + j] += step * g.storage[base + j] / length }
                }
            }
            project(&adversarial, around: x, radius: radius)
        }
        return adversarial
    }

    /// Onto the budget's ball around `x`, then into the valid range: clipping to [-1, 1] moves
    /// no value further from its original (which is in range), so the ball still holds.
    func project(_ a: inout Tensor, around x: Tensor, radius: Float) {
        let n = x.batch, per = x.itemCount
        for i in 0..<n {
            let base = i * per
            switch norm {
            case .linf:
                for j in 0..<per {
                    let o = x.storage[base + j]
                    a.storage[base + j] = min(max(a.storage[base + j], o - radius), o + radius)
                }
            case .l2:
                var length: Float = 0
                for j in 0..<per { let d = a.storage[base + j] - x.storage[base + j]; length += d * d }
                length = length.squareRoot()
                if length > radius {
                    let scale = radius / length
                    for j in 0..<per { a.storage[base + j] = x.storage[base + j] + (a.storage[base + j] - x.storage[base + j]) * scale }
                }
            }
            for j in 0..<per { a.storage[base + j] = min(max(a.storage[base + j], -1), 1) }
        }
    }
}
