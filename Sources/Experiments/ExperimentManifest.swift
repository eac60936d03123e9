import Foundation
import Curation
import Training
import Yams

/// An error in an experiment manifest, with the file and line.
public struct ExperimentError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ file: String, _ line: Int?, _ message: String) {
        description = line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)"
    }
}

/// One intervention of the matrix: a curation strategy applied to the target, or a
/// trainer-side change (a loss, a fine-tuning mode), or both.
public struct Intervention: Sendable, Equatable {
    public var name: String
    /// A `curate build` strategy and its options (by default `--by label,ATTRIBUTE`).
    public var strategy: String?
    public var options: [String: String]
    /// erm (default), group-dro, jtt.
    public var loss: String
    /// Overrides the transfer mode (last-layer for DFR).
    public var mode: String?
    /// Zhang et al.'s remedy: the weight of the distance between the fine-tuned and the source
    /// model's features (full fine-tuning from a source; nothing to hold otherwise).
    public var featureDistance: Float? = nil
    /// Fine-tunes adversarially, with the manifest's `adversarial` recipe.
    public var adversarial = false
}

/// An attack a manifest declares: `adversarial`, the recipe of adversarially trained sources
/// (one budget), or `attack`, what every cell is evaluated under (one or more budgets).
public struct AttackSpec: Sendable, Equatable {
    public var method: Attack.Method = .pgd
    public var norm: Attack.Norm = .linf
    /// The budgets as written ("8/255"), which name the robust metrics; each parses with
    /// `Attack.budget` (the manifest reader checks it does).
    public var budgets: [String] = []
    public var steps = 10
    public var stepSize: Float?
    public var randomStart = true

    /// "PGD-10, linf, step 2.5 epsilon / 10, random start at 8/255, 0.1".
    public var description: String {
        let step = stepSize.map { String(format: "step %.4g", $0) } ?? (method == .pgd ? "step 2.5 epsilon / \(steps)" : "")
        let parts = [method == .pgd ? "PGD-\(steps)" : "FGSM", norm.rawValue] + (method == .pgd ? [step] + (randomStart ? ["random start"] : []) : [])
        return parts.joined(separator: ", ") + " at " + budgets.joined(separator: ", ")
    }

    public func attack(_ k: Int = 0, seed: UInt64) -> Attack {
        Attack(method, norm: norm, epsilon: Attack.budget(budgets[k])!, stepSize: stepSize, steps: steps, randomStart: randomStart, seed: seed)
    }
}

/// A YAML experiment manifest (keys documented in manifests/README.md).
public struct ExperimentManifest: Sendable {
    public var file: String
    public var name: String
    public var benchmark: String?
    public var datasets: [String: String]
    /// Feature files standing in for the images of datasets (same keys), resolved paths.
    public var features: [String: String] = [:]
    public var attribute: String
    public var by: [String]
    public var interventions: [Intervention]
    public var transfers: [String]
    public var sources: [String]
    public var model: String
    public var size: Int
    public var channels: Int
    public var epochs: Int
    public var sourceEpochs: Int
    public var batchSize: Int
    public var learningRate: Float
    public var seeds: [UInt64]
    /// The benchmark's images per class: source, target (nil: as the source), test.
    public var benchmarkSize: (perClass: Int, targetPerClass: Int?, testPerClass: Int) = (400, nil, 200)
    /// How `robust` and `biased-robust` sources (and `adversarial` interventions) are trained.
    public var adversarial: AttackSpec?
    /// What every cell is also evaluated under.
    public var attack: AttackSpec?
    /// The manifest's lines of some keys, for errors found when the run reads the data:
    /// "attribute", "by", "datasets.NAME", "features.NAME".
    public var lines: [String: Int] = [:]

    static let topKeys: Set<String> = ["name", "benchmark", "datasets", "attribute", "by", "interventions", "transfers", "sources", "recipe", "seeds", "features",
                                       "adversarial", "attack"]
    static let benchmarkKeys: Set<String> = ["name", "per_class", "target_per_class", "test_per_class"]
    static let attackKeys: Set<String> = ["attack", "epsilon", "norm", "steps", "step_size", "random_start"]
    /// Sources: biased and clean are trained on source_biased and source_clean; their robust
    /// versions adversarially, on the same data; scratch is no source.
    public static let sourceNames = ["biased", "clean", "scratch", "robust", "biased-robust"]
    /// The source a robust source is compared with: same data, standard training.
    public static let standardCounterpart = ["robust": "clean", "biased-robust": "biased"]
    static let recipeKeys: Set<String> = ["model", "size", "channels", "epochs", "source_epochs", "batch_size", "lr"]
    static let strategies: Set<String> = ["undersample", "oversample", "reweight", "correlate", "proportion", "augment", "ffr"]
    /// Interventions that a name alone selects, beside the strategies.
    static let namedInterventions: Set<String> = ["none", "group-dro", "jtt", "dfr"]
    /// The options each strategy reads ("" : an intervention without a strategy takes none).
    static let optionKeys: [String: Set<String>] = [
        "undersample": ["by", "per_cell"], "oversample": ["by", "per_cell"], "reweight": ["by", "method"],
        "correlate": ["label", "strength"], "proportion": ["group", "share"], "augment": ["by", "pool", "transforms"], "ffr": ["pool"],
    ]

    static let maxNesting = 64

    /// The line where flow brackets (`[`, `{`) or block indentation first nest deeper than
    /// `maxNesting`, or nil. Quoted scalars and comments are skipped.
    static func tooDeep(_ text: String) -> Int? {
        var depth = 0, line = 1, column = 0, indent = 0, atIndent = true
        var quote: UInt8? = nil, comment = false, previous: UInt8 = 0x20
        for b in text.utf8 {
            if b == 0x0A {
                line += 1; column = 0; indent = 0; atIndent = true; comment = false; previous = 0x20
                if quote == 0x27 { quote = nil }  // an unclosed single quote ends with its line here
                continue
            }
            column += 1
            if comment { continue }
            if atIndent {
                if b == 0x20 || b == 0x2D { indent += 1; if indent > 2 * maxNesting + 8 { return line }; previous = b; continue }
                atIndent = false
            }
            if let q = quote {
                if b == q && previous != 0x5C { quote = nil }
                previous = b
                continue
            }
            switch b {
            case 0x22, 0x27: quote = b
            case 0x23 where previous == 0x20 || previous == 0x09: comment = true
            case 0x5B, 0x7B:
                depth += 1
                if depth > maxNesting { return line }
            case 0x5D, 0x7D: depth = max(0, depth - 1)
            default: break
            }
            previous = b
        }
        return nil
    }

    public static func load(_ path: String) throws -> ExperimentManifest {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ExperimentError(path, nil, "cannot read the file") }
        // Yams' parser recurses once per level: a file nested thousands deep would overflow the
        // stack. No experiment manifest needs more than a few levels.
        if let line = tooDeep(text) {
            throw ExperimentError(path, line, "nested deeper than \(maxNesting) levels (an experiment manifest needs a few)")
        }
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw ExperimentError(path, nil, "empty") }
            root = node
        } catch let e as ExperimentError {
            throw e
        } catch let e as YamlError {
            throw ExperimentError(path, nil, "not valid YAML: \(e)")
        }
        func line(_ n: Node?) -> Int? { n?.mark.map { $0.line } }
        func fail(_ n: Node?, _ message: String) -> ExperimentError { ExperimentError(path, line(n), message) }
        guard let top = root.mapping else { throw fail(root, "the manifest must be a mapping of keys") }
        var fields: [String: Node] = [:]
        for (k, v) in top {
            guard let key = k.string else { throw fail(k, "keys must be strings") }
            guard topKeys.contains(key) else { throw fail(k, "unknown key '\(key)' (known: \(topKeys.sorted().joined(separator: ", ")))") }
            guard fields[key] == nil else { throw fail(k, "key '\(key)' is given twice") }
            fields[key] = v
        }
        func string(_ n: Node?, _ what: String) throws -> String {
            guard let n, let s = n.scalar?.string, !s.isEmpty else { throw fail(n ?? root, "\(what) must be a string") }
            return s
        }
        func strings(_ n: Node?, _ what: String) throws -> [String] {
            guard let n else { return [] }
            if let s = n.scalar?.string { return [s] }
            guard let seq = n.sequence else { throw fail(n, "\(what) must be a list") }
            return try seq.map { try string($0, what) }
        }
        func int(_ n: Node?, _ what: String, _ d: Int) throws -> Int {
            guard let n else { return d }
            guard let v = n.int, v > 0 else { throw fail(n, "\(what) must be a positive integer") }
            return v
        }
        func attackSpec(_ n: Node, _ what: String, several: Bool) throws -> AttackSpec {
            guard let map = n.mapping else { throw fail(n, "\(what) must be a mapping: {attack: pgd, epsilon: 8/255, steps: 10}") }
            var spec = AttackSpec()
            for (k, v) in map {
                let key = try string(k, "a key")
                guard attackKeys.contains(key) else { throw fail(k, "unknown \(what) key '\(key)' (\(attackKeys.sorted().joined(separator: ", ")))") }
                switch key {
                case "attack":
                    guard let method = Attack.Method(rawValue: try string(v, key)) else { throw fail(v, "unknown attack '\(v.string ?? "")' (fgsm, pgd)") }
                    spec.method = method
                case "norm":
                    guard let norm = Attack.Norm(rawValue: try string(v, key)) else { throw fail(v, "unknown norm '\(v.string ?? "")' (linf, l2)") }
                    spec.norm = norm
                case "epsilon":
                    let items = v.sequence ?? [v]
                    guard !items.isEmpty, several || items.count == 1 else {
                        throw fail(v, several ? "epsilon must be a budget or a non-empty list of budgets" : "\(what) takes one epsilon")
                    }
                    for item in items {
                        let text = try string(item, "epsilon")
                        guard Attack.budget(text) != nil else { throw fail(item, "epsilon '\(text)' is not a non-negative number or fraction (8/255)") }
                        guard !spec.budgets.contains(text) else { throw fail(item, "epsilon '\(text)' is given twice") }
                        spec.budgets.append(text)
                    }
                case "steps": spec.steps = try int(v, key, 10)
                case "step_size":
                    let text = try string(v, key)
                    guard let s = Attack.budget(text) else { throw fail(v, "step_size '\(text)' is not a non-negative number or fraction (2/255)") }
                    spec.stepSize = s
                default:
                    guard let b = v.bool else { throw fail(v, "random_start must be true or false") }
                    spec.randomStart = b
                }
            }
            guard !spec.budgets.isEmpty else { throw fail(n, "\(what) needs an epsilon (for example 8/255)") }
            return spec
        }
        func benchmarkName(_ n: Node) throws -> String {
            let name = try string(n, "the benchmark's name")
            guard BiasBenchmarks.names.contains(name) else {
                throw fail(n, "unknown benchmark '\(name)' (\(BiasBenchmarks.names.joined(separator: ", "))); or give datasets instead")
            }
            return name
        }
        var m = ExperimentManifest(file: path, name: (try? string(fields["name"], "name")) ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent,
                                   benchmark: nil, datasets: [:], attribute: "", by: [], interventions: [], transfers: [], sources: [],
                                   model: "cnn-small", size: 28, channels: 1, epochs: 3, sourceEpochs: 3, batchSize: 128, learningRate: 0.05, seeds: [0, 1, 2])
        if let b = fields["benchmark"] {
            if let map = b.mapping {
                for (k, v) in map {
                    let key = try string(k, "a key")
                    guard benchmarkKeys.contains(key) else { throw fail(k, "unknown benchmark key '\(key)' (\(benchmarkKeys.sorted().joined(separator: ", ")))") }
                    switch key {
                    case "name": m.benchmark = try benchmarkName(v)
                    case "per_class": m.benchmarkSize.perClass = try int(v, key, 400)
                    case "target_per_class": m.benchmarkSize.targetPerClass = try int(v, key, 400)
                    default: m.benchmarkSize.testPerClass = try int(v, key, 200)
                    }
                }
                guard m.benchmark != nil else { throw fail(b, "benchmark needs a name (trigger, tint, underrepresented, synthetic)") }
            } else {
                m.benchmark = try benchmarkName(b)
            }
        }
        if let d = fields["datasets"] {
            guard let map = d.mapping else { throw fail(d, "datasets must map source_biased, source_clean, target, test, counterfactual to manifests") }
            let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
            for (k, v) in map {
                let key = try string(k, "a dataset name")
                guard ["source_biased", "source_clean", "target", "test", "counterfactual", "pool"].contains(key) else {
                    throw fail(k, "unknown dataset '\(key)' (source_biased, source_clean, target, test, counterfactual, pool)")
                }
                let p = try string(v, key)
                m.datasets[key] = p.hasPrefix("/") ? p : base + "/" + p
                m.lines["datasets." + key] = line(v)
            }
        }
        if let f = fields["features"] {
            guard let map = f.mapping else { throw fail(f, "features must map dataset names (source_biased, source_clean, target, test, counterfactual) to .npy or .safetensors files") }
            let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
            for (k, v) in map {
                let key = try string(k, "a dataset name")
                guard ["source_biased", "source_clean", "target", "test", "counterfactual"].contains(key) else {
                    throw fail(k, "unknown dataset '\(key)' for features (source_biased, source_clean, target, test, counterfactual)")
                }
                let p = try string(v, key)
                m.features[key] = p.hasPrefix("/") || p.hasPrefix("column:") ? p : base + "/" + p
                m.lines["features." + key] = line(v)
            }
            for key in ["target", "test"] where m.features[key] == nil {
                throw fail(f, "features need at least target and test (and the sources the experiment uses)")
            }
        }
        if m.benchmark == nil {
            for key in ["source_biased", "source_clean", "target", "test"] where m.datasets[key] == nil {
                throw fail(fields["datasets"] ?? root, "give a benchmark, or datasets with \(key)")
            }
        }
        m.attribute = try string(fields["attribute"], "attribute")
        m.lines["attribute"] = line(fields["attribute"])
        m.by = try strings(fields["by"], "by")
        m.lines["by"] = line(fields["by"]) ?? line(fields["attribute"])
        if m.by.isEmpty { m.by = ["label", m.attribute] }
        guard let ins = fields["interventions"]?.sequence, !ins.isEmpty else {
            throw fail(fields["interventions"] ?? root, "interventions must be a non-empty list")
        }
        for item in ins {
            if let s = item.scalar?.string {
                guard strategies.contains(s) || namedInterventions.contains(s) else {
                    throw fail(item, "unknown intervention '\(s)': a name alone must be one of \((namedInterventions.sorted() + strategies.sorted()).joined(separator: ", ")); "
                               + "or give a mapping with a name and a strategy, loss or mode")
                }
                // These two have no default to fall back on: a target correlation or share must be chosen.
                if s == "correlate" { throw fail(item, "intervention correlate needs a strength: give {name: correlate, strategy: correlate, strength: 0}") }
                if s == "proportion" { throw fail(item, "intervention proportion needs a group and a share: give {name: proportion, strategy: proportion, group: VALUE, share: 0.5}") }
                m.lines["intervention." + s] = line(item)
                m.interventions.append(Intervention(name: s, strategy: strategies.contains(s) ? s : nil, options: [:],
                                                    loss: ["group-dro", "jtt"].contains(s) ? s : "erm", mode: s == "dfr" ? "last-layer" : nil))
                continue
            }
            guard let map = item.mapping else { throw fail(item, "an intervention is a name or a mapping") }
            var i = Intervention(name: "", strategy: nil, options: [:], loss: "erm", mode: nil)
            var optionNodes: [String: Node] = [:]
            for (k, v) in map {
                let key = try string(k, "a key")
                guard optionNodes[key] == nil else { throw fail(k, "key '\(key)' is given twice") }
                optionNodes[key] = k
                let value: String
                if let seq = v.sequence { value = try seq.map { try string($0, key) }.joined(separator: ",") } else { value = try string(v, key) }
                switch key {
                case "name": i.name = value
                case "strategy":
                    guard strategies.contains(value) else { throw fail(v, "unknown strategy '\(value)' (\(strategies.sorted().joined(separator: ", ")))") }
                    i.strategy = value
                case "loss":
                    guard ["erm", "group-dro", "jtt"].contains(value) else { throw fail(v, "unknown loss '\(value)' (erm, group-dro, jtt)") }
                    i.loss = value
                case "mode":
                    guard ["full", "linear", "last-layer"].contains(value) else { throw fail(v, "unknown mode '\(value)' (full, linear, last-layer)") }
                    i.mode = value
                case "feature_distance":
                    guard let w = Float(value), w > 0, w.isFinite else { throw fail(v, "feature_distance must be a positive number (the penalty's weight)") }
                    i.featureDistance = w
                case "adversarial":
                    guard let b = v.bool else { throw fail(v, "adversarial must be true or false (fine-tune with the manifest's adversarial recipe)") }
                    i.adversarial = b
                default: i.options[key] = value
                }
            }
            guard !i.name.isEmpty else { throw fail(item, "an intervention needs a name") }
            // The name becomes part of file names in the run's folder: letters, digits, '.', '-'
            // and '_' only, never '/' or '..' (which would write outside it) or '__' (the cells'
            // separator).
            let nameCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
            guard i.name.allSatisfy(nameCharacters.contains), i.name.first.map({ $0 != "." && $0 != "-" }) == true, !i.name.contains("__") else {
                throw fail(item, "intervention name '\(i.name)': use letters, digits, '.', '-' and single '_' (it names the run's files)")
            }
            // Each option is checked against its strategy here: a misspelt key or a bad value
            // must not quietly run the strategy's default.
            let allowed = optionKeys[i.strategy ?? ""] ?? []
            for (key, value) in i.options.sorted(by: { $0.key < $1.key }) {
                let node = optionNodes[key]
                guard allowed.contains(key) else {
                    throw fail(node, "intervention \(i.name): unknown key '\(key)'" + (i.strategy.map { " for \($0) (\(allowed.sorted().joined(separator: ", ")))" } ?? " (it has no strategy; give strategy: first)"))
                }
                switch key {
                case "per_cell":
                    guard let n = Int(value), n > 0 else { throw fail(node, "intervention \(i.name): per_cell must be a positive integer, not '\(value)'") }
                case "method":
                    guard Strategies.ReweightMethod(rawValue: value) != nil else {
                        throw fail(node, "intervention \(i.name): unknown method '\(value)' (\(Strategies.ReweightMethod.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                case "strength":
                    guard let x = Double(value), x.isFinite, (-1...1).contains(x) else { throw fail(node, "intervention \(i.name): strength must be a number from -1 to 1, not '\(value)'") }
                case "share":
                    guard let x = Double(value), x.isFinite, (0...1).contains(x) else { throw fail(node, "intervention \(i.name): share must be a number from 0 to 1, not '\(value)'") }
                case "transforms":
                    do { _ = try AugmentTransform.parse(value) } catch { throw fail(node, "intervention \(i.name): \(error)") }
                default: break
                }
            }
            m.lines["intervention." + i.name] = line(item)
            if i.strategy == "proportion" && i.options["group"] == nil { throw fail(item, "intervention \(i.name): proportion needs a group (a value of the attribute)") }
            if i.strategy == "proportion" && i.options["share"] == nil { throw fail(item, "intervention \(i.name): proportion needs a share (the group's share, 0 to 1)") }
            if i.strategy == "correlate" && i.options["strength"] == nil { throw fail(item, "intervention \(i.name): correlate needs a strength (the target correlation, -1 to 1)") }
            m.interventions.append(i)
        }
        if !m.features.isEmpty, let i = m.interventions.first(where: { $0.strategy == "augment" || $0.strategy == "ffr" }) {
            throw fail(fields["features"], "intervention \(i.name): \(i.strategy!) makes new images, which a feature file cannot cover; use images, or another strategy")
        }
        let names = m.interventions.map(\.name)
        if let dup = names.first(where: { n in names.filter { $0 == n }.count > 1 }) { throw fail(fields["interventions"], "two interventions are named '\(dup)'") }
        if !names.contains("none") { throw fail(fields["interventions"], "the interventions must include 'none' (the baseline)") }
        m.transfers = try strings(fields["transfers"], "transfers")
        if m.transfers.isEmpty { m.transfers = ["linear", "full"] }
        for t in m.transfers where !["linear", "full"].contains(t) { throw fail(fields["transfers"], "unknown transfer '\(t)' (linear, full)") }
        m.sources = try strings(fields["sources"], "sources")
        if m.sources.isEmpty { m.sources = ["biased", "clean"] }
        for s in m.sources where !sourceNames.contains(s) { throw fail(fields["sources"], "unknown source '\(s)' (\(sourceNames.joined(separator: ", ")))") }
        if let a = fields["adversarial"] {
            m.adversarial = try attackSpec(a, "adversarial", several: false)
        }
        if let a = fields["attack"] {
            m.attack = try attackSpec(a, "attack", several: true)
        }
        if m.adversarial == nil {
            if let s = m.sources.first(where: { standardCounterpart[$0] != nil }) {
                throw fail(fields["sources"], "source '\(s)' is trained adversarially: give the recipe as adversarial: {attack: pgd, epsilon: 0.1, steps: 7}")
            }
            if let i = m.interventions.first(where: \.adversarial) {
                throw fail(fields["interventions"], "intervention \(i.name) fine-tunes adversarially: give the recipe as adversarial: {attack: pgd, epsilon: 0.1, steps: 7}")
            }
        }
        if let r = fields["recipe"] {
            guard let map = r.mapping else { throw fail(r, "recipe must be a mapping") }
            for (k, v) in map {
                let key = try string(k, "a key")
                guard recipeKeys.contains(key) else { throw fail(k, "unknown recipe key '\(key)' (\(recipeKeys.sorted().joined(separator: ", ")))") }
                switch key {
                case "model": m.model = try string(v, key)
                case "size": m.size = try int(v, key, 28)
                case "channels":
                    m.channels = try int(v, key, 1)
                    guard [1, 3].contains(m.channels) else { throw fail(v, "channels must be 1 or 3") }
                case "epochs": m.epochs = try int(v, key, 3)
                case "source_epochs": m.sourceEpochs = try int(v, key, 3)
                case "batch_size": m.batchSize = try int(v, key, 128)
                default:
                    guard let f = v.float, f > 0, f.isFinite, Float(f).isFinite else { throw fail(v, "lr must be a positive, finite number") }
                    m.learningRate = Float(f)
                }
            }
        }
        if let s = fields["seeds"] {
            guard let seq = s.sequence, !seq.isEmpty else { throw fail(s, "seeds must be a non-empty list of integers") }
            var seen = Set<UInt64>()
            m.seeds = try seq.map { n in
                guard let v = n.string.flatMap({ UInt64($0) }) else { throw fail(n, "a seed must be an integer from 0 to \(UInt64.max)") }
                guard seen.insert(v).inserted else { throw fail(n, "seed \(v) is given twice (it would count as two runs)") }
                return v
            }
        }
        if !m.features.isEmpty && (m.attack != nil || m.adversarial != nil) {
            throw fail(fields["attack"] ?? fields["adversarial"], "attacks perturb images: an experiment on feature files cannot declare attack or adversarial")
        }
        if !m.features.isEmpty && !["linear", "mlp"].contains(m.model) {
            throw fail(fields["recipe"] ?? root, "with features the model must be linear or mlp (a head on the vectors), not \(m.model)")
        }
        // A linear model is all head: fine-tuning replaces it whole, so every source, and either
        // transfer, would give the same cells, and an inherited bias of exactly 0.
        if m.model == "linear", let s = m.sources.first(where: { $0 != "scratch" }) {
            throw fail(fields["sources"] ?? fields["recipe"] ?? root, "source '\(s)': a linear model has no layers below its head for a source to pass on, "
                       + "so every source gives the same cells; use sources: [scratch], or model: mlp to study transfer")
        }
        if m.model == "linear" && m.transfers.count > 1 {
            throw fail(fields["transfers"] ?? fields["recipe"] ?? root, "a linear model is all head: linear and full fine-tuning are the same; give one transfer")
        }
        return m
    }
}
