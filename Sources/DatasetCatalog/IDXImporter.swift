import Foundation
import ImageCodecs

/// MNIST-family IDX files (`train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`)
/// written out as PNG files plus a manifest.
public enum IDXImporter {
    /// Class-name presets for `--class-names`.
    public static let presets: [String: [String]] = [
        "mnist": (0...9).map(String.init),
        "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    ]

    /// A decoded IDX array of unsigned bytes.
    public struct Array3 {
        public var dimensions: [Int]
        public var bytes: [UInt8]
    }

    /// Reads an IDX file of unsigned bytes (gzipped or not).
    public static func read(_ path: String) throws -> Array3 {
        guard var data = FileManager.default.contents(atPath: path) else { throw ManifestError(file: path, "no such file") }
        if Gzip.isGzip(data) {
            do { data = try Gzip.decompress(data, limit: 1 << 33) } catch { throw ManifestError(file: path, "gzip: \(error.message)") }
        }
        let b = [UInt8](data)
        guard b.count >= 4, b[0] == 0, b[1] == 0 else { throw ManifestError(file: path, "not an IDX file (bad magic number)") }
        guard b[2] == 0x08 else { throw ManifestError(file: path, "IDX element type 0x\(String(b[2], radix: 16)) is not unsigned bytes (0x08)") }
        let ndims = Int(b[3])
        guard ndims >= 1, ndims <= 4, b.count >= 4 + 4 * ndims else { throw ManifestError(file: path, "bad IDX header") }
        var dims: [Int] = []
        for d in 0..<ndims {
            let o = 4 + 4 * d
            dims.append(Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3]))
        }
        // Each dimension is a 32-bit count, so a damaged header can declare more than Int holds.
        var expected: Int? = 1
        for d in dims { expected = expected.flatMap { e in let (p, o) = e.multipliedReportingOverflow(by: d); return o ? nil : p } }
        let body = b.count - 4 - 4 * ndims
        let shape = dims.map(String.init).joined(separator: "x")
        guard let expected, expected == body else {
            throw ManifestError(file: path, "IDX header declares \(shape) = \(expected.map { "\($0) bytes" } ?? "more bytes than a file can hold"), the file holds \(body)")
        }
        return Array3(dimensions: dims, bytes: Array(b[(4 + 4 * ndims)...]))
    }

    /// Writes `images[i]` as `OUT/images/<prefix><i>.png` and returns the manifest (not yet written).
    /// - Parameters:
    ///   - classNames: names for label values 0, 1, ...; the number itself when nil.
    ///   - split: the `split` column's value for every row, when given.
    /// - Parameter imagesIn: the folder the images are written to instead of `outDir/images`,
    ///   for the caller to move them there once all are written; the manifest still names them
    ///   under `outDir`.
    public static func importFiles(images: String, labels: String, outDir: String, classNames: [String]?, split: String?,
                                   limit: Int? = nil, imagesIn: String? = nil,
                                   threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws -> ImportResult {
        let imgs = try read(images), labs = try read(labels)
        guard imgs.dimensions.count == 3 else { throw ManifestError(file: images, "expected a 3-dimensional IDX array (count x rows x columns)") }
        guard labs.dimensions.count == 1 else { throw ManifestError(file: labels, "expected a 1-dimensional IDX array of labels") }
        guard imgs.dimensions[0] == labs.dimensions[0] else {
            throw ManifestError(file: labels, "\(labs.dimensions[0]) labels for \(imgs.dimensions[0]) images in \(images)")
        }
        let n = min(imgs.dimensions[0], limit ?? Int.max), h = imgs.dimensions[1], w = imgs.dimensions[2]
        guard w > 0, h > 0 || n == 0 else {
            throw ManifestError(file: images, "IDX images are \(h) rows x \(w) columns; an image needs at least one of each")
        }
        if let names = classNames, let bad = labs.bytes.prefix(n).first(where: { Int($0) >= names.count }) {
            throw ManifestError(file: labels, "label \(bad) has no class name (\(names.count) given)")
        }
        let folder = imagesIn ?? outDir + "/images"
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: outDir, isDirectory: &isFolder), !isFolder.boolValue {
            throw ManifestError(file: outDir, "is a file; --out names the folder the images and manifest go in")
        }
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw ManifestError(file: folder, "cannot create the folder: \(FileProblem.reason(error))")
        }
        let prefix = split.map { $0 + "-" } ?? ""
        let digits = max(5, String(n).count)
        let files = (0..<n).map { i in "\(prefix)\(String(repeating: "0", count: max(0, digits - String(i).count)))\(i).png" }
        let pixels = imgs.bytes
        let failures = ParallelMap.run(count: n, threads: threads) { i -> String? in
            var rgba = [UInt8](repeating: 255, count: w * h * 4)
            for p in 0..<(w * h) {
                let v = pixels[i * w * h + p]
                rgba[p * 4] = v; rgba[p * 4 + 1] = v; rgba[p * 4 + 2] = v
            }
            do {
                try PNGEncoder().write(Image(width: w, height: h, pixels: rgba), to: folder + "/" + files[i], as: .grey)
                return nil
            } catch {
                return "\(error)"
            }
        }
        if let first = failures.compactMap({ $0 }).first { throw ManifestError(file: outDir, "writing images failed: \(first)") }
        var columns = ["path", "label"]
        if split != nil { columns.append("split") }
        var manifest = Manifest(columns: columns, baseDirectory: URL(fileURLWithPath: outDir).standardizedFileURL.path)
        for i in 0..<n {
            let l = Int(labs.bytes[i])
            var row = ["images/" + files[i], classNames?[l] ?? String(l)]
            if let split { row.append(split) }
            manifest.append(cells: row)
        }
        return ImportResult(manifest: manifest, problems: [])
    }
}
