/// Single-precision matrix multiplication, written in Swift with SIMD.
///
/// `C = alpha * op(A) * op(B) + beta * C`, row-major, with either operand optionally
/// transposed. The design is BLIS's: B is packed into 32-column panels (two 16-lane vectors),
/// A is read in place through its row and column strides (or packed when a block has fewer
/// than 8 rows), and an 8 x 32 register tile of 16 accumulators does 16 fused multiply-adds
/// per 2 vector loads and 8 broadcasts. Blocks: up to 384 along the shared dimension (in equal
/// parts), MC = 128 rows, NC = 512 columns.
///
/// Work is split over the cores by rows of C (or by columns when C has few rows). Each value
/// of C is computed by one task with the same order of additions whatever the split, so the
/// result is bit-identical for any number of threads.
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
        if threads > 1 && rowTiles >= threads {
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
            Parallel.forEach(threads) { t in
                let c0 = colTiles * t / threads * nr
                let c1 = min(n, colTiles * (t + 1) / threads * nr)
                if c0 < c1 { serial(K.self, operands, rows: 0..<m, cols: c0..<c1) }
            }
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

    /// One task computes every block of C in `rows` x `cols`, packing B itself.
    static func serial<K: MicroKernel>(_ kernel: K.Type, _ o: Operands, rows: Range<Int>, cols: Range<Int>) {
        let nr = K.nr
        let panelWidth = min(nc, cols.count)
        let packedB = alignedFloats((kc + kc / 2) * ((panelWidth + nr - 1) / nr) * nr)
        defer { packedB.deallocate() }
        let step = kStep(o.k)
        var jc = cols.lowerBound
        while jc < cols.upperBound {
            let ncur = min(nc, cols.upperBound - jc)
            var pc = 0
            while pc < o.k {
                let kcur = min(step, o.k - pc)
                packB(nr: nr, o, p0: pc, kcur: kcur, j0: jc, ncur: ncur, panels: 0..<((ncur + nr - 1) / nr), into: packedB)
                compute(K.self, o, rows: rows, jc: jc, ncur: ncur, pc: pc, kcur: kcur, packedB: packedB)
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
                    if r0 < r1 { compute(K.self, o, rows: r0..<r1, jc: j0, ncur: ncur, pc: p0, kcur: kcur, packedB: packedB) }
                }
                pc += kcur
            }
            jc += ncur
        }
    }

    /// C[rows, jc..<jc+ncur] (+)= A[rows, pc..<pc+kcur] B-block, B packed.
    static func compute<K: MicroKernel>(_ kernel: K.Type, _ o: Operands, rows: Range<Int>, jc: Int, ncur: Int,
                                        pc: Int, kcur: Int, packedB: UnsafeMutablePointer<Float>) {
        let mr = K.mr, nr = K.nr
        let edgeA = alignedFloats((kc + kc / 2) * mr)
        let tile = alignedFloats(mr * nr)
        defer {
            edgeA.deallocate()
            tile.deallocate()
        }
        let beta: Float = pc == 0 ? o.beta : 1
        var ic = rows.lowerBound
        while ic < rows.upperBound {
            let mcur = min(mc, rows.upperBound - ic)
            var jr = 0
            while jr < ncur {
                let bp = UnsafePointer(packedB + (jr / nr) * kcur * nr)
                let ncols = min(nr, ncur - jr)
                var ir = ic
                while ir < ic + mcur {
                    let mrows = min(mr, ic + mcur - ir)
                    var ap = o.a + ir * o.rsA + pc * o.csA
                    var rs = o.rsA, cs = o.csA
                    if mrows < mr {
                        for p in 0..<kcur {
                            for i in 0..<mr {
                                edgeA[p * mr + i] = i < mrows ? ap[i * o.rsA + p * o.csA] : 0
                            }
                        }
                        ap = UnsafePointer(edgeA)
                        rs = 1
                        cs = mr
                    }
                    let cp = o.c + ir * o.ldc + jc + jr
                    if mrows == mr && ncols == nr {
                        K.run(kcur, ap, rs, cs, bp, cp, o.ldc, o.alpha, beta)
                    } else {
                        K.run(kcur, ap, rs, cs, bp, tile, nr, o.alpha, 0)
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
                for jj in 0..<nr {
                    if jj < width {
                        let src = o.b + (j0 + j + jj) * o.ldb + p0
                        for p in 0..<kcur { out[p * nr + jj] = src[p] }
                    } else {
                        for p in 0..<kcur { out[p * nr + jj] = 0 }
                    }
                }
            }
            panel += 1
            j += nr
        }
    }

    static func alignedFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(1, count))
    }
}
