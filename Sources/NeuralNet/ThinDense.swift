
import CPrefetch

/// Kernels for dense layers with few outputs (a classifier head, a linear probe): wide inputs,
/// at most `ThinDense.maxOutputs` outputs. The packed GEMM pads such a product to its 16-wide
/// register tile and copies the input into panels first; these kernels read the input rows in
/// place, once, with every multiply-add useful, so a linear probe's epoch runs at the speed
/// the feature rows stream from memory.
///
/// Both kernels work on the transposed weight W^T (outputs x inputs), so each output is a dot
/// product along a contiguous row. Each output value is computed by one task in a fixed order:
/// results do not depend on the thread count.
public enum ThinDense {
    /// The widest layer these kernels take.
    public static let maxOutputs = 32

    /// y[i, c] += sum_k x[i, k] * wT[c, k] for rows i in `rows` (x: ? x k, row-major; y: ? x n).
    /// Tiles of 4 rows x 2 outputs: 8 accumulators, 6 loads per 8 multiply-adds.
    @inline(__always)
    public static func forward(x: UnsafePointer<Float>, k: Int, wT: UnsafePointer<Float>, n: Int,
                               y: UnsafeMutablePointer<Float>, rows: Range<Int>) {
        typealias V = SIMD8<Float>
        let kv = k & ~7
        let rx = UnsafeRawPointer(x), rw = UnsafeRawPointer(wT)
        func tail(_ i: Int, _ c: Int) -> Float {
            var s: Float = 0
            var j = kv
            while j < k { s += x[i &* k &+ j] * wT[c &* k &+ j]; j &+= 1 }
            return s
        }
        var i = rows.lowerBound
        while i &+ 4 <= rows.upperBound {
            var c = 0
            while c &+ 2 <= n {
                var a00 = V(), a01 = V(), a10 = V(), a11 = V(), a20 = V(), a21 = V(), a30 = V(), a31 = V()
                let x0 = i &* k &* 4, x1 = x0 &+ k &* 4, x2 = x1 &+ k &* 4, x3 = x2 &+ k &* 4
                let w0 = c &* k &* 4, w1 = w0 &+ k &* 4
                var j = 0
                while j < kv {
                    let o = j &* 4
                    let v0 = rw.loadUnaligned(fromByteOffset: w0 &+ o, as: V.self)
                    let v1 = rw.loadUnaligned(fromByteOffset: w1 &+ o, as: V.self)
                    let u0 = rx.loadUnaligned(fromByteOffset: x0 &+ o, as: V.self)
                    a00.addProduct(u0, v0); a01.addProduct(u0, v1)
                    let u1 = rx.loadUnaligned(fromByteOffset: x1 &+ o, as: V.self)
                    a10.addProduct(u1, v0); a11.addProduct(u1, v1)
                    let u2 = rx.loadUnaligned(fromByteOffset: x2 &+ o, as: V.self)
                    a20.addProduct(u2, v0); a21.addProduct(u2, v1)
                    let u3 = rx.loadUnaligned(fromByteOffset: x3 &+ o, as: V.self)
                    a30.addProduct(u3, v0); a31.addProduct(u3, v1)
                    j &+= 8
                }
                y[i &* n &+ c] += a00.sum() + tail(i, c); y[i &* n &+ c &+ 1] += a01.sum() + tail(i, c &+ 1)
                y[(i &+ 1) &* n &+ c] += a10.sum() + tail(i &+ 1, c); y[(i &+ 1) &* n &+ c &+ 1] += a11.sum() + tail(i &+ 1, c &+ 1)
                y[(i &+ 2) &* n &+ c] += a20.sum() + tail(i &+ 2, c); y[(i &+ 2) &* n &+ c &+ 1] += a21.sum() + tail(i &+ 2, c &+ 1)
                y[(i &+ 3) &* n &+ c] += a30.sum() + tail(i &+ 3, c); y[(i &+ 3) &* n &+ c &+ 1] += a31.sum() + tail(i &+ 3, c &+ 1)
                c &+= 2
            }
            if c < n { for r in i..<(i &+ 4) { y[r &* n &+ c] += dot(rx, r &* k &* 4, rw, c &* k &* 4, kv) + tail(r, c) } }
            i &+= 4
        }
        while i < rows.upperBound {
            for c in 0..<n { y[i &* n &+ c] += dot(rx, i &* k &* 4, rw, c &* k &* 4, kv) + tail(i, c) }
            i &+= 1
        }
    }

    @inline(__always)
    static func dot(_ a: UnsafeRawPointer, _ ao: Int, _ b: UnsafeRawPointer, _ bo: Int, _ count: Int) -> Float {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>()
        var j = 0
        while j &+ 16 <= count {
            s0.addProduct(a.loadUnaligned(fromByteOffset: ao &+ j &* 4, as: SIMD8<Float>.self), b.loadUnaligned(fromByteOffset: bo &+ j &* 4, as: SIMD8<Float>.self))
            s1.addProduct(a.loadUnaligned(fromByteOffset: ao &+ (j &+ 8) &* 4, as: SIMD8<Float>.self), b.loadUnaligned(fromByteOffset: bo &+ (j &+ 8) &* 4, as: SIMD8<Float>.self))
            j &+= 16
        }
        while j < count {
            s0.addProduct(a.loadUnaligned(fromByteOffset: ao &+ j &* 4, as: SIMD8<Float>.self), b.loadUnaligned(fromByteOffset: bo &+ j &* 4, as: SIMD8<Float>.self))
            j &+= 8
        }
        return (s0 + s1).sum()
    }

    /// gT[c, j] = sum_i dy[i, c] * x[i, j] over all `count` rows, for columns j in `columns`
    /// (gT: n x k, row-major; overwritten). Rows go in blocks that stay in cache while 4
    /// outputs at a time accumulate over them, 8 columns wide.
    public static func weightGradient(x: UnsafePointer<Float>, count: Int, k: Int, dy: UnsafePointer<Float>, n: Int,
                                      gT: UnsafeMutablePointer<Float>, columns: Range<Int>) {
        typealias V = SIMD8<Float>
        for c in 0..<n { (gT + c &* k + columns.lowerBound).update(repeating: 0, count: columns.count) }
        let rx = UnsafeRawPointer(x)
        let vecEnd = columns.lowerBound + (columns.count & ~7)
        let block = 64
        var r0 = 0
        while r0 < count {
            let r1 = min(count, r0 &+ block)
            var c = 0
            while c < n {
                let width = min(4, n &- c)
                var j = columns.lowerBound
                while j < vecEnd {
                    let g = UnsafeMutableRawPointer(gT)
                    let o0 = (c &* k &+ j) &* 4
                    var a0 = g.loadUnaligned(fromByteOffset: o0, as: V.self)
                    var a1 = width > 1 ? g.loadUnaligned(fromByteOffset: o0 &+ k &* 4, as: V.self) : V()
                    var a2 = width > 2 ? g.loadUnaligned(fromByteOffset: o0 &+ 2 &* k &* 4, as: V.self) : V()
                    var a3 = width > 3 ? g.loadUnaligned(fromByteOffset: o0 &+ 3 &* k &* 4, as: V.self) : V()
                    var i = r0
                    if width == 4 {
                        while i < r1 {
                            let u = rx.loadUnaligned(fromByteOffset: (i &* k &+ j) &* 4, as: V.self)
                            let d = dy + (i &* n &+ c)
                            a0.addProduct(u, V(repeating: d[0])); a1.addProduct(u, V(repeating: d[1]))
                            a2.addProduct(u, V(repeating: d[2])); a3.addProduct(u, V(repeating: d[3]))
                            i &+= 1
                        }
                    } else {
                        while i < r1 {
                            let u = rx.loadUnaligned(fromByteOffset: (i &* k &+ j) &* 4, as: V.self)
                            let d = dy + (i &* n &+ c)
                            a0.addProduct(u, V(repeating: d[0]))
                            if width > 1 { a1.addProduct(u, V(repeating: d[1])) }
                            if width > 2 { a2.addProduct(u, V(repeating: d[2])) }
                            i &+= 1
                        }
                    }
                    g.storeBytes(of: a0, toByteOffset: o0, as: V.self)
                    if width > 1 { g.storeBytes(of: a1, toByteOffset: o0 &+ k &* 4, as: V.self) }
                    if width > 2 { g.storeBytes(of: a2, toByteOffset: o0 &+ 2 &* k &* 4, as: V.self) }
                    if width > 3 { g.storeBytes(of: a3, toByteOffset: o0 &+ 3 &* k &* 4, as: V.self) }
                    j &+= 8
                }
                while j < columns.upperBound {
                    for cc in c..<(c &+ width) {
                        var s = gT[cc &* k &+ j]
                        for i in r0..<r1 { s += dy[i &* n &+ cc] * x[i &* k &+ j] }
                        gT[cc &* k &+ j] = s
                    }
                    j &+= 1
                }
                c &+= width
            }
            r0 = r1
        }
    }
}

extension ThinDense {
    /// `forward` over rows that live anywhere (feature vectors read in place from a memory map):
    /// y[r, c] = bias[c] + sum_k rows[r][k] * wT[c, k] for r in `range`. Four rows stream at
    /// once, and the next four are prefetched a line at a time during the first output pair's
    /// pass (measured about 4% faster than leaving it to the hardware streamers).
    public static func forward(rows: UnsafePointer<UnsafePointer<Float>>, k: Int, wT: UnsafePointer<Float>, n: Int,
                               bias: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, range: Range<Int>) {
        typealias V = SIMD8<Float>
        let kv = k & ~7
        let rw = UnsafeRawPointer(wT)
        func full(_ x: UnsafePointer<Float>, _ c: Int) -> Float {
            var s = dot(UnsafeRawPointer(x), 0, rw, c &* k &* 4, kv)
            var j = kv
            while j < k { s += x[j] * wT[c &* k &+ j]; j &+= 1 }
            return s
        }
        var r = range.lowerBound
        // Along k in chunks of 256 values, so a chunk of every output's weights (10 KB for 10
        // outputs) and of the four rows stay in L1 while all outputs use them; the 4 x n
        // accumulators wait in a small scratch between chunks.
        let chunk: Int = 1024
        withUnsafeTemporaryAllocation(of: V.self, capacity: 4 &* n) { acc in
            let a = acc.baseAddress!
            while r &+ 4 <= range.upperBound {
                let p0 = UnsafeRawPointer(rows[r]), p1 = UnsafeRawPointer(rows[r &+ 1])
                let p2 = UnsafeRawPointer(rows[r &+ 2]), p3 = UnsafeRawPointer(rows[r &+ 3])
                // The next four rows are prefetched a line at a time, spread over the first
                // output pair's pass, so memory works while the arithmetic does.
                let ahead = r &+ 8 <= range.upperBound
                let q0 = ahead ? UnsafeRawPointer(rows[r &+ 4]) : p0, q1 = ahead ? UnsafeRawPointer(rows[r &+ 5]) : p1
                let q2 = ahead ? UnsafeRawPointer(rows[r &+ 6]) : p2, q3 = ahead ? UnsafeRawPointer(rows[r &+ 7]) : p3
                a.update(repeating: V(), count: 4 &* n)
                var kc = 0
                while kc < kv &* 4 {
                    let end: Int = Swift.min(kc &+ chunk, kv &* 4)
                    var c = 0
                    while c &+ 2 <= n {
                        var a00 = a[c], a01 = a[c &+ 1], a10 = a[n &+ c], a11 = a[n &+ c &+ 1]
                        var a20 = a[2 &* n &+ c], a21 = a[2 &* n &+ c &+ 1], a30 = a[3 &* n &+ c], a31 = a[3 &* n &+ c &+ 1]
                        let w0 = c &* k &* 4, w1 = w0 &+ k &* 4
                        var o = kc
                        let prefetch = c == 0 && ahead
                        while o < end {
                            if prefetch && o & 63 == 0 {
                                curate_prefetch(q0 + o); curate_prefetch(q1 + o); curate_prefetch(q2 + o); curate_prefetch(q3 + o)
                            }
                            let v0 = rw.loadUnaligned(fromByteOffset: w0 &+ o, as: V.self)
                            let v1 = rw.loadUnaligned(fromByteOffset: w1 &+ o, as: V.self)
                            let u0 = p0.loadUnaligned(fromByteOffset: o, as: V.self)
                            a00.addProduct(u0, v0); a01.addProduct(u0, v1)
                            let u1 = p1.loadUnaligned(fromByteOffset: o, as: V.self)
                            a10.addProduct(u1, v0); a11.addProduct(u1, v1)
                            let u2 = p2.loadUnaligned(fromByteOffset: o, as: V.self)
                            a20.addProduct(u2, v0); a21.addProduct(u2, v1)
                            let u3 = p3.loadUnaligned(fromByteOffset: o, as: V.self)
                            a30.addProduct(u3, v0); a31.addProduct(u3, v1)
                            o &+= 32
                        }
                        a[c] = a00; a[c &+ 1] = a01; a[n &+ c] = a10; a[n &+ c &+ 1] = a11
                        a[2 &* n &+ c] = a20; a[2 &* n &+ c &+ 1] = a21; a[3 &* n &+ c] = a30; a[3 &* n &+ c &+ 1] = a31
                        c &+= 2
                    }
                    if c < n {
                        let w0 = c &* k &* 4
                        var b0 = a[c], b1 = a[n &+ c], b2 = a[2 &* n &+ c], b3 = a[3 &* n &+ c]
                        var o = kc
                        while o < end {
                            let v = rw.loadUnaligned(fromByteOffset: w0 &+ o, as: V.self)
                            b0.addProduct(p0.loadUnaligned(fromByteOffset: o, as: V.self), v)
                            b1.addProduct(p1.loadUnaligned(fromByteOffset: o, as: V.self), v)
                            b2.addProduct(p2.loadUnaligned(fromByteOffset: o, as: V.self), v)
                            b3.addProduct(p3.loadUnaligned(fromByteOffset: o, as: V.self), v)
                            o &+= 32
                        }
                        a[c] = b0; a[n &+ c] = b1; a[2 &* n &+ c] = b2; a[3 &* n &+ c] = b3
                    }
                    kc = end
                }
                for q in 0..<4 {
                    let x = rows[r &+ q]
                    for c in 0..<n {
                        var s = a[q &* n &+ c].sum()
                        var j = kv
                        while j < k { s += x[j] * wT[c &* k &+ j]; j &+= 1 }
                        y[(r &+ q) &* n &+ c] = bias[c] + s
                    }
                }
                r &+= 4
            }
        }
        while r < range.upperBound {
            for c in 0..<n { y[r &* n &+ c] = bias[c] + full(rows[r], c) }
            r &+= 1
        }
    }

    /// gT[c, j] (+)= sum over r in `range` of dy[r, c] * rows[r][j] (gT: n x k; overwritten
    /// unless `accumulate`): the weight gradient of one block of rows. Rows go four at a time
    /// and outputs four at a time, so the four rows and the four outputs' gradient rows stay in L1.
    public static func weightGradient(rows: UnsafePointer<UnsafePointer<Float>>, k: Int, dy: UnsafePointer<Float>, n: Int,
                                      gT: UnsafeMutablePointer<Float>, range: Range<Int>, accumulate: Bool = false) {
        typealias V = SIMD8<Float>
        if !accumulate { gT.update(repeating: 0, count: n &* k) }
        let kv = k & ~7
        let g = UnsafeMutableRawPointer(gT)
        var r = range.lowerBound
        while r &+ 4 <= range.upperBound {
            let p0 = UnsafeRawPointer(rows[r]), p1 = UnsafeRawPointer(rows[r &+ 1])
            let p2 = UnsafeRawPointer(rows[r &+ 2]), p3 = UnsafeRawPointer(rows[r &+ 3])
            let d0 = dy + r &* n, d1 = d0 + n, d2 = d1 + n, d3 = d2 + n
            var c = 0
            while c < n {
                let width = min(4, n &- c)
                if width == 4 {
                    let (b00, b01, b02, b03) = (V(repeating: d0[c]), V(repeating: d0[c &+ 1]), V(repeating: d0[c &+ 2]), V(repeating: d0[c &+ 3]))
                    let (b10, b11, b12, b13) = (V(repeating: d1[c]), V(repeating: d1[c &+ 1]), V(repeating: d1[c &+ 2]), V(repeating: d1[c &+ 3]))
                    let (b20, b21, b22, b23) = (V(repeating: d2[c]), V(repeating: d2[c &+ 1]), V(repeating: d2[c &+ 2]), V(repeating: d2[c &+ 3]))
                    let (b30, b31, b32, b33) = (V(repeating: d3[c]), V(repeating: d3[c &+ 1]), V(repeating: d3[c &+ 2]), V(repeating: d3[c &+ 3]))
                    let g0 = c &* k &* 4, g1 = g0 &+ k &* 4, g2 = g1 &+ k &* 4, g3 = g2 &+ k &* 4
                    var o = 0
                    while o < kv &* 4 {
                        let u0 = p0.loadUnaligned(fromByteOffset: o, as: V.self), u1 = p1.loadUnaligned(fromByteOffset: o, as: V.self)
                        let u2 = p2.loadUnaligned(fromByteOffset: o, as: V.self), u3 = p3.loadUnaligned(fromByteOffset: o, as: V.self)
                        var a0 = g.loadUnaligned(fromByteOffset: g0 &+ o, as: V.self)
                        a0.addProduct(u0, b00); a0.addProduct(u1, b10); a0.addProduct(u2, b20); a0.addProduct(u3, b30)
                        g.storeBytes(of: a0, toByteOffset: g0 &+ o, as: V.self)
                        var a1 = g.loadUnaligned(fromByteOffset: g1 &+ o, as: V.self)
                        a1.addProduct(u0, b01); a1.addProduct(u1, b11); a1.addProduct(u2, b21); a1.addProduct(u3, b31)
                        g.storeBytes(of: a1, toByteOffset: g1 &+ o, as: V.self)
                        var a2 = g.loadUnaligned(fromByteOffset: g2 &+ o, as: V.self)
                        a2.addProduct(u0, b02); a2.addProduct(u1, b12); a2.addProduct(u2, b22); a2.addProduct(u3, b32)
                        g.storeBytes(of: a2, toByteOffset: g2 &+ o, as: V.self)
                        var a3 = g.loadUnaligned(fromByteOffset: g3 &+ o, as: V.self)
                        a3.addProduct(u0, b03); a3.addProduct(u1, b13); a3.addProduct(u2, b23); a3.addProduct(u3, b33)
                        g.storeBytes(of: a3, toByteOffset: g3 &+ o, as: V.self)
                        o &+= 32
                    }
                } else {
                    for cc in c..<(c &+ width) {
                        let (b0, b1, b2, b3) = (V(repeating: d0[cc]), V(repeating: d1[cc]), V(repeating: d2[cc]), V(repeating: d3[cc]))
                        let g0 = cc &* k &* 4
                        var o = 0
                        while o < kv &* 4 {
                            var a = g.loadUnaligned(fromByteOffset: g0 &+ o, as: V.self)
                            a.addProduct(p0.loadUnaligned(fromByteOffset: o, as: V.self), b0)
                            a.addProduct(p1.loadUnaligned(fromByteOffset: o, as: V.self), b1)
                            a.addProduct(p2.loadUnaligned(fromByteOffset: o, as: V.self), b2)
                            a.addProduct(p3.loadUnaligned(fromByteOffset: o, as: V.self), b3)
                            g.storeBytes(of: a, toByteOffset: g0 &+ o, as: V.self)
                            o &+= 32
                        }
                    }
                }
                c &+= width
            }
            for j in kv..<k {
                for c in 0..<n {
                    gT[c &* k &+ j] += d0[c] * rows[r][j] + d1[c] * rows[r &+ 1][j] + d2[c] * rows[r &+ 2][j] + d3[c] * rows[r &+ 3][j]
                }
            }
            r &+= 4
        }
        while r < range.upperBound {
            let x = rows[r]
            for c in 0..<n {
                let d = dy[r &* n &+ c]
                for j in 0..<k { gT[c &* k &+ j] += d * x[j] }
            }
            r &+= 1
        }
    }
}
