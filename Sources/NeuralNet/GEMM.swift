import Foundation

/// Single-precision matrix multiplication, written in Swift with SIMD.
///
/// `C = alpha * op(A) * op(B) + beta * C`, row-major, with either operand optionally
/// transposed. The design is BLIS's: B is packed into nr-column panels (two vectors), A is
/// read in place through its row and column strides, and a register tile (8 x 32 of 16
/// accumulators on AVX-512, 6 x 16 of 12 on AVX2) does 2 mr multiply-adds per 2 vector loads
/// and mr broadcasts. Rows past the last full tile use 4-row and 1-row kernels; when A has at
/// most two row tiles and B is not transposed, B's full panels are read in place. Blocks: up
/// to 384 along the shared dimension (in equal parts), MC = 128 rows, NC = 512 columns.
///
/// Work is split over the cores by columns of C when B has at least four panels a core (each
/// task packs only its own), otherwise by rows. Each value of C is computed by one task with
/// the same order of additions whatever the split, so the result is bit-identical for any
/// number of threads.
public enum GEMM {
    static let kc = 256
    static let mc = 128
    static let nc = 512

    /// C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C. With `beta == 0`, C is
    /// written without being read. `transA` means A is stored k x m (leading dimension lda);
    /// `transB` means B is stored n x k.
    public static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transA: Bool = false,
        b: UnsafePointer<Float>, ldb: Int, transB: Bool = false,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0, parallel: Bool = true
    ) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            for i in 0..<m {
                for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] }
            }
            return
        }
        if CPUFeatures.avx512 {
            run(Kernel8x32.self, m: m, n: n, k: k, a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB,
                c: c, ldc: ldc, alpha: alpha, beta: beta, parallel: parallel)
        } else {
            run(Kernel6x16.self, m: m, n: n, k: k, a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB,
                c: c, ldc: ldc, alpha: alpha, beta: beta, parallel: parallel)
        }
    }

    static func run<K: MicroKernel>(
        _ kernel: K.Type, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transB: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float, parallel: Bool
    ) {
        let mr = K.mr, nr = K.nr
        let rowTiles = (m + mr - 1) / mr
        let colTiles = (n + nr - 1) / nr
        let threads = !parallel || m * n * k < 1 << 18 ? 1 : Parallel.threads
        let operands = Operands(a: a, rsA: transA ? 1 : lda, csA: transA ? lda : 1,
                                b: b, ldb: ldb, transB: transB, c: c, ldc: ldc,
                                k: k, alpha: alpha, beta: beta)
        func byColumns() {
            // Each task packs only its own panels of B and reads all of A in place: no task
            // waits for another and nothing is done twice.
            Parallel.forEach(threads) { t in
                let c0 = colTiles * t / threads * nr
                let c1 = min(n, colTiles * (t + 1) / threads * nr)
                if c0 < c1 { serial(K.self, operands, rows: 0..<m, cols: c0..<c1) }
            }
        }
        if threads > 1 && colTiles >= 4 * threads {
            byColumns()
        } else if threads > 1 && rowTiles >= threads {
            // A large B in few k blocks is packed once, by all tasks together; otherwise
            // (long k, or a narrow B) each task packs its own copy and no task ever waits.
            if n >= 4 * nr && (k + kStep(k) - 1) / kStep(k) <= 2 {
                rowParallel(K.self, operands, m: m, n: n, threads: threads)
            } else {
                Parallel.forEach(threads) { t in
                    let r0 = rowTiles * t / threads * mr
                    let r1 = min(m, rowTiles * (t + 1) / threads * mr)
                    if r0 < r1 { serial(K.self, operands, rows: r0..<r1, cols: 0..<n) }
                }
            }
        } else if threads > 1 && colTiles >= threads {
            byColumns()
        } else {
            serial(K.self, operands, rows: 0..<m, cols: 0..<n)
        }
    }

    struct Operands: @unchecked Sendable {
        let a: UnsafePointer<Float>
        let rsA: Int
        let csA: Int
        let b: UnsafePointer<Float>
        let ldb: Int
        let transB: Bool
        let c: UnsafeMutablePointer<Float>
        let ldc: Int
        let k: Int
        let alpha: Float
        let beta: Float
    }

    /// Blocks along k: equal parts of at most KC * 1.5 (288 is one block, not 256 + 32). The
    /// split depends on k alone, never on the thread count.
    static func kStep(_ k: Int) -> Int {
        let blocks = max(1, (k + kc + kc / 2 - 1) / (kc + kc / 2))
        return (k + blocks - 1) / blocks
    }

    /// One task computes every block of C in `rows` x `cols`, packing B itself, except where
    /// B is read in place: when it is not transposed and A has at most two row tiles, a packed
    /// panel would be used by one or two tiles only, and packing would cost more than it saves
    /// (conv1's weight gradient, 9 x 32 x 3136, packed 100,000 values for 900,000 multiply-adds).
    /// Full-width panels are then read where they are; a last, narrower one is still packed.
    static func serial<K: MicroKernel>(_ kernel: K.Type, _ o: Operands, rows: Range<Int>, cols: Range<Int>) {
        let nr = K.nr
        let panelWidth = min(nc, cols.count)
        let packedB = alignedFloats((kc + kc / 2) * ((panelWidth + nr - 1) / nr) * nr)
        defer { packedB.deallocate() }
        let inPlace = !o.transB && rows.count <= 2 * K.mr
        let step = kStep(o.k)
        var jc = cols.lowerBound
        while jc < cols.upperBound {
            let ncur = min(nc, cols.upperBound - jc)
            let panels = (ncur + nr - 1) / nr
            var pc = 0
            while pc < o.k {
                let kcur = min(step, o.k - pc)
                packB(nr: nr, o, p0: pc, kcur: kcur, j0: jc, ncur: ncur, panels: (inPlace ? ncur / nr : 0)..<panels, into: packedB)
                compute(K.self, o, rows: rows, jc: jc, ncur: ncur, pc: pc, kcur: kcur, packedB: packedB,
                        inPlacePanels: inPlace ? ncur / nr : 0)
                pc += kcur
            }
            jc += ncur
        }
    }

    /// Tasks split the rows of C; for each block of B, they first pack its panels together
    /// (each a share), then each computes its rows from the one packed copy.
    static func rowParallel<K: MicroKernel>(_ kernel: K.Type, _ o: Operands, m: Int, n: Int, threads: Int) {
        let mr = K.mr, nr = K.nr
        let rowTiles = (m + mr - 1) / mr
        let packedB = alignedFloats((kc + kc / 2) * ((min(nc, n) + nr - 1) / nr) * nr)
        defer { packedB.deallocate() }
        let step = kStep(o.k)
        var jc = 0
        while jc < n {
            let ncur = min(nc, n - jc)
            let panels = (ncur + nr - 1) / nr
            var pc = 0
            while pc < o.k {
                let kcur = min(step, o.k - pc)
                let (p0, j0) = (pc, jc)
                Parallel.forEach(min(threads, panels)) { t in
                    let share = panels * t / min(threads, panels)..<panels * (t + 1) / min(threads, panels)
                    packB(nr: nr, o, p0: p0, kcur: kcur, j0: j0, ncur: ncur, panels: share, into: packedB)
                }
                Parallel.forEach(threads) { t in
                    let r0 = rowTiles * t / threads * mr
                    let r1 = min(m, rowTiles * (t + 1) / threads * mr)
                    if r0 < r1 { compute(K.self, o, rows: r0..<r1, jc: j0, ncur: ncur, pc: p0, kcur: kcur, packedB: packedB, inPlacePanels: 0) }
                }
                pc += kcur
            }
            jc += ncur
        }
    }

    /// C[rows, jc..<jc+ncur] (+)= A[rows, pc..<pc+kcur] B-block: the first `inPlacePanels`
    /// panels read from B where it is, the rest from `packedB`. Rows past the last full mr-row
    /// tile go through the narrow edge kernels, and columns past the last full panel through a
    /// scratch tile.
    static func compute<K: MicroKernel>(_ kernel: K.Type, _ o: Operands, rows: Range<Int>, jc: Int, ncur: Int,
                                        pc: Int, kcur: Int, packedB: UnsafeMutablePointer<Float>, inPlacePanels: Int) {
        let mr = K.mr, nr = K.nr
        let edgeA = alignedFloats((kc + kc / 2) * 4)
        let tile = alignedFloats(mr * nr)
        defer {
            edgeA.deallocate()
            tile.deallocate()
        }
        let beta: Float = pc == 0 ? o.beta : 1
        // A's full row tiles are packed (each kcur x mr, its mr values of one p side by side)
        // when every tile is reused by enough panels of B to repay the copy: the kernel then
        // broadcasts from one stream at fixed offsets instead of mr strided rows.
        let packedA: UnsafeMutablePointer<Float>? = packsA(K.self, panels: (ncur + nr - 1) / nr) ? alignedFloats(mc * (kc + kc / 2)) : nil
        defer { packedA?.deallocate() }
        var ic = rows.lowerBound
        while ic < rows.upperBound {
            let mcur = min(mc, rows.upperBound - ic)
            if let packedA { packA(mr: mr, o, rows: ic..<(ic + mcur / mr * mr), pc: pc, kcur: kcur, into: packedA) }
            var jr = 0
            while jr < ncur {
                let panel = jr / nr
                let (bp, bs) = panel < inPlacePanels
                    ? (o.b + pc * o.ldb + jc + jr, o.ldb)
                    : (UnsafePointer(packedB + panel * kcur * nr), nr)
                let ncols = min(nr, ncur - jr)
                var ir = ic
                while ir < ic + mcur {
                    let mrows = min(mr, ic + mcur - ir)
                    let ap = o.a + ir * o.rsA + pc * o.csA
                    let cp = o.c + ir * o.ldc + jc + jr
                    if ncols == nr {
                        if mrows == mr, let packedA {
                            K.run(kcur, packedA + (ir - ic) * kcur, 1, mr, bp, bs, cp, o.ldc, o.alpha, beta)
                        } else if mrows == mr {
                            K.run(kcur, ap, o.rsA, o.csA, bp, bs, cp, o.ldc, o.alpha, beta)
                        } else {
                            K.runEdge(rows: mrows, kcur, ap, o.rsA, o.csA, bp, bs, cp, o.ldc, o.alpha, beta, scratch: edgeA)
                        }
                    } else {
                        if mrows == mr {
                            K.run(kcur, ap, o.rsA, o.csA, bp, bs, tile, nr, o.alpha, 0)
                        } else {
                            K.runEdge(rows: mrows, kcur, ap, o.rsA, o.csA, bp, bs, tile, nr, o.alpha, 0, scratch: edgeA)
                        }
                        for i in 0..<mrows {
                            for j in 0..<ncols {
                                let v = tile[i * nr + j]
                                cp[i * o.ldc + j] = beta == 0 ? v : v + beta * cp[i * o.ldc + j]
                            }
                        }
                    }
                    ir += mr
                }
                jr += nr
            }
            ic += mcur
        }
    }

    /// Whether `compute` packs A's row tiles for a block of B with `panels` panels.
    /// `CURATE_GEMM_PACK_A=0|1` overrides, for measuring both ways.
    nonisolated(unsafe) static var packAOverride: Bool? = ProcessInfo.processInfo.environment["CURATE_GEMM_PACK_A"].map { $0 == "1" }
    /// Measured on Zen 3 (AVX2), where broadcasting from six strided rows holds 512x512x512
    /// near 55% of peak; the AVX-512 tile (measured at 67-85% reading A in place) keeps doing so.
    static func packsA<K: MicroKernel>(_ kernel: K.Type, panels: Int) -> Bool { packAOverride ?? (K.mr == 6 && panels >= 8) }

    /// Packs A[rows, pc..<pc+kcur] (a whole number of mr-row tiles) tile by tile: tile t at
    /// dst + t * kcur * mr, A(r, p) at [p * mr + (r - r0) % mr].
    static func packA(mr: Int, _ o: Operands, rows: Range<Int>, pc: Int, kcur: Int, into dst: UnsafeMutablePointer<Float>) {
        var t = 0
        var r0 = rows.lowerBound
        while r0 < rows.upperBound {
            let out = dst + t * kcur * mr
            let src = o.a + r0 * o.rsA + pc * o.csA
            if o.rsA == 1 {
                // Stored k x m: the tile's mr values of each p are already side by side.
                for p in 0..<kcur {
                    for i in 0..<mr { out[p &* mr &+ i] = src[p &* o.csA &+ i] }
                }
            } else {
                for i in 0..<mr {
                    let row = src + i * o.rsA
                    var p = 0
                    while p < kcur {
                        out[p &* mr &+ i] = row[p &* o.csA]
                        p &+= 1
                    }
                }
            }
            t += 1
            r0 += mr
        }
    }

    /// Packs B[p0..<p0+kcur, j0..<j0+ncur] into nr-wide panels, each kcur x nr row-major,
    /// zero-padded past the last column.
    @inline(__always)
    static func packB(nr: Int, _ o: Operands, p0: Int, kcur: Int, j0: Int, ncur: Int, panels: Range<Int>,
                      into dst: UnsafeMutablePointer<Float>) {
        var panel = panels.lowerBound
        var j = panel * nr
        while j < ncur && panel < panels.upperBound {
            let width = min(nr, ncur - j)
            let out = dst + panel * kcur * nr
            if !o.transB {
                for p in 0..<kcur {
                    let src = o.b + (p0 + p) * o.ldb + j0 + j
                    let row = out + p * nr
                    if width == nr {
                        row.update(from: src, count: nr)
                    } else {
                        for jj in 0..<width { row[jj] = src[jj] }
                        for jj in width..<nr { row[jj] = 0 }
                    }
                }
            } else {
                // Bᵀ: 8 x 8 blocks transposed in registers, the rest one value at a time.
                let full = width == nr ? kcur & ~7 : 0
                var p = 0
                while p < full {
                    var jj = 0
                    while jj < nr {
                        transpose8(from: o.b + (j0 + j + jj) * o.ldb + p0 + p, stride: o.ldb, to: out + p * nr + jj, stride: nr)
                        jj += 8
                    }
                    p += 8
                }
                for jj in 0..<nr {
                    if jj < width {
                        let src = o.b + (j0 + j + jj) * o.ldb + p0
                        for p in full..<kcur { out[p * nr + jj] = src[p] }
                    } else {
                        for p in full..<kcur { out[p * nr + jj] = 0 }
                    }
                }
            }
            panel += 1
            j += nr
        }
    }

    /// Writes the transpose of the 8 x 8 block at `src` (rows `stride` apart) to `dst`. Three
    /// perfect unshuffles of the 64 values (each rotates the 6-bit index right by one bit)
    /// swap its row and column bits; each is 8 even/odd selections of two rows, which become
    /// vector shuffles.
    @inline(__always)
    static func transpose8(from src: UnsafePointer<Float>, stride: Int, to dst: UnsafeMutablePointer<Float>, stride dstStride: Int) {
        typealias V = SIMD8<Float>
        let s = UnsafeRawPointer(src), d = UnsafeMutableRawPointer(dst), rb = stride * 4, db = dstStride * 4
        var r = (s.loadUnaligned(as: V.self), s.loadUnaligned(fromByteOffset: rb, as: V.self),
                 s.loadUnaligned(fromByteOffset: 2 * rb, as: V.self), s.loadUnaligned(fromByteOffset: 3 * rb, as: V.self),
                 s.loadUnaligned(fromByteOffset: 4 * rb, as: V.self), s.loadUnaligned(fromByteOffset: 5 * rb, as: V.self),
                 s.loadUnaligned(fromByteOffset: 6 * rb, as: V.self), s.loadUnaligned(fromByteOffset: 7 * rb, as: V.self))
        for _ in 0..<3 {
            let p0 = SIMD16(lowHalf: r.0, highHalf: r.1), p1 = SIMD16(lowHalf: r.2, highHalf: r.3)
            let p2 = SIMD16(lowHalf: r.4, highHalf: r.5), p3 = SIMD16(lowHalf: r.6, highHalf: r.7)
            r = (p0.evenHalf, p1.evenHalf, p2.evenHalf, p3.evenHalf, p0.oddHalf, p1.oddHalf, p2.oddHalf, p3.oddHalf)
        }
        d.storeBytes(of: r.0, as: V.self); d.storeBytes(of: r.1, toByteOffset: db, as: V.self)
        d.storeBytes(of: r.2, toByteOffset: 2 * db, as: V.self); d.storeBytes(of: r.3, toByteOffset: 3 * db, as: V.self)
        d.storeBytes(of: r.4, toByteOffset: 4 * db, as: V.self); d.storeBytes(of: r.5, toByteOffset: 5 * db, as: V.self)
        d.storeBytes(of: r.6, toByteOffset: 6 * db, as: V.self); d.storeBytes(of: r.7, toByteOffset: 7 * db, as: V.self)
    }

    static func alignedFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(1, count))
    }
}
