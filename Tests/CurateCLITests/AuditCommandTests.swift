import Foundation
import ImageCodecs
import Testing

@Suite("curate audit (end to end)")
struct AuditCommandTests {
    /// 40 rows: label x gender with a strong association, a weight column, and images: the
    /// synthetic ones are much brighter (a shortcut), and one test image copies a train image.
    func makeSet(_ d: String) throws {
        try FileManager.default.createDirectory(atPath: "\(d)/img", withIntermediateDirectories: true)
        var csv = "path,label,split,origin,weight,gender\n"
        for i in 0..<40 {
            let synthetic = i % 2 == 1
            let gender = i < 28 ? (i % 4 < 3 ? "f" : "m") : "m"
            let label = gender == "f" ? (i % 7 == 0 ? "no" : "yes") : (i % 5 == 0 ? "yes" : "no")
            let v = UInt8(synthetic ? 200 + i % 40 : 40 + i % 40)
            var px: [UInt8] = []
            for p in 0..<64 { px += [v, UInt8(truncatingIfNeeded: Int(v) + p), v, 255] }
            try PNGEncoder().write(Image(width: 8, height: 8, pixels: px), to: "\(d)/img/\(i).png")
            let split = i == 39 ? "test" : "train"
            let path = i == 39 ? "img/0.png" : "img/\(i).png"   // the test row reuses a train image
            csv += "\(path),\(label),\(split),\(synthetic ? "synthetic" : "real"),\(1 + Double(i % 3) / 2),\(gender)\n"
        }
        try csv.write(toFile: "\(d)/m.csv", atomically: true, encoding: .utf8)
    }

    @Test("JSON schema, Markdown, HTML, image findings, exit status")
    func audit() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let d = dir.path
        try makeSet(d)
        let scan = try CLI.run(["scan", "\(d)/m.csv", "--catalog", "\(d)/c.catalog"])
        #expect(scan.status == 0, "\(scan.stderr)")
        let r = try CLI.run(["audit", "\(d)/m.csv", "--by", "gender", "--by", "origin", "--catalog", "\(d)/c.catalog",
                             "--json", "\(d)/a.json", "--markdown", "\(d)/a.md", "--html", "\(d)/a.html"])
        // High-severity findings (leakage, the synthetic shortcut) make the status 1.
        #expect(r.status == 1, "\(r.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(d)/a.json"))) as? [String: Any])
        #expect(doc["weighted"] as? Bool == true && doc["rows"] as? Int == 40)
        let attributes = try #require(doc["attributes"] as? [String: [String: Any]])
        #expect(Set(attributes.keys) == ["gender", "origin", "gender,origin"])
        let gender = try #require(attributes["gender"])
        for key in ["cells", "chi2", "dof", "p_value", "cramers_v", "mutual_information_nats", "statistical_parity_difference",
                    "disparate_impact", "representation_ratio", "reweighing"] {
            #expect(gender[key] != nil, "missing \(key)")
        }
        let cell = try #require((gender["cells"] as? [[String: Any]])?.first)
        #expect(Set(cell.keys).isSuperset(of: ["label", "value", "count", "share", "wilson_low", "wilson_high"]))
        let rw = try #require((gender["reweighing"] as? [[String: Any]])?.first)
        #expect(Set(rw.keys) == ["label", "value", "weight"])
        let findings = try #require(doc["findings"] as? [[String: Any]])
        let kinds = findings.map { $0["kind"] as? String ?? "" }
        #expect(kinds.contains("split_leakage") && kinds.contains("synthetic_shortcut") && kinds.contains("label_association"))
        #expect(findings.first?["severity"] as? String == "high")
        let images = try #require(doc["images"] as? [String: Any])
        #expect(images["leaking_groups"] as? Int == 1)
        let separability = try #require(images["real_vs_synthetic"] as? [String: Any])
        // 19 bright synthetic images above all 20 real ones; the 20th synthetic row reuses a real
        // image, which ties with itself: AUC = (19 * 20 + 0.5) / 400.
        #expect((separability["auc"] as? [String: Double])?["brightness"] == 380.5 / 400)
        // No NaN anywhere: undefined values are null.
        let text = try String(contentsOfFile: "\(d)/a.json", encoding: .utf8)
        #expect(text.range(of: #"\b(nan|NaN|-?inf|Infinity)\b"#, options: .regularExpression) == nil)
        let md = try String(contentsOfFile: "\(d)/a.md", encoding: .utf8)
        #expect(md.contains("## Findings") && md.contains("## gender"))
        let html = try String(contentsOfFile: "\(d)/a.html", encoding: .utf8)
        #expect(html.hasPrefix("<!doctype html>") && html.contains("<svg") && !html.contains("<script"))
    }

    @Test("an output that names an input, or another output, is refused before anything is written")
    func outputsDoNotOverwriteInputs() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let d = dir.path
        let text = "path,label,attr\na.png,0,x\nb.png,1,y\n"
        try text.write(toFile: "\(d)/b.csv", atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["audit", "\(d)/b.csv", "--by", "attr", "--json", "\(d)/./b.csv"], "--json \(d)/./b.csv is the input manifest \(d)/b.csv"),
            (["audit", "\(d)/b.csv", "--by", "attr", "--json", "\(d)/r", "--html", "\(d)/r"], "--html and --json both name \(d)/r"),
            (["scan", "\(d)/b.csv", "--catalog", "\(d)/c.db", "--report", "\(d)/b.csv"], "--report \(d)/b.csv is the input manifest"),
            (["build", "undersample", "\(d)/b.csv", "--by", "label", "--out", "\(d)/b.csv"], "--out \(d)/b.csv is the input manifest"),
            (["train", "--train", "\(d)/b.csv", "--out", "\(d)/b.csv"], "--out \(d)/b.csv is the input --train"),
        ]
        for (arguments, message) in cases {
            let r = try CLI.run(arguments)
            #expect(r.status == 64 && r.stderr.contains(message), "\(arguments): \(r.stderr)")
            #expect(try String(contentsOfFile: "\(d)/b.csv", encoding: .utf8) == text)
        }
        #expect(!FileManager.default.fileExists(atPath: "\(d)/r") && !FileManager.default.fileExists(atPath: "\(d)/c.db"))
    }

    @Test("bad input: a missing column is named, with exit status 2")
    func missingColumn() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try "path,label,gender\na.png,yes,f\n".write(toFile: dir.path + "/m.csv", atomically: true, encoding: .utf8)
        let r = try CLI.run(["audit", dir.path + "/m.csv", "--by", "race"])
        #expect(r.status == 2 && r.stderr.contains("m.csv: the manifest has no column 'race'"))
        try "path,label,gender\n".write(toFile: dir.path + "/empty.csv", atomically: true, encoding: .utf8)
        let empty = try CLI.run(["audit", dir.path + "/empty.csv", "--by", "gender"])
        #expect(empty.status == 2 && empty.stderr.contains("empty.csv: no rows to audit"), "\(empty.stderr)")
        let ok = try CLI.run(["audit", dir.path + "/m.csv", "--by", "gender", "--json", "-"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let doc = try jsonObject(ok.stdout)
        // One group, one label: association and parity are undefined, and say so with null.
        let g = try #require((doc["attributes"] as? [String: [String: Any]])?["gender"])
        #expect(g["chi2"] is NSNull && g["cramers_v"] is NSNull && g["disparate_impact"] is NSNull)
        // '-' is stdout for the Markdown and HTML reports too (no file named "-"); only one may take it.
        let md = try CLI.run(["audit", "m.csv", "--by", "gender", "--markdown", "-"], in: dir.path)
        #expect(md.status == 0 && md.stdout.hasPrefix("# Dataset audit: m.csv\n") && !md.stdout.contains("findings:"), "\(md.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/-"))
        let both = try CLI.run(["audit", "m.csv", "--by", "gender", "--json", "-", "--html", "-"], in: dir.path)
        #expect(both.status == 64 && both.stderr.contains("--json and --html both name stdout"), "\(both.stderr)")
    }
}
