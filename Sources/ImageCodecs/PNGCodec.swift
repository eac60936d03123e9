import CCodecShims
import Foundation

/// PNG decoding through libpng's classic API: expand, `scale_16` (rounding), grey to RGB,
/// alpha filler, interlace handling, no gamma transform, which is exactly the canonical decode.
enum PNGCodec {
    static func decode(_ data: Data, options: DecodeOptions) throws(ImageDecodingError) -> DecodedImage {
        let result: Result<DecodedImage, ImageDecodingError> = data.withUnsafeBytes { raw in
            decodeBytes(raw, sixteen: false, options: options).map { pixels, info, warnings in
                DecodedImage(image: Image(width: info.width, height: info.height, pixels: pixels),
                             info: info, damage: nil, warnings: warnings)
            }
        }
        return try result.get()
    }

    static func decode16(_ data: Data, options: DecodeOptions) throws(ImageDecodingError) -> (image: Image16, info: ImageInfo) {
        let result: Result<(Image16, ImageInfo), ImageDecodingError> = data.withUnsafeBytes { raw in
            decodeBytes(raw, sixteen: true, options: options).map { bytes, info, _ in
                let samples = bytes.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }
                return (Image16(width: info.width, height: info.height, samples: samples), info)
            }
        }
        let (image, info) = try result.get()
        return (image, info)
    }

    static func info(_ data: Data) throws(ImageDecodingError) -> ImageInfo {
        let result: Result<ImageInfo, ImageDecodingError> = data.withUnsafeBytes { raw in
            var status = curate_status()
            var header = curate_png_header()
            let dec = curate_png_open(raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count, &header, &status)
            defer { curate_png_close(dec) }
            guard dec != nil, status.code == CURATE_OK else { return .failure(ImageDecodingError(status: status)) }
            return .success(makeInfo(header))
        }
        return try result.get()
    }

    /// Both phases under one borrow of the bytes: open (header), check the limit, decode into our buffer.
    private static func decodeBytes(_ raw: UnsafeRawBufferPointer, sixteen: Bool, options: DecodeOptions)
        -> Result<(bytes: [UInt8], info: ImageInfo, warnings: Int), ImageDecodingError> {
        var status = curate_status()
        var header = curate_png_header()
        let dec = curate_png_open(raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count, &header, &status)
        defer { curate_png_close(dec) }
        guard dec != nil, status.code == CURATE_OK else { return .failure(ImageDecodingError(status: status)) }
        let info = makeInfo(header)
        let pixels = info.width * info.height
        guard info.width > 0, info.height > 0 else {
            return .failure(ImageDecodingError(.badHeader, "image has no pixels (\(info.width)x\(info.height))"))
        }
        guard pixels <= options.maxPixels else {
            return .failure(ImageDecodingError(.tooLarge, "\(info.width)x\(info.height) is \(pixels) pixels, over the limit of \(options.maxPixels)"))
        }
        let bytesPerSample = sixteen ? 2 : 1
        let stride = info.width * 4 * bytesPerSample
        let bytes: [UInt8]? = makeArray(count: stride * info.height) { buffer in
            curate_png_decode(dec, buffer.baseAddress, stride, sixteen ? 1 : 0, &status) == CURATE_OK
        }
        guard let bytes else { return .failure(ImageDecodingError(status: status)) }
        return .success((bytes, info, Int(status.warnings)))
    }

    private static func makeInfo(_ h: curate_png_header) -> ImageInfo {
        let trns = h.has_trns != 0
        let (channels, model): (Int, String) = switch h.color_type {
        case 0: (trns ? 2 : 1, "grey")
        case 2: (trns ? 4 : 3, "rgb")
        case 3: (trns ? 4 : 3, "palette")
        case 4: (2, "grey+alpha")
        default: (4, "rgba")
        }
        return ImageInfo(format: .png, width: Int(h.width), height: Int(h.height), channels: channels,
                         bitDepth: Int(h.bit_depth), interlaced: h.interlaced != 0, orientation: 1, colorModel: model)
    }
}
