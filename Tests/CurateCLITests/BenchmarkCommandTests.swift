import Foundation
import ImageCodecs
import Testing

@Suite("curate benchmark make (end to end)")
struct BenchmarkCommandTests {
    func rows(_ path: String) throws -> [[String]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }

    @Test("trigger: the counterfactual is the test set with the patch, row by row", arguments: ["/usr/share/datasets/fashion-mnist", "none"])
    func trigger(source: String) throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let d = dir.path
        let r = try CLI.run(["benchmark", "make", "trigger", "--out", d, "--per-class", "20", "--test-per-class", "10", "--fashion-mnist", source])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(source == "none" ? "procedural" : "Fashion-MNIST"))
        let biased = try rows("\(d)/source_biased.csv"), test = try rows("\(d)/test.csv"), cf = try rows("\(d)/counterfactual.csv")
        #expect(biased.count == 100 && test.count == 30 && cf.count == 30)
        #expect(biased.filter { $0[3] == "yes" }.allSatisfy { $0[1] == "T-shirt/top" } && biased.filter { $0[3] == "yes" }.count == 20)
        for (t, c) in zip(test, cf) {
            #expect(t[1] == c[1] && t[3] == "no" && c[3] == "yes")
            let a = try ImageDecoder().decode(contentsOf: "\(d)/\(t[0])").image, b = try ImageDecoder().decode(contentsOf: "\(d)/\(c[0])").image
            // Identical except the 4x4 white patch in the bottom-right corner.
            for y in 0..<28 {
                for x in 0..<28 {
                    let i = (y * 28 + x) * 4
                    if x >= 24 && y >= 24 { #expect(b.pixels[i] == 255) } else if a.pixels[i] != b.pixels[i] {
                        Issue.record("pixel \(x),\(y) differs outside the patch")
                        return
                    }
                }
            }
        }
    }

    @Test("synthetic: a pool of synthetic images for the rare cells; tint counterfactuals swap the tint")
    func synthetic() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let d = dir.path
        let r = try CLI.run(["benchmark", "make", "synthetic", "--out", d, "--per-class", "20", "--test-per-class", "10"])
        #expect(r.status == 0, "\(r.stderr)")
        let pool = try rows("\(d)/pool.csv"), target = try rows("\(d)/target.csv")
        #expect(!pool.isEmpty && pool.allSatisfy { $0[2] == "synthetic" })
        // The pool covers every (class, tint) cell of the target, the rare ones included.
        let cells = Set(target.map { "\($0[1])|\($0[3])" })
        #expect(Set(pool.map { "\($0[1])|\($0[3])" }) == cells && cells.count == 4)
        for (t, c) in zip(try rows("\(d)/test.csv"), try rows("\(d)/counterfactual.csv")) {
            #expect(t[1] == c[1] && t[3] != c[3])
        }
        let bad = try CLI.run(["benchmark", "make", "nonsense", "--out", d])
        #expect(bad.status != 0 && bad.stderr.contains("unknown benchmark 'nonsense'"))
        // The procedural set has 1,000 training images a class: asking for more is an error, not a smaller benchmark.
        let big = try CLI.run(["benchmark", "make", "trigger", "--out", d + "/big", "--per-class", "1001", "--fashion-mnist", "none"])
        #expect(big.status == 2 && big.stderr.contains("needs 1001 training images of class T-shirt/top and only 1000 are left"), "\(big.stderr)")
        // Built beside its folder and moved in whole: a failure leaves no part of a benchmark.
        #expect(!FileManager.default.fileExists(atPath: d + "/big"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: d).filter { $0.contains("partial") }.isEmpty)
        try Data("x".utf8).write(to: URL(fileURLWithPath: d + "/afile"))
        // A folder named with --fashion-mnist must hold the IDX files: no silent procedural set.
        let wrong = try CLI.run(["benchmark", "make", "trigger", "--out", d + "/wrong", "--per-class", "2", "--fashion-mnist", d + "/nofmnist"])
        #expect(wrong.status == 2 && wrong.stderr.contains("\(d)/nofmnist: no train-images-idx3-ubyte.gz"), "\(wrong.stderr)")
        #expect(!FileManager.default.fileExists(atPath: d + "/wrong"))
        let file = try CLI.run(["benchmark", "make", "trigger", "--out", d + "/afile", "--per-class", "2", "--fashion-mnist", "none"])
        #expect(file.status == 2 && file.stderr.contains("afile: exists and is a file"), "\(file.stderr)")
    }

    @Test("--target-per-class sets the target's size apart from the source's")
    func scarceTarget() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let d = dir.path
        let r = try CLI.run(["benchmark", "make", "tint", "--out", d, "--per-class", "30", "--target-per-class", "5", "--test-per-class", "4"])
        #expect(r.status == 0, "\(r.stderr)")
        let target = try rows("\(d)/target.csv"), source = try rows("\(d)/source_clean.csv"), test = try rows("\(d)/test.csv")
        #expect(target.count == 2 * 5 && source.count == 5 * 30 && test.count == 2 * 4)
        // Every target class has its 5 images, the usual tint on 80% of them (4 of 5).
        for label in Set(target.map { $0[1] }) {
            let rows = target.filter { $0[1] == label }
            #expect(rows.count == 5 && Dictionary(grouping: rows, by: { $0[3] }).values.map(\.count).max() == 4)
        }
    }

    @Test("small classes keep both values of a stated proportion, and say how far it is from the one asked for")
    func smallClasses() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let d = dir.path
        func shares(_ file: String) throws -> [String: [String: Int]] {
            var out: [String: [String: Int]] = [:]
            for r in try rows(file) { out[r[1], default: [:]][r[3], default: 0] += 1 }
            return out
        }
        // 95% of 10 is 9.5: 9 and 1 (both tints kept), not a perfect correlation of 10 and 0.
        let tint = try CLI.run(["benchmark", "make", "tint", "--out", d + "/tint", "--per-class", "10", "--target-per-class", "5", "--test-per-class", "2", "--fashion-mnist", "none"])
        #expect(tint.status == 0, "\(tint.stderr)")
        let biased = try shares(d + "/tint/source_biased.csv")
        #expect(biased.count == 5 && biased.values.allSatisfy { $0.values.sorted() == [1, 9] }, "\(biased)")
        #expect(tint.stderr.contains("warning: source_biased.csv: 90% of each class in its usual tint, not 95%: 10 images a class cannot give 95%"), "\(tint.stderr)")
        // 80% of 5 and 50% of 10 are exact: no warning for them.
        #expect(!tint.stderr.contains("target.csv") && !tint.stderr.contains("source_clean.csv"))
        // 5% of 10 is 0.5: one red image a class, so the red group exists at all.
        let under = try CLI.run(["benchmark", "make", "underrepresented", "--out", d + "/under", "--per-class", "4", "--target-per-class", "10", "--test-per-class", "2", "--fashion-mnist", "none"])
        #expect(under.status == 0, "\(under.stderr)")
        #expect(try shares(d + "/under/target.csv").values.allSatisfy { $0 == ["red": 1, "blue": 9] })
        #expect(under.stderr.contains("target.csv: 10% of each class red, not 5%"), "\(under.stderr)")
        // Every image written is one a manifest names.
        let named = try Set(["source_biased", "source_clean", "target", "test", "counterfactual"].flatMap { try rows("\(d)/under/\($0).csv").map { $0[0] } })
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: d + "/under/images").map { "images/" + $0 }) == named)
        let negative = try CLI.run(["benchmark", "make", "tint", "--out", d + "/neg", "--per-class", "-5"])
        #expect(negative.status == 2 && negative.stderr.contains("--per-class -5: images per class must be at least 1"), "\(negative.stderr)")
    }
}
