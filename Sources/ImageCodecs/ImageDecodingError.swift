/// Why an image could not be decoded (or encoded): a stable code, the library's own message,
/// and the file it came from.
///
/// The `description` is stable and meant for people: `path: code: message`.
public struct ImageDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stable, machine-readable reason. The raw value is what `--json` output prints.
    public enum Code: String, Sendable, Codable, CaseIterable {
        /// The bytes claim to be PNG (or were given to the PNG decoder) but the signature is wrong.
        case notPNG
        /// The bytes were given to the JPEG decoder but do not start with a JPEG SOI marker.
        case notJPEG
        /// A format Curate does not decode (BMP, GIF, WebP, TIFF, ...) or bytes of no known format.
        case unsupportedFormat
        /// The data ends before the image does.
        case truncated
        /// A critical chunk's CRC does not match its data.
        case badCRC
        /// The image header (PNG IHDR and the chunks before the data, JPEG markers before the first scan) is invalid.
        case badHeader
        /// The image is larger than the pixel limit, or asks for more memory than allowed.
        case tooLarge
        /// The file decodes only with data-damage warnings (libjpeg pads such images with grey).
        case damaged
        /// A fatal error inside the compressed image data.
        case corrupt
        /// The file could not be read (missing, a directory, no permission).
        case unreadable
        /// Memory could not be allocated.
        case outOfMemory
        /// Encoding failed, or an internal invariant did not hold.
        case failed
    }

    public var code: Code
    public var message: String
    public var path: String?

    public init(_ code: Code, _ message: String, path: String? = nil) {
        self.code = code
        self.message = message
        self.path = path
    }

    /// The same error, attributed to `path`.
    public func at(_ path: String?) -> ImageDecodingError {
        var copy = self
        copy.path = path ?? copy.path
        return copy
    }

    public var description: String {
        if let path { return "\(path): \(reason)" }
        return reason
    }

    /// `code: message`, without the path: for a line that names the file already.
    public var reason: String { "\(code.rawValue): \(message)" }
}
