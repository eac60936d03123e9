import DatasetCatalog
import Foundation

/// A bad feature file or column: the file (or manifest and column) and what is wrong.
public struct FeatureError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var message: String
    public init(_ file: String, _ message: String) {
        self.file = file
        self.message = message
    }
    public var description: String { "\(file): \(message)" }
}

/// Per-image feature vectors, N rows of D Float32 values, row-major.
///
/// A float32 C-order `.npy` or an aligned float32 safetensors file is used in place through a
/// read-only memory map: nothing is copied, and the page cache is the only copy in memory.
/// float16 files and Fortran-order files are converted once into memory (that conversion is
/// the only load). Vectors from a manifest column are parsed into memory.
public final class FeatureMatrix: @unchecked Sendable {
    public let rows: Int
    public let dimension: Int
    /// Where the vectors came from (a file, or `MANIFEST#column`).
    public let source: String
    /// What the source holds, e.g. "npy v1.0 float32 C order (memory-mapped)".
    public let layout: String
    public let base: UnsafePointer<Float>
    private let release: () -> Void

    init(rows: Int, dimension: Int, source: String, layout: String, base: UnsafePointer<Float>, release: @escaping () -> Void) {
        self.rows = rows
        self.dimension = dimension
        self.source = source
        self.layout = layout
        self.base = base
        self.release = release
    }

    deinit { release() }

    /// Row `i`'s D values.
    @inline(__always) public func row(_ i: Int) -> UnsafePointer<Float> { base + i &* dimension }

    /// Whether the matrix is a view of a memory-mapped file (no copy in process memory).
    public var isMapped: Bool { layout.contains("memory-mapped") }

    public var byteCount: Int { rows * dimension * 4 }

    /// Builds a matrix that owns a copy of `values` (row-major).
    public convenience init(rows: Int, dimension: Int, values: [Float], source: String = "memory", layout: String = "float32 in memory") {
        precondition(values.count == rows * dimension)
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(1, values.count))
        values.withUnsafeBufferPointer { if let b = $0.baseAddress { buffer.update(from: b, count: values.count) } }
        self.init(rows: rows, dimension: dimension, source: source, layout: layout, base: UnsafePointer(buffer)) {
            buffer.deallocate()
        }
    }

    /// Opens a `.npy` or `.safetensors` file (chosen by its first bytes, not its name).
    /// - Parameter oneVector: a `.npy` of one row's vector, which may also be 1-D (shape (D,)).
    public static func open(_ path: String, oneVector: Bool = false) throws -> FeatureMatrix {
        let file = try MappedFile(path)
        let bytes = UnsafeRawBufferPointer(start: file.base, count: file.size)
        if bytes.count >= 6, bytes[0] == 0x93, bytes.starts(with: [0x93] + Array("NUMPY".utf8)) {
            return try NPY.open(file, path: path, oneVector: oneVector)
        }
        if bytes.count >= 10, bytes[8] == UInt8(ascii: "{") {
            return try Safetensors.open(file, path: path)
        }
        throw FeatureError(path, "not a .npy or .safetensors file (the first bytes are neither \\x93NUMPY nor a safetensors header)")
    }

    /// Vectors held in a manifest column: each cell is either the numbers themselves (separated
    /// by spaces, commas or semicolons, optionally in [brackets]) or the path of a `.npy` file
    /// holding that row's vector (1 x D or D), resolved against the manifest's folder.
    public static func column(_ name: String, of manifest: Manifest, file: String) throws -> FeatureMatrix {
        let source = "\(file)#\(name)"
        guard let cells = manifest.column(name) else { throw FeatureError(file, "has no column \"\(name)\"") }
        var values: [Float] = []
        var dimension = -1
        for (r, cell) in cells.enumerated() {
            let text = cell.trimmingCharacters(in: .whitespaces)
            let where_ = "\(manifest.place(r)) (column \(name))"
            var vector: [Float] = []
            if text.isEmpty { throw FeatureError(file, "\(where_): empty; every row needs a vector") }
            // Numbers, or else a file; text that names neither ("NaN 2", ",") is refused as numbers.
            if let first = text.unicodeScalars.first, first == "[" || first == "-" || first == "+" || first == "." || first == "," || CharacterSet.decimalDigits.contains(first)
                || (!text.hasSuffix(".npy") && !text.hasSuffix(".safetensors") && text.contains(where: { $0 == " " || $0 == "," || $0 == ";" })),
               !text.hasSuffix(".npy") {
                for part in try Self.vectorParts(text, at: { FeatureError(file, "\(where_): \($0)") }) {
                    guard ManifestReader.isDecimalNumber(String(part)), let v = Float(part) else {
                        throw FeatureError(file, "\(where_): \"\(part)\" is not a decimal number")
                    }
                    vector.append(v)
                }
            } else {
                let path = text.hasPrefix("/") ? text : (manifest.baseDirectory as NSString).appendingPathComponent(text)
                let m: FeatureMatrix
                do { m = try open(path, oneVector: true) } catch let e as FeatureError { throw FeatureError(file, "\(where_): \(e)") }
                guard m.rows == 1 else { throw FeatureError(file, "\(where_): \(path) holds \(m.rows) vectors; a row's file needs one") }
                vector = Array(UnsafeBufferPointer(start: m.base, count: m.dimension))
            }
            if dimension < 0 { dimension = vector.count }
            guard vector.count == dimension else {
                throw FeatureError(file, "\(where_): \(vector.count) values, but the rows before have \(dimension)")
            }
            guard dimension > 0 else { throw FeatureError(file, "\(where_): no values") }
            values.reserveCapacity(cells.count * dimension)
            values += vector
        }
        return FeatureMatrix(rows: cells.count, dimension: max(dimension, 0), values: values, source: source,
                             layout: "float32 parsed from a manifest column")
    }

    /// The numbers of a vector written in a cell: `1.5 -2 0.25`, `[1.5, -2, 0.25]` or
    /// `1.5;-2;0.25`. Brackets come as one pair around the whole or not at all; with commas or
    /// semicolons, no value between two separators may be empty (`1,,2` is not three numbers).
    static func vectorParts(_ text: String, at error: (String) -> FeatureError) throws -> [Substring] {
        var inner = Substring(text)
        if inner.hasPrefix("[") || inner.hasSuffix("]") {
            guard inner.hasPrefix("["), inner.hasSuffix("]"), inner.count >= 2 else { throw error("unbalanced brackets in \"\(text)\"") }
            inner = inner.dropFirst().dropLast()
        }
        if inner.contains(where: { $0 == "[" || $0 == "]" }) { throw error("a vector is one list of numbers, not \"\(text)\"") }
        let commas = inner.contains(","), semicolons = inner.contains(";")
        if commas && semicolons { throw error("\"\(text)\" mixes commas and semicolons; separate the numbers one way") }
        guard commas || semicolons else { return inner.split(whereSeparator: { $0 == " " || $0 == "\t" }) }
        let parts = inner.split(separator: commas ? "," : ";", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        if parts.contains(where: \.isEmpty) { throw error("an empty value between separators in \"\(text)\"") }
        return parts.map { Substring($0) }
    }

    /// Checks that every value is finite, over all cores.
    /// - Throws: naming the first (lowest) row and column holding NaN or infinity.
    public func validateFinite(threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws {
        let total = rows * dimension
        guard total > 0 else { return }
        let parts = max(1, min(threads, total / 65536 + 1))
        let chunk = (total + parts - 1) / parts
        nonisolated(unsafe) var firstBad = [Int](repeating: Int.max, count: parts)
        nonisolated(unsafe) let base = self.base
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            let start = p * chunk, end = min(total, start + chunk)
            var i = start
            // All exponent bits set means NaN or infinity, and only then does adding one to the
            // exponent carry into the sign bit: integer lane arithmetic, OR-ed over a block
            // (the stdlib's SIMD comparisons do not become vector code).
            let raw = UnsafeRawPointer(base)
            while i + 4096 <= end {
                var acc = SIMD8<UInt32>()
                var j = i
                while j < i + 4096 {
                    let a = raw.loadUnaligned(fromByteOffset: j &* 4, as: SIMD8<UInt32>.self)
                    let b = raw.loadUnaligned(fromByteOffset: (j &+ 8) &* 4, as: SIMD8<UInt32>.self)
                    acc |= ((a & 0x7F80_0000) &+ 0x0080_0000) | ((b & 0x7F80_0000) &+ 0x0080_0000)
                    j &+= 16
                }
                if (acc &>> 31).wrappedSum() != 0 { break }
                i += 4096
            }
            while i < end {
                if !base[i].isFinite { firstBad[p] = i; return }
                i += 1
            }
        }
        if let bad = firstBad.min(), bad != Int.max {
            let value = base[bad]
            throw FeatureError(source, "row \(bad / dimension + 1), column \(bad % dimension + 1) is \(value.isNaN ? "NaN" : "infinite"); features must be finite")
        }
    }
}

/// A read-only memory map of a whole file.
///
/// The map asks for transparent huge pages (`MADV_HUGEPAGE`): pages of the file that are not
/// yet in the page cache are then read into 2 MiB folios and mapped 2 MiB at a time, so a pass
/// over the rows in shuffled order walks one page table entry per 2 MiB, not per 4 KiB. (Pages
/// already cached in small folios stay as they are; the kernel may also decline.) On this
/// machine (kernel 6.18) it made a linear probe's shuffled epoch over 3 GB of features 6 to 12%
/// faster, in every one of 20 alternating pairs.
final class MappedFile: @unchecked Sendable {
    let base: UnsafeRawPointer
    let size: Int
    private let mapped: Bool

    init(_ path: String) throws {
        let fd = Foundation.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)  // a FIFO must not block the open
        guard fd >= 0 else { throw FeatureError(path, "cannot open: " + String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FeatureError(path, "cannot stat: " + String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) != S_IFDIR else { throw FeatureError(path, "is a directory") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw FeatureError(path, "not a regular file (features are mapped from a file)") }
        size = Int(st.st_size)
        if size == 0 {
            base = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64))
            mapped = false
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw FeatureError(path, "cannot map: " + String(cString: strerror(errno)))
        }
        // Advice only: where huge pages are off or unsupported it fails, and nothing changes.
        _ = madvise(p, size, Int32(MADV_HUGEPAGE))
        base = UnsafeRawPointer(p)
        mapped = true
    }

    deinit {
        if mapped { munmap(UnsafeMutableRawPointer(mutating: base), size) } else { UnsafeMutableRawPointer(mutating: base).deallocate() }
    }
}

/// Element types a feature file may hold.
enum FeatureDType: String {
    case float32, float16, bfloat16
    var size: Int { self == .float32 ? 4 : 2 }
}

extension FeatureMatrix {
    /// A matrix over the file's data: in place when it is float32, row-major and aligned;
    /// otherwise converted once into memory.
    static func over(_ file: MappedFile, path: String, offset: Int, rows: Int, cols: Int, dtype: FeatureDType,
                     columnMajor: Bool, describe: String) -> FeatureMatrix {
        let src = file.base + offset
        if dtype == .float32 && !columnMajor && offset % 4 == 0 {
            return FeatureMatrix(rows: rows, dimension: cols, source: path, layout: describe + " (memory-mapped)",
                                 base: src.assumingMemoryBound(to: Float.self)) { _ = file }
        }
        let n = rows * cols
        let out = UnsafeMutablePointer<Float>.allocate(capacity: max(1, n))
        func value(_ k: Int) -> Float {
            switch dtype {
            case .float32: return Float(bitPattern: src.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self))
            case .float16: return Float(Float16(bitPattern: src.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self)))
            case .bfloat16: return Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self)) << 16)
            }
        }
        if columnMajor {
            for c in 0..<cols { for r in 0..<rows { out[r * cols + c] = value(c * rows + r) } }
        } else {
            for k in 0..<n { out[k] = value(k) }
        }
        return FeatureMatrix(rows: rows, dimension: cols, source: path, layout: describe + " (converted to float32 in memory)",
                             base: UnsafePointer(out)) { out.deallocate() }
    }
}

/// NumPy's `.npy` format, versions 1.0, 2.0 and 3.0: magic, version, header length (2 bytes in
/// 1.0, 4 after), a Python dict literal with `descr`, `fortran_order` and `shape`, then the data.
enum NPY {
    static func open(_ file: MappedFile, path: String, oneVector: Bool = false) throws -> FeatureMatrix {
        let bytes = UnsafeRawBufferPointer(start: file.base, count: file.size)
        guard bytes.count >= 10 else { throw FeatureError(path, "npy header is truncated (\(bytes.count) bytes)") }
        let major = Int(bytes[6]), minor = Int(bytes[7])
        let headerLength: Int, start: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            start = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw FeatureError(path, "npy header is truncated (\(bytes.count) bytes)") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            start = 12
        default:
            throw FeatureError(path, "npy format version \(major).\(minor) is not supported (1.0, 2.0 and 3.0 are)")
        }
        guard start + headerLength <= bytes.count else {
            throw FeatureError(path, "npy header is truncated: it declares \(headerLength) bytes, the file has \(bytes.count - start) after the preamble")
        }
        guard let header = String(bytes: bytes[start..<(start + headerLength)], encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw FeatureError(path, "npy header is not text")
        }
        let fields = try parseHeader(header, path: path)
        let dtype: FeatureDType
        switch fields.descr {
        case "<f4", "=f4": dtype = .float32
        case "<f2", "=f2": dtype = .float16
        default:
            throw FeatureError(path, "dtype \(fields.descr) is not supported; features must be little-endian float32 (<f4) or float16 (<f2)")
        }
        // One row's file may hold a plain vector, as np.save(path, v) writes it: shape (D,).
        guard fields.shape.count == 2 || (oneVector && fields.shape.count == 1) else {
            throw FeatureError(path, "shape (\(fields.shape.map(String.init).joined(separator: ", "))\(fields.shape.count == 1 ? "," : "")) is not 2-D; features must be N x D")
        }
        let (rows, cols) = fields.shape.count == 1 ? (1, fields.shape[0]) : (fields.shape[0], fields.shape[1])
        let offset = start + headerLength
        let need = dataBytes(rows: rows, cols: cols, size: dtype.size)
        guard let need, need <= bytes.count - offset else {
            let what = need.map { "\($0) bytes of data" } ?? "more data than a file can hold"
            throw FeatureError(path, "shape (\(rows), \(cols)) \(dtype.rawValue) needs \(what); the file holds \(bytes.count - offset) bytes after its header")
        }
        let order = fields.fortranOrder ? "Fortran order" : "C order"
        return FeatureMatrix.over(file, path: path, offset: offset, rows: rows, cols: cols, dtype: dtype,
                                  columnMajor: fields.fortranOrder && rows > 1 && cols > 1,
                                  describe: "npy v\(major).\(minor) \(dtype.rawValue) \(order)")
    }

    /// The three keys of the header's dict literal, e.g.
    /// `{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 768), }`.
    static func parseHeader(_ text: String, path: String) throws -> (descr: String, fortranOrder: Bool, shape: [Int]) {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard t.hasPrefix("{"), t.hasSuffix("}") else { throw FeatureError(path, "npy header is not a Python dict: \(t.prefix(60))") }
        func after(_ key: String) throws -> Substring {
            // A key given twice is ambiguous (Python keeps the last, a quick reader the first).
            let times = ["'", "\""].reduce(0) { $0 + t.components(separatedBy: $1 + key + $1).count - 1 }
            if times > 1 { throw FeatureError(path, "npy header names '\(key)' \(times) times") }
            for quote in ["'", "\""] {
                if let r = t.range(of: quote + key + quote) {
                    let rest = t[r.upperBound...].drop { $0 == " " }
                    guard rest.first == ":" else { break }
                    return rest.dropFirst().drop { $0 == " " }
                }
            }
            throw FeatureError(path, "npy header has no '\(key)' key")
        }
        let d = try after("descr")
        guard let q = d.first, q == "'" || q == "\"", let end = d.dropFirst().firstIndex(of: q) else {
            throw FeatureError(path, "npy header's 'descr' is not a string (structured dtypes are not features)")
        }
        let descr = String(d[d.index(after: d.startIndex)..<end])
        let f = try after("fortran_order")
        let fortran: Bool
        if f.hasPrefix("True") { fortran = true } else if f.hasPrefix("False") { fortran = false } else {
            throw FeatureError(path, "npy header's 'fortran_order' is neither True nor False")
        }
        let s = try after("shape")
        guard s.first == "(", let close = s.firstIndex(of: ")") else { throw FeatureError(path, "npy header's 'shape' is not a tuple") }
        var shape: [Int] = []
        for part in s[s.index(after: s.startIndex)..<close].split(separator: ",") {
            let p = part.trimmingCharacters(in: .whitespaces)
            if p.isEmpty { continue }
            guard let v = Int(p.hasSuffix("L") ? String(p.dropLast()) : p), v >= 0 else {
                throw FeatureError(path, "npy header's 'shape' holds \"\(p)\", not a size")
            }
            shape.append(v)
        }
        return (descr, fortran, shape)
    }
}

extension FeatureMatrix {
    /// The input a curation command recorded in `FILE.provenance.json` (resolved as written, or
    /// against the manifest's folder), or nil when there is none.
    static func curationInput(of manifestFile: String) -> String? {
        guard let data = FileManager.default.contents(atPath: manifestFile + ".provenance.json"),
              let doc = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let input = doc["input"] as? String, !input.isEmpty else { return nil }
        let beside = URL(fileURLWithPath: manifestFile).deletingLastPathComponent().appendingPathComponent(input).path
        for candidate in [input, beside] where FileManager.default.fileExists(atPath: candidate) { return candidate }
        return nil
    }
}

/// rows x cols x size, or nil when it overflows (a damaged header can declare any shape).
func dataBytes(rows: Int, cols: Int, size: Int) -> Int? {
    guard rows >= 0, cols >= 0 else { return nil }
    let (a, o1) = rows.multipliedReportingOverflow(by: cols)
    let (b, o2) = a.multipliedReportingOverflow(by: size)
    return o1 || o2 ? nil : b
}

/// The safetensors format: an 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and data offsets (relative to the end of the header), then the data.
enum Safetensors {
    static func open(_ file: MappedFile, path: String) throws -> FeatureMatrix {
        let bytes = UnsafeRawBufferPointer(start: file.base, count: file.size)
        var length: UInt64 = 0
        for k in 0..<8 { length |= UInt64(bytes[k]) << (8 * UInt64(k)) }
        guard length <= UInt64(bytes.count - 8) else {
            throw FeatureError(path, "safetensors header declares \(length) bytes; the file has \(bytes.count - 8) after the length")
        }
        let headerEnd = 8 + Int(length)
        guard let json = try? JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd])), let header = json as? [String: Any] else {
            throw FeatureError(path, "safetensors header is not a JSON object")
        }
        let names = header.keys.filter { $0 != "__metadata__" }.sorted()
        guard names.count == 1, let name = names.first else {
            throw FeatureError(path, "holds \(names.count) tensors (\(names.prefix(5).joined(separator: ", "))); features need exactly one 2-D tensor")
        }
        guard let entry = header[name] as? [String: Any], let dtypeName = entry["dtype"] as? String,
              let shapeList = entry["shape"] as? [Any], let offsetList = entry["data_offsets"] as? [Any] else {
            throw FeatureError(path, "tensor \"\(name)\" lacks a dtype, shape or data_offsets")
        }
        // Every entry a non-negative integer: JSONSerialization gives 12.7 and "x" too, and a
        // damaged header must not be truncated or filtered into a plausible one.
        func sizes(_ list: [Any], _ key: String) throws -> [Int] {
            try list.map { value in
                guard let n = value as? NSNumber,
                      let d = Double(exactly: n.doubleValue), d >= 0, d == d.rounded(), d < 0x1p62 else {
                    throw FeatureError(path, "tensor \"\(name)\" has \(key) \(list), not a list of sizes (whole numbers from 0 to 2^62)")
                }
                return Int(d)
            }
        }
        let shape = try sizes(shapeList, "shape"), offsets = try sizes(offsetList, "data_offsets")
        guard offsets.count == 2 else { throw FeatureError(path, "tensor \"\(name)\" has data_offsets \(offsets), not [begin, end]") }
        let dtype: FeatureDType
        switch dtypeName {
        case "F32": dtype = .float32
        case "F16": dtype = .float16
        case "BF16": dtype = .bfloat16
        default: throw FeatureError(path, "tensor \"\(name)\" is \(dtypeName); features must be F32, F16 or BF16")
        }
        guard shape.count == 2 else { throw FeatureError(path, "tensor \"\(name)\" has shape \(shape), not N x D") }
        let (rows, cols) = (shape[0], shape[1])
        let need = dataBytes(rows: rows, cols: cols, size: dtype.size)
        guard let need, offsets[0] <= offsets[1], offsets[1] - offsets[0] == need, offsets[1] <= bytes.count - headerEnd else {
            let what = need.map { "\($0) bytes" } ?? "more data than a file can hold"
            throw FeatureError(path, "tensor \"\(name)\" \(shape) \(dtypeName) needs \(what); its data_offsets \(offsets) do not fit the file's \(bytes.count - headerEnd) bytes of data")
        }
        return FeatureMatrix.over(file, path: path, offset: headerEnd + offsets[0], rows: rows, cols: cols, dtype: dtype,
                                  columnMajor: false, describe: "safetensors \(dtypeName) tensor \"\(name)\"")
    }
}

extension FeatureMatrix {
    /// Opens features for a manifest: `column:NAME` reads the manifest's column NAME; anything
    /// else is a `.npy` or `.safetensors` file.
    public static func open(_ spec: String, for manifest: Manifest, manifestFile: String) throws -> FeatureMatrix {
        if spec.hasPrefix("column:") { return try column(String(spec.dropFirst(7)), of: manifest, file: manifestFile) }
        return try open(spec)
    }

    /// The feature row of each manifest row. Row-aligned when the counts agree; otherwise a
    /// manifest that curation derived from the features' manifest (with `source_row`) is mapped
    /// through that column, so `curate build` and `curate split` outputs reuse one feature file.
    /// - Throws: naming both files when the rows cannot be matched, and when they could be
    ///   matched two ways: as many vectors as rows, and a `source_row` that reorders or repeats
    ///   them (the vectors may follow the rows, or the rows of the manifest they came from).
    public func rows(for manifest: Manifest, manifestFile: String) throws -> [Int] {
        if manifest.count == rows {
            guard let sourceRows = manifest.column("source_row"),
                  sourceRows.enumerated().contains(where: { Int($1) != $0 }) else { return Array(0..<rows) }
            let r = sourceRows.enumerated().first { Int($1) != $0 }!.offset
            throw FeatureError(source, "holds \(rows) vectors, as many as \(manifestFile) has rows, but its source_row reorders or repeats "
                               + "rows (\(manifest.place(r)): source_row \"\(sourceRows[r])\"), so the vectors could follow either its rows or "
                               + "source_row's; for vectors that follow its rows, drop its source_row column")
        }
        // A set curated from another curated set cannot be mapped: its source_row names the
        // intermediate set's rows (the spec's "input manifest"), not the features' rows.
        if manifest.has("source_row"), let input = Self.curationInput(of: manifestFile),
           (try? ManifestReader.read(input))?.has("source_row") == true {
            throw FeatureError(source, "\(manifestFile) was curated from \(input), itself a curated set: its source_row names that set's rows, "
                               + "not this file's; build it from the features' own manifest (or give features aligned with \(input))")
        }
        guard let sourceRows = manifest.column("source_row") else {
            throw FeatureError(source, "holds \(rows) vectors but \(manifestFile) has \(manifest.count) rows (and no source_row column to map them)")
        }
        var out: [Int] = []
        out.reserveCapacity(sourceRows.count)
        for (r, text) in sourceRows.enumerated() {
            guard let s = Int(text), s >= 0, s < rows else {
                throw FeatureError(source, "\(manifestFile) \(manifest.place(r)): source_row \"\(text)\" is not a row of the \(rows) vectors")
            }
            out.append(s)
        }
        return out
    }
}
