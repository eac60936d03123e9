import Foundation
import ImageCodecs
import Testing

/// An image whose pixel (x, y) is (x, y, 10x + y, 255): every pixel is distinct and traceable.
func coordinateImage(width: Int, height: Int) -> Image {
    var image = Image(width: width, height: height)
    for y in 0..<height { for x in 0..<width { image[x, y] = [UInt8(x), UInt8(y), UInt8(10 * x + y), 255] } }
    return image
}

/// A one-row grey image from sample values.
func row(_ values: [UInt8]) -> Image {
    Image(width: values.count, height: 1, pixels: values.flatMap { [$0, $0, $0, 255] })
}

@Suite("Orientation")
struct OrientationTests {
    @Test("each EXIF orientation moves pixels where the EXIF specification says (hand-checked corners)")
    func corners() {
        let src = coordinateImage(width: 3, height: 2)  // (x, y) encoded in R and G
        // For each orientation: output size and where the source's top-left (0,0) and top-right (2,0) land.
        let expectations: [(Int, (Int, Int), (Int, Int), (Int, Int))] = [
            (2, (3, 2), (2, 0), (0, 0)),   // mirrored: top-left goes top-right
            (3, (3, 2), (2, 1), (0, 1)),   // 180 degrees
            (4, (3, 2), (0, 1), (2, 1)),   // flipped vertically
            (5, (2, 3), (0, 0), (0, 2)),   // transposed
            (6, (2, 3), (1, 0), (1, 2)),   // stored turned 90 CCW: display turns it 90 CW
            (7, (2, 3), (1, 2), (1, 0)),   // transverse
            (8, (2, 3), (0, 2), (0, 0)),   // turned 90 CCW
        ]
        for (k, size, topLeftTo, topRightTo) in expectations {
            let out = src.oriented(exif: k)
            #expect(out.width == size.0 && out.height == size.1, "orientation \(k)")
            #expect(out[topLeftTo.0, topLeftTo.1] == src[0, 0], "orientation \(k): top-left")
            #expect(out[topRightTo.0, topRightTo.1] == src[2, 0], "orientation \(k): top-right")
        }
    }

    @Test("orientations compose as the dihedral group: 6 then 8 is the identity, 3 twice too, 6 twice is 3")
    func composition() {
        let src = coordinateImage(width: 5, height: 3)
        #expect(src.oriented(exif: 6).oriented(exif: 8) == src)
        #expect(src.oriented(exif: 3).oriented(exif: 3) == src)
        #expect(src.oriented(exif: 6).oriented(exif: 6) == src.oriented(exif: 3))
        for k in [2, 4, 5, 7] { #expect(src.oriented(exif: k).oriented(exif: k) == src, "orientation \(k) is its own inverse") }
        #expect(src.oriented(exif: 1) == src && src.oriented(exif: 9) == src)
    }
}

@Suite("Resizing")
struct ResizeTests {
    @Test("shrinking by whole factors averages blocks (rounded half up)")
    func wholeFactor() {
        let src = row([0, 10, 20, 31, 100, 200])
        #expect(src.resized(to: PixelSize(width: 3, height: 1)).pixels == row([5, 26, 150]).pixels)  // 25.5 rounds up
        #expect(src.resized(to: PixelSize(width: 2, height: 1)).pixels == row([10, 110]).pixels)     // 30/3, 331/3=110.3
    }

    @Test("shrinking by a fraction weighs source pixels by their coverage (3 to 2: 2/3 and 1/3)")
    func fractionalArea() {
        // out0 = (0 * 1 + 90 * 0.5) / 1.5 = 30; out1 = (90 * 0.5 + 180 * 1) / 1.5 = 150
        #expect(row([0, 90, 180]).resized(to: PixelSize(width: 2, height: 1)).pixels == row([30, 150]).pixels)
    }

    @Test("enlarging is bilinear between pixel centres, clamped at the edges")
    func bilinear() {
        // centres of 4 outputs over 2 inputs: -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1)
        #expect(row([0, 100]).resized(to: PixelSize(width: 4, height: 1)).pixels == row([0, 25, 75, 100]).pixels)
    }

    @Test("both axes at once, and each axis chooses its own filter")
    func twoDimensional() {
        let src = Image(width: 2, height: 2, pixels: [0, 0, 0, 255, 100, 100, 100, 255,
                                                     200, 200, 200, 255, 40, 40, 40, 255])
        let one = src.resized(to: PixelSize(width: 1, height: 1))
        #expect(one[0, 0] == [85, 85, 85, 255])  // mean 85
        let mixed = src.resized(to: PixelSize(width: 1, height: 4))  // shrink x, grow y
        // column means: row0 50, row1 120; then bilinear over 4: 50, 67.5, 102.5, 120
        #expect((0..<4).map { mixed[0, $0].x } == [50, 68, 103, 120])
    }

    @Test("same size is the identity; a flat image stays flat at any size")
    func invariants() {
        let src = coordinateImage(width: 7, height: 5)
        #expect(src.resized(to: src.size) == src)
        let flat = Image(width: 13, height: 7, fill: [12, 200, 99, 255])
        for size in [PixelSize(width: 5, height: 3), PixelSize(width: 31, height: 17), PixelSize(width: 1, height: 29)] {
            #expect(flat.resized(to: size) == Image(width: size.width, height: size.height, fill: [12, 200, 99, 255]))
        }
    }
}

@Suite("Tensors")
struct TensorTests {
    @Test("channels first, scaled to [0, 1], then normalised by mean and std")
    func rgbTensor() {
        let image = Image(width: 2, height: 1, pixels: [255, 0, 51, 255, 0, 102, 255, 255])
        for (a, b) in zip(image.tensor(.rgb), [1, 0, 0, 0.4, 0.2, 1] as [Float]) { #expect(abs(a - b) <= 1e-6) }
        let layout = Image.TensorLayout(channels: 3, mean: [0.5, 0.5, 0.5], std: [0.5, 0.25, 1])
        let t = image.tensor(layout)
        let expected: [Float] = [1, -1, -2, -0.4, -0.3, 0.5]
        for (a, b) in zip(t, expected) { #expect(abs(a - b) <= 1e-6, "\(t) vs \(expected)") }
    }

    @Test("one channel is BT.601 luma, exact on grey images")
    func greyTensor() {
        let image = Image(width: 2, height: 1, pixels: [77, 77, 77, 255, 255, 0, 0, 255])
        let t = image.tensor(.grey)
        #expect(t[0] == Float(77) / 255)
        #expect(t[1] == Float(76) / 255)  // 0.299 * 255 = 76.2 -> 76
    }
}

@Suite("PNG encoding")
struct EncoderTests {
    func randomImage(width: Int, height: Int, seed: UInt64) -> Image {
        var rng = SplitMix64(seed: seed)
        return Image(width: width, height: height, pixels: (0..<(width * height * 4)).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    @Test("8-bit grey, grey+alpha, RGB and RGBA round-trip exactly", arguments: PNGEncoder.ColorType.allCases)
    func roundTrip8(_ type: PNGEncoder.ColorType) throws {
        let src = randomImage(width: 37, height: 23, seed: UInt64(type.rawValue))
        let decoded = try ImageDecoder().decode(PNGEncoder().encode(src, as: type))
        #expect(decoded.info.channels == type.rawValue && decoded.info.bitDepth == 8)
        // What the stored channels must give back, by the canonical decode's rules.
        var expected = src
        for i in 0..<(src.width * src.height) {
            let p = i * 4
            switch type {
            case .grey: expected.pixels[p + 1] = src.pixels[p]; expected.pixels[p + 2] = src.pixels[p]; expected.pixels[p + 3] = 255
            case .greyAlpha: expected.pixels[p + 1] = src.pixels[p]; expected.pixels[p + 2] = src.pixels[p]
            case .rgb: expected.pixels[p + 3] = 255
            case .rgba: break
            }
        }
        #expect(decoded.image == expected)
    }

    @Test("16-bit samples round-trip exactly", arguments: [PNGEncoder.ColorType.grey, .rgb, .rgba])
    func roundTrip16(_ type: PNGEncoder.ColorType) throws {
        var rng = SplitMix64(seed: 16 + UInt64(type.rawValue))
        var samples = (0..<(19 * 11 * 4)).map { _ in UInt16.random(in: 0...UInt16.max, using: &rng) }
        for i in stride(from: 0, to: samples.count, by: 4) {
            if type == .grey { samples[i + 1] = samples[i]; samples[i + 2] = samples[i] }
            if type != .rgba { samples[i + 3] = UInt16.max }
        }
        let src = Image16(width: 19, height: 11, samples: samples)
        let bytes = try PNGEncoder(compressionLevel: 9).encode(src, as: type)
        let (back, info) = try ImageDecoder().decode16(bytes)
        #expect(info.bitDepth == 16)
        #expect(back == src)
    }

    @Test("write picks the smallest lossless colour type and replaces the file atomically")
    func writeFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("curate-enc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("grey.png").path
        try "old".write(toFile: path, atomically: false, encoding: .utf8)
        let grey = Image(width: 4, height: 4, fill: [9, 9, 9, 255])
        try PNGEncoder().write(grey, to: path)
        let decoded = try ImageDecoder().decode(contentsOf: path)
        #expect(decoded.info.colorModel == "grey" && decoded.image == grey)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["grey.png"])  // no temporary left
        // A temporary file a killed writer left (its process gone) is removed by the next write of
        // the same file; one of a live process (here this one) is another writer's, and stays.
        // PID 4194305 is above Linux's largest (pid_max is at most 2^22).
        let dead = dir.appendingPathComponent(".grey.png.tmp-4194305-7").path, live = dir.appendingPathComponent(".grey.png.tmp-\(getpid())-7").path
        for p in [dead, live] { try "partial".write(toFile: p, atomically: false, encoding: .utf8) }
        try PNGEncoder().write(grey, to: path)
        #expect(!FileManager.default.fileExists(atPath: dead) && FileManager.default.fileExists(atPath: live))
    }

    @Test("a failed write leaves no partial file")
    func failedWrite() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("curate-enc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let blocker = dir.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: blocker)
        let path = blocker.appendingPathComponent("out.png").path  // its "folder" is a file
        #expect(throws: ImageDecodingError.self) { try PNGEncoder().write(Image(width: 1, height: 1), to: path) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["a-file"])
    }
}

@Suite("zlib")
struct GzipTests {
    let gz: [UInt8] = [31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 75, 46, 45, 74, 44, 73, 85, 72, 175, 202, 44, 80, 40, 73, 45, 46, 225, 2, 0, 147, 238, 202, 48, 17, 0, 0, 0]
    let gz2: [UInt8] = [31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 43, 72, 44, 42, 81, 40, 41, 207, 231, 2, 0, 231, 1, 61, 151, 9, 0, 0, 0]
    let zlib: [UInt8] = [120, 156, 171, 202, 201, 76, 82, 40, 46, 41, 74, 77, 204, 5, 0, 26, 62, 4, 94]

    @Test("gzip (made by Python's gzip module), concatenated members and zlib streams inflate")
    func inflate() throws {
        #expect(String(decoding: try Gzip.decompress(Data(gz)), as: UTF8.self) == "curate gzip test\n")
        #expect(String(decoding: try Gzip.decompress(Data(gz + gz2)), as: UTF8.self) == "curate gzip test\npart two\n")
        #expect(String(decoding: try Gzip.decompress(Data(zlib)), as: UTF8.self) == "zlib stream")
        #expect(Gzip.isGzip(Data(gz)) && !Gzip.isGzip(Data(zlib)))
    }

    @Test("truncated, corrupt and over-limit inputs are errors")
    func errors() {
        #expect(throws: ImageDecodingError.self) { try Gzip.decompress(Data(gz.prefix(20))) }
        var bad = gz
        bad[12] ^= 0xFF
        #expect(throws: ImageDecodingError.self) { try Gzip.decompress(Data(bad)) }
        do {
            _ = try Gzip.decompress(Data(gz), limit: 5)
            Issue.record("limit ignored")
        } catch {
            #expect(error.code == .tooLarge)
        }
    }
}
