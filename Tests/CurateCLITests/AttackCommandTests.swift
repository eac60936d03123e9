import Foundation
import Testing

@Suite("curate evaluate --attack (end to end)")
struct AttackCommandTests {
    @Test("robust accuracies: equal to the clean ones at epsilon 0, lower under a budget that can cross the cue, the same every run")
    func evaluateUnderAttack() throws {
        let toy = try ToySet()
        defer { toy.remove() }
        let d = toy.dir
        let trained = try CLI.run(["train", "--train", "\(d)/train.csv", "--model", "cnn-small"] + ToySet.quick + ["--out", "\(d)/m.ckpt"])
        #expect(trained.status == 0, "\(trained.stderr)")
        func evaluate(_ extra: [String]) throws -> [String: Any] {
            let run = try CLI.run(["evaluate", "--model", "\(d)/m.ckpt", "--test", "\(d)/test.csv", "--by", "label", "--json", "-"] + extra)
            #expect(run.status == 0, "\(run.stderr)")
            return try jsonObject(run.stdout)
        }
        let none = try evaluate(["--attack", "pgd", "--epsilon", "0"])
        #expect(none["robust_accuracy"] as? Double == none["overall_accuracy"] as? Double)
        #expect(none["robust_group_accuracy"] as? [String: Double] == none["group_accuracy"] as? [String: Double])

        // The classes differ by 150 grey levels (200 against 50): a budget of 100 levels a pixel
        // can carry every image across.
        let strong = try evaluate(["--attack", "pgd", "--epsilon", "100/255", "--steps", "10", "--seed", "7"])
        let clean = try #require(strong["overall_accuracy"] as? Double), robust = try #require(strong["robust_accuracy"] as? Double)
        #expect(clean >= 0.95 && robust <= 0.5, "clean \(clean), robust \(robust)")
        let groups = try #require(strong["robust_group_accuracy"] as? [String: Double])
        #expect(Set(groups.keys) == ["label=bright", "label=dark"])
        #expect(strong["worst_group_robust_accuracy"] as? Double == groups.values.min())
        let attack = try #require(strong["attack"] as? [String: Any])
        #expect(attack["method"] as? String == "pgd" && attack["norm"] as? String == "linf" && attack["steps"] as? Int == 10)
        #expect(attack["seed"] as? Int == 7 && attack["random_start"] as? Bool == true)
        #expect(abs((attack["epsilon"] as? Double ?? 0) - 100.0 / 255) < 1e-6)
        let again = try evaluate(["--attack", "pgd", "--epsilon", "100/255", "--steps", "10", "--seed", "7"])
        #expect(again["robust_accuracy"] as? Double == robust && again["robust_group_accuracy"] as? [String: Double] == groups)

        let missing = try CLI.run(["evaluate", "--model", "\(d)/m.ckpt", "--test", "\(d)/test.csv", "--attack", "fgsm"])
        #expect(missing.status != 0 && missing.stderr.contains("--epsilon"))
        let plain = try evaluate([])
        #expect(plain["robust_accuracy"] is NSNull && plain["attack"] is NSNull)
    }

    @Test("adversarial training: the checkpoint records its attack, and its robust accuracy beats a standard model's under the same attack")
    func adversarialTraining() throws {
        let toy = try ToySet()
        defer { toy.remove() }
        let d = toy.dir
        // The classes' means differ by 150 grey levels: under a budget of 70 levels a pixel they
        // stay separable by the mean (200 - 70 > 125 > 50 + 70), but a model whose weights lean
        // on some pixels more than others can be pushed across; training on PGD's images evens it.
        let recipe = ToySet.quick + ["--epochs", "6", "--model", "mlp"]
        for (name, extra) in [("std", [String]()), ("adv", ["--adversarial", "pgd", "--epsilon", "70/255", "--steps", "5"])] {
            let run = try CLI.run(["train", "--train", "\(d)/train.csv", "--out", "\(d)/\(name).ckpt"] + recipe + extra)
            #expect(run.status == 0, "\(run.stderr)")
        }
        func robust(_ name: String) throws -> (Double, Double) {
            let run = try CLI.run(["evaluate", "--model", "\(d)/\(name).ckpt", "--test", "\(d)/test.csv", "--json", "-",
                                   "--attack", "pgd", "--epsilon", "70/255", "--steps", "10"])
            #expect(run.status == 0, "\(run.stderr)")
            let e = try jsonObject(run.stdout)
            return (e["overall_accuracy"] as? Double ?? -1, e["robust_accuracy"] as? Double ?? -1)
        }
        let (stdClean, stdRobust) = try robust("std"), (advClean, advRobust) = try robust("adv")
        print("toy set, PGD-10 at 70/255: standard \(stdClean) clean, \(stdRobust) robust; adversarial \(advClean) clean, \(advRobust) robust")
        #expect(advClean >= 0.9 && advRobust >= 0.9 && advRobust > stdRobust)
        let header = try String(contentsOfFile: "\(d)/adv.ckpt", encoding: .isoLatin1)
        #expect(header.contains("PGD-5, linf epsilon 0.2745"))
        // Fixed-feature fine-tuning attacks the images through the frozen layers (their features
        // are then not precomputed).
        let linear = try CLI.run(["train", "--train", "\(d)/train.csv", "--from", "\(d)/std.ckpt", "--mode", "linear", "--out", "\(d)/lin.ckpt",
                                  "--adversarial", "fgsm", "--epsilon", "70/255"] + recipe)
        #expect(linear.status == 0, "\(linear.stderr)")
        #expect(try String(contentsOfFile: "\(d)/lin.ckpt", encoding: .isoLatin1).contains("FGSM, linf epsilon 0.2745"))
        let refused = try CLI.run(["train", "--train", "\(d)/train.csv", "--out", "\(d)/x.ckpt", "--adversarial", "pgd"] + ToySet.quick)
        #expect(refused.status != 0 && refused.stderr.contains("--epsilon"))
    }

    @Test("--feature-distance: fine-tuning with Zhang et al.'s penalty is recorded; it needs --from and full fine-tuning; a diverging run writes nothing")
    func featureDistance() throws {
        let toy = try ToySet()
        defer { toy.remove() }
        let d = toy.dir
        let source = try CLI.run(["train", "--train", "\(d)/train.csv", "--model", "cnn-small", "--out", "\(d)/src.ckpt"] + ToySet.quick)
        #expect(source.status == 0, "\(source.stderr)")
        let tuned = try CLI.run(["train", "--train", "\(d)/train.csv", "--from", "\(d)/src.ckpt", "--mode", "full", "--feature-distance", "0.1",
                                 "--out", "\(d)/ft.ckpt"] + ToySet.quick)
        #expect(tuned.status == 0, "\(tuned.stderr)")
        #expect(try String(contentsOfFile: "\(d)/ft.ckpt", encoding: .isoLatin1).contains("feature_distance"))
        let noSource = try CLI.run(["train", "--train", "\(d)/train.csv", "--feature-distance", "0.1", "--out", "\(d)/x.ckpt"] + ToySet.quick)
        #expect(noSource.status != 0 && noSource.stderr.contains("--feature-distance needs --from"))
        let frozen = try CLI.run(["train", "--train", "\(d)/train.csv", "--from", "\(d)/src.ckpt", "--mode", "linear", "--feature-distance", "0.1",
                                  "--out", "\(d)/x.ckpt"] + ToySet.quick)
        #expect(frozen.status != 0 && !FileManager.default.fileExists(atPath: "\(d)/x.ckpt"))
        let wild = try CLI.run(["train", "--train", "\(d)/train.csv", "--from", "\(d)/src.ckpt", "--mode", "full", "--feature-distance", "1e6",
                                "--out", "\(d)/x.ckpt"] + ToySet.quick)
        #expect(wild.status == 2 && wild.stderr.contains("diverged") && !FileManager.default.fileExists(atPath: "\(d)/x.ckpt"))
    }
}

