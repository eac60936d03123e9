import DatasetCatalog
import Foundation
import ImageCodecs

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
    static func quote(_ s: String) -> String { ManifestWriter.jsonString(s) }
}
