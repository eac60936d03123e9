import Foundation
import ImageCodecs
import NeuralNet

/// The built-in image transforms for synthetic augmentation, each seeded.
public enum AugmentTransform: String, CaseIterable, Sendable {
    case flip, crop, jitter, noise, blur

    public static func parse(_ text: String) throws -> [AugmentTransform] {
        try text.split(separator: ",").map { part in
            guard let t = AugmentTransform(rawValue: part.trimmingCharacters(in: .whitespaces)) else {
                throw CurationError("unknown transform '\(part)' (flip, crop, jitter, noise, blur)")
            }
            return t
        }
    }

    /// Applies the transform to an RGBA image.
    public func apply(_ image: Image, _ rng: inout SplitMix64) -> Image {
        let (w, h) = (image.width, image.height)
        var px = image.pixels
        switch self {
        case .flip:
            for y in 0..<h {
                for x in 0..<(w / 2) {
                    for c in 0..<4 { px.swapAt((y * w + x) * 4 + c, (y * w + w - 1 - x) * 4 + c) }
                }
            }
            return Image(width: w, height: h, pixels: px)
        case .crop:
            // A random 80-95% crop, resized back to the original size.
            let f = 0.80 + 0.15 * Double(rng.nextFloat())
            let cw = max(1, Int(Double(w) * f)), ch = max(1, Int(Double(h) * f))
            let x0 = rng.below(w - cw + 1), y0 = rng.below(h - ch + 1)
            var out: [UInt8] = []
            out.reserveCapacity(cw * ch * 4)
            for y in y0..<(y0 + ch) { out += px[((y * w + x0) * 4)..<((y * w + x0 + cw) * 4)] }
            return Image(width: cw, height: ch, pixels: out).resized(to: PixelSize(width: w, height: h))
        case .jitter:
            // Brightness and contrast factors in [0.8, 1.2], saturation in [0.8, 1.2].
            let b = 0.8 + 0.4 * rng.nextFloat(), k = 0.8 + 0.4 * rng.nextFloat(), s = 0.8 + 0.4 * rng.nextFloat()
            for i in stride(from: 0, to: px.count, by: 4) {
                let r = Float(px[i]), g = Float(px[i + 1]), bl = Float(px[i + 2])
                let grey = 0.299 * r + 0.587 * g + 0.114 * bl
                for c in 0..<3 {
                    var v = Float(px[i + c])
                    v = grey + s * (v - grey)
                    v = 128 + k * (v * b - 128)
                    px[i + c] = UInt8(max(0, min(255, v.rounded())))
                }
            }
            return Image(width: w, height: h, pixels: px)
        case .noise:
            for i in stride(from: 0, to: px.count, by: 4) {
                for c in 0..<3 { px[i + c] = UInt8(max(0, min(255, (Float(px[i + c]) + 8 * rng.normal()).rounded()))) }
            }
            return Image(width: w, height: h, pixels: px)
        case .blur:
            // 3x3 box blur, edges clamped.
            let src = image.pixels
            for y in 0..<h {
                for x in 0..<w {
                    for c in 0..<3 {
                        var sum = 0
                        for dy in -1...1 {
                            for dx in -1...1 {
                                let yy = min(h - 1, max(0, y + dy)), xx = min(w - 1, max(0, x + dx))
                                sum += Int(src[(yy * w + xx) * 4 + c])
                            }
                        }
                        px[(y * w + x) * 4 + c] = UInt8((sum + 4) / 9)
                    }
                }
            }
            return Image(width: w, height: h, pixels: px)
        }
    }
}

/// A change planted into images (or used to de-bias them): a trigger patch or a colour tint.
public enum Injection: Sendable {
    public enum Position: String, Sendable, CaseIterable { case topLeft = "top-left", topRight = "top-right", bottomLeft = "bottom-left", bottomRight = "bottom-right", centre, random }
    case patch(size: Int, colour: SIMD3<UInt8>, position: Position)
    case tint(colour: SIMD3<UInt8>, strength: Float)

    public func apply(_ image: Image, _ rng: inout SplitMix64) -> Image {
        let (w, h) = (image.width, image.height)
        var px = image.pixels
        switch self {
        case .patch(let size, let colour, let position):
            let s = min(size, w, h)
            let (x0, y0): (Int, Int)
            switch position {
            case .topLeft: (x0, y0) = (0, 0)
            case .topRight: (x0, y0) = (w - s, 0)
            case .bottomLeft: (x0, y0) = (0, h - s)
            case .bottomRight: (x0, y0) = (w - s, h - s)
            case .centre: (x0, y0) = ((w - s) / 2, (h - s) / 2)
            case .random: (x0, y0) = (rng.below(w - s + 1), rng.below(h - s + 1))
            }
            for y in y0..<(y0 + s) {
                for x in x0..<(x0 + s) {
                    let i = (y * w + x) * 4
                    px[i] = colour.x; px[i + 1] = colour.y; px[i + 2] = colour.z; px[i + 3] = 255
                }
            }
        case .tint(let colour, let strength):
            let target = [Float(colour.x), Float(colour.y), Float(colour.z)]
            for i in stride(from: 0, to: px.count, by: 4) {
                for c in 0..<3 { px[i + c] = UInt8(max(0, min(255, ((1 - strength) * Float(px[i + c]) + strength * target[c]).rounded()))) }
            }
        }
        return Image(width: w, height: h, pixels: px)
    }

    /// "#RRGGBB" or "r,g,b".
    public static func parseColour(_ text: String) throws -> SIMD3<UInt8> {
        if text.hasPrefix("#"), text.count == 7, let v = UInt32(text.dropFirst(), radix: 16) {
            return SIMD3(UInt8(v >> 16), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF))
        }
        let parts = text.split(separator: ",").compactMap { UInt8($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 3 else { throw CurationError("colour '\(text)': use #RRGGBB or r,g,b") }
        return SIMD3(parts[0], parts[1], parts[2])
    }
}
