/// The named architectures. Inputs are NHWC images scaled to [-1, 1].
public enum ModelName: String, CaseIterable, Codable, Sendable {
    /// Flatten then one Dense layer (multinomial logistic regression).
    case linear
    /// Flatten, Dense(256), ReLU, Dense.
    case mlp
    /// ../shared/peers/torch_reference.py's model (each ReLU after a convolution runs inside
    /// the Conv2D layer): Conv3x3(C->32, pad 1) ReLU MaxPool2 |
    /// Conv3x3(32->64, pad 1) ReLU MaxPool2 | Flatten | Dense(64*(H/4)*(W/4) -> 128) ReLU |
    /// Dense(128 -> classes).
    case cnnSmall = "cnn-small"
    /// A small ResNet for 32x32 inputs: Conv3x3(16) BN ReLU, basic blocks 16, 32 (stride 2),
    /// 64 (stride 2), global average pooling, Dense.
    case resnetSmall = "resnet-small"
}

/// What a model is: its architecture, input shape and number of classes.
public struct ModelSpec: Codable, Equatable, Sendable {
    public var name: ModelName
    public var height: Int
    public var width: Int
    public var channels: Int
    public var classes: Int

    public init(name: ModelName, height: Int, width: Int, channels: Int, classes: Int) {
        self.name = name
        self.height = height
        self.width = width
        self.channels = channels
        self.classes = classes
    }

    /// What makes this spec unbuildable, or nil: sizes out of range, or an input too small for
    /// the architecture's pooling (cnn-small halves the input twice).
    public var problem: String? {
        for (what, v) in [("height", height), ("width", width), ("channels", channels)] where !(1...(1 << 20)).contains(v) {
            return "\(what) \(v) is outside 1 to \(1 << 20)"
        }
        guard (1...1_000_000).contains(classes) else { return "\(classes) classes is outside 1 to 1000000" }
        let (hw, o1) = height.multipliedReportingOverflow(by: width)
        let (inputs, o2) = hw.multipliedReportingOverflow(by: channels)
        guard !o1, !o2, inputs <= 1 << 26 else { return "an input of \(width)x\(height)x\(channels) values is over the limit of \(1 << 26)" }
        if name == .cnnSmall && (height < 4 || width < 4) {
            return "\(name.rawValue) halves its input twice: it needs at least 4x4 pixels, not \(width)x\(height)"
        }
        return nil
    }

    /// Builds the network with weights drawn from `seed` (PyTorch's default initialisation).
    public func build(seed: UInt64) -> Sequential {
        var rng = SplitMix64(seed: seed, stream: 1)
        let (h, w, c, k) = (height, width, channels, classes)
        switch name {
        case .linear:
            return Sequential([Flatten(), Dense(h * w * c, k, rng: &rng)])
        case .mlp:
            return Sequential([Flatten(), Dense(h * w * c, 256, rng: &rng), ReLU(), Dense(256, k, rng: &rng)])
        case .cnnSmall:
            return Sequential([
                Conv2D(c, 32, kernel: 3, padding: 1, relu: true, rng: &rng), MaxPool2D(2),
                Conv2D(32, 64, kernel: 3, padding: 1, relu: true, rng: &rng), MaxPool2D(2),
                Flatten(), Dense(64 * (h / 4) * (w / 4), 128, rng: &rng), ReLU(), Dense(128, k, rng: &rng),
            ])
        case .resnetSmall:
            return Sequential([
                Conv2D(c, 16, kernel: 3, padding: 1, bias: false, rng: &rng), BatchNorm(16), ReLU(),
                ResidualBlock(16, 16, stride: 1, rng: &rng),
                ResidualBlock(16, 32, stride: 2, rng: &rng),
                ResidualBlock(32, 64, stride: 2, rng: &rng),
                GlobalAvgPool(), Dense(64, k, rng: &rng),
            ])
        }
    }

    /// The minimum input side the architecture accepts.
    public var minimumSide: Int {
        switch name {
        case .linear, .mlp: return 1
        case .cnnSmall, .resnetSmall: return 4
        }
    }
}

extension Sequential {
    /// The index of the last layer (the classifier head every named model ends with).
    public var headIndex: Int { layers.count - 1 }

    /// A new head for `classes` outputs, drawn from `seed` (fine-tuning on a new label set, or
    /// re-training the last layer).
    public func resetHead(classes: Int, seed: UInt64) {
        guard let head = layers.last as? Dense else { preconditionFailure("the model does not end with a Dense layer") }
        var rng = SplitMix64(seed: seed, stream: 2)
        replace(headIndex, with: Dense(head.inputs, classes, rng: &rng))
    }
}
