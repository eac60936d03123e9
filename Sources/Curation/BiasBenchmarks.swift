import DatasetCatalog
import Foundation
import ImageCodecs
import NeuralNet

/// Ready-made bias benchmarks from real images (Fashion-MNIST through the IDX reader; a
/// procedural set of striped shapes when it is not installed). Each writes, into one folder,
/// PNG images and the manifests an experiment needs:
///
/// - `source_biased.csv` / `source_clean.csv`: a source task (5 clothing classes) with and
///   without the bias planted;
/// - `target.csv`: the fine-tuning set (3 footwear classes; 2, sandal and sneaker, for the tint
///   benchmarks), `test.csv`, and
///   `counterfactual.csv`: the test images with the attribute changed, row by row;
/// - `pool.csv` (the `synthetic` benchmark): synthetic images for the under-represented cells.
///
/// Benchmarks:
/// - `trigger` (bias transfer, Salman et al.): a 4x4 white patch in the corner of every source
///   image of class 0 (T-shirt/top); target and test clean; the counterfactual adds the patch.
/// - `tint` (spurious correlation): RGB images tinted red or blue; in the biased source the tint
///   goes with the class (95%), in the clean one it is independent; the target has a milder
///   correlation (80%); the test is balanced; the counterfactual swaps the tint.
/// - `underrepresented`: the target's red-tinted images are 5% of each class; test balanced.
/// - `synthetic` (From Fake to Real): as `tint`, plus a pool of synthetic images for every
///   target (class, tint) cell that carry a generator artefact (a faint checkerboard).
public enum BiasBenchmarks {
    /// The four IDX files of Fashion-MNIST, as Debian's dataset-fashion-mnist installs them.
    public static let fashionMNISTFiles = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    /// Where Debian's dataset-fashion-mnist puts them.
    public static let debianFashionMNIST = "/usr/share/datasets/fashion-mnist"

    /// Where a benchmark's images come from.
    public enum ImageSource: Sendable, Equatable {
        /// Fashion-MNIST from this folder when it holds the four IDX files, else procedural images.
        case fashionMNISTIfPresent(String)
        /// Fashion-MNIST from this folder, which must hold them.
        case fashionMNIST(String)
        /// Procedural images (striped shapes), whatever is installed.
        case procedural
    }

    public static let names = ["trigger", "tint", "underrepresented", "synthetic"]
    static let sourceClasses = [0, 1, 2, 3, 4]
    static let targetClasses = [5, 7, 9]
    /// The tint benchmarks' target is binary (sandal / sneaker), so that its correlation with
    /// the tint can be set exactly (`curate build correlate`).
    static let binaryTarget = [5, 7]

    public struct Summary: Sendable {
        public var name: String
        public var origin: String
        public var manifests: [(String, Int)]
        /// Where the sizes asked for cannot keep a stated proportion exactly (`source_biased.csv:
        /// 90% of each class in its usual tint, not 95%: 10 images a class`).
        public var notes: [String] = []
    }

    /// How many of `n` images carry the usual value when a share `p` of them should: the nearest
    /// whole number, but never all or none unless `p` is 1 or 0, so that a small class keeps
    /// both values (a 95% correlation of 10 images is 9 and 1, not a perfect one of 10 and 0).
    static func usualCount(_ n: Int, share p: Double) -> Int {
        if p >= 1 { return n }
        if p <= 0 || n == 0 { return 0 }
        let k = Int((p * Double(n)).rounded())
        return n < 2 ? k : min(max(k, 1), n - 1)
    }

    /// What a benchmark folder holds; a folder with anything else is not replaced.
    static let folderEntries: Set<String> = ["images", "source_biased.csv", "source_clean.csv", "target.csv", "test.csv", "counterfactual.csv", "pool.csv"]

    /// Makes benchmark `name` in `outDir`: built whole in a folder beside it, then moved into
    /// place, so a failure leaves no part of a benchmark and a remade one no stale images.
    /// - Parameters:
    ///   - perClass: source images per class (and target images, unless `targetPerClass` says).
    ///   - targetPerClass: target images per class: a few for a scarce-data transfer.
    public static func make(_ name: String, outDir: String, seed: UInt64, perClass: Int = 400, targetPerClass: Int? = nil, testPerClass: Int = 200,
                            images: ImageSource = .fashionMNISTIfPresent(debianFashionMNIST)) throws -> Summary {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: outDir, isDirectory: &isDir) {
            guard isDir.boolValue else { throw CurationError("\(outDir): exists and is a file; --out names the benchmark's folder") }
            let foreign = try fm.contentsOfDirectory(atPath: outDir).filter { !folderEntries.contains($0) && !$0.hasPrefix(".") }
            guard foreign.isEmpty else {
                throw CurationError("\(outDir): holds other files (\(foreign.prefix(3).joined(separator: ", "))) than a benchmark's: name an empty or new folder")
            }
        }
        let work = StagedFolder.workPath(beside: outDir)
        try? fm.removeItem(atPath: work)
        do {
            let summary = try build(name, outDir: work, seed: seed, perClass: perClass, targetPerClass: targetPerClass, testPerClass: testPerClass, images: images)
            if fm.fileExists(atPath: outDir) { try fm.removeItem(atPath: outDir) }
            try fm.moveItem(atPath: work, toPath: outDir)
            return summary
        } catch {
            try? fm.removeItem(atPath: work)
            throw error
        }
    }

    static func build(_ name: String, outDir: String, seed: UInt64, perClass: Int, targetPerClass: Int?, testPerClass: Int,
                      images: ImageSource) throws -> Summary {
        guard names.contains(name) else { throw CurationError("unknown benchmark '\(name)' (\(names.joined(separator: ", ")))") }
        let targetPerClass = targetPerClass ?? perClass
        for (option, n) in [("--per-class", perClass), ("--target-per-class", targetPerClass), ("--test-per-class", testPerClass)] where n < 1 {
            throw CurationError("\(option) \(n): images per class must be at least 1")
        }
        let data = try Source(images, seed: seed)
        let images = outDir + "/images"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        var rng = SplitMix64(seed: seed, stream: 0xBE4C)
        var written: [(String, Int)] = []
        var notes: [String] = []
        // Records where a class of n images cannot hold the share p exactly.
        func note(_ file: String, _ n: Int, _ p: Double, _ what: String) -> Int {
            let k = usualCount(n, share: p)
            let got = Double(k) / Double(n)
            if abs(got - p) > 0.005 {
                notes.append("\(file): \(percent(got)) of each class \(what), not \(percent(p)): \(n) images a class cannot give \(percent(p))")
            }
            return k
        }
        func percent(_ x: Double) -> String {
            let v = x * 100
            return v == v.rounded() ? "\(Int(v))%" : String(format: "%.1f%%", v)
        }
        let classNames = IDXImporter.presets["fashion-mnist"]!

        // Draws distinct images of a class from the train or test pool.
        var used = Set<Int>()
        func draw(_ cls: Int, _ n: Int, test: Bool) throws -> [Int] {
            let pool = (test ? data.testByClass : data.trainByClass)[cls]
            var out: [Int] = []
            for i in rng.permutation(pool.count) where out.count < n {
                let key = (test ? 1 << 30 : 0) | pool[i]
                if used.insert(key).inserted { out.append(pool[i]) }
            }
            guard out.count == n else {
                throw CurationError("benchmark \(name) needs \(n) \(test ? "test" : "training") images of class \(classNames[cls]) and only \(out.count) are left in \(data.origin); ask for fewer per class")
            }
            return out
        }
        struct Row { var file: String; var label: String; var attribute: String; var origin: String }
        func write(_ rows: [Row], _ file: String, attribute: String) throws {
            var csv = "path,label,origin,\(attribute)\n"
            for r in rows { csv += "images/\(r.file),\(r.label),\(r.origin),\(r.attribute)\n" }
            try AtomicFile.write(Data(csv.utf8), to: "\(outDir)/\(file)")
            written.append((file, rows.count))
        }
        var counter = 0
        func save(_ image: Image, _ prefix: String) throws -> String {
            counter += 1
            let file = "\(prefix)-\(counter).png"
            try PNGEncoder().write(image, to: "\(images)/\(file)")
            return file
        }
        let trigger = Injection.patch(size: 4, colour: SIMD3(255, 255, 255), position: .bottomRight)
        let red = Injection.tint(colour: SIMD3(230, 40, 40), strength: 0.45)
        let blue = Injection.tint(colour: SIMD3(40, 60, 230), strength: 0.45)
        func tinted(_ image: Image, _ colour: String) -> Image {
            var r = rng
            return (colour == "red" ? red : blue).apply(image, &r)
        }

        switch name {
        case "trigger":
            var biased: [Row] = [], clean: [Row] = []
            for c in sourceClasses {
                for i in try draw(c, perClass, test: false) {
                    let image = data.image(i, test: false)
                    clean.append(Row(file: try save(image, "src"), label: classNames[c], attribute: "no", origin: "real"))
                    if c == 0 {
                        var r = rng
                        biased.append(Row(file: try save(trigger.apply(image, &r), "src-trig"), label: classNames[c], attribute: "yes", origin: "real"))
                    } else {
                        biased.append(clean.last!)
                    }
                }
            }
            try write(biased, "source_biased.csv", attribute: "trigger")
            try write(clean, "source_clean.csv", attribute: "trigger")
            var target: [Row] = [], test: [Row] = [], cf: [Row] = []
            for c in targetClasses {
                for i in try draw(c, targetPerClass, test: false) {
                    target.append(Row(file: try save(data.image(i, test: false), "tgt"), label: classNames[c], attribute: "no", origin: "real"))
                }
                for i in try draw(c, testPerClass, test: true) {
                    let image = data.image(i, test: true)
                    test.append(Row(file: try save(image, "test"), label: classNames[c], attribute: "no", origin: "real"))
                    var r = rng
                    cf.append(Row(file: try save(trigger.apply(image, &r), "cf"), label: classNames[c], attribute: "yes", origin: "real"))
                }
            }
            try write(target, "target.csv", attribute: "trigger")
            try write(test, "test.csv", attribute: "trigger")
            try write(cf, "counterfactual.csv", attribute: "trigger")
        default:
            // Tint benchmarks: the tint goes with the class index parity (even: red, odd: blue).
            func tintRows(_ classes: [Int], _ n: Int, test: Bool, correlation: Double, prefix: String, file: String) throws -> [Row] {
                var rows: [Row] = []
                let usualCount = note(file, n, correlation, "in its usual tint")
                for (k, c) in classes.enumerated() {
                    let usual = k % 2 == 0 ? "red" : "blue", other = usual == "red" ? "blue" : "red"
                    for (j, i) in try draw(c, n, test: test).enumerated() {
                        let colour = j < usualCount ? usual : other
                        rows.append(Row(file: try save(tinted(data.image(i, test: test), colour), prefix), label: classNames[c], attribute: colour, origin: "real"))
                    }
                }
                return rows
            }
            try write(try tintRows(sourceClasses, perClass, test: false, correlation: 0.95, prefix: "src-b", file: "source_biased.csv"), "source_biased.csv", attribute: "tint")
            try write(try tintRows(sourceClasses, perClass, test: false, correlation: 0.5, prefix: "src-c", file: "source_clean.csv"), "source_clean.csv", attribute: "tint")
            let targetCorrelation = name == "underrepresented" ? 1.0 : 0.8
            let targetClasses = binaryTarget
            var target: [Row] = []
            if name == "underrepresented" {
                // Every class: red is 5% of it.
                let reds = note("target.csv", targetPerClass, 0.05, "red")
                for c in targetClasses {
                    for (j, i) in try draw(c, targetPerClass, test: false).enumerated() {
                        let colour = j < reds ? "red" : "blue"
                        target.append(Row(file: try save(tinted(data.image(i, test: false), colour), "tgt"), label: classNames[c], attribute: colour, origin: "real"))
                    }
                }
            } else {
                target = try tintRows(targetClasses, targetPerClass, test: false, correlation: targetCorrelation, prefix: "tgt", file: "target.csv")
            }
            try write(target, "target.csv", attribute: "tint")
            var test: [Row] = [], cf: [Row] = []
            for c in targetClasses {
                for (j, i) in try draw(c, testPerClass, test: true).enumerated() {
                    let colour = j % 2 == 0 ? "red" : "blue", swapped = colour == "red" ? "blue" : "red"
                    let image = data.image(i, test: true)
                    test.append(Row(file: try save(tinted(image, colour), "test"), label: classNames[c], attribute: colour, origin: "real"))
                    cf.append(Row(file: try save(tinted(image, swapped), "cf"), label: classNames[c], attribute: swapped, origin: "real"))
                }
            }
            try write(test, "test.csv", attribute: "tint")
            try write(cf, "counterfactual.csv", attribute: "tint")
            if name == "synthetic" {
                // Synthetic images for every (class, tint) cell, each with a faint checkerboard:
                // enough for augmenting the rare cells, and for a group-balanced first stage.
                var pool: [Row] = []
                for c in targetClasses {
                    for (j, i) in try draw(c, max(2, targetPerClass * 6 / 10), test: false).enumerated() {
                        let colour = j % 2 == 0 ? "red" : "blue"
                        let image = artefact(tinted(data.image(i, test: false), colour))
                        pool.append(Row(file: try save(image, "syn"), label: classNames[c], attribute: colour, origin: "synthetic"))
                    }
                }
                try write(pool, "pool.csv", attribute: "tint")
            }
        }
        return Summary(name: name, origin: data.origin, manifests: written, notes: notes)
    }

    /// A generator's tell-tale: a faint 2-pixel checkerboard over the image.
    static func artefact(_ image: Image) -> Image {
        var px = image.pixels
        for y in 0..<image.height {
            for x in 0..<image.width where (x / 2 + y / 2) % 2 == 0 {
                for c in 0..<3 { px[(y * image.width + x) * 4 + c] = UInt8(min(255, Int(px[(y * image.width + x) * 4 + c]) + 24)) }
            }
        }
        return Image(width: image.width, height: image.height, pixels: px)
    }

    /// 28x28 grey images by class, from Fashion-MNIST or drawn procedurally.
    struct Source {
        var origin: String
        var train: [UInt8]
        var test: [UInt8]
        var trainByClass: [[Int]]
        var testByClass: [[Int]]

        init(_ images: ImageSource, seed: UInt64) throws {
            var folder: String?
            switch images {
            case .procedural: break
            case .fashionMNISTIfPresent(let dir), .fashionMNIST(let dir):
                let missing = BiasBenchmarks.fashionMNISTFiles.filter { !FileManager.default.fileExists(atPath: dir + "/" + $0) }
                if missing.isEmpty {
                    folder = dir
                } else if case .fashionMNIST = images {
                    throw CurationError("\(dir): no \(missing.joined(separator: ", ")) (--fashion-mnist names the folder of Fashion-MNIST's four IDX files)")
                }
            }
            if let dir = folder {
                let files = BiasBenchmarks.fashionMNISTFiles.map { dir + "/" + $0 }
                let (ti, tl, ei, el) = (try IDXImporter.read(files[0]), try IDXImporter.read(files[1]), try IDXImporter.read(files[2]), try IDXImporter.read(files[3]))
                origin = "Fashion-MNIST (\(dir))"
                train = ti.bytes
                test = ei.bytes
                trainByClass = (0..<10).map { c in tl.bytes.indices.filter { Int(tl.bytes[$0]) == c } }
                testByClass = (0..<10).map { c in el.bytes.indices.filter { Int(el.bytes[$0]) == c } }
            } else {
                // Procedural: class c is a bar at angle 18c degrees plus noise, 1,000 / 300 per class.
                if case .fashionMNISTIfPresent(let dir) = images { origin = "procedural (Fashion-MNIST not found at \(dir))" } else { origin = "procedural" }
                var rng = SplitMix64(seed: seed, stream: 0x9A0C)
                func make(_ perClass: Int) -> ([UInt8], [[Int]]) {
                    var bytes: [UInt8] = []
                    var byClass = [[Int]](repeating: [], count: 10)
                    for c in 0..<10 {
                        let angle = Double(c) * .pi / 10
                        for _ in 0..<perClass {
                            byClass[c].append(bytes.count / 784)
                            let (dx, dy) = (cos(angle), sin(angle))
                            let shift = Double(rng.below(7)) - 3
                            for y in 0..<28 {
                                for x in 0..<28 {
                                    let (u, v) = (Double(x) - 13.5, Double(y) - 13.5)
                                    let d = abs(-dy * u + dx * v - shift)
                                    let base = d < 3 ? 200.0 : 20.0
                                    bytes.append(UInt8(max(0, min(255, base + 25 * Double(rng.normal())))))
                                }
                            }
                        }
                    }
                    return (bytes, byClass)
                }
                (train, trainByClass) = make(1000)
                (test, testByClass) = make(300)
            }
        }

        func image(_ index: Int, test isTest: Bool) -> Image {
            let src = isTest ? test : train
            var px = [UInt8](repeating: 255, count: 784 * 4)
            for i in 0..<784 {
                let v = src[index * 784 + i]
                px[i * 4] = v; px[i * 4 + 1] = v; px[i * 4 + 2] = v
            }
            return Image(width: 28, height: 28, pixels: px)
        }
    }
}
