import Crypto
import Foundation

extension Image {
    /// SHA-256, in lowercase hex, of the RGBA8 samples: the conformance suites' `rgba8_sha256`.
    public var rgba8SHA256: String {
        pixels.withUnsafeBytes { SHA256.hash(data: $0).hexString }
    }
}

extension Digest {
    /// Lowercase hex.
    public var hexString: String {
        var s = ""
        s.reserveCapacity(Self.byteCount * 2)
        for byte in self {
            s.append(Character(Unicode.Scalar(UInt8(ascii: "0") + (byte >> 4) + ((byte >> 4) > 9 ? 39 : 0))))
            s.append(Character(Unicode.Scalar(UInt8(ascii: "0") + (byte & 15) + ((byte & 15) > 9 ? 39 : 0))))
        }
        return s
    }
}
