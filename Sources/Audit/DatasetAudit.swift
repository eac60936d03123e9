import DatasetCatalog
import Foundation
import ImageCodecs

/// A problem the audit found, with its numbers.
public struct Finding: Sendable {
    public enum Severity: Int, Sendable, Comparable {
        case low = 1, medium = 2, high = 3
        public static func < (a: Severity, b: Severity) -> Bool { a.rawValue < b.rawValue }
        public var name: String { ["", "low", "medium", "high"][rawValue] }
    }
    public var severity: Severity
    public var kind: String
    public var attribute: String?
    public var message: String
    /// The magnitude findings of one severity are sorted by (largest first).
    public var magnitude: Double
    public var numbers: [(String, JSONValue)]
}

/// The whole audit of a manifest.
public struct DatasetAudit: Sendable {
    public var manifestPath: String
    public var rows: Int
    public var weighted: Bool
    public var labelColumn: String
    public var labels: [(label: String, count: Double, share: Double)]
    public var attributes: [AttributeAudit]
    public var images: ImageAudit?
    public var findings: [Finding]
    /// The feature vectors' audit, when the audit was given features (see `adding(features:)`).
    public var features: FeatureAudit? = nil

    /// This audit with a feature audit, its findings merged by severity.
    public func adding(features audit: FeatureAudit) -> DatasetAudit {
        var copy = self
        copy.features = audit
        copy.findings = (findings + audit.findings).enumerated().sorted { a, b in
            a.element.severity != b.element.severity ? a.element.severity > b.element.severity
                : a.element.magnitude != b.element.magnitude ? a.element.magnitude > b.element.magnitude : a.offset < b.offset
        }.map(\.element)
        return copy
    }

    /// Audits `manifest` (read from `path`) by `options.attributes`, each alone and, when there
    /// are several, their intersection; with the catalog's facts when `catalog` is given.
    public static func run(_ manifest: Manifest, path: String, options: AuditOptions, catalog: (Catalog, String)? = nil) throws -> DatasetAudit {
        guard let labelCells = manifest.column(options.labelColumn) else {
            throw AuditError.missingColumn(file: path, column: options.labelColumn)
        }
        // An audit of nothing would pass with no findings, as if the data were fair.
        guard manifest.count > 0 else { throw ManifestError(file: path, "no rows to audit") }
        var coded: [CodedColumn] = []
        for a in options.attributes {
            guard let cells = manifest.column(a) else { throw AuditError.missingColumn(file: path, column: a) }
            coded.append(CodedColumn(cells))
        }
        let label = CodedColumn(labelCells)
        let weights: [Double]? = manifest.has("weight") ? manifest.weights : nil
        if let weights, manifest.count > 0, !weights.contains(where: { $0 > 0 }) {
            throw AuditError.zeroWeights(file: path)
        }
        var analyses: [(String, CodedColumn)] = zip(options.attributes, coded).map { ($0, $1) }
        if coded.count > 1 { analyses.append((options.attributes.joined(separator: ","), CodedColumn(intersecting: coded))) }
        // Each analysis is independent: one per core, results in order.
        let jobs = analyses
        let positive = options.positiveLabel
        if let positive, !label.values.contains(positive) {
            throw AuditError.unknownValue(file: path, column: options.labelColumn, value: positive, known: label.values)
        }
        let attributes = ParallelMap.run(count: jobs.count, threads: ProcessInfo.processInfo.activeProcessorCount) { i in
            AttributeAudit.compute(name: jobs[i].0, label: label, attribute: jobs[i].1, weights: weights, positive: positive)
        }
        var labelTotals = [Double](repeating: 0, count: label.values.count)
        for (i, c) in label.codes.enumerated() where c >= 0 { labelTotals[Int(c)] += weights?[i] ?? 1 }
        let total = labelTotals.reduce(0, +)
        let labels = label.values.enumerated().map { ($1, labelTotals[$0], total > 0 ? labelTotals[$0] / total : 0) }
        var images: ImageAudit?
        if let (cat, catPath) = catalog {
            images = try ImageAudit.compute(manifest: manifest, catalog: cat, catalogPath: catPath,
                                            groups: analyses.map { ($0.0, $0.1.values, $0.1.codes) })
        }
        var audit = DatasetAudit(manifestPath: path, rows: manifest.count, weighted: weights != nil, labelColumn: options.labelColumn,
                                 labels: labels, attributes: attributes, images: images, findings: [])
        audit.findings = audit.findFindings(options.thresholds)
        return audit
    }

    /// At most `limit` findings of one kind for one attribute (the highest ranked, in rank order), and one
    /// `omitted_findings` finding counting the rest: an attribute of a thousand values must not
    /// bury the other findings. The JSON report's attribute section still lists every cell.
    /// `findings` come with the rank that picks the ones kept (largest first, then in order).
    func capped(_ findings: [(finding: Finding, rank: Double)], attribute: String, limit: Int, what: String, field: String) -> [Finding] {
        guard findings.count > limit, let first = findings.first?.finding else { return findings.map(\.finding) }
        let kept = findings.indices.sorted { (findings[$0].rank, $1) > (findings[$1].rank, $0) }.prefix(limit).map { findings[$0].finding }
        let rest = findings.count - limit
        let note = Finding(severity: first.severity, kind: "omitted_findings", attribute: attribute,
                           message: "\(rest) more \(what) of \(attribute) than the \(limit) listed (every one is under attributes[\"\(attribute)\"].\(field) in the JSON report)",
                           magnitude: 0, numbers: [("of_kind", .string(first.kind)), ("count", .int(rest))])
        return kept + [note]
    }

    func findFindings(_ t: Thresholds) -> [Finding] {
        var out: [Finding] = []
        func pct(_ x: Double) -> String { String(format: "%.1f%%", 100 * x) }
        let labelShare = Dictionary(labels.map { ($0.label, $0.share) }, uniquingKeysWith: { a, _ in a })
        for a in attributes {
            // Rows whose attribute (or label) is unknown are left out of every measure below:
            // say how many, and that nothing is measured when all are.
            if a.missing > 0 {
                let all = a.missing + a.rows
                let share = Double(a.missing) / Double(all)
                out.append(Finding(severity: a.rows == 0 ? .high : share >= 0.1 ? .medium : .low, kind: "unknown_values", attribute: a.name,
                                   message: a.rows == 0
                                       ? "\(a.name) or \(labelColumn) is unknown (empty) in all \(all) rows: nothing about \(a.name) can be measured"
                                       : "\(a.name) or \(labelColumn) is unknown (empty) in \(a.missing) of \(all) rows (\(pct(share))): the measures for \(a.name) leave them out",
                                   magnitude: share, numbers: [("unknown_rows", .int(a.missing)), ("rows", .int(all))]))
            }
            // With one label or one value there is nothing to compare: the association (Cramér's V,
            // chi-square) is undefined, null in the report; say so rather than pass silently.
            if a.rows > 0, a.labels.count < 2 || a.values.count < 2 {
                let (column, only) = a.labels.count < 2 ? (labelColumn, a.labels.first ?? "") : (a.name, a.values.first ?? "")
                out.append(Finding(severity: .medium, kind: "single_value", attribute: a.name,
                                   message: "\(column) has one value (\(only)) in all \(a.rows) rows with a known \(a.name) and \(labelColumn): "
                                       + "how \(labelColumn) goes with \(a.name) cannot be measured",
                                   magnitude: 0, numbers: [("column", .string(column)), ("value", .string(only)), ("rows", .int(a.rows))]))
            }
            if let v = a.cramersV, v > t.cramersVModerate {
                // On a few rows a large V arises by chance: it is high only when the test says it is not chance.
                let significant = (a.pValue ?? 0) < 0.05
                out.append(Finding(severity: v > t.cramersVHigh && significant ? .high : .medium, kind: "label_association", attribute: a.name,
                                   message: String(format: "%@ is associated with %@: Cramér's V %.3f (chi-square %.1f, p %@%@)", a.name, labelColumn, v, a.chi2 ?? 0,
                                                   pText(a.pValue), significant ? "" : "; not significant at 5%: too few rows to tell"),
                                   magnitude: v, numbers: [("cramers_v", .number(v)), ("p_value", .optional(a.pValue))]))
            }
            // An empty cell is the more surprising the more rows independence would put in it.
            let groupCount = Dictionary(a.groups.map { ($0.value, $0.count) }, uniquingKeysWith: { a, _ in a })
            var empty: [(finding: Finding, rank: Double)] = []
            for e in a.emptyCells {
                let expected = (groupCount[e.value] ?? 0) * (labelShare[e.label] ?? 0)
                empty.append((Finding(severity: .high, kind: "empty_cell", attribute: a.name,
                                      message: "no rows with \(labelColumn) = \(e.label) and \(a.name) = \(e.value)" + String(format: " (%.1f expected if independent)", expected),
                                      magnitude: 1, numbers: [("label", .string(e.label)), ("value", .string(e.value)), ("expected_rows", .number(expected))]), expected))
            }
            out += capped(empty, attribute: a.name, limit: t.cellFindingsPerAttribute, what: "empty cells", field: "empty_cells")
            var small: [(finding: Finding, rank: Double)] = []
            for c in a.cells where c.rows > 0 && c.shareOfLabel < t.cellShareOfLabel {
                let gap = t.cellShareOfLabel - c.shareOfLabel
                small.append((Finding(severity: .medium, kind: "underrepresented_cell", attribute: a.name,
                                      message: "\(a.name) = \(c.value) is \(pct(c.shareOfLabel)) of \(labelColumn) = \(c.label) (\(c.rows) row\(c.rows == 1 ? "" : "s"))",
                                      magnitude: gap,
                                      numbers: [("label", .string(c.label)), ("value", .string(c.value)), ("share_of_label", .number(c.shareOfLabel)), ("rows", .int(c.rows))]), gap))
            }
            out += capped(small, attribute: a.name, limit: t.cellFindingsPerAttribute, what: "underrepresented cells", field: "cells")
            if let r = a.representationRatio, r < t.representationRatio {
                let small = a.groups.min { $0.count < $1.count }!, big = a.groups.max { $0.count < $1.count }!
                out.append(Finding(severity: .medium, kind: "underrepresented_group", attribute: a.name,
                                   message: String(format: "smallest %@ group (%@, %@) is %.3f of the largest (%@, %@)", a.name, small.value, pct(small.share), r, big.value, pct(big.share)),
                                   magnitude: 1 - r, numbers: [("representation_ratio", .number(r))]))
            }
            if let di = a.disparateImpact, di < t.disparateImpact {
                out.append(Finding(severity: .medium, kind: "disparate_impact", attribute: a.name,
                                   message: String(format: "disparate impact %.3f across %@ (below the four-fifths rule), statistical parity difference %.3f", di, a.name, a.statisticalParityDifference ?? 0),
                                   magnitude: 1 - di, numbers: [("disparate_impact", .number(di)), ("statistical_parity_difference", .optional(a.statisticalParityDifference))]))
            } else if let spd = a.statisticalParityDifference, spd > t.statisticalParity {
                out.append(Finding(severity: .low, kind: "statistical_parity", attribute: a.name,
                                   message: String(format: "statistical parity difference %.3f across %@", spd, a.name),
                                   magnitude: spd, numbers: [("statistical_parity_difference", .number(spd))]))
            }
        }
        if let images {
            let leaking = images.duplicateClusters.filter(\.leaks)
            if !leaking.isEmpty {
                out.append(Finding(severity: .high, kind: "split_leakage", attribute: nil,
                                   message: "\(leaking.count) image group(s) appear in more than one split (for example \(leaking[0].paths.prefix(2).joined(separator: ", ")): \(leaking[0].splits.joined(separator: "/")))",
                                   magnitude: Double(leaking.count), numbers: [("leaking_groups", .int(leaking.count))]))
            }
            let dups = images.duplicateClusters.filter { !$0.leaks && $0.paths.count > 1 }
            if !dups.isEmpty {
                out.append(Finding(severity: .low, kind: "duplicates", attribute: nil,
                                   message: "\(dups.count) group(s) of duplicate or near-duplicate images within a split",
                                   magnitude: Double(dups.count), numbers: [("duplicate_groups", .int(dups.count))]))
            }
            if let s = images.separability, let best = s.auc.max(by: { $0.auc < $1.auc }), best.auc >= t.syntheticAUC {
                out.append(Finding(severity: .high, kind: "synthetic_shortcut", attribute: "origin",
                                   message: String(format: "real and synthetic images differ: %@ alone separates them with AUC %.3f; a nearest-centroid classifier on the image statistics reaches %.1f%% balanced accuracy", best.statistic, best.auc, 100 * s.balancedAccuracy),
                                   magnitude: best.auc, numbers: [("auc", .number(best.auc)), ("statistic", .string(best.statistic)), ("balanced_accuracy", .number(s.balancedAccuracy))]))
            }
            for a in images.attributes {
                for d in a.largestDifference where abs(d.smd) > t.standardizedMeanDifference {
                    out.append(Finding(severity: .medium, kind: "image_statistic_difference", attribute: a.attribute,
                                       message: String(format: "%@ differs between %@ = %@ and %@: standardised mean difference %.2f", d.statistic, a.attribute, d.groups.0, d.groups.1, d.smd),
                                       magnitude: abs(d.smd), numbers: [("statistic", .string(d.statistic)), ("smd", .number(d.smd))]))
                }
            }
        }
        return out.sorted { ($0.severity, $0.magnitude) > ($1.severity, $1.magnitude) }
    }
}

/// A p-value as text; one below the smallest double is "< 1e-300", not 0.
func pText(_ p: Double?) -> String {
    guard let p else { return "n/a" }
    return p < 1e-300 ? "< 1e-300" : String(format: "%.3g", p)
}
