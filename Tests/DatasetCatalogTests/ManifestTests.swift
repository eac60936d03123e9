@testable import DatasetCatalog
import Foundation
import Testing

@Suite("Manifest reading and writing")
struct ManifestTests {
    @Test("RFC 4180 quoting: commas, doubled quotes, line breaks, CRLF, a BOM and blank lines")
    func quoting() throws {
        let dir = try TempDir()
        let text = "\u{FEFF}path,label,note\r\na.png,cat,\"x, y\"\r\n\r\n\"b c.png\",dog,\"say \"\"hi\"\"\"\n\"d.png\",\"multi\nline\",\nè.png,,é\n"
        let m = try ManifestReader.read(try dir.write("m.csv", text))
        #expect(m.columns == ["path", "label", "note"])
        #expect(m.count == 4)
        #expect(m.column("path")! == ["a.png", "b c.png", "d.png", "è.png"])
        #expect(m.column("label")! == ["cat", "dog", "multi\nline", ""])
        #expect(m.column("note")! == ["x, y", "say \"hi\"", "", "é"])
        #expect(m.resolvedPath(0) == dir.url.standardizedFileURL.path + "/a.png")
    }

    @Test("bad rows are errors naming the file, the line and the problem", arguments: [
        ("path,label\na.png,cat\nb.png\n", 3, "expected 2 fields, found 1"),
        ("path,weight\na.png,1\nb.png,-2\n", 3, "invalid weight '-2'"),
        ("path,weight\na.png,nan\n", 2, "invalid weight 'nan'"),
        ("path,weight\na.png,inf\n", 2, "invalid weight 'inf'"),
        ("path,weight\na.png,0x10\n", 2, "invalid weight '0x10'"),  // Swift's Double reads 16; pandas, text
        ("path,weight\na.png,1e\n", 2, "invalid weight '1e'"),
        ("path,split\na.png,training\n", 2, "invalid split 'training'"),
        ("path,origin\na.png,fake\n", 2, "invalid origin 'fake'"),
        ("path,source_row\na.png,1.5\n", 2, "invalid source_row '1.5'"),
        ("path,label\n,cat\n", 2, "empty path"),
        ("path,label\na.png,\"cat\n", 2, "unterminated quoted field"),
        ("path,label\na.png,ca\"t\n", 2, "a quote inside an unquoted field"),
        ("path,label\na.png,\"cat\"x\n", 2, "unexpected character after a closing quote"),
        ("label,x\ncat,1\n", 1, "missing required column 'path'"),
        ("path,label,label\na,b,c\n", 1, "column 'label' appears twice"),
        ("path,label\na.png,\u{FFFF}ok\n", nil, ""),
    ] as [(String, Int?, String)])
    func badRows(_ text: String, _ line: Int?, _ message: String) throws {
        let dir = try TempDir()
        let path = try dir.write("bad.csv", text)
        let error = manifestError { _ = try ManifestReader.read(path) }
        guard let line else { #expect(error == nil); return }
        let e = try #require(error, "no error for \(text.debugDescription)")
        #expect(e.file == path)
        #expect(e.line == line)
        #expect(e.message.contains(message), "\(e)")
        #expect(e.description.hasPrefix("\(path):\(line): "))
    }

    @Test("CSV numbers JSON does not write (.5, +1, 007) become JSON numbers in JSON Lines")
    func jsonNumbers() throws {
        let dir = try TempDir()
        let m = try ManifestReader.read(try dir.write("w.csv", "path,label,weight,source_row\na.png,0,.5,007\nb.png,0,+1,+3\nc.png,1,2.,0\nd.png,1,1e-3,12\n"))
        let out = dir.path + "/w.jsonl"
        try ManifestWriter.write(m, to: out)
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        let rows = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(rows.map { $0["weight"] as? Double } == [0.5, 1, 2, 0.001])
        #expect(rows.map { $0["source_row"] as? Int } == [7, 3, 0, 12])
        #expect(try ManifestReader.read(out).weights == [0.5, 1, 2, 0.001])
        #expect(ManifestWriter.isJSONNumber("-0.5e+3") && ManifestWriter.isJSONNumber("0") && !ManifestWriter.isJSONNumber("01")
                && !ManifestWriter.isJSONNumber("1.") && !ManifestWriter.isJSONNumber("+1") && !ManifestWriter.isJSONNumber(""))
    }

    @Test("a reserved column with a value the spec forbids is not written, and names the row", arguments: [
        ("weight", "-1", "row 2: invalid weight '-1': a finite number >= 0"),
        ("split", "holdout", "row 2: invalid split 'holdout': train, val or test"),
        ("origin", "fake", "row 2: invalid origin 'fake': real or synthetic"),
        ("source_row", "x", "row 2: invalid source_row 'x': a row index >= 0"),
    ])
    func writerRefusesInvalidReservedValues(column: String, value: String, message: String) throws {
        let dir = try TempDir()
        var m = Manifest(columns: ["path", column], baseDirectory: dir.url.path)
        m.append(cells: ["a.png", column == "split" ? "train" : column == "origin" ? "real" : "1"])
        m.append(cells: ["b.png", value])
        for name in ["o.csv", "o.jsonl"] {
            let out = dir.path + "/" + name
            #expect(throws: ManifestError(file: out, "not written: " + message)) { try ManifestWriter.write(m, to: out) }
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }

    @Test("invalid UTF-8 is an error with its line")
    func invalidUTF8() throws {
        let dir = try TempDir()
        let path = try dir.write("bin.csv", Data("path,label\na.png,ok\nb.png,".utf8) + Data([0xC3, 0x28]) + Data("\n".utf8))
        let e = try #require(manifestError { _ = try ManifestReader.read(path) })
        #expect(e.line == 3 && e.message.contains("UTF-8"))
    }

    @Test("JSON Lines: escapes, surrogate pairs, numbers, null as unknown, keys in any order, blank lines")
    func jsonLines() throws {
        let dir = try TempDir()
        let text = """
        {"path": "a.png", "label": "cat", "weight": 2.5, "note": "tab\\there \\u00e9 \\ud83d\\ude00"}

        {"label": "dog", "path": "b.png", "source_row": 3, "age": 41, "flag": true, "gone": null}
        """
        let m = try ManifestReader.read(try dir.write("m.jsonl", text))
        #expect(m.count == 2)
        #expect(m.columns == ["path", "label", "weight", "note", "source_row", "age", "flag", "gone"])
        #expect(m.column("note")! == ["tab\there é 😀", ""])
        #expect(m.weights == [2.5, 1])
        #expect(m.sourceRows == [nil, 3])
        #expect(m.column("age")! == ["", "41"] && m.column("flag")! == ["", "true"] && m.column("gone")! == ["", ""])
        // A byte order mark before the first object is skipped, as before a CSV header.
        let bom = try ManifestReader.read(try dir.write("bom.jsonl", "\u{FEFF}{\"path\": \"a.png\", \"weight\": 1.5}\n"))
        #expect(bom.count == 1 && bom.columns == ["path", "weight"] && bom.weights == [1.5])
    }

    @Test("weights are decimal numbers as other tools read them", arguments: [("1", true), ("0.5", true), (".5", true), ("2.", true), ("-0", true), ("1e-3", true), ("3E+2", true),
                                                                                ("0x10", false), ("inf", false), ("nan", false), ("1e", false), ("", false), (".", false), ("1 ", false), ("+", false)])
    func decimalNumbers(text: String, ok: Bool) {
        #expect(ManifestReader.isDecimalNumber(text) == ok)
    }

    @Test("bad JSON Lines are errors with the line", arguments: [
        ("{\"path\": \"a\"}\n{\"path\": \"b\", \"x\": [1]}\n", 2, "nested value"),
        ("{\"path\": \"a\"}\n{\"label\": \"b\"}\n", 2, "missing required key 'path'"),
        ("{\"path\": \"a\", \"weight\": -1}\n", 1, "invalid weight"),
        ("{\"path\": \"a\"} x\n", 1, "unexpected text after the object"),
        ("[1, 2]\n", 1, "each line is one JSON object"),
        ("{\"path\": \"a\", \"path\": \"b\"}\n", 1, "duplicate key"),
        ("{\"path\": \"a\"}\n{\"path\": \"b\", \"\": \"x\"}\n", 2, "a key is empty"),
        ("{\"path\": \"a\n", 1, "unterminated string"),
    ] as [(String, Int, String)])
    func badJSONLines(_ text: String, _ line: Int, _ message: String) throws {
        let dir = try TempDir()
        let path = try dir.write("bad.jsonl", text)
        let e = try #require(manifestError { _ = try ManifestReader.read(path) })
        #expect(e.line == line && e.message.contains(message), "\(e)")
    }

    /// Random cells that exercise quoting: commas, quotes, CR and LF, spaces, non-ASCII.
    func randomCell(_ rng: inout SplitMix) -> String {
        let alphabet = Array("ab c,\"\n\r\té漢😀x-_.") + ["", "", ""].map { _ in Character("z") }
        let n = Int.random(in: 0...12, using: &rng)
        return String((0..<n).map { _ in alphabet.randomElement(using: &rng)! })
    }

    @Test("random manifests round-trip exactly through CSV and JSON Lines, across read-block boundaries (JSON rows without some keys too)")
    func roundTrip() throws {
        let dir = try TempDir()
        var rng = SplitMix(state: 42)
        let columns = ["path", "label", "split", "weight", "group", "note"]
        var m = Manifest(columns: columns, baseDirectory: dir.url.standardizedFileURL.path)
        // Enough rows that the 4 MiB read blocks split records (some quoted, multi-line) in the middle.
        for i in 0..<90_000 {
            m.append(cells: ["img/\(i)-\(randomCell(&rng)).png".replacingOccurrences(of: "\r", with: ""), randomCell(&rng),
                             ["", "train", "val", "test"].randomElement(using: &rng)!, i % 5 == 3 ? "" : String(Double(i % 7) / 4),
                             randomCell(&rng), randomCell(&rng) + String(repeating: "x", count: i % 50)])
        }
        for name in ["m.csv", "m.jsonl"] {
            let path = dir.path + "/" + name
            try ManifestWriter.write(m, to: path)
            let back = try ManifestReader.read(path)
            #expect(back.count == m.count)
            for c in columns { #expect(back.column(c)! == m.column(c)!, "\(name): column \(c)") }
        }
        let size = try FileManager.default.attributesOfItem(atPath: dir.path + "/m.csv")[.size] as! Int
        #expect(size > 5 << 20, "the file must span several read blocks")
    }

    @Test("writing elsewhere rebases relative paths so they still name the same files")
    func rebase() throws {
        let dir = try TempDir()
        try dir.png("data/img/a.png")
        let input = try dir.write("data/m.csv", "path,label\nimg/a.png,x\n/abs/b.png,y\n")
        let m = try ManifestReader.read(input)
        try ManifestWriter.write(m, to: dir.path + "/out/deeper/m2.csv")
        let back = try ManifestReader.read(dir.path + "/out/deeper/m2.csv")
        #expect(back.column("path")! == ["../../data/img/a.png", "/abs/b.png"])
        #expect(FileManager.default.fileExists(atPath: back.resolvedPath(0)))
        #expect(URL(fileURLWithPath: back.resolvedPath(0)).standardizedFileURL.path == URL(fileURLWithPath: m.resolvedPath(0)).standardizedFileURL.path)
        // Written through a link to a folder elsewhere, the path leads from where the link points,
        // as the system (and any other tool) resolves "..".
        try FileManager.default.createDirectory(atPath: dir.path + "/far/away", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/link", withDestinationPath: dir.path + "/far/away")
        try ManifestWriter.write(m, to: dir.path + "/link/m3.csv")
        let linked = try ManifestReader.read(dir.path + "/link/m3.csv")
        #expect(linked.column("path")![0] == "../../data/img/a.png")
        #expect(FileManager.default.fileExists(atPath: dir.path + "/far/away/../../data/img/a.png"))
        #expect(FileManager.default.fileExists(atPath: linked.resolvedPath(0)))
    }

    @Test("standard columns are written first, numbers stay numbers in JSON Lines")
    func writeOrder() throws {
        let dir = try TempDir()
        var m = Manifest(columns: ["gender", "path", "weight", "label"], baseDirectory: dir.path)
        m.append(cells: ["f", "a.png", "0.5", "cat"])
        m.append(cells: ["m", "b.png", "", "dog"])
        try ManifestWriter.write(m, to: dir.path + "/o.csv")
        try ManifestWriter.write(m, to: dir.path + "/o.jsonl")
        #expect(try String(contentsOfFile: dir.path + "/o.csv", encoding: .utf8) == "path,label,weight,gender\na.png,cat,0.5,f\nb.png,dog,,m\n")
        #expect(try String(contentsOfFile: dir.path + "/o.jsonl", encoding: .utf8)
                == "{\"path\": \"a.png\", \"label\": \"cat\", \"weight\": 0.5, \"gender\": \"f\"}\n{\"path\": \"b.png\", \"label\": \"dog\", \"gender\": \"m\"}\n")
    }
}
