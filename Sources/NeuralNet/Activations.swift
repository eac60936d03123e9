/// max(x, 0).
public final class ReLU: Layer {
    private var output: [Float] = []
    public init() {}
    public var parameters: [Parameter] { [] }
    public var summary: String { "ReLU" }
    public func outputShape(_ input: [Int]) -> [Int] { input }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        var y = Tensor(uninitialized: x.shape)
        x.storage.withUnsafeBufferPointer { px in
            y.storage.withUnsafeMutableBufferPointer { py in
                let (src, dst) = (px.baseAddress!, py.baseAddress!)
                Parallel.ranges(py.count, grain: 1 << 16) { r in
                    for i in r { dst[i] = max(src[i], 0) }
                }
            }
        }
        output = training ? y.storage : []
        return y
    }

    public func backward(_ dy: Tensor, inputGradient: Bool) -> Tensor? {
        guard inputGradient else { return nil }
        var dx = Tensor(uninitialized: dy.shape)
        output.withUnsafeBufferPointer { py in
            dy.storage.withUnsafeBufferPointer { pg in
                dx.storage.withUnsafeMutableBufferPointer { pd in
                    let (y, g, d) = (py.baseAddress!, pg.baseAddress!, pd.baseAddress!)
                    Parallel.ranges(pd.count, grain: 1 << 16) { r in
                        for i in r { d[i] = y[i] > 0 ? g[i] : 0 }
                    }
                }
            }
        }
        return dx
    }
}

/// Reshapes [N, ...] to [N, product].
public final class Flatten: Layer {
    private var inputShape: [Int] = []
    public init() {}
    public var parameters: [Parameter] { [] }
    public var summary: String { "Flatten" }
    public func outputShape(_ input: [Int]) -> [Int] { [input.reduce(1, *)] }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        if training { inputShape = x.shape }
        return x.reshaped([x.batch, x.itemCount])
    }

    public func backward(_ dy: Tensor, inputGradient: Bool) -> Tensor? {
        inputGradient ? dy.reshaped(inputShape) : nil
    }
}

/// Zeroes each value with probability p in training and scales the rest by 1/(1-p). The
/// mask is a hash of (seed, call, index), so it does not depend on threads.
public final class Dropout: Layer {
    public let rate: Float
    public var seed: UInt64
    private var calls: UInt64 = 0
    private var mask: [Float] = []

    public init(_ rate: Float, seed: UInt64) {
        precondition(rate >= 0 && rate < 1)
        self.rate = rate
        self.seed = seed
    }

    public var parameters: [Parameter] { [] }
    public var summary: String { "Dropout(\(rate))" }
    public func outputShape(_ input: [Int]) -> [Int] { input }

    private var evaluationForward = false
    public func setEvaluationForward(_ on: Bool) { evaluationForward = on }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        guard training, rate > 0, !evaluationForward else {
            mask = []
            return x
        }
        calls += 1
        let scale = 1 / (1 - rate)
        let threshold = UInt64(Double(rate) * 0x1p64)
        let base = SplitMix64.mix(seed ^ SplitMix64.mix(calls))
        mask = (0..<x.count).map { i in SplitMix64.mix(base &+ UInt64(i)) < threshold ? 0 : scale }
        var y = x
        for i in 0..<y.count { y.storage[i] *= mask[i] }
        return y
    }

    public func backward(_ dy: Tensor, inputGradient: Bool) -> Tensor? {
        guard inputGradient else { return nil }
        guard !mask.isEmpty else { return dy }
        var dx = dy
        for i in 0..<dx.count { dx.storage[i] *= mask[i] }
        return dx
    }
}
