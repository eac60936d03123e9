
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
    /// once. Four rows of `upcoming` (the rows the caller needs next, four a group in order) are
    /// prefetched into L2, chunk by chunk, so memory fetches them while the arithmetic runs:
    /// after each chunk's first output group with `wide`, else during its first output pair;
    /// without `upcoming`, the range's own next four.
    /// `wide` (for 32 vector registers: AVX-512) takes 512-bit vectors in tiles of 4 rows x 5
    /// outputs (20 accumulators), else 256-bit vectors in tiles of 4 x 3 (12 accumulators) and
    /// 4 x 2. (On a CPU with two
    /// 512-bit FMA units the 512-bit vectors double the arithmetic; on one that splits them into
    /// halves, as Zen 4 does, they run as fast as 256-bit ones.)
    public static func forward(rows: UnsafePointer<UnsafePointer<Float>>, k: Int, wT: UnsafePointer<Float>, n: Int,
                               bias: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, range: Range<Int>,
                               upcoming: UnsafeBufferPointer<UnsafePointer<Float>>? = nil, wide: Bool = CPUFeatures.avx512) {
        if wide {
            forward(SIMD16<Float>.self, rows: rows, k: k, wT: wT, n: n, bias: bias, y: y, range: range, upcoming: upcoming, tile5: true)
        } else {
            forward(SIMD8<Float>.self, rows: rows, k: k, wT: wT, n: n, bias: bias, y: y, range: range, upcoming: upcoming, tile5: false)
        }
    }

    @inline(__always)
    static func forward<V: SIMD>(_: V.Type, rows: UnsafePointer<UnsafePointer<Float>>, k: Int, wT: UnsafePointer<Float>, n: Int,
                                 bias: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, range: Range<Int>,
                                 upcoming: UnsafeBufferPointer<UnsafePointer<Float>>?, tile5: Bool) where V.Scalar == Float {
        let lanes = V.scalarCount, step = MemoryLayout<V>.size
        let kv = k & ~(lanes &- 1)
        let rw = UnsafeRawPointer(wT)
        func full(_ x: UnsafePointer<Float>, _ c: Int) -> Float {
            var s = dot(UnsafeRawPointer(x), 0, rw, c &* k &* 4, k & ~7)
            var j = k & ~7
            while j < k { s += x[j] * wT[c &* k &+ j]; j &+= 1 }
            return s
        }
        var r = range.lowerBound
        // Along k in equal chunks of at most 384 values (a multiple of the vector), so a chunk of
        // every output's weights (15 KB for 10 outputs) and of the four rows stay in L1 while
        // all outputs use them; the 4 x n accumulators wait in a small scratch between chunks
        // (768 values: two chunks).
        let pieces = (kv &+ 383) / 384
        let chunk: Int = Swift.max(step, ((kv &+ pieces &- 1) / Swift.max(pieces, 1) &+ lanes &- 1) / lanes &* step)
        withUnsafeTemporaryAllocation(of: V.self, capacity: 4 &* n) { acc in
            let a = acc.baseAddress!
            while r &+ 4 <= range.upperBound {
                let p0 = UnsafeRawPointer(rows[r]), p1 = UnsafeRawPointer(rows[r &+ 1])
                let p2 = UnsafeRawPointer(rows[r &+ 2]), p3 = UnsafeRawPointer(rows[r &+ 3])
                // Four rows to prefetch, a line at a time, spread over the first output pair's pass.
                let ahead: Bool
                let q0, q1, q2, q3: UnsafeRawPointer
                if let upcoming {
                    let g = r &- range.lowerBound
                    ahead = g &+ 4 <= upcoming.count
                    (q0, q1, q2, q3) = ahead ? (UnsafeRawPointer(upcoming[g]), UnsafeRawPointer(upcoming[g &+ 1]),
                                                UnsafeRawPointer(upcoming[g &+ 2]), UnsafeRawPointer(upcoming[g &+ 3])) : (p0, p1, p2, p3)
                } else {
                    ahead = r &+ 8 <= range.upperBound
                    q0 = ahead ? UnsafeRawPointer(rows[r &+ 4]) : p0; q1 = ahead ? UnsafeRawPointer(rows[r &+ 5]) : p1
                    q2 = ahead ? UnsafeRawPointer(rows[r &+ 6]) : p2; q3 = ahead ? UnsafeRawPointer(rows[r &+ 7]) : p3
                }
                let far = upcoming != nil
                @inline(__always) func prefetchLine(_ o: Int) {
                    if far {
                        Prefetch.l2(q0 + o); Prefetch.l2(q1 + o); Prefetch.l2(q2 + o); Prefetch.l2(q3 + o)
                    } else {
                        Prefetch.l1(q0 + o); Prefetch.l1(q1 + o); Prefetch.l1(q2 + o); Prefetch.l1(q3 + o)
                    }
                }
                a.update(repeating: V(), count: 4 &* n)
                var kc = 0
                while kc < kv &* 4 {
                    let end: Int = Swift.min(kc &+ chunk, kv &* 4)
                    var c = 0
                    while c < n {
                        // With 32 vector registers (AVX-512), 4 rows x 5 outputs: 20 accumulators, 9
                        // loads per 20 multiply-adds (the pairs below take 6 per 8).
                        if tile5 && c &+ 5 <= n {
                            let a0 = a + c, a1 = a0 + n, a2 = a1 + n, a3 = a2 + n
                            var x00 = a0[0], x01 = a0[1], x02 = a0[2], x03 = a0[3], x04 = a0[4]
                            var x10 = a1[0], x11 = a1[1], x12 = a1[2], x13 = a1[3], x14 = a1[4]
                            var x20 = a2[0], x21 = a2[1], x22 = a2[2], x23 = a2[3], x24 = a2[4]
                            var x30 = a3[0], x31 = a3[1], x32 = a3[2], x33 = a3[3], x34 = a3[4]
                            let w0 = c &* k &* 4, ws = k &* 4
                            var o = kc
                            while o < end {
                                let u0 = p0.loadUnaligned(fromByteOffset: o, as: V.self), u1 = p1.loadUnaligned(fromByteOffset: o, as: V.self)
                                let u2 = p2.loadUnaligned(fromByteOffset: o, as: V.self), u3 = p3.loadUnaligned(fromByteOffset: o, as: V.self)
                                var v = rw.loadUnaligned(fromByteOffset: w0 &+ o, as: V.self)
                                x00.addProduct(u0, v); x10.addProduct(u1, v); x20.addProduct(u2, v); x30.addProduct(u3, v)
                                v = rw.loadUnaligned(fromByteOffset: w0 &+ ws &+ o, as: V.self)
                                x01.addProduct(u0, v); x11.addProduct(u1, v); x21.addProduct(u2, v); x31.addProduct(u3, v)
                                v = rw.loadUnaligned(fromByteOffset: w0 &+ 2 &* ws &+ o, as: V.self)
                                x02.addProduct(u0, v); x12.addProduct(u1, v); x22.addProduct(u2, v); x32.addProduct(u3, v)
                                v = rw.loadUnaligned(fromByteOffset: w0 &+ 3 &* ws &+ o, as: V.self)
                                x03.addProduct(u0, v); x13.addProduct(u1, v); x23.addProduct(u2, v); x33.addProduct(u3, v)
                                v = rw.loadUnaligned(fromByteOffset: w0 &+ 4 &* ws &+ o, as: V.self)
                                x04.addProduct(u0, v); x14.addProduct(u1, v); x24.addProduct(u2, v); x34.addProduct(u3, v)
                                o &+= step
                            }
                            a0[0] = x00; a0[1] = x01; a0[2] = x02; a0[3] = x03; a0[4] = x04
                            a1[0] = x10; a1[1] = x11; a1[2] = x12; a1[3] = x13; a1[4] = x14
                            a2[0] = x20; a2[1] = x21; a2[2] = x22; a2[3] = x23; a2[4] = x24
                            a3[0] = x30; a3[1] = x31; a3[2] = x32; a3[3] = x33; a3[4] = x34
                            // After the first output group, the chunk's lines of the four rows to come,
                            // in one burst outside the multiply-add loop (inside it, the prefetches and
                            // their addresses took registers and slots from the loop).
                            if c == 0 && ahead { var q = kc; while q < end { prefetchLine(q); q &+= 64 } }
                            c &+= 5
                            continue
                        }
                        // With 16 vector registers, 4 rows x 3 outputs: 12 accumulators, 7 loads per
                        // 12 multiply-adds (the pairs below: 8 accumulators, 6 loads per 8, and an
                        // accumulator's next multiply-add waits on its last one: 8 is just enough to
                        // cover the latency with two units). Four outputs left go as two pairs, and
                        // when rows are to be prefetched the first group is a pair, which spreads the
                        // prefetches through its loop (a burst after a first triple was slower).
                        if !tile5 && !(c == 0 && ahead) && n &- c >= 3 && n &- c != 4 {
                            let b0 = a + c, b1 = b0 + n, b2 = b1 + n, b3 = b2 + n
                            var x00 = b0[0], x01 = b0[1], x02 = b0[2]
                            var x10 = b1[0], x11 = b1[1], x12 = b1[2]
                            var x20 = b2[0], x21 = b2[1], x22 = b2[2]
                            var x30 = b3[0], x31 = b3[1], x32 = b3[2]
                            let w0 = c &* k &* 4, w1 = w0 &+ k &* 4, w2 = w1 &+ k &* 4
                            var o = kc
                            while o < end {
                                let v0 = rw.loadUnaligned(fromByteOffset: w0 &+ o, as: V.self)
                                let v1 = rw.loadUnaligned(fromByteOffset: w1 &+ o, as: V.self)
                                let v2 = rw.loadUnaligned(fromByteOffset: w2 &+ o, as: V.self)
                                var u = p0.loadUnaligned(fromByteOffset: o, as: V.self)
                                x00.addProduct(u, v0); x01.addProduct(u, v1); x02.addProduct(u, v2)
                                u = p1.loadUnaligned(fromByteOffset: o, as: V.self)
                                x10.addProduct(u, v0); x11.addProduct(u, v1); x12.addProduct(u, v2)
                                u = p2.loadUnaligned(fromByteOffset: o, as: V.self)
                                x20.addProduct(u, v0); x21.addProduct(u, v1); x22.addProduct(u, v2)
                                u = p3.loadUnaligned(fromByteOffset: o, as: V.self)
                                x30.addProduct(u, v0); x31.addProduct(u, v1); x32.addProduct(u, v2)
                                o &+= step
                            }
                            b0[0] = x00; b0[1] = x01; b0[2] = x02
                            b1[0] = x10; b1[1] = x11; b1[2] = x12
                            b2[0] = x20; b2[1] = x21; b2[2] = x22
                            b3[0] = x30; b3[1] = x31; b3[2] = x32
                            c &+= 3
                            continue
                        }
                        if c &+ 2 <= n {
                            var a00 = a[c], a01 = a[c &+ 1], a10 = a[n &+ c], a11 = a[n &+ c &+ 1]
                            var a20 = a[2 &* n &+ c], a21 = a[2 &* n &+ c &+ 1], a30 = a[3 &* n &+ c], a31 = a[3 &* n &+ c &+ 1]
                            let w0 = c &* k &* 4, w1 = w0 &+ k &* 4
                            var o = kc
                            let prefetch = c == 0 && ahead
                            while o < end {
                                if prefetch && o & 63 == 0 { prefetchLine(o) }
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
                                o &+= step
                            }
                            a[c] = a00; a[c &+ 1] = a01; a[n &+ c] = a10; a[n &+ c &+ 1] = a11
                            a[2 &* n &+ c] = a20; a[2 &* n &+ c &+ 1] = a21; a[3 &* n &+ c] = a30; a[3 &* n &+ c &+ 1] = a31
                            c &+= 2
                            continue
                        }
                        do {
                            let w0 = c &* k &* 4
                            var b0 = a[c], b1 = a[n &+ c], b2 = a[2 &* n &+ c], b3 = a[3 &* n &+ c]
                            var o = kc
                            while o < end {
                                let v = rw.loadUnaligned(fromByteOffset: w0 &+ o, as: V.self)
                                b0.addProduct(p0.loadUnaligned(fromByteOffset: o, as: V.self), v)
                                b1.addProduct(p1.loadUnaligned(fromByteOffset: o, as: V.self), v)
                                b2.addProduct(p2.loadUnaligned(fromByteOffset: o, as: V.self), v)
                                b3.addProduct(p3.loadUnaligned(fromByteOffset: o, as: V.self), v)
                                o &+= step
                            }
                            a[c] = b0; a[n &+ c] = b1; a[2 &* n &+ c] = b2; a[3 &* n &+ c] = b3
                            c &+= 1
                        }
                    }
                    kc = end
                }
                for q in 0..<4 {
                    let x = rows[r &+ q]
                    for c in 0..<n {
                        var s = total(a[q &* n &+ c])
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
    /// unless `accumulate`): the weight gradient of one block of rows. A strip of two vectors of
    /// columns (32 with `wide`'s 512-bit vectors, else 16) of five outputs' gradients (10
    /// vectors) stays in registers across every row of the range, so
    /// gT is read and written once a strip, not once every few rows (for 10 outputs it is 30 KB,
    /// and rewriting it every 4 rows was bound by L2 bandwidth). Each value is summed over the
    /// rows in order, one fused multiply-add a row.
    public static func weightGradient(rows: UnsafePointer<UnsafePointer<Float>>, k: Int, dy: UnsafePointer<Float>, n: Int,
                                      gT: UnsafeMutablePointer<Float>, range: Range<Int>, accumulate: Bool = false,
                                      wide: Bool = CPUFeatures.avx512) {
        if !accumulate { gT.update(repeating: 0, count: n &* k) }
        guard !range.isEmpty else { return }
        // Strips of 32 columns in 512-bit vectors where there are 32 registers, then of 16 in
        // 256-bit ones. Each value is summed over the rows in order whatever the strip, so the
        // result does not depend on the width.
        var j = wide ? gradientStrips(SIMD16<Float>.self, rows: rows, k: k, dy: dy, n: n, gT: gT, range: range, from: 0) : 0
        j = gradientStrips(SIMD8<Float>.self, rows: rows, k: k, dy: dy, n: n, gT: gT, range: range, from: j)
        // The last columns, fewer than 16: one value at a time, each summed over the rows in order.
        while j < k {
            for c in 0..<n {
                var s = gT[c &* k &+ j]
                for r in range { s = s.addingProduct(dy[r &* n &+ c], rows[r][j]) }
                gT[c &* k &+ j] = s
            }
            j &+= 1
        }
    }

    /// The sum of a vector's lanes as a tree (halves added, then their halves): 4 dependent adds
    /// for 16 lanes, where `sum()` adds them one after another (15).
    @inline(__always)
    static func total<V: SIMD>(_ v: V) -> Float where V.Scalar == Float {
        if V.self == SIMD16<Float>.self {
            let h = unsafeBitCast(v, to: SIMD16<Float>.self)
            let e = h.lowHalf + h.highHalf, q = e.lowHalf + e.highHalf, d = q.lowHalf + q.highHalf
            return d[0] + d[1]
        }
        if V.self == SIMD8<Float>.self {
            let e = unsafeBitCast(v, to: SIMD8<Float>.self)
            let q = e.lowHalf + e.highHalf, d = q.lowHalf + q.highHalf
            return d[0] + d[1]
        }
        return v.sum()
    }

    /// The weight gradient's strips of two vectors of columns from column `j`, while a whole
    /// strip fits; returns the first column left.
    @inline(__always)
    static func gradientStrips<V: SIMD>(_: V.Type, rows: UnsafePointer<UnsafePointer<Float>>, k: Int, dy: UnsafePointer<Float>, n: Int,
                                        gT: UnsafeMutablePointer<Float>, range: Range<Int>, from start: Int) -> Int where V.Scalar == Float {
        let g = UnsafeMutableRawPointer(gT)
        let stride = k &* 4, width = V.scalarCount, half = MemoryLayout<V>.size
        var j = start
        while j &+ 2 &* width <= k {
            let o = j &* 4
            var c = 0
            while c &+ 5 <= n {
                let g0 = c &* stride &+ o, g1 = g0 &+ stride, g2 = g1 &+ stride, g3 = g2 &+ stride, g4 = g3 &+ stride
                var a00 = g.loadUnaligned(fromByteOffset: g0, as: V.self), a01 = g.loadUnaligned(fromByteOffset: g0 &+ half, as: V.self)
                var a10 = g.loadUnaligned(fromByteOffset: g1, as: V.self), a11 = g.loadUnaligned(fromByteOffset: g1 &+ half, as: V.self)
                var a20 = g.loadUnaligned(fromByteOffset: g2, as: V.self), a21 = g.loadUnaligned(fromByteOffset: g2 &+ half, as: V.self)
                var a30 = g.loadUnaligned(fromByteOffset: g3, as: V.self), a31 = g.loadUnaligned(fromByteOffset: g3 &+ half, as: V.self)
                var a40 = g.loadUnaligned(fromByteOffset: g4, as: V.self), a41 = g.loadUnaligned(fromByteOffset: g4 &+ half, as: V.self)
                for r in range {
                    let x = UnsafeRawPointer(rows[r])
                    let u0 = x.loadUnaligned(fromByteOffset: o, as: V.self), u1 = x.loadUnaligned(fromByteOffset: o &+ half, as: V.self)
                    let d = dy + (r &* n &+ c)
                    var b = V(repeating: d[0])
                    a00.addProduct(u0, b); a01.addProduct(u1, b)
                    b = V(repeating: d[1])
                    a10.addProduct(u0, b); a11.addProduct(u1, b)
                    b = V(repeating: d[2])
                    a20.addProduct(u0, b); a21.addProduct(u1, b)
                    b = V(repeating: d[3])
                    a30.addProduct(u0, b); a31.addProduct(u1, b)
                    b = V(repeating: d[4])
                    a40.addProduct(u0, b); a41.addProduct(u1, b)
                }
                g.storeBytes(of: a00, toByteOffset: g0, as: V.self); g.storeBytes(of: a01, toByteOffset: g0 &+ half, as: V.self)
                g.storeBytes(of: a10, toByteOffset: g1, as: V.self); g.storeBytes(of: a11, toByteOffset: g1 &+ half, as: V.self)
                g.storeBytes(of: a20, toByteOffset: g2, as: V.self); g.storeBytes(of: a21, toByteOffset: g2 &+ half, as: V.self)
                g.storeBytes(of: a30, toByteOffset: g3, as: V.self); g.storeBytes(of: a31, toByteOffset: g3 &+ half, as: V.self)
                g.storeBytes(of: a40, toByteOffset: g4, as: V.self); g.storeBytes(of: a41, toByteOffset: g4 &+ half, as: V.self)
                c &+= 5
            }
            while c < n {
                let g0 = c &* stride &+ o
                var a0 = g.loadUnaligned(fromByteOffset: g0, as: V.self), a1 = g.loadUnaligned(fromByteOffset: g0 &+ half, as: V.self)
                for r in range {
                    let x = UnsafeRawPointer(rows[r])
                    let b = V(repeating: dy[r &* n &+ c])
                    a0.addProduct(x.loadUnaligned(fromByteOffset: o, as: V.self), b)
                    a1.addProduct(x.loadUnaligned(fromByteOffset: o &+ half, as: V.self), b)
                }
                g.storeBytes(of: a0, toByteOffset: g0, as: V.self); g.storeBytes(of: a1, toByteOffset: g0 &+ half, as: V.self)
                c &+= 1
            }
            j &+= 2 &* width
        }
        return j
    }
}
