import Foundation
import ImageCodecs
import Testing

/// A small two-class image set the tests make: "bright" and "dark" 8x8 pictures with noise,
/// each tinted red or blue (the attribute), with a test set and a counterfactual test set
/// (the same pictures with brightness inverted, so the label's cue flips).
struct ToySet {
    let dir: String

    init() throws {
        dir = try CLI.temporaryDirectory().path
        var train = "path,label,split,tint\n", test = "path,label,split,tint\n", cf = "path,label,split,tint\n"
        var state: UInt64 = 12345
        func noise() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 59) - 16
        }
        func picture(bright: Bool, red: Bool) -> Image {
            var px: [UInt8] = []
            for _ in 0..<64 {
                let base = (bright ? 200 : 50) + noise()
                let tintR = red ? 30 : 0, tintB = red ? 0 : 30
                px += [UInt8(clamping: base + tintR), UInt8(clamping: base), UInt8(clamping: base + tintB), 255]
            }
            return Image(width: 8, height: 8, pixels: px)
        }
        try FileManager.default.createDirectory(atPath: "\(dir)/img", withIntermediateDirectories: true)
        for i in 0..<60 {
            let bright = i % 2 == 0, red = (i / 2) % 2 == 0
            let label = bright ? "bright" : "dark", tint = red ? "red" : "blue"
            let name = "img/\(i).png"
            try PNGEncoder().write(picture(bright: bright, red: red), to: "\(dir)/\(name)")
            if i < 40 {
                train += "\(name),\(label),train,\(tint)\n"
            } else {
                test += "\(name),\(label),test,\(tint)\n"
                let flipped = "img/cf\(i).png"
                try PNGEncoder().write(picture(bright: !bright, red: red), to: "\(dir)/\(flipped)")
                cf += "\(flipped),\(label),test,\(tint)\n"
            }
        }
        try train.write(toFile: "\(dir)/train.csv", atomically: true, encoding: .utf8)
        try test.write(toFile: "\(dir)/test.csv", atomically: true, encoding: .utf8)
        try cf.write(toFile: "\(dir)/cf.csv", atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }

    static let quick = ["--size", "8", "--epochs", "4", "--batch-size", "8", "--lr", "0.05"]
}

@Suite("curate train and evaluate (end to end)")
struct TrainCommandTests {
    @Test("train, evaluate with groups, predictions and a counterfactual set")
    func trainAndEvaluate() throws {
        let toy = try ToySet()
        defer { toy.remove() }
        let d = toy.dir
        let trained = try CLI.run(["train", "--train", "\(d)/train.csv", "--val", "\(d)/test.csv", "--model", "cnn-small"] + ToySet.quick
                                  + ["--out", "\(d)/m.ckpt", "--json"])
        #expect(trained.status == 0, "\(trained.stderr)")
        let summary = try jsonObject(trained.stdout)
        #expect(summary["classes"] as? [String] == ["bright", "dark"] && summary["train_images"] as? Int == 40)
        let epochs = try #require(summary["epochs"] as? [[String: Any]])
        #expect(epochs.count == 4 && epochs.allSatisfy { $0["validation_accuracy"] is Double })

        let eval = try CLI.run(["evaluate", "--model", "\(d)/m.ckpt", "--test", "\(d)/test.csv", "--by", "label", "--by", "tint",
                                "--json", "-", "--predictions", "\(d)/preds.csv", "--counterfactual", "\(d)/cf.csv"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let e = try jsonObject(eval.stdout)
        // Brightness separates the classes completely: the model must find it.
        #expect((e["overall_accuracy"] as? Double ?? 0) >= 0.95)
        let groups = try #require(e["group_accuracy"] as? [String: Double])
        #expect(Set(groups.keys) == ["label=bright,tint=blue", "label=bright,tint=red", "label=dark,tint=blue", "label=dark,tint=red"])
        #expect(e["worst_group_accuracy"] as? Double == groups.values.min())
        #expect((e["group_count"] as? [String: Int])?.values.reduce(0, +) == 20)
        #expect(e["balanced_accuracy"] != nil)
        // Fairness gaps by tint, for the two-class task ("bright" is the second class, not a
        // conventional positive, so the worst class one-vs-rest is reported), checked against the
        // predictions file below.
        let fairness = try #require((e["fairness"] as? [String: Any])?["by_attribute"] as? [String: [String: Any]])
        #expect(Set(fairness.keys) == ["label", "tint", "label,tint"])
        let tint = try #require(fairness["tint"])
        let gaps = [tint["tpr_gap"] as? Double ?? -1, tint["fpr_gap"] as? Double ?? -1]
        #expect(tint["equalized_odds_difference"] as? Double == gaps.max())
        // The counterfactual inverts the cue the model uses: nearly every prediction flips.
        #expect((e["flip_rate"] as? Double ?? 0) >= 0.9)

        let preds = try String(contentsOfFile: "\(d)/preds.csv", encoding: .utf8).split(separator: "\n")
        // Reserved manifest columns first (the file is itself a manifest), then the rest in order.
        #expect(preds.first == "path,label,split,prediction,prob_bright,prob_dark,tint")
        #expect(preds.count == 21)
        #expect(preds[1].hasPrefix("img/40.png,bright,"))

        // The demographic parity difference by tint, recomputed from the predictions file.
        let positive = try #require(tint["positive"] as? String)
        var selected: [String: (Int, Int)] = [:]
        for row in preds.dropFirst() {
            let f = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            let (prediction, t) = (f[3], f[6])
            selected[t, default: (0, 0)].1 += 1
            if prediction == positive { selected[t, default: (0, 0)].0 += 1 }
        }
        let rates = selected.values.map { Double($0.0) / Double($0.1) }
        #expect(abs((tint["demographic_parity_difference"] as? Double ?? -1) - (rates.max()! - rates.min()!)) < 1e-12)

        // The same set as its own counterfactual flips nothing.
        let same = try CLI.run(["evaluate", "--model", "\(d)/m.ckpt", "--test", "\(d)/test.csv", "--counterfactual", "\(d)/test.csv", "--json", "-"])
        #expect(try jsonObject(same.stdout)["flip_rate"] as? Double == 0)

        // Nothing to evaluate is an error, not accuracies of 0.
        FileManager.default.createFile(atPath: "\(d)/zero.png", contents: Data())
        try "path,label\nzero.png,0\n".write(toFile: "\(d)/zero.csv", atomically: true, encoding: .utf8)
        let none = try CLI.run(["evaluate", "--model", "\(d)/m.ckpt", "--test", "\(d)/zero.csv", "--json", "-"])
        #expect(none.status != 0 && none.stdout.isEmpty && none.stderr.contains("\(d)/zero.csv: none of its 1 images could be loaded"), "\(none.stderr)")
        let noTrain = try CLI.run(["train", "--train", "\(d)/zero.csv", "--size", "8", "--out", "\(d)/z.ckpt"])
        #expect(noTrain.status != 0 && noTrain.stderr.contains("\(d)/zero.csv: none of its 1 images could be loaded"), "\(noTrain.stderr)")
    }

    @Test("the same seed gives the same checkpoint bytes on 1 and 2 threads")
    func deterministic() throws {
        let toy = try ToySet()
        defer { toy.remove() }
        let d = toy.dir
        for threads in ["1", "2"] {
            let r = try CLI.run(["train", "--train", "\(d)/train.csv", "--seed", "3", "--augment", "flip,crop", "--threads", threads]
                                + ToySet.quick + ["--out", "\(d)/t\(threads).ckpt"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let a = try Data(contentsOf: URL(fileURLWithPath: "\(d)/t1.ckpt")), b = try Data(contentsOf: URL(fileURLWithPath: "\(d)/t2.ckpt"))
        #expect(a == b && a.count > 1000)
        for threads in ["1", "2"] {
            let e = try CLI.run(["evaluate", "--model", "\(d)/t1.ckpt", "--test", "\(d)/test.csv", "--threads", threads, "--predictions", "\(d)/p\(threads).csv"])
            #expect(e.status == 0, "\(e.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(d)/p1.csv")) == Data(contentsOf: URL(fileURLWithPath: "\(d)/p2.csv")))
        let other = try CLI.run(["train", "--train", "\(d)/train.csv", "--seed", "4"] + ToySet.quick + ["--out", "\(d)/t4.ckpt"])
        #expect(other.status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(d)/t4.ckpt")) != a)
    }

    @Test("fine-tuning modes, group DRO and JTT run and say what they did")
    func transferAndRobustLosses() throws {
        let toy = try ToySet()
        defer { toy.remove() }
        let d = toy.dir
        let source = try CLI.run(["train", "--train", "\(d)/train.csv"] + ToySet.quick + ["--out", "\(d)/src.ckpt"])
        #expect(source.status == 0, "\(source.stderr)")
        for mode in ["full", "linear"] {
            let r = try CLI.run(["train", "--train", "\(d)/train.csv", "--from", "\(d)/src.ckpt", "--mode", mode, "--epochs", "2",
                                 "--batch-size", "8", "--out", "\(d)/\(mode).ckpt", "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect((try jsonObject(r.stdout)["notes"] as? [String: String])?["fine_tune_mode"] == mode)
        }
        // The checkpoint fixes the architecture and the input shape; options that would be ignored are errors.
        for (extra, message) in [(["--size", "16"], "--size 16: \(d)/src.ckpt takes 8x8 images"),
                                 (["--model", "linear"], "--model linear: \(d)/src.ckpt is a cnn-small"),
                                 (["--channels", "1"], "--channels 1: \(d)/src.ckpt takes 3-channel images"),
                                 (["--eta", "0.1"], "--eta is group DRO's step size: it needs --loss group-dro"),
                                 (["--loss", "group-dro", "--by", "label", "--jtt-lambda", "3"], "--jtt-lambda is JTT's: it needs --loss jtt")] {
            let r = try CLI.run(["train", "--train", "\(d)/train.csv", "--from", "\(d)/src.ckpt", "--epochs", "1", "--out", "\(d)/x.ckpt"] + extra)
            #expect(r.status == 64 && r.stderr.contains(message), "\(extra): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(d)/x.ckpt"))
        let noGroups = try CLI.run(["train", "--train", "\(d)/train.csv", "--from", "\(d)/src.ckpt", "--mode", "last-layer", "--out", "\(d)/x.ckpt"])
        #expect(noGroups.status == 2 && noGroups.stderr.contains("--mode last-layer needs --by"))
        let dfr = try CLI.run(["train", "--train", "\(d)/train.csv", "--from", "\(d)/src.ckpt", "--mode", "last-layer", "--by", "label,tint",
                               "--epochs", "2", "--batch-size", "8", "--out", "\(d)/dfr.ckpt", "--json"])
        #expect(dfr.status == 0, "\(dfr.stderr)")
        #expect((try jsonObject(dfr.stdout)["notes"] as? [String: String])?["dfr_per_group"] == "10")

        let dro = try CLI.run(["train", "--train", "\(d)/train.csv", "--loss", "group-dro", "--by", "label,tint"] + ToySet.quick + ["--out", "\(d)/dro.ckpt"])
        #expect(dro.status == 0, "\(dro.stderr)")
        let jtt = try CLI.run(["train", "--train", "\(d)/train.csv", "--loss", "jtt", "--jtt-epochs", "1"] + ToySet.quick + ["--out", "\(d)/jtt.ckpt", "--json"])
        #expect(jtt.status == 0, "\(jtt.stderr)")
        let notes = try #require(try jsonObject(jtt.stdout)["notes"] as? [String: String])
        #expect(notes["jtt_error_set"] != nil && notes["jtt_lambda"] == "6.0")
        #expect((try jsonObject(jtt.stdout)["epochs"] as? [Any])?.count == 5)
    }

    @Test("bad checkpoints, corrupt images and unknown labels are clear errors or reported skips")
    func badInputs() throws {
        let toy = try ToySet()
        defer { toy.remove() }
        let d = toy.dir
        try Data("not a checkpoint at all, just text that is long enough to be read".utf8).write(to: URL(fileURLWithPath: "\(d)/bad.ckpt"))
        let bad = try CLI.run(["evaluate", "--model", "\(d)/bad.ckpt", "--test", "\(d)/test.csv"])
        #expect(bad.status == 2 && bad.stderr.contains("\(d)/bad.ckpt: not a Curate checkpoint"))

        // A usage check made in run() shows the subcommand's usage, as a parse-time check does.
        let usage = try CLI.run(["train", "--train", "\(d)/train.csv", "--features", "\(d)/none.npy", "--model", "linear",
                                 "--adversarial", "pgd", "--epsilon", "0.03", "--out", "\(d)/x.ckpt"])
        #expect(usage.status == 64 && usage.stderr.hasPrefix("Error: --adversarial perturbs images: it cannot train on --features\nUsage: curate train "))
        #expect(usage.stderr.contains("See 'curate train --help'") && !usage.stderr.contains("<subcommand>"))

        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0]).write(to: URL(fileURLWithPath: "\(d)/img/broken.png"))
        var rows = try String(contentsOfFile: "\(d)/train.csv", encoding: .utf8)
        rows += "img/broken.png,dark,train,red\n"
        try rows.write(toFile: "\(d)/train2.csv", atomically: true, encoding: .utf8)
        let skipped = try CLI.run(["train", "--train", "\(d)/train2.csv", "--model", "linear", "--size", "8", "--epochs", "1", "--out", "\(d)/l.ckpt", "--json"])
        #expect(skipped.status == 1, "\(skipped.stderr)")
        #expect(skipped.stderr.contains("img/broken.png") && skipped.stderr.contains("(skipped)"))
        #expect(try jsonObject(skipped.stdout)["skipped"] as? Int == 1)
        #expect(try jsonObject(skipped.stdout)["train_images"] as? Int == 40)
        // The checkpoint is written; the skipped image is named once on its line, then why.
        #expect(FileManager.default.fileExists(atPath: "\(d)/l.ckpt"))
        let line = try #require(skipped.stderr.split(separator: "\n").first { $0.contains("broken.png") })
        #expect(line.components(separatedBy: "broken.png").count == 2 && line.hasSuffix("(skipped)"), "\(line)")
        let evaluated = try CLI.run(["evaluate", "--model", "\(d)/l.ckpt", "--test", "\(d)/train2.csv", "--json", "\(d)/e.json"])
        #expect(evaluated.status == 1 && evaluated.stderr.contains("(skipped)"), "\(evaluated.stderr)")
        #expect(try jsonObject(String(contentsOfFile: "\(d)/e.json", encoding: .utf8))["skipped"] as? Int == 1)

        try "path,label\nimg/40.png,purple\n".write(toFile: "\(d)/odd.csv", atomically: true, encoding: .utf8)
        let odd = try CLI.run(["evaluate", "--model", "\(d)/l.ckpt", "--test", "\(d)/odd.csv"])
        #expect(odd.status == 2 && odd.stderr.contains("label 'purple' is not one of the model's classes"))

        // A training row without a label is an error naming the manifest and the row, not a class "".
        var unlabelled = try String(contentsOfFile: "\(d)/train.csv", encoding: .utf8)
        unlabelled += "img/40.png,,train,red\n"
        try unlabelled.write(toFile: "\(d)/train3.csv", atomically: true, encoding: .utf8)
        let empty = try CLI.run(["train", "--train", "\(d)/train3.csv", "--model", "linear", "--size", "8", "--epochs", "1", "--out", "\(d)/e.ckpt"])
        #expect(empty.status == 2 && empty.stderr.contains("\(d)/train3.csv line 42: no label"), "\(empty.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(d)/e.ckpt"))
        // Values no recipe can use are refused up front.
        for (flag, value, loss) in [("--lr", "nan", "erm"), ("--lr", "-1", "erm"), ("--momentum", "5", "erm"), ("--eta", "-1", "group-dro"),
                                    ("--jtt-lambda", "-5", "jtt"), ("--threads", "0", "erm")] {
            let r = try CLI.run(["train", "--train", "\(d)/train.csv", "--size", "8", "--epochs", "1", "--loss", loss, "\(flag)=\(value)", "--out", "\(d)/x.ckpt"])
            #expect(r.status != 0 && r.stderr.contains(flag + " must"), "\(flag) \(value): \(r.stderr)")
        }
        // A set that cannot fit in memory as floats is refused before anything is decoded (2.5 TB here).
        try ("path,label\n" + String(repeating: "img/0.png,dark\n", count: 200_000)).write(toFile: "\(d)/huge.csv", atomically: true, encoding: .utf8)
        let huge = try CLI.run(["train", "--train", "\(d)/huge.csv", "--size", "1024", "--epochs", "1", "--out", "\(d)/x.ckpt"])
        #expect(huge.status == 2 && huge.stderr.contains("200000 images at 1024x1024x3 need 2516.6 GB as floats"), "\(huge.stderr)")
        let tiny = try CLI.run(["train", "--train", "\(d)/train.csv", "--size", "2", "--epochs", "1", "--out", "\(d)/x.ckpt"])
        #expect(tiny.status == 2 && tiny.stderr.contains("cnn-small halves its input twice: it needs at least 4x4 pixels"), "\(tiny.stderr)")
        // A counterfactual row must be the test row's image with the attribute changed: same label.
        let cfRows = try String(contentsOfFile: "\(d)/cf.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        let swapped = [cfRows[0]] + cfRows.dropFirst().map { $0.contains(",dark,") ? $0.replacingOccurrences(of: ",dark,", with: ",bright,") : $0.replacingOccurrences(of: ",bright,", with: ",dark,") }
        try (swapped.joined(separator: "\n") + "\n").write(toFile: "\(d)/cf_bad.csv", atomically: true, encoding: .utf8)
        let misaligned = try CLI.run(["evaluate", "--model", "\(d)/l.ckpt", "--test", "\(d)/test.csv", "--counterfactual", "\(d)/cf_bad.csv"])
        #expect(misaligned.status == 2 && misaligned.stderr.contains("cf_bad.csv line 2: label"), "\(misaligned.stderr)")
        let overwrite = try CLI.run(["evaluate", "--model", "\(d)/l.ckpt", "--test", "\(d)/test.csv", "--predictions", "\(d)/test.csv"])
        #expect(overwrite.status != 0 && overwrite.stderr.contains("--predictions \(d)/test.csv is the input --test"), "\(overwrite.stderr)")
        // Nor may the JSON report replace the checkpoint or the test manifest.
        let checkpointBefore = try Data(contentsOf: URL(fileURLWithPath: "\(d)/l.ckpt"))
        for target in ["\(d)/l.ckpt", "\(d)/test.csv"] {
            let r = try CLI.run(["evaluate", "--model", "\(d)/l.ckpt", "--test", "\(d)/test.csv", "--json", target])
            #expect(r.status == 64 && r.stderr.contains("--json \(target) is the input"), "\(r.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(d)/l.ckpt")) == checkpointBefore)
        let notAClass = try CLI.run(["evaluate", "--model", "\(d)/l.ckpt", "--test", "\(d)/test.csv", "--positive", "nosuchclass"])
        #expect(notAClass.status == 64 && notAClass.stderr.contains("--positive nosuchclass is not one of"), "\(notAClass.stderr)")
        // An output that cannot be a file: the path is named, status 2.
        try FileManager.default.createDirectory(atPath: "\(d)/folder.ckpt", withIntermediateDirectories: true)
        let folder = try CLI.run(["train", "--train", "\(d)/train.csv", "--model", "linear", "--size", "8", "--epochs", "1", "--out", "\(d)/folder.ckpt"])
        #expect(folder.status == 2 && folder.stderr.contains("\(d)/folder.ckpt: cannot write: it is a folder"), "\(folder.stderr)")
    }
}
