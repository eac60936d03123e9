import ArgumentParser
import Foundation
import ImageCodecs

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

        @Option(parsing: .unconditional, help: "Decoding threads (default: all cores).")
        var threads: Int?

        @Argument(help: "Image files.")
        var files: [String]

        func validate() throws {
            if files.isEmpty { throw ValidationError("name at least one file") }
            if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        }

        func run() throws {
            let batch = BatchDecoder(decoder: ImageDecoder(options: decode.options), threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
            let json = self.json, files = self.files
            // Each worker turns its image into the line at once: a long file list never holds
            // more than one decoded image per thread.
            let lines = batch.decode(paths: files) { i, result -> (String, Bool) in
                switch result {
                case .success(let d):
                    return (json ? ImageInfoLine.json(path: files[i], decoded: d) : ImageInfoLine.text(path: files[i], decoded: d), true)
                case .failure(let e):
                    return (json ? ImageInfoLine.json(path: files[i], error: e) : "\(files[i])\terror\t\(e.code.rawValue): \(e.message)", false)
                }
            }
            let failures = lines.filter { !$0.1 }.count
            FileHandle.standardOutput.write(Data(lines.map { $0.0 + "\n" }.joined().utf8))
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
        var size: PixelSize?

        @Option(parsing: .unconditional, help: "Sample depth of the output: 8, or 16 (PNG inputs keep their full depth).")
        var depth = 8

        @OptionGroup var decode: DecodeFlags

        func validate() throws {
            guard depth == 8 || depth == 16 else { throw ValidationError("--depth must be 8 or 16") }
            guard !output.isEmpty else { throw ValidationError("name an output file") }
            let ext = (output as NSString).pathExtension.lowercased()
            if ["jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"].contains(ext) {
                throw ValidationError("convert writes PNG files only: name the output .png, not .\(ext)")
            }
            if depth == 16 && size != nil { throw ValidationError("--depth 16 cannot be combined with --size") }
        }

        func run() throws {
            try checkDistinct(outputs: [("output", output)], inputs: [("image", input)])
            let decoder = ImageDecoder(options: decode.options)
            do {
                let data = try ImageDecoder.read(input)
                if depth == 16 {
                    let (image, _) = try decoder.decode16(data)
                    let encoded = try PNGEncoder().encodeSmallest(image)  // as for 8 bits
                    try AtomicFile.write(encoded, to: output)
                    return
                }
                let decoded = try size.map { try decoder.decode(data, resizedTo: $0) } ?? decoder.decode(data)
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
            try ConformanceReport.run(testdata: testdata, json: json)
        }
    }
}
