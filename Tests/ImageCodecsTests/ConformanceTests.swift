import Foundation
import ImageCodecs
import Testing

/// The public conformance suites, file by file, against their independent reference decodes.
@Suite("Conformance suites (shared/testdata)")
struct ConformanceTests {
    @Test("the suites hold the files the issue names")
    func suiteSizes() {
        let png = Suites.cases("pngsuite")
        #expect(png.filter { if case .rgba8SHA256 = $0.expectation { true } else { false } }.count == 161)
        #expect(png.filter { $0.expectation == .rejected }.count == 14)
        #expect(png.filter { $0.expectation == .rejected }.allSatisfy { $0.name.hasPrefix("x") })
        #expect(Suites.cases("libpng-testpngs").filter { $0.expectation == .noCrash }.count == 23)
        #expect(Suites.cases("libjpeg-turbo").count == 8)
        #expect(Suites.cases("afl-jpeg").count == 2081)
    }

    @Test("PNG files decode to their reference RGBA8 hash", arguments: Suites.all.filter {
        if case .rgba8SHA256 = $0.expectation { true } else { false }
    })
    func referenceHash(_ c: ConformanceSuite.Case) throws {
        guard case .rgba8SHA256(let expected) = c.expectation else { return }
        let decoded = try ImageDecoder().decode(contentsOf: c.path)
        #expect(decoded.image.rgba8SHA256 == expected)
        #expect(decoded.image.pixels.count == decoded.image.width * decoded.image.height * 4)
    }

    @Test("corrupt PngSuite files are rejected", arguments: Suites.cases("pngsuite").filter { $0.expectation == .rejected })
    func corruptPNGRejected(_ c: ConformanceSuite.Case) throws {
        let error = try #require(decodeError(try data(c.path)))
        // The codes a user can act on, where the suite documents the fault.
        let expected: [String: ImageDecodingError.Code] = [
            "xs1n0g01.png": .notPNG, "xs2n0g01.png": .notPNG, "xs4n0g01.png": .notPNG, "xs7n0g01.png": .notPNG,
            "xcrn0g04.png": .notPNG, "xlfn0g04.png": .notPNG,
            "xcsn0g01.png": .badCRC, "xhdn0g08.png": .badCRC,
            "xc1n0g08.png": .badHeader, "xc9n2c08.png": .badHeader,
            "xd0n2c08.png": .badHeader, "xd3n2c08.png": .badHeader, "xd9n2c08.png": .badHeader,
        ]
        if let code = expected[c.name] { #expect(error.code == code, "\(c.name): \(error)") }
        #expect(!error.message.isEmpty)
    }

    @Test("libpng's crashers never crash the process", arguments: Suites.cases("libpng-testpngs").filter { $0.expectation == .noCrash })
    func crashersDoNotCrash(_ c: ConformanceSuite.Case) throws {
        // Reaching the next line at all is the point; each must also come back as a value.
        let result = Result { () throws(ImageDecodingError) in try ImageDecoder().decode(contentsOf: c.path) }
        if case .failure(let e) = result { #expect(e.path == c.path) }
    }

    @Test("libjpeg-turbo's test images equal its own default decodes, DCT-scaled ones too",
          arguments: Suites.cases("libjpeg-turbo"))
    func jpegReferenceDecodes(_ c: ConformanceSuite.Case) throws {
        guard case .reference(let ref, let denominator) = c.expectation else { Issue.record("not a reference case"); return }
        var options = DecodeOptions()
        options.jpegScaleDenominator = denominator
        let image = try ImageDecoder(options: options).decode(contentsOf: c.path).image
        let expected = try Netpbm.read(ref)
        #expect(image.width == expected.width && image.height == expected.height)
        #expect(image.pixels == expected.pixels, "\(c.name) differs from \(ref)")
    }

    @Test("the AFL JPEG corpus: rejected files error, damaged ones are reported, valid ones decode",
          arguments: Suites.cases("afl-jpeg"))
    func aflCorpus(_ c: ConformanceSuite.Case) throws {
        guard case .djpeg(let verdict, let md5) = c.expectation else { Issue.record("not a djpeg case"); return }
        let bytes = try data(c.path)
        var keep = DecodeOptions()
        keep.applyOrientation = false  // djpeg does not apply EXIF orientation
        switch verdict {
        case "rejected":
            #expect(decodeError(bytes, options: keep) != nil, "djpeg rejects \(c.name) but it decoded")
        case "corrupt-warn":
            let strict = try #require(decodeError(bytes, options: keep), "damaged file decoded without an error")
            #expect(strict.code == .damaged)
            var lenient = keep
            lenient.lenient = true
            let decoded = try ImageDecoder(options: lenient).decode(bytes)
            #expect(decoded.damage != nil && decoded.warnings > 0)
            if let md5 { #expect(Netpbm.md5(of: decoded.image, grey: decoded.info.channels == 1) == md5, "lenient decode differs from djpeg's") }
        case "valid":
            let decoded = try ImageDecoder(options: keep).decode(bytes)
            #expect(decoded.damage == nil)
            if let md5 { #expect(Netpbm.md5(of: decoded.image, grey: decoded.info.channels == 1) == md5) }
        default:
            Issue.record("unknown verdict \(verdict)")
        }
    }

    @Test("the conformance runner that `curate demo` prints agrees: every case passes")
    func runnerSummary() throws {
        let summaries = try ConformanceSuite.run(testdata: Paths.testdata, threads: 2)
        #expect(summaries.map(\.suite) == ["pngsuite", "libpng-testpngs", "libjpeg-turbo", "afl-jpeg"])
        #expect(summaries.map(\.total) == [175, 139, 8, 2081])
        for s in summaries { #expect(s.failures.isEmpty, "\(s.suite): \(s.failures.prefix(3))") }
    }
}
