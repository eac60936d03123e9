import Experiments
import Foundation
import Testing

@Suite("curate experiment run (end to end)")
struct ExperimentCommandTests {
    @Test("the curation effect is the share of the baseline's inherited difference removed, whatever its sign")
    func curationEffectSign() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let yaml = "benchmark: tint\nattribute: tint\ninterventions: [none, undersample]\ntransfers: [linear]\nsources: [biased, clean]\nseeds: [0]\n"
        try yaml.write(toFile: dir.path + "/e.yaml", atomically: true, encoding: .utf8)
        let manifest = try ExperimentManifest.load(dir.path + "/e.yaml")
        // Worst group: none 0.2 from the biased source against 0.6 from the clean (inherited
        // -0.4); undersample 0.5 against 0.6 (-0.1): three quarters removed, +75%. The flip rate
        // the other way round: none 0.5 against 0.1 (+0.4), undersample 0.2 against 0.1: +75%.
        func cell(_ i: String, _ s: String, worst: Double, flip: Double) -> ExperimentResults.Cell {
            ExperimentResults.Cell(intervention: i, transfer: "linear", source: s, seed: 0, values: ["worst_group_accuracy": worst, "flip_rate": flip])
        }
        let cells = [cell("none", "biased", worst: 0.2, flip: 0.5), cell("none", "clean", worst: 0.6, flip: 0.1),
                     cell("undersample", "biased", worst: 0.5, flip: 0.2), cell("undersample", "clean", worst: 0.6, flip: 0.1)]
        let doc = try jsonObject(ExperimentResults.summarize(manifest, cells: cells).rendered())
        let effect = try #require((doc["curation_effect"] as? [[String: Any]])?.first)
        for metric in ["worst_group_accuracy", "flip_rate"] {
            let mean = try #require((effect[metric] as? [String: Any])?["mean"] as? Double, "\(effect)")
            #expect(abs(mean - 75) < 1e-9, "\(metric): \(mean)")
        }
    }

    @Test("report numbers to one decimal never show a minus on zero")
    func tenths() {
        #expect(ExperimentResults.tenths(-0.04) == "0.0" && ExperimentResults.tenths(-0.04, signed: true) == "+0.0")
        #expect(ExperimentResults.tenths(-0.05) == "-0.1" && ExperimentResults.tenths(-12.34) == "-12.3")
        #expect(ExperimentResults.tenths(0.04, signed: true) == "+0.0" && ExperimentResults.tenths(2.25, signed: true) == "+2.2")
        #expect(ExperimentResults.tenths(-.zero) == "0.0")
    }

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
        // The one-seed manifest again, in the folder that now holds two seeds: its results are of seed 0 alone.
        let fewer = try CLI.run(["experiment", "run", "\(d)/e0.yaml", "--out", "\(d)/run2", "--quiet"])
        #expect(fewer.status == 0, "\(fewer.stderr)")
        let one = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(d)/run2/results.json"))) as? [String: Any])
        #expect((one["cells"] as? [[String: Any]])?.count == 3 * 2 && (one["cells"] as? [[String: Any]])?.allSatisfy { $0["seed"] as? Int == 0 } == true)

        // Another recipe into the same folder: its cells would answer for the new manifest, so it
        // is refused, and nothing in the folder changes.
        let before = try FileManager.default.contentsOfDirectory(atPath: "\(d)/run1/cells").sorted()
        try manifest(d).replacingOccurrences(of: "epochs: 1, source_epochs", with: "epochs: 2, source_epochs")
            .write(toFile: "\(d)/e2.yaml", atomically: true, encoding: .utf8)
        let changed = try CLI.run(["experiment", "run", "\(d)/e2.yaml", "--out", "\(d)/run1", "--quiet"])
        #expect(changed.status == 2 && changed.stderr.contains("holds a run made with other settings (epochs: was 1, now 2)"), "\(changed.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(d)/run1/cells").sorted() == before)
        // So is an intervention redefined under the same name.
        try manifest(d).replacingOccurrences(of: "strategy: undersample", with: "strategy: oversample")
            .write(toFile: "\(d)/e3.yaml", atomically: true, encoding: .utf8)
        let redefined = try CLI.run(["experiment", "run", "\(d)/e3.yaml", "--out", "\(d)/run1", "--quiet"])
        #expect(redefined.status == 2 && redefined.stderr.contains("intervention balanced: was strategy undersample"), "\(redefined.stderr)")
        // A damaged cell is run again, to the same bytes.
        let victim = "\(d)/run1/cells/\(before[0])"
        let good = try Data(contentsOf: URL(fileURLWithPath: victim))
        try Data(good.prefix(20)).write(to: URL(fileURLWithPath: victim))
        let mended = try CLI.run(["experiment", "run", "\(d)/e.yaml", "--out", "\(d)/run1", "--progress"])
        #expect(mended.status == 0 && mended.stderr.contains("is damaged: running the cell again"), "\(mended.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: victim)) == good)
    }

    @Test("a wrong attribute or dataset path is found before anything is trained, and the mended manifest runs in the same folder")
    func dataErrorsBeforeTraining() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let d = dir.path
        let made = try CLI.run(["benchmark", "make", "tint", "--out", "\(d)/bm", "--per-class", "16", "--test-per-class", "8"])
        #expect(made.status == 0, "\(made.stderr)")
        let good = manifest(d, seeds: "[0]")
        func sources() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: "\(d)/run/sources")) ?? []).filter { !$0.hasPrefix(".") } }
        // Line 8 is `attribute:`, line 9 `by:`, line 5 the target's path.
        try good.replacingOccurrences(of: "attribute: tint", with: "attribute: tnt").write(toFile: "\(d)/a.yaml", atomically: true, encoding: .utf8)
        let attribute = try CLI.run(["experiment", "run", "\(d)/a.yaml", "--out", "\(d)/run", "--quiet"])
        #expect(attribute.status == 2 && attribute.stderr.contains("a.yaml:8: attribute: 'tnt' is not a column of the target manifest \(d)/bm/target.csv (its columns: path, label, origin, tint)"), "\(attribute.stderr)")
        #expect(sources().isEmpty)
        try good.replacingOccurrences(of: "by: [label, tint]", with: "by: [label, tone]").write(toFile: "\(d)/b.yaml", atomically: true, encoding: .utf8)
        let by = try CLI.run(["experiment", "run", "\(d)/b.yaml", "--out", "\(d)/run", "--quiet"])
        #expect(by.status == 2 && by.stderr.contains("b.yaml:9: by: 'tone' is not a column of the target manifest"), "\(by.stderr)")
        // An intervention the data cannot give fails at its line before anything trains.
        try good.replacingOccurrences(of: "    strategy: undersample", with: "    strategy: undersample\n    by: label,tone").write(toFile: "\(d)/i.yaml", atomically: true, encoding: .utf8)
        let intervention = try CLI.run(["experiment", "run", "\(d)/i.yaml", "--out", "\(d)/run", "--quiet"])
        #expect(intervention.status == 2 && intervention.stderr.contains("i.yaml:12: intervention balanced: ") && intervention.stderr.contains("unknown column 'tone'"), "\(intervention.stderr)")
        #expect(sources().isEmpty)
        try good.replacingOccurrences(of: "bm/target.csv", with: "bm/targt.csv").write(toFile: "\(d)/t.yaml", atomically: true, encoding: .utf8)
        let path = try CLI.run(["experiment", "run", "\(d)/t.yaml", "--out", "\(d)/run", "--quiet"])
        #expect(path.status == 2 && path.stderr.contains("t.yaml:5: datasets: target: no such file \(d)/bm/targt.csv"), "\(path.stderr)")
        #expect(sources().isEmpty)
        // No cell was finished under the wrong settings, so the mended manifest is not refused.
        try good.write(toFile: "\(d)/e.yaml", atomically: true, encoding: .utf8)
        let mended = try CLI.run(["experiment", "run", "\(d)/e.yaml", "--out", "\(d)/run", "--progress"])
        #expect(mended.status == 0 && mended.stderr.contains("no finished cells; the settings changed"), "\(mended.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(d)/run/cells").filter { $0.hasSuffix(".json") }.count == 3 * 2)
        // Once a cell has finished, other settings are refused as before.
        let refused = try CLI.run(["experiment", "run", "\(d)/a.yaml", "--out", "\(d)/run", "--quiet"])
        #expect(refused.status == 2 && refused.stderr.contains("holds a run made with other settings (attribute: was tint, now tnt"), "\(refused.stderr)")
    }

    @Test("manifest errors name the file and the line", arguments: [
        ("benchmark: tint\nattribute: tint\ninterventions: [none]\nseeds: [0]\nepochs: 3\n", ":5: unknown key 'epochs'"),
        ("benchmark: tint\nattribute: tint\ninterventions:\n  - none\n  - name: x\n    strategy: shuffle\n", ":6: unknown strategy 'shuffle'"),
        // Robustness keys: a robust source needs its recipe; budgets are checked where written.
        ("benchmark: trigger\nattribute: trigger\ninterventions: [none]\nsources: [clean, robust]\n", ":4: source 'robust' is trained adversarially"),
        ("benchmark: trigger\nattribute: trigger\ninterventions: [none]\nattack:\n  attack: pgd\n  epsilon: [8/255, 8/0]\n", ":6: epsilon '8/0' is not a non-negative number"),
        ("benchmark: {name: trigger, per_clas: 3}\nattribute: trigger\ninterventions: [none]\n", ":1: unknown benchmark key 'per_clas'"),
        ("benchmark: trigger\nattribute: trigger\ninterventions:\n  - none\n  - name: z\n    feature_distance: -1\n", ":6: feature_distance must be a positive number"),
        // Interventions and their options are checked where written, not run as a default.
        ("benchmark: tint\nattribute: tint\ninterventions: [none, undersampel]\n", ":3: unknown intervention 'undersampel'"),
        ("benchmark: tint\nattribute: tint\ninterventions:\n  - none\n  - name: rw\n    strategy: reweight\n    method: bogus\n", ":7: intervention rw: unknown method 'bogus'"),
        ("benchmark: tint\nattribute: tint\ninterventions:\n  - none\n  - name: rw\n    strategy: reweight\n    methd: sqrt\n", ":7: intervention rw: unknown key 'methd' for reweight"),
        ("benchmark: tint\nattribute: tint\ninterventions:\n  - none\n  - name: c\n    strategy: correlate\n    strength: 2\n", ":7: intervention c: strength must be a number from -1 to 1"),
        ("benchmark: tint\nattribute: tint\ninterventions:\n  - none\n  - name: u\n    strategy: undersample\n    per_cell: 0\n", ":7: intervention u: per_cell must be a positive integer"),
        // A name becomes file names in the run's folder: nothing that leaves it or nests in it.
        ("benchmark: tint\nattribute: tint\ninterventions:\n  - none\n  - name: ../x\n    strategy: undersample\n", ":5: intervention name '../x': use letters"),
        ("benchmark: tint\nattribute: tint\ninterventions:\n  - none\n  - name: u/1\n    strategy: undersample\n", ":5: intervention name 'u/1'"),
        // No silent default for a target: correlate needs a strength, proportion a group and share.
        ("benchmark: tint\nattribute: tint\ninterventions: [none, correlate]\n", ":3: intervention correlate needs a strength"),
        ("benchmark: tint\nattribute: tint\ninterventions:\n  - none\n  - name: c\n    strategy: correlate\n", ":5: intervention c: correlate needs a strength"),
        ("benchmark: tint\nattribute: tint\ninterventions:\n  - none\n  - proportion\n", ":5: intervention proportion needs a group and a share"),
        ("benchmark: tint\nattribute: tint\ninterventions:\n  - none\n  - name: p\n    strategy: proportion\n    group: red\n", ":5: intervention p: proportion needs a share"),
        ("benchmark: tint\nattribute: tint\nattribute: x\ninterventions: [none]\n", ":3: key 'attribute' is given twice"),
        ("benchmark: tint\nattribute: tint\ninterventions: [none]\nrecipe: {lr: .inf}\n", ":4: lr must be a positive, finite number"),
        ("benchmark: tint\nattribute: tint\ninterventions: [none]\nseeds: [1, 1]\n", ":4: seed 1 is given twice"),
        ("benchmark: tint\nattribute: tint\ninterventions: [none]\nseeds: [-1]\n", ":4: a seed must be an integer from 0 to 18446744073709551615"),
        ("benchmark: tnt\nattribute: tint\ninterventions: [none]\n", ":1: unknown benchmark 'tnt' (trigger, tint, underrepresented, synthetic)"),
        // Nested far too deep for a manifest: refused before the parser recurses level by level.
        ("benchmark: tint\nattribute: tint\ninterventions: [none]\nname: " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "\n", ":4: nested deeper than 64 levels"),
        ("benchmark: tint\nattribute: tint\ninterventions: [none]\nname:\n" + (1...200).map { String(repeating: " ", count: $0) + "k\($0):\n" }.joined(), ":141: nested deeper than 64 levels"),
        ("benchmark: {name: tnt}\nattribute: tint\ninterventions: [none]\n", ":1: unknown benchmark 'tnt'"),
    ])
    func errors(yaml: String, message: String) throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try yaml.write(toFile: "\(dir.path)/m.yaml", atomically: true, encoding: .utf8)
        let r = try CLI.run(["experiment", "run", "\(dir.path)/m.yaml", "--out", "\(dir.path)/o"])
        #expect(r.status == 2 && r.stderr.contains("m.yaml" + message), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(dir.path)/o"))
    }

    func robustManifest(adversarialEpsilon: String = "0.1") -> String {
        """
        name: robust-small
        benchmark: {name: trigger, per_class: 24, target_per_class: 6, test_per_class: 8}
        attribute: trigger
        by: [label]
        interventions:
          - none
          - name: anchored
            feature_distance: 0.5
        transfers: [linear, full]
        sources: [biased, clean, robust]
        adversarial: {attack: pgd, epsilon: \(adversarialEpsilon), steps: 2}
        attack:
          attack: pgd
          epsilon: [0, 8/255]
          steps: 3
        recipe: {model: mlp, size: 8, channels: 1, epochs: 1, source_epochs: 1, batch_size: 16}
        seeds: [0, 1]
        """
    }

    @Test("a robustness experiment: robust sources, robust accuracy per budget, and what each source passes on")
    func robustExperiment() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let d = dir.path
        try robustManifest().write(toFile: "\(d)/r.yaml", atomically: true, encoding: .utf8)
        let run = try CLI.run(["experiment", "run", "\(d)/r.yaml", "--out", "\(d)/run", "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        // The benchmark has the sizes the manifest asked for: 3 target classes x 6, 5 source classes x 24.
        #expect(try String(contentsOfFile: "\(d)/run/benchmark/target.csv", encoding: .utf8).split(separator: "\n").count == 1 + 18)
        #expect(try String(contentsOfFile: "\(d)/run/benchmark/source_clean.csv", encoding: .utf8).split(separator: "\n").count == 1 + 120)
        // The robust source was trained adversarially, the standard ones were not.
        let robustHeader = try Data(contentsOf: URL(fileURLWithPath: "\(d)/run/sources/robust-seed0.ckpt")).prefix(4096)
        #expect(String(decoding: robustHeader, as: UTF8.self).contains("PGD-2, linf epsilon 0.1"))
        let cleanHeader = try Data(contentsOf: URL(fileURLWithPath: "\(d)/run/sources/clean-seed0.ckpt")).prefix(4096)
        #expect(!String(decoding: cleanHeader, as: UTF8.self).contains("PGD"))

        var cells: [String: [String: Any]] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: "\(d)/run/cells") {
            cells[file] = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(d)/run/cells/\(file)"))) as? [String: Any])
        }
        #expect(cells.count == 2 * 2 * 3 * 2)
        for (file, cell) in cells {
            let robust = try #require(cell["robust"] as? [[String: Any]])
            #expect(robust.map { $0["epsilon"] as? String } == ["0", "8/255"], "\(file)")
            // A zero budget changes no image: robust accuracy is the clean accuracy.
            #expect(robust[0]["robust_accuracy"] as? Double == cell["overall_accuracy"] as? Double, "\(file)")
            #expect(robust[0]["worst_group_robust_accuracy"] as? Double == cell["worst_group_accuracy"] as? Double, "\(file)")
            #expect((robust[1]["attack"] as? String)?.hasPrefix("PGD-3, linf epsilon 0.03137") == true, "\(file)")
        }
        // Frozen features cannot move: the feature-distance penalty leaves fixed-feature transfer as it was.
        for source in ["biased", "clean", "robust"] {
            for seed in 0..<2 {
                #expect(cells["anchored__linear__\(source)__seed\(seed).json"]?["predictions"] as? [String]
                        == cells["none__linear__\(source)__seed\(seed).json"]?["predictions"] as? [String])
            }
        }

        // results.json: inherited non-robustness is robust minus clean, seed by seed.
        let results = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(d)/run/results.json"))) as? [String: Any])
        #expect((results["metrics"] as? [String])?.suffix(4) == ["robust_accuracy@0", "worst_group_robust_accuracy@0", "robust_accuracy@8/255", "worst_group_robust_accuracy@8/255"])
        let entries = try #require(results["inherited_non_robustness"] as? [[String: Any]])
        #expect(entries.count == 2 * 2)
        let full = try #require(entries.first { $0["intervention"] as? String == "none" && $0["transfer"] as? String == "full" })
        #expect(full["standard"] as? String == "clean" && full["robust"] as? String == "robust")
        func robustAt(_ source: String, _ seed: Int) -> Double {
            ((cells["none__full__\(source)__seed\(seed).json"]?["robust"] as? [[String: Any]])?[1]["robust_accuracy"] as? Double) ?? .nan
        }
        let expected = ((robustAt("robust", 0) - robustAt("clean", 0)) + (robustAt("robust", 1) - robustAt("clean", 1))) / 2
        let mean = try #require((full["robust_accuracy@8/255"] as? [String: Any])?["mean"] as? Double)
        #expect(abs(mean - expected) < 1e-12)
        let report = try String(contentsOfFile: "\(d)/run/report.md", encoding: .utf8)
        #expect(report.contains("## Robustness") && report.contains("| none | full | robust - clean |") && report.contains("| none | linear | biased - clean |"))
        #expect(try String(contentsOfFile: "\(d)/run/report.html", encoding: .utf8).contains("robust accuracy @ 8/255"))

        // The same folder with another adversarial recipe, once no cell is left: the run starts
        // over, and the robust source is trained again with the new recipe.
        try robustManifest(adversarialEpsilon: "0.2").write(toFile: "\(d)/r2.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: "\(d)/run/cells")
        let restarted = try CLI.run(["experiment", "run", "\(d)/r2.yaml", "--out", "\(d)/run", "--progress"])
        #expect(restarted.status == 0 && restarted.stderr.contains("no finished cells; the settings changed (adversarial)"), "\(restarted.stderr)")
        let retrained = try Data(contentsOf: URL(fileURLWithPath: "\(d)/run/sources/robust-seed0.ckpt")).prefix(4096)
        #expect(String(decoding: retrained, as: UTF8.self).contains("PGD-2, linf epsilon 0.2"))
        // Without the run's record of its settings, the kept checkpoint itself says it does not fit.
        try FileManager.default.removeItem(atPath: "\(d)/run/settings.json")
        try FileManager.default.removeItem(atPath: "\(d)/run/cells")
        let stale = try CLI.run(["experiment", "run", "\(d)/r.yaml", "--out", "\(d)/run", "--quiet"])
        #expect(stale.status != 0 && stale.stderr.contains("robust-seed0.ckpt was trained with PGD-2, linf epsilon 0.2"), "\(stale.stderr)")
    }
}
