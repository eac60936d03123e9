import Foundation
import Testing

@Suite("curate experiment run (end to end)")
struct ExperimentCommandTests {
    func manifest(_ d: String, seeds: String = "[0, 1]") -> String {
        """
        name: small
        datasets:
          source_biased: bm/source_biased.csv
          source_clean: bm/source_clean.csv
          target: bm/target.csv
          test: bm/test.csv
          counterfactual: bm/counterfactual.csv
        attribute: tint
        by: [label, tint]
        interventions:
          - none
          - name: balanced
            strategy: undersample
          - name: dro
            loss: group-dro
        transfers: [linear]
        sources: [biased, clean]
        recipe: {model: mlp, size: 8, channels: 3, epochs: 1, source_epochs: 1, batch_size: 16}
        seeds: \(seeds)
        """
    }

    @Test("a small experiment: results agree with its cells, and a resumed run gives the same results")
    func runAndResume() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let d = dir.path
        let made = try CLI.run(["benchmark", "make", "tint", "--out", "\(d)/bm", "--per-class", "16", "--test-per-class", "8"])
        #expect(made.status == 0, "\(made.stderr)")
        try manifest(d).write(toFile: "\(d)/e.yaml", atomically: true, encoding: .utf8)
        let full = try CLI.run(["experiment", "run", "\(d)/e.yaml", "--out", "\(d)/run1", "--quiet"])
        #expect(full.status == 0, "\(full.stderr)")
        let results = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(d)/run1/results.json"))) as? [String: Any])
        let cells = try #require(results["cells"] as? [[String: Any]])
        #expect(cells.count == 3 * 2 * 2)
        // The summary's mean is the mean of the cells it summarises.
        let summary = try #require(results["summary"] as? [[String: Any]])
        let row = try #require(summary.first { $0["intervention"] as? String == "none" && $0["source"] as? String == "biased" })
        let flips = cells.filter { $0["intervention"] as? String == "none" && $0["source"] as? String == "biased" }.compactMap { $0["flip_rate"] as? Double }
        let mean = try #require((row["flip_rate"] as? [String: Any])?["mean"] as? Double)
        #expect(abs(mean - flips.reduce(0, +) / Double(flips.count)) < 1e-12)
        // Inherited bias = biased - clean, seed by seed.
        let inherited = try #require((results["inherited_bias"] as? [[String: Any]])?.first { $0["intervention"] as? String == "none" })
        let clean = cells.filter { $0["intervention"] as? String == "none" && $0["source"] as? String == "clean" }.compactMap { $0["flip_rate"] as? Double }
        let ib = try #require((inherited["flip_rate"] as? [String: Any])?["mean"] as? Double)
        #expect(abs(ib - (flips.reduce(0, +) - clean.reduce(0, +)) / 2) < 1e-12)

        // Every cell's metrics recomputed from its own predictions and the test manifests.
        let test = try String(contentsOfFile: "\(d)/bm/test.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        for file in try FileManager.default.contentsOfDirectory(atPath: "\(d)/run1/cells") {
            let cell = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(d)/run1/cells/\(file)"))) as? [String: Any])
            let predictions = try #require(cell["predictions"] as? [String]), cf = try #require(cell["counterfactual_predictions"] as? [String])
            #expect(predictions.count == test.count && cf.count == test.count)
            let correct = zip(predictions, test).map { $0 == $1[1] }
            #expect(abs((cell["overall_accuracy"] as? Double ?? -1) - Double(correct.filter { $0 }.count) / Double(test.count)) < 1e-12)
            var groups: [String: (Int, Int)] = [:]
            for (ok, row) in zip(correct, test) {
                let key = "label=\(row[1]),tint=\(row[3])"
                groups[key, default: (0, 0)].1 += 1
                if ok { groups[key, default: (0, 0)].0 += 1 }
            }
            let worst = groups.values.map { Double($0.0) / Double($0.1) }.min()!
            #expect(abs((cell["worst_group_accuracy"] as? Double ?? -1) - worst) < 1e-12)
            let flips = zip(predictions, cf).filter { $0 != $1 }.count
            #expect(abs((cell["flip_rate"] as? Double ?? -1) - Double(flips) / Double(test.count)) < 1e-12)
        }

        // Interrupted: only the first seed, then the whole run in the same folder.
        try manifest(d, seeds: "[0]").write(toFile: "\(d)/e0.yaml", atomically: true, encoding: .utf8)
        let part = try CLI.run(["experiment", "run", "\(d)/e0.yaml", "--out", "\(d)/run2", "--quiet"])
        #expect(part.status == 0, "\(part.stderr)")
        let resumed = try CLI.run(["experiment", "run", "\(d)/e.yaml", "--out", "\(d)/run2", "--progress"])
        #expect(resumed.status == 0)
        #expect(resumed.stderr.contains("done before"))
        for file in try FileManager.default.contentsOfDirectory(atPath: "\(d)/run1/cells") {
            #expect(try Data(contentsOf: URL(fileURLWithPath: "\(d)/run1/cells/\(file)")) == Data(contentsOf: URL(fileURLWithPath: "\(d)/run2/cells/\(file)")), "\(file)")
        }
    }

    @Test("manifest errors name the file and the line")
    func errors() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let d = dir.path
        try "benchmark: tint\nattribute: tint\ninterventions: [none]\nseeds: [0]\nepochs: 3\n".write(toFile: "\(d)/a.yaml", atomically: true, encoding: .utf8)
        let a = try CLI.run(["experiment", "run", "\(d)/a.yaml", "--out", "\(d)/o"])
        #expect(a.status == 2 && a.stderr.contains("a.yaml:5: unknown key 'epochs'"), "\(a.stderr)")
        try "benchmark: tint\nattribute: tint\ninterventions:\n  - none\n  - name: x\n    strategy: shuffle\n".write(toFile: "\(d)/b.yaml", atomically: true, encoding: .utf8)
        let b = try CLI.run(["experiment", "run", "\(d)/b.yaml", "--out", "\(d)/o"])
        #expect(b.status == 2 && b.stderr.contains("b.yaml:6: unknown strategy 'shuffle'"), "\(b.stderr)")
    }
}
