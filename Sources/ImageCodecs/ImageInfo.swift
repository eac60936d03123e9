/// What a file says about its image, as stored.
public struct ImageInfo: Sendable, Equatable, Codable {
    public var format: ImageFormat
    /// Dimensions as stored in the file (before EXIF orientation and scaling).
    public var width: Int
    public var height: Int
    /// Channels of the stored colour model: 1 grey, 2 grey+alpha, 3 colour, 4 colour+alpha
    /// (PNG palette counts as 3, or 4 with transparency; tRNS counts as alpha) or CMYK.
    public var channels: Int
    /// Bits per sample as stored (PNG: 1 to 16; JPEG: 8).
    public var bitDepth: Int
    /// PNG: Adam7 interlaced. JPEG: progressive.
    public var interlaced: Bool
    /// The EXIF orientation (1 to 8; 1 when absent).
    public var orientation: Int
    /// A short description of the colour model (`grey`, `rgb`, `palette`, `ycbcr`, `cmyk`, ...).
    public var colorModel: String

    public init(format: ImageFormat, width: Int, height: Int, channels: Int, bitDepth: Int,
                interlaced: Bool, orientation: Int = 1, colorModel: String) {
        self.format = format
        self.width = width
        self.height = height
        self.channels = channels
        self.bitDepth = bitDepth
        self.interlaced = interlaced
        self.orientation = orientation
        self.colorModel = colorModel
    }
}

/// A successful decode: the pixels, what the file said, and any damage that lenient decoding let through.
public struct DecodedImage: Sendable {
    public var image: Image
    public var info: ImageInfo
    /// Set only by a lenient decode of a damaged file: the library's first warning.
    public var damage: String?
    /// How many warnings the library gave (data damage for JPEG; harmless notes for PNG).
    public var warnings: Int

    public init(image: Image, info: ImageInfo, damage: String? = nil, warnings: Int = 0) {
        self.image = image
        self.info = info
        self.damage = damage
        self.warnings = warnings
    }
}

/// How to decode.
public struct DecodeOptions: Sendable {
    /// Images with more pixels than this are refused before any pixel buffer is allocated.
    public var maxPixels: Int = 100_000_000
    /// Return damaged JPEGs (decoded with warnings, grey-padded) flagged in `DecodedImage.damage`
    /// instead of failing with `.damaged`.
    public var lenient: Bool = false
    /// Apply the EXIF orientation, so the image comes out upright.
    public var applyOrientation: Bool = true
    /// The smallest output the caller needs: JPEG decodes use libjpeg's DCT-domain scaling
    /// (1/2, 1/4, 1/8) as far as the output stays at least this large. Sizes are after orientation.
    public var minimumSize: PixelSize? = nil
    /// An explicit JPEG DCT scale denominator (1, 2, 4 or 8); overrides `minimumSize`.
    public var jpegScaleDenominator: Int? = nil
    /// Progressive JPEGs with more scans than this are refused (real files have about 10).
    public var maxProgressiveScans: Int = 500

    public init() {}

    public static let `default` = DecodeOptions()
}
