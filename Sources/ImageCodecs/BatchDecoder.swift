import Dispatch
import Foundation

/// Decodes many images over all cores. Results come back in input order and are identical to
/// decoding one at a time: each image is decoded independently, only the scheduling is shared.
public struct BatchDecoder: Sendable {
    public var decoder: ImageDecoder
    /// Worker threads; 1 decodes on the calling thread.
    public var threads: Int
    /// When set, every image is resized to exactly this size (with DCT scaling for JPEG).
    public var size: PixelSize?

    public init(decoder: ImageDecoder = ImageDecoder(), threads: Int = ProcessInfo.processInfo.activeProcessorCount, size: PixelSize? = nil) {
        self.decoder = decoder
        self.threads = max(1, threads)
        self.size = size
    }

    /// Decodes images held in memory.
    public func decode(_ blobs: [Data]) -> [Result<DecodedImage, ImageDecodingError>] {
        decode(blobs) { $1 }
    }

    /// Decodes images held in memory and keeps only what `transform` makes of each (given the index and the result), so that a
    /// pass over many images never holds more than one decoded image per thread.
    public func decode<T: Sendable>(_ blobs: [Data], transform: @Sendable (Int, Result<DecodedImage, ImageDecodingError>) -> T) -> [T] {
        map(count: blobs.count) { i in transform(i, decodeOne(blobs[i], path: nil)) }
    }

    /// Reads and decodes files; a missing or unreadable file is that entry's error.
    public func decode(paths: [String]) -> [Result<DecodedImage, ImageDecodingError>] {
        decode(paths: paths) { $1 }
    }

    /// Reads and decodes files, keeping only what `transform` makes of each.
    public func decode<T: Sendable>(paths: [String], transform: @Sendable (Int, Result<DecodedImage, ImageDecodingError>) -> T) -> [T] {
        let directories = DirectoryHandles(paths: paths)
        return map(count: paths.count) { i in
            let data: Data
            do throws(ImageDecodingError) { data = try ImageDecoder.read(paths[i], in: directories, index: i) } catch { return transform(i, .failure(error)) }
            return transform(i, decodeOne(data, path: paths[i]))
        }
    }

    private func decodeOne(_ data: Data, path: String?) -> Result<DecodedImage, ImageDecodingError> {
        do throws(ImageDecodingError) {
            if let size { return .success(try decoder.decode(data, resizedTo: size)) }
            return .success(try decoder.decode(data))
        } catch {
            return .failure(error.at(path))
        }
    }

    /// Runs `body` for every index over `threads` workers, each taking small chunks in turn.
    func map<T: Sendable>(count: Int, _ body: @Sendable (Int) -> T) -> [T] {
        ParallelMap.run(count: count, threads: threads, body)
    }
}

/// An order-preserving parallel map: work is handed out in chunks from a shared counter, and
/// each result is stored at its own index, so the output never depends on the thread count.
public enum ParallelMap {
    public static func run<T: Sendable>(count: Int, threads: Int, _ body: @Sendable (Int) -> T) -> [T] {
        if count == 0 { return [] }
        if threads <= 1 || count == 1 { return (0..<count).map(body) }
        let chunk = max(1, min(64, count / (threads * 8)))
        let next = Counter()
        // Each result is initialised in place in the returned array's storage (every index
        // exactly once, by whichever worker takes it): no optional wrapper and no copy after.
        return [T](unsafeUninitializedCapacity: count) { storage, initialized in
            nonisolated(unsafe) let out = storage.baseAddress!
            DispatchQueue.concurrentPerform(iterations: min(threads, count)) { _ in
                while true {
                    let start = next.take(chunk)
                    if start >= count { break }
                    for i in start..<min(start + chunk, count) { (out + i).initialize(to: body(i)) }
                }
            }
            initialized = count
        }
    }

    /// A lock-protected counter (contention is one increment per chunk).
    final class Counter: @unchecked Sendable {
        private var value = 0
        private let lock = NSLock()
        func take(_ n: Int) -> Int {
            lock.lock(); defer { lock.unlock() }
            let v = value
            value += n
            return v
        }
    }
}
