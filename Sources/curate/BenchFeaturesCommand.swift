import ArgumentParser
import DatasetCatalog
import Dispatch
import Features
import Foundation
import NeuralNet
import Training

extension BenchCommand {
    struct FeaturesBench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "features",
            abstract: "Time a linear probe's epochs on a feature file beside this machine's measured memory bandwidth.",
            discussion: """
            Measures, in one run: the copy bandwidth (1 GiB memcpy over all cores, median of 5; \
            bytes copied per second), the read bandwidth of the feature file itself (every row \
            summed in a shuffled order over all cores, as an epoch visits them), then trains a \
            linear probe (ERM, SGD with momentum 0.9, a cosine schedule by default) for --epochs epochs and reports the median epoch's GB/s of \
            feature data and its share of both bandwidths. bench/features.sh runs scikit-learn's \
            SGDClassifier and LogisticRegression on the same files beside it.

            Example:
              curate bench features ../bench-inputs/features/train.csv --features ../bench-inputs/features/train.npy
            """)

        @Argument(help: "The training manifest (with label).") var manifest: String
        @Option(help: "Its feature vectors (.npy or .safetensors).") var features: String
        @Option(help: "A test manifest, for the probe's accuracy.") var test: String?
        @Option(help: "The test manifest's features.") var testFeatures: String?
        @Option(parsing: .unconditional, help: "Epochs.") var epochs = 3
        @Option(parsing: .unconditional, help: "Batch size.") var batchSize = 1024
        @Option(name: .customLong("lr"), parsing: .unconditional, help: "Learning rate.") var learningRate: Float = 0.05
        @Option(help: "Learning-rate schedule: constant or cosine.") var schedule = "cosine"
        @Option(parsing: .unconditional, help: "Threads (default: all cores).") var threads: Int?
        @Flag(help: "Drop the feature file's pages from the page cache first, so that it is read afresh (into 2 MiB pages where the kernel allows): a cold start.")
        var cold = false
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, not \(epochs)") }
            guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, not \(batchSize)") }
            guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--lr must be a positive number, not \(learningRate)") }
            if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, not \(threads)") }
        }

        func run() throws {
            if let threads { Parallel.threads = max(1, threads) }
            if cold {
                guard !features.hasPrefix("column:") else { throw ValidationError("--cold drops a feature file from the page cache; \(features) is a manifest column") }
                let fd = open(features, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw ValidationError("\(features): cannot open: \(String(cString: strerror(errno)))") }
                _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
                close(fd)
            }
            let t0 = DispatchTime.now().uptimeNanoseconds
            let data = try ImageData.load(manifest, features: features)
            let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            let matrix = data.features!
            let bytes = Double(matrix.byteCount)
            let copy = Self.copyBandwidth()
            let read = Self.readBandwidth(matrix, rows: data.featureRows)
            let hugeShare = Self.hugePageBytes().map { min(1, Double($0) / bytes) }

            var job = TrainingJob()
            job.model = .linear
            job.recipe.epochs = epochs
            job.recipe.batchSize = batchSize
            job.recipe.learningRate = learningRate
            job.recipe.weightDecay = 0
            job.recipe.schedule = schedule == "cosine" ? .cosine : .constant
            let outcome = try job.run(train: data)
            let seconds = outcome.reports.map(\.seconds).sorted()
            let median = seconds.isEmpty ? 0 : seconds[seconds.count / 2]
            let epochGBs = median > 0 ? bytes / median / 1e9 : 0
            var accuracy: Double?
            if let test, let testFeatures {
                let t = try ImageData.load(test, features: testFeatures)
                let index = Dictionary(uniqueKeysWithValues: outcome.classes.enumerated().map { ($1, $0) })
                let p = predict(outcome.model, count: t.count) { t.batch($0) }
                let labels = t.labels
                accuracy = Double(zip(p.classes, labels).filter { index[$0.1] == $0.0 }.count) / Double(max(1, t.count))
            }
            if json {
                let v: JSONValue = .object([
                    ("rows", .int(matrix.rows)), ("dimension", .int(matrix.dimension)), ("bytes", .int(matrix.byteCount)),
                    ("layout", .string(matrix.layout)), ("threads", .int(Parallel.threads)),
                    ("load_seconds", .number(loadSeconds)), ("cold", .bool(cold)), ("share_in_2mib_pages", .optional(hugeShare)),
                    ("copy_gb_per_s", .number(copy)), ("read_gb_per_s", .number(read)),
                    ("epoch_seconds", .array(outcome.reports.map { .number($0.seconds) })), ("median_epoch_seconds", .number(median)),
                    ("epoch_gb_per_s", .number(epochGBs)), ("share_of_copy", .number(epochGBs / copy)), ("share_of_read", .number(epochGBs / read)),
                    ("train_accuracy", .optional(outcome.reports.last?.accuracy)), ("test_accuracy", .optional(accuracy)),
                    ("batch_size", .int(batchSize)), ("learning_rate", .number(Double(learningRate))), ("schedule", .string(schedule)),
                ])
                print(v.rendered())
            } else {
                print("features: \(matrix.rows) x \(matrix.dimension) float32, \(String(format: "%.2f", bytes / 1e9)) GB, \(matrix.layout); loaded and checked in \(String(format: "%.2f", loadSeconds)) s\(cold ? " from a cold page cache" : "")")
                if let hugeShare { print(String(format: "mapped in 2 MiB pages   %6.0f%% of the file", 100 * hugeShare)) }
                print(String(format: "copy bandwidth          %6.2f GB/s  (1 GiB memcpy, %d threads, median of 5)", copy, Parallel.threads))
                print(String(format: "read bandwidth          %6.2f GB/s  (the feature rows summed in a shuffled order)", read))
                print(String(format: "linear probe epoch      %6.3f s = %.2f GB/s: %.0f%% of copy, %.0f%% of read bandwidth  (median of %d epochs, batch %d)",
                             median, epochGBs, 100 * epochGBs / copy, 100 * epochGBs / read, seconds.count, batchSize))
                if let a = outcome.reports.last?.accuracy { print(String(format: "train accuracy          %.2f%%", 100 * a)) }
                if let accuracy { print(String(format: "test accuracy           %.2f%%", 100 * accuracy)) }
            }
        }

        /// GB copied per second by memcpy over all cores: a 1 GiB buffer, median of 5 after a warm-up.
        static func copyBandwidth() -> Double {
            let size = 1 << 30
            let src = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
            let dst = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
            defer { src.deallocate(); dst.deallocate() }
            memset(src, 1, size)
            memset(dst, 0, size)
            nonisolated(unsafe) let (s, d) = (src, dst)
            var times: [Double] = []
            for rep in 0..<6 {
                let t = DispatchTime.now().uptimeNanoseconds
                Parallel.ranges(size / 4096, grain: 1) { r in memcpy(d + r.lowerBound * 4096, s + r.lowerBound * 4096, r.count * 4096) }
                if rep > 0 { times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9) }
            }
            times.sort()
            return Double(size) / times[times.count / 2] / 1e9
        }

        /// GB of the matrix read per second when every row is summed in a seeded shuffled order
        /// over all cores (the access pattern of an epoch, without the arithmetic). Median of 3.
        /// Each row is read four 512-bit vectors a step into two sums. Scattered 3 KB reads go as
        /// fast as the loads of several rows can be in flight at once, which a loop of fewer,
        /// wider loads allows: with twice as many 256-bit loads (this loop before) a stand-alone
        /// pass over the same file in the same order took 0.20 to 0.30 s, against 0.14 s this way
        /// and 0.13 to 0.14 s for a C loop of 512-bit loads.
        static func readBandwidth(_ m: FeatureMatrix, rows: [Int]) -> Double {
            typealias V = SIMD16<Float>
            var rng = SplitMix64(seed: 1, stream: 0xBA5D, 0)
            let order = rng.permutation(rows.count).map { rows[$0] }
            let d = m.dimension, step = MemoryLayout<V>.size
            var times: [Double] = []
            for _ in 0..<3 {
                let t = DispatchTime.now().uptimeNanoseconds
                nonisolated(unsafe) var sink = V()
                order.withUnsafeBufferPointer { o in
                    Parallel.ranges(o.count, grain: 1024) { part in
                        var a = V(), b = V()
                        for i in part {
                            let p = UnsafeRawPointer(m.row(o[i]))
                            var j = 0
                            while j + 64 <= d {
                                let at = j &* 4
                                a += p.loadUnaligned(fromByteOffset: at, as: V.self) + p.loadUnaligned(fromByteOffset: at &+ step, as: V.self)
                                b += p.loadUnaligned(fromByteOffset: at &+ 2 &* step, as: V.self) + p.loadUnaligned(fromByteOffset: at &+ 3 &* step, as: V.self)
                                j &+= 64
                            }
                            while j + 16 <= d { a += p.loadUnaligned(fromByteOffset: j &* 4, as: V.self); j &+= 16 }
                            while j < d { b[0] += p.load(fromByteOffset: j &* 4, as: Float.self); j &+= 1 }
                        }
                        sink += a + b
                    }
                }
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
                if sink.sum().isNaN { print("") }
            }
            times.sort()
            return Double(rows.count * d * 4) / times[1] / 1e9
        }

        /// Bytes of files this process maps with 2 MiB pages (`FilePmdMapped` in
        /// /proc/self/smaps_rollup), or nil where the kernel does not say.
        static func hugePageBytes() -> Int? {
            guard let text = try? String(contentsOfFile: "/proc/self/smaps_rollup", encoding: .utf8) else { return nil }
            for line in text.split(separator: "\n") where line.hasPrefix("FilePmdMapped:") {
                let fields = line.split(separator: " ")
                if fields.count >= 2, let kb = Int(fields[1]) { return kb * 1024 }
            }
            return nil
        }
    }
}
