import CCodecShims
import Foundation

/// Writes PNG files (8- or 16-bit grey, grey+alpha, RGB or RGBA) through libpng.
public struct PNGEncoder: Sendable {
    /// Which channels of the RGBA source to store.
    public enum ColorType: Int, Sendable, CaseIterable {
        case grey = 1, greyAlpha = 2, rgb = 3, rgba = 4
    }

    /// zlib level 0 (store) to 9 (smallest); 6 is zlib's default.
    public var compressionLevel: Int

    public init(compressionLevel: Int = 6) {
        self.compressionLevel = compressionLevel
    }

    /// Encodes an 8-bit image. `.grey` stores the red channel (use it for images with R == G == B).
    public func encode(_ image: Image, as colorType: ColorType = .rgba) throws(ImageDecodingError) -> Data {
        try encode(samples: image.pixels, width: image.width, height: image.height, as: colorType, bitDepth: 8)
    }

    /// Encodes a 16-bit image.
    public func encode(_ image: Image16, as colorType: ColorType = .rgba) throws(ImageDecodingError) -> Data {
        try encode(samples: image.samples, width: image.width, height: image.height, as: colorType, bitDepth: 16)
    }

    private func encode<T: BitwiseCopyable>(samples rgba: [T], width: Int, height: Int, as colorType: ColorType, bitDepth: Int) throws(ImageDecodingError) -> Data {
        let packed = Self.select(rgba, count: width * height, channels: colorType.rawValue)
        let result: Result<Data, ImageDecodingError> = packed.withUnsafeBytes { raw in
            Result { () throws(ImageDecodingError) in
                try encodeRaw(raw, width: width, height: height, channels: colorType.rawValue, bitDepth: bitDepth)
            }
        }
        return try result.get()
    }

    /// Encodes with the smallest colour type that loses nothing.
    public func encodeSmallest(_ image: Image) throws(ImageDecodingError) -> Data {
        try encode(image, as: Self.smallest(opaque: image.isOpaque, grey: image.isGrey))
    }

    /// Encodes 16-bit samples with the smallest colour type that loses nothing.
    public func encodeSmallest(_ image: Image16) throws(ImageDecodingError) -> Data {
        try encode(image, as: Self.smallest(opaque: image.isOpaque, grey: image.isGrey))
    }

    static func smallest(opaque: Bool, grey: Bool) -> ColorType {
        opaque ? (grey ? .grey : .rgb) : (grey ? .greyAlpha : .rgba)
    }

    /// Encodes and writes atomically (a temporary file, then a rename).
    public func write(_ image: Image, to path: String, as colorType: ColorType? = nil) throws(ImageDecodingError) {
        let data: Data
        if let colorType { data = try encode(image, as: colorType) } else { data = try encodeSmallest(image) }
        do {
            try AtomicFile.write(data, to: path)
        } catch {
            throw ImageDecodingError(.failed, "cannot write: \((error as? FileWriteError)?.reason ?? "\(error)")", path: path)
        }
    }

    private func encodeRaw(_ raw: UnsafeRawBufferPointer, width: Int, height: Int, channels: Int, bitDepth: Int) throws(ImageDecodingError) -> Data {
        guard width > 0, height > 0, width <= Int(UInt32.max), height <= Int(UInt32.max) else {
            throw ImageDecodingError(.failed, "cannot encode an image of \(width)x\(height)")
        }
        var status = curate_status()
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        let stride = width * channels * bitDepth / 8
        let rc = curate_png_encode(raw.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt32(width), UInt32(height), stride,
                                   Int32(channels), Int32(bitDepth), Int32(compressionLevel), &out, &size, &status)
        guard rc == CURATE_OK, let out else {
            var error = ImageDecodingError(status: status)
            error.code = .failed
            throw error
        }
        defer { curate_free(out) }
        return Data(bytes: out, count: size)
    }

    private static func select<T: BitwiseCopyable>(_ rgba: [T], count: Int, channels: Int) -> [T] {
        if channels == 4 { return rgba }
        let pick: [Int] = switch channels {
        case 1: [0]
        case 2: [0, 3]
        default: [0, 1, 2]
        }
        var out = [T]()
        out.reserveCapacity(count * channels)
        for i in 0..<count { for c in pick { out.append(rgba[i * 4 + c]) } }
        return out
    }
}
