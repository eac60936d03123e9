import Foundation
import Testing
@testable import NeuralNet

/// C = alpha op(A) op(B) + beta C in Double, the independent truth.
func referenceGEMM(m: Int, n: Int, k: Int, a: [Float], transA: Bool, b: [Float], transB: Bool,
                   c: [Float], alpha: Float, beta: Float) -> [Double] {
    var out = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k {
                let av = transA ? a[p * m + i] : a[i * k + p]
                let bv = transB ? b[j * k + p] : b[p * n + j]
                s += Double(av) * Double(bv)
            }
            out[i * n + j] = Double(alpha) * s + (beta == 0 ? 0 : Double(beta) * Double(c[i * n + j]))
        }
    }
    return out
}

func randomArray(_ n: Int, seed: UInt64, range: ClosedRange<Float> = -1...1) -> [Float] {
    var rng = SplitMix64(seed: seed)
    return (0..<n).map { _ in rng.uniform(range.lowerBound, range.upperBound) }
}

func runGEMM<K: MicroKernel>(_ kernel: K.Type, m: Int, n: Int, k: Int, a: [Float], transA: Bool, b: [Float], transB: Bool,
                             c: [Float], alpha: Float, beta: Float, threads: Int) -> [Float] {
    let saved = Parallel.threads
    Parallel.threads = threads
    defer { Parallel.threads = saved }
    var out = c
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            out.withUnsafeMutableBufferPointer { pc in
                GEMM.run(K.self, m: m, n: n, k: k, a: pa.baseAddress!, lda: transA ? m : k, transA: transA,
                         b: pb.baseAddress!, ldb: transB ? k : n, transB: transB, c: pc.baseAddress!, ldc: n,
                         alpha: alpha, beta: beta, parallel: true)
            }
        }
    }
    return out
}

@Suite(.serialized) struct GEMMTests {
    // Shapes with edges in every direction, several k blocks, and sizes that take the
    // parallel paths (split by rows and by columns).
    // Also: every count of edge rows for both tiles (m = 1 to 15), B read in place (at most two
    // row tiles, full and partial panels, several k blocks), and column splits (many panels).
    static let shapes: [(Int, Int, Int)] = [(1, 1, 1), (7, 5, 3), (13, 37, 19), (67, 45, 900), (9, 300, 130), (130, 20, 70),
                                            (9, 32, 3136), (3, 70, 1300), (15, 64, 400), (11, 1000, 40), (20, 2100, 9), (128, 600, 50)]
        + (1...15).map { ($0, 40, 33) }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matchesDoublePrecisionReference(transA: Bool, transB: Bool) {
        for (m, n, k) in Self.shapes {
            let a = randomArray(m * k, seed: 1), b = randomArray(k * n, seed: 2), c = randomArray(m * n, seed: 3)
            for (alpha, beta): (Float, Float) in [(1, 0), (0.5, 1), (2, -0.25)] {
                let truth = referenceGEMM(m: m, n: n, k: k, a: a, transA: transA, b: b, transB: transB, c: c, alpha: alpha, beta: beta)
                for kernel in [0, 1] {
                    let got = kernel == 0
                        ? runGEMM(Kernel6x16.self, m: m, n: n, k: k, a: a, transA: transA, b: b, transB: transB, c: c, alpha: alpha, beta: beta, threads: 2)
                        : runGEMM(Kernel8x32.self, m: m, n: n, k: k, a: a, transA: transA, b: b, transB: transB, c: c, alpha: alpha, beta: beta, threads: 2)
                    let worst = zip(got, truth).map { abs(Double($0) - $1) }.max() ?? 0
                    // Float accumulation over k terms of size <= 1.
                    #expect(worst <= 1e-5 * Double(k) + 1e-5, "m=\(m) n=\(n) k=\(k) kernel \(kernel): error \(worst)")
                }
            }
        }
    }

    @Test func packingAChangesNoBit() {
        // A packed into row tiles or read in place: the same products, summed in the same order.
        let saved = GEMM.packAOverride
        defer { GEMM.packAOverride = saved }
        func check<K: MicroKernel>(_ kernel: K.Type) {
            for (m, n, k) in Self.shapes + [(70, 300, 500)] {
                for (ta, tb) in [(false, false), (true, false), (false, true)] {
                    let a = randomArray(m * k, seed: 6), b = randomArray(k * n, seed: 7), c = randomArray(m * n, seed: 9)
                    GEMM.packAOverride = true
                    let packed = runGEMM(K.self, m: m, n: n, k: k, a: a, transA: ta, b: b, transB: tb, c: c, alpha: 2, beta: -0.25, threads: 2)
                    GEMM.packAOverride = false
                    let inPlace = runGEMM(K.self, m: m, n: n, k: k, a: a, transA: ta, b: b, transB: tb, c: c, alpha: 2, beta: -0.25, threads: 2)
                    #expect(packed == inPlace, "\(K.self) m=\(m) n=\(n) k=\(k) transA \(ta) transB \(tb)")
                }
            }
        }
        check(Kernel6x16.self)
        check(Kernel8x32.self)
    }

    @Test func bothTilesGiveTheSameBits() {
        // Each value of C is one chain of fused multiply-adds over p in order, whichever tile
        // computes it: a model trained on an AVX2 machine is the model trained on an AVX-512 one.
        for (m, n, k) in Self.shapes {
            for (ta, tb) in [(false, false), (true, false), (false, true)] {
                let a = randomArray(m * k, seed: 10), b = randomArray(k * n, seed: 11), c = randomArray(m * n, seed: 12)
                let six = runGEMM(Kernel6x16.self, m: m, n: n, k: k, a: a, transA: ta, b: b, transB: tb, c: c, alpha: 1, beta: 0, threads: 2)
                let eight = runGEMM(Kernel8x32.self, m: m, n: n, k: k, a: a, transA: ta, b: b, transB: tb, c: c, alpha: 1, beta: 0, threads: 2)
                #expect(six == eight, "m=\(m) n=\(n) k=\(k) transA \(ta) transB \(tb)")
            }
        }
    }

    @Test func sameBitsWhateverTheThreadCount() {
        func check<K: MicroKernel>(_ kernel: K.Type) {
            for (m, n, k) in Self.shapes {
                for (ta, tb) in [(false, false), (true, false), (false, true)] {
                    let a = randomArray(m * k, seed: 4), b = randomArray(k * n, seed: 5), c = randomArray(m * n, seed: 8)
                    for (alpha, beta): (Float, Float) in [(1, 0), (2, -0.25)] {
                        let one = runGEMM(K.self, m: m, n: n, k: k, a: a, transA: ta, b: b, transB: tb, c: c, alpha: alpha, beta: beta, threads: 1)
                        let two = runGEMM(K.self, m: m, n: n, k: k, a: a, transA: ta, b: b, transB: tb, c: c, alpha: alpha, beta: beta, threads: 2)
                        let three = runGEMM(K.self, m: m, n: n, k: k, a: a, transA: ta, b: b, transB: tb, c: c, alpha: alpha, beta: beta, threads: 3)
                        #expect(one == two && two == three, "\(K.self) m=\(m) n=\(n) k=\(k)")
                    }
                }
            }
        }
        check(Kernel6x16.self)
        check(Kernel8x32.self)
    }

    @Test func betaZeroIgnoresGarbageInC() {
        let a = randomArray(6 * 4, seed: 6), b = randomArray(4 * 16, seed: 7)
        let c = [Float](repeating: .nan, count: 6 * 16)
        let got = runGEMM(Kernel6x16.self, m: 6, n: 16, k: 4, a: a, transA: false, b: b, transB: false, c: c, alpha: 1, beta: 0, threads: 1)
        #expect(got.allSatisfy { $0.isFinite })
    }
}
