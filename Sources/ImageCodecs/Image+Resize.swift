/// One output sample's source span and weights along one axis.
struct ResampleTap {
    var start: Int
    var weights: [Float]
}

enum Resampler {
    /// Area averaging when shrinking (each output pixel is the exact coverage-weighted mean of
    /// the source pixels under it), bilinear with pixel-centre alignment when enlarging.
    static func taps(from n: Int, to m: Int) -> [ResampleTap] {
        precondition(n > 0 && m > 0)
        if n == m { return (0..<n).map { ResampleTap(start: $0, weights: [1]) } }
        if m < n {
            let scale = Double(n) / Double(m)
            return (0..<m).map { i in
                let lo = Double(i) * scale, hi = Double(i + 1) * scale
                let first = Int(lo.rounded(.down)), last = min(n - 1, Int((hi - 1e-9).rounded(.down)))
                var weights: [Float] = []
                for j in first...last {
                    let overlap = min(hi, Double(j + 1)) - max(lo, Double(j))
                    weights.append(Float(max(0, overlap) / scale))
                }
                return ResampleTap(start: first, weights: weights)
            }
        }
        let scale = Double(n) / Double(m)
        return (0..<m).map { i in
            let centre = min(max((Double(i) + 0.5) * scale - 0.5, 0), Double(n - 1))
            let j = min(Int(centre.rounded(.down)), n - 1)
            let f = Float(centre - Double(j))
            if j + 1 >= n || f == 0 { return ResampleTap(start: j, weights: [1]) }
            return ResampleTap(start: j, weights: [1 - f, f])
        }
    }
}

extension Image {
    /// The image resized to `size`: area averaging along an axis that shrinks, bilinear along one
    /// that grows. Channels are filtered independently (alpha is not premultiplied).
    /// - Complexity: O(source pixels + output pixels) times the filter width.
    public func resized(to size: PixelSize) -> Image {
        precondition(size.width > 0 && size.height > 0, "resize target must be positive")
        if size.width == width && size.height == height { return self }
        let xTaps = Resampler.taps(from: width, to: size.width)
        let yTaps = Resampler.taps(from: height, to: size.height)
        let ow = size.width, oh = size.height, w = width
        // Horizontal pass into float rows, then vertical pass into bytes.
        var mid = [SIMD4<Float>](repeating: .zero, count: ow * height)
        pixels.withUnsafeBufferPointer { src in
            mid.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let row = y * w * 4
                    for (x, tap) in xTaps.enumerated() {
                        var acc = SIMD4<Float>.zero
                        var p = row + tap.start * 4
                        for wgt in tap.weights {
                            let v = SIMD4<Float>(Float(src[p]), Float(src[p + 1]), Float(src[p + 2]), Float(src[p + 3]))
                            acc.addProduct(v, SIMD4(repeating: wgt))
                            p += 4
                        }
                        dst[y * ow + x] = acc
                    }
                }
            }
        }
        var out = [UInt8](repeating: 0, count: ow * oh * 4)
        mid.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for (y, tap) in yTaps.enumerated() {
                    for x in 0..<ow {
                        var acc = SIMD4<Float>.zero
                        var r = tap.start
                        for wgt in tap.weights {
                            acc.addProduct(src[r * ow + x], SIMD4(repeating: wgt))
                            r += 1
                        }
                        let v = (acc + 0.5).clamped(lowerBound: .zero, upperBound: SIMD4(repeating: 255))
                        let o = (y * ow + x) * 4
                        dst[o] = UInt8(v.x); dst[o + 1] = UInt8(v.y); dst[o + 2] = UInt8(v.z); dst[o + 3] = UInt8(v.w)
                    }
                }
            }
        }
        return Image(width: ow, height: oh, pixels: out)
    }
}

extension ImageDecoder {
    /// Decodes and resizes to exactly `size`, letting JPEG's DCT scaling do most of a large shrink.
    /// - Throws: `tooLarge` when `size` itself is over the pixel limit (checked before decoding).
    public func decode(_ data: Foundation.Data, resizedTo size: PixelSize) throws(ImageDecodingError) -> DecodedImage {
        let (pixels, overflow) = size.width.multipliedReportingOverflow(by: size.height)
        guard !overflow, pixels <= options.maxPixels else {
            throw ImageDecodingError(.tooLarge, "the target size \(size) is \(overflow ? "too many" : String(pixels)) pixels, over the limit of \(options.maxPixels)")
        }
        var scaled = self
        scaled.options.minimumSize = size
        var decoded = try scaled.decode(data)
        decoded.image = decoded.image.resized(to: size)
        return decoded
    }
}

import Foundation
