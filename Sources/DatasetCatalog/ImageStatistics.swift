import ImageCodecs

/// Per-image pixel statistics recorded by scans and used by pixel tags and audits.
public struct ImageStatistics: Sendable, Equatable, Codable {
    /// Mean BT.601 luma, 0 to 255.
    public var brightness: Double
    /// Hasler & Süsstrunk's colourfulness metric (0 for grey images; about 100+ for vivid ones).
    public var colourfulness: Double
    public var meanR: Double
    public var meanG: Double
    public var meanB: Double
    /// The most common hue among saturated pixels, or "none" when under 10% of pixels have colour.
    public var dominantHue: String

    public static let hueNames = ["red", "orange", "yellow", "green", "cyan", "blue", "purple", "magenta"]
    /// Upper hue bounds, in degrees, of the bins in `hueNames` (red wraps around 360).
    static let hueBounds: [Double] = [15, 45, 70, 160, 200, 260, 290, 335]

    /// Computes the statistics of an image in one pass.
    /// - Complexity: O(pixels).
    public init(_ image: Image) {
        let n = image.width * image.height
        var sumR = 0.0, sumG = 0.0, sumB = 0.0, sumL = 0.0
        var sumRG = 0.0, sumRG2 = 0.0, sumYB = 0.0, sumYB2 = 0.0
        var hues = [Int](repeating: 0, count: 8)
        var chromatic = 0
        image.pixels.withUnsafeBufferPointer { p in
            for i in 0..<n {
                let r = Double(p[i * 4]), g = Double(p[i * 4 + 1]), b = Double(p[i * 4 + 2])
                sumR += r; sumG += g; sumB += b
                sumL += 0.299 * r + 0.587 * g + 0.114 * b
                let rg = r - g, yb = 0.5 * (r + g) - b
                sumRG += rg; sumRG2 += rg * rg; sumYB += yb; sumYB2 += yb * yb
                let mx = max(r, g, b), mn = min(r, g, b)
                let delta = mx - mn
                // saturated (S > 0.2) and not too dark (V > 0.2)
                if mx > 51 && delta > 0.2 * mx {
                    var h: Double
                    if mx == r { h = 60 * ((g - b) / delta) } else if mx == g { h = 60 * ((b - r) / delta + 2) } else { h = 60 * ((r - g) / delta + 4) }
                    if h < 0 { h += 360 }
                    var bin = 0
                    if h >= Self.hueBounds[7] || h < Self.hueBounds[0] { bin = 0 } else {
                        for k in 1..<8 where h < Self.hueBounds[k] { bin = k; break }
                    }
                    hues[bin] += 1
                    chromatic += 1
                }
            }
        }
        let count = Double(max(n, 1))
        meanR = sumR / count; meanG = sumG / count; meanB = sumB / count
        brightness = sumL / count
        let mRG = sumRG / count, mYB = sumYB / count
        let sdRG = (max(0, sumRG2 / count - mRG * mRG)).squareRoot(), sdYB = (max(0, sumYB2 / count - mYB * mYB)).squareRoot()
        colourfulness = (sdRG * sdRG + sdYB * sdYB).squareRoot() + 0.3 * (mRG * mRG + mYB * mYB).squareRoot()
        if Double(chromatic) < 0.1 * count {
            dominantHue = "none"
        } else {
            dominantHue = Self.hueNames[hues.indices.max { hues[$0] < hues[$1] || (hues[$0] == hues[$1] && $0 > $1) }!]
        }
    }

    public init(brightness: Double, colourfulness: Double, meanR: Double, meanG: Double, meanB: Double, dominantHue: String) {
        self.brightness = brightness
        self.colourfulness = colourfulness
        self.meanR = meanR
        self.meanG = meanG
        self.meanB = meanB
        self.dominantHue = dominantHue
    }
}
