import ArgumentParser
import DatasetCatalog
import Dispatch
import Foundation
import ImageCodecs

/// Peak resident memory of this process so far, in MiB.
func peakMemoryMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

extension BenchCommand {
    struct ManifestRead: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "manifest",
            abstract: "Read a generated manifest of N rows (CSV and JSON Lines): streaming, then into memory.",
            discussion: "Example:\n  curate bench manifest --rows 1000000")

        @Option(parsing: .unconditional, help: "Rows to generate.") var rows = 1_000_000
        @Option(parsing: .unconditional, help: "Timed passes (median).") var repeats = 3
        @Option(help: "Where to write the generated manifests (default: a temporary folder, removed after).") var dir: String?

        func validate() throws {
            guard rows > 0 else { throw ValidationError("--rows must be a positive number of rows, not \(rows)") }
            guard repeats > 0 else { throw ValidationError("--repeats must be at least 1, not \(repeats)") }
        }

        func run() throws {
            let folder = dir ?? FileManager.default.temporaryDirectory.appendingPathComponent("curate-bench-\(getpid())").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { if dir == nil { try? FileManager.default.removeItem(atPath: folder) } }
            let splits = ["train", "val", "test"], genders = ["female", "male", ""], bands = ["0-19", "20-39", "40-59", "60+"]
            for format in ["csv", "jsonl"] {
                // Written in pieces, so that generating never holds the whole manifest in memory.
                let path = "\(folder)/bench.\(format)"
                _ = FileManager.default.createFile(atPath: path, contents: nil)
                let out = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                var text = format == "csv" ? "path,label,split,weight,gender,age_band\n" : ""
                for i in 0..<rows {
                    let cells = ["images/\(i / 1000)/\(i).png", "class \(i % 10)", splits[i % 3], i % 5 == 0 ? "2.5" : "1", genders[(i / 7) % 3], bands[(i / 11) % 4]]
                    if format == "csv" {
                        text += cells.joined(separator: ",") + "\n"
                    } else {
                        text += "{\"path\": \"\(cells[0])\", \"label\": \"\(cells[1])\", \"split\": \"\(cells[2])\", \"weight\": \(cells[3]), \"gender\": \"\(cells[4])\", \"age_band\": \"\(cells[5])\"}\n"
                    }
                    if text.utf8.count > 1 << 20 { out.write(Data(text.utf8)); text = "" }
                }
                out.write(Data(text.utf8))
                try out.close()
                let size = Double((try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0) / 1e6
                var count = 0
                let stream = try seconds {
                    count = 0
                    if format == "csv" { try ManifestReader.streamCSV(path, header: { _ in }, row: { _, _ in count += 1 }) }
                    else { try ManifestReader.streamJSONLines(path) { _, _ in count += 1 } }
                }
                let streamPeak = peakMemoryMiB()
                var times: [Double] = []
                for _ in 0..<max(1, repeats) {
                    times.append(try seconds { let loaded = try ManifestReader.read(path); precondition(loaded.count == rows) })
                }
                let median = DecodeBenchmark.median(times)
                print(String(format: "%-5@ %7.1f MB  stream %6.3f s (%d rows, process peak %.0f MiB)  load into memory %6.3f s, median of %d (%.2f M rows/s, peak %.0f MiB)",
                             format as NSString, size, stream, count, streamPeak, median, times.count, Double(rows) / median / 1e6, peakMemoryMiB()))
            }
        }
    }

    struct Scan: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scan",
            abstract: "Scan every PNG/JPEG under a folder into a fresh catalog, beside a batch decode of the same files; then rescan.",
            discussion: "Example:\n  curate bench scan ../bench-inputs/png32")

        @Argument(help: "The folder of images.") var directory: String
        @Option(parsing: .unconditional, help: "Rounds; every figure is the median over them.") var repeats = 5

        func validate() throws {
            guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1, not \(repeats)") }
        }

        func run() throws {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("curate-bench-scan-\(getpid())").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let base = URL(fileURLWithPath: directory).standardizedFileURL.path
            var m = Manifest(columns: ["path"], baseDirectory: base)
            for rel in (FileManager.default.enumerator(atPath: base)?.compactMap { $0 as? String } ?? []).sorted()
                where ["png", "jpg", "jpeg"].contains((rel as NSString).pathExtension.lowercased()) {
                m.append(cells: [rel])
            }
            guard m.count > 0 else { throw ValidationError("no PNG or JPEG files under \(directory)") }
            let cores = ProcessInfo.processInfo.activeProcessorCount
            let blobs = try DecodeBenchmark.load(directory: directory)
            let timing = ProcessInfo.processInfo.environment["CURATE_SCAN_TIMING"] != nil
            if timing {
                let images = try blobs.prefix(1000).map { try ImageDecoder().decode($0).image }
                var sink = 0.0
                let tStats = seconds { for _ in 0..<10 { for im in images { sink += ImageStatistics(im).brightness } } }
                let tHash = seconds { for _ in 0..<10 { for im in images { sink += Double(PerceptualHash.hash(im) & 1) } } }
                let tSHA = seconds { for _ in 0..<10 { for b in blobs.prefix(1000) { sink += Double(SHA256Hex.of(b).count) } } }
                let dbPath = FileManager.default.temporaryDirectory.appendingPathComponent("curate-save-\(getpid()).db").path
                defer { for x in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: dbPath + x) } }
                let db = try Catalog(path: dbPath)
                let recs = images.enumerated().map { i, im -> CatalogRecord in
                    var r = CatalogRecord(path: "/some/folder/of/images/\(i).png", status: .ok)
                    r.fileSize = 1000; r.mtimeNanoseconds = 123456789; r.format = "png"; r.width = 32; r.height = 32; r.channels = 3; r.bitDepth = 8
                    r.sha256 = String(repeating: "a", count: 64); r.statistics = ImageStatistics(im); r.perceptualHash = 12345
                    return r
                }
                let tSave = try seconds { try db.save(recs) }
                note(String(format: "catalog save %.2f us per record", tSave * 1000))
                note(String(format: "per image: statistics %.2f us, pHash %.2f us, sha256 %.2f us (%g)", tStats * 100, tHash * 100, tSHA * 100, sink))
            }
            let paths = (0..<m.count).map(m.resolvedPath)
            let batch = BatchDecoder(threads: cores)
            // The measurements alternate, round after round, so that a slow spell of this shared
            // machine touches all of them alike; each figure is a median over the rounds.
            var inMemory: [Double] = [], fromFiles: [Double] = [], scans: [Double] = [], rescans: [Double] = []
            var first = ScanSummary(), second = ScanSummary()
            _ = batch.decode(blobs) { _, r in (try? r.get()) != nil }  // warm-up
            for round in 0..<max(1, repeats) {
                inMemory.append(seconds { _ = batch.decode(blobs) { _, r in (try? r.get()) != nil } })
                fromFiles.append(seconds { _ = batch.decode(paths: paths) { _, r in (try? r.get()) != nil } })
                let catalogPath = folder + "/bench-\(round).catalog"
                scans.append(try seconds {
                    var catalog: Catalog? = nil
                    let tOpen = try seconds { catalog = try Catalog(path: catalogPath) }
                    first = try Scanner().scan(m, into: catalog!).summary
                    let tClose = seconds { catalog = nil }
                    if timing { note(String(format: "catalog open %.1f ms, close %.1f ms", tOpen * 1000, tClose * 1000)) }
                })
                rescans.append(try seconds { second = try Scanner().scan(m, into: try Catalog(path: catalogPath)).summary })
            }
            let n = Double(m.count)
            let (mem, files, scan, rescan) = (DecodeBenchmark.median(inMemory), DecodeBenchmark.median(fromFiles),
                                              DecodeBenchmark.median(scans), DecodeBenchmark.median(rescans))
            print(String(format: "batch decode  %10.1f images/s  (files in memory, %d threads)", n / mem, cores))
            print(String(format: "batch decode  %10.1f images/s  (reading the files, %d threads)", n / files, cores))
            print(String(format: "first scan    %10.1f images/s  %.3f s  (read, hash, decode, statistics, pHash, catalog writes; %d decoded)", n / scan, scan, first.scanned))
            print(String(format: "rescan        %10.1f images/s  %.3f s  (%d unchanged, %d decoded)", n / rescan, rescan, second.unchanged, second.scanned))
            print(String(format: "scan / batch decode: %.0f%% of files in memory, %.0f%% of files read from disk (target >= 70%%)", 100 * mem / scan, 100 * files / scan))
            print(String(format: "rescan / scan time: %.1f%% (target < 10%%)   [medians of %d alternating rounds]", 100 * rescan / scan, inMemory.count))
        }
    }
}

import Crypto
enum SHA256Hex {
    static func of(_ data: Data) -> String { SHA256.hash(data: data).hexString }
}
