import ArgumentParser
import DatasetCatalog
import ImageCodecs
import Foundation

struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Decode every image of a manifest once and record facts in the scan catalog (SQLite).",
        discussion: """
        Records per image: size and modification time, dimensions, format, content SHA-256, decode \
        status and error, pixel statistics, a perceptual hash and a 16x16 thumbnail. A near \
        duplicate is a pair whose perceptual hashes differ in at most --near-distance bits and \
        whose thumbnails differ by at most --near-difference on average. Unchanged files are not decoded \
        again. Finds exact and near duplicates, and leakage: the same or a near-same image in two \
        splits. Exit status 1 when any image failed or is missing; the scan always finishes.

        Example:
          curate scan data.csv --catalog data.catalog --json
        """)

    @Argument(help: "The manifest.") var manifest: String
    @Option(help: "The catalog file (created when missing).") var catalog = "curate.catalog"
    @Option(parsing: .unconditional, help: "Largest perceptual-hash distance (0 to 32 of its 64 bits) for a near-duplicate candidate.") var nearDistance = 4
    @Option(parsing: .unconditional, help: "Largest mean absolute difference (0-255) of 16x16 grey thumbnails that confirms a near duplicate.")
    var nearDifference = 4.0
    @Option(parsing: .unconditional, help: "Seconds to wait for another scan of the same catalog (0: refuse at once).") var wait: Double = 0
    @Option(help: "Write every duplicate cluster and every failure to this JSON file.") var report: String?
    @Option(parsing: .unconditional, help: "Decoding threads (default: all cores).") var threads: Int?
    @Flag(help: "Print the summary as JSON, and no progress.") var json = false

    func validate() throws {
        guard (0...32).contains(nearDistance) else { throw ValidationError("--near-distance must be 0 to 32") }
        guard (0...255).contains(nearDifference) else { throw ValidationError("--near-difference must be 0 to 255") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        try checkDistinct(outputs: [("--catalog", catalog), ("--report", report)], inputs: [("manifest", manifest)])
        if let report { try AtomicFile.checkWritable(report) }
        let m = try ManifestReader.read(manifest)
        try checkNotRows(outputs: [("--catalog", catalog), ("--report", report)], of: m, file: manifest)
        guard wait >= 0, wait.isFinite else { throw ValidationError("--wait must be 0 or more seconds") }
        let lock = try CatalogLock(path: catalog, wait: wait)
        defer { withExtendedLifetime(lock) {} }
        let db = try Catalog(path: catalog)
        var scanner = Scanner()
        scanner.nearDistance = nearDistance
        scanner.nearDifference = nearDifference
        scanner.threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        let progress = Progress(enabled: !json, label: "scan")
        let (summary, clusters) = try scanner.scan(m, into: db) { done, total in progress.update(done, total) }
        progress.finish()
        let records = try db.records(for: summary.problemPaths)
        let failures = summary.problemPaths.sorted().compactMap { p -> [String: String]? in
            guard let r = records[p], r.status != .ok else { return nil }
            return ["path": p, "status": r.status.rawValue, "code": r.errorCode ?? "", "message": r.errorMessage ?? ""]
        }
        if let report {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            struct Report: Encodable { var summary: ScanSummary; var clusters: [DuplicateCluster]; var failures: [[String: String]] }
            try AtomicFile.write(try encoder.encode(Report(summary: summary, clusters: clusters, failures: failures)), to: report)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            FileHandle.standardOutput.write(try encoder.encode(summary) + Data("\n".utf8))
        } else {
            print("images \(summary.images): \(summary.decoded) decoded, \(summary.failed) failed, \(summary.missing) missing (\(summary.scanned) scanned now, \(summary.unchanged) unchanged)")
            print("duplicate groups \(summary.duplicateGroups): \(summary.exactDuplicateGroups) exact, \(summary.nearDuplicateGroups) near; \(clusters.filter(\.leaks).count) leak across splits")
            // Paths under the current folder print relative to it, as the user would type them.
            let here = FileManager.default.currentDirectoryPath + "/"
            func shown(_ p: String) -> String { p.hasPrefix(here) ? String(p.dropFirst(here.count)) : p }
            for f in failures.prefix(10) { print("  \(f["status"]!) \(shown(f["path"]!)): \(f["code"]!): \(f["message"]!)") }
            if failures.count > 10 { print("  ... and \(failures.count - 10) more (see --report)") }
            let leaks = clusters.filter(\.leaks)
            for c in leaks.prefix(10) {
                let paths = c.paths.prefix(4).map(shown).joined(separator: "  ") + (c.paths.count > 4 ? "  (and \(c.paths.count - 4) more)" : "")
                print("  leak (\(c.splits.joined(separator: ", "))): \(paths)")
            }
            if leaks.count > 10 { print("  ... and \(leaks.count - 10) more leaking groups (see --report)") }
        }
        if summary.failed + summary.missing > 0 { throw ExitCode(1) }
    }
}

/// A progress line on stderr, only when stderr is a terminal.
final class Progress: Sendable {
    let enabled: Bool
    let label: String
    let start = Date()
    init(enabled: Bool, label: String) {
        self.enabled = enabled && isatty(2) != 0
        self.label = label
    }
    func update(_ done: Int, _ total: Int) {
        guard enabled else { return }
        let elapsed = Date().timeIntervalSince(start)
        let rate = Double(done) / max(elapsed, 1e-6)
        let left = rate > 0 ? Double(total - done) / rate : 0
        FileHandle.standardError.write(Data(String(format: "\r%@: %d/%d  %.0f/s  %.0fs left   ", label, done, total, rate, left).utf8))
    }
    func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
