import Foundation
import Testing
@testable import NeuralNet

/// Dense layers with few outputs (classifier heads, linear probes) take ThinDense's kernels;
/// they must give what the packed GEMM path's definition gives: y = xW + b, dW = x^T dy.
@Suite struct ThinDenseTests {
    /// Odd sizes on purpose: rows not a multiple of 4, outputs odd and above/below the 4-wide
    /// gradient tile, inputs not a multiple of 8.
    @Test(arguments: [(37, 101, 10), (5, 64, 1), (9, 203, 3), (64, 768, 32), (3, 70, 7)])
    func forwardAndWeightGradientMatchADoubleReference(rows: Int, inputs: Int, outputs: Int) {
        var rng = SplitMix64(seed: 7)
        let layer = Dense(inputs, outputs, rng: &rng)
        #expect(layer.thin)
        let x = randomArray(rows * inputs, seed: 11)
        let dy = randomArray(rows * outputs, seed: 12)
        for threads in [1, 2, 3] {
            let saved = Parallel.threads
            Parallel.threads = threads
            defer { Parallel.threads = saved }
            let y = layer.forward(Tensor(shape: [rows, inputs], storage: x), training: true)
            let yRef = referenceGEMM(m: rows, n: outputs, k: inputs, a: x, transA: false, b: layer.weight.value, transB: false,
                                     c: [], alpha: 1, beta: 0)
            for i in 0..<rows {
                for c in 0..<outputs {
                    let want = yRef[i * outputs + c] + Double(layer.bias.value[c])
                    #expect(abs(Double(y.storage[i * outputs + c]) - want) <= 1e-4 * max(1, abs(want)))
                }
            }
            _ = layer.backward(Tensor(shape: [rows, outputs], storage: dy), inputGradient: false)
            let gRef = referenceGEMM(m: inputs, n: outputs, k: rows, a: x, transA: true, b: dy, transB: false, c: [], alpha: 1, beta: 0)
            for j in 0..<(inputs * outputs) {
                #expect(abs(Double(layer.weight.grad[j]) - gRef[j]) <= 1e-4 * max(1, abs(gRef[j])))
            }
            for c in 0..<outputs {
                let want = (0..<rows).reduce(0.0) { $0 + Double(dy[$1 * outputs + c]) }
                #expect(abs(Double(layer.bias.grad[c]) - want) <= 1e-4 * max(1, abs(want)))
            }
        }
    }

    @Test func sameBitsWhateverTheThreadCount() {
        var rng = SplitMix64(seed: 3)
        let layer = Dense(300, 10, rng: &rng)
        let x = Tensor(shape: [129, 300], storage: randomArray(129 * 300, seed: 4))
        let dy = Tensor(shape: [129, 10], storage: randomArray(1290, seed: 5))
        var outs: [[Float]] = []
        for threads in [1, 2, 5] {
            let saved = Parallel.threads
            Parallel.threads = threads
            defer { Parallel.threads = saved }
            let y = layer.forward(x, training: true)
            _ = layer.backward(dy, inputGradient: false)
            outs.append(y.storage + layer.weight.grad)
        }
        #expect(outs[0] == outs[1] && outs[1] == outs[2])
    }

    /// The probe's kernels read rows through pointers (anywhere in a memory map, in any order):
    /// both forward paths (512-bit vectors in 4 x 5 tiles, 256-bit in 4 x 3 and 4 x 2), with and without
    /// prefetching upcoming rows, and the weight gradient from zero and accumulated, in both
    /// widths, against Double references, at sizes that leave every edge.
    @Test(arguments: [(37, 101, 10), (5, 64, 1), (9, 203, 3), (64, 768, 32), (3, 70, 7), (33, 768, 11), (12, 16, 5), (8, 17, 6)])
    func rowPointerKernelsMatchADoubleReference(rows: Int, inputs: Int, outputs: Int) {
        let store = randomArray((rows + 7) * inputs, seed: 21)
        let wT = randomArray(outputs * inputs, seed: 22), bias = randomArray(outputs, seed: 23), dy = randomArray(rows * outputs, seed: 24)
        let start = randomArray(outputs * inputs, seed: 25)
        // Row r of the batch is stored row (r * 5 + 3) mod (rows + 7): scattered, out of order.
        let order = (0..<rows).map { ($0 * 5 + 3) % (rows + 7) }
        store.withUnsafeBufferPointer { sp in
            let pointers = order.map { sp.baseAddress! + $0 * inputs }
            pointers.withUnsafeBufferPointer { pp in
                for wide in [false, true] {
                    for upcoming in [nil, UnsafeBufferPointer(rebasing: pp[0..<min(rows, 6)])] {
                        var y = [Float](repeating: .nan, count: rows * outputs)
                        ThinDense.forward(rows: pp.baseAddress!, k: inputs, wT: wT, n: outputs, bias: bias, y: &y, range: 0..<rows,
                                          upcoming: upcoming, wide: wide)
                        for r in 0..<rows {
                            for c in 0..<outputs {
                                var want = Double(bias[c])
                                for j in 0..<inputs { want += Double(store[order[r] * inputs + j]) * Double(wT[c * inputs + j]) }
                                #expect(abs(Double(y[r * outputs + c]) - want) <= 1e-4 * max(1, abs(want)), "wide \(wide) row \(r) output \(c)")
                            }
                        }
                    }
                }
                for accumulate in [false, true] {
                    var g = start, narrow = start
                    ThinDense.weightGradient(rows: pp.baseAddress!, k: inputs, dy: dy, n: outputs, gT: &g, range: 0..<rows, accumulate: accumulate, wide: true)
                    ThinDense.weightGradient(rows: pp.baseAddress!, k: inputs, dy: dy, n: outputs, gT: &narrow, range: 0..<rows, accumulate: accumulate, wide: false)
                    // Each value is summed over the rows in order whatever the vector width: the same bits.
                    #expect(g == narrow, "accumulate \(accumulate): 512-bit and 256-bit strips differ")
                    for c in 0..<outputs {
                        for j in 0..<inputs {
                            var want = accumulate ? Double(start[c * inputs + j]) : 0
                            for r in 0..<rows { want += Double(dy[r * outputs + c]) * Double(store[order[r] * inputs + j]) }
                            #expect(abs(Double(g[c * inputs + j]) - want) <= 1e-4 * max(1, abs(want)), "accumulate \(accumulate) output \(c) column \(j)")
                        }
                    }
                }
            }
        }
    }
}
