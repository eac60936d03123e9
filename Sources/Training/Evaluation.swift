import Foundation
import NeuralNet

/// A model's accuracy on a test manifest: overall, balanced (mean per-class recall), per
/// group and worst group, the counterfactual flip rate and, under an attack, the same accuracies
/// on adversarial versions of the test images.
public struct Evaluation: Sendable {
    public var count: Int
    public var overallAccuracy: Double
    public var balancedAccuracy: Double
    public var groupAccuracy: [(String, Double)]
    public var groupCount: [(String, Int)]
    public var worstGroupAccuracy: Double?
    public var flipRate: Double?
    /// Accuracy on the attack's adversarial images, overall, per group and at the worst group.
    public var robustAccuracy: Double?
    public var robustGroupAccuracy: [(String, Double)] = []
    public var worstGroupRobustAccuracy: Double?
    public var predictions: [Int]
    public var probabilities: [Float]
    public var classes: [String]
    public var skipped: Int

    /// - Parameters:
    ///   - test: the test images (labels must be among `classes`).
    ///   - counterfactual: images aligned row by row with `test` (the attribute changed).
    ///   - attack: when given, every test image is also attacked (against `net` itself, with
    ///     its true label) and the robust accuracies are reported.
    public static func run(_ net: Sequential, classes: [String], test: ImageData, by columns: [String],
                           counterfactual: ImageData? = nil, attack: Attack? = nil) throws -> Evaluation {
        // Accuracies of nothing would print as 0, as if the model were always wrong.
        guard test.count > 0 else {
            throw TrainingError("\(test.named("the test manifest")): " + (test.manifest.count == 0 ? "no rows to evaluate" : "none of its \(test.manifest.count) images could be loaded (see the errors above)"))
        }
        let classIndex = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        let labelNames = test.labels
        var labels: [Int] = []
        for (i, l) in labelNames.enumerated() {
            guard let c = classIndex[l] else {
                throw TrainingError("\(test.named(test.manifest.baseDirectory)): \(test.manifest.place(test.rows[i])): label '\(l)' is not one of the model's classes (\(classes.joined(separator: ", ")))")
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

        let grouping = columns.isEmpty ? nil : try Grouping(test, columns: columns)
        /// Accuracy per group (in the grouping's order) and its minimum.
        func byGroup(_ correct: [Bool]) -> (accuracy: [(String, Double)], count: [(String, Int)], worst: Double?) {
            guard let g = grouping else { return ([], [], nil) }
            var hits = [Int](repeating: 0, count: g.names.count)
            var totals = [Int](repeating: 0, count: g.names.count)
            for i in 0..<test.count {
                totals[g.ids[i]] += 1
                if correct[i] { hits[g.ids[i]] += 1 }
            }
            let accuracy = g.names.enumerated().map { ($1, Double(hits[$0]) / Double(totals[$0])) }
            return (accuracy, g.names.enumerated().map { ($1, totals[$0]) }, accuracy.map(\.1).min())
        }
        let (groupAccuracy, groupCount, worst) = byGroup(correct)
        var robust: (overall: Double, groups: [(String, Double)], worst: Double?)?
        if let attack {
            guard test.features == nil else { throw TrainingError("attacks perturb images: a model on feature vectors cannot be attacked") }
            let adversarial = predict(net, count: test.count) { idx in
                attack.perturb(net, test.batch(idx), labels: idx.map { labels[$0] }, batchOffset: idx.first ?? 0)
            }
            let hit = (0..<test.count).map { adversarial.classes[$0] == labels[$0] }
            let groups = byGroup(hit)
            robust = (test.count > 0 ? Double(hit.filter { $0 }.count) / Double(test.count) : 0, groups.accuracy, groups.worst)
        }
        var flip: Double?
        if let cf = counterfactual {
            guard cf.manifest.count == test.manifest.count else {
                throw TrainingError("the counterfactual manifest has \(cf.manifest.count) rows, the test manifest \(test.manifest.count): they must be aligned row by row")
            }
            // Aligned row by row: the same image with the attribute changed keeps its label.
            if let cfLabels = cf.manifest.column("label"), let testLabels = test.manifest.column("label"),
               let r = cfLabels.indices.first(where: { !cfLabels[$0].isEmpty && cfLabels[$0] != testLabels[$0] }) {
                throw TrainingError("\(cf.named("the counterfactual manifest")) \(cf.manifest.place(r)): label '\(cfLabels[r])', but the test manifest's row \(r + 1)\(test.manifest.sourceLines == nil ? "" : " (\(test.manifest.place(r)))") is '\(testLabels[r])': "
                                    + "a counterfactual row is the same image with the attribute changed, aligned row by row")
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
                          groupCount: groupCount, worstGroupAccuracy: worst, flipRate: flip,
                          robustAccuracy: robust?.overall, robustGroupAccuracy: robust?.groups ?? [], worstGroupRobustAccuracy: robust?.worst,
                          predictions: p.classes, probabilities: p.probabilities, classes: classes, skipped: test.failures.count)
    }
}
