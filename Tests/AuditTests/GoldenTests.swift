import DatasetCatalog
import Foundation
import Testing
@testable import Audit

/// The audit's numbers against the peer libraries' (fixtures/audit/make_goldens.py: scipy,
/// scikit-learn, fairlearn, AIF360), to a relative 1e-9.
@Suite struct GoldenTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures/audit").path
    nonisolated(unsafe) static let goldens: [String: [String: Any]] = {
        let data = FileManager.default.contents(atPath: folder + "/goldens.json")!
        return try! JSONSerialization.jsonObject(with: data) as! [String: [String: Any]]
    }()

    func audit(_ name: String) throws -> AttributeAudit {
        let path = Self.folder + "/\(name).csv"
        let manifest = try ManifestReader.read(path)
        return try DatasetAudit.run(manifest, path: path, options: AuditOptions(attributes: ["attr"])).attributes[0]
    }

    func close(_ a: Double?, _ b: Any?, _ what: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        if let b = b as? Double, let a, a == b { return }
        guard let b = b as? Double else {
            Issue.record("\(name) \(what): no golden", sourceLocation: sourceLocation)
            return
        }
        guard let a else {
            Issue.record("\(name) \(what): nil, golden \(b)", sourceLocation: sourceLocation)
            return
        }
        let scale = max(abs(b), 1e-300)
        #expect(abs(a - b) / scale <= 1e-9 || abs(a - b) <= 1e-15, "\(name) \(what): \(a) vs golden \(b)", sourceLocation: sourceLocation)
    }

    @Test(arguments: ["binary", "binary_weighted", "multi_empty", "multi_weighted", "multiclass"])
    func associationMatchesScipyAndSklearn(name: String) throws {
        let a = try audit(name)
        let g = Self.goldens[name]!
        close(a.chi2, g["chi2"], "chi2", name)
        #expect(a.dof == g["dof"] as? Int)
        close(a.pValue, g["p_value"], "p_value", name)
        close(a.cramersV, g["cramers_v"], "cramers_v", name)
        close(a.cramersVCorrected, g["cramers_v_corrected"], "cramers_v_corrected", name)
        close(a.mutualInformation, g["mutual_information_nats"], "mutual_information_nats", name)
        close(a.mutualInformationNormalized, g["mutual_information_normalized"], "mutual_information_normalized", name)
        if let sk = g["mutual_information_normalized_sklearn"] { close(a.mutualInformationNormalized, sk, "NMI (sklearn)", name) }
    }

    @Test(arguments: ["binary", "binary_weighted", "multi_empty", "multi_weighted"])
    func parityMatchesFairlearnAndAIF360(name: String) throws {
        let a = try audit(name)
        let g = Self.goldens[name]!
        close(a.statisticalParityDifference, g["statistical_parity_difference"], "statistical_parity_difference", name)
        close(a.disparateImpact, g["disparate_impact"], "disparate_impact", name)
        close(a.smoothedEDF, g["smoothed_edf"], "smoothed_edf", name)
        let reweighing = try #require(g["reweighing"] as? [String: Double])
        #expect(a.reweighing.count == reweighing.count)
        for w in a.reweighing {
            close(w.weight, reweighing["\(w.label!)|\(w.value)"], "reweighing \(w.label!)|\(w.value)", name)
        }
        // The peer script's own figures (fairness_metrics.py) agree too, where it prints them.
        let peer = try #require((g["peer"] as? [String: Any])?["audit"] as? [String: Any])
        if !a.weighted(name) {
            close(a.chi2, peer["chi2"], "peer chi2", name)
            close(a.cramersV, peer["cramers_v"], "peer cramers_v", name)
            close(a.smoothedEDF, peer["smoothed_edf_aif360_classic"], "peer smoothed EDF", name)
        }
    }

    @Test(arguments: ["binary", "multi_empty", "multiclass"])
    func wilsonIntervalsMatchScipy(name: String) throws {
        let a = try audit(name)
        let wilson = try #require(Self.goldens[name]!["wilson"] as? [String: [Double]])
        for group in a.groups {
            let g = try #require(wilson[group.value])
            close(group.wilsonLow, g[0], "wilson low \(group.value)", name)
            close(group.wilsonHigh, g[1], "wilson high \(group.value)", name)
        }
    }

    @Test func emptyCellsAndRatiosByHand() throws {
        let a = try audit("multi_empty")
        #expect(a.emptyCells.map { "\($0.label)|\($0.value)" } == ["1|west"])
        // Group balanced weights: W / (G W_a), mean 1 over rows.
        let n = a.groups.reduce(0.0) { $0 + $1.count }
        let mean = a.groupBalanced.reduce(0.0) { acc, w in acc + w.weight * a.groups.first { $0.value == w.value }!.count } / n
        #expect(abs(mean - 1) < 1e-12)
        let counts = a.groups.map(\.count)
        #expect(a.representationRatio == counts.min()! / counts.max()!)
    }

    /// Six rows: V = 1/3 by hand (chi-square 2/3 on 1 dof, p 0.414), over the high threshold of
    /// 0.3 but not significant: a medium finding that says so, not a high one.
    @Test func weightsThatAllAreZeroAreAnError() {
        let m = Manifest(columns: ["path", "label", "g", "weight"], cells: [["a", "b"], ["0", "1"], ["x", "y"], ["0", "0"]], baseDirectory: "/")
        #expect { _ = try DatasetAudit.run(m, path: "w0.csv", options: AuditOptions(attributes: ["g"])) } throws: {
            "\($0)" == "w0.csv: every row's weight is 0: the weighted counts and shares are undefined"
        }
    }

    @Test func aLargeVOnFewRowsIsNotHigh() throws {
        let m = Manifest(columns: ["path", "label", "g"], cells: [["a", "b", "c", "d", "e", "f"], ["0", "0", "1", "1", "1", "0"], ["x", "y", "x", "y", "y", "x"]], baseDirectory: "/")
        let audit = try DatasetAudit.run(m, path: "six.csv", options: AuditOptions(attributes: ["g"]))
        let v = try #require(audit.attributes[0].cramersV)
        #expect(abs(v - 1.0 / 3) < 1e-12)
        #expect(abs((audit.attributes[0].pValue ?? 0) - 0.41421617824252) < 1e-9)  // scipy.stats.chi2.sf(2/3, 1)
        let finding = try #require(audit.findings.first { $0.kind == "label_association" })
        #expect(finding.severity == .medium && finding.message.contains("not significant at 5%"))
    }

    /// Rows with an unknown (empty) attribute are left out of the measures, and a finding says how
    /// many: high when no row is known (nothing measured), medium from a tenth, else low.
    @Test func unknownAttributeValuesAreAFinding() throws {
        func unknown(_ g: [String]) throws -> Finding? {
            let n = g.count
            let m = Manifest(columns: ["path", "label", "g"], cells: [(0..<n).map { "\($0).png" }, (0..<n).map { String($0 % 2) }, g], baseDirectory: "/")
            return try DatasetAudit.run(m, path: "u.csv", options: AuditOptions(attributes: ["g"])).findings.first { $0.kind == "unknown_values" }
        }
        let all = try #require(try unknown(["", ""]))
        #expect(all.severity == .high && all.message == "g or label is unknown (empty) in all 2 rows: nothing about g can be measured")
        let third = try #require(try unknown(["x", "", "y"]))
        #expect(third.severity == .medium && third.message.contains("in 1 of 3 rows (33.3%)"))
        let few = try #require(try unknown([""] + [String](repeating: "x", count: 19)))
        #expect(few.severity == .low && few.message.contains("in 1 of 20 rows (5.0%)"))
        #expect(try unknown(["x", "y"]) == nil)
    }

    /// An attribute of many values lists at most 20 cell findings of each kind, the most telling
    /// ones, and counts the rest. By hand: value v_i has i+1 rows, all label 0, and w has 100 rows,
    /// all label 1 (465 and 100 rows). Every value has one empty cell: independence expects
    /// 100 * 465/565 = 82.3 rows for (0, w) and (i+1) * 100/565 for (1, v_i), so w and v11...v29
    /// are kept and 11 counted. v_i is (i+1)/465 of label 0, under 5% for v0...v22: the 20
    /// smallest kept, 3 counted.
    @Test func manyValuedAttributesDoNotFloodTheFindings() throws {
        var paths: [String] = [], labels: [String] = [], values: [String] = []
        for i in 0..<30 { for _ in 0...i { paths.append("p\(paths.count)"); labels.append("0"); values.append(String(format: "v%02d", i)) } }
        for _ in 0..<100 { paths.append("p\(paths.count)"); labels.append("1"); values.append("w") }
        let m = Manifest(columns: ["path", "label", "g"], cells: [paths, labels, values], baseDirectory: "/")
        let audit = try DatasetAudit.run(m, path: "many.csv", options: AuditOptions(attributes: ["g"]))
        #expect(audit.attributes[0].emptyCells.count == 31)
        let empty = audit.findings.filter { $0.kind == "empty_cell" }
        let emptyValues = Set(empty.compactMap { f in f.numbers.first { $0.0 == "value" }.flatMap { if case .string(let v) = $0.1 { v } else { nil } } })
        #expect(emptyValues == Set(["w"] + (11...29).map { String(format: "v%02d", $0) }))
        let wExpected = try #require(empty.first { $0.message.contains("= w") })
        #expect(wExpected.message.hasSuffix("(82.3 expected if independent)"))
        let small = audit.findings.filter { $0.kind == "underrepresented_cell" }
        #expect(small.count == 20 && small.allSatisfy { !["v20", "v21", "v22"].contains(where: $0.message.contains) })
        let omitted = audit.findings.filter { $0.kind == "omitted_findings" }
        let counts = omitted.map { f in (f.numbers[0].1, f.numbers[1].1) }
        #expect(counts.count == 2)
        #expect(counts.contains { $0.0 == .string("empty_cell") && $0.1 == .int(11) })
        #expect(counts.contains { $0.0 == .string("underrepresented_cell") && $0.1 == .int(3) })
        // The note comes after the findings of its severity it stands for.
        let firstNote = try #require(audit.findings.firstIndex { $0.kind == "omitted_findings" && $0.severity == .high })
        #expect(audit.findings[..<firstNote].filter { $0.kind == "empty_cell" }.count == 20)
    }

    /// One label, or one value of the attribute: V is undefined (null) and a single_value finding
    /// says so; two of each on the same rows give no such finding.
    @Test func oneLabelOrOneValueIsAFindingNotASilentPass() throws {
        func audit(_ labels: [String], _ values: [String]) throws -> DatasetAudit {
            let m = Manifest(columns: ["path", "label", "g"], cells: [labels.indices.map { "p\($0)" }, labels, values], baseDirectory: "/")
            return try DatasetAudit.run(m, path: "one.csv", options: AuditOptions(attributes: ["g"]))
        }
        let oneLabel = try audit(["1", "1", "1", "1"], ["x", "y", "x", ""])
        #expect(oneLabel.attributes[0].cramersV == nil)
        let f = try #require(oneLabel.findings.first { $0.kind == "single_value" })
        #expect(f.message == "label has one value (1) in all 3 rows with a known g and label: how label goes with g cannot be measured")
        let oneValue = try audit(["1", "0", "1"], ["x", "x", "x"])
        #expect(oneValue.findings.filter { $0.kind == "single_value" }.map(\.message)
                == ["g has one value (x) in all 3 rows with a known g and label: how label goes with g cannot be measured"])
        #expect(try audit(["1", "0", "1", "0"], ["x", "y", "y", "x"]).findings.allSatisfy { $0.kind != "single_value" })
    }
}

extension AttributeAudit {
    func weighted(_ name: String) -> Bool { name.contains("weighted") }
}

/// Prediction fairness against fairlearn's demographic_parity_difference,
/// equalized_odds_difference and MetricFrame TPR / FPR / selection rate, to 1e-9.
@Suite struct PredictionFairnessTests {
    @Test(arguments: ["binary", "binary_weighted", "multi_empty", "multi_weighted"])
    func matchesFairlearn(name: String) throws {
        let path = GoldenTests.folder + "/\(name).csv"
        let m = try ManifestReader.read(path)
        let attrs = m.column("attr")!
        let names = Array(Set(attrs)).sorted()
        let f = PredictionFairness.compute(labels: m.column("label")!.map { $0 == "1" }, predictions: m.column("pred")!.map { $0 == "1" },
                                           groups: attrs.map { names.firstIndex(of: $0)! }, names: names,
                                           weights: m.has("weight") ? m.weights : nil)
        let g = try #require(GoldenTests.goldens[name]?["predictions"] as? [String: Any])
        let check = GoldenTests()
        check.close(f.demographicParityDifference, g["demographic_parity_difference"], "DPD", name)
        check.close(f.equalizedOddsDifference, g["equalized_odds_difference"], "EOD", name)
        let byGroup = try #require(g["by_group"] as? [String: [String: Double]])
        for group in f.groups {
            let gold = try #require(byGroup[group.value])
            check.close(group.truePositiveRate, gold["tpr"], "TPR \(group.value)", name)
            check.close(group.falsePositiveRate, gold["fpr"], "FPR \(group.value)", name)
            check.close(group.selectionRate, gold["selection_rate"], "selection \(group.value)", name)
        }
    }
}
