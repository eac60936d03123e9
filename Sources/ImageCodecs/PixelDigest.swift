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
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        return withUnsafeBytes { bytes in
            String(unsafeUninitializedCapacity: bytes.count * 2) { out in
                for (i, b) in bytes.enumerated() {
                    out[2 * i] = digits[Int(b >> 4)]
                    out[2 * i + 1] = digits[Int(b & 15)]
                }
                return bytes.count * 2
            }
        }
    }
}
