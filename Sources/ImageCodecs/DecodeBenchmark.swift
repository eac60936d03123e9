import Dispatch
import Foundation

/// Decode throughput on files preloaded in memory, measured the way `shared/peers/decode_peer.py`
/// measures Pillow: one warm-up pass, then the median of timed passes.
public enum DecodeBenchmark {
    public struct Measurement: Sendable, Codable {
        public var threads: Int
        public var images: Int
        public var failed: Int
        public var medianSeconds: Double
        public var imagesPerSecond: Double
        /// Decoded (output) bytes per second, in millions: RGBA, 4 bytes a pixel.
        public var megabytesPerSecond: Double
    }

    /// Every `*.png`, `*.jpg` and `*.jpeg` under `directory` (any case), sorted, read into memory.
    public static func load(directory: String) throws -> [Data] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else {
            throw ImageDecodingError(.unreadable, "cannot list the folder", path: directory)
        }
        var paths: [String] = []
        for case let rel as String in walker {
            let ext = (rel as NSString).pathExtension.lowercased()
            if ["png", "jpg", "jpeg"].contains(ext) { paths.append(directory + "/" + rel) }
        }
        return try paths.sorted().map { path throws(ImageDecodingError) in try ImageDecoder.read(path) }
    }

    /// Decodes every blob `repeats + 1` times (the first pass is a warm-up) on `threads` threads.
    public static func measure(_ blobs: [Data], threads: Int, repeats: Int, size: PixelSize? = nil) -> Measurement {
        let batch = BatchDecoder(decoder: ImageDecoder(), threads: threads, size: size)
        var times: [Double] = []
        var bytes = 0, failed = 0
        for pass in 0...max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            // Like the peer, keep only each image's size: holding every decoded image would
            // measure page faults, not decoding.
            let sizes = batch.decode(blobs) { _, result in (try? result.get())?.image.pixels.count ?? -1 }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if pass == 0 {
                bytes = sizes.reduce(0) { $0 + max($1, 0) }
                failed = sizes.filter { $0 < 0 }.count
            } else {
                times.append(elapsed)
            }
        }
        let median = Self.median(times)
        return Measurement(threads: threads, images: blobs.count, failed: failed, medianSeconds: median,
                           imagesPerSecond: Double(blobs.count) / median, megabytesPerSecond: Double(bytes) / median / 1e6)
    }

    public static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
