import ArgumentParser
import Curation
import DatasetCatalog
import Foundation
import ImageCodecs

extension Strategies.ReweightMethod: ExpressibleByArgument {}

struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build a curated fine-tuning set: undersample, oversample, reweight, correlate or proportion.",
        discussion: """
        Writes OUT (a manifest with source_row, the 0-based input row each row came from, and \
        weight) and OUT.provenance.json: the strategy, its parameters, the seed, the input \
        manifest's SHA-256, counts per cell before and after, what was achieved against what was \
        asked, warnings, and Curate's version. The same input and seed give byte-identical files.

        Strategies:
          undersample  every --by cell cut to the smallest cell (or --per-cell N), at random
          oversample   every cell raised to the largest (or --per-cell N), drawing with replacement
          reweight     every row kept, weight times --method reweighing|group-balanced|sqrt, mean 1
          correlate    a binary --label and a binary --by attribute at --strength -1..1 (phi)
          proportion   the --group of the --by columns at --share of each --within value (or overall)

        Examples:
          curate build undersample data.csv --by label,gender --out balanced.csv --seed 1
          curate build reweight data.csv --by label,gender --method reweighing --out rw.csv
          curate build correlate data.csv --by gender --strength 0.8 --out c80.csv
          curate build proportion data.csv --by gender --group female --share 0.05 --out p05.csv
        """)

    @Argument(help: "undersample, oversample, reweight, correlate or proportion.") var strategy: String
    @Argument(help: "The input manifest.") var manifest: String
    @Option(parsing: .singleValue, help: "The cells' columns (comma-separated or repeated).") var by: [String] = []
    @Option(help: "The output manifest (.csv or .jsonl).") var out: String
    @Option(help: "The seed of every random choice.") var seed: UInt64 = 0
    @Option(help: "undersample/oversample: rows per cell.") var perCell: Int?
    @Option(help: "reweight: reweighing, group-balanced or sqrt.") var method: Strategies.ReweightMethod = .reweighing
    @Option(help: "The label column (reweighing, correlate, proportion --within default).") var label = "label"
    @Option(help: "correlate: the target correlation, -1 to 1.") var strength: Double?
    @Option(help: "proportion: the group, its values of the --by columns joined by commas.") var group: String?
    @Option(help: "proportion: the group's target share.") var share: Double?
    @Option(help: "proportion: the column whose values are set separately ('none' for the whole set; default the label).") var within: String?

    func run() throws {
        let m = try ManifestReader.read(manifest)
        let columns = by.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
        let result: CurationResult
        do {
            switch strategy {
            case "undersample":
                result = try Strategies.undersample(m, cells: Cells(m, by: columns, file: manifest), perCell: perCell, seed: seed)
            case "oversample":
                result = try Strategies.oversample(m, cells: Cells(m, by: columns, file: manifest), perCell: perCell, seed: seed)
            case "reweight":
                result = try Strategies.reweight(m, cells: Cells(m, by: columns, file: manifest), method: method, labelColumn: label)
            case "correlate":
                guard let strength else { throw ValidationError("correlate needs --strength") }
                guard columns.count == 1 else { throw ValidationError("correlate needs one attribute in --by") }
                result = try Strategies.correlate(m, labelColumn: label, attribute: columns[0], strength: strength, seed: seed, file: manifest)
            case "proportion":
                guard let group, let share else { throw ValidationError("proportion needs --group and --share") }
                let w = within ?? label
                result = try Strategies.proportion(m, by: columns, group: group, share: share, within: w == "none" ? nil : w, seed: seed, file: manifest)
            default:
                throw ValidationError("unknown strategy '\(strategy)' (undersample, oversample, reweight, correlate, proportion)")
            }
        } catch let e as CurationError {
            throw ManifestError(file: manifest, e.description.replacingOccurrences(of: "\(manifest): ", with: ""))
        }
        try BuildCommand.write(result, strategy: strategy, input: manifest, output: out, seed: seed)
    }

    static func write(_ result: CurationResult, strategy: String, input: String, output: String, seed: UInt64, extra: [(String, JSONValue)] = []) throws {
        let sha = try Provenance.sha256(ofFile: input)
        try ManifestWriter.write(result.manifest, to: output)
        let doc = Provenance.document(strategy: strategy, input: input, inputSHA256: sha, output: output, seed: seed,
                                      result: result, version: CurateVersion.string, extra: extra)
        try AtomicFile.write(Data((doc.rendered() + "\n").utf8), to: output + ".provenance.json")
        for w in result.warnings { note("curate: warning: \(w)") }
        print("\(strategy): \(result.before.reduce(0, +)) rows in, \(result.manifest.count) rows out, \(result.cellNames.count) cells")
        let width = min(40, result.cellNames.map(\.count).max() ?? 4)
        for (c, name) in result.cellNames.enumerated() {
            print("  \(name.padding(toLength: max(width, 4), withPad: " ", startingAt: 0))  \(result.before[c]) -> \(result.after[c])")
        }
        if !result.achieved.isEmpty {
            print("achieved: " + JSONValue.object(result.achieved).rendered(indent: nil))
        }
        print("wrote \(output) and \(output).provenance.json")
    }
}

struct SplitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split",
        abstract: "Split a manifest into train/val/test, stratified on the --by cells, keeping duplicates together.",
        discussion: """
        Each cell's rows are divided by the ratios to within one row (largest remainder) and every \
        non-empty cell is present in train. Rows naming the same file, or files in one exact or \
        near-duplicate cluster of the scan catalog (--catalog, or curate.catalog beside the \
        manifest), always go to the same split, so nothing leaks. Writes DIR/train.csv, \
        DIR/val.csv, DIR/test.csv and DIR/split.json, and prints the table.

        Example:
          curate split data.csv --by label,gender --ratios 0.8,0.1,0.1 --seed 1 --out-dir splits
        """)

    @Argument(help: "The manifest.") var manifest: String
    @Option(parsing: .singleValue, help: "The cells' columns.") var by: [String] = []
    @Option(help: "Train, val and test ratios.") var ratios = "0.8,0.1,0.1"
    @Option(help: "The seed.") var seed: UInt64 = 0
    @Option(help: "The output folder.") var outDir: String
    @Option(help: "A scan catalog for duplicate clusters.") var catalog: String?

    func run() throws {
        let m = try ManifestReader.read(manifest)
        let columns = by.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
        let r = ratios.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        var clusters: [[String]] = []
        let defaultCatalog = ((manifest as NSString).deletingLastPathComponent as NSString).appendingPathComponent("curate.catalog")
        if let path = catalog ?? (FileManager.default.fileExists(atPath: defaultCatalog) ? defaultCatalog : nil) {
            guard FileManager.default.fileExists(atPath: path) else { throw CatalogError("\(path): no such catalog (run curate scan first)") }
            clusters = try CatalogClusters.clusters(manifest: m, catalog: Catalog(path: path))
        }
        let result: SplitResult
        do {
            result = try Splitter.split(m, cells: Cells(m, by: columns, file: manifest), ratios: r, seed: seed, duplicateClusters: clusters)
        } catch let e as CurationError {
            throw ManifestError(file: manifest, e.description.replacingOccurrences(of: "\(manifest): ", with: ""))
        }
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        for (s, name) in result.names.enumerated() {
            try ManifestWriter.write(result.manifests[s], to: "\(outDir)/\(name).csv")
        }
        let doc: JSONValue = .object([
            ("input", .string(manifest)), ("input_sha256", .string(try Provenance.sha256(ofFile: manifest))),
            ("by", .array(columns.map { .string($0) })), ("ratios", .array(r.map { .number($0) })), ("seed", .int(Int(truncatingIfNeeded: seed))),
            ("duplicate_clusters_kept_whole", .int(result.clustersKeptWhole)),
            ("cells", .array(result.cellNames.indices.map { c in
                .object([("cell", .string(result.cellNames[c])),
                         ("counts", .object(zip(result.names, result.counts[c]).map { ($0, .int($1)) })),
                         ("targets", .object(zip(result.names, result.targets[c]).map { ($0, .int($1)) }))])
            })),
            ("warnings", .array(result.warnings.map { .string($0) })),
            ("curate_version", .string(CurateVersion.string)),
        ])
        try AtomicFile.write(Data((doc.rendered() + "\n").utf8), to: "\(outDir)/split.json")
        for w in result.warnings { note("curate: warning: \(w)") }
        let width = max(4, min(40, result.cellNames.map(\.count).max() ?? 4))
        print("| \("cell".padding(toLength: width, withPad: " ", startingAt: 0)) | train |   val |  test |")
        for (c, name) in result.cellNames.enumerated() {
            let n = result.counts[c].map { String($0).leftPad(5) }
            print("| \(name.padding(toLength: width, withPad: " ", startingAt: 0)) | \(n[0]) | \(n[1]) | \(n[2]) |")
        }
        let totals = (0..<3).map { s in result.counts.reduce(0) { $0 + $1[s] } }
        print("| \("all".padding(toLength: width, withPad: " ", startingAt: 0)) | \(String(totals[0]).leftPad(5)) | \(String(totals[1]).leftPad(5)) | \(String(totals[2]).leftPad(5)) |")
        print("\(result.clustersKeptWhole) duplicate clusters kept inside one split; wrote \(outDir)/train.csv, val.csv, test.csv, split.json")
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
