import DatasetCatalog
import Foundation
import ImageCodecs

/// Aggregates an experiment's cells across seeds: means with 95% t intervals, the inherited
/// bias (a metric fine-tuned from the biased source minus from the clean one) and the curation
/// effect (how much of the no-intervention baseline's inherited bias an intervention removes,
/// in percent).
public enum ExperimentResults {
    public static let metrics = ["overall_accuracy", "balanced_accuracy", "worst_group_accuracy", "accuracy_gap",
                                 "demographic_parity_difference", "equalized_odds_difference", "tpr_gap", "fpr_gap", "flip_rate"]

    /// The robust metrics of a budget of the manifest's attack, named after it as written.
    public static func robustMetrics(_ budget: String) -> (accuracy: String, worstGroup: String) {
        ("robust_accuracy@\(budget)", "worst_group_robust_accuracy@\(budget)")
    }

    /// Every metric of a manifest's cells: the bias metrics, then two per attack budget.
    public static func metrics(_ manifest: ExperimentManifest) -> [String] {
        metrics + (manifest.attack?.budgets ?? []).flatMap { b in [robustMetrics(b).accuracy, robustMetrics(b).worstGroup] }
    }

    /// The pairs of sources that differ only in adversarial training, (standard, robust), that
    /// a manifest runs.
    public static func robustPairs(_ manifest: ExperimentManifest) -> [(standard: String, robust: String)] {
        manifest.sources.compactMap { s in ExperimentManifest.standardCounterpart[s].flatMap { manifest.sources.contains($0) ? ($0, s) : nil } }
    }

    /// Two-sided 95% Student t quantiles for 1 to 30 degrees of freedom.
    static let t95: [Double] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
                                2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]

    /// Mean and the half-width of its 95% interval (nil with one value).
    public static func meanCI(_ xs: [Double]) -> (mean: Double, half: Double?) {
        let n = Double(xs.count)
        let mean = xs.reduce(0, +) / n
        guard xs.count > 1 else { return (mean, nil) }
        let sd = (xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)).squareRoot()
        let t = xs.count - 1 <= 30 ? t95[xs.count - 2] : 1.96
        return (mean, t * sd / n.squareRoot())
    }

    static func stat(_ xs: [Double]) -> JSONValue {
        guard !xs.isEmpty else { return .null }
        let (m, h) = meanCI(xs)
        return .object([("mean", .number(m)), ("ci95_low", .optional(h.map { m - $0 })), ("ci95_high", .optional(h.map { m + $0 })), ("n", .int(xs.count))])
    }

    public struct Cell {
        public var intervention: String, transfer: String, source: String, seed: Int
        public var values: [String: Double]
        public init(intervention: String, transfer: String, source: String, seed: Int, values: [String: Double]) {
            (self.intervention, self.transfer, self.source, self.seed, self.values) = (intervention, transfer, source, seed, values)
        }
    }

    public static func loadCells(_ dir: String) throws -> [Cell] {
        let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/cells").filter { $0.hasSuffix(".json") }.sorted()
        return try files.map { f in
            let path = "\(dir)/cells/\(f)"
            guard let data = FileManager.default.contents(atPath: path) else { throw ExperimentError(path, nil, "cannot read the file") }
            guard let o = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw ExperimentError(path, nil, "not a cell's JSON object (damaged?): delete it and run again to redo the cell")
            }
            var values: [String: Double] = [:]
            for m in metrics { if let v = o[m] as? Double { values[m] = v } else if let v = o[m] as? Int { values[m] = Double(v) } }
            for r in o["robust"] as? [[String: Any]] ?? [] {
                guard let budget = r["epsilon"] as? String else { continue }
                let names = robustMetrics(budget)
                if let v = r["robust_accuracy"] as? NSNumber { values[names.accuracy] = v.doubleValue }
                if let v = r["worst_group_robust_accuracy"] as? NSNumber { values[names.worstGroup] = v.doubleValue }
            }
            return Cell(intervention: o["intervention"] as? String ?? "", transfer: o["transfer"] as? String ?? "", source: o["source"] as? String ?? "",
                        seed: o["seed"] as? Int ?? 0, values: values)
        }
    }

    /// results.json's content.
    public static func summarize(_ manifest: ExperimentManifest, cells: [Cell]) -> JSONValue {
        var summary: [JSONValue] = []
        var inherited: [JSONValue] = []
        var effects: [JSONValue] = []
        var nonRobustness: [JSONValue] = []
        let all = metrics(manifest)
        let values = { (i: String, t: String, s: String, m: String) in seedValues(cells, i, t, s, m) }
        let interventions = manifest.interventions.map(\.name)
        for i in interventions {
            for t in manifest.transfers {
                for s in manifest.sources {
                    summary.append(.object([("intervention", .string(i)), ("transfer", .string(t)), ("source", .string(s))]
                        + all.map { m in (m, stat(values(i, t, s, m).sorted { $0.key < $1.key }.map(\.value))) }))
                }
                for (standard, robust) in robustPairs(manifest) {
                    nonRobustness.append(.object([("intervention", .string(i)), ("transfer", .string(t)), ("standard", .string(standard)), ("robust", .string(robust))]
                        + all.map { m in (m, stat(difference(values(i, t, robust, m), values(i, t, standard, m)))) }))
                }
                if manifest.sources.contains("biased") {
                    let reference = manifest.sources.contains("clean") ? "clean" : "scratch"
                    guard manifest.sources.contains(reference) else { continue }
                    inherited.append(.object([("intervention", .string(i)), ("transfer", .string(t)), ("reference", .string(reference))]
                        + all.map { m in (m, stat(difference(values(i, t, "biased", m), values(i, t, reference, m)))) }))
                    guard i != "none" else { continue }
                    effects.append(.object([("intervention", .string(i)), ("transfer", .string(t))] + metrics.map { m in
                        let bn = values("none", t, "biased", m), cn = values("none", t, reference, m)
                        let bi = values(i, t, "biased", m), ci = values(i, t, reference, m)
                        let per: [Double] = bn.keys.sorted().compactMap { k in
                            guard let c0 = cn[k], let b1 = bi[k], let c1 = ci[k] else { return nil }
                            let base = bn[k]! - c0
                            guard abs(base) > 1e-12 else { return nil }
                            // The share removed, whatever the sign: an accuracy metric's inherited
                            // difference is negative, and removing it is a positive effect.
                            return 100 * (base - (b1 - c1)) / base
                        }
                        return (m, stat(per))
                    }))
                }
            }
        }
        let cellObjects: [JSONValue] = cells.map { c in
            .object([("intervention", .string(c.intervention)), ("transfer", .string(c.transfer)), ("source", .string(c.source)), ("seed", .int(c.seed))]
                + all.map { ($0, .optional(c.values[$0])) })
        }
        return .object([("experiment", .string(manifest.name)), ("manifest", .string(manifest.file)),
                        ("seeds", .array(manifest.seeds.map { .int(Int($0)) })), ("metrics", .array(all.map { .string($0) })),
                        ("summary", .array(summary)), ("inherited_bias", .array(inherited)), ("curation_effect", .array(effects))]
                       + (manifest.attack == nil && robustPairs(manifest).isEmpty ? [] : [("inherited_non_robustness", .array(nonRobustness))])
                       + [("cells", .array(cellObjects))])
    }

    /// One cell's metric by seed, for an intervention, transfer and source.
    static func seedValues(_ cells: [Cell], _ i: String, _ t: String, _ s: String, _ metric: String) -> [Int: Double] {
        var out: [Int: Double] = [:]
        for c in cells where c.intervention == i && c.transfer == t && c.source == s { if let v = c.values[metric] { out[c.seed] = v } }
        return out
    }

    /// a - b, seed by seed, over the seeds both have.
    static func difference(_ a: [Int: Double], _ b: [Int: Double]) -> [Double] {
        a.keys.sorted().compactMap { k in b[k].map { a[k]! - $0 } }
    }

    /// Reads DIR's cells and writes results.json, report.md and report.html; returns the
    /// Markdown and the cells.
    public static func writeReports(_ manifest: ExperimentManifest, outDir: String, target: String) throws -> (markdown: String, cells: [Cell]) {
        // The folder may hold cells of a run with more seeds, interventions, sources or
        // transfers: the reports are of this manifest's matrix only.
        let seeds = Set(manifest.seeds.map { Int($0) }), interventions = Set(manifest.interventions.map(\.name))
        let sources = Set(manifest.sources), transfers = Set(manifest.transfers)
        let cells = try loadCells(outDir).filter {
            seeds.contains($0.seed) && interventions.contains($0.intervention) && sources.contains($0.source) && transfers.contains($0.transfer)
        }
        try AtomicFile.write(Data((summarize(manifest, cells: cells).rendered() + "\n").utf8), to: outDir + "/results.json")
        let md = markdown(manifest, cells: cells)
        try AtomicFile.write(Data(md.utf8), to: outDir + "/report.md")
        let page = html(manifest, cells: cells, association: targetAssociation(manifest, outDir: outDir, target: target))
        try AtomicFile.write(Data(page.utf8), to: outDir + "/report.html")
        return (md, cells)
    }

    /// A table cell: the mean ± its 95% half-interval, in percent; "n/a" without values.
    static func fmt(_ xs: [Double]) -> String {
        guard !xs.isEmpty else { return "n/a" }
        let (m, h) = meanCI(xs)
        return h.map { "\(tenths(100 * m)) ± \(tenths(100 * $0))" } ?? tenths(100 * m)
    }

    /// `x` to one decimal (`%.1f`, or `%+.1f` with `signed`), without the "-0.0" that a small
    /// negative number rounds to: a report never shows a minus on a zero.
    public static func tenths(_ x: Double, signed: Bool = false) -> String {
        let text = String(format: signed ? "%+.1f" : "%.1f", x)
        guard text.hasPrefix("-"), text.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) else { return text }
        return signed ? "+" + text.dropFirst() : String(text.dropFirst())
    }

    /// report.md: the per-cell means with intervals, the inherited bias, the curation effect.
    public static func markdown(_ manifest: ExperimentManifest, cells: [Cell]) -> String {
        var md = "# Experiment \(manifest.name)\n\n\(manifest.seeds.count) seed\(manifest.seeds.count == 1 ? "" : "s"); attribute `\(manifest.attribute)`; means ± 95% intervals, in percent.\n\n"
        md += "| intervention | transfer | source | accuracy | worst group | accuracy gap | EO difference | flip rate |\n|---|---|---|---:|---:|---:|---:|---:|\n"
        for i in manifest.interventions.map(\.name) {
            for t in manifest.transfers {
                for s in manifest.sources {
                    let cs = cells.filter { $0.intervention == i && $0.transfer == t && $0.source == s }
                    let col = { (m: String) in fmt(cs.compactMap { $0.values[m] }) }
                    md += "| \(i) | \(t) | \(s) | \(col("overall_accuracy")) | \(col("worst_group_accuracy")) | \(col("accuracy_gap")) | \(col("equalized_odds_difference")) | \(col("flip_rate")) |\n"
                }
            }
        }
        if let spec = manifest.attack {
            md += robustnessMarkdown(manifest, spec, cells: cells)
        }
        return md
    }

    /// report.md's robustness part: robust accuracy per cell, then what each source passes on:
    /// inherited bias (biased minus clean) next to inherited non-robustness (a robust source
    /// minus its standard counterpart), seed by seed, in percentage points.
    static func robustnessMarkdown(_ manifest: ExperimentManifest, _ spec: AttackSpec, cells: [Cell]) -> String {
        let robust = spec.budgets.map { robustMetrics($0) }
        var md = "\n## Robustness\n\nEvery test image attacked with \(spec.description) (fractions of the pixel range), against the fine-tuned model itself.\n\n"
        md += "| intervention | transfer | source | accuracy | " + spec.budgets.map { "robust @ \($0) | worst group @ \($0)" }.joined(separator: " | ") + " |\n"
        md += "|---|---|---|---:|" + String(repeating: "---:|---:|", count: robust.count) + "\n"
        let values = { (i: String, t: String, s: String, m: String) in seedValues(cells, i, t, s, m) }
        let interventions = manifest.interventions.map(\.name)
        for i in interventions {
            for t in manifest.transfers {
                for s in manifest.sources {
                    let col = { (m: String) in fmt(values(i, t, s, m).sorted { $0.key < $1.key }.map(\.value)) }
                    md += "| \(i) | \(t) | \(s) | \(col("overall_accuracy")) | " + robust.map { "\(col($0.accuracy)) | \(col($0.worstGroup))" }.joined(separator: " | ") + " |\n"
                }
            }
        }
        var comparisons = robustPairs(manifest).map { (label: "\($0.robust) - \($0.standard)", a: $0.robust, b: $0.standard) }
        if manifest.sources.contains("biased") && manifest.sources.contains("clean") { comparisons.insert(("biased - clean", "biased", "clean"), at: 0) }
        guard !comparisons.isEmpty else { return md }
        md += "\n### What the source passes on\n\nOne source minus another, seed by seed, in percentage points: biased - clean is the inherited bias; "
        md += "a robust source minus its standard one is the robustness the standard source fails to pass on (its inherited non-robustness).\n\n"
        md += "| intervention | transfer | sources | accuracy | flip rate | worst group | " + spec.budgets.map { "robust @ \($0)" }.joined(separator: " | ") + " |\n"
        md += "|---|---|---|---:|---:|---:|" + String(repeating: "---:|", count: robust.count) + "\n"
        for i in interventions {
            for t in manifest.transfers {
                for (label, a, b) in comparisons {
                    let col = { (m: String) in fmt(difference(values(i, t, a, m), values(i, t, b, m))) }
                    md += "| \(i) | \(t) | \(label) | \(col("overall_accuracy")) | \(col("flip_rate")) | \(col("worst_group_accuracy")) | "
                        + robust.map { col($0.accuracy) }.joined(separator: " | ") + " |\n"
                }
            }
        }
        return md
    }
}
