import ArgumentParser
import Foundation
import ImageCodecs

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks (speed is measured here, never in tests).",
        subcommands: [Decode.self, ManifestRead.self, Scan.self, GEMMBench.self, FeaturesBench.self])

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decode every PNG/JPEG under a folder, preloaded in memory, on one thread and on all cores.",
            discussion: """
            Prints images/s and decoded MB/s (RGBA, 4 bytes a pixel), the median of --repeats timed \
            passes after one warm-up pass, like shared/peers/decode_peer.py does for Pillow. \
            bench/decode.sh runs both side by side and prints the ratios.

            Example:
              curate bench decode bench-out/png32 --repeats 5
              curate bench decode bench-out/jpg1024 --size 128x96
            """)

        @Argument(help: "The folder of images.")
        var directory: String

        @Option(parsing: .unconditional, help: "Timed passes (after one warm-up).")
        var repeats = 5

        @Option(help: "Also resize every image to WxH (JPEGs use DCT scaling first).")
        var size: PixelSize?

        @Option(help: "Thread counts to measure, comma-separated (default: 1 and all cores).")
        var threads: String?

        @Flag(help: "Print JSON.")
        var json = false

        func validate() throws {
            guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1, not \(repeats)") }
        }

        func run() throws {
            let blobs = try DecodeBenchmark.load(directory: directory)
            guard !blobs.isEmpty else { throw ValidationError("no PNG or JPEG files under \(directory)") }
            let cores = ProcessInfo.processInfo.activeProcessorCount
            let counts = try threads.map { text in
                try text.split(separator: ",").map { part -> Int in
                    guard let n = Int(part), n > 0 else { throw ValidationError("--threads takes numbers like 1,2") }
                    return n
                }
            } ?? (cores > 1 ? [1, cores] : [1])
            var results: [DecodeBenchmark.Measurement] = []
            for n in counts {
                let m = DecodeBenchmark.measure(blobs, threads: n, repeats: repeats, size: size)
                results.append(m)
                if !json {
                    print(String(format: "curate   %12.1f images/s %10.1f MB/s  median %.4f s  (%d files, %d thread(s)%@)",
                                 m.imagesPerSecond, m.megabytesPerSecond, m.medianSeconds, m.images, m.threads,
                                 size.map { ", resized to \($0.width)x\($0.height)" } ?? ""))
                }
            }
            if json {
                let encoder = JSONEncoder()
                encoder.keyEncodingStrategy = .convertToSnakeCase
                encoder.outputFormatting = [.sortedKeys]
                FileHandle.standardOutput.write(try encoder.encode(results) + Data("\n".utf8))
            }
            if results.contains(where: { $0.failed > 0 }) {
                note("\(results[0].failed) file(s) failed to decode")
                throw ExitCode(1)
            }
        }
    }
}
