extension Image {
    /// The image turned upright according to an EXIF orientation value (1 to 8).
    ///
    /// 2 mirrors, 3 turns 180 degrees, 4 flips vertically, 5 transposes, 6 turns 90 degrees
    /// clockwise, 7 transverses, 8 turns 90 degrees counter-clockwise. Other values return self.
    public func oriented(exif orientation: Int) -> Image {
        guard (2...8).contains(orientation) else { return self }
        let w = width, h = height
        let transposed = orientation >= 5
        let ow = transposed ? h : w, oh = transposed ? w : h
        var out = [UInt32](repeating: 0, count: ow * oh)
        pixels.withUnsafeBytes { raw in
            let src = raw.bindMemory(to: UInt32.self)
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<oh {
                    for x in 0..<ow {
                        let (sx, sy): (Int, Int) = switch orientation {
                        case 2: (w - 1 - x, y)
                        case 3: (w - 1 - x, h - 1 - y)
                        case 4: (x, h - 1 - y)
                        case 5: (y, x)
                        case 6: (y, h - 1 - x)
                        case 7: (w - 1 - y, h - 1 - x)
                        default: (w - 1 - y, x)  // 8
                        }
                        dst[y * ow + x] = src[sy * w + sx]
                    }
                }
            }
        }
        let bytes = out.withUnsafeBytes { Array($0) }
        return Image(width: ow, height: oh, pixels: bytes)
    }
}
