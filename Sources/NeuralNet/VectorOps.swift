/// Small vector helpers for elementwise kernels. Selections are written as bit masks (the
/// standard library's `replacing(with:where:)` does not become vector code here).
typealias F8 = SIMD8<Float>
typealias U8 = SIMD8<UInt32>

@inline(__always) func load8(_ p: UnsafePointer<Float>) -> F8 {
    UnsafeRawPointer(p).loadUnaligned(as: F8.self)
}

@inline(__always) func store8(_ v: F8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self)
}

@inline(__always) func bits(_ v: F8) -> U8 { unsafeBitCast(v, to: U8.self) }
@inline(__always) func float8(_ u: U8) -> F8 { unsafeBitCast(u, to: F8.self) }

/// All ones where a == b.
@inline(__always) func equalMask(_ a: F8, _ b: F8) -> U8 {
    unsafeBitCast(a .== b, to: U8.self)
}

/// All ones where a > 0.
@inline(__always) func positiveMask(_ a: F8) -> U8 {
    unsafeBitCast(a .> F8(), to: U8.self)
}

/// v where mask is set, else 0.
@inline(__always) func keep(_ v: F8, _ mask: U8) -> F8 { float8(bits(v) & mask) }

/// out[i] = y[i] > 0 ? g[i] : 0 for i in 0..<n.
@inline(__always) func reluGradient(_ y: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    while i + 8 <= n {
        store8(keep(load8(g + i), positiveMask(load8(y + i))), out + i)
        i += 8
    }
    while i < n {
        out[i] = y[i] > 0 ? g[i] : 0
        i += 1
    }
}

/// sums[j] += sum over rows of m[r * columns + j] (rows in order).
@inline(__always) func addColumnSums(_ m: UnsafePointer<Float>, rows: Int, columns: Int, into sums: UnsafeMutablePointer<Float>) {
    if columns % 8 == 0 && columns <= 128 {
        var acc = [F8](repeating: F8(), count: columns / 8)
        acc.withUnsafeMutableBufferPointer { a in
            for r in 0..<rows {
                let row = m + r * columns
                for v in 0..<(columns / 8) { a[v] += load8(row + v * 8) }
            }
            for v in 0..<(columns / 8) { store8(load8(sums + v * 8) + a[v], sums + v * 8) }
        }
    } else {
        for r in 0..<rows {
            for j in 0..<columns { sums[j] += m[r * columns + j] }
        }
    }
}
