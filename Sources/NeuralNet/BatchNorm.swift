/// Batch normalisation over the last dimension (channels of NHWC, or features of [N, F]):
/// statistics over every other dimension in training, running statistics (momentum 0.1,
/// unbiased variance, as PyTorch keeps them) in evaluation.
public final class BatchNorm: Layer {
    public let channels: Int
    public let epsilon: Float
    public let momentum: Float
    public let gamma: Parameter
    public let beta: Parameter
    public let runningMean: Parameter
    public let runningVar: Parameter
    private var normalized: [Float] = []
    private var inverseStd: [Float] = []
    private var evaluationForward = false
    /// Whether the last forward kept state for `backward` with running statistics (an affine map).
    private var affineBackward = false
    public func setEvaluationForward(_ on: Bool) { evaluationForward = on }

    public init(_ channels: Int, epsilon: Float = 1e-5, momentum: Float = 0.1) {
        self.channels = channels
        self.epsilon = epsilon
        self.momentum = momentum
        gamma = Parameter(name: "weight", shape: [channels], value: [Float](repeating: 1, count: channels))
        beta = Parameter(name: "bias", shape: [channels], value: [Float](repeating: 0, count: channels))
        runningMean = Parameter(name: "running_mean", shape: [channels], value: [Float](repeating: 0, count: channels), isBuffer: true)
        runningVar = Parameter(name: "running_var", shape: [channels], value: [Float](repeating: 1, count: channels), isBuffer: true)
    }

    public var parameters: [Parameter] { [gamma, beta, runningMean, runningVar] }
    public var summary: String { "BatchNorm(\(channels))" }
    public func outputShape(_ input: [Int]) -> [Int] { input }

    public func forward(_ x: Tensor, training requested: Bool) -> Tensor {
        let training = requested && !evaluationForward
        let c = channels
        let rows = x.count / c
        precondition(x.shape.last == c, "BatchNorm expects \(c) channels last, got \(x.shape)")
        var mean = [Float](repeating: 0, count: c)
        var invStd = [Float](repeating: 0, count: c)
        if training {
            var sum = [Double](repeating: 0, count: c)
            var sumSq = [Double](repeating: 0, count: c)
            x.storage.withUnsafeBufferPointer { px in
                for r in 0..<rows {
                    for j in 0..<c { sum[j] += Double(px[r * c + j]) }
                }
                for j in 0..<c { mean[j] = Float(sum[j] / Double(rows)) }
                for r in 0..<rows {
                    for j in 0..<c {
                        let d = Double(px[r * c + j] - mean[j])
                        sumSq[j] += d * d
                    }
                }
            }
            for j in 0..<c {
                let variance = sumSq[j] / Double(rows)
                invStd[j] = Float(1 / (variance + Double(epsilon)).squareRoot())
                let unbiased = rows > 1 ? sumSq[j] / Double(rows - 1) : variance
                runningMean.value[j] = (1 - momentum) * runningMean.value[j] + momentum * mean[j]
                runningVar.value[j] = (1 - momentum) * runningVar.value[j] + momentum * Float(unbiased)
            }
        } else {
            for j in 0..<c {
                mean[j] = runningMean.value[j]
                invStd[j] = 1 / (runningVar.value[j] + epsilon).squareRoot()
            }
        }
        var y = x
        var xhat = requested ? [Float](repeating: 0, count: x.count) : []
        y.storage.withUnsafeMutableBufferPointer { py in
            for r in 0..<rows {
                for j in 0..<c {
                    let h = (py[r * c + j] - mean[j]) * invStd[j]
                    if requested { xhat[r * c + j] = h }
                    py[r * c + j] = gamma.value[j] * h + beta.value[j]
                }
            }
        }
        if requested {
            normalized = xhat
            inverseStd = invStd
            affineBackward = !training
        }
        return y
    }

    public func backward(_ dy: Tensor, inputGradient: Bool) -> Tensor? {
        let c = channels
        let rows = dy.count / c
        var sumDy = [Float](repeating: 0, count: c)
        var sumDyXhat = [Float](repeating: 0, count: c)
        for r in 0..<rows {
            for j in 0..<c {
                let g = dy.storage[r * c + j]
                sumDy[j] += g
                sumDyXhat[j] += g * normalized[r * c + j]
            }
        }
        gamma.grad = sumDyXhat
        beta.grad = sumDy
        guard inputGradient else { return nil }
        var dx = dy
        if affineBackward {
            // Running statistics are constants: y = gamma (x - mean) invStd + beta.
            for r in 0..<rows { for j in 0..<c { dx.storage[r * c + j] = dy.storage[r * c + j] * gamma.value[j] * inverseStd[j] } }
            return dx
        }
        let n = Float(rows)
        for r in 0..<rows {
            for j in 0..<c {
                let i = r * c + j
                dx.storage[i] = gamma.value[j] * inverseStd[j] / n
                    * (n * dy.storage[i] - sumDy[j] - normalized[i] * sumDyXhat[j])
            }
        }
        return dx
    }
}
