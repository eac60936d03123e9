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
}
