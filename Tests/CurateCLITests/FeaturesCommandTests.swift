import Foundation
import Testing

/// `--features` through the commands a user runs, on fixtures/features/spurious (8-D Gaussian
/// features with a planted spurious "place" direction; see make_fixtures.py).
@Suite struct FeaturesCommandTests {
    static let spurious = CLI.projectRoot.appendingPathComponent("fixtures/features/spurious").path

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    func worstGroup(_ checkpoint: String) throws -> Double {
        let e = try CLI.run(["evaluate", "--model", checkpoint, "--test", "test.csv", "--features", "test.npy",
                             "--by", "label,place", "--json", "-"], in: Self.spurious)
        #expect(e.status == 0, "\(e.stderr)")
        return try #require(try json(e.stdout)["worst_group_accuracy"] as? Double)
    }

    @Test("train and evaluate a linear probe, group DRO and DFR on a feature file")
    func trainAndEvaluate() throws {
        let dir = try CLI.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let common = ["--model", "linear", "--epochs", "20", "--lr", "0.1", "--schedule", "cosine"]
        let erm = try CLI.run(["train", "--train", "train.csv", "--features", "train.npy", "--out", dir + "/erm.ckpt"] + common, in: Self.spurious)
        #expect(erm.status == 0, "\(erm.stderr)")
        let ermWorst = try worstGroup(dir + "/erm.ckpt")
        #expect(ermWorst < 0.45, "ERM should lean on the place: worst group \(ermWorst)")

        let dro = try CLI.run(["train", "--train", "train.csv", "--features", "train.npy", "--loss", "group-dro", "--by", "label,place",
                               "--eta", "0.01", "--out", dir + "/dro.ckpt"] + common, in: Self.spurious)
        #expect(dro.status == 0, "\(dro.stderr)")
        #expect(try worstGroup(dir + "/dro.ckpt") > 0.75)

        let dfr = try CLI.run(["train", "--train", "val.csv", "--features", "val.npy", "--from", dir + "/erm.ckpt", "--mode", "last-layer",
                               "--by", "label,place", "--l1", "0.001", "--epochs", "20", "--lr", "0.1", "--schedule", "cosine",
                               "--out", dir + "/dfr.ckpt"], in: Self.spurious)
        #expect(dfr.status == 0, "\(dfr.stderr)")
        #expect(dfr.stdout.contains("dfr_per_group: 300"))
        #expect(try worstGroup(dir + "/dfr.ckpt") > 0.75)

        // An MLP head (the generic loop, batches gathered from the mapped rows), reweighted by
        // group through a curated manifest whose rows map to the features by source_row.
        let build = try CLI.run(["build", "oversample", "train.csv", "--by", "label,place", "--out", dir + "/over.csv"], in: Self.spurious)
        #expect(build.status == 0, "\(build.stderr)")
        let mlp = try CLI.run(["train", "--train", dir + "/over.csv", "--features", "train.npy", "--model", "mlp", "--epochs", "3",
                               "--lr", "0.05", "--schedule", "cosine", "--out", dir + "/mlp.ckpt"], in: Self.spurious)
        #expect(mlp.status == 0, "\(mlp.stderr)")
        #expect(mlp.stdout.contains("trained mlp on 7600 feature vectors"), "\(mlp.stdout)")
        #expect(try worstGroup(dir + "/mlp.ckpt") > 0.7)
    }

    @Test("mismatched or missing features are clear errors, and nothing is written")
    func errors() throws {
        let dir = try CLI.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wrong = try CLI.run(["train", "--train", "train.csv", "--features", "val.npy", "--model", "linear", "--out", dir + "/x.ckpt"], in: Self.spurious)
        #expect(wrong.status == 2)
        #expect(wrong.stderr.contains("curate: val.npy: holds 1200 vectors but train.csv has 4000 rows"), "\(wrong.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.ckpt"))
        let cnn = try CLI.run(["train", "--train", "train.csv", "--features", "train.npy", "--model", "cnn-small", "--out", dir + "/x.ckpt"], in: Self.spurious)
        #expect(cnn.status != 0 && cnn.stderr.contains("--model linear"))
        let ok = try CLI.run(["train", "--train", "train.csv", "--features", "train.npy", "--model", "linear", "--epochs", "1", "--out", dir + "/p.ckpt"], in: Self.spurious)
        #expect(ok.status == 0, "\(ok.stderr)")
        let noFeatures = try CLI.run(["evaluate", "--model", dir + "/p.ckpt", "--test", "test.csv"], in: Self.spurious)
        #expect(noFeatures.status != 0 && noFeatures.stderr.contains("takes feature vectors"), "\(noFeatures.stderr)")
    }

    @Test("audit --features reports how well each attribute can be read from the features")
    func audit() throws {
        let r = try CLI.run(["audit", "test.csv", "--by", "place", "--features", "test.npy", "--json", "-"], in: Self.spurious)
        #expect(r.status == 1)  // the place is encoded: a high-severity finding
        let report = try json(r.stdout)
        let features = try #require(report["features"] as? [String: Any])
        let probes = try #require(features["attribute_probes"] as? [String: Any])
        let place = try #require(probes["place"] as? [String: Any])
        let ba = try #require(place["balanced_accuracy"] as? Double)
        #expect(abs(ba - 0.99865) < 0.01)  // Phi(3): the place direction is 3 noise SDs from 0
        #expect(features["rows"] as? Int == 4000 && features["dimension"] as? Int == 8)
        let findings = try #require(report["findings"] as? [[String: Any]])
        #expect(findings.first?["kind"] as? String == "attribute_in_features")
    }

    @Test("an experiment over feature files runs every cell")
    func experiment() throws {
        let dir = try CLI.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = Self.spurious
        let yaml = """
        name: features-test
        datasets: {source_biased: \(s)/train.csv, source_clean: \(s)/val.csv, target: \(s)/train.csv, test: \(s)/test.csv}
        features: {source_biased: \(s)/train.npy, source_clean: \(s)/val.npy, target: \(s)/train.npy, test: \(s)/test.npy}
        attribute: place
        interventions: [none, {name: reweight, strategy: reweight}, {name: undersample, strategy: undersample}]
        transfers: [linear]
        sources: [scratch]
        recipe: {model: linear, epochs: 10, lr: 0.1}
        seeds: [0]
        """
        try yaml.write(toFile: dir + "/e.yaml", atomically: true, encoding: .utf8)
        let r = try CLI.run(["experiment", "run", dir + "/e.yaml", "--out", dir + "/out"])
        #expect(r.status == 0, "\(r.stderr)")
        let results = try json(try String(contentsOfFile: dir + "/out/results.json", encoding: .utf8))
        let cells = try #require(results["cells"] as? [[String: Any]])
        #expect(cells.count == 3)
        func worst(_ name: String) -> Double? { cells.first { $0["intervention"] as? String == name }?["worst_group_accuracy"] as? Double }
        #expect((worst("none") ?? 1) < 0.5 && (worst("reweight") ?? 0) > 0.7 && (worst("undersample") ?? 0) > 0.7)

        try yaml.replacingOccurrences(of: "model: linear", with: "model: cnn-small").write(toFile: dir + "/bad.yaml", atomically: true, encoding: .utf8)
        let bad = try CLI.run(["experiment", "run", dir + "/bad.yaml", "--out", dir + "/out2"])
        #expect(bad.status != 0 && bad.stderr.contains("linear or mlp"), "\(bad.stderr)")
        // A linear model is all head: sources would make identical cells, so they are refused.
        try yaml.replacingOccurrences(of: "sources: [scratch]", with: "sources: [clean, biased]").write(toFile: dir + "/src.yaml", atomically: true, encoding: .utf8)
        let sources = try CLI.run(["experiment", "run", dir + "/src.yaml", "--out", dir + "/out4"])
        #expect(sources.status == 2 && sources.stderr.contains("src.yaml:7: source 'clean': a linear model has no layers below its head"), "\(sources.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out4"))

        // The target's vectors from another model (here: fewer values a row) are refused before
        // any cell runs, though target and source share a manifest.
        let narrow = dir + "/train6.npy"
        try Self.npy(rows: 4000, cols: 6).write(to: URL(fileURLWithPath: narrow))
        try yaml.replacingOccurrences(of: "target: \(s)/train.npy", with: "target: \(narrow)").write(toFile: dir + "/narrow.yaml", atomically: true, encoding: .utf8)
        let widths = try CLI.run(["experiment", "run", dir + "/narrow.yaml", "--out", dir + "/out3"])
        #expect(widths.status == 2 && widths.stderr.contains("train6.npy (target) 6: every dataset's vectors must come from one model"), "\(widths.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out3"))
    }

    @Test("a set curated from a curated set is refused with features: its source_row names the other set's rows")
    func chainedCuration() throws {
        let dir = try CLI.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let once = try CLI.run(["build", "undersample", "train.csv", "--by", "label,place", "--per-cell", "100", "--out", dir + "/u100.csv"], in: Self.spurious)
        #expect(once.status == 0, "\(once.stderr)")
        let direct = try CLI.run(["train", "--train", dir + "/u100.csv", "--features", "train.npy", "--model", "linear", "--epochs", "1", "--out", dir + "/a.ckpt"], in: Self.spurious)
        #expect(direct.status == 0, "\(direct.stderr)")
        let twice = try CLI.run(["build", "oversample", dir + "/u100.csv", "--by", "label", "--per-cell", "300", "--out", dir + "/chain.csv"], in: Self.spurious)
        #expect(twice.status == 0, "\(twice.stderr)")
        let chained = try CLI.run(["train", "--train", dir + "/chain.csv", "--features", "train.npy", "--model", "linear", "--epochs", "1", "--out", dir + "/b.ckpt"], in: Self.spurious)
        #expect(chained.status == 2 && chained.stderr.contains("chain.csv was curated from") && chained.stderr.contains("itself a curated set"), "\(chained.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/b.ckpt"))
    }

    /// A float32 C-order .npy of zeros, as numpy.save writes it.
    static func npy(rows: Int, cols: Int) -> Data {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(cols)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var d = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        d += Data(header.utf8)
        d += Data(count: rows * cols * 4)
        return d
    }
}
