import Foundation

/// Fairness of a model's predictions across groups, as fairlearn defines it: selection rate
/// P(prediction positive), true and false positive rates per group (weighted when weights are
/// given; a group with no positive (negative) labels has TPR (FPR) 0, as fairlearn's
/// scikit-learn metrics give), the demographic parity difference (largest minus smallest
/// selection rate) and the equalized odds difference (the larger of the TPR and FPR gaps).
public struct PredictionFairness: Sendable {
    public struct Group: Sendable {
        public var value: String
        public var count: Int
        public var truePositiveRate: Double
        public var falsePositiveRate: Double
        public var selectionRate: Double
    }
    public var groups: [Group]
    public var demographicParityDifference: Double
    public var truePositiveRateGap: Double
    public var falsePositiveRateGap: Double
    public var equalizedOddsDifference: Double { max(truePositiveRateGap, falsePositiveRateGap) }

    /// - Parameters: per row, the positive label and prediction, the group id (into `names`),
    ///   and optional weights.
    public static func compute(labels: [Bool], predictions: [Bool], groups: [Int], names: [String], weights: [Double]? = nil) -> PredictionFairness {
        let k = names.count
        var pos = [Double](repeating: 0, count: k), neg = pos, tp = pos, fp = pos, total = pos, selected = pos
        var counts = [Int](repeating: 0, count: k)
        for i in 0..<labels.count {
            let g = groups[i], w = weights?[i] ?? 1
            counts[g] += 1
            total[g] += w
            if predictions[i] { selected[g] += w }
            if labels[i] {
                pos[g] += w
                if predictions[i] { tp[g] += w }
            } else {
                neg[g] += w
                if predictions[i] { fp[g] += w }
            }
        }
        let out = (0..<k).filter { counts[$0] > 0 }.map { g in
            Group(value: names[g], count: counts[g], truePositiveRate: pos[g] > 0 ? tp[g] / pos[g] : 0,
                  falsePositiveRate: neg[g] > 0 ? fp[g] / neg[g] : 0, selectionRate: total[g] > 0 ? selected[g] / total[g] : 0)
        }
        func gap(_ xs: [Double]) -> Double { (xs.max() ?? 0) - (xs.min() ?? 0) }
        return PredictionFairness(groups: out, demographicParityDifference: gap(out.map(\.selectionRate)),
                                  truePositiveRateGap: gap(out.map(\.truePositiveRate)), falsePositiveRateGap: gap(out.map(\.falsePositiveRate)))
    }
}

extension PredictionFairness {
    /// Fairness across the groups of `values` (one group per distinct value, sorted) for each
    /// of `classes` one-vs-rest; the class with the largest equalized-odds difference and its
    /// result. With one class, that class's result.
    public static func worstClass(labels: [Int], predictions: [Int], classes: [Int], values: [String],
                                  weights: [Double]? = nil) -> (positive: Int, fairness: PredictionFairness) {
        let names = Array(Set(values)).sorted()
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        let groups = values.map { index[$0]! }
        var worst: (Int, PredictionFairness)?
        for c in classes {
            let f = compute(labels: labels.map { $0 == c }, predictions: predictions.map { $0 == c }, groups: groups, names: names, weights: weights)
            if worst == nil || f.equalizedOddsDifference > worst!.1.equalizedOddsDifference { worst = (c, f) }
        }
        return worst!
    }
}
