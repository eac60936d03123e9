import ArgumentParser
import Audit
import DatasetCatalog
import Features
import Foundation
import ImageCodecs
import NeuralNet
import Training

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Evaluate a checkpoint on a test manifest: overall, balanced, per-group and worst-group accuracy, and the counterfactual flip rate.",
        discussion: """
        Group keys are attr=value,attr=value in the order of --by. --counterfactual takes a \
        manifest aligned row by row with the test manifest (the same images with the attribute \
        changed); the flip rate is the share of rows whose prediction changes.

        --attack also attacks every test image against the model (FGSM, or PGD under an \
        L-infinity or L2 budget; budgets are fractions of the pixel range, so --epsilon 8/255 \
        means 8 grey levels) and adds robust_accuracy, robust_group_accuracy and \
        worst_group_robust_accuracy to the JSON.

        Examples:
          curate evaluate --model ft.ckpt --test test.csv --by label --by tint --json eval.json
          curate evaluate --model ft.ckpt --test test.csv --counterfactual test_cf.csv --predictions preds.csv
          curate evaluate --model ft.ckpt --test test.csv --by label --attack pgd --epsilon 2/255 --steps 10 --json eval.json
        """)

    @Option(help: "The checkpoint.") var model: String
    @Option(help: "The test manifest.") var test: String
    @Option(parsing: .singleValue, help: "Group columns (comma-separated or repeated).") var by: [String] = []
    @Option(help: "Write the metrics as JSON to this file ('-' for stdout).") var json: String?
    @Option(help: "Write each row's path, label, prediction, class probabilities and attributes to this CSV.") var predictions: String?
    @Option(help: "A manifest aligned row by row with --test, for the flip rate.") var counterfactual: String?
    @Option(help: "Feature vectors for the --test rows, for a model trained with --features (.npy, .safetensors or column:NAME).") var features: String?
    @Option(help: "Feature vectors for the --counterfactual rows.") var counterfactualFeatures: String?
    @Option(parsing: .unconditional, help: "Threads (default: all cores).") var threads: Int?
    @Option(help: "Attack every test image: fgsm or pgd.") var attack: Attack.Method?
    @OptionGroup var budget: AttackOptions
    @Option(parsing: .unconditional, help: "Seed of PGD's random starts.") var seed: UInt64 = 0
    @Option(help: "The favourable class for the fairness gaps (default: 1/yes/true/positive for two classes; otherwise each class one-vs-rest, the worst reported).") var positive: String?

    /// Demographic parity and equalized odds differences, TPR and FPR gaps (fairlearn's
    /// definitions), for each --by column and for their joint groups; for the favourable class,
    /// or the worst over classes one-vs-rest.
    func fairness(_ e: Evaluation, _ test: ImageData, _ columns: [String]) -> JSONValue {
        guard !columns.isEmpty else { return .null }
        let classIndex = Dictionary(uniqueKeysWithValues: e.classes.enumerated().map { ($1, $0) })
        let labels = test.labels.map { classIndex[$0]! }
        let inferred = e.classes.count == 2 ? ["1", "yes", "true", "positive"].first(where: e.classes.contains) : nil
        let classes: [Int]
        if let p = positive ?? inferred, let c = classIndex[p] { classes = [c] } else { classes = Array(e.classes.indices) }
        let weights = test.weights.map(Double.init)
        var keys: [(String, [String])] = columns.map { c in (c, test.column(c)!) }
        if columns.count > 1 {
            let cols = columns.map { test.column($0)! }
            keys.append((columns.joined(separator: ","), (0..<test.count).map { r in cols.map { $0[r] }.joined(separator: ",") }))
        }
        let byAttribute: [(String, JSONValue)] = keys.map { name, values in
            let (c, f) = PredictionFairness.worstClass(labels: labels, predictions: e.predictions, classes: classes,
                                                       values: values, weights: weights)
            return (name, .object([
                ("positive", .string(e.classes[c])),
                ("demographic_parity_difference", .number(f.demographicParityDifference)),
                ("equalized_odds_difference", .number(f.equalizedOddsDifference)),
                ("tpr_gap", .number(f.truePositiveRateGap)),
                ("fpr_gap", .number(f.falsePositiveRateGap)),
                ("groups", .array(f.groups.map { g in
                    .object([("value", .string(g.value)), ("count", .int(g.count)), ("tpr", .number(g.truePositiveRate)),
                             ("fpr", .number(g.falsePositiveRate)), ("selection_rate", .number(g.selectionRate))])
                })),
            ]))
        }
        return .object([("positive_class", classes.count == 1 ? .string(e.classes[classes[0]]) : .null), ("by_attribute", .object(byAttribute))])
    }

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be 1 or more") }
        if counterfactualFeatures != nil && counterfactual == nil { throw ValidationError("--counterfactual-features needs --counterfactual (the manifest they belong to)") }
    }

    func run() throws {
        // Neither output may name an input (the checkpoint, a manifest, a feature file) or the other.
        func file(_ spec: String?) -> String? { spec.flatMap { $0.hasPrefix("column:") ? nil : $0 } }
        try checkDistinct(outputs: [("--json", json), ("--predictions", predictions)],
                          inputs: [("--model", model), ("--test", test), ("--counterfactual", counterfactual),
                                   ("--features", file(features)), ("--counterfactual-features", file(counterfactualFeatures))])
        if let json, json != "-" { try AtomicFile.checkWritable(json) }
        if let predictions {
            try AtomicFile.checkWritable(predictions)
            guard ManifestFormat.of(path: predictions) != nil else { throw ValidationError("--predictions \(predictions): name it .csv or .jsonl") }
        }
        if let threads { Parallel.threads = max(1, threads) }
        let attack = try budget.make(self.attack, flag: "--attack", seed: seed)
        let (net, header) = try Checkpoint.read(path: model)
        let spec = header.model
        let takesFeatures = header.metadata["input"] == "features"
        // A checkpoint that does not fit the data is a data error (status 2), named by its file.
        if takesFeatures && features == nil { throw CheckpointError(path: model, message: "takes feature vectors (\(spec.channels) values): give --features") }
        if !takesFeatures && features != nil { throw CheckpointError(path: model, message: "takes images, not feature vectors") }
        if let positive, !header.classes.contains(positive) {
            throw ValidationError("--positive \(positive) is not one of \(model)'s classes (\(header.classes.joined(separator: ", ")))")
        }
        if takesFeatures && attack != nil { throw ValidationError("attacks perturb images: \(model) takes feature vectors") }
        let testData: ImageData, cf: ImageData?
        if let features {
            testData = try ImageData.load(test, features: features)
            if counterfactual != nil && counterfactualFeatures == nil { throw ValidationError("--counterfactual with --features needs --counterfactual-features") }
            cf = try counterfactual.map { try ImageData.load($0, features: counterfactualFeatures!, requireLabels: false) }
            for d in [testData] + (cf.map { [$0] } ?? []) where d.channels != spec.channels {
                throw FeatureError(d.features!.source, "has \(d.channels) values per row; \(model) takes \(spec.channels) (features from another model than the checkpoint's?)")
            }
        } else {
            testData = try TrainCommand.load(test, size: spec.height, channels: spec.channels)
            cf = try counterfactual.map { try TrainCommand.load($0, size: spec.height, channels: spec.channels, requireLabels: false) }
        }
        let columns = try columnList(by)
        let e = try Evaluation.run(net, classes: header.classes, test: testData, by: columns, counterfactual: cf, attack: attack)
        let attackJSON: JSONValue = attack.map { a in
            .object([("method", .string(a.method.rawValue)), ("norm", .string(a.norm.rawValue)), ("epsilon", .number(Double(a.epsilon))),
                     ("step_size", .number(Double(a.stepSize))), ("steps", .int(a.steps)), ("random_start", .bool(a.randomStart)),
                     ("seed", .int(Int(a.seed)))])
        } ?? .null
        let doc: JSONValue = .object([
            ("model", .string(model)),
            ("test", .string(test)),
            ("count", .int(e.count)),
            ("skipped", .int(e.skipped)),
            ("overall_accuracy", .number(e.overallAccuracy)),
            ("balanced_accuracy", .number(e.balancedAccuracy)),
            // Undefined without groups: null, as the other group figures are.
            ("group_accuracy", columns.isEmpty ? .null : .object(e.groupAccuracy.map { ($0.0, .number($0.1)) })),
            ("group_count", columns.isEmpty ? .null : .object(e.groupCount.map { ($0.0, .int($0.1)) })),
            ("worst_group_accuracy", .optional(e.worstGroupAccuracy)),
            ("flip_rate", .optional(e.flipRate)),
            ("fairness", fairness(e, testData, columns)),
            ("attack", attackJSON),
            ("robust_accuracy", .optional(e.robustAccuracy)),
            ("robust_group_accuracy", attack == nil ? .null : .object(e.robustGroupAccuracy.map { ($0.0, .number($0.1)) })),
            ("worst_group_robust_accuracy", .optional(e.worstGroupRobustAccuracy)),
        ])
        // The report and the predictions appear together or not at all.
        let files = AtomicFileSet()
        if let json, json != "-" { try files.add(Data((doc.rendered() + "\n").utf8), to: json) }
        if let predictions {
            let k = e.classes.count
            var columns = ["path", "label", "prediction"]
            var cells = [testData.paths, testData.labels, e.predictions.map { e.classes[$0] }]
            for (c, name) in e.classes.enumerated() {
                columns.append("prob_\(name)")
                cells.append((0..<e.count).map { String(format: "%.6f", e.probabilities[$0 * k + c]) })
            }
            // The test manifest's own columns follow; any named like the ones written here are
            // left out (they would be two columns of one name), with a note.
            let written = Set(columns)
            let clashing = testData.manifest.columns.filter { written.contains($0) && !["path", "label"].contains($0) }
            if !clashing.isEmpty { note("--predictions: the test manifest's \(clashing.joined(separator: ", ")) column(s) are replaced by this evaluation's") }
            for column in testData.manifest.columns where !["path", "label"].contains(column) && !written.contains(column) {
                columns.append(column)
                cells.append(testData.column(column)!)
            }
            let m = Manifest(columns: columns, cells: cells, baseDirectory: testData.manifest.baseDirectory)
            try ManifestWriter.write(m, to: predictions, in: files)
        }
        try files.commit()
        if json == "-" { print(doc.rendered()) }
        if json != "-" {
            print(String(format: "%d %@: accuracy %.2f%%, balanced %.2f%%", e.count, features == nil ? "images" : "rows", 100 * e.overallAccuracy, 100 * e.balancedAccuracy)
                  + (e.worstGroupAccuracy.map { String(format: ", worst group %.2f%%", 100 * $0) } ?? "")
                  + (e.flipRate.map { String(format: ", flip rate %.2f%%", 100 * $0) } ?? ""))
            if let attack, let robust = e.robustAccuracy {
                print(String(format: "under %@: robust accuracy %.2f%%", attack.description, 100 * robust)
                      + (e.worstGroupRobustAccuracy.map { String(format: ", worst group %.2f%%", 100 * $0) } ?? ""))
            }
            for (i, ((name, acc), (_, n))) in zip(e.groupAccuracy, e.groupCount).enumerated() {
                print(String(format: "  %@  %.2f%%  (%d)", name, 100 * acc, n)
                      + (i < e.robustGroupAccuracy.count ? String(format: "  robust %.2f%%", 100 * e.robustGroupAccuracy[i].1) : ""))
            }
        }
        // The report is written; the exit status still says images were skipped.
        if testData.failures.count + (cf?.failures.count ?? 0) > 0 { throw ExitCode(1) }
    }
}
