import Foundation
import ImageCodecs
import Testing

@Suite("curate image (end to end)")
struct ImageCommandTests {
    let suite = CLI.testdata + "/png/pngsuite"

    /// The reference hashes, read independently of the library's suite loader.
    func referenceHash(_ file: String) throws -> String {
        let text = try String(contentsOfFile: CLI.testdata + "/png/pngsuite-expected/manifest.jsonl", encoding: .utf8)
        for line in text.split(separator: "\n") {
            let row = try jsonObject(String(line))
            if row["file"] as? String == file { return try #require(row["rgba8_sha256"] as? String) }
        }
        throw CocoaError(.fileNoSuchFile)
    }

    @Test("curate help NAME shows that command's help; an unknown NAME is a usage error, not the root's help with status 0")
    func helpForUnknownCommands() throws {
        let scan = try CLI.run(["help", "bench", "scan"])
        #expect(scan.status == 0 && scan.stdout.contains("USAGE: curate bench scan"), "\(scan.stderr)")
        let unknown = try CLI.run(["help", "nosuch"])
        #expect(unknown.status == 64 && unknown.stderr.hasPrefix("Error: no command 'nosuch' (commands: image, import, tag,"), "\(unknown.stderr)")
        let nested = try CLI.run(["help", "bench", "nosuch"])
        #expect(nested.status == 64 && nested.stderr.contains("no command 'nosuch' under 'curate bench' (commands: decode,"), "\(nested.stderr)")
    }

    @Test("a negative number is read as the option's value and refused by name, never taken for a flag or run", arguments: [
        (["train", "--train", "t.csv", "--out", "m.ckpt", "--epochs", "-1"], "--epochs must be 0 or more"),
        (["train", "--train", "t.csv", "--out", "m.ckpt", "--warmup", "-2"], "--warmup must be 0 or more"),
        (["scan", "t.csv", "--near-difference", "-1"], "--near-difference must be 0 to 255"),
        (["image", "convert", "a.png", "b.png", "--depth", "-8"], "--depth must be 8 or 16"),
        (["audit", "t.csv", "--by", "g", "--features", "f.npy", "--folds", "-1"], "--folds must be 2 or more"),
        (["bench", "features", "t.csv", "--features", "f.npy", "--epochs", "-1"], "--epochs must be at least 1, not -1"),
        (["bench", "gemm", "--size", "2"], "--size must be at least 4"),
        (["bench", "scan", "dir", "--repeats", "0"], "--repeats must be at least 1, not 0"),
        (["bench", "decode", "dir", "--repeats", "-3"], "--repeats must be at least 1, not -3"),
        (["benchmark", "make", "tint", "--out", "b", "--test-per-class", "-5"], "--test-per-class -5: images per class must be at least 1"),
    ])
    func negativeNumbers(arguments: [String], message: String) throws {
        let r = try CLI.run(arguments)
        #expect(r.status == 64 || r.status == 2, "\(r.status) \(r.stderr)")
        #expect(r.stderr.contains(message), "\(r.stderr)")
    }

    @Test("info --json: one object per file, failures included, exit 1 when any failed")
    func infoJSON() throws {
        let files = ["\(suite)/basn3p04.png", "\(suite)/xcsn0g01.png", "/nonexistent/none.png",
                     CLI.testdata + "/jpeg/libjpeg-turbo-testimages/testimggray.jpg"]
        let out = try CLI.run(["image", "info", "--json"] + files)
        #expect(out.status == 1)
        #expect(out.lines.count == 4)
        let ok = try jsonObject(out.lines[0])
        #expect(ok["path"] as? String == files[0])
        #expect(ok["format"] as? String == "png")
        #expect(ok["width"] as? Int == 32 && ok["height"] as? Int == 32)
        #expect(ok["channels"] as? Int == 3 && ok["bit_depth"] as? Int == 4)
        #expect(ok["rgba8_sha256"] as? String == (try referenceHash("basn3p04.png")))
        let bad = try jsonObject(out.lines[1])
        let error = try #require(bad["error"] as? [String: Any])
        #expect(error["code"] as? String == "badCRC")
        #expect((error["message"] as? String)?.isEmpty == false)
        let missing = try #require(try jsonObject(out.lines[2])["error"] as? [String: Any])
        #expect(missing["code"] as? String == "unreadable")
        let grey = try jsonObject(out.lines[3])
        #expect(grey["format"] as? String == "jpeg" && grey["channels"] as? Int == 1 && grey["width"] as? Int == 227)
    }

    @Test("info without --json: a line per file, exit 0 when all decoded")
    func infoText() throws {
        let out = try CLI.run(["image", "info", "\(suite)/basn0g16.png", "\(suite)/basi6a08.png"])
        #expect(out.status == 0)
        #expect(out.lines.count == 2)
        #expect(out.lines[0].hasPrefix("\(suite)/basn0g16.png\tpng\t32x32\t1ch\t16-bit\t"))
        #expect(out.lines[0].hasSuffix(try referenceHash("basn0g16.png")))
    }

    @Test("info --lenient reports damage and still exits 0; strict exits 1 with the damage code")
    func lenientInfo() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let full = try Data(contentsOf: URL(fileURLWithPath: CLI.testdata + "/jpeg/libjpeg-turbo-testimages/testorig.jpg"))
        let cut = dir.appendingPathComponent("cut.jpg").path
        try full.prefix(3000).write(to: URL(fileURLWithPath: cut))
        let strict = try CLI.run(["image", "info", "--json", cut])
        #expect(strict.status == 1)
        #expect((try jsonObject(strict.stdout)["error"] as? [String: Any])?["code"] as? String == "damaged")
        let lenient = try CLI.run(["image", "info", "--json", "--lenient", cut])
        #expect(lenient.status == 0)
        #expect((try jsonObject(lenient.stdout)["damaged"] as? String)?.contains("Premature end") == true)
    }

    @Test("convert --size writes a PNG of that size equal to the library's decode and resize")
    func convert() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = CLI.testdata + "/jpeg/libjpeg-turbo-testimages/testorig.jpg"
        let output = dir.appendingPathComponent("small.png").path
        let out = try CLI.run(["image", "convert", input, output, "--size", "32x24"])
        #expect(out.status == 0, "\(out.stderr)")
        let written = try ImageDecoder().decode(contentsOf: output)
        #expect(written.info.format == .png && written.image.width == 32 && written.image.height == 24)
        let expected = try ImageDecoder().decode(Data(contentsOf: URL(fileURLWithPath: input)), resizedTo: PixelSize(width: 32, height: 24))
        #expect(written.image == expected.image)
    }

    @Test("convert of a corrupt file exits 1, names the file, and writes nothing")
    func convertCorrupt() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let output = dir.appendingPathComponent("out.png").path
        let out = try CLI.run(["image", "convert", "\(suite)/xd9n2c08.png", output])
        #expect(out.status == 1)
        #expect(out.stderr.contains("xd9n2c08.png: badHeader:"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test("convert to a size over the pixel limit is refused before any pixel is allocated")
    func convertTooLarge() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let output = dir.appendingPathComponent("big.png").path
        let out = try CLI.run(["image", "convert", "\(suite)/basn2c08.png", output, "--size", "100000x100000"])
        #expect(out.status == 1 && out.stderr.contains("basn2c08.png: tooLarge: the target size 100000x100000 is 10000000000 pixels, over the limit of 100000000"), "\(out.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        // PNG bytes under a JPEG name would mislead every later reader of the file.
        let jpeg = try CLI.run(["image", "convert", "\(suite)/basn2c08.png", dir.appendingPathComponent("out.jpg").path])
        #expect(jpeg.status != 0 && jpeg.stderr.contains("convert writes PNG files only: name the output .png, not .jpg"), "\(jpeg.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test("convert --depth 16 keeps 16-bit samples")
    func convert16() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let output = dir.appendingPathComponent("deep.png").path
        let input = "\(suite)/basn6a16.png"
        #expect(try CLI.run(["image", "convert", input, output, "--depth", "16"]).status == 0)
        let original = try ImageDecoder().decode16(Data(contentsOf: URL(fileURLWithPath: input))).image
        let copy = try ImageDecoder().decode16(Data(contentsOf: URL(fileURLWithPath: output))).image
        #expect(copy == original)
        // Grey, grey+alpha, RGB and RGBA sources keep their colour type (IHDR byte 25) and samples.
        for (name, colourType) in [("basn0g16.png", 0), ("basn4a16.png", 4), ("basn2c16.png", 2), ("basn6a16.png", 6)] {
            let out = dir.appendingPathComponent("c-" + name).path
            #expect(try CLI.run(["image", "convert", "\(suite)/\(name)", out, "--depth", "16"]).status == 0)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: out))
            #expect(bytes[24] == 16 && bytes[25] == UInt8(colourType), "\(name): depth \(bytes[24]), colour type \(bytes[25])")
            #expect(try ImageDecoder().decode16(bytes).image == ImageDecoder().decode16(Data(contentsOf: URL(fileURLWithPath: "\(suite)/\(name)"))).image)
        }
    }

    @Test("usage errors exit with 2 or more and say what is wrong; --help shows an example")
    func usage() throws {
        let bad = try CLI.run(["image", "convert", "a.png", "b.png", "--size", "big"])
        #expect(bad.status >= 2)
        #expect(bad.stderr.contains("--size"))
        let none = try CLI.run(["image", "info"])
        #expect(none.status >= 2)
        let help = try CLI.run(["image", "info", "--help"])
        #expect(help.status == 0 && help.stdout.contains("Example:") && help.stdout.contains("--json"))
    }

    @Test("image conformance --json: every suite passes")
    func conformance() throws {
        let out = try CLI.run(["image", "conformance", "--json", "--testdata", CLI.testdata])
        #expect(out.status == 0, "\(out.stdout)")
        let suites = try #require(try jsonObject(out.stdout)["suites"] as? [[String: Any]])
        #expect(suites.count == 4)
        for s in suites { #expect(s["passed"] as? Int == s["total"] as? Int) }
    }
}

@Suite("curate image conformance, table (end to end)")
struct ConformanceTableTests {
    @Test("every conformance suite decodes, and the table ends with the totals")
    func table() throws {
        let out = try CLI.run(["image", "conformance", "--testdata", CLI.testdata])
        #expect(out.status == 0, "\(out.stderr)")
        let total = try #require(out.lines.last)
        #expect(total.split(separator: " ", omittingEmptySubsequences: true) == ["all", "2403", "2403", "0"])
    }
}
