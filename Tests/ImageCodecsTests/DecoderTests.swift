import Foundation
import ImageCodecs
import Testing

@Suite("PNG decoding details")
struct PNGDecodingTests {
    @Test("16-bit samples, rounded to 8 bits as the canonical decode says, give the reference hash",
          arguments: ["basn0g16.png", "basn2c16.png", "basn4a16.png", "basn6a16.png", "basi6a16.png", "tbbn2c16.png", "tbwn0g16.png"])
    func sixteenBitMatchesReference(_ name: String) throws {
        let expected = try #require(Suites.cases("pngsuite").first { $0.name == name })
        guard case .rgba8SHA256(let sha) = expected.expectation else { Issue.record("no reference for \(name)"); return }
        let (image16, info) = try ImageDecoder().decode16(try data(Paths.pngSuite(name)))
        #expect(info.bitDepth == 16)
        #expect(image16.to8Bit().rgba8SHA256 == sha)
    }

    @Test("that reference needs rounding: truncating basn2c16's samples would give another image")
    func roundingMatters() throws {
        let (image16, _) = try ImageDecoder().decode16(try data(Paths.pngSuite("basn2c16.png")))
        #expect(image16.samples.contains { UInt8($0 >> 8) != UInt8((UInt32($0) * 255 + 32767) / 65535) })
    }

    @Test("16-bit decodes of 8-bit and lower-depth files are exact: v * 257",
          arguments: ["basn0g01.png", "basn0g04.png", "basn2c08.png", "basn3p02.png", "tbrn2c08.png", "basi3p08.png"])
    func lowDepthTo16(_ name: String) throws {
        let bytes = try data(Paths.pngSuite(name))
        let eight = try ImageDecoder().decode(bytes).image
        let (sixteen, _) = try ImageDecoder().decode16(bytes)
        #expect(sixteen.samples == eight.pixels.map { UInt16($0) * 257 })
    }

    @Test("header facts: colour model, channels, depth, interlace")
    func headerFacts() throws {
        let cases: [(String, String, Int, Int, Bool)] = [
            ("basn0g01.png", "grey", 1, 1, false), ("basi0g16.png", "grey", 1, 16, true),
            ("basn2c08.png", "rgb", 3, 8, false), ("basn3p04.png", "palette", 3, 4, false),
            ("tbbn3p08.png", "palette", 4, 8, false), ("basn4a08.png", "grey+alpha", 2, 8, false),
            ("basn6a16.png", "rgba", 4, 16, false), ("tbgn2c16.png", "rgb", 4, 16, false),
        ]
        for (name, model, channels, depth, interlaced) in cases {
            let info = try ImageDecoder().info(try data(Paths.pngSuite(name)))
            #expect(info.format == .png)
            #expect(info.colorModel == model, "\(name)")
            #expect(info.channels == channels, "\(name)")
            #expect(info.bitDepth == depth, "\(name)")
            #expect(info.interlaced == interlaced, "\(name)")
            #expect(info.width == 32 && info.height == 32)
        }
    }

    @Test("a FIFO or a device is refused as not a regular file, without blocking on it")
    func specialFiles() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("curate-fifo-\(getpid())").path
        unlink(path)
        #expect(mkfifo(path, 0o600) == 0)
        defer { unlink(path) }
        for file in [path, "/dev/zero"] {
            #expect { _ = try ImageDecoder.read(file) } throws: { "\($0)".contains("not a regular file") }
        }
    }

    @Test("a PNG cut short is reported as truncated at every cut point")
    func truncatedPNG() throws {
        let full = try data(Paths.pngSuite("basn2c08.png"))
        for cut in stride(from: 8, to: full.count - 12, by: 97) {
            let error = try #require(decodeError(full.prefix(cut)), "cut at \(cut) decoded")
            #expect(error.code == .truncated, "cut at \(cut): \(error)")
        }
    }

    @Test("a damaged IDAT is an error, never a wrong image: in the data (zlib) or in its CRC")
    func damagedIDAT() throws {
        let original = [UInt8](try data(Paths.pngSuite("basn2c08.png")))
        let idat = try #require(original.indices.first { original[$0..<min($0 + 4, original.count)].elementsEqual("IDAT".utf8) })
        let length = Int(original[idat - 4]) << 24 | Int(original[idat - 3]) << 16 | Int(original[idat - 2]) << 8 | Int(original[idat - 1])
        var inData = original
        inData[idat + 10] ^= 0x10
        let dataError = try #require(decodeError(Data(inData)))
        #expect([.corrupt, .badCRC].contains(dataError.code), "\(dataError)")
        var inCRC = original
        inCRC[idat + 4 + length] ^= 0x01
        #expect(decodeError(Data(inCRC))?.code == .badCRC)
    }
}

@Suite("Limits and hostile input")
struct LimitTests {
    /// A PNG whose IHDR declares `width` x `height` and whose IDAT holds almost nothing.
    func bomb(width: UInt32, height: UInt32) -> Data {
        let ihdr = be32(width) + be32(height) + [8, 6, 0, 0, 0]
        let idat: [UInt8] = [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]  // zlib stream of nothing
        return Data(pngSignature + pngChunk("IHDR", ihdr) + pngChunk("IDAT", idat) + pngChunk("IEND", []))
    }

    @Test("a decompression bomb is refused before any pixel buffer exists")
    func pngBomb() throws {
        let error = try #require(decodeError(bomb(width: 60_000, height: 60_000)))
        #expect(error.code == .tooLarge)
        #expect(error.message.contains("3600000000 pixels"))
    }

    @Test("the pixel limit is configurable, for PNG and JPEG")
    func configurableLimit() throws {
        var options = DecodeOptions()
        options.maxPixels = 32 * 32 - 1
        #expect(decodeError(try data(Paths.pngSuite("basn2c08.png")), options: options)?.code == .tooLarge)
        options.maxPixels = 227 * 149 - 1
        #expect(decodeError(try data(Paths.jpegTestImage("testorig.jpg")), options: options)?.code == .tooLarge)
        options.maxPixels = 227 * 149
        #expect(decodeError(try data(Paths.jpegTestImage("testorig.jpg")), options: options) == nil)
    }

    @Test("a JPEG declaring 65000x65000 is refused by the limit")
    func jpegBomb() throws {
        var bytes = [UInt8](try data(Paths.jpegTestImage("testorig.jpg")))
        let sof = try #require(bytes.indices.first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        bytes[sof + 5] = 0xFD; bytes[sof + 6] = 0xE8; bytes[sof + 7] = 0xFD; bytes[sof + 8] = 0xE8  // height, width = 65000
        #expect(decodeError(Data(bytes))?.code == .tooLarge)
    }

    @Test("a truncated JPEG is damage: an error by default, a flagged grey-padded image when lenient")
    func truncatedJPEG() throws {
        let full = try data(Paths.jpegTestImage("testorig.jpg"))
        let cut = full.prefix(full.count / 2)
        let error = try #require(decodeError(cut))
        #expect(error.code == .damaged)
        #expect(error.message.contains("Premature end of JPEG file"))
        var lenient = DecodeOptions()
        lenient.lenient = true
        let decoded = try ImageDecoder(options: lenient).decode(cut)
        #expect(decoded.damage?.contains("Premature end") == true)
        #expect(decoded.image.width == 227 && decoded.image.height == 149)
        // libjpeg pads what is missing: the last row is flat grey-ish, unlike the real image's.
        let reference = try ImageDecoder().decode(full).image
        #expect(decoded.image.pixels != reference.pixels)
    }

    @Test("a JPEG cut inside its headers is truncated, not damaged")
    func jpegCutInHeader() throws {
        let full = try data(Paths.jpegTestImage("testorig.jpg"))
        let error = try #require(decodeError(full.prefix(100)))
        #expect(error.code == .truncated, "\(error)")
    }
}

@Suite("Formats are found from the bytes")
struct FormatTests {
    @Test("other formats get a clear unsupportedFormat error naming them")
    func unsupported() throws {
        let samples: [(String, [UInt8])] = [
            ("GIF", Array("GIF89a".utf8) + [UInt8](repeating: 0, count: 20)),
            ("WebP", Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WEBPVP8 ".utf8) + [UInt8](repeating: 0, count: 8)),
            ("TIFF", [0x49, 0x49, 0x2A, 0x00] + [UInt8](repeating: 0, count: 12)),
        ]
        for (name, bytes) in samples {
            let error = try #require(decodeError(Data(bytes)))
            #expect(error.code == .unsupportedFormat)
            #expect(error.message.contains(name), "\(error)")
        }
        let bmp = try #require(decodeError(try data(Paths.jpegTestImage("testimg.bmp"))))
        #expect(bmp.code == .unsupportedFormat && bmp.message.contains("BMP"))
        let text = try #require(decodeError(Data("hello, world: not an image".utf8)))
        #expect(text.code == .unsupportedFormat && text.message.contains("unrecognised"))
        #expect(decodeError(Data())?.code == .truncated)
    }

    @Test("a JPEG named .png decodes as JPEG; a PNG named .jpg as PNG")
    func nameIsIgnored() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("curate-names-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try data(Paths.jpegTestImage("testorig.jpg")).write(to: dir.appendingPathComponent("photo.png"))
        try data(Paths.pngSuite("basn2c08.png")).write(to: dir.appendingPathComponent("graphic.jpg"))
        #expect(try ImageDecoder().decode(contentsOf: dir.appendingPathComponent("photo.png").path).info.format == .jpeg)
        #expect(try ImageDecoder().decode(contentsOf: dir.appendingPathComponent("graphic.jpg").path).info.format == .png)
    }

    @Test("missing files and folders are unreadable, with the path")
    func unreadable() {
        let missing = "/nonexistent/curate/image.png"
        #expect(throws: ImageDecodingError(.unreadable, "no such file", path: missing)) {
            try ImageDecoder().decode(contentsOf: missing)
        }
        do {
            _ = try ImageDecoder().decode(contentsOf: Paths.fixtures)
            Issue.record("a folder decoded")
        } catch {
            #expect(error.code == .unreadable && error.path == Paths.fixtures)
            #expect(error.description.hasPrefix(Paths.fixtures + ": unreadable: "))
        }
    }
}

@Suite("JPEG features")
struct JPEGFeatureTests {
    let fixtures = Paths.fixtures + "/jpeg"

    /// The upright picture every orientation fixture must give: quadrants red, green / blue, white.
    func checkUpright(_ image: Image, _ label: String) {
        #expect(image.width == 48 && image.height == 32, "\(label): \(image.width)x\(image.height)")
        guard image.width == 48 && image.height == 32 else { return }
        let expected: [((Int, Int), SIMD4<Int>)] = [((12, 8), [255, 0, 0, 255]), ((36, 8), [0, 255, 0, 255]),
                                                   ((12, 24), [0, 0, 255, 255]), ((36, 24), [255, 255, 255, 255])]
        for ((x, y), colour) in expected {
            let got = SIMD4<Int>(truncatingIfNeeded: image[x, y])
            let diff = (got &- colour).replacing(with: 0 &- (got &- colour), where: got .< colour)
            #expect(diff.max() <= 8, "\(label): pixel (\(x), \(y)) is \(got), expected \(colour)")
        }
    }

    @Test("EXIF orientation 1 to 8 is applied by default", arguments: 1...8)
    func orientationApplied(_ k: Int) throws {
        let decoded = try ImageDecoder().decode(contentsOf: "\(fixtures)/orient-\(k).jpg")
        #expect(decoded.info.orientation == k)
        checkUpright(decoded.image, "orientation \(k)")
    }

    @Test("the stored orientation is kept on request", arguments: [6, 8])
    func orientationKept(_ k: Int) throws {
        var options = DecodeOptions()
        options.applyOrientation = false
        let image = try ImageDecoder(options: options).decode(contentsOf: "\(fixtures)/orient-\(k).jpg").image
        #expect(image.width == 32 && image.height == 48)
    }

    @Test("CMYK and YCCK JPEGs come out as RGB: R = C * K / 255 on Adobe's inverted inks, as libjpeg-turbo's tools do",
          arguments: [("cmyk.jpg", "cmyk"), ("ycck.jpg", "ycck")])
    func cmyk(_ file: String, _ model: String) throws {
        let decoded = try ImageDecoder().decode(contentsOf: "\(fixtures)/\(file)")
        #expect(decoded.info.channels == 4 && decoded.info.colorModel == model)
        // The inks the fixture scripts painted, stored inverted (Adobe) by Pillow and make_ycck.c.
        let inks: [(Int, Int, Int, Int)] = [(0, 0, 0, 0), (255, 0, 0, 0), (0, 128, 255, 64), (30, 60, 90, 200)]
        for (i, ink) in inks.enumerated() {
            let x = (i % 2) * 16 + 8, y = (i / 2) * 16 + 8
            let k = 255 - ink.3
            let expected = [ink.0, ink.1, ink.2].map { ((255 - $0) * k + 127) / 255 }
            let got = decoded.image[x, y]
            for c in 0..<3 { #expect(abs(Int(got[c]) - expected[c]) <= 3, "block \(i) channel \(c): \(got[c]) vs \(expected[c])") }
            #expect(got[3] == 255)
        }
    }

    @Test("restart markers change nothing in the pixels")
    func restartMarkers() throws {
        let withRST = try data("\(fixtures)/restart.jpg")
        // The fixture really has a restart interval (DRI) and RSTn markers.
        let bytes = [UInt8](withRST)
        #expect(zip(bytes, bytes.dropFirst()).contains { $0 == 0xFF && $1 == 0xDD })
        #expect(zip(bytes, bytes.dropFirst()).filter { $0 == 0xFF && (0xD0...0xD7).contains($1) }.count >= 8)
        let a = try ImageDecoder().decode(withRST).image
        let b = try ImageDecoder().decode(contentsOf: "\(fixtures)/norestart.jpg").image
        #expect(a == b)
    }

    @Test("a target size picks the largest DCT scale that still covers it")
    func dctScalingForTarget() throws {
        let bytes = try data(Paths.jpegTestImage("testorig.jpg"))  // 227x149
        var options = DecodeOptions()
        options.minimumSize = PixelSize(width: 57, height: 38)  // ceil(227/4) x ceil(149/4)
        let quarter = try ImageDecoder(options: options).decode(bytes).image
        #expect(quarter == (try Netpbm.read("\(Paths.testdata)/jpeg/libjpeg-turbo-default-decodes/testorig.scale1_4.ppm")))
        options.minimumSize = PixelSize(width: 58, height: 38)  // one column more than 1/4 gives: 1/2
        #expect(try ImageDecoder(options: options).decode(bytes).image.width == 114)
        options.minimumSize = PixelSize(width: 300, height: 10)  // larger than the image: full size
        #expect(try ImageDecoder(options: options).decode(bytes).image.width == 227)
        let exact = try ImageDecoder().decode(bytes, resizedTo: PixelSize(width: 20, height: 13)).image
        #expect(exact.width == 20 && exact.height == 13)
    }
}

@Suite("Batch decoding")
struct BatchTests {
    @Test("all cores give the same results, in the same order, as one thread")
    func sameAsOneThread() throws {
        let cases = Suites.cases("pngsuite") + Suites.cases("afl-jpeg").prefix(300)
        let paths = cases.map(\.path) + ["/nonexistent/x.png"]
        func summary(_ threads: Int) -> [String] {
            BatchDecoder(threads: threads).decode(paths: paths).map { r in
                switch r {
                case .success(let d): d.image.rgba8SHA256
                case .failure(let e): e.description
                }
            }
        }
        let one = summary(1)
        #expect(one.count == paths.count)
        #expect(one.last == "/nonexistent/x.png: unreadable: no such file")
        #expect(summary(2) == one)
        #expect(summary(5) == one)
        // In input order: entry i is file i's own decode.
        for i in [0, 17, 100] where i < cases.count {
            let own = (try? ImageDecoder().decode(contentsOf: paths[i]).image.rgba8SHA256) ?? "error"
            if !one[i].contains(": ") { #expect(one[i] == own) }
        }
    }

    @Test("resizing in a batch equals decode-then-resize of each")
    func batchResize() throws {
        let paths = ["basn2c08.png", "basi6a08.png"].map(Paths.pngSuite) + [Paths.jpegTestImage("testimgp.jpg")]
        let size = PixelSize(width: 17, height: 9)
        let batch = BatchDecoder(threads: 2, size: size).decode(paths: paths)
        for (path, result) in zip(paths, batch) {
            let image = try result.get().image
            #expect(image.size == size)
            #expect(image == (try ImageDecoder().decode(data(path), resizedTo: size).image))
        }
    }
}

@Suite("Robustness")
struct RobustnessTests {
    /// Seeded mutations of valid files: flipped bytes, overwritten runs, cuts and splices.
    func mutations(of original: [UInt8], count: Int, seed: UInt64) -> [[UInt8]] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            var b = original
            switch Int.random(in: 0..<4, using: &rng) {
            case 0:
                for _ in 0..<Int.random(in: 1...8, using: &rng) { b[Int.random(in: 0..<b.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng) }
            case 1:
                let at = Int.random(in: 0..<b.count, using: &rng)
                for i in at..<min(b.count, at + Int.random(in: 1...64, using: &rng)) { b[i] = UInt8.random(in: 0...255, using: &rng) }
            case 2:
                b = Array(b.prefix(Int.random(in: 0..<b.count, using: &rng)))
            default:
                let from = Int.random(in: 0..<b.count, using: &rng), to = Int.random(in: 0..<b.count, using: &rng)
                let n = min(Int.random(in: 1...256, using: &rng), b.count - max(from, to))
                if n > 0 { b.replaceSubrange(to..<to + n, with: b[from..<from + n]) }
            }
            return b
        }
    }

    @Test("thousands of seeded mutations never crash or hang, and every success is a whole image",
          arguments: ["png/pngsuite/basi6a16.png", "png/pngsuite/basn3p02.png", "png/pngsuite/tbwn3p08.png",
                      "jpeg/libjpeg-turbo-testimages/testimgp.jpg", "jpeg/libjpeg-turbo-testimages/testimgari.jpg",
                      "jpeg/libjpeg-turbo-testimages/testorig.jpg"])
    func mutatedFiles(_ file: String) throws {
        let original = [UInt8](try data("\(Paths.testdata)/\(file)"))
        let inputs = mutations(of: original, count: 600, seed: UInt64(original.count))
        var lenient = DecodeOptions()
        lenient.lenient = true
        let results = BatchDecoder(decoder: ImageDecoder(options: lenient), threads: 2).decode(inputs.map { Data($0) })
        var failed = 0
        for result in results {
            switch result {
            case .success(let d):
                #expect(d.image.pixels.count == d.image.width * d.image.height * 4 && d.image.width > 0)
            case .failure(let e):
                failed += 1
                #expect(!e.message.isEmpty)
            }
        }
        #expect(failed > 0, "mutations that all decode prove nothing")
    }
}
