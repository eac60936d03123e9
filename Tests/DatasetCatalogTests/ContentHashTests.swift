@testable import DatasetCatalog
import Crypto
import Foundation
import ImageCodecs
import Testing

@Suite("Content hashes and their 64-bit prefixes")
struct ContentHashTests {
    @Test("a SHA-256 in hex is FIPS 180-2's test vector, and a record's prefix is its first 64 bits")
    func prefixOfKnownDigest() {
        // FIPS 180-2, appendix B.1: SHA-256("abc").
        let hex = SHA256.hash(data: Data("abc".utf8)).hexString
        #expect(hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var r = CatalogRecord(path: "/x.png", status: .ok)
        r.sha256 = hex
        #expect(r.contentPrefix == 0xba78_16bf_8f01_cfea)
        r.sha256 = nil
        #expect(r.contentPrefix == nil)
    }

    @Test("a prefix needs 16 hex digits of either case, and anything else gives none")
    func prefixRules() {
        #expect(CatalogRecord.hexPrefix("00000000000000ff") == 0xff)
        #expect(CatalogRecord.hexPrefix("FFFFFFFFFFFFFFFFab") == UInt64.max)
        #expect(CatalogRecord.hexPrefix("0123456789AbCdEf") == 0x0123_4567_89ab_cdef)
        #expect(CatalogRecord.hexPrefix("abc") == nil)
        #expect(CatalogRecord.hexPrefix("") == nil)
        #expect(CatalogRecord.hexPrefix("0123456789abcdeg") == nil)
        #expect(CatalogRecord.hexPrefix("+123456789abcdef0") == nil)
    }

    @Test("the clusters' digest is SHA-256 over the documented layout, past its buffer and for a path longer than it")
    func clusterDigestLayout() {
        // Enough paths to pass the 64 KiB buffer several times, and one path longer than it.
        var paths = (0..<3000).map { "/data/images/class-\($0 % 7)/image-\($0).png" }
        paths.append("/" + String(repeating: "deep/", count: 20_000) + "x.png")
        var records: [CatalogRecord] = []
        for (i, p) in paths.enumerated() {
            var r = CatalogRecord(path: p, status: i % 11 == 0 ? .failed : i % 13 == 0 ? .missing : .ok)
            if r.status != .missing { r.fileSize = Int64(1000 + i); r.mtimeNanoseconds = 1_700_000_000_000_000_000 + Int64(i) }
            if r.status == .ok {
                r.sha256 = SHA256.hash(data: Data(p.utf8)).hexString
                r.perceptualHash = UInt64(i) &* 0x9E37_79B9_7F4A_7C15
            }
            records.append(r)
        }
        let rows = paths.indices.flatMap { [$0, $0] }
        var m = Manifest(columns: ["path", "split"], baseDirectory: "/")
        for (k, p) in rows.enumerated() { m.append(cells: [paths[p], ["train", "val", "test", ""][k % 4]]) }
        var scanner = Scanner()
        scanner.nearDistance = 5
        scanner.nearDifference = 3.5
        // The layout, written out the plain way: thresholds; per file its path, a zero byte, its
        // status, size, time, content prefix and pHash (-1 when absent); per row its file and split.
        var bytes: [UInt8] = []
        func int(_ v: Int64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        int(5)
        int(Int64(3.5.bitPattern))
        for (i, p) in paths.enumerated() {
            let r = records[i]
            bytes += Array(p.utf8) + [0, r.status == .ok ? 1 : r.status == .failed ? 2 : 3]
            int(r.fileSize ?? -1)
            int(r.mtimeNanoseconds ?? -1)
            int(r.contentPrefix.map { Int64(bitPattern: $0) } ?? -1)
            int(r.perceptualHash.map { Int64(bitPattern: $0) } ?? -1)
        }
        for (k, p) in rows.enumerated() {
            int(Int64(p))
            bytes += Array(["train", "val", "test", ""][k % 4].utf8) + [0]
        }
        let expected = SHA256.hash(data: bytes).hexString
        #expect(scanner.clusterDigest(paths: paths, pathOfRow: rows, records: records, manifest: m) == expected)
    }
}
