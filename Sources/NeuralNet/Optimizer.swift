import Foundation

/// An optimizer updates parameters from their gradients at a learning rate. The update
/// rules are PyTorch's (torch.optim.SGD, Adam, AdamW) so that recipes carry over.
public protocol Optimizer: AnyObject {
    func step(_ parameters: [Parameter], learningRate: Float)
}

/// SGD with momentum (buffer starts as the first gradient), optional Nesterov, and L2 weight
/// decay added to the gradient.
public final class SGD: Optimizer {
    public let momentum: Float
    public let nesterov: Bool
    public let weightDecay: Float
    private var buffers: [ObjectIdentifier: [Float]] = [:]

    public init(momentum: Float = 0, nesterov: Bool = false, weightDecay: Float = 0) {
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
    }

    public func step(_ parameters: [Parameter], learningRate lr: Float) {
        for p in parameters where !p.isBuffer {
            let id = ObjectIdentifier(p)
            // Taken out of the table while it is updated, so the step writes its one copy in place
            // (writing to a copy of a table entry copies the whole buffer, every step).
            var buf = buffers.removeValue(forKey: id) ?? []
            let first = buf.isEmpty
            if momentum != 0 && first { buf = [Float](repeating: 0, count: p.count) }
            let (m, wd, nesterov) = (momentum, weightDecay, self.nesterov)
            p.value.withUnsafeMutableBufferPointer { pv in
                p.grad.withUnsafeBufferPointer { pg in
                    buf.withUnsafeMutableBufferPointer { pb in
                        for i in 0..<pv.count {
                            var d = pg[i]
                            if wd != 0 { d += wd * pv[i] }
                            if m != 0 {
                                pb[i] = first ? d : m * pb[i] + d
                                d = nesterov ? d + m * pb[i] : pb[i]
                            }
                            pv[i] -= lr * d
                        }
                    }
                }
            }
            if m != 0 { buffers[id] = buf }
        }
    }
}

/// Adam (weight decay as L2 on the gradient) or, with `decoupled`, AdamW (weight decay
/// applied to the weights: p *= 1 - lr * wd).
public final class Adam: Optimizer {
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: Float
    public let decoupled: Bool
    private var moments: [ObjectIdentifier: (m: [Float], v: [Float], t: Int)] = [:]

    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0, decoupled: Bool = false) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupled = decoupled
    }

    public func step(_ parameters: [Parameter], learningRate lr: Float) {
        for p in parameters where !p.isBuffer {
            let id = ObjectIdentifier(p)
            // Out of the table while updated (see SGD), and every array read through its buffer:
            // element access on a class's array property checks exclusivity each time.
            var (m, v, t) = moments.removeValue(forKey: id) ?? ([Float](repeating: 0, count: p.count), [Float](repeating: 0, count: p.count), 0)
            t += 1
            let bc1 = 1 - powf(beta1, Float(t))
            let bc2 = 1 - powf(beta2, Float(t))
            let (beta1, beta2, epsilon, weightDecay, decoupled) = (self.beta1, self.beta2, self.epsilon, self.weightDecay, self.decoupled)
            p.value.withUnsafeMutableBufferPointer { pv in
                p.grad.withUnsafeBufferPointer { pg in
                    m.withUnsafeMutableBufferPointer { pm in
                        v.withUnsafeMutableBufferPointer { ps in
                            for i in 0..<pv.count {
                                var g = pg[i]
                                if decoupled {
                                    pv[i] *= 1 - lr * weightDecay
                                } else if weightDecay != 0 {
                                    g += weightDecay * pv[i]
                                }
                                pm[i] = beta1 * pm[i] + (1 - beta1) * g
                                ps[i] = beta2 * ps[i] + (1 - beta2) * g * g
                                let denom = (ps[i].squareRoot() / bc2.squareRoot()) + epsilon
                                pv[i] -= (lr / bc1) * pm[i] / denom
                            }
                        }
                    }
                }
            }
            moments[id] = (m, v, t)
        }
    }
}

/// A learning-rate schedule over optimizer steps: a linear warm-up, then constant, step
/// decay (times `gamma` every `every` epochs) or cosine annealing to zero.
public struct LearningRateSchedule: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case constant
        case step(every: Int, gamma: Float)
        case cosine
    }

    public var base: Float
    public var kind: Kind
    public var warmupSteps: Int
    public var stepsPerEpoch: Int
    public var totalSteps: Int

    public init(base: Float, kind: Kind = .constant, warmupSteps: Int = 0, stepsPerEpoch: Int = 1, totalSteps: Int = 1) {
        self.base = base
        self.kind = kind
        self.warmupSteps = warmupSteps
        self.stepsPerEpoch = max(1, stepsPerEpoch)
        self.totalSteps = max(1, totalSteps)
    }

    /// The rate for optimizer step `step` (0-based).
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return base * Float(step + 1) / Float(warmupSteps) }
        switch kind {
        case .constant:
            return base
        case .step(let every, let gamma):
            return base * powf(gamma, Float(step / stepsPerEpoch / max(1, every)))
        case .cosine:
            let span = max(1, totalSteps - warmupSteps)
            let t = Float(min(step - warmupSteps, span)) / Float(span)
            return base * 0.5 * (1 + cosf(Float.pi * t))
        }
    }
}
