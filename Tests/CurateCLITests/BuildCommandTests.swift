import Foundation
import ImageCodecs
import Testing

@Suite("curate build and split (end to end)")
struct BuildCommandTests {
    func provenance(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path + ".provenance.json"))) as? [String: Any])
    }

    @Test("undersample twice with one seed: identical bytes; provenance says what happened")
    func provenanceAndDeterminism() throws {
        let toy = try ToySet()
        defer { toy.remove() }
        let d = toy.dir
        // Make the cells uneven: drop some red rows.
        let rows = try String(contentsOfFile: "\(d)/train.csv", encoding: .utf8).split(separator: "\n")
        let uneven = [String(rows[0])] + rows.dropFirst().enumerated().filter { $0.offset % 5 != 0 || !$0.element.hasSuffix("red") }.map { String($0.element) }
        try (uneven.joined(separator: "\n") + "\n").write(toFile: "\(d)/uneven.csv", atomically: true, encoding: .utf8)
        var outputs: [Data] = []
        for _ in 0..<2 {
            let r = try CLI.run(["build", "undersample", "\(d)/uneven.csv", "--by", "label,tint", "--seed", "7", "--out", "\(d)/a.csv"])
            #expect(r.status == 0, "\(r.stderr)")
            outputs.append(try Data(contentsOf: URL(fileURLWithPath: "\(d)/a.csv")) + Data(contentsOf: URL(fileURLWithPath: "\(d)/a.csv.provenance.json")))
        }
        #expect(outputs[0] == outputs[1])
        let p = try provenance("\(d)/a.csv")
        #expect(p["strategy"] as? String == "undersample" && p["seed"] as? Int == 7)
        #expect((p["input_sha256"] as? String)?.count == 64 && p["curate_version"] is String)
        let cells = try #require(p["cells"] as? [[String: Any]])
        #expect(cells.count == 4 && Set(cells.map { $0["after"] as! Int }).count == 1)
        let header = try String(contentsOfFile: "\(d)/a.csv", encoding: .utf8).split(separator: "\n")[0]
        #expect(header == "path,label,split,weight,source_row,tint")
    }

    @Test("no output replaces an input: split's files, FFR's stages, injected images, an image a row names; a column named twice is refused")
    func outputsNeverReplaceInputs() throws {
        let toy = try ToySet()
        defer { toy.remove() }
        let d = toy.dir
        func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }
        try FileManager.default.createDirectory(atPath: "\(d)/sd", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(d)/train.csv", toPath: "\(d)/sd/train.csv")
        let before = try bytes("\(d)/sd/train.csv")
        let split = try CLI.run(["split", "\(d)/sd/train.csv", "--by", "label,tint", "--out-dir", "\(d)/sd"])
        #expect(split.status == 64 && split.stderr.contains("--out-dir \(d)/sd/train.csv is the input manifest"), "\(split.stderr)")
        #expect(try bytes("\(d)/sd/train.csv") == before)
        try FileManager.default.copyItem(atPath: "\(d)/train.csv", toPath: "\(d)/plan.stage2.csv")
        let ffr = try CLI.run(["build", "ffr", "\(d)/plan.stage2.csv", "--by", "label,tint", "--out", "\(d)/plan.json"])
        #expect(ffr.status == 64 && ffr.stderr.contains("--out \(d)/plan.stage2.csv is the input manifest"), "\(ffr.stderr)")
        // The manifest names an image that an injection of row 0 would write over.
        let rows = try String(contentsOfFile: "\(d)/train.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        let first = rows[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let image = first[0].hasPrefix("/") ? first[0] : "\(d)/\(first[0])"
        try FileManager.default.createDirectory(atPath: "\(d)/imgs", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: image, toPath: "\(d)/imgs/inject-0.png")
        try ([rows[0], (["imgs/inject-0.png"] + first.dropFirst()).joined(separator: ",")].joined(separator: "\n") + "\n")
            .write(toFile: "\(d)/one.csv", atomically: true, encoding: .utf8)
        let imageBefore = try bytes("\(d)/imgs/inject-0.png")
        // New images are named by their content (inject-ROW-HASH.png): written into the folder of
        // the input's images, they leave every image there as it was, and a manifest written
        // before still finds the pictures it names.
        let inject = try CLI.run(["build", "inject", "\(d)/one.csv", "--patch", "2", "--fraction", "1", "--image-dir", "\(d)/imgs", "--out", "\(d)/inj.csv"])
        #expect(inject.status == 0, "\(inject.stderr)")
        #expect(try bytes("\(d)/imgs/inject-0.png") == imageBefore)
        let injected = try String(contentsOfFile: "\(d)/inj.csv", encoding: .utf8).split(separator: "\n")[1].split(separator: ",")[0]
        #expect(injected.hasPrefix("imgs/inject-0-") && injected.hasSuffix(".png") && injected.count == "imgs/inject-0-".count + 12 + 4, "\(injected)")
        #expect(FileManager.default.fileExists(atPath: "\(d)/\(injected)"))
        let report = try CLI.run(["build", "undersample", "\(d)/one.csv", "--by", "label", "--out", "\(d)/imgs/inject-0.png"])
        #expect(report.status == 64 && report.stderr.contains("is a file that \(d)/one.csv names (line 2)"), "\(report.stderr)")
        #expect(try bytes("\(d)/imgs/inject-0.png") == imageBefore)
        for args in [["build", "undersample", "\(d)/train.csv", "--by", "label,tint,label", "--out", "\(d)/u.csv"],
                     ["split", "\(d)/train.csv", "--by", "tint", "--by", "tint", "--out-dir", "\(d)/s2"],
                     ["audit", "\(d)/train.csv", "--by", "tint,tint"]] {
            let r = try CLI.run(args)
            #expect(r.status == 64 && r.stderr.contains("names the column '"), "\(r.stderr)")
        }
    }

    @Test("augment fills cells with transformed images written as PNG, origin synthetic")
    func augment() throws {
        let toy = try ToySet()
        defer { toy.remove() }
        let d = toy.dir
        try "path,label,split,tint\nimg/0.png,bright,train,red\nimg/1.png,dark,train,red\nimg/2.png,bright,train,blue\nimg/3.png,dark,train,blue\nimg/4.png,bright,train,red\nimg/6.png,bright,train,red\n"
            .write(toFile: "\(d)/small.csv", atomically: true, encoding: .utf8)
        let r = try CLI.run(["build", "augment", "\(d)/small.csv", "--by", "label,tint", "--fill", "largest", "--transforms", "flip,crop,jitter,noise,blur",
                             "--seed", "1", "--out", "\(d)/aug.csv"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = try String(contentsOfFile: "\(d)/aug.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(lines.count == 12)   // 4 cells x 3 (the largest)
        let synthetic = lines.filter { $0.contains(",synthetic,") }
        #expect(synthetic.count == 6)
        for line in synthetic {
            let path = String(line.split(separator: ",")[0])
            let full = path.hasPrefix("/") ? path : "\(d)/\(path)"
            #expect(FileManager.default.fileExists(atPath: full), "\(full)")
            #expect(try ImageDecoder().decode(contentsOf: full).image.width == 8)
        }
        let p = try provenance("\(d)/aug.csv")
        #expect((p["achieved"] as? [String: Any])?["generated"] != nil)
        // Every path is relative, so the curated set moves with its folder.
        #expect(lines.allSatisfy { !$0.hasPrefix("/") }, "\(lines.filter { $0.hasPrefix("/") })")
        let moved = d + "-moved"
        try FileManager.default.moveItem(atPath: d, toPath: moved)
        defer { try? FileManager.default.moveItem(atPath: moved, toPath: d) }
        let check = try CLI.run(["scan", "\(moved)/aug.csv", "--catalog", "\(moved)/moved.catalog", "--json"])
        #expect(check.status == 0 && check.stdout.contains("\"missing\":0") && check.stdout.contains("\"decoded\":12"), "\(check.stdout) \(check.stderr)")
    }

    @Test("augment from a pool, and a pool short of images is a warning with the achieved count")
    func pool() throws {
        let toy = try ToySet()
        defer { toy.remove() }
        let d = toy.dir
        try "path,label,tint,origin\nimg/41.png,dark,red,synthetic\nimg/43.png,dark,blue,synthetic\nimg/45.png,bright,blue,real\n".write(toFile: "\(d)/pool.csv", atomically: true, encoding: .utf8)
        try "path,label,tint\nimg/0.png,bright,red\nimg/4.png,bright,red\nimg/1.png,dark,red\nimg/2.png,bright,blue\nimg/3.png,dark,blue\n"
            .write(toFile: "\(d)/m.csv", atomically: true, encoding: .utf8)
        let r = try CLI.run(["build", "augment", "\(d)/m.csv", "--by", "label,tint", "--pool", "\(d)/pool.csv", "--out", "\(d)/o.csv"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("warning: cell label=bright,tint=blue: the pool has 0 synthetic images for it, 1 short of 1"))
        let text = try String(contentsOfFile: "\(d)/o.csv", encoding: .utf8)
        #expect(text.contains("41.png") && !text.contains("45.png"))
        // The pool's real row is not used, and the warning says so.
        #expect(r.stderr.contains("1 of the pool's 3 rows are not origin=synthetic and are not used"), "\(r.stderr)")
    }

    @Test("inject a trigger patch into one group; ffr writes a plan the trainer runs")
    func injectAndFFR() throws {
        let toy = try ToySet()
        defer { toy.remove() }
        let d = toy.dir
        let r = try CLI.run(["build", "inject", "\(d)/train.csv", "--patch", "3", "--colour", "#00ff00", "--position", "top-left",
                             "--fraction", "0.5", "--group", "label=dark", "--out", "\(d)/trig.csv", "--seed", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        let negative = try CLI.run(["build", "inject", "\(d)/train.csv", "--patch=-4", "--fraction", "0.5", "--out", "\(d)/neg.csv"])
        #expect(negative.status == 64 && negative.stderr.contains("--patch must be 1 pixel or more (got -4)"), "\(negative.stderr)")
        let rows = try String(contentsOfFile: "\(d)/trig.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        let marked = rows.filter { $0.hasSuffix(",yes") }
        #expect(marked.count == 10 && marked.allSatisfy { $0.contains(",dark,") })
        let first = String(marked.first!.split(separator: ",")[0])
        let image = try ImageDecoder().decode(contentsOf: first.hasPrefix("/") ? first : "\(d)/\(first)").image
        #expect(Array(image.pixels[0..<4]) == [0, 255, 0, 255])

        // FFR: half the rows synthetic.
        var csv = "path,label,tint,origin\n"
        for (i, line) in try String(contentsOfFile: "\(d)/train.csv", encoding: .utf8).split(separator: "\n").dropFirst().enumerated() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            csv += "\(f[0]),\(f[1]),\(f[3]),\(i % 4 < 2 ? "real" : "synthetic")\n"
        }
        try csv.write(toFile: "\(d)/mixed.csv", atomically: true, encoding: .utf8)
        let plan = try CLI.run(["build", "ffr", "\(d)/mixed.csv", "--by", "label,tint", "--stage2", "balanced", "--out", "\(d)/plan.json"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(FileManager.default.fileExists(atPath: "\(d)/plan.stage1.csv") && FileManager.default.fileExists(atPath: "\(d)/plan.stage2.csv"))
        let s1 = try String(contentsOfFile: "\(d)/plan.stage1.csv", encoding: .utf8)
        #expect(!s1.contains(",real,"))
        let trained = try CLI.run(["train", "--plan", "\(d)/plan.json", "--size", "8", "--epochs", "1", "--batch-size", "8", "--out", "\(d)/ffr.ckpt"])
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(trained.stdout.contains("plan stage 1"))
        // Every field of an edited plan is read: unknown versions, inits and modes are refused,
        // and a later stage's mode is how it trains (linear: a different model from full).
        let text = try String(contentsOfFile: "\(d)/plan.json", encoding: .utf8)
        for (edit, message) in [(text.replacingOccurrences(of: "\"version\": 1", with: "\"version\": 99"), "plan version 99 is not supported"),
                                (text.replacingOccurrences(of: "\"mode\": \"full\"", with: "\"mode\": \"bogus\""), "stage 2 has mode \"bogus\""),
                                (text.replacingOccurrences(of: "\"init\": \"previous\"", with: "\"init\": \"scratch\""), "stage 2 has init \"scratch\""),
                                (text.replacingOccurrences(of: "plan.stage2.csv", with: "gone.csv"), "stage 2's manifest")] {
            #expect(edit != text, "the edit must change the plan: \(message)")
            try edit.write(toFile: "\(d)/edited.json", atomically: true, encoding: .utf8)
            let r = try CLI.run(["train", "--plan", "\(d)/edited.json", "--size", "8", "--epochs", "1", "--batch-size", "8", "--out", "\(d)/e.ckpt"])
            #expect(r.status == 2 && r.stderr.contains("edited.json: ") && r.stderr.contains(message), "\(message): \(r.stderr)")
        }
        try text.replacingOccurrences(of: "\"mode\": \"full\"", with: "\"mode\": \"linear\"").write(toFile: "\(d)/linear.json", atomically: true, encoding: .utf8)
        let linear = try CLI.run(["train", "--plan", "\(d)/linear.json", "--size", "8", "--epochs", "1", "--batch-size", "8", "--out", "\(d)/lin.ckpt"])
        #expect(linear.status == 0, "\(linear.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(d)/lin.ckpt")) != Data(contentsOf: URL(fileURLWithPath: "\(d)/ffr.ckpt")))
        // --json reports every stage in order: its manifest, mode, images and epochs.
        let json = try CLI.run(["train", "--plan", "\(d)/linear.json", "--size", "8", "--epochs", "2", "--batch-size", "8", "--out", "\(d)/lin2.ckpt", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let stages = try #require(try jsonObject(json.stdout)["stages"] as? [[String: Any]])
        let sizes = try ["stage1", "stage2"].map { try String(contentsOfFile: "\(d)/plan.\($0).csv", encoding: .utf8).split(separator: "\n").count - 1 }
        #expect(stages.map { $0["stage"] as? Int } == [1, 2])
        #expect(stages.map { ($0["manifest"] as? String).map { ($0 as NSString).lastPathComponent } } == ["plan.stage1.csv", "plan.stage2.csv"])
        #expect(stages.map { $0["mode"] as? String } == ["full", "linear"])
        #expect(stages.map { $0["train_images"] as? Int } == sizes.map { Optional($0) })
        #expect(stages.map { ($0["epochs"] as? [Any])?.count } == [2, 2])
    }

    @Test("split writes three stratified manifests; bad input is a clear error")
    func split() throws {
        let toy = try ToySet()
        defer { toy.remove() }
        let d = toy.dir
        let r = try CLI.run(["split", "\(d)/train.csv", "--by", "label,tint", "--ratios", "0.5,0.25,0.25", "--out-dir", "\(d)/s"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("| all "))
        for (name, n) in [("train", 20), ("val", 10), ("test", 10)] {
            let rows = try String(contentsOfFile: "\(d)/s/\(name).csv", encoding: .utf8).split(separator: "\n").count - 1
            #expect(rows == n)
        }
        let bad = try CLI.run(["build", "undersample", "\(d)/train.csv", "--by", "race", "--out", "\(d)/x.csv"])
        #expect(bad.status == 2 && bad.stderr.contains("unknown column 'race'"))
        #expect(!FileManager.default.fileExists(atPath: "\(d)/x.csv"))
        let unreachable = try CLI.run(["build", "correlate", "\(d)/train.csv", "--by", "split", "--strength", "0.5", "--out", "\(d)/y.csv"])
        #expect(unreachable.status == 2 && unreachable.stderr.contains("needs a binary label and a binary attribute"))
    }

    @Test("split and build write their files as one set: one that cannot be written leaves none of the others")
    func outputsAsOneSet() throws {
        let toy = try ToySet()
        defer { toy.remove() }
        let d = toy.dir
        // test.csv cannot be written (a folder stands there): train.csv and val.csv must not appear.
        try FileManager.default.createDirectory(atPath: "\(d)/s/test.csv", withIntermediateDirectories: true)
        let split = try CLI.run(["split", "\(d)/train.csv", "--by", "label,tint", "--out-dir", "\(d)/s"])
        #expect(split.status != 0 && split.stderr.contains("test.csv"), "\(split.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: "\(d)/s")
        #expect(left == ["test.csv"], "\(left)")
        // The provenance cannot be written: the manifest must not appear either.
        try FileManager.default.createDirectory(atPath: "\(d)/o.csv.provenance.json", withIntermediateDirectories: true)
        let build = try CLI.run(["build", "oversample", "\(d)/train.csv", "--by", "label,tint", "--out", "\(d)/o.csv"])
        #expect(build.status != 0 && build.stderr.contains("o.csv.provenance.json"), "\(build.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(d)/o.csv"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: d).allSatisfy { !$0.contains(".tmp-") })
    }

    @Test("a build over thousands of cells prints the first 50 and points at the provenance for the rest")
    func manyCells() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let d = dir.path
        // 3,000 cells of two rows each: the table stops at 50; the provenance holds all 3,000.
        let rows = (0..<6000).map { "i\($0).png,\($0 % 2),s\($0 % 3000)" }
        try (["path,label,site"] + rows).joined(separator: "\n").appending("\n").write(toFile: "\(d)/m.csv", atomically: true, encoding: .utf8)
        let r = try CLI.run(["build", "undersample", "\(d)/m.csv", "--by", "label,site", "--out", "\(d)/u.csv"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.lines.count == 1 + 50 + 3, "\(r.lines.count)")
        #expect(r.stdout.contains("achieved: in \(d)/u.csv.provenance.json"))
        #expect(r.stdout.contains("... 2950 more cells in \(d)/u.csv.provenance.json"))
        let cells = try #require(try provenance("\(d)/u.csv")["cells"] as? [[String: Any]])
        #expect(cells.count == 3000)
    }
}
