import DatasetCatalog
import Foundation
import NeuralNet

extension Strategies {
    /// Keeps rows so that a binary label and a binary attribute reach the correlation
    /// `strength` (-1 to 1), with both balanced: the two agreeing cells, (l0, a0) and (l1, a1) in
    /// sorted value order, get x rows each and the two disagreeing cells z rows each, so the
    /// phi coefficient (Pearson correlation of the two, here equal to Cramér's V with a sign) is
    /// (x - z) / (x + z). x and z are as large as the data allows.
    public static func correlate(_ m: Manifest, labelColumn: String, attribute: String, strength: Double, seed: UInt64, file: String) throws -> CurationResult {
        guard (-1...1).contains(strength) else { throw CurationError("--strength must be between -1 and 1") }
        let cells = try Cells(m, by: [labelColumn, attribute], file: file)
        let labels = Array(Set(cells.values.map { $0[0] })).sorted()
        let values = Array(Set(cells.values.map { $0[1] })).sorted()
        guard labels.count == 2, values.count == 2 else {
            throw CurationError("correlate needs a binary label and a binary attribute: '\(labelColumn)' has \(labels.count) values, '\(attribute)' \(values.count)")
        }
        func members(_ l: Int, _ a: Int) -> [Int] {
            cells.values.firstIndex(of: [labels[l], values[a]]).map { cells.members[$0] } ?? []
        }
        let n00 = members(0, 0), n11 = members(1, 1), n01 = members(0, 1), n10 = members(1, 0)
        let bigX = min(n00.count, n11.count), bigZ = min(n01.count, n10.count)
        var x = 0, z = 0
        if strength >= 1 {
            x = bigX
        } else if strength <= -1 {
            z = bigZ
        } else {
            let ratio = (1 + strength) / (1 - strength)   // x / z
            // The largest z with x = ratio z inside the data, then the rounding that lands
            // nearest the target.
            let zReal = min(Double(bigZ), Double(bigX) / ratio)
            let zFloor = Int(zReal.rounded(.down))
            var best: (Double, Int, Int)? = nil
            func consider(_ candidates: [(Int, Int)]) {
                for (xc, zc) in candidates where xc >= 0 && xc <= bigX && zc >= 0 && zc <= bigZ && xc + zc > 0 {
                    let phi = Double(xc - zc) / Double(xc + zc)
                    let score = (abs(phi - strength), -(xc + zc))
                    if best == nil || score < (best!.0, -(best!.1 + best!.2)) { best = (score.0, xc, zc) }
                }
            }
            consider([zFloor, zFloor - 1].flatMap { zc in [(Int((ratio * Double(zc)).rounded(.down)), zc), (Int((ratio * Double(zc)).rounded(.up)), zc)] })
            // And from the other side: the x nearest the ratio, each with the z that fits it best
            // (x = 25 at -0.8 wants z = 225 exactly, which no z-first rounding reaches).
            let xFloor = Int((ratio * zReal).rounded(.down))
            consider([xFloor, xFloor - 1].flatMap { xc in [(xc, Int((Double(xc) / ratio).rounded(.down))), (xc, Int((Double(xc) / ratio).rounded(.up)))] })
            if best == nil {
                // Too strong for the data to give even one row of the smaller side at the ratio:
                // the nearest of one such row beside as many as there are of the other, and the
                // all-agreeing or all-disagreeing extremes.
                consider([(bigX, 0), (0, bigZ), (bigX, 1), (1, bigZ)])
            }
            if let best { (x, z) = (best.1, best.2) }
        }
        guard x + z > 0 else {
            throw CurationError("no rows can be kept for strength \(strength): the agreeing cells have \(bigX) rows to match, the disagreeing \(bigZ)")
        }
        let achieved = Double(x - z) / Double(x + z)
        var warnings: [String] = []
        if abs(achieved - strength) > 0.01 {
            warnings.append(String(format: "the data allows a correlation of %.4f, not %.4f (agreeing cells %d rows each, disagreeing %d)", achieved, strength, x, z))
        }
        var rows: [Int] = []
        for (i, (group, k)) in [(n00, x), (n11, x), (n01, z), (n10, z)].enumerated() {
            var rng = Cells.rng(seed: seed, cell: i, purpose: 0xC0)
            rows += rng.permutation(group.count).prefix(k).map { group[$0] }
        }
        rows.sort()
        let out = m.selecting(rows)
        return CurationResult(manifest: out, cellNames: cells.names, before: cells.sizes, after: countAfter(cells, rows),
                              parameters: [("label", .string(labelColumn)), ("attribute", .string(attribute)), ("strength", .number(strength)),
                                           ("agreeing", .array([.string("\(labelColumn)=\(labels[0]),\(attribute)=\(values[0])"), .string("\(labelColumn)=\(labels[1]),\(attribute)=\(values[1])")]))],
                              asked: [("strength", .number(strength))],
                              achieved: [("strength", .number(achieved)), ("rows", .int(rows.count)), ("agreeing_per_cell", .int(x)), ("disagreeing_per_cell", .int(z))],
                              warnings: warnings)
    }

    /// Sets the share of one group (`group`, values of the `--by` columns joined by commas)
    /// within each value of `within` (or overall), dropping rows of the group or of the others
    /// at random, keeping as many rows as the share allows.
    public static func proportion(_ m: Manifest, by: [String], group: String, share: Double, within: String?, seed: UInt64, file: String) throws -> CurationResult {
        guard (0...1).contains(share) else { throw CurationError("--share must be between 0 and 1") }
        if let within, by.contains(within) { throw CurationError("--within \(within) is also a --by column: the share is set within the other columns' values") }
        let cells = try Cells(m, by: (within.map { [$0] } ?? []) + by, file: file)
        let groupValues = group.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard groupValues.count == by.count else {
            throw CurationError("--group '\(group)' needs one value for each --by column (\(by.joined(separator: ",")))")
        }
        let offset = within == nil ? 0 : 1
        guard cells.values.contains(where: { Array($0[offset...]) == groupValues }) else {
            throw CurationError("no rows have \(zip(by, groupValues).map { "\($0)=\($1)" }.joined(separator: ","))")
        }
        let strata = within == nil ? [""] : Array(Set(cells.values.map { $0[0] })).sorted()
        var rows: [Int] = []
        var achieved: [(String, JSONValue)] = []
        var warnings: [String] = []
        for (s, stratum) in strata.enumerated() {
            var inGroup: [Int] = [], others: [Int] = []
            for (c, v) in cells.values.enumerated() where within == nil || v[0] == stratum {
                if Array(v[offset...]) == groupValues { inGroup += cells.members[c] } else { others += cells.members[c] }
            }
            inGroup.sort()
            others.sort()
            var keepGroup = inGroup.count, keepOthers = others.count
            let current = Double(inGroup.count) / Double(max(1, inGroup.count + others.count))
            // Of the two whole counts either side of the exact one, the one whose share is nearer
            // (2 x 0.6 / 0.4 is 2.9999999999999996 in floating point: 3 is meant).
            func nearest(_ exact: Double, limit: Int, share of: (Int) -> Double) -> Int {
                let low = min(limit, Int(exact.rounded(.down))), high = min(limit, low + 1)
                return abs(of(high) - share) < abs(of(low) - share) - 1e-12 ? high : low
            }
            if share >= 1 {
                keepOthers = 0
            } else if others.isEmpty || inGroup.isEmpty {
                // One side only: no other share is reachable without emptying the stratum.
            } else if current > share {
                keepGroup = nearest(share * Double(others.count) / (1 - share), limit: inGroup.count) { Double($0) / Double($0 + others.count) }
            } else if share > 0 {
                keepOthers = nearest(Double(inGroup.count) * (1 - share) / share, limit: others.count) { Double(inGroup.count) / Double(inGroup.count + $0) }
            }
            var rng = Cells.rng(seed: seed, cell: s, purpose: 0x960)
            rows += rng.permutation(inGroup.count).prefix(keepGroup).map { inGroup[$0] }
            rows += rng.permutation(others.count).prefix(keepOthers).map { others[$0] }
            let got = keepGroup + keepOthers > 0 ? Double(keepGroup) / Double(keepGroup + keepOthers) : 0
            let name = within.map { "\($0)=\(stratum)" } ?? "all"
            achieved.append((name, .object([("share", .number(got)), ("group_rows", .int(keepGroup)), ("other_rows", .int(keepOthers))])))
            if inGroup.isEmpty && share > 0 {
                warnings.append("\(name) has no rows of the group: its share stays 0, not \(share)")
            } else if others.isEmpty && share < 1 {
                warnings.append("\(name) has only rows of the group (\(inGroup.count)): its share stays 1, not \(share)")
            } else if abs(got - share) > 0.01 && keepGroup + keepOthers > 0 {
                warnings.append(String(format: "%@: the data allows a share of %.4f, not %.4f", name, got, share))
            }
        }
        rows.sort()
        let out = m.selecting(rows)
        return CurationResult(manifest: out, cellNames: cells.names, before: cells.sizes, after: countAfter(cells, rows),
                              parameters: [("by", .array(by.map { .string($0) })), ("group", .string(group)), ("share", .number(share)),
                                           ("within", within.map { .string($0) } ?? .null)],
                              asked: [("share", .number(share))], achieved: achieved, warnings: warnings)
    }
}
