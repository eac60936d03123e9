import DatasetCatalog
import Foundation
import Testing
@testable import Curation

@Suite struct StrategyTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures/audit").path
    func load(_ name: String) throws -> (Manifest, String) {
        let path = Self.folder + "/\(name).csv"
        return (try ManifestReader.read(path), path)
    }

    /// Every output row is a copy of the input row its source_row names.
    func checkSourceRows(_ input: Manifest, _ output: Manifest, sourceLocation: SourceLocation = #_sourceLocation) {
        let sources = output.column("source_row")!.map { Int($0)! }
        for column in input.columns where column != "weight" && column != "source_row" {
            let a = input.column(column)!, b = output.column(column)!
            for (i, s) in sources.enumerated() where a[s] != b[i] {
                Issue.record("row \(i): \(column) \(b[i]) but source row \(s) has \(a[s])", sourceLocation: sourceLocation)
                return
            }
        }
    }

    @Test func undersampleAndOversampleCounts() throws {
        let (m, path) = try load("multi_empty")
        let cells = try Cells(m, by: ["label", "attr"], file: path)
        let under = try Strategies.undersample(m, cells: cells, perCell: nil, seed: 1)
        #expect(Set(under.after) == [cells.sizes.min()!])
        #expect(under.manifest.count == cells.sizes.min()! * cells.names.count)
        checkSourceRows(m, under.manifest)
        #expect(Set(under.manifest.column("source_row")!).count == under.manifest.count)   // without replacement
        let over = try Strategies.oversample(m, cells: cells, perCell: nil, seed: 1)
        #expect(Set(over.after) == [cells.sizes.max()!])
        checkSourceRows(m, over.manifest)
        let fixed = try Strategies.undersample(m, cells: cells, perCell: 20, seed: 1)
        #expect(fixed.after == cells.sizes.map { min($0, 20) })
        #expect(fixed.warnings.count == cells.sizes.filter { $0 < 20 }.count)
    }

    @Test func absurdTargetsAreRefusedBeforeAnyRowIsDrawn() throws {
        let (m, path) = try load("multiclass")
        let cells = try Cells(m, by: ["label", "attr"], file: path)
        #expect { try Strategies.oversample(m, cells: cells, perCell: 1_000_000_000, seed: 0) } throws: {
            "\($0)".contains("rows per cell would make") && "\($0)".contains("over the limit of 100000000")
        }
        #expect(throws: CurationError.self) { try Strategies.oversample(m, cells: cells, perCell: 0, seed: 0) }
        #expect(throws: CurationError.self) { try Strategies.undersample(m, cells: cells, perCell: -3, seed: 0) }
    }

    @Test func oversampleCarriesWeights() throws {
        let (m, path) = try load("multi_weighted")
        let over = try Strategies.oversample(m, cells: Cells(m, by: ["label", "attr"], file: path), perCell: nil, seed: 3)
        let w = m.weights
        for (i, s) in over.manifest.column("source_row")!.enumerated() {
            #expect(over.manifest.weights[i] == w[Int(s)!])
        }
    }

    @Test func reweighingEqualisesEveryGroupsLabelRate() throws {
        for name in ["binary_weighted", "multi_weighted", "multiclass"] {
            let (m, path) = try load(name)
            let r = try Strategies.reweight(m, cells: Cells(m, by: ["label", "attr"], file: path), method: .reweighing, labelColumn: "label")
            let out = r.manifest
            let w = out.weights, labels = out.column("label")!, attrs = out.column("attr")!
            let total = w.reduce(0, +)
            #expect(abs(total - m.weights.reduce(0, +)) < 1e-6)
            // P_w(y | a) equals P_w(y) for every a and y, as AIF360's Reweighing makes it.
            for y in Set(labels) {
                let overall = zip(w, labels).filter { $0.1 == y }.reduce(0) { $0 + $1.0 } / total
                for a in Set(attrs) {
                    let inA = (0..<out.count).filter { attrs[$0] == a }
                    let rate = inA.filter { labels[$0] == y }.reduce(0.0) { $0 + w[$1] } / inA.reduce(0.0) { $0 + w[$1] }
                    #expect(abs(rate - overall) < 1e-9, "\(name): P(\(y) | \(a)) = \(rate), P(\(y)) = \(overall)")
                }
            }
        }
    }

    @Test func groupBalancedAndSqrtWeights() throws {
        let (m, path) = try load("binary")
        let cells = try Cells(m, by: ["label", "attr"], file: path)
        let gb = try Strategies.reweight(m, cells: cells, method: .groupBalanced, labelColumn: "label")
        let sums = cellSums(gb.manifest, cells)
        #expect(sums.allSatisfy { abs($0 - sums[0]) < 1e-9 })
        let sq = try Strategies.reweight(m, cells: cells, method: .sqrt, labelColumn: "label")
        let s2 = cellSums(sq.manifest, cells)
        // Each cell's total is proportional to sqrt(n_g).
        let ratio = cells.sizes.enumerated().map { s2[$0.offset] / Double($0.element).squareRoot() }
        #expect(ratio.allSatisfy { abs($0 - ratio[0]) < 1e-9 })
    }

    func cellSums(_ out: Manifest, _ cells: Cells) -> [Double] {
        var sums = [Double](repeating: 0, count: cells.names.count)
        for (i, s) in out.column("source_row")!.enumerated() { sums[Int(cells.cellOfRow[Int(s)!])] += out.weights[i] }
        return sums
    }

    @Test(arguments: [-1.0, -0.6, -0.25, 0, 0.3, 0.5, 0.9, 1])
    func correlateHitsItsTarget(strength: Double) throws {
        let (m, path) = try load("binary")
        let r = try Strategies.correlate(m, labelColumn: "label", attribute: "attr", strength: strength, seed: 4, file: path)
        // The phi coefficient of the output, computed from its rows.
        let labels = r.manifest.column("label")!, attrs = r.manifest.column("attr")!
        let y = labels.map { $0 == "1" ? 1.0 : 0 }, a = attrs.map { $0 == "b" ? 1.0 : 0 }
        let n = Double(y.count)
        let my = y.reduce(0, +) / n, ma = a.reduce(0, +) / n
        let cov = zip(y, a).reduce(0.0) { $0 + ($1.0 - my) * ($1.1 - ma) } / n
        let phi = cov / ((my * (1 - my)) * (ma * (1 - ma))).squareRoot()
        #expect(abs(phi - strength) <= 0.01, "strength \(strength): achieved \(phi)")
        checkSourceRows(m, r.manifest)
        #expect(r.warnings.isEmpty)
    }

    @Test("a strength the data can give exactly is given exactly: -0.8 keeps 25 agreeing and 225 disagreeing rows a cell, not 226")
    func correlateExactWhenPossible() throws {
        let (m, path) = try load("binary")
        let r = try Strategies.correlate(m, labelColumn: "label", attribute: "attr", strength: -0.8, seed: 1, file: path)
        // The disagreeing cells hold 227 and 515 rows, the agreeing 321 and 137: x / z = 1 / 9.
        #expect(r.after.sorted() == [25, 25, 225, 225], "\(r.after)")
        #expect(r.manifest.count == 500)
    }

    @Test("a strength too strong for one disagreeing row at its ratio is come as near as the data allows")
    func correlateTooStrong() throws {
        let (m, path) = try load("binary")
        // The agreeing cells have 137 rows to match: 0.99 needs 199 agreeing rows a disagreeing one.
        let r = try Strategies.correlate(m, labelColumn: "label", attribute: "attr", strength: 0.99, seed: 4, file: path)
        let labels = r.manifest.column("label")!, attrs = r.manifest.column("attr")!
        let agree = zip(labels, attrs).filter { ($0 == "0") == ($1 == "a") }.count
        #expect(agree == 2 * 137 && r.manifest.count == 2 * 137 + 2)
        // 136 / 138 = 0.9855, within the 0.01 that needs no warning.
        #expect(r.warnings.isEmpty)
        // 0.9999 is nearer 1 (all agreeing) than 0.9855.
        let all = try Strategies.correlate(m, labelColumn: "label", attribute: "attr", strength: 0.9999, seed: 4, file: path)
        #expect(all.manifest.count == 2 * 137 && all.warnings.isEmpty)
        checkSourceRows(m, r.manifest)
    }

    @Test("ffr: every stage's source_row names the input's row, wherever the real and synthetic rows lie", arguments: [Strategies.Stage2.asIs, .balanced, .reweighted])
    func ffrSourceRows(stage2: Strategies.Stage2) throws {
        var m = Manifest(columns: ["path", "label", "origin"], baseDirectory: "/data")
        for (i, (label, origin)) in [("0", "synthetic"), ("1", "synthetic"), ("0", "real"), ("0", "synthetic"), ("1", "real"), ("1", "synthetic"), ("0", "real")].enumerated() {
            m.append(cells: ["\(i).png", label, origin])
        }
        let (s1, s2) = try Strategies.ffr(m, by: ["label"], pool: nil, stage2: stage2, seed: 3, file: "f.csv")
        checkSourceRows(m, s1.manifest)
        checkSourceRows(m, s2.manifest)
        #expect(Set(s1.manifest.column("origin")!) == ["synthetic"] && Set(s2.manifest.column("origin")!) == ["real"])
        #expect(Set(s2.manifest.column("source_row")!.map { Int($0)! }).isSubset(of: [2, 4, 6]))
        if stage2 == .asIs { #expect(s2.manifest.column("source_row")! == ["2", "4", "6"]) }
    }

    @Test func proportionSetsTheShare() throws {
        let (m, path) = try load("binary")
        for share in [0.01, 0.05, 0.2, 0.5] {
            let r = try Strategies.proportion(m, by: ["attr"], group: "b", share: share, within: "label", seed: 2, file: path)
            let labels = r.manifest.column("label")!, attrs = r.manifest.column("attr")!
            for y in ["0", "1"] {
                let rows = (0..<r.manifest.count).filter { labels[$0] == y }
                let got = Double(rows.filter { attrs[$0] == "b" }.count) / Double(rows.count)
                #expect(abs(got - share) <= 0.01, "share \(share) in label \(y): \(got)")
            }
        }
    }

    /// Hand-counted cases: the nearest whole counts, and a stratum the share cannot touch kept whole.
    @Test func proportionRoundsToTheNearestShareAndNeverEmptiesAStratum() throws {
        func manifest(_ rows: [(String, String)]) -> Manifest {
            Manifest(columns: ["path", "label", "tint"], cells: [rows.indices.map { "\($0).png" }, rows.map(\.0), rows.map(\.1)], baseDirectory: "/")
        }
        // 2 group rows and 10 others at share 0.4: 3 others (2/5 exactly; 2 x 0.6 / 0.4 is 2.9999999999999996).
        let twelve = manifest(Array(repeating: ("0", "r"), count: 2) + Array(repeating: ("0", "b"), count: 10))
        let r = try Strategies.proportion(twelve, by: ["tint"], group: "r", share: 0.4, within: nil, seed: 0, file: "m.csv")
        #expect(r.manifest.count == 5 && r.warnings.isEmpty)
        // 40 group rows and 10 others at share 0.09: 1 group row (1/11 = 0.091), not 0.
        let fifty = manifest(Array(repeating: ("0", "r"), count: 40) + Array(repeating: ("0", "b"), count: 10))
        let s = try Strategies.proportion(fifty, by: ["tint"], group: "r", share: 0.09, within: nil, seed: 0, file: "m.csv")
        #expect(s.manifest.column("tint")!.filter { $0 == "r" }.count == 1)
        let t = try Strategies.proportion(fifty, by: ["tint"], group: "r", share: 0.28, within: nil, seed: 0, file: "m.csv")
        #expect(t.manifest.column("tint")!.filter { $0 == "r" }.count == 4)  // 4/14 = 0.286 is nearer 0.28 than 3/13 = 0.231
        // A label whose rows are all in the group keeps them (and says so) rather than losing the class.
        let mixed = manifest(Array(repeating: ("cat", "r"), count: 4) + Array(repeating: ("dog", "r"), count: 2) + Array(repeating: ("dog", "b"), count: 4))
        let u = try Strategies.proportion(mixed, by: ["tint"], group: "r", share: 0.5, within: "label", seed: 0, file: "m.csv")
        #expect(u.manifest.column("label")!.filter { $0 == "cat" }.count == 4)
        #expect(u.warnings == ["label=cat has only rows of the group (4): its share stays 1, not 0.5"])
        #expect(throws: CurationError.self) { try Strategies.proportion(mixed, by: ["tint"], group: "r", share: 0.5, within: "tint", seed: 0, file: "m.csv") }
    }

    @Test func splitCountsEachCellsOwnRows() throws {
        // One image named by five rows of a and one of b: all six go where the image goes.
        let paths = Array(repeating: "same.png", count: 5) + (1...9).map { "b\($0).png" } + ["same.png"]
        let labels = Array(repeating: "a", count: 5) + Array(repeating: "b", count: 10)
        let m = Manifest(columns: ["path", "label"], cells: [paths, labels], baseDirectory: "/")
        let r = try Splitter.split(m, cells: try Cells(m, by: ["label"], file: "m.csv"), ratios: [0.8, 0.1, 0.1], seed: 0, duplicateClusters: [])
        let a = r.cellNames.firstIndex(of: "label=a")!, b = r.cellNames.firstIndex(of: "label=b")!
        #expect(r.counts[a].reduce(0, +) == 5 && r.counts[b].reduce(0, +) == 10)
        for (s, out) in r.manifests.enumerated() {
            let l = out.column("label")!
            #expect(l.filter { $0 == "a" }.count == r.counts[a][s] && l.filter { $0 == "b" }.count == r.counts[b][s])
        }
    }

    @Test func injectRefusesMarksThatWouldOverwriteAndStrengthsOutOfRange() throws {
        let (m, path) = try load("binary")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("curate-inject-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for mark in ["path", "label", "attr", "weight", ""] {
            #expect(throws: CurationError.self) {
                try Strategies.inject(m, injection: .patch(size: 2, colour: SIMD3(255, 0, 255), position: .centre), fraction: 0.1, group: nil,
                                      labelColumn: "label", markColumn: mark, imageDir: dir, seed: 0)
            }
        }
        for strength: Float in [1.5, -0.1, .nan] {
            #expect(throws: CurationError.self) {
                try Strategies.inject(m, injection: .tint(colour: SIMD3(255, 0, 0), strength: strength), fraction: 0.1, group: nil,
                                      labelColumn: "label", markColumn: "injected", imageDir: dir, seed: 0)
            }
        }
        #expect(!FileManager.default.fileExists(atPath: dir), "\(path): nothing is written before the options are checked")
    }

    @Test func aFailedAugmentOrInjectLeavesNoImages() throws {
        let (m, _) = try load("binary")  // its img/*.png do not exist: the first decode fails
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("curate-staged-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: CurationError.self) {
            try Strategies.augment(m, cells: Cells(m, by: ["label", "attr"], file: "m.csv"), fill: .largest, pool: nil, transforms: [.flip],
                                   imageDir: dir + "/aug", seed: 0)
        }
        #expect(throws: CurationError.self) {
            try Strategies.inject(m, injection: .patch(size: 2, colour: SIMD3(0, 255, 0), position: .centre), fraction: 0.5, group: nil,
                                  labelColumn: "label", markColumn: "injected", imageDir: dir + "/inj", seed: 0)
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/aug") && !FileManager.default.fileExists(atPath: dir + "/inj"))
        #expect((try? FileManager.default.contentsOfDirectory(atPath: dir))?.isEmpty ?? true)
    }

    @Test func sameSeedSameBytesOtherSeedOtherRows() throws {
        let (m, path) = try load("binary")
        let cells = try Cells(m, by: ["label", "attr"], file: path)
        let a = ManifestWriter.csv(try Strategies.undersample(m, cells: cells, perCell: nil, seed: 5).manifest)
        let b = ManifestWriter.csv(try Strategies.undersample(m, cells: cells, perCell: nil, seed: 5).manifest)
        let c = ManifestWriter.csv(try Strategies.undersample(m, cells: cells, perCell: nil, seed: 6).manifest)
        #expect(a == b && a != c)
    }

    @Test func badInputIsAClearError() throws {
        let (m, path) = try load("multiclass")
        #expect(throws: CurationError.self) { try Cells(m, by: ["race"], file: path) }
        do {
            _ = try Strategies.correlate(m, labelColumn: "label", attribute: "attr", strength: 0.5, seed: 0, file: path)
            Issue.record("no error")
        } catch let e as CurationError {
            #expect(e.description.contains("needs a binary label and a binary attribute"))
        }
        let blank = Manifest(columns: ["path", "label", "g"], cells: [["a", "b"], ["x", "y"], ["f", ""]], baseDirectory: "/tmp")
        do {
            _ = try Cells(blank, by: ["g"], file: "m.csv")
            Issue.record("no error")
        } catch let e as CurationError {
            #expect(e.description == "m.csv: row 2 has no value for 'g' (an empty cell is unknown; drop or tag such rows first)")
        }
        // Read from a file, a row is named by the line it starts on: after a quoted field over two
        // lines in CSV, and after a blank line in JSON Lines (which has no header line).
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cells-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "path,label,g\na.png,\"x\ny\",f\nc.png,y,\n".write(toFile: dir + "/m.csv", atomically: true, encoding: .utf8)
        let csv = try ManifestReader.read(dir + "/m.csv")
        #expect(csv.sourceLines == [2, 4])
        #expect(throws: CurationError.self) { try Cells(csv, by: ["g"], file: "m.csv") }
        do { _ = try Cells(csv, by: ["g"], file: "m.csv") } catch let e as CurationError { #expect(e.description.hasPrefix("m.csv: line 4 has no value")) }
        try "{\"path\": \"a.png\", \"g\": \"f\"}\n\n{\"path\": \"b.png\", \"g\": \"\"}\n".write(toFile: dir + "/m.jsonl", atomically: true, encoding: .utf8)
        let jsonl = try ManifestReader.read(dir + "/m.jsonl")
        #expect(jsonl.sourceLines == [1, 3] && jsonl.place(1) == "line 3")
    }
}

@Suite struct SplitTests {
    @Test func stratifiedWithinOneRowAndEveryCellInTrain() throws {
        let (m, path) = try StrategyTests().load("multi_empty")
        let cells = try Cells(m, by: ["label", "attr"], file: path)
        let r = try Splitter.split(m, cells: cells, ratios: [0.7, 0.2, 0.1], seed: 1, duplicateClusters: [])
        for (c, n) in cells.sizes.enumerated() {
            #expect(r.counts[c].reduce(0, +) == n)
            for (s, ratio) in [0.7, 0.2, 0.1].enumerated() { #expect(abs(Double(r.counts[c][s]) - ratio * Double(n)) < 1) }
            #expect(r.counts[c][0] > 0)
        }
        #expect(r.manifests.map(\.count).reduce(0, +) == m.count)
        #expect(r.manifests[1].column("split")!.allSatisfy { $0 == "val" })
    }

    @Test func duplicatesAreNeverSplit() throws {
        // 60 rows over 20 files (each file named 3 times), and clusters joining files 0-1 and 2-3-4.
        var cells: [[String]] = [[], [], []]
        for i in 0..<60 {
            cells[0].append("img/\(i % 20).png")
            cells[1].append(i % 2 == 0 ? "cat" : "dog")
            cells[2].append(i % 3 == 0 ? "f" : "m")
        }
        let m = Manifest(columns: ["path", "label", "g"], cells: cells, baseDirectory: "/data")
        let clusters = [["/data/img/0.png", "/data/img/1.png"], ["/data/img/2.png", "/data/img/3.png", "/data/img/4.png"]]
        for seed: UInt64 in 0..<5 {
            let r = try Splitter.split(m, cells: Cells(m, by: ["label"], file: "m.csv"), ratios: [0.6, 0.2, 0.2], seed: seed, duplicateClusters: clusters)
            var splitOf: [String: String] = [:]
            for out in r.manifests {
                for (p, s) in zip(out.column("path")!, out.column("split")!) {
                    #expect(splitOf[p] == nil || splitOf[p] == s, "\(p) in two splits")
                    splitOf[p] = s
                }
            }
            #expect(splitOf["img/0.png"] == splitOf["img/1.png"])
            #expect(splitOf["img/2.png"] == splitOf["img/3.png"] && splitOf["img/3.png"] == splitOf["img/4.png"])
        }
    }

    @Test func largestRemainder() {
        #expect(Splitter.largestRemainder(10, [0.8, 0.1, 0.1]) == [8, 1, 1])
        #expect(Splitter.largestRemainder(7, [0.8, 0.1, 0.1]) == [5, 1, 1])   // 5.6, 0.7, 0.7: the two .7s get the rest
        #expect(Splitter.largestRemainder(1, [0.1, 0.45, 0.45]) == [1, 0, 0])
        #expect(Splitter.largestRemainder(0, [0.8, 0.1, 0.1]) == [0, 0, 0])
    }
}

@Suite struct BenchmarkShareTests {
    /// The nearest whole number of n, kept off 0 and n unless the share is 0 or 1.
    @Test func usualCountsByHand() {
        // The default sizes: 95% and 50% of 400, 80% and 5% of 400: exact.
        #expect(BiasBenchmarks.usualCount(400, share: 0.95) == 380)
        #expect(BiasBenchmarks.usualCount(400, share: 0.5) == 200)
        #expect(BiasBenchmarks.usualCount(400, share: 0.8) == 320)
        #expect(BiasBenchmarks.usualCount(400, share: 0.05) == 20)
        // 15.2 of 16 is 15; 9.5 of 10 would round to 10, but a 95% share keeps one other.
        #expect(BiasBenchmarks.usualCount(16, share: 0.95) == 15)
        #expect(BiasBenchmarks.usualCount(10, share: 0.95) == 9)
        #expect(BiasBenchmarks.usualCount(10, share: 0.05) == 1)
        #expect(BiasBenchmarks.usualCount(5, share: 0.8) == 4)
        #expect(BiasBenchmarks.usualCount(7, share: 1) == 7 && BiasBenchmarks.usualCount(7, share: 0) == 0)
        // One image cannot hold two values: the nearest.
        #expect(BiasBenchmarks.usualCount(1, share: 0.95) == 1 && BiasBenchmarks.usualCount(1, share: 0.05) == 0)
    }
}
