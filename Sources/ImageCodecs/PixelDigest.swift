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
        withUnsafeBytes { bytes in
            String(unsafeUninitializedCapacity: bytes.count * 2) { out in
                // Digits by arithmetic: no table to allocate on every call.
                @inline(__always) func digit(_ v: UInt8) -> UInt8 { v < 10 ? 48 + v : 87 + v }
                for (i, b) in bytes.enumerated() {
                    out[2 * i] = digit(b >> 4)
                    out[2 * i + 1] = digit(b & 15)
                }
                return bytes.count * 2
            }
        }
    }
}
