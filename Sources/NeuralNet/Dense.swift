/// A fully connected layer: y = x W + b, with W stored in x in-features x out-features.
public final class Dense: Layer {
    public let inputs: Int
    public let outputs: Int
    public let weight: Parameter
    public let bias: Parameter
    private var input: Tensor?

    public init(_ inputs: Int, _ outputs: Int, rng: inout SplitMix64) {
        self.inputs = inputs
        self.outputs = outputs
        weight = Parameter(name: "weight", shape: [inputs, outputs], value: uniformInit(inputs * outputs, fanIn: inputs, &rng))
        bias = Parameter(name: "bias", shape: [outputs], value: uniformInit(outputs, fanIn: inputs, &rng))
    }

    public var parameters: [Parameter] { [weight, bias] }

    /// Few outputs over wide inputs (a classifier head, a linear probe) take `ThinDense`'s kernels.
    var thin: Bool { outputs <= ThinDense.maxOutputs && inputs >= 64 }

    func transposedWeight() -> [Float] { transposed(weight.value, rows: inputs, columns: outputs) }
    public var summary: String { "Dense(\(inputs)->\(outputs))" }
    public func outputShape(_ input: [Int]) -> [Int] { [outputs] }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let n = x.batch
        precondition(x.itemCount == inputs, "Dense expects \(inputs) inputs, got \(x.itemCount)")
        var y = Tensor(zeros: [n, outputs])
        if thin {
            let wT = transposedWeight()
            x.storage.withUnsafeBufferPointer { px in
                y.storage.withUnsafeMutableBufferPointer { py in
                    for i in 0..<n { (py.baseAddress! + i * outputs).update(from: bias.value, count: outputs) }
                    let (xp, yp, k, o) = (px.baseAddress!, py.baseAddress!, inputs, outputs)
                    wT.withUnsafeBufferPointer { pw in
                        // Small products (a classifier head on a batch) are not worth waking a second core for.
                        if n * k * o < 1 << 18 {
                            ThinDense.forward(x: xp, k: k, wT: pw.baseAddress!, n: o, y: yp, rows: 0..<n)
                        } else {
                            Parallel.ranges(n, grain: 32) { rows in ThinDense.forward(x: xp, k: k, wT: pw.baseAddress!, n: o, y: yp, rows: rows) }
                        }
                    }
                }
            }
            if training { input = x }
            return y
        }
        x.storage.withUnsafeBufferPointer { px in
            weight.value.withUnsafeBufferPointer { pw in
                y.storage.withUnsafeMutableBufferPointer { py in
                    for i in 0..<n { (py.baseAddress! + i * outputs).update(from: bias.value, count: outputs) }
                    GEMM.multiply(m: n, n: outputs, k: inputs, a: px.baseAddress!, lda: inputs,
                                  b: pw.baseAddress!, ldb: outputs, c: py.baseAddress!, ldc: outputs, beta: 1)
                }
            }
        }
        if training { input = x }
        return y
    }

    public func backward(_ dy: Tensor, inputGradient: Bool) -> Tensor? {
        guard let x = input else { preconditionFailure("Dense.backward before forward") }
        let n = x.batch
        if thin {
            var gT = [Float](repeating: 0, count: inputs * outputs)
            let (k, o) = (inputs, outputs)
            x.storage.withUnsafeBufferPointer { px in
                dy.storage.withUnsafeBufferPointer { pd in
                    gT.withUnsafeMutableBufferPointer { pg in
                        let (xp, dp, gp) = (px.baseAddress!, pd.baseAddress!, pg.baseAddress!)
                        Parallel.ranges(k / 8, grain: n * k * o < 1 << 18 ? k : 8) { blocks in
                            let hi = blocks.upperBound * 8 == k & ~7 ? k : blocks.upperBound * 8
                            ThinDense.weightGradient(x: xp, count: n, k: k, dy: dp, n: o, gT: gp, columns: (blocks.lowerBound * 8)..<hi)
                        }
                    }
                }
            }
            weight.grad.withUnsafeMutableBufferPointer { g in
                for j in 0..<k { for c in 0..<o { g[j * o + c] = gT[c * k + j] } }
            }
        } else {
            x.storage.withUnsafeBufferPointer { px in
                dy.storage.withUnsafeBufferPointer { pd in
                    weight.grad.withUnsafeMutableBufferPointer { pg in
                        GEMM.multiply(m: inputs, n: outputs, k: n, a: px.baseAddress!, lda: inputs, transA: true,
                                      b: pd.baseAddress!, ldb: outputs, c: pg.baseAddress!, ldc: outputs)
                    }
                }
            }
        }
        columnSums(dy.storage, rows: n, columns: outputs, into: &bias.grad)
        guard inputGradient else { return nil }
        var dx = Tensor(zeros: x.shape)
        dy.storage.withUnsafeBufferPointer { pd in
            weight.value.withUnsafeBufferPointer { pw in
                dx.storage.withUnsafeMutableBufferPointer { px in
                    GEMM.multiply(m: n, n: inputs, k: outputs, a: pd.baseAddress!, lda: outputs,
                                  b: pw.baseAddress!, ldb: outputs, transB: true, c: px.baseAddress!, ldc: inputs)
                }
            }
        }
        return dx
    }
}

/// `values` (rows x columns, row-major) transposed: columns x rows.
public func transposed(_ values: [Float], rows: Int, columns: Int) -> [Float] {
    precondition(values.count == rows * columns)
    return [Float](unsafeUninitializedCapacity: values.count) { out, done in
        values.withUnsafeBufferPointer { v in
            for r in 0..<rows { for c in 0..<columns { out[c * rows + r] = v[r * columns + c] } }
        }
        done = values.count
    }
}

/// out[j] = sum over rows of m[row, j], rows in order.
func columnSums(_ m: [Float], rows: Int, columns: Int, into out: inout [Float]) {
    m.withUnsafeBufferPointer { pm in
        out.withUnsafeMutableBufferPointer { po in columnSums(pm.baseAddress!, rows: rows, columns: columns, into: po.baseAddress!) }
    }
}

/// out[j] = sum over r of m[r * columns + j], each column summed over the rows in order (the
/// columns side by side, so their chains run together): a dense layer's bias gradient.
public func columnSums(_ m: UnsafePointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>) {
    out.update(repeating: 0, count: columns)
    for r in 0..<rows {
        let row = m + r * columns
        for j in 0..<columns { out[j] += row[j] }
    }
}
