import Foundation
import ImageCodecs

/// A 64-bit DCT perceptual hash (pHash, as the `imagehash` package computes it): the image
/// shrunk to 32x32 grey by area averaging, the 8x8 lowest frequencies of its 2-D DCT-II, each
/// bit set where a coefficient exceeds their median. Near-identical images differ in few bits.
public enum PerceptualHash {
    /// cos(pi * (2x + 1) * k / 64) for k in 0..<8, x in 0..<32.
    static let basis: [Double] = (0..<8).flatMap { k in (0..<32).map { x in cos(Double.pi * Double(2 * x + 1) * Double(k) / 64) } }

    /// - Complexity: O(pixels) for the shrink, then about 10,000 multiply-adds.
    public static func hash(_ image: Image) -> UInt64 {
        let small = image.width == 32 && image.height == 32 ? image : image.resized(to: PixelSize(width: 32, height: 32))
        var grey = [Double](repeating: 0, count: 1024)
        for i in 0..<1024 {
            grey[i] = 0.299 * Double(small.pixels[i * 4]) + 0.587 * Double(small.pixels[i * 4 + 1]) + 0.114 * Double(small.pixels[i * 4 + 2])
        }
        // Rows first (only the 8 lowest frequencies are needed), then columns.
        var rows = [Double](repeating: 0, count: 32 * 8)
        for y in 0..<32 {
            for k in 0..<8 {
                var s = 0.0
                for x in 0..<32 { s += grey[y * 32 + x] * basis[k * 32 + x] }
                rows[y * 8 + k] = s
            }
        }
        var coefficients = [Double](repeating: 0, count: 64)
        for k2 in 0..<8 {
            for k1 in 0..<8 {
                var s = 0.0
                for y in 0..<32 { s += rows[y * 8 + k1] * basis[k2 * 32 + y] }
                coefficients[k2 * 8 + k1] = s
            }
        }
        let sorted = coefficients.sorted()
        let median = (sorted[31] + sorted[32]) / 2
        var bits: UInt64 = 0
        for (i, c) in coefficients.enumerated() where c > median { bits |= 1 << UInt64(63 - i) }
        return bits
    }

    public static func distance(_ a: UInt64, _ b: UInt64) -> Int { (a ^ b).nonzeroBitCount }
}

/// Groups items whose keys are equal, or whose hashes are within a Hamming distance.
public enum DuplicateFinder {
    /// Groups (of two or more indices) of equal keys, in order of first appearance.
    public static func exactGroups(_ keys: [String?]) -> [[Int]] {
        var byKey: [String: [Int]] = [:]
        var order: [String] = []
        for (i, k) in keys.enumerated() {
            guard let k, !k.isEmpty else { continue }
            if byKey[k] == nil { order.append(k) }
            byKey[k, default: []].append(i)
        }
        return order.compactMap { byKey[$0]!.count > 1 ? byKey[$0]! : nil }
    }

    /// Pairs of indices whose hashes differ in at most `maxDistance` bits, found by multi-index
    /// hashing: split into maxDistance + 1 blocks, one of which two such hashes must share.
    /// - Complexity: about O(n + candidate pairs) rather than O(n^2).
    public static func nearPairs(_ hashes: [UInt64?], maxDistance: Int) -> [(Int, Int)] {
        let blocks = max(1, min(maxDistance + 1, 16))
        let width = 64 / blocks
        var pairs = Set<Int64>()
        var out: [(Int, Int)] = []
        for b in 0..<blocks {
            let shift = UInt64(b * width)
            let bitsHere = b == blocks - 1 ? 64 - b * width : width
            let mask: UInt64 = bitsHere >= 64 ? ~0 : (1 << UInt64(bitsHere)) - 1
            var buckets: [UInt64: [Int]] = [:]
            for (i, h) in hashes.enumerated() { if let h { buckets[(h >> shift) & mask, default: []].append(i) } }
            for (_, members) in buckets where members.count > 1 {
                for x in 0..<members.count {
                    for y in (x + 1)..<members.count {
                        let i = members[x], j = members[y]
                        guard PerceptualHash.distance(hashes[i]!, hashes[j]!) <= maxDistance else { continue }
                        if pairs.insert(Int64(i) << 32 | Int64(j)).inserted { out.append((i, j)) }
                    }
                }
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
        var groups: [Int: [Int]] = [:]
        for i in 0..<count { groups[find(i), default: []].append(i) }
        return groups.values.filter { $0.count > 1 }.sorted { $0[0] < $1[0] }
    }
}
