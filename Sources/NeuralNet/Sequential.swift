import Dispatch
import Foundation

/// Per-layer time, for tuning: set CURATE_LAYER_TIMING=1 and the totals print at exit.
enum LayerTiming {
    static let enabled = ProcessInfo.processInfo.environment["CURATE_LAYER_TIMING"] != nil
    nonisolated(unsafe) static var totals: [String: UInt64] = [:]
    nonisolated(unsafe) static var registered = false
    static func add(_ key: String, _ start: UInt64) {
        totals[key, default: 0] += DispatchTime.now().uptimeNanoseconds - start
        if !registered {
            registered = true
            atexit {
                for (k, v) in LayerTiming.totals.sorted(by: { $0.value > $1.value }) {
                    FileHandle.standardError.write(Data(String(format: "%8.3f s  %@\n", Double(v) / 1e9, k).utf8))
                }
            }
        }
    }
}

/// Layers in order. Layers before `trainableFrom` are frozen: they run in evaluation mode
/// (running BatchNorm statistics, no dropout), get no gradients, and the backward pass stops
/// at them.
public final class Sequential: Layer {
    public private(set) var layers: [Layer]
    public var trainableFrom = 0

    public init(_ layers: [Layer]) { self.layers = layers }

    public var parameters: [Parameter] { namedParameters.map(\.1) }

    /// Every parameter and buffer with a unique name (`3.weight`, `5.conv1.weight`).
    public var namedParameters: [(String, Parameter)] {
        var out: [(String, Parameter)] = []
        for (i, layer) in layers.enumerated() {
            if let block = layer as? Sequential {
                out += block.namedParameters.map { ("\(i).\($0.0)", $0.1) }
            } else if let block = layer as? ResidualBlock {
                out += block.namedParameters.map { ("\(i).\($0.0)", $0.1) }
            } else {
                out += layer.parameters.map { ("\(i).\($0.name)", $0) }
            }
        }
        return out
    }

    /// The parameters an optimizer updates (not buffers, not frozen layers).
    public var trainableParameters: [Parameter] {
        layers[trainableFrom...].flatMap(\.parameters).filter { !$0.isBuffer }
    }

    public var summary: String { layers.map(\.summary).joined(separator: " | ") }

    public func outputShape(_ input: [Int]) -> [Int] {
        layers.reduce(input) { $1.outputShape($0) }
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        forward(x, training: training, keepingInputOf: -1).output
    }

    /// The output of the frozen layers (the features a `linear` fine-tune trains on).
    public func features(_ x: Tensor, upTo end: Int) -> Tensor {
        var h = x
        for layer in layers[..<end] { h = layer.forward(h, training: false) }
        return h
    }

    public func backward(_ dy: Tensor, inputGradient: Bool) -> Tensor? {
        backward(dy, inputGradient: inputGradient, adding: nil)
    }

    /// The forward pass, also returning the input of layer `index` (for the head: the features).
    public func forward(_ x: Tensor, training: Bool, keepingInputOf index: Int) -> (output: Tensor, kept: Tensor) {
        var h = x, kept = x
        for (i, layer) in layers.enumerated() {
            if i == index { kept = h }
            let t = LayerTiming.enabled ? DispatchTime.now().uptimeNanoseconds : 0
            h = layer.forward(h, training: training && i >= trainableFrom)
            if LayerTiming.enabled { LayerTiming.add("\(i) \(layer.summary) forward", t) }
        }
        return (h, kept)
    }

    /// `backward`, with `extra.gradient` added to the gradient at the input of layer
    /// `extra.index` (the gradient of a second loss term on that activation).
    public func backward(_ dy: Tensor, inputGradient: Bool, adding extra: (gradient: Tensor, index: Int)?) -> Tensor? {
        var g: Tensor? = dy
        // Below the first layer with parameters no gradient is needed (a Flatten in front of a
        // linear model's only Dense layer), unless the caller wants dL/dx.
        let firstWithParameters = layers.indices.dropFirst(trainableFrom).first { !layers[$0].parameters.isEmpty } ?? layers.count
        for i in stride(from: layers.count - 1, through: trainableFrom, by: -1) {
            let needInput = i > max(trainableFrom, firstWithParameters) || inputGradient
            let t = LayerTiming.enabled ? DispatchTime.now().uptimeNanoseconds : 0
            g = layers[i].backward(g!, inputGradient: needInput || extra.map { i >= $0.index } ?? false)
            if LayerTiming.enabled { LayerTiming.add("\(i) \(layers[i].summary) backward", t) }
            if let extra, i == extra.index, var h = g {
                for j in 0..<h.count { h.storage[j] += extra.gradient.storage[j] }
                g = h
            }
            if g == nil { break }
        }
        return g
    }

    /// Replaces layer `index` (the head, when fine-tuning on new classes).
    public func replace(_ index: Int, with layer: Layer) { layers[index] = layer }

    public func setEvaluationForward(_ on: Bool) { for layer in layers { layer.setEvaluationForward(on) } }

    /// The gradient of the summed softmax cross-entropy of the evaluated model (evaluation
    /// behaviour: running BatchNorm statistics, no dropout) with respect to its input, with the
    /// logits. Parameter gradients are overwritten on the way, and nothing else changes.
    /// Frozen layers are differentiated too (with every layer in evaluation behaviour, that is
    /// the same model).
    public func inputGradient(_ x: Tensor, labels: [Int]) -> (gradient: Tensor, logits: Tensor) {
        let frozen = trainableFrom
        setEvaluationForward(true)
        trainableFrom = 0
        defer {
            trainableFrom = frozen
            setEvaluationForward(false)
        }
        let logits = forward(x, training: true)
        let (_, probabilities) = SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels)
        let dy = SoftmaxCrossEntropy.gradient(probabilities: probabilities, labels: labels,
                                              coefficients: [Float](repeating: 1, count: labels.count), classes: logits.itemCount)
        return (backward(dy, inputGradient: true)!, logits)
    }
}

/// A basic residual block (He et al.): conv3x3-BN-ReLU-conv3x3-BN plus the input (through a
/// 1x1 convolution and BN when the shape changes), then ReLU.
public final class ResidualBlock: Layer {
    public let body: Sequential
    public let shortcut: Sequential?
    private let relu = ReLU()

    public init(_ inChannels: Int, _ outChannels: Int, stride: Int, rng: inout SplitMix64) {
        body = Sequential([
            Conv2D(inChannels, outChannels, kernel: 3, stride: stride, padding: 1, bias: false, rng: &rng),
            BatchNorm(outChannels), ReLU(),
            Conv2D(outChannels, outChannels, kernel: 3, stride: 1, padding: 1, bias: false, rng: &rng),
            BatchNorm(outChannels),
        ])
        shortcut = stride != 1 || inChannels != outChannels
            ? Sequential([Conv2D(inChannels, outChannels, kernel: 1, stride: stride, bias: false, rng: &rng), BatchNorm(outChannels)])
            : nil
    }

    public var parameters: [Parameter] { namedParameters.map(\.1) }
    public var namedParameters: [(String, Parameter)] {
        body.namedParameters.map { ("body.\($0.0)", $0.1) } + (shortcut?.namedParameters.map { ("shortcut.\($0.0)", $0.1) } ?? [])
    }
    public func setEvaluationForward(_ on: Bool) {
        body.setEvaluationForward(on)
        shortcut?.setEvaluationForward(on)
    }
    public var summary: String { "Residual(\(body.summary)\(shortcut.map { "; shortcut " + $0.summary } ?? ""))" }
    public func outputShape(_ input: [Int]) -> [Int] { body.outputShape(input) }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        var y = body.forward(x, training: training)
        let s = shortcut?.forward(x, training: training) ?? x
        for i in 0..<y.count { y.storage[i] += s.storage[i] }
        return relu.forward(y, training: training)
    }

    public func backward(_ dy: Tensor, inputGradient: Bool) -> Tensor? {
        let g = relu.backward(dy, inputGradient: true)!
        let dxBody = body.backward(g, inputGradient: inputGradient)
        let dxShort: Tensor?
        if let shortcut {
            dxShort = shortcut.backward(g, inputGradient: inputGradient)
        } else {
            dxShort = inputGradient ? g : nil
        }
        guard inputGradient, var dx = dxBody, let ds = dxShort else { return nil }
        for i in 0..<dx.count { dx.storage[i] += ds.storage[i] }
        return dx
    }
}
