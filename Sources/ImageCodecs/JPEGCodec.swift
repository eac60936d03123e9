import CCodecShims
import Foundation

/// JPEG decoding through libjpeg(-turbo)'s classic API, straight to RGBA (`JCS_EXT_RGBA`), with
/// DCT-domain scaling, CMYK/YCCK conversion, EXIF orientation, and warnings treated as damage.
enum JPEGCodec {
    static func decode(_ data: Data, options: DecodeOptions) throws(ImageDecodingError) -> DecodedImage {
        let result: Result<DecodedImage, ImageDecodingError> = data.withUnsafeBytes { raw in
            decodeBytes(raw, options: options)
        }
        var decoded = try result.get()
        if options.applyOrientation && decoded.info.orientation != 1 {
            decoded.image = decoded.image.oriented(exif: decoded.info.orientation)
        }
        return decoded
    }

    static func info(_ data: Data, options: DecodeOptions) throws(ImageDecodingError) -> ImageInfo {
        let result: Result<ImageInfo, ImageDecodingError> = data.withUnsafeBytes { raw in
            var status = curate_status()
            var header = curate_jpeg_header()
            let dec = curate_jpeg_open(raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count, 1,
                                       0, Int32(options.maxProgressiveScans), &header, &status)
            defer { curate_jpeg_close(dec) }
            guard dec != nil, status.code == CURATE_OK else { return .failure(ImageDecodingError(status: status)) }
            return .success(makeInfo(header))
        }
        return try result.get()
    }

    /// The largest DCT scale denominator (8, 4, 2) whose output still covers `minimum`.
    static func scaleDenominator(width: Int, height: Int, orientation: Int, options: DecodeOptions) -> Int {
        if let explicit = options.jpegScaleDenominator { return [1, 2, 4, 8].contains(explicit) ? explicit : 1 }
        guard var minimum = options.minimumSize else { return 1 }
        if options.applyOrientation && orientation >= 5 { minimum = PixelSize(width: minimum.height, height: minimum.width) }
        for d in [8, 4, 2] {
            // libjpeg's scaled size is ceil(dimension / d)
            if (width + d - 1) / d >= minimum.width && (height + d - 1) / d >= minimum.height { return d }
        }
        return 1
    }

    private static func decodeBytes(_ raw: UnsafeRawBufferPointer, options: DecodeOptions) -> Result<DecodedImage, ImageDecodingError> {
        let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self)
        var status = curate_status()
        var header = curate_jpeg_header()
        // Read the headers at full scale to learn the size and orientation, then choose the scale.
        let maxMemory = max(256 << 20, min(options.maxPixels, Int(Int32.max)) * 8)
        let dec = curate_jpeg_open(base, raw.count, 1, maxMemory, Int32(options.maxProgressiveScans), &header, &status)
        defer { curate_jpeg_close(dec) }
        guard dec != nil, status.code == CURATE_OK else { return .failure(ImageDecodingError(status: status)) }
        let width = Int(header.width), height = Int(header.height)
        guard width > 0, height > 0 else {
            return .failure(ImageDecodingError(.badHeader, "image has no pixels (\(width)x\(height))"))
        }
        guard width * height <= options.maxPixels else {
            return .failure(ImageDecodingError(.tooLarge, "\(width)x\(height) is \(width * height) pixels, over the limit of \(options.maxPixels)"))
        }
        let denominator = scaleDenominator(width: width, height: height, orientation: Int(header.orientation), options: options)
        if denominator != 1 {
            guard curate_jpeg_set_scale(dec, Int32(denominator), &header, &status) == CURATE_OK else {
                return .failure(ImageDecodingError(status: status))
            }
        }
        let outWidth = Int(header.output_width), outHeight = Int(header.output_height)
        let stride = outWidth * 4
        var code = Int32(CURATE_OK)
        let pixels: [UInt8]? = makeArray(count: stride * outHeight) { buffer in
            code = curate_jpeg_decode(dec, buffer.baseAddress, stride, &status)
            return code == CURATE_OK || (code == CURATE_ERR_DAMAGED && options.lenient)
        }
        guard let pixels else { return .failure(ImageDecodingError(status: status)) }
        let damage = code == CURATE_ERR_DAMAGED ? status.warningText : nil
        return .success(DecodedImage(image: Image(width: outWidth, height: outHeight, pixels: pixels),
                                     info: makeInfo(header), damage: damage, warnings: Int(status.warnings)))
    }

    private static func makeInfo(_ h: curate_jpeg_header) -> ImageInfo {
        let model: String = switch h.color_space {
        case 1: "grey"        // JCS_GRAYSCALE
        case 2: "rgb"         // JCS_RGB
        case 3: "ycbcr"       // JCS_YCbCr
        case 4: "cmyk"        // JCS_CMYK
        case 5: "ycck"        // JCS_YCCK
        default: "unknown"
        }
        return ImageInfo(format: .jpeg, width: Int(h.width), height: Int(h.height), channels: Int(h.components),
                         bitDepth: 8, interlaced: h.progressive != 0, orientation: Int(h.orientation), colorModel: model)
    }
}
