/// An image container format, found from a file's first bytes (never from its name).
public enum ImageFormat: String, Sendable, Codable, CaseIterable {
    case png, jpeg
    // Recognised so that the error can name them; never decoded.
    case gif, bmp, webp, tiff, ico, psd, qoi, jpeg2000, jpegXL, heif, avif, pnm

    /// Whether Curate decodes this format.
    public var isDecodable: Bool { self == .png || self == .jpeg }

    /// The name people know the format by.
    public var displayName: String {
        switch self {
        case .png: "PNG"
        case .jpeg: "JPEG"
        case .gif: "GIF"
        case .bmp: "BMP"
        case .webp: "WebP"
        case .tiff: "TIFF"
        case .ico: "ICO"
        case .psd: "Photoshop PSD"
        case .qoi: "QOI"
        case .jpeg2000: "JPEG 2000"
        case .jpegXL: "JPEG XL"
        case .heif: "HEIF"
        case .avif: "AVIF"
        case .pnm: "PNM (PPM/PGM/PBM)"
        }
    }

    /// Identifies the format from the leading bytes, or `nil` when no known signature matches.
    public static func sniff<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> ImageFormat? {
        let b = Array(bytes.prefix(16))
        func starts(_ sig: [UInt8], at offset: Int = 0) -> Bool {
            b.count >= offset + sig.count && Array(b[offset..<offset + sig.count]) == sig
        }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts([0xFF, 0xD8]) { return .jpeg }  // libjpeg accepts any bytes after SOI (with a warning)
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        if starts(Array("BM".utf8)) && b.count >= 14 { return .bmp }
        if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return .webp }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        if starts([0x00, 0x00, 0x01, 0x00]) { return .ico }
        if starts(Array("8BPS".utf8)) { return .psd }
        if starts(Array("qoif".utf8)) { return .qoi }
        if starts([0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20]) || starts([0xFF, 0x4F, 0xFF, 0x51]) { return .jpeg2000 }
        if starts([0xFF, 0x0A]) || starts([0x00, 0x00, 0x00, 0x0C, 0x4A, 0x58, 0x4C, 0x20]) { return .jpegXL }
        if starts(Array("ftyp".utf8), at: 4) {
            let brand = b.count >= 12 ? String(decoding: b[8..<12], as: UTF8.self) : ""
            if brand.hasPrefix("avi") { return .avif }
            if ["heic", "heix", "hevc", "heim", "heis", "mif1", "msf1"].contains(brand) { return .heif }
        }
        if b.count >= 2 && b[0] == UInt8(ascii: "P") && (UInt8(ascii: "1")...UInt8(ascii: "7")).contains(b[1]) { return .pnm }
        return nil
    }
}
