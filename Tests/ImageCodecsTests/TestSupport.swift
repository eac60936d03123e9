import Foundation
import ImageCodecs

/// Paths found from this file, never from the working directory.
enum Paths {
    static let projectRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// `shared/testdata` beside the project (or `CURATE_TESTDATA`).
    static let testdata: String = ProcessInfo.processInfo.environment["CURATE_TESTDATA"]
        ?? projectRoot.appendingPathComponent("../shared/testdata").standardizedFileURL.path
    static let fixtures = projectRoot.appendingPathComponent("fixtures").path

    static func pngSuite(_ name: String) -> String { "\(testdata)/png/pngsuite/\(name)" }
    static func jpegTestImage(_ name: String) -> String { "\(testdata)/jpeg/libjpeg-turbo-testimages/\(name)" }
}

/// All conformance cases, loaded once.
enum Suites {
    static let all: [ConformanceSuite.Case] = (try? ConformanceSuite.cases(testdata: Paths.testdata)) ?? []
    static func cases(_ suite: String) -> [ConformanceSuite.Case] { all.filter { $0.suite == suite } }
}

/// A deterministic generator (SplitMix64) for test inputs.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func data(_ path: String) throws -> Data {
    try Data(contentsOf: URL(fileURLWithPath: path))
}

/// The decode error, or nil when the decode succeeded.
func decodeError(_ bytes: Data, options: DecodeOptions = .default) -> ImageDecodingError? {
    do throws(ImageDecodingError) {
        _ = try ImageDecoder(options: options).decode(bytes)
        return nil
    } catch {
        return error
    }
}

/// CRC-32 (ISO-HDLC, as PNG uses), written out here so tests can build chunks independently of libpng.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
    }
    return ~crc
}

/// A PNG chunk with its length and CRC.
func pngChunk(_ type: String, _ payload: [UInt8]) -> [UInt8] {
    let typeBytes = Array(type.utf8)
    let len = UInt32(payload.count)
    var out: [UInt8] = [UInt8(len >> 24), UInt8(len >> 16 & 255), UInt8(len >> 8 & 255), UInt8(len & 255)]
    out += typeBytes + payload
    let crc = crc32(typeBytes + payload)
    out += [UInt8(crc >> 24), UInt8(crc >> 16 & 255), UInt8(crc >> 8 & 255), UInt8(crc & 255)]
    return out
}

func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }

let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
