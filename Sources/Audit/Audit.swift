import DatasetCatalog
import Foundation

/// What to audit: the attributes (each alone, and their intersection when there are several),
/// the label column, and the thresholds of the findings.
public struct AuditOptions: Sendable {
    public var attributes: [String] = []
    public var labelColumn = "label"
    /// The favourable label value for the headline parity numbers; nil: inferred for binary
    /// labels (1, yes, true, positive), otherwise the worst over label values.
    public var positiveLabel: String?
    public var thresholds = Thresholds()

    public init(attributes: [String] = [], labelColumn: String = "label") {
        self.attributes = attributes
        self.labelColumn = labelColumn
    }
}

/// When a number becomes a finding.
public struct Thresholds: Sendable {
    public var cramersVHigh = 0.3
    public var cramersVModerate = 0.1
    public var cellShareOfLabel = 0.05
    public var representationRatio = 0.2
    public var disparateImpact = 0.8
    public var statisticalParity = 0.1
    public var standardizedMeanDifference = 0.5
    public var syntheticAUC = 0.75
    /// Most empty or underrepresented cell findings listed for one attribute (the rest are counted).
    public var cellFindingsPerAttribute = 20
    public init() {}
}

/// A column's values as small integer codes (-1 where the cell is empty: unknown).
struct CodedColumn: Sendable {
    var values: [String]
    var codes: [Int32]

    init(_ cells: [String]) {
        var index: [String: Int32] = [:]
        var first: [String] = []
        var raw = [Int32](repeating: -1, count: cells.count)
        for (i, v) in cells.enumerated() where !v.isEmpty {
            if let c = index[v] {
                raw[i] = c
            } else {
                let c = Int32(first.count)
                index[v] = c
                first.append(v)
                raw[i] = c
            }
        }
        // Sorted value order, so reports never depend on row order.
        let order = first.indices.sorted { first[$0] < first[$1] }
        var remap = [Int32](repeating: 0, count: first.count)
        for (new, old) in order.enumerated() { remap[old] = Int32(new) }
        values = order.map { first[$0] }
        codes = raw.map { $0 < 0 ? -1 : remap[Int($0)] }
    }

    /// The intersection of several columns: observed combinations only, values joined by commas.
    init(intersecting columns: [CodedColumn]) {
        var index: [[Int32]: Int32] = [:]
        var combos: [[Int32]] = []
        let n = columns.first?.codes.count ?? 0
        var raw = [Int32](repeating: -1, count: n)
        for i in 0..<n {
            let key = columns.map { $0.codes[i] }
            if key.contains(-1) { continue }
            if let c = index[key] {
                raw[i] = c
            } else {
                index[key] = Int32(combos.count)
                raw[i] = Int32(combos.count)
                combos.append(key)
            }
        }
        let names = combos.map { key in zip(columns, key).map { $0.values[Int($1)] }.joined(separator: ",") }
        let order = combos.indices.sorted { combos[$0].lexicographicallyPrecedes(combos[$1]) }
        var remap = [Int32](repeating: 0, count: combos.count)
        for (new, old) in order.enumerated() { remap[old] = Int32(new) }
        values = order.map { names[$0] }
        codes = raw.map { $0 < 0 ? -1 : remap[Int($0)] }
    }
}

/// Everything the audit says about one attribute (or an intersection) against the label.
public struct AttributeAudit: Sendable {
    public struct Group: Sendable { public var value: String; public var count: Double; public var rows: Int; public var share: Double; public var wilsonLow: Double; public var wilsonHigh: Double }
    public struct Cell: Sendable {
        public var label: String, value: String
        public var count: Double, rows: Int
        public var share: Double, wilsonLow: Double, wilsonHigh: Double
        /// count / the label's count.
        public var shareOfLabel: Double
        /// P(label | value).
        public var labelRate: Double
    }
    public struct LabelParity: Sendable { public var label: String; public var statisticalParityDifference: Double; public var disparateImpact: Double? }
    public struct Weight: Sendable { public var label: String?; public var value: String; public var weight: Double }

    public var name: String
    public var labels: [String]
    public var values: [String]
    public var total: Double
    public var rows: Int
    public var missing: Int
    public var effectiveSize: Double
    public var groups: [Group]
    public var cells: [Cell]
    /// The cells by label, then by value: one lookup per table entry, not a scan of all cells.
    public var cellsByLabel: [String: [String: Cell]] {
        var out: [String: [String: Cell]] = [:]
        for c in cells { out[c.label, default: [:]][c.value] = c }
        return out
    }
    public var emptyCells: [(label: String, value: String)]
    public var representationRatio: Double?
    public var imbalanceRatio: Double?
    public var chi2: Double?
    public var dof: Int?
    public var pValue: Double?
    public var cramersV: Double?
    public var cramersVCorrected: Double?
    public var mutualInformation: Double?
    public var mutualInformationNormalized: Double?
    public var perLabel: [LabelParity]
    /// The headline parity numbers: for the positive label when there is one, else the worst
    /// over label values (largest difference, smallest ratio).
    public var statisticalParityDifference: Double?
    public var disparateImpact: Double?
    public var smoothedEDF: Double?
    public var reweighing: [Weight]
    public var groupBalanced: [Weight]
}

public enum AuditError: Error, CustomStringConvertible {
    case missingColumn(file: String, column: String)
    case unknownValue(file: String, column: String, value: String, known: [String])
    case zeroWeights(file: String)
    public var description: String {
        switch self {
        case .missingColumn(let file, let column): return "\(file): the manifest has no column '\(column)'"
        case .zeroWeights(let file): return "\(file): every row's weight is 0: the weighted counts and shares are undefined"
        case .unknownValue(let file, let column, let value, let known):
            return "\(file): '\(value)' is not a value of \(column) (its values: \(known.prefix(10).joined(separator: ", "))\(known.count > 10 ? ", ..." : ""))"
        }
    }
}

extension AttributeAudit {
    /// Computes the audit of `attribute` (codes per row) against `label`, with optional weights.
    static func compute(name: String, label: CodedColumn, attribute: CodedColumn, weights: [Double]?,
                        positive: String?) -> AttributeAudit {
        let nl = label.values.count, na = attribute.values.count
        var counts = [Double](repeating: 0, count: nl * na)
        var rows = [Int](repeating: 0, count: nl * na)
        var sum = 0.0, sumSq = 0.0, missing = 0
        label.codes.withUnsafeBufferPointer { lc in
            attribute.codes.withUnsafeBufferPointer { ac in
                if let weights {
                    weights.withUnsafeBufferPointer { w in
                        for i in 0..<lc.count {
                            let l = Int(lc[i]), a = Int(ac[i])
                            if l < 0 || a < 0 { missing += 1; continue }
                            counts[l * na + a] += w[i]
                            rows[l * na + a] += 1
                            sum += w[i]
                            sumSq += w[i] * w[i]
                        }
                    }
                } else {
                    for i in 0..<lc.count {
                        let l = Int(lc[i]), a = Int(ac[i])
                        if l < 0 || a < 0 { missing += 1; continue }
                        rows[l * na + a] += 1
                    }
                    for i in 0..<(nl * na) { counts[i] = Double(rows[i]) }
                    let n = Double(rows.reduce(0, +))
                    sum = n
                    sumSq = n
                }
            }
        }
        // Only labels and values present in the analysed rows.
        let presentLabels = (0..<nl).filter { l in (0..<na).contains { rows[l * na + $0] > 0 } }
        let presentValues = (0..<na).filter { a in (0..<nl).contains { rows[$0 * na + a] > 0 } }
        let table = presentLabels.map { l in presentValues.map { counts[l * na + $0] } }
        let rowTable = presentLabels.map { l in presentValues.map { rows[l * na + $0] } }
        let labels = presentLabels.map { label.values[$0] }
        let values = presentValues.map { attribute.values[$0] }
        let total = sum
        let nEff = Statistics.effectiveSize(sum: sum, sumOfSquares: sumSq)
        let labelTotals = table.map { $0.reduce(0, +) }
        let valueTotals = values.indices.map { a in table.reduce(0.0) { $0 + $1[a] } }
        let valueRows = values.indices.map { a in rowTable.reduce(0) { $0 + $1[a] } }

        var audit = AttributeAudit(
            name: name, labels: labels, values: values, total: total, rows: rowTable.joined().reduce(0, +), missing: missing,
            effectiveSize: nEff, groups: [], cells: [], emptyCells: [], perLabel: [], reweighing: [], groupBalanced: [])
        guard total > 0 else { return audit }
        for (a, v) in values.enumerated() {
            let share = valueTotals[a] / total
            let ci = Statistics.wilson(p: share, n: nEff)
            audit.groups.append(Group(value: v, count: valueTotals[a], rows: valueRows[a], share: share, wilsonLow: ci.low, wilsonHigh: ci.high))
        }
        for (l, lv) in labels.enumerated() {
            for (a, v) in values.enumerated() {
                let c = table[l][a]
                let share = c / total
                let ci = Statistics.wilson(p: share, n: nEff)
                audit.cells.append(Cell(label: lv, value: v, count: c, rows: rowTable[l][a], share: share, wilsonLow: ci.low, wilsonHigh: ci.high,
                                        shareOfLabel: labelTotals[l] > 0 ? c / labelTotals[l] : 0,
                                        labelRate: valueTotals[a] > 0 ? c / valueTotals[a] : 0))
                if rowTable[l][a] == 0 { audit.emptyCells.append((lv, v)) }
            }
        }
        if let lo = valueTotals.min(), let hi = valueTotals.max(), hi > 0 { audit.representationRatio = lo / hi }
        let nonEmpty = table.joined().filter { $0 > 0 }
        if let lo = nonEmpty.min(), let hi = nonEmpty.max() { audit.imbalanceRatio = hi / lo }

        if labels.count > 1 && values.count > 1 {
            let (chi2, dof) = Statistics.chiSquare(table)
            audit.chi2 = chi2
            audit.dof = dof
            audit.pValue = Statistics.chiSquarePValue(chi2, dof: dof)
            let v = Statistics.cramersV(chi2: chi2, n: total, rows: labels.count, columns: values.count)
            audit.cramersV = v.v
            audit.cramersVCorrected = v.corrected
        }
        let mi = Statistics.mutualInformation(table)
        audit.mutualInformation = mi.nats
        audit.mutualInformationNormalized = mi.normalized

        // Parity: P(label | value) across values, per label value.
        if values.count > 1 {
            for (l, lv) in labels.enumerated() {
                let rates = values.indices.map { table[l][$0] / valueTotals[$0] }
                let hi = rates.max()!, lo = rates.min()!
                audit.perLabel.append(LabelParity(label: lv, statisticalParityDifference: hi - lo, disparateImpact: hi > 0 ? lo / hi : nil))
            }
            let positiveValue = positive ?? AttributeAudit.inferPositive(labels)
            if let p = positiveValue, let row = audit.perLabel.first(where: { $0.label == p }) {
                audit.statisticalParityDifference = row.statisticalParityDifference
                audit.disparateImpact = row.disparateImpact
            } else {
                audit.statisticalParityDifference = audit.perLabel.map(\.statisticalParityDifference).max()
                let ratios = audit.perLabel.compactMap(\.disparateImpact)
                audit.disparateImpact = ratios.count == audit.perLabel.count ? ratios.min() : nil
            }
            // Smoothed empirical differential fairness (Foulds et al.; AIF360, concentration 1):
            // P~(y | s) = (N_ys + 1/|Y|) / (N_s + 1); epsilon = the largest |log ratio| over label
            // values and pairs of groups.
            let c = 1.0, ry = Double(labels.count)
            var eps = 0.0
            for l in labels.indices {
                let logs = values.indices.map { log((table[l][$0] + c / ry) / (valueTotals[$0] + c)) }
                eps = max(eps, logs.max()! - logs.min()!)
            }
            audit.smoothedEDF = eps
        }

        // AIF360 Reweighing: w(y, a) = P(y) P(a) / P(y, a); group-balanced: W / (G W_a).
        for (l, lv) in labels.enumerated() {
            for (a, v) in values.enumerated() where table[l][a] > 0 {
                audit.reweighing.append(Weight(label: lv, value: v, weight: (labelTotals[l] / total) * (valueTotals[a] / total) / (table[l][a] / total)))
            }
        }
        for (a, v) in values.enumerated() where valueTotals[a] > 0 {
            audit.groupBalanced.append(Weight(label: nil, value: v, weight: total / (Double(values.count) * valueTotals[a])))
        }
        return audit
    }

    static func inferPositive(_ labels: [String]) -> String? {
        guard labels.count == 2 else { return nil }
        for candidate in ["1", "yes", "true", "positive", "1.0"] where labels.contains(candidate) { return candidate }
        return nil
    }
}
