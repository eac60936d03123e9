import DatasetCatalog
import Foundation
import ImageCodecs
import Testing

@Suite("curate import, tag, scan, manifest (end to end)")
struct DatasetCommandTests {
    func png(_ path: String, _ fill: SIMD4<UInt8>, size: Int = 16) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try PNGEncoder().write(Image(width: size, height: size, fill: fill), to: path)
    }

    @Test("import imagefolder, tag, scan --json, manifest check: the whole path a user takes")
    func workflow() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let d = dir.path
        try png("\(d)/data/train/cat/1.png", [200, 30, 30, 255])
        try png("\(d)/data/train/dog/2.png", [30, 30, 200, 255])
        try png("\(d)/data/test/cat/3.png", [200, 30, 30, 255])  // the same picture as 1.png: leaks
        try png("\(d)/data/test/dog/4.png", [40, 40, 40, 255], size: 40)
        let imported = try CLI.run(["import", "imagefolder", "\(d)/data", "--levels", "split,label", "--out", "\(d)/out/m.csv"])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(try String(contentsOfFile: "\(d)/out/m.csv", encoding: .utf8)
                == "path,label,split\n../data/test/cat/3.png,cat,test\n../data/test/dog/4.png,dog,test\n../data/train/cat/1.png,cat,train\n../data/train/dog/2.png,dog,train\n")

        let scan = try CLI.run(["scan", "\(d)/out/m.csv", "--catalog", "\(d)/c.catalog", "--json", "--report", "\(d)/report.json"])
        #expect(scan.status == 0, "\(scan.stderr)")
        let summary = try jsonObject(scan.stdout)
        #expect(summary["images"] as? Int == 4 && summary["decoded"] as? Int == 4 && summary["failed"] as? Int == 0 && summary["missing"] as? Int == 0)
        #expect(summary["duplicate_groups"] as? Int == 1 && summary["exact_duplicate_groups"] as? Int == 1 && summary["leaking_groups"] as? Int == 1)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(d)/report.json"))) as? [String: Any])
        let clusters = try #require(report["clusters"] as? [[String: Any]])
        #expect(clusters.first?["splits"] as? [String] == ["test", "train"])

        let tagged = try CLI.run(["tag", "\(d)/out/m.csv", "--pixels", "hue,size", "--catalog", "\(d)/c.catalog",
                                  "--rule", "red_cat=label == cat && hue == red", "--out", "\(d)/out/t.jsonl"])
        #expect(tagged.status == 0, "\(tagged.stderr)")
        let check = try CLI.run(["manifest", "check", "\(d)/out/t.jsonl", "--json"])
        let values = try #require(try jsonObject(check.stdout)["values"] as? [String: [String: Int]])
        #expect(values["hue"] == ["red": 2, "blue": 1, "none": 1])
        #expect(values["red_cat"] == ["yes": 2, "no": 2])
        #expect(values["size"] == ["small": 4])
    }

    @Test("tag --catalog decodes a file that changed since the scan instead of using its stale statistics")
    func tagAfterAChange() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let d = dir.path
        try png("\(d)/img/a.png", [250, 250, 250, 255])
        try png("\(d)/img/b.png", [20, 20, 20, 255])
        try "path,label\nimg/a.png,x\nimg/b.png,y\n".write(toFile: "\(d)/m.csv", atomically: true, encoding: .utf8)
        let scan = try CLI.run(["scan", "\(d)/m.csv", "--catalog", "\(d)/c.catalog", "--json"])
        #expect(scan.status == 0, "\(scan.stderr)")
        try png("\(d)/img/a.png", [20, 20, 20, 255], size: 40)  // now dark and larger: new size and time
        let tagged = try CLI.run(["tag", "\(d)/m.csv", "--catalog", "\(d)/c.catalog", "--pixels", "brightness", "--out", "\(d)/t.csv"])
        #expect(tagged.status == 0, "\(tagged.stderr)")
        let fresh = try CLI.run(["tag", "\(d)/m.csv", "--pixels", "brightness", "--out", "\(d)/f.csv"])
        #expect(fresh.status == 0, "\(fresh.stderr)")
        let t = try String(contentsOfFile: "\(d)/t.csv", encoding: .utf8)
        #expect(t == (try String(contentsOfFile: "\(d)/f.csv", encoding: .utf8)) && t.contains("img/a.png,x,dark"), "\(t)")
        // A report or catalog that names one of the manifest's images is refused, before the scan.
        let before = try Data(contentsOf: URL(fileURLWithPath: "\(d)/img/b.png"))
        let over = try CLI.run(["scan", "\(d)/m.csv", "--catalog", "\(d)/c.catalog", "--report", "\(d)/img/b.png"])
        #expect(over.status == 64 && over.stderr.contains("--report \(d)/img/b.png is a file that \(d)/m.csv names (line 3)"), "\(over.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(d)/img/b.png")) == before)
        let self_ = try CLI.run(["tag", "\(d)/m.csv", "--pixels", "size", "--out", "\(d)/m.csv"])
        #expect(self_.status == 64 && self_.stderr.contains("--out \(d)/m.csv is the input manifest"), "\(self_.stderr)")
    }

    @Test("an importer's --label keeps the layout's own label as class, and refuses a reserved column")
    func importLabel() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let d = dir.path
        try png("\(d)/data/cat/1.png", [200, 30, 30, 255])
        try png("\(d)/data/dog/2.png", [30, 30, 200, 255])
        let reserved = try CLI.run(["import", "imagefolder", "\(d)/data", "--label", "path", "--out", "\(d)/p.csv"])
        #expect(reserved.status == 64 && reserved.stderr.contains("--label path: path is a reserved column"), "\(reserved.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(d)/p.csv"))
        try "img_filename,y,split,place\nx/1.png,1,0,0\nx/2.png,0,2,1\n".write(toFile: "\(d)/metadata.csv", atomically: true, encoding: .utf8)
        let wb = try CLI.run(["import", "waterbirds", d, "--label", "place", "--out", "\(d)/wb.csv"])
        #expect(wb.status == 0, "\(wb.stderr)")
        let text = try String(contentsOfFile: "\(d)/wb.csv", encoding: .utf8)
        let plain = try CLI.run(["import", "waterbirds", d, "--out", "\(d)/wb0.csv"])
        #expect(plain.status == 0, "\(plain.stderr)")
        let rows = try String(contentsOfFile: "\(d)/wb0.csv", encoding: .utf8).split(separator: "\n")
        // The bird (the layout's label) survives as `class`; the place is the label.
        #expect(text == "path,label,split,class\nx/1.png,land,train,waterbird\nx/2.png,water,test,landbird\n", "\(text)")
        #expect(rows.count == 3 && rows[0] == "path,label,split,place")
        let over = try CLI.run(["import", "waterbirds", d, "--out", "\(d)/metadata.csv"])
        #expect(over.status == 64 && over.stderr.contains("is the input file"), "\(over.stderr)")
    }

    @Test("scan exits 1 when an image is missing or corrupt, and still records the rest")
    func scanFailures() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try png(dir.path + "/ok.png", [1, 2, 3, 255])
        try Data("garbage".utf8).write(to: dir.appendingPathComponent("bad.png"))
        try "path\nok.png\nbad.png\ngone.png\n".write(toFile: dir.path + "/m.csv", atomically: true, encoding: .utf8)
        let out = try CLI.run(["scan", dir.path + "/m.csv", "--catalog", dir.path + "/c.db"])
        #expect(out.status == 1)
        #expect(out.stdout.contains("images 3: 1 decoded, 1 failed, 1 missing"))
        #expect(out.stdout.contains("bad.png: unsupportedFormat"))
    }

    @Test("a malformed manifest stops the command with file:line, exit 2, and writes nothing")
    func badManifest() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.path + "/bad.csv"
        try "path,label,weight\na.png,x,1\nb.png,y,-3\n".write(toFile: bad, atomically: true, encoding: .utf8)
        for args in [["manifest", "convert", bad, dir.path + "/out.jsonl"], ["tag", bad, "--combine", "c=label+weight", "--out", dir.path + "/out.csv"]] {
            let out = try CLI.run(args)
            #expect(out.status == 2, "\(args)")
            #expect(out.stderr.contains("\(bad):3: invalid weight '-3'"), "\(out.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["bad.csv"])
    }

    @Test("import utkface reports malformed names, exits 1, and writes the good rows")
    func utkFace() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["30_1_0_20170109.jpg", "bad_name.jpg"] { try Data([0xFF, 0xD8]).write(to: dir.appendingPathComponent(name)) }
        let out = try CLI.run(["import", "utkface", dir.path, "--label", "gender", "--out", dir.path + "/u.csv"])
        #expect(out.status == 1)
        #expect(out.stderr.contains("bad_name.jpg: name is not"))
        #expect(try String(contentsOfFile: dir.path + "/u.csv", encoding: .utf8) == "path,label,age,race\n30_1_0_20170109.jpg,female,30,White\n")
    }

    @Test("import idx: class names given twice or empty are usage errors (two labels would merge), and nothing is written")
    func idxClassNames() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Two 1x1 images with labels 0 and 1, as IDX files.
        try Data([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 7, 9]).write(to: dir.appendingPathComponent("images"))
        try Data([0, 0, 8, 1, 0, 0, 0, 2, 0, 1]).write(to: dir.appendingPathComponent("labels"))
        for (names, message) in [("cat,cat", "--class-names names 'cat' twice"), ("cat,", "--class-names has an empty name")] {
            let r = try CLI.run(["import", "idx", dir.path + "/images", dir.path + "/labels", "--class-names", names, "--out", dir.path + "/o"])
            #expect(r.status == 64 && r.stderr.contains(message), "\(names): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/o"))
        }
        let good = try CLI.run(["import", "idx", dir.path + "/images", dir.path + "/labels", "--class-names", "cat,dog", "--out", dir.path + "/o"])
        #expect(good.status == 0, "\(good.stderr)")
        let manifest = try String(contentsOfFile: dir.path + "/o/manifest.csv", encoding: .utf8)
        #expect(manifest.contains(",cat") && manifest.contains(",dog"), "\(manifest)")
    }

    @Test("import idx builds a new folder beside its place and renames it in; into a folder that exists it moves the images in before the manifest; killed imports' working folders go")
    func idxStaged() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fm = FileManager.default
        try Data([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 7, 9]).write(to: dir.appendingPathComponent("images"))
        try Data([0, 0, 8, 1, 0, 0, 0, 2, 0, 1]).write(to: dir.appendingPathComponent("labels"))
        // What a killed import leaves: a working folder named for a process that is gone.
        let dead = "\(dir.path)/.o.partial-999999"
        try fm.createDirectory(atPath: dead + "/images", withIntermediateDirectories: true)
        let first = try CLI.run(["import", "idx", dir.path + "/images", dir.path + "/labels", "--split", "test", "--out", dir.path + "/o"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try fm.contentsOfDirectory(atPath: dir.path).sorted() == ["images", "labels", "o"])
        #expect(try fm.contentsOfDirectory(atPath: dir.path + "/o").sorted() == ["images", "manifest.csv"])
        // A second split into the same folder keeps the first's files and leaves no working folder.
        try fm.createDirectory(atPath: dir.path + "/o/.images.partial-999999", withIntermediateDirectories: true)
        let second = try CLI.run(["import", "idx", dir.path + "/images", dir.path + "/labels", "--split", "train", "--manifest", "train.csv", "--out", dir.path + "/o"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try fm.contentsOfDirectory(atPath: dir.path + "/o").sorted() == ["images", "manifest.csv", "train.csv"])
        #expect(try fm.contentsOfDirectory(atPath: dir.path + "/o/images").sorted() == ["test-00000.png", "test-00001.png", "train-00000.png", "train-00001.png"])
        // Both manifests read back, and every image they name decodes to the IDX pixel.
        for (file, split) in [("manifest.csv", "test"), ("train.csv", "train")] {
            let text = try String(contentsOfFile: "\(dir.path)/o/\(file)", encoding: .utf8)
            #expect(text == "path,label,split\nimages/\(split)-00000.png,0,\(split)\nimages/\(split)-00001.png,1,\(split)\n")
        }
        let pixel = try ImageDecoder().decode(contentsOf: dir.path + "/o/images/train-00001.png").image.pixels
        #expect(Array(pixel) == [9, 9, 9, 255])
        // An import that fails leaves no folder, and no working folder, behind.
        let bad = try CLI.run(["import", "idx", dir.path + "/images", dir.path + "/labels", "--class-names", "cat", "--out", dir.path + "/p"])
        #expect(bad.status == 2 && bad.stderr.contains("label 1 has no class name"), "\(bad.stderr)")
        #expect(try fm.contentsOfDirectory(atPath: dir.path).sorted() == ["images", "labels", "o"])
    }

    @Test("tag --regex that backtracks exponentially is stopped with the pattern and the path, and nothing is written")
    func regexThatNeverReturns() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // (a+)+$ against 40 a's and a b tries about 2^40 ways: no machine finishes it.
        try "path,label\n\(String(repeating: "a", count: 40))b,1\nb/c.png,0\n".write(toFile: dir.path + "/m.csv", atomically: true, encoding: .utf8)
        let r = try CLI.run(["tag", dir.path + "/m.csv", "--regex", "^(?<x>(a+)+)$", "--out", dir.path + "/t.csv"],
                            environment: ["CURATE_REGEX_SECONDS": "0.5"])
        #expect(r.status == 2 && r.stderr.contains("--regex '^(?<x>(a+)+)$' matched \(String(repeating: "a", count: 40))b for more than 1 s"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/t.csv"))
        // A pattern that answers is untouched by the watch.
        let ok = try CLI.run(["tag", dir.path + "/m.csv", "--regex", "^(?<dir>[^/]+)/", "--out", dir.path + "/t.csv"], environment: ["CURATE_REGEX_SECONDS": "0.5"])
        let tagged = try String(contentsOfFile: dir.path + "/t.csv", encoding: .utf8)
        #expect(ok.status == 1 && tagged.hasSuffix("b/c.png,0,b\n"), "\(ok.stderr)")
    }
}
