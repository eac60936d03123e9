/// A decoded image: 8-bit RGBA samples, rows top to bottom, no padding.
///
/// This is the canonical form every decoder produces (grey expanded to R=G=B, missing alpha
/// set to 255, no gamma or colour-profile correction), the one `rgba8_sha256` hashes.
public struct Image: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width * height * 4` samples: R, G, B, A for each pixel.
    public var pixels: [UInt8]

    /// - Precondition: `pixels.count == width * height * 4`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 4,
                     "an RGBA image of \(width)x\(height) needs \(width * height * 4) samples, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image of one colour.
    public init(width: Int, height: Int, fill: SIMD4<UInt8> = [0, 0, 0, 255]) {
        var pixels = [UInt8](repeating: 0, count: width * height * 4)
        for i in stride(from: 0, to: pixels.count, by: 4) {
            pixels[i] = fill.x; pixels[i + 1] = fill.y; pixels[i + 2] = fill.z; pixels[i + 3] = fill.w
        }
        self.init(width: width, height: height, pixels: pixels)
    }

    public var size: PixelSize { PixelSize(width: width, height: height) }

    /// The RGBA value at column `x`, row `y`.
    public subscript(x: Int, y: Int) -> SIMD4<UInt8> {
        get {
            let i = (y * width + x) * 4
            return SIMD4(pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3])
        }
        set {
            let i = (y * width + x) * 4
            pixels[i] = newValue.x; pixels[i + 1] = newValue.y; pixels[i + 2] = newValue.z; pixels[i + 3] = newValue.w
        }
    }

    /// Whether every pixel has alpha 255.
    public var isOpaque: Bool { RGBASamples.opaque(pixels) }

    /// Whether every pixel has R == G == B.
    public var isGrey: Bool { RGBASamples.grey(pixels) }
}

/// Checks over interleaved RGBA samples of any depth.
enum RGBASamples {
    /// Every alpha sample is the type's maximum (fully opaque).
    static func opaque<T: FixedWidthInteger & UnsignedInteger>(_ samples: [T]) -> Bool {
        samples.withUnsafeBufferPointer { p in
            var i = 3
            while i < p.count { if p[i] != T.max { return false }; i += 4 }
            return true
        }
    }

    /// R == G == B in every pixel.
    static func grey<T: FixedWidthInteger>(_ samples: [T]) -> Bool {
        samples.withUnsafeBufferPointer { p in
            var i = 0
            while i < p.count { if p[i] != p[i + 1] || p[i] != p[i + 2] { return false }; i += 4 }
            return true
        }
    }
}

/// An image with 16-bit RGBA samples (native byte order), for callers that want PNG's full depth.
public struct Image16: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width * height * 4` samples.
    public var samples: [UInt16]

    /// Every alpha sample is 65535.
    public var isOpaque: Bool { RGBASamples.opaque(samples) }

    /// R == G == B in every pixel.
    public var isGrey: Bool { RGBASamples.grey(samples) }

    public init(width: Int, height: Int, samples: [UInt16]) {
        precondition(samples.count == width * height * 4)
        self.width = width
        self.height = height
        self.samples = samples
    }

    /// Rounds to 8 bits the way the canonical decode does: `floor(v * 255 / 65535 + 0.5)`.
    public func to8Bit() -> Image {
        let out = samples.map { UInt8((UInt32($0) * 255 + 32767) / 65535) }
        return Image(width: width, height: height, pixels: out)
    }
}

/// A width and a height in pixels.
public struct PixelSize: Sendable, Hashable, Codable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// Parses `WxH` (for example `32x32`); `nil` when malformed or not positive.
    public init?(parsing text: String) {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0,
              w <= 1 << 20, h <= 1 << 20 else { return nil }
        self.init(width: w, height: h)
    }

    public var description: String { "\(width)x\(height)" }
    public var pixelCount: Int { width * height }
}
