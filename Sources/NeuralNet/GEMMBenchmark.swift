import Foundation

/// Measures this CPU's single-precision peak and the GEMM kernel against it.
public enum GEMMBenchmark {
    public struct Result: Sendable {
        public var label: String
        public var m: Int, n: Int, k: Int
        public var transA: Bool, transB: Bool
        public var gflops: Double
    }

    /// The fused multiply-add peak: `threads` tasks each run chains of independent 16-lane
    /// FMAs (enough chains to cover the FMA units' latency), no memory traffic. Returns
    /// GFLOP/s (2 flops per lane per FMA), the median of `repeats` runs.
    public static func peak(threads: Int, repeats: Int = 5) -> Double {
        let iterations = 20_000_000
        var rates: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            let sink = UnsafeMutablePointer<Float>.allocate(capacity: threads)
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                sink[t] = CPUFeatures.avx512
                    ? fmaChains(SIMD16<Float>.self, iterations, seed: Float(t) * 1e-9 + 1e-7)
                    : fmaChains(SIMD8<Float>.self, iterations * 2, seed: Float(t) * 1e-9 + 1e-7)
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            sink.deallocate()
            rates.append(Double(iterations) * 12 * 16 * 2 * Double(threads) / seconds / 1e9)
        }
        return median(rates)
    }

    /// 12 independent FMA chains of one register each (12 of 16 ymm, or of 32 zmm).
    @inline(never)
    static func fmaChains<V: SIMD>(_ type: V.Type, _ iterations: Int, seed: Float) -> Float where V.Scalar == Float {
        let x = V(repeating: 1 + seed), y = V(repeating: 1 - seed)
        var a0 = V(repeating: seed), a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3, a4 = a0 + 4, a5 = a0 + 5
        var a6 = a0 + 6, a7 = a0 + 7, a8 = a0 + 8, a9 = a0 + 9, a10 = a0 + 10, a11 = a0 + 11
        for _ in 0..<iterations {
            a0 = a0.addingProduct(x, y); a1 = a1.addingProduct(x, y); a2 = a2.addingProduct(x, y)
            a3 = a3.addingProduct(x, y); a4 = a4.addingProduct(x, y); a5 = a5.addingProduct(x, y)
            a6 = a6.addingProduct(x, y); a7 = a7.addingProduct(x, y); a8 = a8.addingProduct(x, y)
            a9 = a9.addingProduct(x, y); a10 = a10.addingProduct(x, y); a11 = a11.addingProduct(x, y)
        }
        let s = (a0 + a1 + a2 + a3) + (a4 + a5 + a6 + a7) + (a8 + a9 + a10 + a11)
        return s[0] + s[V.scalarCount - 1]
    }

    /// GFLOP/s of `GEMM.multiply` on one shape: median of `repeats` timed runs after a warm-up,
    /// each run repeated until it lasts about 50 ms.
    public static func measure(label: String, m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false,
                               repeats: Int = 7) -> Result {
        var rng = SplitMix64(seed: 1)
        let a = (0..<(m * k)).map { _ in rng.uniform(-1, 1) }
        let b = (0..<(k * n)).map { _ in rng.uniform(-1, 1) }
        var c = [Float](repeating: 0, count: m * n)
        let flops = 2.0 * Double(m) * Double(n) * Double(k)
        func run(_ times: Int) {
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    c.withUnsafeMutableBufferPointer { pc in
                        for _ in 0..<times {
                            GEMM.multiply(m: m, n: n, k: k, a: pa.baseAddress!, lda: transA ? m : k, transA: transA,
                                          b: pb.baseAddress!, ldb: transB ? k : n, transB: transB,
                                          c: pc.baseAddress!, ldc: n)
                        }
                    }
                }
            }
        }
        run(1)
        let inner = max(1, Int(0.05 * 100e9 / flops))
        var rates: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            run(inner)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            rates.append(flops * Double(inner) / seconds / 1e9)
        }
        return Result(label: label, m: m, n: n, k: k, transA: transA, transB: transB, gflops: median(rates))
    }

    /// GFLOP/s of `threads` single-threaded GEMMs running at once, each on its own operands:
    /// how the trainer runs its convolutions (one image chunk per core).
    public static func measureConcurrent(label: String, m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false,
                                         threads: Int, repeats: Int = 7) -> Result {
        let flops = 2.0 * Double(m) * Double(n) * Double(k)
        let inner = max(1, Int(0.05 * 50e9 / flops))
        let a = (0..<threads).map { t in randomFloats(m * k, seed: UInt64(2 * t + 1)) }
        let b = (0..<threads).map { t in randomFloats(k * n, seed: UInt64(2 * t + 2)) }
        let c = (0..<threads).map { _ in GEMM.alignedFloats(m * n) }
        defer { c.forEach { $0.deallocate() } }
        func run(_ times: Int) {
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                a[t].withUnsafeBufferPointer { pa in
                    b[t].withUnsafeBufferPointer { pb in
                        for _ in 0..<times {
                            GEMM.multiply(m: m, n: n, k: k, a: pa.baseAddress!, lda: transA ? m : k, transA: transA,
                                          b: pb.baseAddress!, ldb: transB ? k : n, transB: transB,
                                          c: c[t], ldc: n, parallel: false)
                        }
                    }
                }
            }
        }
        run(1)
        var rates: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            run(inner)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            rates.append(flops * Double(inner * threads) / seconds / 1e9)
        }
        return Result(label: label, m: m, n: n, k: k, transA: transA, transB: transB, gflops: median(rates))
    }

    static func randomFloats(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in rng.uniform(-1, 1) }
    }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
