import DatasetCatalog
import Features
import Foundation
import NeuralNet
import Training

/// How much a set of feature vectors (a pretrained model's embeddings) encodes each sensitive
/// attribute: the root of inherited bias. For each attribute:
/// - a linear probe (multinomial logistic regression on standardised features, classes weighted
///   equally) cross-validated over `folds` folds; its balanced accuracy on the pooled
///   out-of-fold predictions, with a 95% normal interval from the per-class recalls'
///   binomial variances (var = sum_c r_c (1 - r_c) / n_c / k^2), beside chance (1/k);
/// - the per-group centroids' pairwise Euclidean distances, raw and divided by the groups'
///   pooled spread (root mean squared distance to the centroid), so 1 means "as far apart as
///   a typical point is from its own centroid".
public struct FeatureAudit: Sendable {
    public struct Probe: Sendable {
        public var attribute: String
        public var groups: [String]
        public var counts: [Int]
        /// Per-group recall of the out-of-fold predictions.
        public var recalls: [Double]
        public var balancedAccuracy: Double
        public var low: Double
        public var high: Double
        public var chance: Double
        public var folds: Int
        /// Rows the probe used (rows with an empty value are left out; large sets are sampled).
        public var rows: Int
    }

    public struct Centroids: Sendable {
        public var attribute: String
        public var groups: [String]
        public var counts: [Int]
        /// Root mean squared distance of a group's vectors to its centroid.
        public var spreads: [Double]
        /// distances[i][j]: between the centroids of groups i and j.
        public var distances: [[Double]]
        /// distances[i][j] / sqrt((spread_i^2 + spread_j^2) / 2).
        public var normalized: [[Double]]
    }

    public var source: String
    public var layout: String
    public var rows: Int
    public var dimension: Int
    public var probes: [Probe]
    public var centroids: [Centroids]
    /// Attributes left out of the probe, and why (one value; a group too small to fold).
    public var skipped: [(attribute: String, reason: String)] = []

    public struct Options: Sendable {
        public var folds = 5
        /// The probe trains on at most this many rows (a seeded sample); centroids use all.
        public var maxProbeRows = 100_000
        public var epochs = 20
        public var seed: UInt64 = 0
        public init() {}
    }

    /// Audits `data`'s feature vectors (from `ImageData.load(_:features:)`) against `attributes`.
    public static func run(_ data: ImageData, attributes: [String], options: Options = Options()) throws -> FeatureAudit {
        guard let matrix = data.features else { throw TrainingError("the feature audit needs feature vectors") }
        var probes: [Probe] = []
        var centroids: [Centroids] = []
        var skipped: [(String, String)] = []
        for attribute in attributes {
            guard let values = data.column(attribute) else { throw TrainingError("\(data.named("the manifest")): no column \"\(attribute)\"") }
            let groups = Array(Set(values.filter { !$0.isEmpty })).sorted()
            guard groups.count >= 2 else {
                skipped.append((attribute, groups.isEmpty ? "every value is empty" : "one value only (\(groups[0])): nothing to tell apart"))
                continue
            }
            let index = Dictionary(uniqueKeysWithValues: groups.enumerated().map { ($1, $0) })
            let ids = values.map { $0.isEmpty ? -1 : index[$0]! }
            centroids.append(centroidReport(data, matrix: matrix, attribute: attribute, groups: groups, ids: ids))
            switch probe(data, matrix: matrix, attribute: attribute, groups: groups, ids: ids, options: options) {
            case .success(let p): probes.append(p)
            case .failure(let tooSmall):
                let small = tooSmall.groups
                skipped.append((attribute, "the probe needs at least 2 rows a group; \(small.prefix(3).joined(separator: ", ")) \(small.count == 1 ? "has" : "have") fewer (its centroid distances rest on them too)"))
            }
        }
        var audit = FeatureAudit(source: matrix.source, layout: matrix.layout, rows: data.count, dimension: matrix.dimension,
                                 probes: probes, centroids: centroids)
        audit.skipped = skipped
        return audit
    }

    static func centroidReport(_ data: ImageData, matrix: FeatureMatrix, attribute: String, groups: [String], ids: [Int]) -> Centroids {
        let d = matrix.dimension, k = groups.count
        var sums = [Double](repeating: 0, count: k * d)
        var squares = [Double](repeating: 0, count: k)
        var counts = [Int](repeating: 0, count: k)
        sums.withUnsafeMutableBufferPointer { s in
            for (i, g) in ids.enumerated() where g >= 0 {
                let x = matrix.row(data.featureRows[i])
                let base = s.baseAddress! + g * d
                var sq = 0.0
                for j in 0..<d {
                    let v = Double(x[j])
                    base[j] += v
                    sq += v * v
                }
                squares[g] += sq
                counts[g] += 1
            }
        }
        var means = [[Double]](repeating: [], count: k)
        var spreads = [Double](repeating: 0, count: k)
        for g in 0..<k {
            let n = Double(max(counts[g], 1))
            means[g] = (0..<d).map { sums[g * d + $0] / n }
            let norm2 = means[g].reduce(0) { $0 + $1 * $1 }
            spreads[g] = max(0, squares[g] / n - norm2).squareRoot()
        }
        var distances = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        var normalized = distances
        for a in 0..<k {
            for b in 0..<k where a != b {
                var s = 0.0
                for j in 0..<d { let t = means[a][j] - means[b][j]; s += t * t }
                distances[a][b] = s.squareRoot()
                let pooled = ((spreads[a] * spreads[a] + spreads[b] * spreads[b]) / 2).squareRoot()
                normalized[a][b] = pooled > 0 ? distances[a][b] / pooled : 0
            }
        }
        return Centroids(attribute: attribute, groups: groups, counts: counts, spreads: spreads, distances: distances, normalized: normalized)
    }

    /// The groups too small (under 2 sampled rows) for the probe's folds.
    struct TooSmall: Error { var groups: [String] }

    static func probe(_ data: ImageData, matrix: FeatureMatrix, attribute: String, groups: [String], ids: [Int], options: Options) -> Result<Probe, TooSmall> {
        var rows = ids.indices.filter { ids[$0] >= 0 }
        let k = groups.count
        if rows.count > options.maxProbeRows {
            var rng = SplitMix64(seed: options.seed, stream: 0xFA0D17, 0)
            let p = rng.permutation(rows.count)
            rows = p.prefix(options.maxProbeRows).sorted().map { rows[$0] }
        }
        let counts = (0..<k).map { g in rows.filter { ids[$0] == g }.count }
        guard counts.allSatisfy({ $0 >= 2 }) else { return .failure(TooSmall(groups: groups.indices.filter { counts[$0] < 2 }.map { groups[$0] })) }
        let d = matrix.dimension
        // Standardised copies of the sampled rows (mean 0, variance 1 per feature).
        var x = [Float](repeating: 0, count: rows.count * d)
        var mean = [Double](repeating: 0, count: d), m2 = [Double](repeating: 0, count: d)
        for r in rows { let v = matrix.row(data.featureRows[r]); for j in 0..<d { mean[j] += Double(v[j]) } }
        for j in 0..<d { mean[j] /= Double(rows.count) }
        for r in rows { let v = matrix.row(data.featureRows[r]); for j in 0..<d { let t = Double(v[j]) - mean[j]; m2[j] += t * t } }
        let scale = m2.map { v -> Float in let s = (v / Double(rows.count)).squareRoot(); return s > 1e-12 ? Float(1 / s) : 0 }
        x.withUnsafeMutableBufferPointer { out in
            for (i, r) in rows.enumerated() {
                let v = matrix.row(data.featureRows[r])
                for j in 0..<d { out[i * d + j] = (v[j] - Float(mean[j])) * scale[j] }
            }
        }
        let features = Tensor(shape: [rows.count, d], storage: x)
        let labels = rows.map { ids[$0] }
        // Stratified folds: each group's rows dealt round-robin after a seeded shuffle.
        let folds = max(2, min(options.folds, counts.min()!))
        var fold = [Int](repeating: 0, count: rows.count)
        var rng = SplitMix64(seed: options.seed, stream: 0xF01D, 0)
        for g in 0..<k {
            let members = labels.indices.filter { labels[$0] == g }
            let order = rng.permutation(members.count)
            for (n, o) in order.enumerated() { fold[members[o]] = n % folds }
        }
        var predicted = [Int](repeating: 0, count: rows.count)
        for f in 0..<folds {
            let train = fold.indices.filter { fold[$0] != f }
            let test = fold.indices.filter { fold[$0] == f }
            var recipe = TrainingRecipe()
            recipe.epochs = options.epochs
            recipe.batchSize = 256
            recipe.learningRate = 0.05
            recipe.weightDecay = 1e-4
            recipe.schedule = .cosine
            recipe.seed = options.seed &+ UInt64(f)
            let net = ModelSpec(name: .linear, height: 1, width: 1, channels: d, classes: k).build(seed: recipe.seed)
            // Classes weighted equally, so the probe aims at balanced accuracy.
            var classCount = [Int](repeating: 0, count: k)
            for i in train { classCount[labels[i]] += 1 }
            let weights = train.map { Float(train.count) / Float(k * max(classCount[labels[$0]], 1)) }
            let trainLabels = train.map { labels[$0] }
            _ = FitLoop(recipe: recipe, stage: "probe").fit(net, count: train.count, epochs: recipe.epochs,
                                                             input: { idx, _ in features.gather(idx.map { train[$0] }) },
                                                             labels: trainLabels, weights: weights)
            let p = predict(net, count: test.count) { idx in features.gather(idx.map { test[$0] }) }
            for (n, i) in test.enumerated() { predicted[i] = p.classes[n] }
        }
        var recalls = [Double](repeating: 0, count: k)
        for (i, y) in labels.enumerated() where predicted[i] == y { recalls[y] += 1 }
        for g in 0..<k { recalls[g] /= Double(counts[g]) }
        let ba = recalls.reduce(0, +) / Double(k)
        let variance = (0..<k).reduce(0.0) { $0 + recalls[$1] * (1 - recalls[$1]) / Double(counts[$1]) } / Double(k * k)
        let half = 1.959963984540054 * variance.squareRoot()
        return .success(Probe(attribute: attribute, groups: groups, counts: counts, recalls: recalls, balancedAccuracy: ba,
                              low: max(0, ba - half), high: min(1, ba + half), chance: 1 / Double(k), folds: folds, rows: rows.count))
    }

    public var json: JSONValue {
        .object([
            ("source", .string(source)), ("layout", .string(layout)), ("rows", .int(rows)), ("dimension", .int(dimension)),
            ("skipped", .object(skipped.map { ($0.attribute, .string($0.reason)) })),
            ("attribute_probes", .object(probes.map { p in
                (p.attribute, .object([
                    ("balanced_accuracy", .number(p.balancedAccuracy)), ("interval_95", .array([.number(p.low), .number(p.high)])),
                    ("chance", .number(p.chance)), ("folds", .int(p.folds)), ("rows", .int(p.rows)),
                    ("groups", .object(zip(p.groups, zip(p.counts, p.recalls)).map { g, cr in
                        (g, .object([("count", .int(cr.0)), ("recall", .number(cr.1))]))
                    })),
                ]))
            })),
            ("centroids", .object(centroids.map { c in
                (c.attribute, .object([
                    ("groups", .object(zip(c.groups, zip(c.counts, c.spreads)).map { g, cs in
                        (g, .object([("count", .int(cs.0)), ("spread", .number(cs.1))]))
                    })),
                    ("distances", .array(pairs(c).map { a, b in
                        .object([("a", .string(c.groups[a])), ("b", .string(c.groups[b])),
                                 ("distance", .number(c.distances[a][b])), ("normalized", .number(c.normalized[a][b]))])
                    })),
                ]))
            })),
        ])
    }

    /// Each unordered pair of a report's groups, (a, b) with a < b.
    public func pairs(_ c: Centroids) -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        for a in 0..<c.groups.count { for b in (a + 1)..<c.groups.count { out.append((a, b)) } }
        return out
    }

    public var markdown: String {
        var md = "## Features (\(source))\n\n\(rows) rows x \(dimension) values; \(layout).\n\n"
        md += "How well a linear probe predicts each attribute from the features (cross-validated balanced accuracy; chance is 1/groups):\n\n"
        md += "| attribute | balanced accuracy | 95% interval | chance | folds | rows |\n|---|---:|---:|---:|---:|---:|\n"
        for p in probes {
            md += String(format: "| %@ | %.3f | %.3f-%.3f | %.3f | %d | %d |\n", p.attribute, p.balancedAccuracy, p.low, p.high, p.chance, p.folds, p.rows)
        }
        md += "\nCentroid distances (raw; and in units of the groups' pooled spread):\n\n| attribute | groups | distance | normalized |\n|---|---|---:|---:|\n"
        for c in centroids {
            for (a, b) in pairs(c) {
                md += String(format: "| %@ | %@ vs %@ | %.4g | %.3f |\n", c.attribute, c.groups[a], c.groups[b], c.distances[a][b], c.normalized[a][b])
            }
        }
        return md
    }

    /// Findings: an attribute the features predict well above chance is encoded in them.
    public var findings: [Finding] {
        probes.compactMap { p in
            let excess = (p.low - p.chance) / (1 - p.chance)
            guard excess > 0.1 else { return nil }
            let severity: Finding.Severity = excess > 0.5 ? .high : excess > 0.25 ? .medium : .low
            return Finding(severity: severity, kind: "attribute_in_features", attribute: p.attribute,
                           message: String(format: "the features encode %@: a linear probe's balanced accuracy is %.3f (95%% %.3f-%.3f; chance %.3f)",
                                           p.attribute, p.balancedAccuracy, p.low, p.high, p.chance),
                           magnitude: excess, numbers: [("balanced_accuracy", .number(p.balancedAccuracy)), ("chance", .number(p.chance))])
        }
    }
}
