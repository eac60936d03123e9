extension Image {
    /// How to turn pixels into a model's input.
    public struct TensorLayout: Sendable, Equatable {
        /// 1 (luma, ITU-R BT.601 weights: grey images give their grey value exactly) or 3 (RGB).
        public var channels: Int
        /// Per-channel mean and standard deviation, applied after scaling samples to [0, 1].
        public var mean: [Float]
        public var std: [Float]

        public init(channels: Int, mean: [Float]? = nil, std: [Float]? = nil) {
            precondition(channels == 1 || channels == 3, "a tensor has 1 or 3 channels")
            self.channels = channels
            self.mean = mean ?? [Float](repeating: 0, count: channels)
            self.std = std ?? [Float](repeating: 1, count: channels)
            precondition(self.mean.count == channels && self.std.count == channels && self.std.allSatisfy { $0 > 0 })
        }

        /// Samples scaled to [0, 1], no normalisation.
        public static let rgb = TensorLayout(channels: 3)
        public static let grey = TensorLayout(channels: 1)
    }

    /// The pixels as a channels-first (C x H x W) Float32 array, `(sample / 255 - mean) / std`.
    public func tensor(_ layout: TensorLayout = .rgb) -> [Float] {
        var out = [Float](repeating: 0, count: layout.channels * width * height)
        writeTensor(layout, into: &out, at: 0)
        return out
    }

    /// Writes the tensor into `buffer` starting at `offset` (for batches held in one array).
    public func writeTensor(_ layout: TensorLayout, into buffer: inout [Float], at offset: Int) {
        let plane = width * height
        precondition(offset >= 0 && offset + layout.channels * plane <= buffer.count)
        let scale = layout.std.map { 1 / (255 * $0) }
        let bias = zip(layout.mean, layout.std).map { -$0 / $1 }
        pixels.withUnsafeBufferPointer { src in
            buffer.withUnsafeMutableBufferPointer { dst in
                if layout.channels == 3 {
                    for i in 0..<plane {
                        for c in 0..<3 {
                            dst[offset + c * plane + i] = Float(src[i * 4 + c]) * scale[c] + bias[c]
                        }
                    }
                } else {
                    for i in 0..<plane {
                        let luma = 0.299 * Float(src[i * 4]) + 0.587 * Float(src[i * 4 + 1]) + 0.114 * Float(src[i * 4 + 2])
                        dst[offset + i] = luma.rounded() * scale[0] + bias[0]
                    }
                }
            }
        }
    }
}
