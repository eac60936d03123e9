import DatasetCatalog
import Foundation
import ImageCodecs
import Testing

/// A temporary folder removed when the value is released.
final class TempDir {
    let url: URL
    var path: String { url.path }
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("curate-ds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    @discardableResult
    func write(_ relative: String, _ text: String) throws -> String {
        try write(relative, Data(text.utf8))
    }

    @discardableResult
    func write(_ relative: String, _ data: Data) throws -> String {
        let p = url.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: p.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: p)
        return p.path
    }

    /// Writes a PNG of one colour (or of a pattern when `pattern` is given).
    @discardableResult
    func png(_ relative: String, width: Int = 16, height: Int = 16, fill: SIMD4<UInt8> = [10, 20, 30, 255],
             pattern: ((Int, Int) -> SIMD4<UInt8>)? = nil) throws -> String {
        var image = Image(width: width, height: height, fill: fill)
        if let pattern { for y in 0..<height { for x in 0..<width { image[x, y] = pattern(x, y) } } }
        return try write(relative, try PNGEncoder().encode(image, as: .rgba))
    }
}

/// The error a throwing call gave, for checking its text.
func manifestError(_ body: () throws -> Void) -> ManifestError? {
    do { try body(); return nil } catch let e as ManifestError { return e } catch { return nil }
}

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
