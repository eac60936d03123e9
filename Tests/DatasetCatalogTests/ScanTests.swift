import DatasetCatalog
import Foundation
import GRDB
import ImageCodecs
import Testing

@Suite("Perceptual hash and duplicates")
struct DuplicateTests {
    func gradient(_ w: Int, _ h: Int, shift: Int = 0, seed: UInt64 = 1) -> Image {
        var rng = SplitMix(state: seed)
        let blobs = (0..<6).map { _ in (Double.random(in: 0..<1, using: &rng), Double.random(in: 0..<1, using: &rng), Double.random(in: 0..<255, using: &rng)) }
        var image = Image(width: w, height: h)
        for y in 0..<h {
            for x in 0..<w {
                var v = 0.0
                for (bx, by, a) in blobs { v += a * exp(-(pow(Double(x) / Double(w) - bx, 2) + pow(Double(y) / Double(h) - by, 2)) * 8) }
                let g = UInt8(max(0, min(255, Int(v / 3) + shift)))
                image[x, y] = [g, g, g, 255]
            }
        }
        return image
    }

    @Test("near-identical images hash alike, different ones do not, whatever their size")
    func hashes() {
        let a = gradient(64, 48), b = gradient(64, 48, shift: 3), small = gradient(128, 96), other = gradient(64, 48, seed: 99)
        let ha = PerceptualHash.hash(a)
        #expect(PerceptualHash.distance(ha, PerceptualHash.hash(a)) == 0)
        #expect(PerceptualHash.distance(ha, PerceptualHash.hash(b)) <= 2)  // brightened by 3
        #expect(PerceptualHash.distance(ha, PerceptualHash.hash(small)) <= 4)  // the same picture, rendered larger
        #expect(PerceptualHash.distance(ha, PerceptualHash.hash(other)) > 12)
        #expect(ha.nonzeroBitCount == 32)  // the median splits the 64 coefficients in half
    }

    /// The textbook definition in Double: BT.601 grey, the 2-D DCT-II's 8 x 8 lowest frequencies
    /// summed directly, bits above their median (sorted), and 2 x 2 means for the thumbnail.
    func textbookFingerprint(_ image: Image) -> (hash: UInt64, thumbnail: [Double]) {
        var grey = [Double](repeating: 0, count: 1024)
        for y in 0..<32 { for x in 0..<32 {
            let p = image[x, y]
            grey[y * 32 + x] = 0.299 * Double(p[0]) + 0.587 * Double(p[1]) + 0.114 * Double(p[2])
        } }
        var coefficients: [Double] = []
        for k2 in 0..<8 { for k1 in 0..<8 {
            var s = 0.0
            for y in 0..<32 { for x in 0..<32 {
                s += grey[y * 32 + x] * cos(Double.pi * Double(2 * x + 1) * Double(k1) / 64) * cos(Double.pi * Double(2 * y + 1) * Double(k2) / 64)
            } }
            coefficients.append(s)
        } }
        let sorted = coefficients.sorted(), median = (sorted[31] + sorted[32]) / 2
        var bits: UInt64 = 0
        for (i, c) in coefficients.enumerated() where c > median { bits |= 1 << UInt64(63 - i) }
        let thumbnail = (0..<256).map { q -> Double in
            let (qy, qx) = (q / 16, q % 16)
            return (grey[64 * qy + 2 * qx] + grey[64 * qy + 2 * qx + 1] + grey[64 * qy + 32 + 2 * qx] + grey[64 * qy + 33 + 2 * qx]) / 4
        }
        return (bits, thumbnail)
    }

    @Test("the fingerprint equals a textbook double-precision DCT, bit for bit, on random colour images")
    func fingerprintAgainstTextbook() {
        var rng = SplitMix(state: 2026)
        for trial in 0..<40 {
            var image = Image(width: 32, height: 32)
            for y in 0..<32 { for x in 0..<32 {
                // Smooth content for half the trials (low frequencies dominate), noise for the rest.
                let base = trial % 2 == 0 ? Double((x * 7 + y * 3 + trial * 11) % 256) : 0
                func channel() -> UInt8 { UInt8(min(255, base / 2 + Double.random(in: 0..<128, using: &rng))) }
                image[x, y] = SIMD4(channel(), channel(), channel(), 255)
            } }
            let fast = PerceptualHash.fingerprint(image), reference = textbookFingerprint(image)
            #expect(fast.hash == reference.hash, "trial \(trial)")
            #expect(fast.hash.nonzeroBitCount == 32)
            for (a, b) in zip(fast.thumbnail, reference.thumbnail) { #expect(abs(Double(a) - b) <= 0.5 + 1e-3, "trial \(trial)") }
        }
        // All 64 coefficients tie at 0: the median is 0 and no bit is set.
        #expect(PerceptualHash.fingerprint(Image(width: 32, height: 32, fill: [0, 0, 0, 255])).hash == 0)
    }

    @Test("multi-index hashing finds exactly the pairs brute force finds", arguments: [0, 2, 4, 8])
    func nearPairsMatchBruteForce(_ distance: Int) {
        var rng = SplitMix(state: UInt64(distance) + 7)
        var hashes: [UInt64?] = []
        for _ in 0..<400 {
            if Int.random(in: 0..<5, using: &rng) == 0, let base = hashes.compactMap({ $0 }).randomElement(using: &rng) {
                var h = base
                for _ in 0..<Int.random(in: 0...10, using: &rng) { h ^= 1 << UInt64.random(in: 0..<64, using: &rng) }
                hashes.append(h)
            } else if Int.random(in: 0..<20, using: &rng) == 0 {
                hashes.append(nil)
            } else {
                hashes.append(UInt64.random(in: 0...UInt64.max, using: &rng))
            }
        }
        var brute: [(Int, Int)] = []
        for i in 0..<hashes.count { for j in (i + 1)..<hashes.count {
            if let a = hashes[i], let b = hashes[j], PerceptualHash.distance(a, b) <= distance { brute.append((i, j)) }
        } }
        let fast = DuplicateFinder.nearPairs(hashes, maxDistance: distance)
        #expect(fast.map { "\($0.0)-\($0.1)" } == brute.map { "\($0.0)-\($0.1)" })
        #expect(!brute.isEmpty || distance == 0)
    }

    @Test("clusters are connected components")
    func clusters() {
        #expect(DuplicateFinder.clusters(count: 7, pairs: [(0, 3), (3, 5), (1, 6)]) == [[0, 3, 5], [1, 6]])
        #expect(DuplicateFinder.exactGroups(["a", "b", "a", nil, "b", "c", ""]) == [[0, 2], [1, 4]])
    }
}

@Suite("Scanning into the catalog")
struct ScanTests {
    /// A dataset with an exact duplicate across splits, a near duplicate, a corrupt file and a missing one.
    func dataset(_ dir: TempDir) throws -> Manifest {
        let pattern: (Int, Int) -> SIMD4<UInt8> = { x, y in [UInt8(x * 8), UInt8(y * 8), UInt8((x * y) % 256), 255] }
        try dir.png("img/a.png", width: 32, height: 32, pattern: pattern)
        try FileManager.default.copyItem(atPath: dir.path + "/img/a.png", toPath: dir.path + "/img/a-copy.png")
        try dir.png("img/a-near.png", width: 32, height: 32, pattern: { x, y in pattern(x, y) &+ [1, 1, 1, 0] })
        try dir.png("img/b.png", width: 40, height: 20, pattern: { x, y in [UInt8(255 - x * 6), 40, UInt8(y * 12), 255] })
        try dir.write("img/corrupt.png", Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0]))
        let text = "path,label,split\nimg/a.png,x,train\nimg/a-copy.png,x,test\nimg/a-near.png,x,train\nimg/b.png,y,val\nimg/corrupt.png,y,train\nimg/missing.png,y,train\nimg/b.png,y,val\n"
        return try ManifestReader.read(try dir.write("m.csv", text))
    }

    @Test("a scan records every file, finds duplicates and leakage, and a rescan decodes nothing")
    func scanAndRescan() throws {
        let dir = try TempDir()
        let m = try dataset(dir)
        let catalog = try Catalog(path: dir.path + "/c.catalog")
        var scanner = Scanner()
        scanner.threads = 2
        let (s, clusters) = try scanner.scan(m, into: catalog)
        #expect(s.images == 6 && s.decoded == 4 && s.failed == 1 && s.missing == 1 && s.scanned == 5 && s.unchanged == 0)
        #expect(s.duplicateGroups == 1 && s.exactDuplicateGroups == 0 && s.nearDuplicateGroups == 1)
        let group = try #require(clusters.first)
        #expect(group.paths.map { ($0 as NSString).lastPathComponent } == ["a.png", "a-copy.png", "a-near.png"])
        #expect(group.splits == ["test", "train"] && group.leaks && s.leakingGroups == 1)
        let records = try catalog.records()
        #expect(records.count == 6)
        let a = try #require(records[m.resolvedPath(0)])
        #expect(a.status == .ok && a.width == 32 && a.format == "png" && a.channels == 4 && a.bitDepth == 8)
        #expect(a.sha256 == records[m.resolvedPath(1)]?.sha256)
        let corrupt = try #require(records[m.resolvedPath(4)])
        #expect(corrupt.status == .failed && corrupt.errorCode == "truncated")
        #expect(records[m.resolvedPath(5)]?.status == .missing)

        let (again, _) = try scanner.scan(m, into: catalog)
        #expect(again.scanned == 0 && again.unchanged == 6 && again.decoded == 4)

        // A changed file is decoded again; a file that appears is picked up.
        try dir.png("img/b.png", width: 10, height: 10, fill: [1, 2, 3, 255])
        try dir.png("img/missing.png", width: 8, height: 8)
        let (third, _) = try scanner.scan(m, into: catalog)
        #expect(third.scanned == 2 && third.unchanged == 4 && third.missing == 0 && third.decoded == 5)
        #expect(try catalog.records()[m.resolvedPath(3)]?.width == 10)

        // Exact duplicates found from the stored 64-bit prefixes are confirmed by full hashes on a rescan too.
        try FileManager.default.copyItem(atPath: dir.path + "/img/b.png", toPath: dir.path + "/img/b2.png")
        try "path,split\nimg/b.png,train\nimg/b2.png,test\n".write(toFile: dir.path + "/m2.csv", atomically: true, encoding: .utf8)
        let m2 = try ManifestReader.read(dir.path + "/m2.csv")
        let (firstM2, firstClusters) = try scanner.scan(m2, into: catalog)
        #expect(firstM2.exactDuplicateGroups == 1)
        // A plain rescan reuses the stored clusters (nothing they depend on changed) ...
        let (cached, cachedClusters) = try scanner.scan(m2, into: catalog)
        #expect(cached.unchanged == 2 && cachedClusters == firstClusters)
        // ... and a changed threshold recomputes them, from the stored prefixes and full hashes.
        scanner.nearDifference = 4.5
        let (rescan, exactClusters) = try scanner.scan(m2, into: catalog)
        #expect(rescan.unchanged == 2 && rescan.exactDuplicateGroups == 1 && rescan.leakingGroups == 1)
        #expect(exactClusters.first?.exact == true)
        // A changed split changes the leakage, cache or no cache.
        try "path,split\nimg/b.png,train\nimg/b2.png,train\n".write(toFile: dir.path + "/m2.csv", atomically: true, encoding: .utf8)
        let (sameSplit, _) = try scanner.scan(try ManifestReader.read(dir.path + "/m2.csv"), into: catalog)
        #expect(sameSplit.exactDuplicateGroups == 1 && sameSplit.leakingGroups == 0)
    }

    @Test("a scan copies its write-ahead log into the database file before the catalog closes")
    func checkpointedWhileOpen() throws {
        let dir = try TempDir()
        let m = try dataset(dir)
        let catalog = try Catalog(path: dir.path + "/c.catalog")
        var scanner = Scanner()
        scanner.batchSize = 2; scanner.checkpointEvery = 2  // several batches, each saved and checkpointed on the writer's thread
        _ = try scanner.scan(m, into: catalog)
        // The database file alone, copied while the catalog is still open (its log beside it not
        // copied), already holds every record: closing has nothing left to copy.
        try FileManager.default.copyItem(atPath: dir.path + "/c.catalog", toPath: dir.path + "/alone.catalog")
        let alone = try Catalog(path: dir.path + "/alone.catalog").records()
        #expect(alone.count == 6)
        #expect(alone == (try catalog.records()))
    }

    @Test("a write that fails mid-scan stops the scan with the database's error; what was committed holds and the next scan does the rest")
    func writerFailsMidScan() throws {
        let dir = try TempDir()
        let m = try dataset(dir)
        let path = dir.path + "/c.catalog"
        _ = try Catalog(path: path).records()  // makes the schema, then closes
        // A trigger that refuses the fifth row, as a full disk would refuse a page.
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: """
                CREATE TRIGGER refuse BEFORE INSERT ON image WHEN (SELECT count(*) FROM image) >= 4
                BEGIN SELECT RAISE(ABORT, 'no space left (test)'); END
                """)
        }
        try queue.close()
        var scanner = Scanner()
        scanner.threads = 1  // the files in manifest order: a, a-copy, a-near, b, then corrupt and missing
        scanner.batchSize = 2; scanner.checkpointEvery = 2  // batches of 2: the third fails
        do {
            let catalog = try Catalog(path: path)
            let error = #expect(throws: (any Error).self) { _ = try scanner.scan(m, into: catalog) }
            #expect(error.map { "\($0)" } == "\(path): writing the scan's records failed: no space left (test); what was written before holds")
            // The two batches before it were committed, the failed one rolled back.
            #expect(try catalog.records().count == 4)
        }
        let fix = try DatabaseQueue(path: path)
        try fix.write { try $0.execute(sql: "DROP TRIGGER refuse") }
        try fix.close()
        let catalog = try Catalog(path: path)
        let (summary, _) = try scanner.scan(m, into: catalog)
        #expect(summary.unchanged == 4 && summary.scanned == 1 && summary.missing == 1)
        #expect(summary.decoded == 4 && summary.failed == 1)
        #expect(try catalog.records().count == 6)
    }

    @Test("the same file in two splits leaks even without duplicates")
    func sameFileTwoSplits() throws {
        let dir = try TempDir()
        try dir.png("one.png")
        let m = try ManifestReader.read(try dir.write("m.csv", "path,split\none.png,train\none.png,test\n"))
        let (s, clusters) = try Scanner().scan(m, into: try Catalog(path: dir.path + "/c.db"))
        #expect(s.duplicateGroups == 0 && s.leakingGroups == 1 && clusters.first?.splits == ["test", "train"])
    }

    @Test("files that fail to decode are failures, not duplicates of each other")
    func failuresAreNotDuplicates() throws {
        let dir = try TempDir()
        try dir.write("empty1.png", Data())
        try dir.write("empty2.png", Data())
        try dir.png("one.png")
        try FileManager.default.copyItem(atPath: dir.path + "/one.png", toPath: dir.path + "/two.png")
        let m = try ManifestReader.read(try dir.write("m.csv", "path\nempty1.png\nempty2.png\none.png\ntwo.png\n"))
        let (s, clusters) = try Scanner().scan(m, into: try Catalog(path: dir.path + "/c.db"))
        #expect(s.failed == 2 && s.duplicateGroups == 1 && s.exactDuplicateGroups == 1)
        #expect(clusters.filter { $0.paths.count > 1 }.map { $0.paths.map { ($0 as NSString).lastPathComponent } } == [["one.png", "two.png"]])
    }

    @Test("the catalog is a cache: deleted, it is rebuilt with the same facts")
    func rebuild() throws {
        let dir = try TempDir()
        let m = try dataset(dir)
        let first = try Scanner().scan(m, into: try Catalog(path: dir.path + "/c.db")).summary
        let facts = try Catalog(path: dir.path + "/c.db").records()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: dir.path + "/c.db" + suffix) }
        let second = try Scanner().scan(m, into: try Catalog(path: dir.path + "/c.db")).summary
        #expect(second.scanned == first.scanned && second.decoded == first.decoded)
        #expect(try Catalog(path: dir.path + "/c.db").records() == facts)
    }

    @Test("a second writer is refused with a clear message while the first holds the lock")
    func lock() throws {
        let dir = try TempDir()
        let path = dir.path + "/c.db"
        func holdAndTry() throws {
            let first = try CatalogLock(path: path, wait: 0)
            defer { withExtendedLifetime(first) {} }
            do {
                _ = try CatalogLock(path: path, wait: 0.2)
                Issue.record("a second lock was granted")
            } catch let error as CatalogError {
                #expect(error.message.contains("another scan is writing this catalog"))
            }
        }
        try holdAndTry()
        _ = try CatalogLock(path: path, wait: 0)  // released with the first
    }

    @Test("a file that is not a catalog is a clear error, not a crash")
    func notACatalog() throws {
        let dir = try TempDir()
        let path = try dir.write("junk.db", String(repeating: "not sqlite ", count: 200))
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        do {
            _ = try Catalog(path: path)
            Issue.record("opened junk as a catalog")
        } catch let error as CatalogError {
            #expect(error.message == "\(path): not a Curate catalog (not a SQLite database); name another file for the catalog")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test("reading a catalog never changes the file: another SQLite database is refused as it is")
    func readingLeavesForeignDatabasesAlone() throws {
        let dir = try TempDir()
        /// Someone's own SQLite database with one table, and its bytes.
        func database(_ name: String, table: String) throws -> (String, Data) {
            let path = dir.path + "/" + name
            let q = try GRDB.DatabaseQueue(path: path)
            try q.write { try $0.execute(sql: "CREATE TABLE \(table) (x)") }
            try q.close()
            return (path, try Data(contentsOf: URL(fileURLWithPath: path)))
        }
        let (foreign, before) = try database("foreign.db", table: "t")
        #expect { _ = try Catalog(reading: foreign) } throws: { "\($0)".contains("foreign.db: a SQLite database that is not a Curate catalog (its tables: t)") }
        #expect(try Data(contentsOf: URL(fileURLWithPath: foreign)) == before)
        // Nor does opening it to scan into: someone's own database, even one with a table named
        // image, is refused before anything (WAL mode, migrations) is written to it.
        #expect { _ = try Catalog(path: foreign) } throws: { "\($0)".contains("not a Curate catalog (its tables: t)") }
        #expect(try Data(contentsOf: URL(fileURLWithPath: foreign)) == before)
        let (lookalike, lookalikeBefore) = try database("lookalike.db", table: "image")
        #expect { _ = try Catalog(path: lookalike) } throws: { "\($0)".contains("not a Curate catalog (its tables: image)") }
        #expect(try Data(contentsOf: URL(fileURLWithPath: lookalike)) == lookalikeBefore)
        // A real catalog reads.
        let m = try dataset(dir)
        _ = try Scanner().scan(m, into: try Catalog(path: dir.path + "/real.catalog"))
        #expect(try Catalog(reading: dir.path + "/real.catalog").records().count == 6)
    }
}

@Suite("Near duplicates are confirmed by thumbnails")
struct NearDuplicateConfirmationTests {
    func record(_ path: String, hash: UInt64, thumbnail: [UInt8]) -> CatalogRecord {
        var r = CatalogRecord(path: path, status: .ok)
        r.sha256 = path  // distinct contents
        r.perceptualHash = hash
        r.thumbnail = thumbnail
        return r
    }

    @Test("equal hashes with different pictures are not duplicates; with near-equal pictures they are")
    func confirmation() throws {
        let base = (0..<256).map { UInt8($0) }
        let close = base.map { $0 == 255 ? 255 : $0 + 1 }  // differs by about 1
        let far = base.map { 255 - $0 }  // differs by about 128
        let records = [record("/a", hash: 7, thumbnail: base), record("/b", hash: 7, thumbnail: close), record("/c", hash: 7, thumbnail: far)]
        var m = Manifest(columns: ["path"], baseDirectory: "/")
        for r in records { m.append(cells: [r.path]) }
        let clusters = Scanner.duplicateClusters(manifest: m, paths: records.map(\.path), pathOfRow: [0, 1, 2], records: records,
                                                 nearDistance: 4, nearDifference: 4) { _ in [:] }
        #expect(clusters.map(\.paths) == [["/a", "/b"]])
        #expect(abs(PerceptualHash.thumbnailDifference(base, close) - 255.0 / 256) < 1e-12)
    }

    @Test("details missing from the records are loaded for candidate pairs only")
    func lazyLoading() throws {
        var a = record("/a", hash: 1, thumbnail: [])
        a.thumbnail = nil
        let b = record("/b", hash: 1, thumbnail: [UInt8](repeating: 9, count: 256))
        let c = record("/c", hash: ~0, thumbnail: [UInt8](repeating: 9, count: 256))
        var m = Manifest(columns: ["path"], baseDirectory: "/")
        for r in [a, b, c] { m.append(cells: [r.path]) }
        var asked: [String] = []
        let clusters = Scanner.duplicateClusters(manifest: m, paths: ["/a", "/b", "/c"], pathOfRow: [0, 1, 2], records: [a, b, c],
                                                 nearDistance: 2, nearDifference: 4) { needed in
            asked = needed
            return ["/a": (sha256: "a-full-hash", thumbnail: [UInt8](repeating: 10, count: 256))]
        }
        #expect(asked == ["/a"])
        #expect(clusters.map(\.paths) == [["/a", "/b"]])
    }
}
