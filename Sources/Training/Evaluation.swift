import Foundation
import NeuralNet

/// A model's accuracy on a test manifest: overall, balanced (mean per-class recall), per
/// group and worst group, and the counterfactual flip rate.
public struct Evaluation: Sendable {
    public var count: Int
    public var overallAccuracy: Double
    public var balancedAccuracy: Double
    public var groupAccuracy: [(String, Double)]
    public var groupCount: [(String, Int)]
    public var worstGroupAccuracy: Double?
    public var flipRate: Double?
    public var predictions: [Int]
    public var probabilities: [Float]
    public var classes: [String]
    public var skipped: Int

    /// - Parameters:
    ///   - test: the test images (labels must be among `classes`).
    ///   - counterfactual: images aligned row by row with `test` (the attribute changed).
    public static func run(_ net: Sequential, classes: [String], test: ImageData, by columns: [String],
                           counterfactual: ImageData? = nil) throws -> Evaluation {
        let classIndex = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        let labelNames = test.labels
        var labels: [Int] = []
        for (i, l) in labelNames.enumerated() {
            guard let c = classIndex[l] else {
                throw TrainingError("\(test.manifest.baseDirectory): row \(test.rows[i] + 1): label '\(l)' is not one of the model's classes (\(classes.joined(separator: ", ")))")
            }
            labels.append(c)
        }
        let p = predict(net, count: test.count) { test.batch($0) }
        let correct = (0..<test.count).map { p.classes[$0] == labels[$0] }
        let overall = test.count > 0 ? Double(correct.filter { $0 }.count) / Double(test.count) : 0
        var perClass = [(Int, Int)](repeating: (0, 0), count: classes.count)
        for i in 0..<test.count {
            perClass[labels[i]].1 += 1
            if correct[i] { perClass[labels[i]].0 += 1 }
        }
        let present = perClass.filter { $0.1 > 0 }
        let balanced = present.isEmpty ? 0 : present.map { Double($0.0) / Double($0.1) }.reduce(0, +) / Double(present.count)

        var groupAccuracy: [(String, Double)] = []
        var groupCount: [(String, Int)] = []
        var worst: Double?
        if !columns.isEmpty {
            let g = try Grouping(test, columns: columns)
            var hits = [Int](repeating: 0, count: g.names.count)
            var totals = [Int](repeating: 0, count: g.names.count)
            for i in 0..<test.count {
                totals[g.ids[i]] += 1
                if correct[i] { hits[g.ids[i]] += 1 }
            }
            for (j, name) in g.names.enumerated() {
                groupAccuracy.append((name, Double(hits[j]) / Double(totals[j])))
                groupCount.append((name, totals[j]))
            }
            worst = groupAccuracy.map(\.1).min()
        }
        var flip: Double?
        if let cf = counterfactual {
            guard cf.manifest.count == test.manifest.count else {
                throw TrainingError("the counterfactual manifest has \(cf.manifest.count) rows, the test manifest \(test.manifest.count): they must be aligned row by row")
            }
            // Compare only rows decoded in both.
            let cfPred = predict(net, count: cf.count) { cf.batch($0) }
            let cfByRow = Dictionary(uniqueKeysWithValues: zip(cf.rows, cfPred.classes))
            var flips = 0, compared = 0
            for (i, r) in test.rows.enumerated() {
                guard let c = cfByRow[r] else { continue }
                compared += 1
                if c != p.classes[i] { flips += 1 }
            }
            flip = compared > 0 ? Double(flips) / Double(compared) : nil
        }
        return Evaluation(count: test.count, overallAccuracy: overall, balancedAccuracy: balanced, groupAccuracy: groupAccuracy,
                          groupCount: groupCount, worstGroupAccuracy: worst, flipRate: flip, predictions: p.classes,
                          probabilities: p.probabilities, classes: classes, skipped: test.failures.count)
    }
}
