import Crypto
import Foundation

/// The public decoder conformance suites under `shared/testdata` (PngSuite, libpng's test
/// images, libjpeg-turbo's test images and the AFL JPEG corpus), read in place, with what
/// each file must give. `curate image conformance` runs them; the test suite checks them too.
public enum ConformanceSuite {
    /// What one file must give.
    public enum Expectation: Sendable, Equatable {
        /// Decodes (default options) to canonical RGBA8 with this SHA-256.
        case rgba8SHA256(String)
        /// Is rejected with an error.
        case rejected
        /// May decode or fail, but must not crash or hang.
        case noCrash
        /// Decodes (orientation kept, DCT scale 1/denominator) to exactly the pixels of this PPM/PGM.
        case reference(path: String, scaleDenominator: Int)
        /// libjpeg-turbo's djpeg verdict for a fuzzed file, and the MD5 of djpeg's PPM/PGM output.
        case djpeg(verdict: String, md5: String?)
    }

    public struct Case: Sendable, CustomStringConvertible {
        public var suite: String
        public var path: String
        public var expectation: Expectation
        /// The path below the suite's folder, for display.
        public var name: String
        public var description: String { "\(suite)/\(name)" }
    }

    public struct Outcome: Sendable {
        public var passed: Bool
        public var detail: String
    }

    public enum SuiteError: Error, CustomStringConvertible {
        case missing(String)
        case malformed(String)
        public var description: String {
            switch self {
            case .missing(let p): "missing conformance data: \(p)"
            case .malformed(let p): "malformed conformance manifest: \(p)"
            }
        }
    }

    /// Every case of every suite under `testdata` (the folder holding `png/` and `jpeg/`).
    public static func cases(testdata root: String) throws -> [Case] {
        var out: [Case] = []
        let png = root + "/png", jpeg = root + "/jpeg"
        for row in try jsonLines(png + "/pngsuite-expected/manifest.jsonl") {
            guard let file = row["file"] as? String else { throw SuiteError.malformed("pngsuite") }
            let expectation: Expectation = (row["rgba8_sha256"] as? String).map { .rgba8SHA256($0) } ?? .rejected
            out.append(Case(suite: "pngsuite", path: "\(png)/pngsuite/\(file)", expectation: expectation, name: file))
        }
        for row in try jsonLines(png + "/libpng-testpngs-expected/manifest.jsonl") {
            guard let file = row["file"] as? String else { throw SuiteError.malformed("libpng-testpngs") }
            let expectation: Expectation = if let sha = row["rgba8_sha256"] as? String { .rgba8SHA256(sha) }
                else if file.hasPrefix("crashers/") { .noCrash } else { .rejected }
            out.append(Case(suite: "libpng-testpngs", path: "\(png)/libpng-testpngs/\(file)", expectation: expectation, name: file))
        }
        let refs = jpeg + "/libjpeg-turbo-default-decodes"
        for (file, ref, d) in [("testorig.jpg", "testorig.ppm", 1), ("testimgint.jpg", "testimgint.ppm", 1),
                               ("testimgari.jpg", "testimgari.ppm", 1), ("testimgp.jpg", "testimgp.ppm", 1),
                               ("testimggray.jpg", "testimggray.pgm", 1), ("testorig.jpg", "testorig.scale1_2.ppm", 2),
                               ("testorig.jpg", "testorig.scale1_4.ppm", 4), ("testorig.jpg", "testorig.scale1_8.ppm", 8)] {
            out.append(Case(suite: "libjpeg-turbo", path: "\(jpeg)/libjpeg-turbo-testimages/\(file)",
                            expectation: .reference(path: "\(refs)/\(ref)", scaleDenominator: d),
                            name: d == 1 ? file : "\(file)@1/\(d)"))
        }
        for row in try jsonLines(jpeg + "/afl-jpeg/manifest.jsonl") {
            guard let file = row["file"] as? String, let verdict = row["verdict"] as? String else { throw SuiteError.malformed("afl-jpeg") }
            out.append(Case(suite: "afl-jpeg", path: "\(jpeg)/afl-jpeg/\(file)",
                            expectation: .djpeg(verdict: verdict, md5: row["ref_md5"] as? String), name: file))
        }
        return out
    }

    /// Decodes the case's file and compares it with what it must give.
    public static func evaluate(_ c: Case) -> Outcome {
        let strict = ImageDecoder()
        switch c.expectation {
        case .rgba8SHA256(let sha):
            do {
                let got = try strict.decode(contentsOf: c.path).image.rgba8SHA256
                return Outcome(passed: got == sha, detail: got == sha ? "matches" : "rgba8 sha256 \(got), expected \(sha)")
            } catch {
                return Outcome(passed: false, detail: "failed: \(error)")
            }
        case .rejected:
            do {
                _ = try strict.decode(contentsOf: c.path)
                return Outcome(passed: false, detail: "decoded, but must be rejected")
            } catch {
                return Outcome(passed: true, detail: "rejected: \(error.code.rawValue)")
            }
        case .noCrash:
            do {
                _ = try strict.decode(contentsOf: c.path)
                return Outcome(passed: true, detail: "decoded")
            } catch {
                return Outcome(passed: true, detail: "rejected: \(error.code.rawValue)")
            }
        case .reference(let ref, let d):
            var options = DecodeOptions()
            options.applyOrientation = false
            options.jpegScaleDenominator = d
            do {
                let image = try ImageDecoder(options: options).decode(contentsOf: c.path).image
                let expected = try Netpbm.read(ref)
                let same = expected.width == image.width && expected.height == image.height && expected.pixels == image.pixels
                return Outcome(passed: same, detail: same ? "identical to \(ref)" : "differs from \(ref)")
            } catch {
                return Outcome(passed: false, detail: "failed: \(error)")
            }
        case .djpeg(let verdict, let md5):
            var options = DecodeOptions()
            options.applyOrientation = false
            options.lenient = verdict == "corrupt-warn"
            let result: Result<DecodedImage, ImageDecodingError>
            do throws(ImageDecodingError) { result = .success(try ImageDecoder(options: options).decode(contentsOf: c.path)) }
            catch { result = .failure(error) }
            switch (verdict, result) {
            case ("rejected", .failure(let e)): return Outcome(passed: true, detail: "rejected: \(e.code.rawValue)")
            case ("rejected", .success): return Outcome(passed: false, detail: "decoded, but djpeg rejects it")
            case ("valid", .success(let d)), ("corrupt-warn", .success(let d)):
                if verdict == "corrupt-warn" && d.damage == nil { return Outcome(passed: false, detail: "decoded without reporting damage") }
                guard let md5 else { return Outcome(passed: true, detail: "decoded") }
                let got = Netpbm.md5(of: d.image, grey: d.info.channels == 1)
                return Outcome(passed: got == md5, detail: got == md5 ? "identical to djpeg" : "differs from djpeg (md5 \(got), expected \(md5))")
            case (_, .failure(let e)): return Outcome(passed: false, detail: "failed: \(e)")
            default: return Outcome(passed: false, detail: "unknown verdict \(verdict)")
            }
        }
    }

    /// Per-suite totals.
    public struct Summary: Sendable {
        public var suite: String
        public var total = 0
        public var passed = 0
        public var failures: [String] = []
    }

    /// Runs every case over `threads` workers and totals them per suite, in suite order.
    public static func run(testdata root: String, threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws -> [Summary] {
        let all = try cases(testdata: root)
        let outcomes = ParallelMap.run(count: all.count, threads: threads) { evaluate(all[$0]) }
        var order: [String] = []
        var bySuite: [String: Summary] = [:]
        for (c, o) in zip(all, outcomes) {
            if bySuite[c.suite] == nil { order.append(c.suite); bySuite[c.suite] = Summary(suite: c.suite) }
            bySuite[c.suite]!.total += 1
            if o.passed { bySuite[c.suite]!.passed += 1 } else { bySuite[c.suite]!.failures.append("\(c.name): \(o.detail)") }
        }
        return order.map { bySuite[$0]! }
    }

    static func jsonLines(_ path: String) throws -> [[String: Any]] {
        guard let data = FileManager.default.contents(atPath: path) else { throw SuiteError.missing(path) }
        return try data.split(separator: UInt8(ascii: "\n")).compactMap { line in
            if line.allSatisfy({ $0 == 32 || $0 == 13 }) { return nil }
            guard let row = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else { throw SuiteError.malformed(path) }
            return row
        }
    }
}

/// Minimal binary Netpbm (P5 grey, P6 RGB, maxval 255), for reference decodes.
public enum Netpbm {
    /// Reads a P5/P6 file into RGBA (grey copied to R, G and B; alpha 255).
    public static func read(_ path: String) throws -> Image {
        guard let data = FileManager.default.contents(atPath: path) else { throw ConformanceSuite.SuiteError.missing(path) }
        let bytes = [UInt8](data)
        var pos = 2
        func number() throws -> Int {
            while pos < bytes.count {
                if bytes[pos] == UInt8(ascii: "#") { while pos < bytes.count && bytes[pos] != 10 { pos += 1 } }
                else if [9, 10, 13, 32].contains(bytes[pos]) { pos += 1 } else { break }
            }
            var v = 0, digits = 0
            while pos < bytes.count, (48...57).contains(bytes[pos]), digits < 9 { v = v * 10 + Int(bytes[pos] - 48); pos += 1; digits += 1 }
            guard digits > 0 else { throw ConformanceSuite.SuiteError.malformed(path) }
            return v
        }
        guard bytes.count > 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "5") || bytes[1] == UInt8(ascii: "6") else {
            throw ConformanceSuite.SuiteError.malformed(path)
        }
        let channels = bytes[1] == UInt8(ascii: "6") ? 3 : 1
        let w = try number(), h = try number(), maxval = try number()
        pos += 1
        guard maxval == 255, bytes.count - pos >= w * h * channels else { throw ConformanceSuite.SuiteError.malformed(path) }
        var rgba = [UInt8](repeating: 255, count: w * h * 4)
        for i in 0..<(w * h) {
            for c in 0..<3 { rgba[i * 4 + c] = bytes[pos + i * channels + (channels == 3 ? c : 0)] }
        }
        return Image(width: w, height: h, pixels: rgba)
    }

    /// The bytes djpeg would write for this image: PGM when it is grey, PPM otherwise.
    public static func encode(_ image: Image, grey: Bool) -> [UInt8] {
        var out = Array("\(grey ? "P5" : "P6")\n\(image.width) \(image.height)\n255\n".utf8)
        out.reserveCapacity(out.count + image.width * image.height * (grey ? 1 : 3))
        for i in 0..<(image.width * image.height) {
            if grey { out.append(image.pixels[i * 4]) } else { out.append(contentsOf: image.pixels[i * 4..<i * 4 + 3]) }
        }
        return out
    }

    /// MD5 of the djpeg-style output (PGM for grey images, PPM otherwise), as djpeg's references hash it.
    public static func md5(of image: Image, grey: Bool) -> String {
        Insecure.MD5.hash(data: encode(image, grey: grey)).hexString
    }
}
