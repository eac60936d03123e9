import Audit
import Curation
import DatasetCatalog
import Foundation
import ImageCodecs
import NeuralNet
import Training

/// Runs an experiment's matrix (seeds x interventions x sources x transfers), resumably: each
/// finished cell is a JSON file under DIR/cells and is never run again; sources and curated
/// targets are cached under DIR/sources and DIR/targets.
public final class ExperimentRunner {
    public let manifest: ExperimentManifest
    public let outDir: String
    public var progress: ((String) -> Void)?
    /// Warnings (a benchmark whose small sizes cannot keep a stated proportion), shown even
    /// when progress is not.
    public var warn: ((String) -> Void)?
    /// The run folder's lock (flock on DIR/.lock), held from run() until the runner goes.
    private var lockFD: Int32 = -1
    deinit { if lockFD >= 0 { close(lockFD) } }
    private var cache: [String: ImageData] = [:]

    public init(_ manifest: ExperimentManifest, outDir: String) {
        self.manifest = manifest
        self.outDir = outDir
    }

    public struct CellKey: Hashable, Sendable {
        public var intervention: String
        public var transfer: String
        public var source: String
        public var seed: UInt64
        public var file: String { "\(intervention)__\(transfer)__\(source)__seed\(seed).json" }
    }

    /// The datasets, making the benchmark first when the manifest names one.
    func datasets() throws -> [String: String] {
        if let b = manifest.benchmark {
            let dir = outDir + "/benchmark"
            if !FileManager.default.fileExists(atPath: dir + "/test.csv") {
                let size = manifest.benchmarkSize
                let made = try BiasBenchmarks.make(b, outDir: dir, seed: 0, perClass: size.perClass, targetPerClass: size.targetPerClass, testPerClass: size.testPerClass)
                for n in made.notes { warn?("benchmark \(b): \(n)") }
            }
            var d = ["source_biased": "source_biased.csv", "source_clean": "source_clean.csv", "target": "target.csv", "test": "test.csv",
                     "counterfactual": "counterfactual.csv"].mapValues { dir + "/" + $0 }
            if FileManager.default.fileExists(atPath: dir + "/pool.csv") { d["pool"] = dir + "/pool.csv" }
            for (k, v) in manifest.datasets { d[k] = v }
            return d
        }
        return manifest.datasets
    }

    /// A dataset's images, or its feature vectors when the manifest gives features for
    /// `dataset` (a curated target's rows map to the target's vectors through source_row).
    func load(_ path: String, dataset: String) throws -> ImageData {
        // Keyed by the features too: two datasets can share a manifest with different vectors.
        let key = path + "\u{0}" + (manifest.features[dataset] ?? "")
        if let d = cache[key] { return d }
        let d: ImageData
        if !manifest.features.isEmpty {
            guard let f = manifest.features[dataset] else {
                throw ExperimentError(manifest.file, nil, "features: no feature file for \(dataset)")
            }
            d = try ImageData.load(path, features: f, requireLabels: dataset != "counterfactual")
        } else {
            d = try ImageData.load(path, size: manifest.size, channels: manifest.channels, requireLabels: dataset != "counterfactual")
        }
        cache[key] = d
        return d
    }

    /// What the cached cells, sources and targets under DIR were made with, beside their keys:
    /// the recipe, data and evaluation (`settings`) and each intervention's definition. Seeds,
    /// interventions, sources and transfers may be added to a run; changing these may not.
    public struct RunSettings: Codable, Equatable, Sendable {
        public var settings: [String: String]
        public var interventions: [String: String]
    }

    public var runSettings: RunSettings {
        let m = manifest
        var s: [String: String] = [
            "attribute": m.attribute, "by": m.by.joined(separator: ","), "model": m.model, "size": String(m.size),
            "channels": String(m.channels), "epochs": String(m.epochs), "source_epochs": String(m.sourceEpochs),
            "batch_size": String(m.batchSize), "lr": "\(m.learningRate)",
            "adversarial": m.adversarial?.description ?? "none", "attack": m.attack?.description ?? "none",
        ]
        if let b = m.benchmark {
            s["benchmark"] = "\(b) per_class \(m.benchmarkSize.perClass) target_per_class \(m.benchmarkSize.targetPerClass.map(String.init) ?? "default") test_per_class \(m.benchmarkSize.testPerClass)"
        }
        // Files by path, size and modification time: the same path with other contents is other data.
        func stamped(_ path: String) -> String {
            guard let a = try? FileManager.default.attributesOfItem(atPath: path), let size = a[.size] as? NSNumber,
                  let date = a[.modificationDate] as? Date else { return path }
            return "\(path) (\(size) bytes, modified \(String(format: "%.3f", date.timeIntervalSince1970)))"
        }
        for (k, v) in m.datasets { s["datasets." + k] = stamped(v) }
        for (k, v) in m.features { s["features." + k] = v.hasPrefix("column:") ? v : stamped(v) }
        var interventions: [String: String] = [:]
        for i in m.interventions {
            let options = i.options.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            interventions[i.name] = "strategy \(i.strategy ?? "none") loss \(i.loss) mode \(i.mode ?? "transfer") feature_distance \(i.featureDistance.map { "\($0)" } ?? "none") adversarial \(i.adversarial) options [\(options)]"
        }
        return RunSettings(settings: s, interventions: interventions)
    }

    /// Every feature file of the manifest loaded (they are needed anyway, and cached) and their
    /// widths compared, before any cell runs: a source trained on D values cannot take others.
    func checkFeatureWidths() throws {
        guard !manifest.features.isEmpty else { return }
        let data = try datasets()
        var widths: [(dataset: String, file: String, width: Int)] = []
        for (dataset, spec) in manifest.features.sorted(by: { $0.key < $1.key }) {
            guard let path = data[dataset] else { continue }
            widths.append((dataset, spec, try load(path, dataset: dataset).channels))
        }
        if let first = widths.first, let other = widths.first(where: { $0.width != first.width }) {
            throw ExperimentError(manifest.file, nil, "features: \(first.file) (\(first.dataset)) has \(first.width) values a row, \(other.file) (\(other.dataset)) \(other.width): "
                                  + "every dataset's vectors must come from one model")
        }
    }

    /// Checks `DIR/settings.json` against this manifest (refusing a run whose finished cells were
    /// made otherwise) and records the manifest's interventions in it.
    func checkSettings() throws {
        let path = outDir + "/settings.json"
        var current = runSettings
        if FileManager.default.fileExists(atPath: path) {
            var stored: RunSettings
            do { stored = try JSONDecoder().decode(RunSettings.self, from: try Data(contentsOf: URL(fileURLWithPath: path))) } catch {
                throw ExperimentError(manifest.file, nil, "\(path) is unreadable (\(error.localizedDescription)): delete it only if the run's cells were made with this manifest, or use another --out")
            }
            var changed = Set(stored.settings.keys).union(current.settings.keys).filter { stored.settings[$0] != current.settings[$0] }.sorted()
            // An intervention whose definition changed matters only when one of its cells has
            // finished (a fix to one that failed before its first cell is just a fix).
            let finished = finishedCellFiles
            let redefined = current.interventions.keys.filter { stored.interventions[$0] != nil && stored.interventions[$0] != current.interventions[$0] }
            let measured = redefined.filter { name in finished.contains { $0.hasPrefix(name + "__") } }
            changed += measured.sorted().map { "intervention \($0)" }
            // The target sets a redefined intervention without cells cached are made again.
            let cached = (try? FileManager.default.contentsOfDirectory(atPath: outDir + "/targets")) ?? []
            for name in redefined where !measured.contains(name) {
                for file in cached where file.hasPrefix(name + "-seed") { try? FileManager.default.removeItem(atPath: outDir + "/targets/" + file) }
            }
            if !changed.isEmpty && !hasFinishedCells {
                // Nothing was measured under the stored settings (a run that failed before its
                // first cell): the run starts over, without what it cached for the old ones.
                resetCaches(changed: changed)
                progress?("\(outDir): no finished cells; the settings changed (\(changed.prefix(4).joined(separator: ", "))), so the run starts over")
                changed = []
                stored.interventions = [:]
            }
            guard changed.isEmpty else {
                let detail = changed.prefix(4).map { key -> String in
                    let name = key.hasPrefix("intervention ") ? String(key.dropFirst(13)) : key
                    let (was, now) = key.hasPrefix("intervention ") ? (stored.interventions[name], current.interventions[name]) : (stored.settings[key], current.settings[key])
                    return "\(key): was \(was ?? "unset"), now \(now ?? "unset")"
                }.joined(separator: "; ")
                throw ExperimentError(manifest.file, nil, "\(outDir) holds a run made with other settings (\(detail)); its cells would answer for this manifest: use another --out, or delete \(outDir)")
            }
            for (k, v) in stored.interventions where current.interventions[k] == nil { current.interventions[k] = v }
            if current == stored { return }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try AtomicFile.write(try encoder.encode(current), to: path)
    }

    /// Whether any cell of a run under DIR has finished (cells are written whole).
    var hasFinishedCells: Bool { !finishedCellFiles.isEmpty }

    /// The finished cells' files (`INTERVENTION__TRANSFER__SOURCE__seedN.json`).
    var finishedCellFiles: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: outDir + "/cells")) ?? []).filter { !$0.hasPrefix(".") && $0.hasSuffix(".json") }
    }

    /// Removes what a run without finished cells cached under settings that have changed: the
    /// curated targets always, the sources when what they are trained on or with changed, the
    /// benchmark when its definition changed.
    func resetCaches(changed: [String]) {
        let sourceKeys: Set<String> = ["model", "size", "channels", "source_epochs", "batch_size", "lr", "adversarial", "benchmark"]
        var remove = ["targets"]
        if changed.contains(where: { sourceKeys.contains($0) || $0.hasPrefix("datasets.source_") || $0.hasPrefix("features.source_") }) { remove.append("sources") }
        if changed.contains("benchmark") { remove.append("benchmark") }
        for sub in remove { try? FileManager.default.removeItem(atPath: outDir + "/" + sub) }
    }

    /// Checks, before anything is trained, that the datasets exist and that the target and test
    /// manifests have the columns the experiment groups by.
    func checkData(_ data: [String: String]) throws {
        for (key, path) in data.sorted(by: { $0.key < $1.key }) where !FileManager.default.fileExists(atPath: path) {
            throw ExperimentError(manifest.file, manifest.lines["datasets." + key], "datasets: \(key): no such file \(path)")
        }
        for key in ["target", "test"] {
            guard let path = data[key] else { continue }
            let columns = try ManifestReader.read(path).columns
            for (what, names) in [("attribute", [manifest.attribute]), ("by", manifest.by)] {
                if let missing = names.first(where: { !columns.contains($0) }) {
                    throw ExperimentError(manifest.file, manifest.lines[what], "\(what): '\(missing)' is not a column of the \(key) manifest \(path) (its columns: \(columns.joined(separator: ", ")))")
                }
            }
        }
    }

    /// Runs every cell not yet done; returns the keys of all cells.
    @discardableResult
    public func run() throws -> [CellKey] {
        // Feature files are checked (and cached) before the run's folder is made: vectors from
        // two models cannot make a run at all.
        if !manifest.features.isEmpty {
            try checkData(try datasets())
            try checkFeatureWidths()
        }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: outDir, isDirectory: &isDir), !isDir.boolValue {
            throw ExperimentError(manifest.file, nil, "--out \(outDir) is a file, not a folder")
        }
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        // One run at a time in a folder: a second would take the first's cells for its own and
        // mix two settings in one results.json. The lock is held until the runner is released
        // (after its reports are written), and goes with the process however it ends.
        if lockFD < 0 {
            let fd = open(outDir + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw ExperimentError(manifest.file, nil, "\(outDir): cannot make its lock file: \(String(cString: strerror(errno)))") }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                close(fd)
                throw ExperimentError(manifest.file, nil, "\(outDir): another experiment run is using this folder; wait for it to finish, or use another --out")
            }
            lockFD = fd
        }
        for sub in ["cells", "sources", "targets"] where FileManager.default.fileExists(atPath: "\(outDir)/\(sub)", isDirectory: &isDir) && !isDir.boolValue {
            throw ExperimentError(manifest.file, nil, "\(outDir)/\(sub) is a file where the run keeps a folder: use another --out")
        }
        try checkSettings()
        // Temporary files of a run that was killed mid-write (AtomicFile's .NAME.tmp-PID-N).
        for sub in ["cells", "sources", "targets"] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "\(outDir)/\(sub)")) ?? [] where name.hasPrefix(".") && name.contains(".tmp-") {
                try? FileManager.default.removeItem(atPath: "\(outDir)/\(sub)/\(name)")
            }
        }
        let data = try datasets()
        try checkData(data)
        for sub in ["cells", "sources", "targets"] {
            try FileManager.default.createDirectory(atPath: "\(outDir)/\(sub)", withIntermediateDirectories: true)
        }
        // Every curated target is built (and kept) before anything trains: an intervention the
        // data cannot give (a group no row has) stops the run at once, naming its line.
        for seed in manifest.seeds {
            for intervention in manifest.interventions where intervention.strategy != nil {
                do { _ = try target(intervention, seed: seed, data: data) } catch let error as ExperimentError { throw error } catch {
                    throw ExperimentError(manifest.file, manifest.lines["intervention." + intervention.name], "intervention \(intervention.name): \(error)")
                }
            }
        }
        var keys: [CellKey] = []
        let total = manifest.seeds.count * manifest.interventions.count * manifest.sources.count * manifest.transfers.count
        var done = 0
        for seed in manifest.seeds {
            for intervention in manifest.interventions {
                for source in manifest.sources {
                    for transfer in manifest.transfers {
                        let key = CellKey(intervention: intervention.name, transfer: transfer, source: source, seed: seed)
                        keys.append(key)
                        done += 1
                        let path = "\(outDir)/cells/\(key.file)"
                        if FileManager.default.fileExists(atPath: path) {
                            // A damaged cell (cells are written whole, so only by hand) is run again.
                            guard let bytes = FileManager.default.contents(atPath: path),
                                  (try? JSONSerialization.jsonObject(with: bytes)) is [String: Any] else {
                                progress?("[\(done)/\(total)] \(path) is damaged: running the cell again")
                                try runAndWrite(key, intervention: intervention, data: data, to: path, done: done, total: total)
                                continue
                            }
                            progress?("[\(done)/\(total)] \(key.intervention) \(transfer) from \(source), seed \(seed): done before")
                            continue
                        }
                        try runAndWrite(key, intervention: intervention, data: data, to: path, done: done, total: total)
                    }
                }
            }
        }
        return keys
    }

    func runAndWrite(_ key: CellKey, intervention: Intervention, data: [String: String], to path: String, done: Int, total: Int) throws {
        let start = Date()
        let metrics = try runCell(key, intervention: intervention, data: data)
        try AtomicFile.write(Data((metrics.rendered() + "\n").utf8), to: path)
        progress?(String(format: "[%d/%d] %@ %@ from %@, seed %llu: %.1fs", done, total, key.intervention, key.transfer, key.source, key.seed,
                         Date().timeIntervalSince(start)))
    }

    func recipe(seed: UInt64, epochs: Int) -> TrainingRecipe {
        var r = TrainingRecipe()
        r.epochs = epochs
        r.batchSize = manifest.batchSize
        r.learningRate = manifest.learningRate
        r.seed = seed
        return r
    }

    /// The source model of a seed, trained once and kept: `biased` and `clean` on their data,
    /// `robust` and `biased-robust` adversarially on the same data (the manifest's `adversarial`).
    func sourceModel(_ source: String, seed: UInt64, data: [String: String]) throws -> (Sequential, Checkpoint.Header)? {
        guard source != "scratch" else { return nil }
        let dataset = "source_" + (ExperimentManifest.standardCounterpart[source] ?? source)
        let adversarial = ExperimentManifest.standardCounterpart[source] != nil ? manifest.adversarial?.attack(seed: seed) : nil
        let path = "\(outDir)/sources/\(source)-seed\(seed).ckpt"
        if FileManager.default.fileExists(atPath: path) {
            let (m, h) = try Checkpoint.read(path: path)
            // A robust source kept from a run with another recipe would silently answer for this one.
            guard h.metadata["adversarial"] == adversarial?.description else {
                throw ExperimentError(manifest.file, nil, "\(path) was trained \(h.metadata["adversarial"].map { "with \($0)" } ?? "without an attack"), "
                                      + "not as the manifest says (\(adversarial?.description ?? "no attack")): use another --out, or delete the file")
            }
            return (m, h)
        }
        var job = TrainingJob()
        job.model = ModelName(rawValue: manifest.model) ?? .cnnSmall
        job.size = manifest.size
        job.channels = manifest.channels
        job.recipe = recipe(seed: seed, epochs: manifest.sourceEpochs)
        job.recipe.adversarial = adversarial
        let outcome = try job.run(train: load(data[dataset]!, dataset: dataset))
        var metadata = ["seed": String(seed)]
        if let adversarial { metadata["adversarial"] = adversarial.description }
        try AtomicFile.write(Checkpoint.encode(outcome.model, spec: outcome.spec, classes: outcome.classes, metadata: metadata), to: path)
        let (m, h) = try Checkpoint.read(path: path)
        return (m, h)
    }

    /// The curated target of an intervention and seed, built once and kept.
    func target(_ intervention: Intervention, seed: UInt64, data: [String: String]) throws -> String {
        guard let strategy = intervention.strategy else { return data["target"]! }
        let path = "\(outDir)/targets/\(intervention.name)-seed\(seed).csv"
        if FileManager.default.fileExists(atPath: path) { return path }
        let m = try ManifestReader.read(data["target"]!)
        let by = intervention.options["by"].map { $0.split(separator: ",").map(String.init) } ?? ["label", manifest.attribute]
        let file = data["target"]!
        let result: CurationResult
        switch strategy {
        case "undersample": result = try Strategies.undersample(m, cells: Cells(m, by: by, file: file), perCell: intervention.options["per_cell"].flatMap { Int($0) }, seed: seed)
        case "oversample": result = try Strategies.oversample(m, cells: Cells(m, by: by, file: file), perCell: intervention.options["per_cell"].flatMap { Int($0) }, seed: seed)
        case "reweight":
            let method = Strategies.ReweightMethod(rawValue: intervention.options["method"] ?? "reweighing") ?? .reweighing
            result = try Strategies.reweight(m, cells: Cells(m, by: by, file: file), method: method, labelColumn: "label")
        case "correlate":
            result = try Strategies.correlate(m, labelColumn: intervention.options["label"] ?? "label", attribute: manifest.attribute,
                                              strength: Double(intervention.options["strength"] ?? "0") ?? 0, seed: seed, file: file)
        case "proportion":
            result = try Strategies.proportion(m, by: [manifest.attribute], group: intervention.options["group"] ?? "",
                                               share: Double(intervention.options["share"] ?? "0.5") ?? 0.5, within: "label", seed: seed, file: file)
        default:
            let pool = try intervention.options["pool"].map { p -> (Manifest, String) in
                let resolved = p.hasPrefix("/") ? p : URL(fileURLWithPath: data["target"]!).deletingLastPathComponent().path + "/" + p
                return (try ManifestReader.read(resolved), resolved)
            }
            result = try Strategies.augment(m, cells: Cells(m, by: by, file: file), fill: .largest, pool: pool,
                                            transforms: try AugmentTransform.parse(intervention.options["transforms"] ?? (pool == nil ? "flip,crop" : "")),
                                            imageDir: "\(outDir)/targets/\(intervention.name)-seed\(seed).images", seed: seed)
        }
        try ManifestWriter.write(result.manifest, to: path)
        return path
    }

    func counterfactualPredictions(_ outcome: TrainingOutcome, _ cf: ImageData?) throws -> JSONValue {
        guard let cf else { return .null }
        let p = predict(outcome.model, count: cf.count) { cf.batch($0) }
        return .array(p.classes.map { .string(outcome.classes[$0]) })
    }

    func runCell(_ key: CellKey, intervention: Intervention, data: [String: String]) throws -> JSONValue {
        var stages: [String] = []
        if intervention.strategy == "ffr" {
            // From Fake to Real: a group-balanced synthetic stage, then the real target.
            let m = try ManifestReader.read(data["target"]!)
            guard let poolPath = intervention.options["pool"].map({ $0.hasPrefix("/") ? $0 : URL(fileURLWithPath: data["target"]!).deletingLastPathComponent().path + "/" + $0 }) ?? data["pool"] else {
                throw ExperimentError(manifest.file, nil, "intervention \(intervention.name): ffr needs a pool (a benchmark with pool.csv, or pool: in its options)")
            }
            let plan = "\(outDir)/targets/\(intervention.name)-seed\(key.seed)"
            if !FileManager.default.fileExists(atPath: plan + ".stage2.csv") {
                let (s1, s2) = try Strategies.ffr(m, by: ["label", manifest.attribute], pool: (try ManifestReader.read(poolPath), poolPath),
                                                  stage2: .asIs, seed: key.seed, file: data["target"]!)
                let files = AtomicFileSet()
                try ManifestWriter.write(s1.manifest, to: plan + ".stage1.csv", in: files)
                try ManifestWriter.write(s2.manifest, to: plan + ".stage2.csv", in: files)
                try files.commit()
            }
            stages = [plan + ".stage1.csv", plan + ".stage2.csv"]
        } else {
            stages = [try target(intervention, seed: key.seed, data: data)]
        }
        let targetPath = stages.last!
        var job = TrainingJob()
        job.model = ModelName(rawValue: manifest.model) ?? .cnnSmall
        job.size = manifest.size
        job.channels = manifest.channels
        job.recipe = recipe(seed: key.seed, epochs: manifest.epochs)
        switch intervention.loss {
        case "group-dro": job.loss = .groupDRO(eta: 0.01)
        case "jtt": job.loss = .jtt(lambda: 6, firstEpochs: 1)
        default: job.loss = .erm
        }
        job.groupColumns = ["label", manifest.attribute]
        if intervention.adversarial { job.recipe.adversarial = manifest.adversarial?.attack(seed: key.seed) }
        if let src = try sourceModel(key.source, seed: key.seed, data: data) {
            job.from = src
            job.mode = FineTuneMode(rawValue: intervention.mode ?? key.transfer) ?? .full
            // Zhang et al.'s penalty holds the fine-tuned features near the source's; frozen
            // features (fixed-feature transfer) cannot move, so there it has nothing to do.
            if let w = intervention.featureDistance, job.mode == .full {
                job.anchor = (try sourceModel(key.source, seed: key.seed, data: data)!.0, w)
            }
        }
        for stage in stages.dropLast() {
            // An earlier stage: trained in the cell's transfer mode; the next stage starts from it.
            let first = try job.run(train: try load(stage, dataset: "target"))
            job.from = (first.model, Checkpoint.Header(model: first.spec, classes: first.classes, tensors: [], metadata: [:]))
            job.keepHeadWhenClassesMatch = true
        }
        let outcome = try job.run(train: try load(targetPath, dataset: "target"))
        let test = try load(data["test"]!, dataset: "test")
        let cf = try data["counterfactual"].map { try load($0, dataset: "counterfactual") }
        let e = try Evaluation.run(outcome.model, classes: outcome.classes, test: test, by: manifest.by, counterfactual: cf)
        // Fairness across the attribute, worst class one-vs-rest.
        let classIndex = Dictionary(uniqueKeysWithValues: outcome.classes.enumerated().map { ($1, $0) })
        let worst = PredictionFairness.worstClass(labels: test.labels.map { classIndex[$0] ?? -1 }, predictions: e.predictions,
                                                  classes: Array(outcome.classes.indices),
                                                  values: test.column(manifest.attribute) ?? test.labels.map { _ in "" }).fairness
        let groupAcc = e.groupAccuracy.map(\.1)
        // Robust accuracy under each budget of the manifest's attack, against the cell's model.
        var robust: [JSONValue] = []
        if let spec = manifest.attack {
            for k in spec.budgets.indices {
                let attack = spec.attack(k, seed: key.seed)
                let r = try Evaluation.run(outcome.model, classes: outcome.classes, test: test, by: manifest.by, attack: attack)
                robust.append(.object([
                    ("epsilon", .string(spec.budgets[k])), ("attack", .string(attack.description)),
                    ("robust_accuracy", .optional(r.robustAccuracy)), ("worst_group_robust_accuracy", .optional(r.worstGroupRobustAccuracy)),
                    ("robust_group_accuracy", .object(r.robustGroupAccuracy.map { ($0.0, .number($0.1)) })),
                ]))
            }
        }
        return .object([
            ("intervention", .string(key.intervention)), ("transfer", .string(key.transfer)), ("source", .string(key.source)),
            ("seed", .int(Int(key.seed))), ("train_rows", .int(outcome.reports.isEmpty ? 0 : outcome.reports[0].images)),
            ("overall_accuracy", .number(e.overallAccuracy)), ("balanced_accuracy", .number(e.balancedAccuracy)),
            ("worst_group_accuracy", .optional(e.worstGroupAccuracy)),
            ("accuracy_gap", .optional(groupAcc.isEmpty ? nil : groupAcc.max()! - groupAcc.min()!)),
            ("group_accuracy", .object(e.groupAccuracy.map { ($0.0, .number($0.1)) })),
            ("demographic_parity_difference", .number(worst.demographicParityDifference)),
            ("equalized_odds_difference", .number(worst.equalizedOddsDifference)),
            ("tpr_gap", .number(worst.truePositiveRateGap)), ("fpr_gap", .number(worst.falsePositiveRateGap)),
            ("flip_rate", .optional(e.flipRate)),
            ("robust", .array(robust)),
            // The raw predictions (class names, test rows in order; and on the counterfactual
            // rows), so every metric can be checked against them.
            ("predictions", .array(e.predictions.map { .string(outcome.classes[$0]) })),
            ("counterfactual_predictions", try counterfactualPredictions(outcome, cf)),
        ])
    }
}
