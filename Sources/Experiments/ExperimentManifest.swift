import Foundation
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

    static let topKeys: Set<String> = ["name", "benchmark", "datasets", "attribute", "by", "interventions", "transfers", "sources", "recipe", "seeds", "features"]
    static let recipeKeys: Set<String> = ["model", "size", "channels", "epochs", "source_epochs", "batch_size", "lr"]
    static let strategies: Set<String> = ["undersample", "oversample", "reweight", "correlate", "proportion", "augment", "ffr"]

    public static func load(_ path: String) throws -> ExperimentManifest {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ExperimentError(path, nil, "cannot read the file") }
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
        var m = ExperimentManifest(file: path, name: (try? string(fields["name"], "name")) ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent,
                                   benchmark: nil, datasets: [:], attribute: "", by: [], interventions: [], transfers: [], sources: [],
                                   model: "cnn-small", size: 28, channels: 1, epochs: 3, sourceEpochs: 3, batchSize: 128, learningRate: 0.05, seeds: [0, 1, 2])
        if let b = fields["benchmark"] { m.benchmark = try string(b, "benchmark") }
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
            }
            for key in ["target", "test"] where m.features[key] == nil {
                throw fail(f, "features need at least target and test (and the sources the experiment uses)")
            }
            for i in m.interventions where i.strategy == "augment" || i.strategy == "ffr" {
                throw fail(f, "intervention \(i.name): \(i.strategy!) makes new images, which a feature file cannot cover; use images, or another strategy")
            }
        }
        if m.benchmark == nil {
            for key in ["source_biased", "source_clean", "target", "test"] where m.datasets[key] == nil {
                throw fail(fields["datasets"] ?? root, "give a benchmark, or datasets with \(key)")
            }
        }
        m.attribute = try string(fields["attribute"], "attribute")
        m.by = try strings(fields["by"], "by")
        if m.by.isEmpty { m.by = ["label", m.attribute] }
        guard let ins = fields["interventions"]?.sequence, !ins.isEmpty else {
            throw fail(fields["interventions"] ?? root, "interventions must be a non-empty list")
        }
        for item in ins {
            if let s = item.scalar?.string {
                m.interventions.append(Intervention(name: s, strategy: strategies.contains(s) ? s : nil, options: [:],
                                                    loss: ["group-dro", "jtt"].contains(s) ? s : "erm", mode: s == "dfr" ? "last-layer" : nil))
                continue
            }
            guard let map = item.mapping else { throw fail(item, "an intervention is a name or a mapping") }
            var i = Intervention(name: "", strategy: nil, options: [:], loss: "erm", mode: nil)
            for (k, v) in map {
                let key = try string(k, "a key")
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
                default: i.options[key] = value
                }
            }
            guard !i.name.isEmpty else { throw fail(item, "an intervention needs a name") }
            m.interventions.append(i)
        }
        let names = m.interventions.map(\.name)
        if let dup = names.first(where: { n in names.filter { $0 == n }.count > 1 }) { throw fail(fields["interventions"], "two interventions are named '\(dup)'") }
        if !names.contains("none") { throw fail(fields["interventions"], "the interventions must include 'none' (the baseline)") }
        m.transfers = try strings(fields["transfers"], "transfers")
        if m.transfers.isEmpty { m.transfers = ["linear", "full"] }
        for t in m.transfers where !["linear", "full"].contains(t) { throw fail(fields["transfers"], "unknown transfer '\(t)' (linear, full)") }
        m.sources = try strings(fields["sources"], "sources")
        if m.sources.isEmpty { m.sources = ["biased", "clean"] }
        for s in m.sources where !["biased", "clean", "scratch"].contains(s) { throw fail(fields["sources"], "unknown source '\(s)' (biased, clean, scratch)") }
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
                    guard let f = v.float, f > 0 else { throw fail(v, "lr must be a positive number") }
                    m.learningRate = Float(f)
                }
            }
        }
        if let s = fields["seeds"] {
            guard let seq = s.sequence, !seq.isEmpty else { throw fail(s, "seeds must be a non-empty list of integers") }
            m.seeds = try seq.map { n in
                guard let v = n.int, v >= 0 else { throw fail(n, "a seed must be a non-negative integer") }
                return UInt64(v)
            }
        }
        if !m.features.isEmpty && !["linear", "mlp"].contains(m.model) {
            throw fail(fields["recipe"] ?? root, "with features the model must be linear or mlp (a head on the vectors), not \(m.model)")
        }
        return m
    }
}
