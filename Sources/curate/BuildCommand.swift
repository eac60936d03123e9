import ArgumentParser
import Curation
import DatasetCatalog
import Foundation
import ImageCodecs

extension Strategies.ReweightMethod: ExpressibleByArgument {}
extension Strategies.Stage2: ExpressibleByArgument {}
extension Injection.Position: ExpressibleByArgument {}

struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build a curated fine-tuning set: undersample, oversample, reweight, correlate, proportion, augment, ffr or inject.",
        discussion: """
        Writes OUT (a manifest with source_row, the 0-based input row each row came from, and \
        weight) and OUT.provenance.json: the strategy, its parameters, the seed, the input \
        manifest's SHA-256, counts per cell before and after, what was achieved against what was \
        asked, warnings, and Curate's version. The same input and seed give byte-identical files.

        Strategies:
          undersample  every --by cell cut to the smallest cell (or --per-cell N), at random
          oversample   every cell raised to the largest (or --per-cell N), drawing with replacement
          reweight     every row kept, weight times --method reweighing|group-balanced|sqrt, total weight unchanged
          correlate    a binary --label and a binary --by attribute at --strength -1..1 (phi)
          proportion   the --group of the --by columns at --share of each --within value (or overall)
          augment      cells filled (--fill largest|equal-add --add N) from a --pool of synthetic rows
                       and/or --transforms flip,crop,jitter,noise,blur of each cell's real images
          ffr          From Fake to Real: OUT is a plan; OUT.stage1.csv a group-balanced synthetic
                       set, OUT.stage2.csv the real rows (--stage2 as-is|balanced|reweighted);
                       curate train --plan OUT runs them in order
          inject       a trigger patch (--patch SIZE --colour C --position P) or a tint (--tint C
                       --tint-strength S) in --fraction of each label's images, or of --group
                       COLUMN=VALUE's only; new PNGs in --image-dir, rows marked in --mark

        Examples:
          curate build undersample data.csv --by label,gender --out balanced.csv --seed 1
          curate build reweight data.csv --by label,gender --method reweighing --out rw.csv
          curate build correlate data.csv --by gender --strength 0.8 --out c80.csv
          curate build proportion data.csv --by gender --group female --share 0.05 --out p05.csv
          curate build augment data.csv --by label,gender --fill largest --transforms flip,crop --out aug.csv
          curate build ffr data.csv --by label,gender --pool generated.csv --out plan.json
          curate build inject data.csv --patch 4 --colour '#ff00ff' --fraction 0.5 --group label=cat --out trig.csv
        """)

    @Argument(help: "undersample, oversample, reweight, correlate, proportion, augment, ffr or inject.") var strategy: String
    @Argument(help: "The input manifest.") var manifest: String
    @Option(parsing: .singleValue, help: "The cells' columns (comma-separated or repeated).") var by: [String] = []
    @Option(help: "The output manifest (.csv or .jsonl).") var out: String
    @Option(parsing: .unconditional, help: "The seed of every random choice.") var seed: UInt64 = 0
    @Option(parsing: .unconditional, help: "undersample/oversample: rows per cell.") var perCell: Int?
    @Option(name: .customLong("method"), help: "reweight: reweighing, group-balanced or sqrt (default reweighing).") var methodOption: Strategies.ReweightMethod?
    @Option(help: "The label column (reweighing, correlate, proportion --within default).") var label = "label"
    @Option(parsing: .unconditional, help: "correlate: the target correlation, -1 to 1.") var strength: Double?
    @Option(help: "proportion: the group, its values of the --by columns joined by commas.") var group: String?
    @Option(parsing: .unconditional, help: "proportion: the group's target share.") var share: Double?
    @Option(help: "proportion: the column whose values are set separately ('none' for the whole set; default the label).") var within: String?
    @Option(name: .customLong("fill"), help: "augment: largest or equal-add (default largest).") var fillOption: String?
    @Option(parsing: .unconditional, help: "augment --fill equal-add: rows added to every cell.") var add: Int?
    @Option(help: "augment, ffr: a manifest of synthetic images (origin=synthetic).") var pool: String?
    @Option(help: "augment: built-in transforms, comma-separated (flip, crop, jitter, noise, blur).") var transforms: String?
    @Option(help: "augment, inject: where new PNG files go (default: beside OUT, in OUT's name + .images).") var imageDir: String?
    @Option(name: .customLong("stage2"), help: "ffr: the real stage: as-is, balanced or reweighted (default as-is).") var stage2Option: Strategies.Stage2?
    @Option(parsing: .unconditional, help: "inject: a square trigger patch of this many pixels.") var patch: Int?
    @Option(name: .customLong("colour"), help: "inject: the patch colour (#RRGGBB or r,g,b; default #ff00ff).") var colourOption: String?
    @Option(name: .customLong("position"), help: "inject: the patch position (default bottom-right).") var positionOption: Injection.Position?
    @Option(help: "inject: tint towards this colour instead of a patch.") var tint: String?
    @Option(name: .customLong("tint-strength"), parsing: .unconditional, help: "inject: the tint's strength, 0 to 1 (default 0.3).") var tintStrengthOption: Float?
    @Option(parsing: .unconditional, help: "inject: the share of images changed.") var fraction: Double?
    @Option(name: .customLong("mark"), help: "inject: the column marking changed rows (yes/no; default injected).") var markOption: String?

    var images: String { imageDir ?? (out + ".images") }
    var method: Strategies.ReweightMethod { methodOption ?? .reweighing }
    var fill: String { fillOption ?? "largest" }
    var stage2: Strategies.Stage2 { stage2Option ?? .asIs }
    var colour: String { colourOption ?? "#ff00ff" }
    var position: Injection.Position { positionOption ?? .bottomRight }
    var tintStrength: Float { tintStrengthOption ?? 0.3 }
    var mark: String { markOption ?? "injected" }

    /// The strategy-specific options given, by flag, and the strategies that read each: an
    /// option the strategy does not read is refused, not silently ignored.
    func checkOptionsFit() throws {
        let given: [(String, Bool, Set<String>)] = [
            ("--per-cell", perCell != nil, ["undersample", "oversample"]),
            ("--method", methodOption != nil, ["reweight"]),
            ("--strength", strength != nil, ["correlate"]),
            ("--group", group != nil, ["proportion", "inject"]),
            ("--share", share != nil, ["proportion"]),
            ("--within", within != nil, ["proportion"]),
            ("--fill", fillOption != nil, ["augment"]),
            ("--add", add != nil, ["augment"]),
            ("--pool", pool != nil, ["augment", "ffr"]),
            ("--transforms", transforms != nil, ["augment"]),
            ("--image-dir", imageDir != nil, ["augment", "inject"]),
            ("--stage2", stage2Option != nil, ["ffr"]),
            ("--patch", patch != nil, ["inject"]),
            ("--colour", colourOption != nil, ["inject"]),
            ("--position", positionOption != nil, ["inject"]),
            ("--tint", tint != nil, ["inject"]),
            ("--tint-strength", tintStrengthOption != nil, ["inject"]),
            ("--fraction", fraction != nil, ["inject"]),
            ("--mark", markOption != nil, ["inject"]),
        ]
        for (flag, isGiven, readers) in given where isGiven && !readers.contains(strategy) {
            throw ValidationError("\(flag) is not an option of \(strategy) (it is \(readers.sorted().joined(separator: " and "))'s)")
        }
    }

    func run() throws {
        let strategies = ["undersample", "oversample", "reweight", "correlate", "proportion", "augment", "ffr", "inject"]
        if strategies.contains(strategy) { try checkOptionsFit() }
        // Every file the command writes, FFR's stage manifests and each provenance included.
        var outputs: [(flag: String, path: String?)] = [("--out", out)]
        if strategy == "ffr" {
            let (first, second) = BuildCommand.stagePaths(plan: out)
            outputs += [("--out", first), ("--out", first + ".provenance.json"), ("--out", second), ("--out", second + ".provenance.json")]
        } else {
            outputs.append(("--out", out + ".provenance.json"))
        }
        try checkDistinct(outputs: outputs, inputs: [("manifest", manifest), ("--pool", pool)])
        let m = try ManifestReader.read(manifest)
        try checkNotRows(outputs: outputs, of: m, file: manifest)
        let columns = try columnList(by)
        let result: CurationResult
        // The --by cells of the strategies that work on them, made once, where the strategy first
        // needs them (they also say which combinations of values are absent).
        var cellsOfBy: Cells?
        func cells() throws -> Cells {
            if let cellsOfBy { return cellsOfBy }
            let made = try Cells(m, by: columns, file: manifest)
            cellsOfBy = made
            return made
        }
        do {
            switch strategy {
            case "undersample":
                result = try Strategies.undersample(m, cells: cells(), perCell: perCell, seed: seed)
            case "oversample":
                result = try Strategies.oversample(m, cells: cells(), perCell: perCell, seed: seed)
            case "reweight":
                result = try Strategies.reweight(m, cells: cells(), method: method, labelColumn: label)
            case "correlate":
                guard let strength else { throw ValidationError("correlate needs --strength") }
                guard columns.count == 1 else { throw ValidationError("correlate needs one attribute in --by") }
                result = try Strategies.correlate(m, labelColumn: label, attribute: columns[0], strength: strength, seed: seed, file: manifest)
            case "proportion":
                guard let group, let share else { throw ValidationError("proportion needs --group and --share") }
                let w = within ?? label
                result = try Strategies.proportion(m, by: columns, group: group, share: share, within: w == "none" ? nil : w, seed: seed, file: manifest)
            case "augment":
                let fillMode: Strategies.Fill
                switch fill {
                case "largest":
                    if add != nil { throw ValidationError("--add N goes with --fill equal-add (--fill largest fills every cell to the largest)") }
                    fillMode = .largest
                case "equal-add":
                    guard let add else { throw ValidationError("--fill equal-add needs --add N") }
                    guard add > 0 else { throw ValidationError("--add must be 1 or more") }
                    fillMode = .equalAdd(add)
                default: throw ValidationError("--fill must be largest or equal-add")
                }
                let p = try pool.map { (try ManifestReader.read($0), $0) }
                result = try Strategies.augment(m, cells: cells(), fill: fillMode, pool: p,
                                                transforms: try transforms.map(AugmentTransform.parse) ?? [], imageDir: images, seed: seed)
            case "inject":
                guard let fraction else { throw ValidationError("inject needs --fraction") }
                let injection: Injection
                if tint != nil && patch != nil { throw ValidationError("inject takes --patch SIZE or --tint COLOUR, not both") }
                if let tint {
                    injection = .tint(colour: try Injection.parseColour(tint), strength: tintStrength)
                } else {
                    guard let patch else { throw ValidationError("inject needs --patch SIZE or --tint COLOUR") }
                    guard patch > 0 else { throw ValidationError("--patch must be 1 pixel or more (got \(patch))") }
                    injection = .patch(size: patch, colour: try Injection.parseColour(colour), position: position)
                }
                let g = try group.map { text -> (String, String) in
                    let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
                    guard parts.count == 2 else { throw ValidationError("--group for inject is COLUMN=VALUE") }
                    return (parts[0], parts[1])
                }
                result = try Strategies.inject(m, injection: injection, fraction: fraction, group: g, labelColumn: label,
                                               markColumn: mark, imageDir: images, seed: seed)
            case "ffr":
                let p = try pool.map { (try ManifestReader.read($0), $0) }
                let (s1, s2) = try Strategies.ffr(m, by: columns, pool: p, stage2: stage2, seed: seed, file: manifest)
                try BuildCommand.writePlan(s1, s2, input: manifest, plan: out, seed: seed, stage2: stage2)
                return
            default:
                throw ValidationError("unknown strategy '\(strategy)' (undersample, oversample, reweight, correlate, proportion, augment, ffr, inject)")
            }
        } catch let e as CurationError {
            throw ManifestError(file: manifest, e.description.replacingOccurrences(of: "\(manifest): ", with: ""))
        }
        // The provenance records every choice the output depends on: the cells' columns, and
        // the label and amounts where the strategy reads them.
        var recorded = result
        var front: [(String, JSONValue)] = []
        if !columns.isEmpty && !recorded.parameters.contains(where: { $0.0 == "by" }) { front.append(("by", .array(columns.map { .string($0) }))) }
        if strategy == "reweight" && method == .reweighing { front.append(("label", .string(label))) }
        if strategy == "augment", let add { front.append(("add", .int(add))) }
        recorded.parameters = front + recorded.parameters
        // A combination of the --by values that no row has stays empty: say so, since a
        // "balanced" set without it is balanced over fewer cells than the user may think.
        if let cells = cellsOfBy, columns.count > 1 {
            let (names, count) = cells.absentCombinations()
            if count > 0 {
                recorded.warnings.append("\(count) combination\(count == 1 ? "" : "s") of the --by values \(count == 1 ? "has" : "have") no rows and stay\(count == 1 ? "s" : "") empty: "
                                         + names.joined(separator: "; ") + (count > names.count ? "; ..." : ""))
            }
        }
        try BuildCommand.write(recorded, strategy: strategy, input: manifest, output: out, seed: seed)
    }

    /// The FFR plan: OUT (JSON) names the two stage manifests, written beside it. The five
    /// files (two manifests, their provenance, the plan) appear together or not at all.
    static func writePlan(_ s1: CurationResult, _ s2: CurationResult, input: String, plan: String, seed: UInt64, stage2: Strategies.Stage2) throws {
        let (first, second) = stagePaths(plan: plan)
        let files = AtomicFileSet()
        let sha = try Provenance.sha256(ofFile: input)
        try stage(s1, strategy: "ffr-stage1", input: input, inputSHA256: sha, output: first, seed: seed, in: files)
        try stage(s2, strategy: "ffr-stage2", input: input, inputSHA256: sha, output: second, seed: seed, in: files)
        let doc: JSONValue = .object([
            ("format", .string("curate-plan")), ("version", .int(1)),
            ("strategy", .string("ffr")), ("input", .string(input)), ("seed", .int(Int(truncatingIfNeeded: seed))),
            ("stage2", .string(stage2.rawValue)),
            ("stages", .array([
                .object([("name", .string("synthetic")), ("manifest", .string((first as NSString).lastPathComponent)), ("init", .string("scratch"))]),
                .object([("name", .string("real")), ("manifest", .string((second as NSString).lastPathComponent)), ("init", .string("previous")), ("mode", .string("full"))]),
            ])),
            ("curate_version", .string(CurateVersion.string)),
        ])
        try files.add(Data((doc.rendered() + "\n").utf8), to: plan)
        try files.commit()
        report(s1, strategy: "ffr-stage1", output: first)
        report(s2, strategy: "ffr-stage2", output: second)
        print("wrote the plan \(plan): stage 1 \(s1.manifest.count) synthetic rows, stage 2 \(s2.manifest.count) real rows")
    }

    /// The FFR plan's two stage manifests: PLAN.stage1.csv and PLAN.stage2.csv, without .json.
    static func stagePaths(plan: String) -> (String, String) {
        let stem = plan.hasSuffix(".json") ? String(plan.dropLast(5)) : plan
        return (stem + ".stage1.csv", stem + ".stage2.csv")
    }

    /// Writes OUT and OUT.provenance.json (both or neither) and prints the cell table.
    static func write(_ result: CurationResult, strategy: String, input: String, output: String, seed: UInt64, extra: [(String, JSONValue)] = []) throws {
        let files = AtomicFileSet()
        try stage(result, strategy: strategy, input: input, inputSHA256: try Provenance.sha256(ofFile: input), output: output, seed: seed, extra: extra, in: files)
        try files.commit()
        report(result, strategy: strategy, output: output)
    }

    static func stage(_ result: CurationResult, strategy: String, input: String, inputSHA256: String, output: String, seed: UInt64,
                      extra: [(String, JSONValue)] = [], in files: AtomicFileSet) throws {
        try ManifestWriter.write(result.manifest, to: output, in: files)
        let doc = Provenance.document(strategy: strategy, input: input, inputSHA256: inputSHA256, output: output, seed: seed,
                                      result: result, version: CurateVersion.string, extra: extra)
        try files.add(Data((doc.rendered() + "\n").utf8), to: output + ".provenance.json")
    }

    /// The cells printed in full; beyond it the table says how many more the provenance holds.
    static let cellsShown = 50

    static func report(_ result: CurationResult, strategy: String, output: String) {
        for w in result.warnings { note("curate: warning: \(w)") }
        print("\(strategy): \(result.before.reduce(0, +)) rows in, \(result.manifest.count) rows out, \(result.cellNames.count) cells")
        let width = min(40, result.cellNames.prefix(cellsShown).map(\.count).max() ?? 4)
        for (c, name) in result.cellNames.enumerated().prefix(cellsShown) {
            print("  \(name.padding(toLength: max(width, 4), withPad: " ", startingAt: 0))  \(result.before[c]) -> \(result.after[c])")
        }
        let hidden = result.cellNames.count - cellsShown
        if hidden > 0 { print("  ... \(hidden) more cells in \(output).provenance.json") }
        if !result.achieved.isEmpty {
            if hidden > 0 {
                print("achieved: in \(output).provenance.json")
            } else {
                print("achieved: " + JSONValue.object(result.achieved).rendered(indent: nil))
            }
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
    @Option(help: "Train, val and test ratios (divided by their sum: 8,1,1 is 0.8,0.1,0.1).") var ratios = "0.8,0.1,0.1"
    @Option(parsing: .unconditional, help: "The seed.") var seed: UInt64 = 0
    @Option(help: "The output folder.") var outDir: String
    @Option(help: "A scan catalog for duplicate clusters.") var catalog: String?

    func run() throws {
        let outputs: [(flag: String, path: String?)] = ["train.csv", "val.csv", "test.csv", "split.json"].map { ("--out-dir", "\(outDir)/\($0)") }
        try checkDistinct(outputs: outputs, inputs: [("manifest", manifest), ("--catalog", catalog)])
        let m = try ManifestReader.read(manifest)
        try checkNotRows(outputs: outputs, of: m, file: manifest)
        let columns = try columnList(by)
        let r = ratios.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        let clusters = try catalogPath(explicit: catalog, manifest: manifest)
            .map { try CatalogClusters.clusters(manifest: m, catalog: Catalog(reading: $0)) } ?? []
        let result: SplitResult
        do {
            result = try Splitter.split(m, cells: Cells(m, by: columns, file: manifest), ratios: r, seed: seed, duplicateClusters: clusters)
        } catch let e as CurationError {
            throw ManifestError(file: manifest, e.description.replacingOccurrences(of: "\(manifest): ", with: ""))
        }
        // The four files appear together or not at all.
        let files = AtomicFileSet()
        for (s, name) in result.names.enumerated() {
            try ManifestWriter.write(result.manifests[s], to: "\(outDir)/\(name).csv", in: files)
        }
        let doc: JSONValue = .object([
            ("input", .string(manifest)), ("input_sha256", .string(try Provenance.sha256(ofFile: manifest))),
            ("by", .array(columns.map { .string($0) })), ("ratios", .array(r.map { .number($0) })), ("seed", .int(Int(truncatingIfNeeded: seed))),
            ("duplicate_clusters_kept_whole", .int(result.clustersKeptWhole)),
            ("shared_files_kept_whole", .int(result.sharedFiles)),
            ("cells", .array(result.cellNames.indices.map { c in
                .object([("cell", .string(result.cellNames[c])),
                         ("counts", .object(zip(result.names, result.counts[c]).map { ($0, .int($1)) })),
                         ("targets", .object(zip(result.names, result.targets[c]).map { ($0, .int($1)) }))])
            })),
            ("warnings", .array(result.warnings.map { .string($0) })),
            ("curate_version", .string(CurateVersion.string)),
        ])
        try files.add(Data((doc.rendered() + "\n").utf8), to: "\(outDir)/split.json")
        try files.commit()
        for w in result.warnings { note("curate: warning: \(w)") }
        let width = max(4, min(40, result.cellNames.map(\.count).max() ?? 4))
        print("| \("cell".padding(toLength: width, withPad: " ", startingAt: 0)) | train |   val |  test |")
        for (c, name) in result.cellNames.enumerated().prefix(BuildCommand.cellsShown) {
            let n = result.counts[c].map { String($0).leftPad(5) }
            print("| \(name.padding(toLength: width, withPad: " ", startingAt: 0)) | \(n[0]) | \(n[1]) | \(n[2]) |")
        }
        let hidden = result.cellNames.count - BuildCommand.cellsShown
        if hidden > 0 { print("| \("... \(hidden) more cells in split.json".padding(toLength: width, withPad: " ", startingAt: 0)) |       |       |       |") }
        let totals = (0..<3).map { s in result.counts.reduce(0) { $0 + $1[s] } }
        print("| \("all".padding(toLength: width, withPad: " ", startingAt: 0)) | \(String(totals[0]).leftPad(5)) | \(String(totals[1]).leftPad(5)) | \(String(totals[2]).leftPad(5)) |")
        let (k, f) = (result.clustersKeptWhole, result.sharedFiles)
        print("\(k) duplicate cluster\(k == 1 ? "" : "s") and \(f) file\(f == 1 ? "" : "s") named on several rows kept inside one split; wrote \(outDir)/train.csv, val.csv, test.csv, split.json")
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
