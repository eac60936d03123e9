import ArgumentParser
import Foundation
import ImageCodecs

extension DecodeOptionsValue {
    var decodeOptions: DecodeOptions {
        var o = DecodeOptions()
        o.lenient = lenient
        o.applyOrientation = !keepOrientation
        o.maxPixels = maxPixels
        return o
    }
}

extension SizeArgument {
    var pixelSize: PixelSize { PixelSize(width: width, height: height) }
}

struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Inspect, check and convert image files.",
        subcommands: [Info.self, Convert.self, Conformance.self])

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decode files and print one line per file: format, size, channels, depth, pixel hash.",
            discussion: """
            The format is found from the bytes, not the name. Every file is processed even when \
            some fail; the exit status is 1 when any failed.

            Example:
              curate image info --json photos/*.jpg
            """)

        @Flag(help: "One JSON object per line instead of text.")
        var json = false

        @OptionGroup var decode: DecodeFlags

        @Option(help: "Decoding threads (default: all cores).")
        var threads: Int = ProcessInfo.processInfo.activeProcessorCount

        @Argument(help: "Image files.")
        var files: [String]

        func validate() throws {
            if files.isEmpty { throw ValidationError("name at least one file") }
            if threads < 1 { throw ValidationError("--threads must be at least 1") }
        }

        func run() throws {
            let batch = BatchDecoder(decoder: ImageDecoder(options: decode.options.decodeOptions), threads: threads)
            let results = batch.decode(paths: files)
            var failures = 0
            let out = FileHandle.standardOutput
            for (path, result) in zip(files, results) {
                let line: String
                switch result {
                case .success(let d):
                    line = json ? ImageInfoLine.json(path: path, decoded: d) : ImageInfoLine.text(path: path, decoded: d)
                case .failure(let e):
                    failures += 1
                    line = json ? ImageInfoLine.json(path: path, error: e) : "\(path)\terror\t\(e.code.rawValue): \(e.message)"
                }
                out.write(Data((line + "\n").utf8))
            }
            if failures > 0 {
                if !json { note("\(failures) of \(files.count) file(s) failed to decode") }
                throw ExitCode(1)
            }
        }
    }

    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decode an image, optionally resize it, and write it as PNG.",
            discussion: """
            Shrinking averages areas; enlarging is bilinear. A JPEG shrunk a lot is first scaled \
            in the DCT domain by libjpeg. The output is replaced atomically.

            Example:
              curate image convert photo.jpg thumb.png --size 64x64
            """)

        @Argument(help: "The input image (PNG or JPEG).")
        var input: String

        @Argument(help: "The output PNG file.")
        var output: String

        @Option(help: "Resize to WxH, for example 32x32.")
        var size: SizeArgument?

        @Option(help: "Sample depth of the output: 8, or 16 (PNG inputs keep their full depth).")
        var depth = 8

        @OptionGroup var decode: DecodeFlags

        func validate() throws {
            guard depth == 8 || depth == 16 else { throw ValidationError("--depth must be 8 or 16") }
            guard !output.isEmpty else { throw ValidationError("name an output file") }
            if depth == 16 && size != nil { throw ValidationError("--depth 16 cannot be combined with --size") }
        }

        func run() throws {
            let decoder = ImageDecoder(options: decode.options.decodeOptions)
            do {
                let data = try ImageDecoder.read(input)
                if depth == 16 {
                    let (image, _) = try decoder.decode16(data)
                    let encoded = try PNGEncoder().encode(image, as: .rgba)
                    try AtomicFile.write(encoded, to: output)
                    return
                }
                let decoded = try size.map { try decoder.decode(data, resizedTo: $0.pixelSize) } ?? decoder.decode(data)
                if let damage = decoded.damage { note("\(input): damaged: \(damage)") }
                try PNGEncoder().write(decoded.image, to: output)
            } catch let error as ImageDecodingError {
                note(error.at(error.path ?? input).description)
                throw ExitCode(1)
            }
        }
    }

    struct Conformance: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the decoder conformance suites (PngSuite, libpng, libjpeg-turbo, AFL JPEG corpus).",
            discussion: """
            Reads the suites in place from the shared test data folder and prints, per suite, how \
            many files gave what they must. Exit status 1 when any file did not.

            Example:
              curate image conformance --testdata ../shared/testdata
            """)

        @Option(help: "The folder holding png/ and jpeg/ (default: ../shared/testdata, found from here or from the binary).")
        var testdata: String?

        @Flag(help: "Print the summary as JSON.")
        var json = false

        func run() throws {
            guard let root = testdata ?? TestData.locate() else {
                throw ValidationError("cannot find shared/testdata; pass --testdata DIR")
            }
            let summaries: [ConformanceSuite.Summary]
            do {
                summaries = try ConformanceSuite.run(testdata: root)
            } catch {
                note("curate: \(error)")
                throw ExitCode(2)
            }
            if json {
                let rows = summaries.map { ["suite": $0.suite, "total": $0.total, "passed": $0.passed, "failures": $0.failures] as [String: Any] }
                let data = try JSONSerialization.data(withJSONObject: ["suites": rows], options: [.sortedKeys])
                FileHandle.standardOutput.write(data + Data("\n".utf8))
            } else {
                print(ConformanceReport.table(summaries))
            }
            if summaries.contains(where: { $0.passed != $0.total }) { throw ExitCode(1) }
        }
    }
}

enum ConformanceReport {
    static func table(_ summaries: [ConformanceSuite.Summary]) -> String {
        var lines = ["suite              files  passed  failed"]
        for s in summaries {
            lines.append(s.suite.padding(toLength: 17, withPad: " ", startingAt: 0)
                         + String(format: "%7d %7d %7d", s.total, s.passed, s.total - s.passed))
            for f in s.failures.prefix(10) { lines.append("  FAIL \(f)") }
            if s.failures.count > 10 { lines.append("  ... and \(s.failures.count - 10) more") }
        }
        let total = summaries.reduce(0) { $0 + $1.total }, passed = summaries.reduce(0) { $0 + $1.passed }
        lines.append("all                \(String(format: "%6d %7d %7d", total, passed, total - passed))")
        return lines.joined(separator: "\n")
    }
}

enum TestData {
    /// `CURATE_TESTDATA`, else `shared/testdata` beside the working directory or beside the
    /// checkout that holds the binary.
    static func locate() -> String? {
        if let env = ProcessInfo.processInfo.environment["CURATE_TESTDATA"] { return env }
        var candidates = [FileManager.default.currentDirectoryPath]
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 { candidates.append(dir.path); dir = dir.deletingLastPathComponent() }
        for c in candidates {
            for rel in ["../shared/testdata", "shared/testdata"] {
                let p = URL(fileURLWithPath: c).appendingPathComponent(rel).standardizedFileURL.path
                if FileManager.default.fileExists(atPath: p + "/png") { return p }
            }
        }
        return nil
    }
}

/// The `image info` line formats.
enum ImageInfoLine {
    static func text(path: String, decoded d: DecodedImage) -> String {
        var s = "\(path)\t\(d.info.format.rawValue)\t\(d.image.width)x\(d.image.height)\t\(d.info.channels)ch\t\(d.info.bitDepth)-bit\t\(d.image.rgba8SHA256)"
        if let damage = d.damage { s += "\tdamaged: \(damage)" }
        return s
    }

    static func json(path: String, decoded d: DecodedImage) -> String {
        var fields: [(String, String)] = [
            ("path", quote(path)), ("format", quote(d.info.format.rawValue)),
            ("width", "\(d.image.width)"), ("height", "\(d.image.height)"),
            ("channels", "\(d.info.channels)"), ("bit_depth", "\(d.info.bitDepth)"),
            ("rgba8_sha256", quote(d.image.rgba8SHA256)),
        ]
        if d.info.orientation != 1 { fields.append(("orientation", "\(d.info.orientation)")) }
        if let damage = d.damage { fields.append(("damaged", quote(damage))) }
        return "{" + fields.map { "\(quote($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
    }

    static func json(path: String, error e: ImageDecodingError) -> String {
        "{\"path\": \(quote(path)), \"error\": {\"code\": \(quote(e.code.rawValue)), \"message\": \(quote(e.message))}}"
    }

    /// A JSON string literal.
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
