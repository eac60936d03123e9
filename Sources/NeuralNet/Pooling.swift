/// Max pooling over NHWC windows (PyTorch's floor mode: a partial last window is dropped).
public final class MaxPool2D: Layer {
    public let size: Int
    public let stride: Int
    private var argmax: [Int32] = []
    private var inputShape: [Int] = []

    public init(_ size: Int, stride: Int? = nil) {
        self.size = size
        self.stride = stride ?? size
    }

    public var parameters: [Parameter] { [] }
    public var summary: String { "MaxPool2D(\(size)x\(size), stride \(stride))" }
    public func outputShape(_ input: [Int]) -> [Int] {
        [(input[0] - size) / stride + 1, (input[1] - size) / stride + 1, input[2]]
    }

    /// 2x2 windows with stride 2 (the common case) keep no argmax: the backward pass finds
    /// the first window position equal to the output, as the forward pass chose it.
    private var input: Tensor?
    private var output: Tensor?
    var isPair: Bool { size == 2 && stride == 2 }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        if isPair { return forwardPair(x, training: training) }
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let o = outputShape([h, w, c])
        let (oh, ow) = (o[0], o[1])
        var y = Tensor(uninitialized: [n, oh, ow, c])
        argmax = [Int32](unsafeUninitializedCapacity: y.count) { _, k in k = y.count }
        let (size, stride) = (self.size, self.stride)
        x.storage.withUnsafeBufferPointer { px in
            y.storage.withUnsafeMutableBufferPointer { py in
                argmax.withUnsafeMutableBufferPointer { pa in
                    Parallel.ranges(n, grain: 8) { images in
                        for b in images {
                            for oy in 0..<oh {
                                for ox in 0..<ow {
                                    let out = ((b * oh + oy) * ow + ox) * c
                                    let best = py.baseAddress! + out
                                    let where_ = pa.baseAddress! + out
                                    let origin = ((b * h + oy * stride) * w + ox * stride) * c
                                    for ch in 0..<c {
                                        best[ch] = px[origin + ch]
                                        where_[ch] = Int32(origin + ch)
                                    }
                                    for ky in 0..<size {
                                        for kx in 0..<size where ky + kx > 0 {
                                            let i = ((b * h + oy * stride + ky) * w + ox * stride + kx) * c
                                            let row = px.baseAddress! + i
                                            for ch in 0..<c {
                                                let v = row[ch]
                                                let better = v > best[ch]
                                                best[ch] = better ? v : best[ch]
                                                where_[ch] = better ? Int32(i + ch) : where_[ch]
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if !training { argmax = [] }
        inputShape = x.shape
        return y
    }

    func forwardPair(_ x: Tensor, training: Bool) -> Tensor {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = (h / 2, w / 2)
        var y = Tensor(uninitialized: [n, oh, ow, c])
        x.storage.withUnsafeBufferPointer { px in
            y.storage.withUnsafeMutableBufferPointer { py in
                let (src, dst) = (px.baseAddress!, py.baseAddress!)
                Parallel.ranges(n * oh, grain: 16) { lines in
                    for line in lines {
                        let (b, oy) = (line / oh, line % oh)
                        for ox in 0..<ow {
                            let r0 = src + ((b * h + 2 * oy) * w + 2 * ox) * c
                            let r1 = r0 + w * c
                            let o = dst + ((b * oh + oy) * ow + ox) * c
                            for ch in 0..<c {
                                o[ch] = max(max(r0[ch], r0[c + ch]), max(r1[ch], r1[c + ch]))
                            }
                        }
                    }
                }
            }
        }
        input = training ? x : nil
        output = training ? y : nil
        inputShape = x.shape
        return y
    }

    func backwardPair(_ dy: Tensor) -> Tensor {
        guard let x = input, let y = output else { preconditionFailure("MaxPool2D.backward before a training forward") }
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = (h / 2, w / 2)
        // Odd sizes leave a last row or column no window covers: its gradient is zero.
        var dx = h % 2 == 0 && w % 2 == 0 ? Tensor(uninitialized: x.shape) : Tensor(zeros: x.shape)
        x.storage.withUnsafeBufferPointer { px in
            y.storage.withUnsafeBufferPointer { py in
                dy.storage.withUnsafeBufferPointer { pg in
                    dx.storage.withUnsafeMutableBufferPointer { pd in
                        let (src, out, grad, dst) = (px.baseAddress!, py.baseAddress!, pg.baseAddress!, pd.baseAddress!)
                        Parallel.ranges(n * oh, grain: 16) { lines in
                            for line in lines {
                                let (b, oy) = (line / oh, line % oh)
                                for ox in 0..<ow {
                                    let i0 = ((b * h + 2 * oy) * w + 2 * ox) * c
                                    let i1 = i0 + w * c
                                    let o = ((b * oh + oy) * ow + ox) * c
                                    var ch = 0
                                    while ch + 8 <= c {
                                        let m = load8(out + o + ch), g = load8(grad + o + ch)
                                        let a = equalMask(load8(src + i0 + ch), m)
                                        let b = equalMask(load8(src + i0 + c + ch), m) & ~a
                                        let cc = equalMask(load8(src + i1 + ch), m) & ~a & ~b
                                        let d = ~(a | b | cc)
                                        store8(keep(g, a), dst + i0 + ch)
                                        store8(keep(g, b), dst + i0 + c + ch)
                                        store8(keep(g, cc), dst + i1 + ch)
                                        store8(keep(g, d), dst + i1 + c + ch)
                                        ch += 8
                                    }
                                    while ch < c {
                                        let m = out[o + ch], g = grad[o + ch]
                                        let a = src[i0 + ch] == m
                                        let bb = !a && src[i0 + c + ch] == m
                                        let cc = !a && !bb && src[i1 + ch] == m
                                        let d = !a && !bb && !cc
                                        dst[i0 + ch] = a ? g : 0
                                        dst[i0 + c + ch] = bb ? g : 0
                                        dst[i1 + ch] = cc ? g : 0
                                        dst[i1 + c + ch] = d ? g : 0
                                        ch += 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    public func backward(_ dy: Tensor, inputGradient: Bool) -> Tensor? {
        guard inputGradient else { return nil }
        if isPair { return backwardPair(dy) }
        var dx = Tensor(zeros: inputShape)
        // Windows do not overlap when stride >= size, so images are independent either way.
        let per = dy.itemCount
        dy.storage.withUnsafeBufferPointer { pd in
            argmax.withUnsafeBufferPointer { pa in
                dx.storage.withUnsafeMutableBufferPointer { px in
                    Parallel.ranges(dy.batch, grain: 8) { images in
                        for i in (images.lowerBound * per)..<(images.upperBound * per) {
                            px[Int(pa[i])] += pd[i]
                        }
                    }
                }
            }
        }
        return dx
    }
}

/// Average pooling over NHWC windows (no padding).
public final class AvgPool2D: Layer {
    public let size: Int
    public let stride: Int
    private var inputShape: [Int] = []

    public init(_ size: Int, stride: Int? = nil) {
        self.size = size
        self.stride = stride ?? size
    }

    public var parameters: [Parameter] { [] }
    public var summary: String { "AvgPool2D(\(size)x\(size), stride \(stride))" }
    public func outputShape(_ input: [Int]) -> [Int] {
        [(input[0] - size) / stride + 1, (input[1] - size) / stride + 1, input[2]]
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let o = outputShape([h, w, c])
        var y = Tensor(zeros: [n, o[0], o[1], c])
        let scale = 1 / Float(size * size)
        for b in 0..<n {
            for oy in 0..<o[0] {
                for ox in 0..<o[1] {
                    let out = ((b * o[0] + oy) * o[1] + ox) * c
                    for ky in 0..<size {
                        for kx in 0..<size {
                            let i = ((b * h + oy * stride + ky) * w + ox * stride + kx) * c
                            for ch in 0..<c { y.storage[out + ch] += x.storage[i + ch] }
                        }
                    }
                    for ch in 0..<c { y.storage[out + ch] *= scale }
                }
            }
        }
        if training { inputShape = x.shape }
        return y
    }

    public func backward(_ dy: Tensor, inputGradient: Bool) -> Tensor? {
        guard inputGradient else { return nil }
        let (n, h, w, c) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let o = outputShape([h, w, c])
        var dx = Tensor(zeros: inputShape)
        let scale = 1 / Float(size * size)
        for b in 0..<n {
            for oy in 0..<o[0] {
                for ox in 0..<o[1] {
                    let out = ((b * o[0] + oy) * o[1] + ox) * c
                    for ky in 0..<size {
                        for kx in 0..<size {
                            let i = ((b * h + oy * stride + ky) * w + ox * stride + kx) * c
                            for ch in 0..<c { dx.storage[i + ch] += dy.storage[out + ch] * scale }
                        }
                    }
                }
            }
        }
        return dx
    }
}

/// Mean over all pixels: [N, H, W, C] to [N, C].
public final class GlobalAvgPool: Layer {
    private var inputShape: [Int] = []
    public init() {}
    public var parameters: [Parameter] { [] }
    public var summary: String { "GlobalAvgPool" }
    public func outputShape(_ input: [Int]) -> [Int] { [input[2]] }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var y = Tensor(zeros: [n, c])
        let scale = 1 / Float(h * w)
        for b in 0..<n {
            for p in 0..<(h * w) {
                let i = (b * h * w + p) * c
                for ch in 0..<c { y.storage[b * c + ch] += x.storage[i + ch] }
            }
            for ch in 0..<c { y.storage[b * c + ch] *= scale }
        }
        if training { inputShape = x.shape }
        return y
    }

    public func backward(_ dy: Tensor, inputGradient: Bool) -> Tensor? {
        guard inputGradient else { return nil }
        let (n, h, w, c) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        var dx = Tensor(zeros: inputShape)
        let scale = 1 / Float(h * w)
        for b in 0..<n {
            for p in 0..<(h * w) {
                let i = (b * h * w + p) * c
                for ch in 0..<c { dx.storage[i + ch] = dy.storage[b * c + ch] * scale }
            }
        }
        return dx
    }
}
