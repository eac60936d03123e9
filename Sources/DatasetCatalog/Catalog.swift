import Foundation
import GRDB
import GRDBSQLite
import ImageCodecs

/// What a scan knows about one image file.
public struct CatalogRecord: Sendable, Equatable {
    public enum Status: String, Sendable { case ok, failed, missing }
    /// The resolved (absolute) path.
    public var path: String
    public var status: Status
    public var fileSize: Int64?
    /// Modification time in nanoseconds since 1970.
    public var mtimeNanoseconds: Int64?
    public var errorCode: String?
    public var errorMessage: String?
    public var format: String?
    public var width: Int?
    public var height: Int?
    public var channels: Int?
    public var bitDepth: Int?
    /// SHA-256 of the file's bytes (hex).
    public var sha256: String? {
        didSet { contentPrefix = sha256.flatMap(Self.hexPrefix) }
    }
    /// The SHA-256's first 64 bits: what duplicate grouping compares (full hashes confirm).
    public var contentPrefix: UInt64?
    public var statistics: ImageStatistics?
    public var perceptualHash: UInt64?
    /// 16x16 grey thumbnail (256 bytes) that confirms near duplicates.
    public var thumbnail: [UInt8]?

    /// The first 16 hex digits of `hex` as a number; nil when there are fewer or one is not a
    /// hex digit. (By bytes: the generic `UInt64(_:radix:)` on a substring cost a scan more than
    /// the hash's other bookkeeping.)
    static func hexPrefix(_ hex: String) -> UInt64? {
        var value: UInt64 = 0, n = 0
        for c in hex.utf8 {
            if n == 16 { break }
            let d: UInt8
            switch c {
            case 48...57: d = c - 48
            case 97...102: d = c - 87
            case 65...70: d = c - 55
            default: return nil
            }
            value = value << 4 | UInt64(d)
            n += 1
        }
        return n == 16 ? value : nil
    }

    public init(path: String, status: Status) {
        self.path = path
        self.status = status
    }
}

/// The scan-relevant columns of a catalog, column by column, in rowid order.
public struct CatalogState: Sendable {
    public var paths: [String] = []
    public var statuses: [CatalogRecord.Status] = []
    public var sizes: [Int64?] = []
    public var mtimes: [Int64?] = []
    public var prefixes: [UInt64?] = []
    public var phashes: [UInt64?] = []

    public var count: Int { paths.count }

    public func record(_ j: Int) -> CatalogRecord {
        var r = CatalogRecord(path: paths[j], status: statuses[j])
        r.fileSize = sizes[j]
        r.mtimeNanoseconds = mtimes[j]
        r.contentPrefix = prefixes[j]
        r.perceptualHash = phashes[j]
        return r
    }

    /// For each of `paths`, the index of its row here, or nil. Walks both in step while they
    /// agree (a rescan of the same manifest), using a dictionary only from the first mismatch.
    public func indices(of paths: [String]) -> [Int?] {
        var out = [Int?](repeating: nil, count: paths.count)
        var lookup: [String: Int]? = nil
        var j = 0
        for (i, p) in paths.enumerated() {
            if j < count && self.paths[j] == p { out[i] = j; j += 1; continue }
            if lookup == nil {
                var d: [String: Int] = [:]
                d.reserveCapacity(count)
                for (k, q) in self.paths.enumerated() { d[q] = k }
                lookup = d
            }
            out[i] = lookup![p]
            if let k = out[i] { j = k + 1 }
        }
        return out
    }
}

extension DatabaseError {
    /// SQLite's message, or its result code when it gave none: what catalog errors quote.
    var reason: String { message ?? "\(resultCode)" }
}

public struct CatalogError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The scan catalog: a SQLite database (through GRDB) of facts about image files. It is a cache:
/// deleting it loses nothing the manifest holds. Writes happen in transactions, so a crash
/// leaves it consistent; one writer at a time holds an exclusive lock on it.
public final class Catalog: @unchecked Sendable {
    public let path: String
    let db: DatabaseQueue

    /// Opens (creating and migrating when needed) the catalog at `path`.
    public init(path: String) throws {
        self.path = path
        try Self.checkIsCatalog(path)
        var config = Configuration()
        config.busyMode = .timeout(30)
        do {
            db = try DatabaseQueue(path: path, configuration: config)
            try db.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA journal_mode = WAL")
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
                // A scan writes a few hundred bytes an image. SQLite's default checkpoints the WAL
                // every 1,000 pages (4 MiB), each time with two fsyncs, which on a slow disk cost a
                // 10,000-image scan more than its inserts; every 64 MiB keeps the WAL bounded and
                // the fsyncs rare. Reads are unaffected.
                try db.execute(sql: "PRAGMA wal_autocheckpoint = 16384")
            }
            try Self.migrator.migrate(db)
            // A catalog written by an older development build may lack columns: it is a cache
            // of facts about files, so it is rebuilt rather than refused.
            let present = Set(try db.read { try $0.columns(in: "image").map(\.name) })
            let expected = Self.columns.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if !expected.allSatisfy(present.contains) {
                try db.write { db in
                    try db.execute(sql: "DROP TABLE image")
                    try Self.createImageTable(db)
                }
            }
        } catch let error as DatabaseError {
            throw CatalogError("\(path): not a usable Curate catalog (\(error.reason)); if it is a damaged catalog, delete it to start over")
        }
    }

    /// Opens an existing catalog to read it (audit, tag, split): nothing is created, migrated or
    /// rebuilt, so a file that is not a Curate catalog is refused as it is, never changed.
    public init(reading path: String) throws {
        self.path = path
        try Self.checkIsCatalog(path)
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(30)
        do {
            db = try DatabaseQueue(path: path, configuration: config)
            let present = Set(try db.read { try $0.tableExists("image") ? try $0.columns(in: "image").map(\.name) : [] })
            let expected = Self.columns.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard expected.allSatisfy(present.contains) else {
                throw CatalogError(present.isEmpty ? "\(path): not a Curate catalog (it has no image table); run curate scan to make one"
                                                   : "\(path): a catalog from another version of Curate; run curate scan to bring it up to date")
            }
        } catch let error as DatabaseError {
            throw CatalogError("\(path): not a usable Curate catalog (\(error.reason))")
        }
    }

    /// Refuses, before anything is written to it, an existing non-empty file that is not a Curate
    /// catalog: not a SQLite database, or one with tables a catalog never has (someone's own
    /// database), so that a wrong --catalog never changes or invites deleting that file.
    static func checkIsCatalog(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0, st.st_size > 0 else { return }  // new, or empty: made here
        if (st.st_mode & S_IFMT) == S_IFDIR { throw CatalogError("\(path): is a folder, not a catalog; name a file for the catalog") }
        var head = [UInt8](repeating: 0, count: 16)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }  // unreadable: opening it says why
        let got = read(fd, &head, 16)
        close(fd)
        guard got == 16, head == Array("SQLite format 3\0".utf8) else {
            throw CatalogError("\(path): not a Curate catalog (not a SQLite database); name another file for the catalog")
        }
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(30)
        let tables: [String]
        do {
            tables = try DatabaseQueue(path: path, configuration: config).read { db in
                try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            }
        } catch let error as DatabaseError {
            throw CatalogError("\(path): not a usable Curate catalog (\(error.reason))")
        }
        let ours: Set<String> = ["image", "clusters", "grdb_migrations"]
        let foreign = tables.filter { !ours.contains($0) }
        if !foreign.isEmpty || (!tables.isEmpty && !tables.contains("grdb_migrations")) {
            let shown = (foreign.isEmpty ? tables : foreign).prefix(5).joined(separator: ", ")
            throw CatalogError("\(path): a SQLite database that is not a Curate catalog (its tables: \(shown)); name another file for the catalog")
        }
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in try createImageTable(db) }
        // The last scan's duplicate clusters, keyed by a digest of everything they depend on.
        m.registerMigration("v2") { db in
            try db.create(table: "clusters") { t in
                t.primaryKey("digest", .text)
                t.column("json", .blob).notNull()
            }
        }
        return m
    }

    static func createImageTable(_ db: Database) throws {
        do {
            try db.create(table: "image") { t in
                t.primaryKey("path", .text)
                t.column("status", .text).notNull()
                t.column("file_size", .integer)
                t.column("mtime_ns", .integer)
                t.column("error_code", .text)
                t.column("error_message", .text)
                t.column("format", .text)
                t.column("width", .integer)
                t.column("height", .integer)
                t.column("channels", .integer)
                t.column("bit_depth", .integer)
                t.column("sha256", .text)
                t.column("sha_prefix", .integer)
                t.column("brightness", .double)
                t.column("colourfulness", .double)
                t.column("mean_r", .double)
                t.column("mean_g", .double)
                t.column("mean_b", .double)
                t.column("dominant_hue", .text)
                t.column("phash", .integer)
                t.column("thumbnail", .blob)
            }
        }
    }

    static let columns = "path, status, file_size, mtime_ns, error_code, error_message, format, width, height, channels, bit_depth, sha256, sha_prefix, brightness, colourfulness, mean_r, mean_g, mean_b, dominant_hue, phash, thumbnail"

    /// Inserts or replaces records, all in one transaction. Values are bound straight through
    /// SQLite's C API: GRDB's argument arrays box every value, which cost a scan more than the
    /// insert itself.
    public func save(_ records: [CatalogRecord]) throws {
        try db.write { db in
            let statement = try db.cachedStatement(sql: "INSERT OR REPLACE INTO image (\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            let stmt = statement.sqliteStatement
            let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
            func text(_ i: Int32, _ v: String?) {
                guard var v else { sqlite3_bind_null(stmt, i); return }
                v.withUTF8 { b in
                    let base = UnsafeRawPointer(b.baseAddress ?? UnsafePointer(bitPattern: 1)!).assumingMemoryBound(to: CChar.self)
                    _ = sqlite3_bind_text(stmt, i, base, Int32(b.count), transient)
                }
            }
            func int(_ i: Int32, _ v: Int64?) { if let v { sqlite3_bind_int64(stmt, i, v) } else { sqlite3_bind_null(stmt, i) } }
            func real(_ i: Int32, _ v: Double?) { if let v { sqlite3_bind_double(stmt, i, v) } else { sqlite3_bind_null(stmt, i) } }
            defer { sqlite3_reset(stmt); sqlite3_clear_bindings(stmt) }
            for r in records {
                sqlite3_reset(stmt)
                text(1, r.path); text(2, r.status.rawValue); int(3, r.fileSize); int(4, r.mtimeNanoseconds)
                text(5, r.errorCode); text(6, r.errorMessage); text(7, r.format)
                int(8, r.width.map(Int64.init)); int(9, r.height.map(Int64.init)); int(10, r.channels.map(Int64.init))
                int(11, r.bitDepth.map(Int64.init)); text(12, r.sha256); int(13, r.contentPrefix.map { Int64(bitPattern: $0) })
                let s = r.statistics
                real(14, s?.brightness); real(15, s?.colourfulness); real(16, s?.meanR); real(17, s?.meanG); real(18, s?.meanB)
                text(19, s?.dominantHue); int(20, r.perceptualHash.map { Int64(bitPattern: $0) })
                if let t = r.thumbnail {
                    t.withUnsafeBytes { b in _ = sqlite3_bind_blob(stmt, 21, b.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(b.count), transient) }
                } else { sqlite3_bind_null(stmt, 21) }
                let rc = sqlite3_step(stmt)
                guard rc == SQLITE_DONE else {
                    throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
                }
            }
        }
    }

    /// Copies the committed pages of the write-ahead log into the database file (SQLite's PASSIVE
    /// checkpoint: it never waits for other connections, copying what their reads allow). A scan
    /// checkpoints on its writer thread every few thousand records and after its last batch,
    /// overlapping decoding, so that closing the catalog has next to nothing left to copy or sync.
    /// The log's frames are then reused from its start, so it stays a few thousand records long.
    public func checkpoint() throws {
        try db.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(PASSIVE)") }
    }

    /// Duplicate clusters stored under `digest` by `storeClusters`, or nil.
    public func cachedClusters(digest: String) throws -> [DuplicateCluster]? {
        let data = try db.read { db in try Data.fetchOne(db, sql: "SELECT json FROM clusters WHERE digest = ?", arguments: [digest]) }
        return data.flatMap { try? JSONDecoder().decode([DuplicateCluster].self, from: $0) }
    }

    /// Keeps one set of clusters (the latest scan's), under `digest`.
    public func storeClusters(_ clusters: [DuplicateCluster], digest: String) throws {
        let data = try JSONEncoder().encode(clusters)
        try db.write { db in
            try db.execute(sql: "DELETE FROM clusters")
            try db.execute(sql: "INSERT INTO clusters (digest, json) VALUES (?, ?)", arguments: [digest, data])
        }
    }

    /// Every record, by path.
    public func records() throws -> [String: CatalogRecord] {
        try db.read { db in
            var out: [String: CatalogRecord] = [:]
            let cursor = try Row.fetchCursor(db, sql: "SELECT \(Self.columns) FROM image")
            while let row = try cursor.next() {
                let r = Self.record(row)
                out[r.path] = r
            }
            return out
        }
    }

    /// What a scan needs to know of each record: whether the file changed (size, modification
    /// time, status) and its hashes for duplicate detection, in insertion (rowid) order. Cheaper
    /// than `records()`: no dictionary, no statistics.
    public func scanState() throws -> CatalogState {
        try db.read { db in
            var state = CatalogState()
            // Stepped through SQLite's C API: a rescan reads every row, and GRDB's row cursor
            // costs more per value than the read itself.
            let statement = try db.makeStatement(sql: """
                SELECT path, status, file_size, mtime_ns, sha_prefix, phash FROM image ORDER BY rowid
                """)
            let stmt = statement.sqliteStatement
            defer { sqlite3_reset(stmt) }
            func int(_ i: Int32) -> Int64? { sqlite3_column_type(stmt, i) == SQLITE_NULL ? nil : sqlite3_column_int64(stmt, i) }
            func text(_ i: Int32) -> String {
                guard let p = sqlite3_column_text(stmt, i) else { return "" }
                return String(decoding: UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(stmt, i))), as: UTF8.self)
            }
            while true {
                let rc = sqlite3_step(stmt)
                if rc == SQLITE_DONE { break }
                guard rc == SQLITE_ROW else {
                    throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
                }
                state.paths.append(text(0))
                state.statuses.append(CatalogRecord.Status(rawValue: text(1)) ?? .failed)
                state.sizes.append(int(2))
                state.mtimes.append(int(3))
                state.prefixes.append(int(4).map { UInt64(bitPattern: $0) })
                state.phashes.append(int(5).map { UInt64(bitPattern: $0) })
            }
            return state
        }
    }

    /// The records of some files, by path (those missing from the catalog are left out).
    public func records(for paths: [String]) throws -> [String: CatalogRecord] {
        try db.read { db in
            var out: [String: CatalogRecord] = [:]
            let statement = try db.cachedStatement(sql: "SELECT \(Self.columns) FROM image WHERE path = ?")
            for p in paths { if let row = try Row.fetchOne(statement, arguments: [p]) { out[p] = Self.record(row) } }
            return out
        }
    }

    /// The records of `paths` that still describe their files: a file whose size or modification
    /// time differs from its record (changed since the scan, or gone) has none, as if never
    /// scanned, so no stale statistic or hash stands for it. A record of a missing file holds
    /// while the file is still missing.
    public func currentRecords(for paths: [String]) throws -> [String: CatalogRecord] {
        let found = try records(for: paths)
        let directories = DirectoryHandles(paths: paths)
        var out: [String: CatalogRecord] = [:]
        for (i, p) in paths.enumerated() {
            if let r = found[p], FileStamp.holds(status: r.status, size: r.fileSize, mtime: r.mtimeNanoseconds, now: directories.stamp(p, i)) {
                out[p] = r
            }
        }
        return out
    }

    public var count: Int {
        get throws { try db.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM image") ?? 0 } }
    }

    static func record(_ row: Row) -> CatalogRecord {
        var r = CatalogRecord(path: row["path"], status: CatalogRecord.Status(rawValue: row["status"]) ?? .failed)
        r.fileSize = row["file_size"]
        r.mtimeNanoseconds = row["mtime_ns"]
        r.errorCode = row["error_code"]
        r.errorMessage = row["error_message"]
        r.format = row["format"]
        r.width = row["width"]
        r.height = row["height"]
        r.channels = row["channels"]
        r.bitDepth = row["bit_depth"]
        r.sha256 = row["sha256"]
        if let b: Double = row["brightness"] {
            r.statistics = ImageStatistics(brightness: b, colourfulness: row["colourfulness"], meanR: row["mean_r"],
                                           meanG: row["mean_g"], meanB: row["mean_b"], dominantHue: row["dominant_hue"] ?? "none")
        }
        if let h: Int64 = row["phash"] { r.perceptualHash = UInt64(bitPattern: h) }
        if let t: Data = row["thumbnail"] { r.thumbnail = [UInt8](t) }
        return r
    }

    /// The full SHA-256 and the thumbnail of some files (those a duplicate check needs), by path.
    public func details(for paths: [String]) throws -> [String: (sha256: String?, thumbnail: [UInt8]?)] {
        guard !paths.isEmpty else { return [:] }
        return try db.read { db in
            var out: [String: (sha256: String?, thumbnail: [UInt8]?)] = [:]
            let statement = try db.cachedStatement(sql: "SELECT sha256, thumbnail FROM image WHERE path = ?")
            for p in paths {
                if let row = try Row.fetchOne(statement, arguments: [p]) {
                    out[p] = (row[0], (row[1] as Data?).map { [UInt8]($0) })
                }
            }
            return out
        }
    }
}

/// An exclusive lock on a catalog for the length of a scan (flock on the database file), so a
/// second scan waits or is refused with a clear message rather than interleaving its writes.
public final class CatalogLock {
    private let fd: Int32

    /// - Parameter wait: seconds to wait for another scan to finish; 0 refuses at once.
    public init(path: String, wait: Double) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CatalogError("\(path): cannot open the catalog: \(String(cString: strerror(errno)))") }
        let deadline = Date().addingTimeInterval(wait)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                close(fd)
                throw CatalogError("\(path): cannot lock the catalog: \(String(cString: strerror(errno)))")
            }
            if Date() >= deadline {
                close(fd)
                throw CatalogError("\(path): another scan is writing this catalog; wait for it to finish, or pass --wait SECONDS")
            }
            usleep(100_000)
        }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
