import Foundation

/// What the CPU can do, read once at run time: the GEMM picks its register tile by it.
public enum CPUFeatures {
    /// AVX-512F present (Linux: /proc/cpuinfo flags). A build for such a CPU then has 32
    /// 512-bit registers; without it SIMD16 splits into two 256-bit halves and 16 registers.
    public static let avx512: Bool = {
        if let forced = ProcessInfo.processInfo.environment["CURATE_GEMM_KERNEL"] {
            return forced == "8x32"
        }
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        return flags.split(separator: " ").contains("avx512f")
    }()

    /// The register tile in use, for reports.
    public static var gemmTile: String { avx512 ? "8x32 (AVX-512)" : "6x16 (AVX2)" }
}

/// A GEMM micro-kernel: C[mr x nr] = alpha * A[mr x kc] B[kc x nr] + beta * C, with A(i, p)
/// at a[i * rs + p * cs] and B's row p at b + p * bs (bs = nr when B is packed, 64-byte aligned;
/// B's own leading dimension when it is read in place).
protocol MicroKernel {
    associatedtype V: SIMD where V.Scalar == Float
    static var mr: Int { get }
    static var nr: Int { get }
    static func run(_ kc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ cs: Int,
                    _ b: UnsafePointer<Float>, _ bs: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
                    _ alpha: Float, _ beta: Float)
}

extension MicroKernel {
    /// The tile's product for `rows` < mr rows of A read in place: groups of four rows, then
    /// one row at a time (three rows go as four, the fourth a zero row of `scratch`, which
    /// holds kc * 4 floats), so an edge costs its own rows rather than a full tile. Every value
    /// is summed over p in the same order as by `run`, so results do not depend on the grouping.
    @inline(__always)
    static func runEdge(rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ cs: Int,
                        _ b: UnsafePointer<Float>, _ bs: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
                        _ alpha: Float, _ beta: Float, scratch: UnsafeMutablePointer<Float>) {
        var r = 0
        while rows &- r >= 4 {
            EdgeKernels.four(V.self, kc, a + r &* rs, rs, cs, b, bs, c + r &* ldc, ldc, alpha, beta)
            r &+= 4
        }
        if rows &- r == 3 {
            for p in 0..<kc {
                for i in 0..<3 { scratch[p &* 4 &+ i] = a[(r &+ i) &* rs &+ p &* cs] }
                scratch[p &* 4 &+ 3] = 0
            }
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 &* 2 &* V.scalarCount) { tile in
                let t = tile.baseAddress!, width = 2 &* V.scalarCount
                if beta != 0 { for i in 0..<3 { for j in 0..<width { t[i &* width &+ j] = c[(r &+ i) &* ldc &+ j] } } }
                EdgeKernels.four(V.self, kc, UnsafePointer(scratch), 1, 4, b, bs, t, width, alpha, beta)
                for i in 0..<3 { for j in 0..<width { c[(r &+ i) &* ldc &+ j] = t[i &* width &+ j] } }
            }
            r &+= 3
        }
        while r < rows {
            EdgeKernels.one(V.self, kc, a + r &* rs, cs, b, bs, c + r &* ldc, alpha, beta)
            r &+= 1
        }
    }
}

/// Narrow micro-kernels for the rows an mr-row tile leaves at the edge of A: 4 rows x 2
/// vectors (8 accumulators) and 1 row x 2 vectors.
enum EdgeKernels {
    @inline(__always)
    static func four<V: SIMD>(_ type: V.Type, _ kc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ cs: Int,
                              _ b: UnsafePointer<Float>, _ bs: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
                              _ alpha: Float, _ beta: Float) where V.Scalar == Float {
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V()
        var pa = a
        var pb = UnsafeRawPointer(b)
        let width = MemoryLayout<V>.size, step = bs &* 4
        let rs2 = rs &* 2, rs3 = rs &* 3
        for _ in 0..<kc {
            let b0 = pb.loadUnaligned(as: V.self)
            let b1 = pb.loadUnaligned(fromByteOffset: width, as: V.self)
            var av = V(repeating: pa[0])
            c00 = c00.addingProduct(av, b0); c01 = c01.addingProduct(av, b1)
            av = V(repeating: pa[rs])
            c10 = c10.addingProduct(av, b0); c11 = c11.addingProduct(av, b1)
            av = V(repeating: pa[rs2])
            c20 = c20.addingProduct(av, b0); c21 = c21.addingProduct(av, b1)
            av = V(repeating: pa[rs3])
            c30 = c30.addingProduct(av, b0); c31 = c31.addingProduct(av, b1)
            pa += cs
            pb += step
        }
        storeRow(c, 0, ldc, c00, c01, alpha, beta)
        storeRow(c, 1, ldc, c10, c11, alpha, beta)
        storeRow(c, 2, ldc, c20, c21, alpha, beta)
        storeRow(c, 3, ldc, c30, c31, alpha, beta)
    }

    @inline(__always)
    static func one<V: SIMD>(_ type: V.Type, _ kc: Int, _ a: UnsafePointer<Float>, _ cs: Int,
                             _ b: UnsafePointer<Float>, _ bs: Int, _ c: UnsafeMutablePointer<Float>,
                             _ alpha: Float, _ beta: Float) where V.Scalar == Float {
        var c0 = V(), c1 = V()
        var pa = a
        var pb = UnsafeRawPointer(b)
        let width = MemoryLayout<V>.size, step = bs &* 4
        for _ in 0..<kc {
            let av = V(repeating: pa[0])
            c0 = c0.addingProduct(av, pb.loadUnaligned(as: V.self))
            c1 = c1.addingProduct(av, pb.loadUnaligned(fromByteOffset: width, as: V.self))
            pa += cs
            pb += step
        }
        storeRow(c, 0, 0, c0, c1, alpha, beta)
    }
}

@inline(__always)
func storeRow<V: SIMD>(_ c: UnsafeMutablePointer<Float>, _ row: Int, _ ldc: Int, _ v0: V, _ v1: V,
                       _ alpha: Float, _ beta: Float) where V.Scalar == Float {
    let p = UnsafeMutableRawPointer(c + row * ldc)
    let width = MemoryLayout<V>.size
    var r0 = alpha == 1 ? v0 : v0 * alpha
    var r1 = alpha == 1 ? v1 : v1 * alpha
    if beta != 0 {
        let o0 = UnsafeRawPointer(p).loadUnaligned(as: V.self)
        let o1 = UnsafeRawPointer(p).loadUnaligned(fromByteOffset: width, as: V.self)
        if beta == 1 {
            r0 += o0
            r1 += o1
        } else {
            r0 = r0.addingProduct(o0, V(repeating: beta))
            r1 = r1.addingProduct(o1, V(repeating: beta))
        }
    }
    p.storeBytes(of: r0, as: V.self)
    p.storeBytes(of: r1, toByteOffset: width, as: V.self)
}

/// AVX2 (16 ymm registers): 6 rows x 2 eight-lane vectors = 12 accumulators, 2 for B,
/// 1 broadcast. BLIS's Haswell shape.
enum Kernel6x16: MicroKernel {
    typealias V = SIMD8<Float>
    static var mr: Int { 6 }
    static var nr: Int { 16 }

    @inline(__always)
    static func run(_ kc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ cs: Int,
                    _ b: UnsafePointer<Float>, _ bs: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
                    _ alpha: Float, _ beta: Float) {
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
        var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
        var pa = a
        var pb = UnsafeRawPointer(b)
        let rs2 = rs * 2, rs3 = rs * 3, rs4 = rs * 4, rs5 = rs * 5, step = bs &* 4
        for _ in 0..<kc {
            let b0 = pb.loadUnaligned(as: V.self)
            let b1 = pb.loadUnaligned(fromByteOffset: 32, as: V.self)
            var av = V(repeating: pa[0])
            c00 = c00.addingProduct(av, b0); c01 = c01.addingProduct(av, b1)
            av = V(repeating: pa[rs])
            c10 = c10.addingProduct(av, b0); c11 = c11.addingProduct(av, b1)
            av = V(repeating: pa[rs2])
            c20 = c20.addingProduct(av, b0); c21 = c21.addingProduct(av, b1)
            av = V(repeating: pa[rs3])
            c30 = c30.addingProduct(av, b0); c31 = c31.addingProduct(av, b1)
            av = V(repeating: pa[rs4])
            c40 = c40.addingProduct(av, b0); c41 = c41.addingProduct(av, b1)
            av = V(repeating: pa[rs5])
            c50 = c50.addingProduct(av, b0); c51 = c51.addingProduct(av, b1)
            pa += cs
            pb += step
        }
        storeRow(c, 0, ldc, c00, c01, alpha, beta)
        storeRow(c, 1, ldc, c10, c11, alpha, beta)
        storeRow(c, 2, ldc, c20, c21, alpha, beta)
        storeRow(c, 3, ldc, c30, c31, alpha, beta)
        storeRow(c, 4, ldc, c40, c41, alpha, beta)
        storeRow(c, 5, ldc, c50, c51, alpha, beta)
    }
}

/// AVX-512 (32 zmm registers): 8 rows x 2 sixteen-lane vectors = 16 accumulators.
enum Kernel8x32: MicroKernel {
    typealias V = SIMD16<Float>
    static var mr: Int { 8 }
    static var nr: Int { 32 }

    @inline(__always)
    static func run(_ kc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ cs: Int,
                    _ b: UnsafePointer<Float>, _ bs: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
                    _ alpha: Float, _ beta: Float) {
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V()
        var c40 = V(), c41 = V(), c50 = V(), c51 = V(), c60 = V(), c61 = V(), c70 = V(), c71 = V()
        var pa = a
        var pb = UnsafeRawPointer(b)
        let rs2 = rs * 2, rs3 = rs * 3, rs4 = rs * 4, rs5 = rs * 5, rs6 = rs * 6, rs7 = rs * 7, step = bs &* 4
        for _ in 0..<kc {
            let b0 = pb.loadUnaligned(as: V.self)
            let b1 = pb.loadUnaligned(fromByteOffset: 64, as: V.self)
            var av = V(repeating: pa[0])
            c00 = c00.addingProduct(av, b0); c01 = c01.addingProduct(av, b1)
            av = V(repeating: pa[rs])
            c10 = c10.addingProduct(av, b0); c11 = c11.addingProduct(av, b1)
            av = V(repeating: pa[rs2])
            c20 = c20.addingProduct(av, b0); c21 = c21.addingProduct(av, b1)
            av = V(repeating: pa[rs3])
            c30 = c30.addingProduct(av, b0); c31 = c31.addingProduct(av, b1)
            av = V(repeating: pa[rs4])
            c40 = c40.addingProduct(av, b0); c41 = c41.addingProduct(av, b1)
            av = V(repeating: pa[rs5])
            c50 = c50.addingProduct(av, b0); c51 = c51.addingProduct(av, b1)
            av = V(repeating: pa[rs6])
            c60 = c60.addingProduct(av, b0); c61 = c61.addingProduct(av, b1)
            av = V(repeating: pa[rs7])
            c70 = c70.addingProduct(av, b0); c71 = c71.addingProduct(av, b1)
            pa += cs
            pb += step
        }
        storeRow(c, 0, ldc, c00, c01, alpha, beta)
        storeRow(c, 1, ldc, c10, c11, alpha, beta)
        storeRow(c, 2, ldc, c20, c21, alpha, beta)
        storeRow(c, 3, ldc, c30, c31, alpha, beta)
        storeRow(c, 4, ldc, c40, c41, alpha, beta)
        storeRow(c, 5, ldc, c50, c51, alpha, beta)
        storeRow(c, 6, ldc, c60, c61, alpha, beta)
        storeRow(c, 7, ldc, c70, c71, alpha, beta)
    }
}
