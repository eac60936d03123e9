import Crypto
import DatasetCatalog
import Foundation
import ImageCodecs
import NeuralNet

extension Strategies {
    public enum Fill: Sendable, Equatable {
        /// Every cell raised to the largest (From Fake to Real's USB baseline).
        case largest
        /// The same number added to every cell (ASB).
        case equalAdd(Int)
    }

    /// Fills under-represented cells with synthetic images: first rows of `pool` (origin
    /// synthetic) from the same cell, drawn without replacement, then images made from the
    /// cell's real images by `transforms`, written as PNG files into `imageDir`.
    public static func augment(_ m: Manifest, cells: Cells, fill: Fill, pool: (Manifest, String)?, transforms: [AugmentTransform],
                               imageDir: String, seed: UInt64) throws -> CurationResult {
        let deficits: [Int]
        switch fill {
        case .largest: let sizes = cells.sizes; let most = sizes.max() ?? 0; deficits = sizes.map { most - $0 }
        case .equalAdd(let n): deficits = [Int](repeating: n, count: cells.names.count)
        }
        guard pool != nil || !transforms.isEmpty else { throw CurationError("augment needs --pool, --transforms, or both") }
        guard deficits.allSatisfy({ $0 >= 0 }) else { throw CurationError("the number of rows to add must not be negative") }
        let (added, overflow) = deficits.reduce((0, false)) { a, d in let (s, o) = a.0.addingReportingOverflow(d); return (s, a.1 || o) }
        guard !overflow, added <= Strategies.maxRows - m.count else {
            throw CurationError("adding \(overflow ? "that many" : String(added)) rows would make more than \(Strategies.maxRows)")
        }
        var warnings: [String] = []
        // The pool's synthetic rows by cell.
        var poolMembers = [[Int]](repeating: [], count: cells.names.count)
        if let (p, file) = pool {
            for c in cells.columns where !p.has(c) { throw CurationError("\(file): the pool has no column '\(c)'") }
            let origins = p.origins
            let index = Dictionary(uniqueKeysWithValues: cells.values.enumerated().map { ($1, $0) })
            let cols = cells.columns.map { p.column($0)! }
            for r in 0..<p.count where origins[r] == "synthetic" {
                if let c = index[cols.map { $0[r] }] { poolMembers[c].append(r) }
            }
            if let note = unusedPoolRows(file, origins: origins) { warnings.append(note) }
        }
        let origins = m.origins, weights = m.weights, poolWeights = pool?.0.weights ?? []
        // Output columns: the input's, then origin, weight, source_row.
        var columns = m.columns.filter { !["source_row", "weight", "origin"].contains($0) }
        let inputColumns = columns.map { m.column($0)! }
        let poolColumns = pool.map { (p, _) in columns.map { p.column($0) } } ?? []
        var out = inputColumns
        var origin = origins
        var weight = weights.map(JSONValue.format)
        var source = (0..<m.count).map(String.init)
        var fromPool = [Int](repeating: 0, count: cells.names.count), generated = fromPool
        let staged = try StagedFolder(imageDir, protecting: [m] + (pool.map { [$0.0] } ?? []))
        defer { staged.discard() }
        let decoder = ImageDecoder()
        for c in 0..<cells.names.count where deficits[c] > 0 {
            var need = deficits[c]
            if let (p, _) = pool {
                var rng = Cells.rng(seed: seed, cell: c, purpose: 0xA0)
                let take = rng.permutation(poolMembers[c].count).prefix(need).map { poolMembers[c][$0] }
                for r in take {
                    for (k, col) in columns.enumerated() {
                        out[k].append(col == "path" ? m.relativeToBase(p.resolvedPath(r)) : (poolColumns[k]?[r] ?? ""))
                    }
                    origin.append("synthetic")
                    weight.append(JSONValue.format(poolWeights[r]))
                    source.append("")
                }
                fromPool[c] = take.count
                need -= take.count
            }
            if need > 0 && !transforms.isEmpty {
                let real = cells.members[c].filter { origins[$0] == "real" }
                guard !real.isEmpty else {
                    warnings.append("cell \(cells.names[c]) has no real images to transform: \(need) short")
                    continue
                }
                for k in 0..<need {
                    var rng = SplitMix64(seed: seed, stream: 0xA61 + UInt64(c) << 20, UInt64(k))
                    let src = real[rng.below(real.count)]
                    let decoded: DecodedImage
                    do { decoded = try decoder.decode(contentsOf: m.resolvedPath(src)) } catch {
                        throw CurationError("\(m.resolvedPath(src)): \(error.reason) (\(m.place(src)))")
                    }
                    let t = transforms[rng.below(transforms.count)]
                    let image = t.apply(decoded.image, &rng)
                    let file = try staged.write(image, named: "aug-c\(c)-\(k)-\(t.rawValue)")
                    for (kk, col) in columns.enumerated() {
                        out[kk].append(col == "path" ? m.relativeToBase(file.final) : inputColumns[kk][src])
                    }
                    origin.append("synthetic")
                    weight.append(JSONValue.format(weights[src]))
                    source.append(String(src))
                    generated[c] += 1
                }
                need = 0
            }
            if need > 0 {
                warnings.append("cell \(cells.names[c]): the pool has \(fromPool[c]) synthetic images for it, \(need) short of \(deficits[c])")
            }
        }
        try staged.commit()
        columns += ["origin", "weight", "source_row"]
        out += [origin, weight, source]
        let manifest = Manifest(columns: columns, cells: out, baseDirectory: m.baseDirectory)
        let sizes = cells.sizes
        let after = sizes.indices.map { sizes[$0] + fromPool[$0] + generated[$0] }
        return CurationResult(manifest: manifest, cellNames: cells.names, before: sizes, after: after,
                              parameters: [("fill", .string(fill == .largest ? "largest" : "equal-add")),
                                           ("transforms", .array(transforms.map { .string($0.rawValue) })),
                                           ("pool", pool.map { .string($0.1) } ?? .null)],
                              asked: [("added", .object(zip(cells.names, deficits).map { ($0, .int($1)) }))],
                              achieved: [("from_pool", .object(zip(cells.names, fromPool).map { ($0, .int($1)) })),
                                         ("generated", .object(zip(cells.names, generated).map { ($0, .int($1)) }))],
                              warnings: warnings)
    }

    /// The warning for pool rows that are not origin=synthetic: a pool gives only synthetic rows.
    static func unusedPoolRows(_ file: String, origins: [String]) -> String? {
        let unused = origins.lazy.filter { $0 != "synthetic" }.count
        return unused == 0 ? nil : "\(file): \(unused) of the pool's \(origins.count) rows are not origin=synthetic and are not used"
    }

    /// Applies `injection` to a `fraction` of the images: of every label value alike
    /// (`group == nil`: the way to de-bias a target) or of one group's rows only (to plant a
    /// bias). Changed rows point at new PNG files and get `mark = yes`.
    public static func inject(_ m: Manifest, injection: Injection, fraction: Double, group: (column: String, value: String)?,
                              labelColumn: String, markColumn: String, imageDir: String, seed: UInt64) throws -> CurationResult {
        guard (0...1).contains(fraction) else { throw CurationError("--fraction must be between 0 and 1") }
        guard !markColumn.isEmpty, !Manifest.reservedColumns.contains(markColumn), !m.has(markColumn) else {
            throw CurationError("--mark '\(markColumn)' must name a new column (not empty, not one the manifest has or reserves)")
        }
        var parameters: [(String, JSONValue)] = [("fraction", .number(fraction)), ("group", group.map { .string("\($0.column)=\($0.value)") } ?? .null),
                                                 ("mark_column", .string(markColumn))]
        func hex(_ c: SIMD3<UInt8>) -> JSONValue { .string(String(format: "#%02x%02x%02x", c.x, c.y, c.z)) }
        switch injection {
        case .patch(let size, let colour, let position):
            guard size > 0 else { throw CurationError("--patch must be a positive size") }
            parameters += [("patch", .int(size)), ("colour", hex(colour)), ("position", .string(position.rawValue))]
        case .tint(let colour, let strength):
            guard strength >= 0, strength <= 1 else { throw CurationError("--tint-strength must be between 0 and 1") }
            parameters += [("tint", hex(colour)), ("tint_strength", .number(Double(strength)))]
        }
        let strata: Cells
        if let group {
            guard let values = m.column(group.column) else { throw CurationError("unknown column '\(group.column)'") }
            guard values.contains(group.value) else { throw CurationError("no rows have \(group.column)=\(group.value)") }
            strata = try Cells(m, by: [group.column], file: "")
        } else {
            strata = try Cells(m, by: [labelColumn], file: "")
        }
        var chosen: [Int] = []
        for (c, members) in strata.members.enumerated() {
            if let group, strata.values[c][0] != group.value { continue }
            var rng = Cells.rng(seed: seed, cell: c, purpose: 0x1EC)
            let k = Int((fraction * Double(members.count)).rounded())
            chosen += rng.permutation(members.count).prefix(k).map { members[$0] }
        }
        chosen.sort()
        let staged = try StagedFolder(imageDir, protecting: [m])
        defer { staged.discard() }
        var paths = m.column("path")!
        var mark = [String](repeating: "no", count: m.count)
        var warnings: [String] = []
        let decoder = ImageDecoder()
        for r in chosen {
            let decoded: DecodedImage
            do { decoded = try decoder.decode(contentsOf: m.resolvedPath(r)) } catch {
                throw CurationError("\(m.resolvedPath(r)): \(error.reason) (\(m.place(r)))")
            }
            if case .patch(let size, _, _) = injection, size >= min(decoded.image.width, decoded.image.height), warnings.isEmpty {
                warnings.append("the \(size)-pixel patch covers the whole of \(decoded.image.width)x\(decoded.image.height) images such as \(m.resolvedPath(r))")
            }
            var rng = SplitMix64(seed: seed, stream: 0x1E2, UInt64(r))
            let file = try staged.write(injection.apply(decoded.image, &rng), named: "inject-\(r)")
            paths[r] = m.relativeToBase(file.final)
            mark[r] = "yes"
        }
        try staged.commit()
        var out = m.selecting(Array(0..<m.count))
        out.setColumn("path", paths)
        out.setColumn(markColumn, mark)
        var after = strata.sizes.map { _ in 0 }
        for r in chosen { after[Int(strata.cellOfRow[r])] += 1 }
        return CurationResult(manifest: out, cellNames: strata.names, before: strata.sizes, after: strata.sizes,
                              parameters: parameters,
                              asked: [("fraction", .number(fraction))],
                              achieved: [("injected", .int(chosen.count)),
                                         ("injected_per_cell", .object(zip(strata.names, after).map { ($0, .int($1)) }))], warnings: warnings)
    }
}

/// New image files written into a folder beside their destination and moved in only when all of
/// them are written: a failure part way leaves the destination as it was. Files already in the
/// destination under other names are kept; a file of the same name is replaced.
public final class StagedFolder {
    public let destination: String, work: String
    /// Files the new ones must not replace: the images the command's input manifests name.
    let protected: Set<String>

    /// `.NAME.partial-PID` beside `path`: where a folder is built before it takes `path`'s place.
    public static func workPath(beside path: String) -> String {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())").path
    }

    /// - Parameter inputs: manifests whose images no new file may replace (with their file names).
    public init(_ destination: String, protecting inputs: [Manifest] = []) throws {
        self.destination = URL(fileURLWithPath: destination).standardizedFileURL.path
        var protected = Set<String>()
        for m in inputs where m.has("path") { protected.formUnion(m.resolvedPaths()) }  // absolute and normalised
        self.protected = protected
        work = Self.workPath(beside: destination)
        try? FileManager.default.removeItem(atPath: work)
        // A killed run's working folder (its process gone) is removed, not left to pile up.
        let url = URL(fileURLWithPath: destination).standardizedFileURL
        Leftovers.remove(prefix: ".\(url.lastPathComponent).partial-", in: url.deletingLastPathComponent().path)
        do { try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true) } catch {
            throw CurationError("\(destination): cannot create a folder beside it for the new images (\(error.localizedDescription))")
        }
    }

    /// A new file's two paths: where it is written now, and where it is once committed.
    /// - Throws: when the committed file would replace an input image.
    func file(_ name: String) throws -> (working: String, final: String) {
        let final = destination + "/" + name
        if protected.contains(final) {
            throw CurationError("\(final) is an image the input names: the new images would replace it; give --image-dir another folder")
        }
        return (work + "/" + name, final)
    }

    /// Encodes `image` as `STEM-HASH.png`, HASH the first 12 hex digits of the PNG's SHA-256: a
    /// new image never takes the name of a different one, so a manifest written before (or a
    /// run killed while moving files in) still finds the pictures it names; the same image
    /// again gets the same name and bytes.
    func write(_ image: Image, named stem: String) throws -> (working: String, final: String) {
        let data: Data
        do { data = try PNGEncoder().encodeSmallest(image) } catch { throw CurationError("\(destination)/\(stem).png: cannot encode: \(error)") }
        let hash = SHA256.hash(data: data).prefix(6).map { String(format: "%02x", $0) }.joined()
        let file = try self.file("\(stem)-\(hash).png")
        do { try AtomicFile.create(data, at: file.working) } catch { throw CurationError("\(file.final): cannot write: \(error.reason)") }
        return file
    }

    public func commit() throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: destination, withIntermediateDirectories: true)
        for name in try fm.contentsOfDirectory(atPath: work) {
            let target = destination + "/" + name
            if rename(work + "/" + name, target) != 0 {
                throw CurationError("\(target): cannot move the new image into place: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Removes the working folder (after a commit it is empty).
    public func discard() { try? FileManager.default.removeItem(atPath: work) }
}

extension Manifest {
    /// An absolute path as this manifest's rows are written: relative to its folder (the writer
    /// then re-expresses it against the output's folder), so a curated set moves with its data.
    func relativeToBase(_ absolute: String) -> String {
        guard baseDirectory.hasPrefix("/"), absolute.hasPrefix("/") else { return absolute }
        return ManifestWriter.relativePath(absolute, from: URL(fileURLWithPath: baseDirectory).standardizedFileURL.path)
    }
}
