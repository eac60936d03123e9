import DatasetCatalog
import Features
import Foundation
import ImageCodecs
import NeuralNet

/// A manifest's images decoded once, resized and normalised, held in memory as one NHWC
/// Float32 array (pixels scaled to [-1, 1] by x / 127.5 - 1, as the PyTorch reference does).
public struct ImageData: Sendable {
    public var height: Int
    public var width: Int
    public var channels: Int
    public var pixels: [Float]
    /// The manifest the rows come from (all rows, including skipped ones).
    public var manifest: Manifest
    /// Manifest row of each loaded image (corrupt or missing images are skipped).
    public var rows: [Int]
    /// The images that could not be decoded: manifest row, path, error.
    public var failures: [(row: Int, path: String, message: String)]
    /// Feature vectors used in place of pixels (height = width = 1, channels = D): a batch
    /// gathers rows straight from the (usually memory-mapped) matrix.
    public var features: FeatureMatrix? = nil
    /// The manifest file it was loaded from, for messages ("" when built in memory).
    public var file = ""
    /// `file` for a message, or `fallback` when the data was built in memory.
    public func named(_ fallback: String) -> String { file.isEmpty ? fallback : file }
    /// The feature row of each loaded item, when `features` is set.
    public var featureRows: [Int] = []

    public var count: Int { rows.count }
    public var itemSize: Int { height * width * channels }

    /// Column values of the loaded rows.
    public func column(_ name: String) -> [String]? {
        guard let values = manifest.column(name) else { return nil }
        return rows.map { values[$0] }
    }

    public var labels: [String] { column("label") ?? [] }
    public var weights: [Float] {
        let all = manifest.weights
        return rows.map { Float(all[$0]) }
    }
    public var paths: [String] { column("path") ?? [] }

    /// Loads `path` (a manifest with `path` and `label` columns when `requireLabels`).
    public static func load(_ path: String, size: Int, channels: Int, requireLabels: Bool = true,
                            threads: Int = Parallel.threads) throws -> ImageData {
        let manifest = try ManifestReader.read(path)
        if requireLabels { try manifest.require("label", file: path) }
        // The decoded set is held in memory as floats: refuse, before decoding, what cannot fit.
        let bytes = Double(manifest.count) * Double(size) * Double(size) * Double(channels) * 4
        let memory = Double(ProcessInfo.processInfo.physicalMemory)
        guard bytes <= memory * 0.75 else {
            throw TrainingError(String(format: "%@: %d images at %dx%dx%d need %.1f GB as floats, more than this machine's %.1f GB allows: lower --size, or use fewer rows",
                                       path, manifest.count, size, size, channels, bytes / 1e9, memory / 1e9))
        }
        var data = decode(manifest, size: size, channels: channels, threads: threads)
        data.file = path
        return data
    }

    public static func decode(_ manifest: Manifest, size: Int, channels: Int, threads: Int = Parallel.threads) -> ImageData {
        precondition(channels == 1 || channels == 3)
        let item = size * size * channels
        let paths = (0..<manifest.count).map { manifest.resolvedPath($0) }
        let batch = BatchDecoder(threads: threads, size: PixelSize(width: size, height: size))
        let decoded: [Result<[Float], ImageDecodingError>] = batch.decode(paths: paths) { _, result in
            result.map { normalise($0.image, channels: channels) }
        }
        var pixels = [Float]()
        pixels.reserveCapacity(manifest.count * item)
        var rows: [Int] = []
        var failures: [(Int, String, String)] = []
        for (r, result) in decoded.enumerated() {
            switch result {
            case .success(let values):
                pixels.append(contentsOf: values)
                rows.append(r)
            case .failure(let error):
                failures.append((r, paths[r], error.reason))
            }
        }
        return ImageData(height: size, width: size, channels: channels, pixels: pixels, manifest: manifest, rows: rows, failures: failures)
    }

    /// RGBA to NHWC floats in [-1, 1]; grey by ITU-R BT.601 luma (Pillow's "L"), alpha dropped.
    static func normalise(_ image: Image, channels: Int) -> [Float] {
        let n = image.width * image.height
        var out = [Float](repeating: 0, count: n * channels)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                if channels == 3 {
                    for i in 0..<n {
                        for c in 0..<3 { dst[i * 3 + c] = Float(src[i * 4 + c]) / 127.5 - 1 }
                    }
                } else {
                    for i in 0..<n {
                        let l = (Int(src[i * 4]) * 19595 + Int(src[i * 4 + 1]) * 38470 + Int(src[i * 4 + 2]) * 7471 + 0x8000) >> 16
                        dst[i] = Float(l) / 127.5 - 1
                    }
                }
            }
        }
        return out
    }

    /// The images at `indices` as a batch tensor, with optional seeded augmentation.
    public func batch(_ indices: [Int], augmentation: Augmentation = [], seed: UInt64 = 0, epoch: Int = 0) -> Tensor {
        let item = itemSize
        if let features {
            // Rows gathered over all cores straight from the (mapped) matrix, no zero-fill first.
            let out = [Float](unsafeUninitializedCapacity: indices.count * item) { dst, initialized in
                let base = dst.baseAddress!
                featureRows.withUnsafeBufferPointer { map in
                    indices.withUnsafeBufferPointer { idx in
                        Parallel.ranges(idx.count, grain: 16) { part in
                            for b in part { (base + b * item).initialize(from: features.row(map[idx[b]]), count: item) }
                        }
                    }
                }
                initialized = indices.count * item
            }
            return Tensor(shape: [indices.count, 1, 1, item], storage: out)
        }
        var out = [Float](repeating: 0, count: indices.count * item)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for (b, index) in indices.enumerated() {
                    let s = src.baseAddress! + index * item
                    let d = dst.baseAddress! + b * item
                    if augmentation.isEmpty {
                        d.update(from: s, count: item)
                    } else {
                        var rng = SplitMix64(seed: seed, stream: 0xA06, UInt64(epoch) << 32 | UInt64(index))
                        augment(s, d, augmentation, &rng)
                    }
                }
            }
        }
        return Tensor(shape: [indices.count, height, width, channels], storage: out)
    }

    /// Flip: mirror left-right with probability 1/2. Crop: shift by up to 4 pixels each way,
    /// zero (mid-grey) filled, as a pad-4 random crop does.
    func augment(_ s: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ a: Augmentation, _ rng: inout SplitMix64) {
        let (h, w, c) = (height, width, channels)
        let flip = a.contains(.flip) && rng.next() & 1 == 1
        let dy = a.contains(.crop) ? rng.below(9) - 4 : 0
        let dx = a.contains(.crop) ? rng.below(9) - 4 : 0
        for y in 0..<h {
            let sy = y + dy
            for x in 0..<w {
                let xx = flip ? w - 1 - x : x
                let sx = xx + dx
                let out = d + (y * w + x) * c
                if sy < 0 || sy >= h || sx < 0 || sx >= w {
                    out.update(repeating: 0, count: c)
                } else {
                    out.update(from: s + (sy * w + sx) * c, count: c)
                }
            }
        }
    }
}

/// Training-time augmentation, seeded per (epoch, image).
public struct Augmentation: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let flip = Augmentation(rawValue: 1)
    public static let crop = Augmentation(rawValue: 2)

    public init(parsing text: String) throws {
        var a: Augmentation = []
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            switch part {
            case "flip": a.insert(.flip)
            case "crop": a.insert(.crop)
            case "none": break
            default: throw TrainingError("unknown augmentation '\(part)' (use flip, crop or none)")
            }
        }
        self = a
    }
}

public struct TrainingError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension ImageData {
    /// A manifest's rows with feature vectors in place of images (`spec`: a `.npy` or
    /// `.safetensors` file, or `column:NAME`). The values are checked finite; nothing is copied
    /// from a float32 file, which stays memory-mapped.
    public static func load(_ path: String, features spec: String, requireLabels: Bool = true) throws -> ImageData {
        let manifest = try ManifestReader.read(path)
        if requireLabels { try manifest.require("label", file: path) }
        let matrix = try FeatureMatrix.open(spec, for: manifest, manifestFile: path)
        var data = try withFeatures(manifest, matrix: matrix, manifestFile: path)
        data.file = path
        return data
    }

    /// `manifest` paired with `matrix` (see `FeatureMatrix.rows(for:manifestFile:)`).
    public static func withFeatures(_ manifest: Manifest, matrix: FeatureMatrix, manifestFile: String) throws -> ImageData {
        let featureRows = try matrix.rows(for: manifest, manifestFile: manifestFile)
        guard matrix.dimension > 0 else { throw FeatureError(matrix.source, "vectors have no values (D = 0)") }
        try matrix.validateFinite()
        var data = ImageData(height: 1, width: 1, channels: matrix.dimension, pixels: [], manifest: manifest,
                             rows: Array(0..<manifest.count), failures: [])
        data.features = matrix
        data.featureRows = featureRows
        data.file = manifestFile
        return data
    }
}
