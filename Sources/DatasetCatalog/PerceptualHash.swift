import Foundation
import ImageCodecs

/// A 64-bit DCT perceptual hash (pHash, as the `imagehash` package computes it): the image
/// shrunk to 32x32 grey by area averaging, the 8x8 lowest frequencies of its 2-D DCT-II, each
/// bit set where a coefficient exceeds their median. Near-identical images differ in few bits.
public enum PerceptualHash {
    /// cos(pi * (2x + 1) * k / 64): entry x holds the 8 frequencies k = 0..<8.
    static let basis: [SIMD8<Float>] = (0..<32).map { x in
        SIMD8((0..<8).map { k in Float(cos(Double.pi * Double(2 * x + 1) * Double(k) / 64)) })
    }

    /// The hash alone.
    public static func hash(_ image: Image) -> UInt64 { fingerprint(image).hash }

    /// The hash and a 16x16 grey thumbnail (2x2 means of the 32x32 grey image, rounded), which
    /// confirms near duplicates: a 64-bit hash of low frequencies alone calls many merely similar
    /// pictures (two plain shirts) the same.
    /// - Complexity: O(pixels) for the shrink, then 1,280 8-wide multiply-adds. Scans call it once
    ///   an image, so it allocates only the thumbnail: the grey plane, the row transforms and the
    ///   coefficients live on the stack, four rows' dot products run side by side (each keeps
    ///   its own order of additions), and the median comes from ranks, not a sort.
    public static func fingerprint(_ image: Image) -> (hash: UInt64, thumbnail: [UInt8]) {
        let small = image.width == 32 && image.height == 32 ? image : image.resized(to: PixelSize(width: 32, height: 32))
        var thumbnail = [UInt8](repeating: 0, count: 256)
        var bits: UInt64 = 0
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 1024 + 64) { scratch in
            let grey = scratch.baseAddress!, coefficients = grey + 1024
            small.pixels.withUnsafeBytes { raw in
                // BT.601 grey, 8 pixels at a time: (0.299 r + 0.587 g) + 0.114 b, as the scalar formula rounds.
                var i = 0
                while i < 1024 {
                    let v = raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<UInt32>.self)
                    let r = SIMD8<Float>(v & 0xFF), g = SIMD8<Float>((v &>> 8) & 0xFF), b = SIMD8<Float>((v &>> 16) & 0xFF)
                    let y = (0.299 * r + 0.587 * g) + 0.114 * b
                    UnsafeMutableRawPointer(grey).storeBytes(of: y, toByteOffset: i &* 4, as: SIMD8<Float>.self)
                    i &+= 8
                }
            }
            thumbnail.withUnsafeMutableBufferPointer { thumb in
                for qy in 0..<16 {
                    let top = grey + qy &* 64, bottom = top + 32
                    for qx in 0..<16 {
                        let q = ((top[2 &* qx] + top[2 &* qx &+ 1]) + bottom[2 &* qx]) + bottom[2 &* qx &+ 1]
                        thumb[qy &* 16 &+ qx] = UInt8(min(255, (q / 4).rounded()))
                    }
                }
            }
            basis.withUnsafeBufferPointer { cosines in
                withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 32) { rows in
                    // Rows first, keeping only the 8 lowest frequencies (8 lanes), four rows at once.
                    var y = 0
                    while y < 32 {
                        var a0 = SIMD8<Float>.zero, a1 = a0, a2 = a0, a3 = a0
                        let g0 = grey + y &* 32, g1 = g0 + 32, g2 = g1 + 32, g3 = g2 + 32
                        for x in 0..<32 {
                            let c = cosines[x]
                            a0.addProduct(SIMD8(repeating: g0[x]), c); a1.addProduct(SIMD8(repeating: g1[x]), c)
                            a2.addProduct(SIMD8(repeating: g2[x]), c); a3.addProduct(SIMD8(repeating: g3[x]), c)
                        }
                        rows[y] = a0; rows[y &+ 1] = a1; rows[y &+ 2] = a2; rows[y &+ 3] = a3
                        y &+= 4
                    }
                    // Then columns: all 8 vertical frequencies at once.
                    var acc = (SIMD8<Float>.zero, SIMD8<Float>.zero, SIMD8<Float>.zero, SIMD8<Float>.zero,
                               SIMD8<Float>.zero, SIMD8<Float>.zero, SIMD8<Float>.zero, SIMD8<Float>.zero)
                    for y in 0..<32 {
                        let row = rows[y], c = cosines[y]
                        acc.0.addProduct(row, SIMD8(repeating: c[0])); acc.1.addProduct(row, SIMD8(repeating: c[1]))
                        acc.2.addProduct(row, SIMD8(repeating: c[2])); acc.3.addProduct(row, SIMD8(repeating: c[3]))
                        acc.4.addProduct(row, SIMD8(repeating: c[4])); acc.5.addProduct(row, SIMD8(repeating: c[5]))
                        acc.6.addProduct(row, SIMD8(repeating: c[6])); acc.7.addProduct(row, SIMD8(repeating: c[7]))
                    }
                    let out = UnsafeMutableRawPointer(coefficients)
                    for (k2, v) in [acc.0, acc.1, acc.2, acc.3, acc.4, acc.5, acc.6, acc.7].enumerated() {
                        out.storeBytes(of: v, toByteOffset: k2 &* 32, as: SIMD8<Float>.self)
                    }
                }
            }
            // The median of the 64 coefficients is the mean of sorted[31] and sorted[32]: x is
            // sorted[j] when fewer than j + 1 coefficients are below it and at least j + 1 are at
            // or below it. A difference of two finite floats is negative exactly when the first is
            // smaller (x - x is +0), so its sign bit counts.
            let c = UnsafeRawPointer(coefficients)
            let v0 = c.load(as: SIMD16<Float>.self), v1 = c.load(fromByteOffset: 64, as: SIMD16<Float>.self)
            let v2 = c.load(fromByteOffset: 128, as: SIMD16<Float>.self), v3 = c.load(fromByteOffset: 192, as: SIMD16<Float>.self)
            @inline(__always) func negatives(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ d: SIMD16<Float>, _ e: SIMD16<Float>) -> Int {
                let sum = (unsafeBitCast(a, to: SIMD16<UInt32>.self) &>> 31) &+ (unsafeBitCast(b, to: SIMD16<UInt32>.self) &>> 31)
                    &+ (unsafeBitCast(d, to: SIMD16<UInt32>.self) &>> 31) &+ (unsafeBitCast(e, to: SIMD16<UInt32>.self) &>> 31)
                return Int(sum.wrappedSum())
            }
            var low: Float = 0, high: Float = 0
            for i in 0..<64 {
                let x = coefficients[i], s = SIMD16<Float>(repeating: x)
                let below = negatives(v0 - s, v1 - s, v2 - s, v3 - s)
                let atOrBelow = 64 - negatives(s - v0, s - v1, s - v2, s - v3)
                if below <= 31 && atOrBelow >= 32 { low = x }
                if below <= 32 && atOrBelow >= 33 { high = x }
            }
            let median = (low + high) / 2
            for i in 0..<64 where coefficients[i] > median { bits |= 1 << UInt64(63 - i) }
        }
        return (bits, thumbnail)
    }

    /// Mean absolute difference of two thumbnails, 0 to 255.
    public static func thumbnailDifference(_ a: [UInt8], _ b: [UInt8]) -> Double {
        guard a.count == b.count, !a.isEmpty else { return .infinity }
        var sum = 0
        for i in 0..<a.count { sum += abs(Int(a[i]) - Int(b[i])) }
        return Double(sum) / Double(a.count)
    }

    public static func distance(_ a: UInt64, _ b: UInt64) -> Int { (a ^ b).nonzeroBitCount }
}

/// Groups items whose keys are equal, or whose hashes are within a Hamming distance.
public enum DuplicateFinder {
    /// Groups (of two or more indices) of equal keys, ordered by their first index.
    /// - Complexity: O(n log n): keys are grouped by a 64-bit prefix of their bytes, and only
    ///   keys sharing a prefix are compared whole; no per-key allocation.
    public static func exactGroups(_ keys: [String?]) -> [[Int]] {
        let prefixes = keys.map { key -> UInt64? in
            guard let key, !key.isEmpty else { return nil }
            var prefix: UInt64 = 0, n = 0
            for b in key.utf8 { if n == 8 { break }; prefix = prefix << 8 | UInt64(b); n += 1 }
            return n == 8 ? prefix : prefix << (8 * UInt64(8 - n))
        }
        var groups: [[Int]] = []
        for run in exactGroups(prefixes) {
            var byKey: [String: [Int]] = [:]
            for i in run { byKey[keys[i]!, default: []].append(i) }
            groups += byKey.values.filter { $0.count > 1 }.map { $0.sorted() }
        }
        return groups.sorted { $0[0] < $1[0] }
    }

    /// Groups (of two or more indices) of equal integer keys, ordered by their first index.
    public static func exactGroups(_ keys: [UInt64?]) -> [[Int]] {
        var keyed: [(UInt64, Int)] = []
        keyed.reserveCapacity(keys.count)
        for (i, k) in keys.enumerated() { if let k { keyed.append((k, i)) } }
        keyed.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        var groups: [[Int]] = []
        var s = 0
        while s < keyed.count {
            var e = s + 1
            while e < keyed.count && keyed[e].0 == keyed[s].0 { e += 1 }
            if e - s > 1 { groups.append(keyed[s..<e].map(\.1)) }
            s = e
        }
        return groups.sorted { $0[0] < $1[0] }
    }

    /// Pairs of indices whose hashes differ in at most `maxDistance` bits, found by multi-index
    /// hashing: split into maxDistance + 1 blocks, one of which two such hashes must share.
    /// - Complexity: about O(n + candidate pairs) rather than O(n^2).
    public static func nearPairs(_ hashes: [UInt64?], maxDistance: Int) -> [(Int, Int)] {
        precondition(hashes.count < 1 << 32, "at most 2^32 items")
        let blocks = max(1, min(maxDistance + 1, 16))
        let width = 64 / blocks
        var seen = Set<UInt64>()
        var out: [(Int, Int)] = []
        var keyed: [UInt64] = []
        keyed.reserveCapacity(hashes.count)
        for b in 0..<blocks {
            let shift = UInt64(b * width)
            let bitsHere = b == blocks - 1 ? 64 - b * width : width
            let mask: UInt64 = (1 << UInt64(min(bitsHere, 32))) - 1  // blocks are at most 32 bits wide here
            // Sort (block value, index) packed in one word; equal block values form runs.
            keyed.removeAll(keepingCapacity: true)
            for (i, h) in hashes.enumerated() { if let h { keyed.append(((h >> shift) & mask) << 32 | UInt64(i)) } }
            keyed.sort()
            var runStart = 0
            while runStart < keyed.count {
                var runEnd = runStart + 1
                while runEnd < keyed.count && keyed[runEnd] >> 32 == keyed[runStart] >> 32 { runEnd += 1 }
                if runEnd - runStart > 1 {
                    for x in runStart..<runEnd {
                        let i = Int(keyed[x] & 0xFFFF_FFFF)
                        for y in (x + 1)..<runEnd {
                            let j = Int(keyed[y] & 0xFFFF_FFFF)
                            guard PerceptualHash.distance(hashes[i]!, hashes[j]!) <= maxDistance else { continue }
                            if seen.insert(UInt64(i) << 32 | UInt64(j)).inserted { out.append((i, j)) }
                        }
                    }
                }
                runStart = runEnd
            }
        }
        return out.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
    }

    /// Connected components (of two or more) over `count` items joined by `pairs`, each sorted,
    /// ordered by their smallest member.
    public static func clusters(count: Int, pairs: [(Int, Int)]) -> [[Int]] {
        var parent = Array(0..<count)
        func find(_ x: Int) -> Int {
            var x = x
            while parent[x] != x { parent[x] = parent[parent[x]]; x = parent[x] }
            return x
        }
        for (a, b) in pairs {
            let ra = find(a), rb = find(b)
            if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
        }
        var size = [Int](repeating: 0, count: count)
        for i in 0..<count { size[find(i)] += 1 }
        var slot = [Int](repeating: -1, count: count)
        var groups: [[Int]] = []
        for i in 0..<count {
            let root = find(i)
            guard size[root] > 1 else { continue }
            if slot[root] < 0 { slot[root] = groups.count; groups.append([]) }
            groups[slot[root]].append(i)
        }
        return groups  // members ascending; groups ordered by their smallest member
    }
}
