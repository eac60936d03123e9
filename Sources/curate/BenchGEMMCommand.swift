import ArgumentParser
import Foundation
import NeuralNet

extension BenchCommand {
    struct GEMMBench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gemm",
            abstract: "Measure this CPU's fp32 peak and the GEMM kernel on 512x512x512 and on cnn-small's shapes.",
            discussion: """
            The peak is measured, not looked up: chains of independent 16-lane fused multiply-adds \
            with no memory traffic, on one core and on all of them, before and after the products \
            (the higher figure is kept). Each GEMM figure is the median of 7 timed runs, with its \
            share of the all-core peak.

            Example:
              curate bench gemm
              curate bench gemm --batch 128 --size 28 --channels 1
            """)

        @Option(parsing: .unconditional, help: "Batch size for the cnn-small shapes.") var batch = 128
        @Option(parsing: .unconditional, help: "Image side for the cnn-small shapes.") var size = 32
        @Option(parsing: .unconditional, help: "Input channels for the cnn-small shapes.") var channels = 3
        @Option(parsing: .unconditional, help: "Threads (default: all cores).") var threads: Int?
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            guard batch >= 1 else { throw ValidationError("--batch must be at least 1, not \(batch)") }
            // Two 2x2 poolings: a side under 4 leaves no pixels for the dense layer.
            guard size >= 4 else { throw ValidationError("--size must be at least 4 (two 2x2 poolings), not \(size)") }
            guard channels >= 1 else { throw ValidationError("--channels must be at least 1, not \(channels)") }
            if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, not \(threads)") }
        }

        func run() throws {
            if let threads { Parallel.threads = max(1, threads) }
            let t = Parallel.threads
            // The peak is measured before and after the products and the highest figure kept:
            // another tenant of a shared machine can only slow an FMA chain down, so the maximum
            // is the better estimate of what the cores can do, and every share below is conservative.
            var peak1 = GEMMBenchmark.peak(threads: 1)
            var peakAll = GEMMBenchmark.peak(threads: t)
            let b = batch, s = size, c = channels
            let m1 = b * s * s, m2 = b * (s / 2) * (s / 2), flat = 64 * (s / 4) * (s / 4)
            let shapes: [(String, Int, Int, Int, Bool, Bool)] = [
                ("512x512x512", 512, 512, 512, false, false),
                ("conv1 forward", m1, 32, 9 * c, false, false),
                ("conv1 weight grad", 9 * c, 32, m1, true, false),
                ("conv2 forward", m2, 64, 288, false, false),
                ("conv2 weight grad", 288, 64, m2, true, false),
                ("conv2 input grad", m2, 288, 64, false, true),
                ("fc1 forward", b, 128, flat, false, false),
                ("fc1 weight grad", flat, 128, b, true, false),
                ("fc1 input grad", b, flat, 128, false, true),
            ]
            var results = shapes.map { GEMMBenchmark.measure(label: $0.0, m: $0.1, n: $0.2, k: $0.3, transA: $0.4, transB: $0.5) }
            // What the trainer actually calls: per 4-image chunk, one single-threaded GEMM per core.
            let rows1 = 4 * s * s, rows2 = 4 * (s / 2) * (s / 2)
            let chunkShapes: [(String, Int, Int, Int, Bool, Bool)] = [
                ("512x512x512, one per core", 512, 512, 512, false, false),
                ("conv1 forward, per chunk", rows1, 32, 9 * c, false, false),
                ("conv1 weight grad, per chunk", 9 * c, 32, rows1, true, false),
                ("conv2 forward, per chunk", rows2, 64, 288, false, false),
                ("conv2 weight grad, per chunk", 288, 64, rows2, true, false),
                ("conv2 input grad, per chunk", rows2, 288, 64, false, true),
            ]
            results += chunkShapes.map {
                GEMMBenchmark.measureConcurrent(label: $0.0, m: $0.1, n: $0.2, k: $0.3, transA: $0.4, transB: $0.5, threads: t)
            }
            peak1 = max(peak1, GEMMBenchmark.peak(threads: 1))
            peakAll = max(peakAll, GEMMBenchmark.peak(threads: t))
            if json {
                var lines = ["{\"threads\": \(t), \"peak_gflops_1_thread\": \(fmt(peak1)), \"peak_gflops\": \(fmt(peakAll)), \"shapes\": ["]
                lines.append(results.map { r in
                    "  {\"label\": \"\(r.label)\", \"m\": \(r.m), \"n\": \(r.n), \"k\": \(r.k), \"trans_a\": \(r.transA), \"trans_b\": \(r.transB), \"gflops\": \(fmt(r.gflops)), \"fraction_of_peak\": \(fmt(r.gflops / peakAll))}"
                }.joined(separator: ",\n"))
                lines.append("]}")
                print(lines.joined(separator: "\n"))
            } else {
                print("GEMM tile \(CPUFeatures.gemmTile); fp32 peak (measured, FMA chains): \(fmt(peak1)) GFLOP/s on 1 thread, \(fmt(peakAll)) on \(t)")
                print("| shape | m x n x k | GFLOP/s | of peak |")
                print("|---|---|---:|---:|")
                for r in results {
                    let ops = (r.transA ? "Aᵀ" : "A") + (r.transB ? "Bᵀ" : "B")
                    print("| \(r.label) (\(ops)) | \(r.m) x \(r.n) x \(r.k) | \(fmt(r.gflops)) | \(Int((100 * r.gflops / peakAll).rounded()))% |")
                }
            }
        }

        func fmt(_ x: Double) -> String { String(format: "%.1f", x) }
    }
}
