import Crypto
import Foundation
import ImageCodecs

/// What a scan found, as `curate scan --json` prints it.
public struct ScanSummary: Sendable, Codable, Equatable {
    /// Distinct image files the manifest names.
    public var images = 0
    public var decoded = 0
    public var failed = 0
    public var missing = 0
    /// Files decoded by this scan (new or changed); the rest were unchanged and reused.
    public var scanned = 0
    public var unchanged = 0
    /// Clusters of two or more files that are exact (same bytes) or near duplicates (pHash).
    public var duplicateGroups = 0
    public var exactDuplicateGroups = 0
    public var nearDuplicateGroups = 0
    /// Duplicate clusters whose rows fall in more than one split.
    public var leakingGroups = 0
}

/// A duplicate cluster, for reports: the files, and the splits their rows are in. A single file
/// named by rows of two splits is a cluster of one that leaks.
public struct DuplicateCluster: Sendable, Codable, Equatable {
    public var paths: [String]
    public var exact: Bool
    public var splits: [String]
    public var leaks: Bool { splits.count > 1 }
}

/// Decodes every image of a manifest once, over all cores, and records facts in a catalog.
public struct Scanner: Sendable {
    public var decoder = ImageDecoder()
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Largest pHash Hamming distance for a near duplicate.
    public var nearDistance = 4
    /// Records written per transaction.
    public var chunkSize = 2048

    public init() {}

    /// Scans the manifest's images into the catalog. Unchanged files (same size and modification
    /// time as recorded) are not decoded again. Missing, unreadable and corrupt files are recorded.
    /// - Parameter progress: called after each chunk with (done, total).
    public func scan(_ manifest: Manifest, into catalog: Catalog, progress: ((Int, Int) -> Void)? = nil) throws -> (summary: ScanSummary, clusters: [DuplicateCluster]) {
        var seen = Set<String>()
        let paths = (0..<manifest.count).map(manifest.resolvedPath).filter { seen.insert($0).inserted }
        let known = try catalog.records()
        var summary = ScanSummary()
        summary.images = paths.count
        var records: [String: CatalogRecord] = [:]
        records.reserveCapacity(paths.count)
        var start = 0
        while start < paths.count {
            let chunk = Array(paths[start..<min(start + chunkSize, paths.count)])
            let decoder = self.decoder
            let results = ParallelMap.run(count: chunk.count, threads: threads) { i -> (CatalogRecord, Bool) in
                Self.examine(chunk[i], known: known[chunk[i]], decoder: decoder)
            }
            try catalog.save(results.filter { $0.1 }.map(\.0))
            for (record, fresh) in results {
                records[record.path] = record
                if fresh && record.status != .missing { summary.scanned += 1 } else if !fresh { summary.unchanged += 1 }
            }
            start += chunk.count
            progress?(start, paths.count)
        }
        for r in records.values {
            switch r.status {
            case .ok: summary.decoded += 1
            case .failed: summary.failed += 1
            case .missing: summary.missing += 1
            }
        }
        let clusters = Self.duplicateClusters(manifest: manifest, paths: paths, records: records, nearDistance: nearDistance)
        let groups = clusters.filter { $0.paths.count > 1 }
        summary.duplicateGroups = groups.count
        summary.exactDuplicateGroups = groups.filter(\.exact).count
        summary.nearDuplicateGroups = groups.count - summary.exactDuplicateGroups
        summary.leakingGroups = clusters.filter(\.leaks).count
        return (summary, clusters)
    }

    /// The record for one file, and whether it is new (false: the known record still holds).
    static func examine(_ path: String, known: CatalogRecord?, decoder: ImageDecoder) -> (CatalogRecord, Bool) {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if let known, known.status == .missing { return (known, false) }
            var r = CatalogRecord(path: path, status: .missing)
            r.errorCode = "missing"
            r.errorMessage = String(cString: strerror(errno))
            return (r, true)
        }
        let size = Int64(st.st_size)
        let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        if let known, known.status != .missing, known.fileSize == size, known.mtimeNanoseconds == mtime {
            return (known, false)
        }
        var r = CatalogRecord(path: path, status: .failed)
        r.fileSize = size
        r.mtimeNanoseconds = mtime
        let data: Data
        do throws(ImageDecodingError) { data = try ImageDecoder.read(path) } catch {
            r.errorCode = error.code.rawValue
            r.errorMessage = error.message
            return (r, true)
        }
        r.sha256 = SHA256.hash(data: data).hexString
        do throws(ImageDecodingError) {
            let decoded = try decoder.decode(data)
            r.status = .ok
            r.format = decoded.info.format.rawValue
            r.width = decoded.image.width
            r.height = decoded.image.height
            r.channels = decoded.info.channels
            r.bitDepth = decoded.info.bitDepth
            r.statistics = ImageStatistics(decoded.image)
            r.perceptualHash = PerceptualHash.hash(decoded.image)
        } catch {
            r.errorCode = error.code.rawValue
            r.errorMessage = error.message
        }
        return (r, true)
    }

    /// Exact (same SHA-256) and near (pHash within `nearDistance`) duplicates among the
    /// manifest's files, clustered, with the splits of the rows that name them.
    public static func duplicateClusters(manifest: Manifest, paths: [String], records: [String: CatalogRecord], nearDistance: Int) -> [DuplicateCluster] {
        let shas = paths.map { records[$0]?.sha256 }
        let hashes = paths.map { records[$0]?.status == .ok ? records[$0]?.perceptualHash : nil }
        var pairs: [(Int, Int)] = []
        var exactPairs = Set<Int64>()
        for group in DuplicateFinder.exactGroups(shas) {
            for k in group.dropFirst() { pairs.append((group[0], k)); exactPairs.insert(Int64(group[0]) << 32 | Int64(k)) }
        }
        pairs += DuplicateFinder.nearPairs(hashes, maxDistance: nearDistance)
        var splitsOf: [String: Set<String>] = [:]
        if let splits = manifest.column("split") {
            for r in 0..<manifest.count where !splits[r].isEmpty { splitsOf[manifest.resolvedPath(r), default: []].insert(splits[r]) }
        }
        var clustered = Set<Int>()
        var out = DuplicateFinder.clusters(count: paths.count, pairs: pairs).map { members in
            clustered.formUnion(members)
            let exact = Set(members.compactMap { shas[$0] }).count == 1 && members.allSatisfy { shas[$0] != nil }
            let splits = members.reduce(into: Set<String>()) { $0.formUnion(splitsOf[paths[$1]] ?? []) }
            return DuplicateCluster(paths: members.map { paths[$0] }, exact: exact, splits: splits.sorted())
        }
        // The same file named by rows of two splits leaks too.
        for (i, p) in paths.enumerated() where !clustered.contains(i) && (splitsOf[p]?.count ?? 0) > 1 {
            out.append(DuplicateCluster(paths: [p], exact: true, splits: splitsOf[p]!.sorted()))
        }
        return out
    }
}
