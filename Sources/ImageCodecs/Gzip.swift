import CCodecShims
import Foundation

/// Inflates gzip (including concatenated members) and zlib data through zlib.
public enum Gzip {
    /// Whether `data` starts with the gzip magic bytes.
    public static func isGzip(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1F && data[data.startIndex + 1] == 0x8B
    }

    /// The inflated bytes, at most `limit` of them.
    public static func decompress(_ data: Data, limit: Int = 1 << 34) throws(ImageDecodingError) -> Data {
        let result: Result<Data, ImageDecodingError> = data.withUnsafeBytes { raw in
            var status = curate_status()
            var out: UnsafeMutablePointer<UInt8>? = nil
            var size = 0
            let rc = curate_inflate(raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count, limit, &out, &size, &status)
            guard rc == CURATE_OK, let out else { return .failure(ImageDecodingError(status: status)) }
            defer { curate_free(out) }
            return .success(Data(bytes: out, count: size))
        }
        return try result.get()
    }
}
