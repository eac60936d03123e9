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
    /// Hue bins, in degrees: red below 15 and from 335, orange to 45, yellow to 70, green to 160,
    /// cyan to 200, blue to 260, purple to 290, magenta to 335.

    /// Computes the statistics of an image in one pass.
    /// - Complexity: O(pixels).
    public init(_ image: Image) {
        let n = image.width * image.height
        let (sums, counts) = Self.accumulate(image.pixels, count: n)
        let (sumR, sumG, sumB, sumRG, sumRG2, sumYB2x, sumYB2x2) = (sums[0], sums[1], sums[2], sums[3], sums[4], sums[5], sums[6])
        let hues = (counts[0] + counts[8], counts[1], counts[2], counts[3], counts[4], counts[5], counts[6], counts[7])
        let chromatic = n - counts[9]
        let count = Double(max(n, 1))
        meanR = Double(sumR) / count; meanG = Double(sumG) / count; meanB = Double(sumB) / count
        brightness = 0.299 * meanR + 0.587 * meanG + 0.114 * meanB
        let mRG = Double(sumRG) / count, mYB = Double(sumYB2x) / count / 2
        let varRG = max(0, Double(sumRG2) / count - mRG * mRG), varYB = max(0, Double(sumYB2x2) / count / 4 - mYB * mYB)
        colourfulness = (varRG + varYB).squareRoot() + 0.3 * (mRG * mRG + mYB * mYB).squareRoot()
        let bins = [hues.0, hues.1, hues.2, hues.3, hues.4, hues.5, hues.6, hues.7]
        if Double(chromatic) < 0.1 * count {
            dominantHue = "none"
        } else {
            dominantHue = Self.hueNames[bins.indices.max { bins[$0] < bins[$1] || (bins[$0] == bins[$1] && $0 > $1) }!]
        }
    }

    /// Sums (R, G, B, rg, rg², yb2, yb2² where yb2 = r + g - 2b) and hue-bin counts (bins 0-8,
    /// 8 wrapping to red; bin 9: pixels without colour), 16 pixels at a time, read straight from
    /// the RGBA words (a last partial block is padded with black, which adds nothing).
    /// - Complexity: O(pixels), about 2 cycles a pixel; no allocation.
    static func accumulate(_ pixels: [UInt8], count n: Int) -> ([Int], [Int]) {
        typealias V = SIMD16<Int32>
        var sums = SIMD8<Int>()  // R, G, B, rg, rg², yb, yb²
        var atLeast = (SIMD8<Int>(), 0)  // chromatic pixels with hue >= bound k (k = 0: all), k < 8, then k = 8
        pixels.withUnsafeBytes { raw in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 16) { last in
                var block = 0
                while block < n {
                    // Int32 lanes are flushed to Int every 4,096 pixels, before any could overflow.
                    let end = min(block &+ 4096, n)
                    var sR = V(), sG = V(), sB = V(), sRG = V(), sRG2 = V(), sYB = V(), sYB2 = V()
                    var c0 = V(), c1 = V(), c2 = V(), c3 = V(), c4 = V(), c5 = V(), c6 = V(), c7 = V(), c8 = V()
                    var i = block
                    while i < end {
                        let words: SIMD16<UInt32>
                        if i &+ 16 <= n {
                            words = raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<UInt32>.self)
                        } else {
                            last.initialize(repeating: 0)
                            for j in 0..<(n &- i) { last[j] = raw.loadUnaligned(fromByteOffset: (i &+ j) &* 4, as: UInt32.self) }
                            words = UnsafeRawPointer(last.baseAddress!).loadUnaligned(as: SIMD16<UInt32>.self)
                        }
                        let r = V(truncatingIfNeeded: words & 0xFF), g = V(truncatingIfNeeded: (words &>> 8) & 0xFF)
                        let b = V(truncatingIfNeeded: (words &>> 16) & 0xFF)
                        sR &+= r; sG &+= g; sB &+= b
                        let rg = r &- g, yb = r &+ g &- 2 &* b
                        sRG &+= rg; sRG2 &+= rg &* rg; sYB &+= yb; sYB2 &+= yb &* yb
                        // Only lane arithmetic below (shifts give all-ones masks of a sign): the
                        // stdlib's mask helpers are generic calls that do not become vector code.
                        @inline(__always) func maxMin(_ x: V, _ y: V) -> (V, V) {
                            let diff = x &- y, neg = diff &>> 31
                            return (x &- (diff & neg), y &+ (diff & neg))
                        }
                        let (mxRG, mnRG) = maxMin(r, g)
                        let mx = maxMin(mxRG, b).0, mn = maxMin(mnRG, b).1
                        let d = mx &- mn
                        let isR = ((mx &- r) &- 1) &>> 31 & 1  // 1 where mx == r
                        let isG = ((mx &- g) &- 1) &>> 31 & 1
                        // hue * delta: r's sector first, then g's, then b's, as in the HSV definition
                        let hdR = 60 &* (g &- b) &+ ((g &- b) &>> 31 & (360 &* d))
                        let hdG = 120 &* d &+ 60 &* (b &- r)
                        let hdB = 240 &* d &+ 60 &* (r &- g)
                        let t = hdB &+ isG &* (hdG &- hdB)
                        let hd = t &+ isR &* (hdR &- t)
                        // saturated (S > 0.2) and not too dark (V > 0.2): mx > 51 and 5d > mx
                        let one = (V(repeating: 51) &- mx) &>> 31 & ((mx &- 5 &* d) &>> 31) & 1
                        @inline(__always) func atLeast(_ bound: Int32) -> V { one & ~((hd &- bound &* d) &>> 31) }
                        c0 &+= one
                        c1 &+= atLeast(15); c2 &+= atLeast(45); c3 &+= atLeast(70); c4 &+= atLeast(160)
                        c5 &+= atLeast(200); c6 &+= atLeast(260); c7 &+= atLeast(290); c8 &+= atLeast(335)
                        i &+= 16
                    }
                    @inline(__always) func total(_ v: V) -> Int { Int(v.wrappedSum()) }
                    sums &+= SIMD8(total(sR), total(sG), total(sB), total(sRG), total(sRG2), total(sYB), total(sYB2), 0)
                    atLeast.0 &+= SIMD8(total(c0), total(c1), total(c2), total(c3), total(c4), total(c5), total(c6), total(c7))
                    atLeast.1 &+= total(c8)
                    block = end
                }
            }
        }
        // bin j holds atLeast[j] - atLeast[j + 1]; bin 9 the pixels without colour
        let bound = (0..<9).map { $0 < 8 ? atLeast.0[$0] : atLeast.1 }
        var bins = (0..<9).map { bound[$0] - ($0 < 8 ? bound[$0 + 1] : 0) }
        bins.append(n - bound[0])
        return ((0..<7).map { sums[$0] }, bins)
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
