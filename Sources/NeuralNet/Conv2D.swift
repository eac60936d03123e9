/// A 2-D convolution over NHWC batches, by im2col and the GEMM: each output pixel's
/// kernel-size patch (ky, kx, channel order) is a row of the patch matrix, the kernel is a
/// (k*k*in) x out matrix, and the output is their product plus the bias.
public final class Conv2D: Layer {
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Int
    public let stride: Int
    public let padding: Int
    public let weight: Parameter
    public let bias: Parameter?
    /// A ReLU applied to the output inside the layer (one pass over data still in cache,
    /// instead of a separate layer's two passes over the whole batch).
    public let relu: Bool
    private var output: Tensor?

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, relu: Bool = false, rng: inout SplitMix64) {
        self.relu = relu
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        let fanIn = inChannels * kernel * kernel
        weight = Parameter(name: "weight", shape: [fanIn, outChannels],
                           value: uniformInit(fanIn * outChannels, fanIn: fanIn, &rng))
        self.bias = bias ? Parameter(name: "bias", shape: [outChannels], value: uniformInit(outChannels, fanIn: fanIn, &rng)) : nil
    }

    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }
    public var summary: String {
        "Conv2D(\(inChannels)->\(outChannels), \(kernel)x\(kernel), stride \(stride), pad \(padding)\(bias == nil ? ", no bias" : "")\(relu ? ", ReLU" : ""))"
    }

    public func outputShape(_ input: [Int]) -> [Int] {
        [(input[0] + 2 * padding - kernel) / stride + 1, (input[1] + 2 * padding - kernel) / stride + 1, outChannels]
    }

    /// Images per chunk. The batch is processed in chunks of this many images, each on one
    /// core with its patch matrix in cache; the weight gradient is the sum of the chunks'
    /// partial gradients in chunk order, so results never depend on the thread count.
    public static let chunkImages = 4

    private var input: Tensor?

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        precondition(x.shape.count == 4 && x.shape[3] == inChannels, "Conv2D expects NHWC with \(inChannels) channels, got \(x.shape)")
        let n = x.shape[0]
        let o = outputShape(Array(x.shape[1...]))
        let pixels = o[0] * o[1]
        let k = kernel * kernel * inChannels
        let outC = outChannels
        var y = Tensor(uninitialized: [n, o[0], o[1], outC])
        let chunks = (n + Conv2D.chunkImages - 1) / Conv2D.chunkImages
        x.storage.withUnsafeBufferPointer { px in
            weight.value.withUnsafeBufferPointer { pw in
                y.storage.withUnsafeMutableBufferPointer { py in
                    let bias = self.bias?.value
                    let relu = self.relu
                    Parallel.ranges(chunks) { range in
                        let col = GEMM.alignedFloats(Conv2D.chunkImages * pixels * k)
                        defer { col.deallocate() }
                        for chunk in range {
                            let first = chunk * Conv2D.chunkImages
                            let images = min(Conv2D.chunkImages, n - first)
                            let rows = images * pixels
                            im2col(px.baseAddress!, shape: x.shape, images: first..<(first + images), into: col)
                            let out = py.baseAddress! + first * pixels * outC
                            GEMM.multiply(m: rows, n: outC, k: k, a: col, lda: k, b: pw.baseAddress!, ldb: outC,
                                          c: out, ldc: outC, parallel: false)
                            // Bias and ReLU in one pass over the chunk while it is in cache.
                            if let bias {
                                bias.withUnsafeBufferPointer { b in
                                    for r in 0..<rows {
                                        let row = out + r * outC
                                        if relu {
                                            for j in 0..<outC { row[j] = max(row[j] + b[j], 0) }
                                        } else {
                                            for j in 0..<outC { row[j] += b[j] }
                                        }
                                    }
                                }
                            } else if relu {
                                for i in 0..<(rows * outC) { out[i] = max(out[i], 0) }
                            }
                        }
                    }
                }
            }
        }
        input = training ? x : nil
        output = training && relu ? y : nil
        return y
    }

    public func backward(_ upstream: Tensor, inputGradient: Bool) -> Tensor? {
        guard let x = input else { preconditionFailure("Conv2D.backward before a training forward") }
        let dy = upstream
        let mask = relu ? output : nil
        let n = x.shape[0]
        let o = outputShape(Array(x.shape[1...]))
        let pixels = o[0] * o[1]
        let k = kernel * kernel * inChannels
        let outC = outChannels
        let chunks = (n + Conv2D.chunkImages - 1) / Conv2D.chunkImages
        var partials = [Float](unsafeUninitializedCapacity: chunks * k * outC) { _, c in c = chunks * k * outC }
        var biasPartials = [Float](repeating: 0, count: chunks * outC)
        var dx = inputGradient ? Tensor(zeros: x.shape) : Tensor(zeros: [0])
        x.storage.withUnsafeBufferPointer { px in
            dy.storage.withUnsafeBufferPointer { pd in
                weight.value.withUnsafeBufferPointer { pw in
                    partials.withUnsafeMutableBufferPointer { pp in
                      biasPartials.withUnsafeMutableBufferPointer { pbias in
                        dx.storage.withUnsafeMutableBufferPointer { pdx in
                          (mask?.storage ?? []).withUnsafeBufferPointer { pm in
                            Parallel.ranges(chunks) { range in
                                let col = GEMM.alignedFloats(Conv2D.chunkImages * pixels * k)
                                let masked = GEMM.alignedFloats(Conv2D.chunkImages * pixels * outC)
                                defer {
                                    col.deallocate()
                                    masked.deallocate()
                                }
                                for chunk in range {
                                    let first = chunk * Conv2D.chunkImages
                                    let images = min(Conv2D.chunkImages, n - first)
                                    let rows = images * pixels
                                    var g = UnsafePointer(pd.baseAddress! + first * pixels * outC)
                                    if pm.count > 0 {
                                        // The fused ReLU's gradient: zero where the output was not positive.
                                        let y = pm.baseAddress! + first * pixels * outC
                                        reluGradient(y, g, masked, rows * outC)
                                        g = UnsafePointer(masked)
                                    }
                                    let bsum = pbias.baseAddress! + chunk * outC
                                    addColumnSums(g, rows: rows, columns: outC, into: bsum)
                                    im2col(px.baseAddress!, shape: x.shape, images: first..<(first + images), into: col)
                                    GEMM.multiply(m: k, n: outC, k: rows, a: col, lda: k, transA: true,
                                                  b: g, ldb: outC, c: pp.baseAddress! + chunk * k * outC, ldc: outC, parallel: false)
                                    if inputGradient {
                                        GEMM.multiply(m: rows, n: k, k: outC, a: g, lda: outC, b: pw.baseAddress!, ldb: outC, transB: true,
                                                      c: col, ldc: k, parallel: false)
                                        col2im(col, shape: x.shape, images: first..<(first + images), into: pdx.baseAddress!)
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
        // The weight gradient: partial sums added in chunk order.
        partials.withUnsafeBufferPointer { pp in
            weight.grad.withUnsafeMutableBufferPointer { pg in
                let size = k * outC
                pg.baseAddress!.update(from: pp.baseAddress!, count: size)
                for chunk in 1..<max(chunks, 1) {
                    let part = pp.baseAddress! + chunk * size
                    for i in 0..<size { pg[i] += part[i] }
                }
            }
        }
        if let bias {
            for j in 0..<outC { bias.grad[j] = 0 }
            for chunk in 0..<chunks {
                for j in 0..<outC { bias.grad[j] += biasPartials[chunk * outC + j] }
            }
        }
        return inputGradient ? dx : nil
    }

    /// Patch rows for every output pixel of `images`; zeros where the kernel overhangs.
    func im2col(_ src: UnsafePointer<Float>, shape: [Int], images: Range<Int>, into dst: UnsafeMutablePointer<Float>) {
        let (h, w, c) = (shape[1], shape[2], shape[3])
        let o = outputShape([h, w, c])
        let (oh, ow) = (o[0], o[1])
        let k = kernel * kernel * c
        let span = kernel * c
        var out = dst
        for b in images {
            let image = src + b * h * w * c
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for ky in 0..<kernel {
                        let iy = oy * stride - padding + ky
                        if iy < 0 || iy >= h {
                            out.update(repeating: 0, count: span)
                            out += span
                            continue
                        }
                        let ix0 = ox * stride - padding
                        if ix0 >= 0 && ix0 + kernel <= w {
                            out.update(from: image + (iy * w + ix0) * c, count: span)
                            out += span
                        } else {
                            for kx in 0..<kernel {
                                let ix = ix0 + kx
                                if ix < 0 || ix >= w {
                                    out.update(repeating: 0, count: c)
                                } else {
                                    out.update(from: image + (iy * w + ix) * c, count: c)
                                }
                                out += c
                            }
                        }
                    }
                }
            }
        }
        _ = k
    }

    /// The adjoint of im2col: adds each patch row of `images` back onto its pixels.
    func col2im(_ src: UnsafePointer<Float>, shape: [Int], images: Range<Int>, into dst: UnsafeMutablePointer<Float>) {
        let (h, w, c) = (shape[1], shape[2], shape[3])
        let o = outputShape([h, w, c])
        let (oh, ow) = (o[0], o[1])
        var patch = src
        for b in images {
            let image = dst + b * h * w * c
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for ky in 0..<kernel {
                        let iy = oy * stride - padding + ky
                        if iy < 0 || iy >= h {
                            patch += kernel * c
                            continue
                        }
                        for kx in 0..<kernel {
                            let ix = ox * stride - padding + kx
                            if ix >= 0 && ix < w {
                                let pixel = image + (iy * w + ix) * c
                                for ch in 0..<c { pixel[ch] += patch[ch] }
                            }
                            patch += c
                        }
                    }
                }
            }
        }
    }
}
