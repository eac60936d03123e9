/// A learnable tensor (or a buffer such as BatchNorm's running statistics) with its gradient.
public final class Parameter {
    public let name: String
    public let shape: [Int]
    public var value: [Float]
    public var grad: [Float]
    /// Buffers are saved in checkpoints but never updated by an optimizer.
    public let isBuffer: Bool

    public init(name: String, shape: [Int], value: [Float], isBuffer: Bool = false) {
        precondition(shape.reduce(1, *) == value.count)
        self.name = name
        self.shape = shape
        self.value = value
        self.grad = isBuffer ? [] : [Float](repeating: 0, count: value.count)
        self.isBuffer = isBuffer
    }

    public var count: Int { value.count }
}

/// A layer of a network: a forward pass that remembers what its backward pass needs, and a
/// backward pass that sets its parameters' gradients and returns the input's gradient.
public protocol Layer: AnyObject {
    /// The layer's parameters and buffers, named relative to the layer.
    var parameters: [Parameter] { get }
    /// A short description (`Conv2D(3->32, 3x3, stride 1, pad 1)`).
    var summary: String { get }
    /// The output shape (without the batch) for an input shape (without the batch).
    func outputShape(_ input: [Int]) -> [Int]
    func forward(_ x: Tensor, training: Bool) -> Tensor
    /// Sets every parameter's gradient from `dy`; returns dL/dx when `inputGradient`.
    func backward(_ dy: Tensor, inputGradient: Bool) -> Tensor?
    /// While on, a training forward behaves as an evaluation one (BatchNorm uses its running
    /// statistics and leaves them alone, Dropout passes its input through and draws nothing) but
    /// keeps what `backward` needs: the gradient of the evaluated model, for attacks on its input.
    func setEvaluationForward(_ on: Bool)
}

extension Layer {
    /// Most layers behave the same in training and evaluation.
    public func setEvaluationForward(_ on: Bool) {}
}

/// Initialisation as PyTorch does it for Conv2d and Linear (Kaiming uniform with a = sqrt(5)):
/// weights and biases uniform in +-1/sqrt(fan_in).
func uniformInit(_ count: Int, fanIn: Int, _ rng: inout SplitMix64) -> [Float] {
    let bound = 1 / Float(fanIn).squareRoot()
    return (0..<count).map { _ in rng.uniform(-bound, bound) }
}
