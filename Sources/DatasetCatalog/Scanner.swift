import Crypto
import Dispatch
import Foundation
import GRDB
import ImageCodecs

/// What a scan found, as `curate scan --json` prints it.
public struct ScanSummary: Sendable, Codable, Equatable {
    public init() {}
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
    /// The files that failed to decode or are missing, in manifest order (not in `--json`).
    public var problemPaths: [String] = []

    enum CodingKeys: String, CodingKey {
        case images, decoded, failed, missing, scanned, unchanged, duplicateGroups, exactDuplicateGroups, nearDuplicateGroups, leakingGroups
    }
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
    /// Largest pHash Hamming distance for a near-duplicate candidate.
    public var nearDistance = 4
    /// Largest mean absolute difference (0-255) of 16x16 grey thumbnails that confirms a candidate.
    public var nearDifference = 4.0
    /// New records written per transaction (the last may hold fewer).
    public var batchSize = 256
    /// New records after which the catalog's write-ahead log is copied into its database file.
    public var checkpointEvery = 2048

    public init() {}

    /// Scans the manifest's images into the catalog. Unchanged files (same size and modification
    /// time as recorded) are not decoded again. Missing, unreadable and corrupt files are recorded.
    /// - Parameter progress: called with (done, total) after each batch of new records is written,
    ///   on the writer's thread.
    public func scan(_ manifest: Manifest, into catalog: Catalog, progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> (summary: ScanSummary, clusters: [DuplicateCluster]) {
        do {
            return try scanCatalog(manifest, into: catalog, progress: progress)
        } catch let error as DatabaseError {
            // SQLite's own errors (a full disk, a damaged file) come out naming the catalog.
            throw CatalogError("\(catalog.path): \(error.reason)")
        }
    }

    func scanCatalog(_ manifest: Manifest, into catalog: Catalog, progress: (@Sendable (Int, Int) -> Void)?) throws -> (summary: ScanSummary, clusters: [DuplicateCluster]) {
        let timing = ProcessInfo.processInfo.environment["CURATE_SCAN_TIMING"] != nil
        var clock = DispatchTime.now().uptimeNanoseconds
        func phase(_ name: String) {
            guard timing else { return }
            let now = DispatchTime.now().uptimeNanoseconds
            FileHandle.standardError.write(Data(String(format: "scan %@: %.1f ms\n", name, Double(now - clock) / 1e6).utf8))
            clock = now
        }
        // The catalog's state loads on another thread while paths are resolved and every file is
        // stat'ed (only when the catalog has records at all: a first scan opens each file once instead).
        nonisolated(unsafe) var knownState = CatalogState()
        nonisolated(unsafe) var stateError: Error? = nil
        let loading = DispatchGroup()
        DispatchQueue.global().async(group: loading) {
            do { knownState = try catalog.scanState() } catch { stateError = error }
        }
        let (paths, pathOfRow) = Self.uniquePaths(manifest)
        let allPaths = paths
        let directories = DirectoryHandles(paths: allPaths)
        phase("paths")
        let stats: [FileStamp?] = try catalog.count > 0
            ? ParallelMap.run(count: allPaths.count, threads: threads) { directories.stamp(allPaths[$0], $0) } : []
        loading.wait()
        if let stateError { throw stateError }
        let state = knownState
        let knownIndex = state.indices(of: allPaths)
        phase("catalog state and stat")
        var summary = ScanSummary()
        summary.images = paths.count
        // Every record is initialised in place, exactly once, in this buffer, which becomes the
        // records array at the end (moved, not copied). `kind[i]` says what slot i holds:
        // 0 nothing yet, 1 a record that still holds, 2 a new one.
        let count = allPaths.count
        nonisolated(unsafe) let out = UnsafeMutablePointer<CatalogRecord>.allocate(capacity: count)
        nonisolated(unsafe) let kind = UnsafeMutablePointer<UInt8>.allocate(capacity: count)
        kind.initialize(repeating: 0, count: count)
        defer { kind.deallocate() }
        // Files whose size and modification time match their record are settled here, without
        // any further work; the rest (new, changed, gone) are examined below.
        var todo: [Int] = []
        for i in 0..<count {
            if let j = knownIndex[i], !stats.isEmpty {
                let stamp = stats[i]
                if FileStamp.holds(status: state.statuses[j], size: state.sizes[j], mtime: state.mtimes[j], now: stamp) { (out + i).initialize(to: state.record(j)); kind[i] = 1; continue }
            }
            todo.append(i)
        }
        // The files to examine are handed out over all cores in small grabs that shrink towards
        // the end, with no barrier between them. New records go to the catalog's writer (a serial
        // queue) in batches of `batchSize` as they are finished, each batch one transaction, so
        // writing overlaps decoding, and what is left to write once the last file is decoded is
        // less than one batch; that overlaps the duplicate search. The log is checkpointed every
        // `checkpointEvery` records and after the last.
        let writer = DispatchQueue(label: "curate.catalog.writer")
        let writes = DispatchGroup()
        let todoList = todo
        let pipeline = ScanPipeline(count: todoList.count, threads: threads, batchSize: max(1, batchSize))
        let decoder = self.decoder
        let (checkpointEvery, unchanged) = (max(1, self.checkpointEvery), count - todo.count)
        nonisolated(unsafe) var writeError: Error? = nil
        nonisolated(unsafe) var sinceCheckpoint = 0
        nonisolated(unsafe) var written = 0
        nonisolated(unsafe) var writerSeconds = 0.0  // the writer thread's CPU time, with CURATE_SCAN_TIMING
        let report = progress
        @Sendable func write(_ batch: ScanPipeline.Batch) {
            writer.async(group: writes) {
                guard writeError == nil else { return }
                let started = timing ? Self.threadSeconds() : 0
                defer { if timing { writerSeconds += Self.threadSeconds() - started } }
                if !batch.records.isEmpty {
                    do { try catalog.save(batch.records) } catch {
                        // Named with the catalog: a full disk or a damaged file says which file.
                        let reason = (error as? DatabaseError)?.reason ?? "\(error)"
                        writeError = CatalogError("\(catalog.path): writing the scan's records failed: \(reason); what was written before holds")
                        pipeline.stop()
                        return
                    }
                    sinceCheckpoint += batch.records.count
                }
                // Only a head start on the copy that closing would do anyway: a failure here
                // loses nothing, and closing tries again.
                if sinceCheckpoint >= checkpointEvery || batch.last { try? catalog.checkpoint(); sinceCheckpoint = 0 }
                written = max(written, batch.examined)
                report?(unchanged + written, count)
            }
        }
        DispatchQueue.concurrentPerform(iterations: min(threads, max(1, todoList.count))) { _ in
            var fresh: [CatalogRecord] = []
            while let range = pipeline.take() {
                for k in range {
                    let i = todoList[k]
                    let (record, isNew) = Self.examine(allPaths[i], known: knownIndex[i].map(state.record), stamp: stats.isEmpty ? nil : stats[i],
                                                       decoder: decoder, in: directories, index: i)
                    if isNew { fresh.append(record) }
                    (out + i).initialize(to: record)
                    kind[i] = isNew ? 2 : 1
                }
                if let batch = pipeline.finished(range.count, fresh: &fresh) { write(batch) }
            }
        }
        if let batch = pipeline.flush() { write(batch) }
        if pipeline.stopped {
            // The writer failed and the work stopped early: the slots filled are released, and
            // its error is thrown.
            writes.wait()
            for i in 0..<count where kind[i] != 0 { (out + i).deinitialize(count: 1) }
            out.deallocate()
            throw writeError ?? CatalogError("\(catalog.path): the scan stopped")
        }
        let records = [CatalogRecord](unsafeUninitializedCapacity: count) { storage, initialized in
            storage.baseAddress!.moveInitialize(from: out, count: count)
            initialized = count
        }
        out.deallocate()
        let wroteRecords = pipeline.newRecords > 0
        for i in 0..<count {
            if kind[i] == 1 { summary.unchanged += 1 } else if records[i].status != .missing { summary.scanned += 1 }
        }
        phase("examine and write")
        for r in records {
            switch r.status {
            case .ok: summary.decoded += 1
            case .failed: summary.failed += 1; summary.problemPaths.append(r.path)
            case .missing: summary.missing += 1; summary.problemPaths.append(r.path)
            }
        }
        // Clusters depend only on the files' identities, hashes and splits and on the two
        // thresholds: when none changed since the last scan (a rescan), the stored ones hold.
        // When this scan wrote records, the clusters are worked out at once, while the writer
        // finishes the last batch and the digest they are stored under is worked out on another
        // thread, without first asking the catalog (which would wait for the writer): a stored
        // set under the same digest would be the same clusters.
        let found = records
        let loadDetails = { (needed: [String]) in try catalog.details(for: needed) }
        func compute() throws -> [DuplicateCluster] {
            try Self.duplicateClusters(manifest: manifest, paths: paths, pathOfRow: pathOfRow, records: found,
                                       nearDistance: nearDistance, nearDifference: nearDifference, loadDetails: loadDetails)
        }
        let digest: String
        let computed: Result<[DuplicateCluster], Error>
        let cached: [DuplicateCluster]?
        if wroteRecords {
            nonisolated(unsafe) var worked = ""
            let digesting = DispatchGroup()
            DispatchQueue.global().async(group: digesting) {
                worked = self.clusterDigest(paths: paths, pathOfRow: pathOfRow, records: found, manifest: manifest)
            }
            cached = nil
            computed = Result { try compute() }
            digesting.wait()
            digest = worked
        } else {
            digest = clusterDigest(paths: paths, pathOfRow: pathOfRow, records: found, manifest: manifest)
            cached = try catalog.cachedClusters(digest: digest)
            computed = Result { try cached ?? compute() }
        }
        // Whatever failed, the writer has finished before the scan returns or throws.
        writes.wait()
        if let writeError { throw writeError }
        let clusters = try computed.get()
        if cached == nil { try catalog.storeClusters(clusters, digest: digest) }
        phase("duplicates")
        if timing {
            FileHandle.standardError.write(Data(String(format: "scan writer: %.1f ms of its thread's CPU (inserts and checkpoints)\n", writerSeconds * 1e3).utf8))
        }
        let groups = clusters.filter { $0.paths.count > 1 }
        summary.duplicateGroups = groups.count
        summary.exactDuplicateGroups = groups.filter(\.exact).count
        summary.nearDuplicateGroups = groups.count - summary.exactDuplicateGroups
        summary.leakingGroups = clusters.filter(\.leaks).count
        return (summary, clusters)
    }

    /// SHA-256 over what duplicate clusters depend on: the thresholds, then per file its path,
    /// status, size, modification time, content prefix and pHash, then each row's file and split.
    func clusterDigest(paths: [String], pathOfRow: [Int], records: [CatalogRecord], manifest: Manifest) -> String {
        // Fed to the hash through one buffer by raw copies (appending the words and strings one
        // by one to a growing array cost a first scan about 3 ms, serially, at its end).
        var hasher = SHA256()
        let capacity = 1 << 16
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        defer { buffer.deallocate() }
        var used = 0
        func flush() {
            hasher.update(bufferPointer: UnsafeRawBufferPointer(start: buffer, count: used))
            used = 0
        }
        func int(_ v: Int64) {
            if used + 8 > capacity { flush() }
            buffer.storeBytes(of: v.littleEndian, toByteOffset: used, as: Int64.self)
            used += 8
        }
        func byte(_ v: UInt8) {
            if used == capacity { flush() }
            buffer.storeBytes(of: v, toByteOffset: used, as: UInt8.self)
            used += 1
        }
        func text(_ s: String) {
            var s = s
            s.withUTF8 { b in
                if used + b.count > capacity { flush() }
                if b.count > capacity { hasher.update(bufferPointer: UnsafeRawBufferPointer(b)); return }
                if let base = b.baseAddress { (buffer + used).copyMemory(from: base, byteCount: b.count) }
                used += b.count
            }
        }
        int(Int64(nearDistance))
        int(Int64(nearDifference.bitPattern))
        records.withUnsafeBufferPointer { records in
            for (i, p) in paths.enumerated() {
                text(p)
                byte(0)
                byte(records[i].status == .ok ? 1 : records[i].status == .failed ? 2 : 3)
                int(records[i].fileSize ?? -1)
                int(records[i].mtimeNanoseconds ?? -1)
                int(records[i].contentPrefix.map { Int64(bitPattern: $0) } ?? -1)
                int(records[i].perceptualHash.map { Int64(bitPattern: $0) } ?? -1)
            }
        }
        let splits = manifest.column("split")
        for (row, p) in pathOfRow.enumerated() {
            int(Int64(p))
            if let splits { text(splits[row]) }
            byte(0)
        }
        flush()
        return hasher.finalize().hexString
    }

    /// This thread's CPU time in seconds.
    static func threadSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// The record for one file, and whether it is new (false: the known record still holds).
    static func examine(_ path: String, known: CatalogRecord?, stamp: FileStamp?, decoder: ImageDecoder,
                        in directories: DirectoryHandles, index: Int) -> (CatalogRecord, Bool) {
        func missing(_ err: Int32) -> (CatalogRecord, Bool) {
            if let known, known.status == .missing { return (known, false) }
            var r = CatalogRecord(path: path, status: .missing)
            r.errorCode = "missing"
            r.errorMessage = String(cString: strerror(err))
            return (r, true)
        }
        var st = stat()
        // A known file is checked with one stat; a new one is opened at once (one lookup, by
        // name in its directory).
        if let known, known.status != .missing {
            guard let stamp = stamp ?? directories.stamp(path, index) else { return missing(errno) }
            if known.fileSize == stamp.size && known.mtimeNanoseconds == stamp.mtime { return (known, false) }
        } else if let known, known.status == .missing, stamp == nil, directories.stamp(path, index) == nil {
            return (known, false)
        }
        let fd = directories.open(path, index)
        guard fd >= 0 else {
            if errno == ENOENT || errno == ENOTDIR { return missing(errno) }
            var r = CatalogRecord(path: path, status: .failed)
            r.errorCode = ImageDecodingError.Code.unreadable.rawValue
            r.errorMessage = "cannot open: " + String(cString: strerror(errno))
            return (r, true)
        }
        defer { close(fd) }
        guard fstat(fd, &st) == 0 else { return missing(errno) }
        var r = CatalogRecord(path: path, status: .failed)
        r.fileSize = Int64(st.st_size)
        r.mtimeNanoseconds = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        if (st.st_mode & S_IFMT) != S_IFREG {
            r.errorCode = ImageDecodingError.Code.unreadable.rawValue
            r.errorMessage = (st.st_mode & S_IFMT) == S_IFDIR ? "is a directory" : "not a regular file"
            return (r, true)
        }
        let size = Int(st.st_size)
        var data = Data(count: size)
        let got = data.withUnsafeMutableBytes { ImageDecoder.readFully(fd, into: $0) }
        guard got == size else {
            r.errorCode = ImageDecodingError.Code.unreadable.rawValue
            r.errorMessage = got < 0 ? "read failed: " + String(cString: strerror(errno)) : "file changed while it was read"
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
            (r.perceptualHash, r.thumbnail) = PerceptualHash.fingerprint(decoded.image)
        } catch {
            r.errorCode = error.code.rawValue
            r.errorMessage = error.message
        }
        return (r, true)
    }

    /// Exact (same SHA-256) and near (pHash within `nearDistance`) duplicates among the
    /// manifest's files, clustered, with the splits of the rows that name them.
    /// - Parameters:
    ///   - pathOfRow: for each manifest row, the index of its path in `paths`.
    ///   - records: one per path, in the same order.
    ///   - nearDifference: the largest thumbnail difference that confirms a pHash candidate pair.
    ///   - loadDetails: full SHA-256s and thumbnails the records lack (unchanged files), by path,
    ///     asked for only the files in candidate groups.
    public static func duplicateClusters(manifest: Manifest, paths: [String], pathOfRow: [Int], records: [CatalogRecord],
                                         nearDistance: Int, nearDifference: Double,
                                         loadDetails: ([String]) throws -> [String: (sha256: String?, thumbnail: [UInt8]?)]) rethrows -> [DuplicateCluster] {
        // Files that failed to decode are reported as failures, not as duplicates of each other
        // (two empty or truncated files have the same bytes).
        let prefixes = records.map { $0.status == .ok ? $0.contentPrefix : nil }
        let hashes = records.map { $0.status == .ok ? $0.perceptualHash : nil }
        // Candidates: equal 64-bit content prefixes, and pHashes within the distance.
        let exactCandidates = DuplicateFinder.exactGroups(prefixes)
        let nearCandidates = DuplicateFinder.nearPairs(hashes, maxDistance: nearDistance)
        var involved = Set<Int>()
        for g in exactCandidates { involved.formUnion(g) }
        for (a, b) in nearCandidates { involved.insert(a); involved.insert(b) }
        let missing = involved.filter { records[$0].sha256 == nil || (records[$0].status == .ok && records[$0].thumbnail == nil) }.map { paths[$0] }
        let loaded = try loadDetails(missing)
        func sha(_ i: Int) -> String? { records[i].sha256 ?? loaded[paths[i]]?.sha256 }
        func thumbnail(_ i: Int) -> [UInt8]? { records[i].thumbnail ?? loaded[paths[i]]?.thumbnail ?? nil }
        // Exact: the full hashes agree (confirming the prefix).
        var pairs: [(Int, Int)] = []
        var exactPair = Set<UInt64>()
        for group in exactCandidates {
            let full = DuplicateFinder.exactGroups(group.map { sha($0) })
            for g in full {
                for k in g.dropFirst() {
                    let (a, b) = (group[g[0]], group[k])
                    pairs.append((a, b))
                    exactPair.insert(UInt64(min(a, b)) << 32 | UInt64(max(a, b)))
                }
            }
        }
        let shas = (0..<records.count).map { involved.contains($0) ? sha($0) : nil }
        pairs += nearCandidates.filter { a, b in
            if exactPair.contains(UInt64(a) << 32 | UInt64(b)) { return false }
            guard let x = thumbnail(a), let y = thumbnail(b) else { return false }
            return PerceptualHash.thumbnailDifference(x, y) <= nearDifference
        }
        // Which splits name each file, as a bit mask (train 1, val 2, test 4).
        let splitNames = ["train", "val", "test"]
        var mask = [UInt8](repeating: 0, count: paths.count)
        if let splits = manifest.column("split") {
            for (r, p) in pathOfRow.enumerated() {
                switch splits[r] {
                case "train": mask[p] |= 1
                case "val": mask[p] |= 2
                case "test": mask[p] |= 4
                default: break
                }
            }
        }
        func names(_ m: UInt8) -> [String] { (0..<3).filter { m & (1 << $0) != 0 }.map { splitNames[$0] }.sorted() }
        var clustered = [Bool](repeating: false, count: paths.count)
        var out = DuplicateFinder.clusters(count: paths.count, pairs: pairs).map { members in
            for m in members { clustered[m] = true }
            let exact = Set(members.compactMap { shas[$0] }).count == 1 && members.allSatisfy { shas[$0] != nil }
            return DuplicateCluster(paths: members.map { paths[$0] }, exact: exact, splits: names(members.reduce(0) { $0 | mask[$1] }))
        }
        // The same file named by rows of two splits leaks too.
        for i in 0..<paths.count where !clustered[i] && mask[i].nonzeroBitCount > 1 {
            out.append(DuplicateCluster(paths: [paths[i]], exact: true, splits: names(mask[i])))
        }
        return out
    }
}

/// Hands out a scan's files to its workers, in grabs that shrink towards the end so that the
/// workers finish together, and gathers their new records into batches for the writer.
final class ScanPipeline: @unchecked Sendable {
    /// New records for one transaction, and how many files had been examined when it was made.
    struct Batch: Sendable {
        var records: [CatalogRecord]
        var examined: Int
        /// Made after every file was examined (the writer then checkpoints).
        var last: Bool
    }

    private let lock = NSLock()
    private let count: Int, threads: Int, batchSize: Int
    private var next = 0, examined = 0
    private var pending: [CatalogRecord] = []
    private var isStopped = false
    private var fresh = 0

    init(count: Int, threads: Int, batchSize: Int) {
        (self.count, self.threads, self.batchSize) = (count, max(1, threads), batchSize)
    }

    /// The next grab of work (indices into the list of files to examine), or nil when there is none.
    func take() -> Range<Int>? {
        lock.lock(); defer { lock.unlock() }
        guard !isStopped, next < count else { return nil }
        let grab = max(1, min(64, (count - next) / (threads * 4)))
        defer { next += grab }
        return next..<(next + grab)
    }

    /// Records that a grab of `examined` files is done, with its new records (taken, leaving
    /// `fresh` empty); returns a batch to write once enough new records are waiting.
    func finished(_ n: Int, fresh records: inout [CatalogRecord]) -> Batch? {
        lock.lock(); defer { lock.unlock() }
        examined += n
        fresh += records.count
        if pending.isEmpty { swap(&pending, &records) } else { pending += records; records.removeAll(keepingCapacity: true) }
        guard pending.count >= batchSize else { return nil }
        defer { pending = [] }
        return Batch(records: pending, examined: examined, last: false)
    }

    /// What is left once every worker is done: nil when the scan made no new records at all.
    func flush() -> Batch? {
        lock.lock(); defer { lock.unlock() }
        guard !isStopped, fresh > 0 else { return nil }
        defer { pending = [] }
        return Batch(records: pending, examined: examined, last: true)
    }

    /// Stops handing out work (the writer failed).
    func stop() { lock.lock(); isStopped = true; lock.unlock() }
    var stopped: Bool { lock.lock(); defer { lock.unlock() }; return isStopped }
    var newRecords: Int { lock.lock(); defer { lock.unlock() }; return fresh }
}

/// A file's size and modification time (nanoseconds), from one stat; nil when it cannot be stat'ed.
struct FileStamp: Sendable, Equatable {
    var size: Int64
    var mtime: Int64

    /// Whether a record made with `status`, `size` and `mtime` still describes the file as it is
    /// `now` (nil: it cannot be stat'ed): a missing file's record while it is still missing,
    /// anyone else's while its size and modification time are the same.
    static func holds(status: CatalogRecord.Status, size: Int64?, mtime: Int64?, now: FileStamp?) -> Bool {
        status == .missing ? now == nil : now.map { $0.size == size && $0.mtime == mtime } ?? false
    }
    init(_ st: stat) {
        size = Int64(st.st_size)
        mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    }
}

extension DirectoryHandles {
    /// The size and modification time of path number `i`; nil when it cannot be stat'ed.
    func stamp(_ path: String, _ i: Int) -> FileStamp? { status(path, i).map(FileStamp.init) }
}

extension Scanner {
    /// The manifest's distinct resolved paths, in order of first appearance, and for each row
    /// the index of its path among them.
    static func uniquePaths(_ manifest: Manifest) -> (paths: [String], pathOfRow: [Int]) {
        let resolved = manifest.resolvedPaths()
        var indexOf: [String: Int] = [:]
        indexOf.reserveCapacity(resolved.count)
        var paths: [String] = []
        paths.reserveCapacity(resolved.count)
        var pathOfRow: [Int] = []
        pathOfRow.reserveCapacity(resolved.count)
        for p in resolved {
            if let i = indexOf[p] { pathOfRow.append(i) } else { indexOf[p] = paths.count; pathOfRow.append(paths.count); paths.append(p) }
        }
        return (paths, pathOfRow)
    }

    /// What the catalog knows about a manifest's files, without scanning: the unique resolved
    /// paths, each row's index into them, the records (missing where the catalog has none, or
    /// only a stale one: the file changed since the scan) and the duplicate clusters among them.
    public static func catalogFacts(manifest: Manifest, catalog: Catalog) throws
        -> (paths: [String], pathOfRow: [Int], records: [CatalogRecord], clusters: [DuplicateCluster]) {
        let (paths, pathOfRow) = uniquePaths(manifest)
        let found = try catalog.currentRecords(for: paths)
        let records = paths.map { found[$0] ?? CatalogRecord(path: $0, status: .missing) }
        let defaults = Scanner()
        let clusters = try duplicateClusters(manifest: manifest, paths: paths, pathOfRow: pathOfRow, records: records,
                                             nearDistance: defaults.nearDistance, nearDifference: defaults.nearDifference) {
            try catalog.details(for: $0)
        }
        return (paths, pathOfRow, records, clusters)
    }
}
