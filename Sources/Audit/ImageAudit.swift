import DatasetCatalog
import Foundation

/// What the scan catalog says about the manifest's images, by group: pixel statistics with
/// standardised mean differences, how separable real and synthetic images are on them, and
/// duplicates and leakage between splits.
public struct ImageAudit: Sendable {
    public static let statisticNames = ["brightness", "colourfulness", "width", "height"]

    public struct GroupStatistics: Sendable {
        public var value: String
        public var images: Int
        public var means: [Double]
        public var deviations: [Double]
    }

    public struct AttributeImages: Sendable {
        public var attribute: String
        public var groups: [GroupStatistics]
        /// Per statistic, the largest |SMD| between two groups, and which two.
        public var largestDifference: [(statistic: String, smd: Double, groups: (String, String))]
    }

    public struct Separability: Sendable {
        public var real: Int
        public var synthetic: Int
        /// Per statistic, the area under the ROC curve of the statistic alone (0.5: no signal;
        /// reported as max(AUC, 1 - AUC)).
        public var auc: [(statistic: String, auc: Double)]
        /// Balanced accuracy of a nearest-centroid classifier on the standardised statistics,
        /// 5-fold cross-validated (folds by row position).
        public var balancedAccuracy: Double
    }

    public var catalog: String
    public var covered: Int
    public var uncovered: Int
    public var attributes: [AttributeImages]
    public var separability: Separability?
    public var duplicateClusters: [DuplicateCluster]
    public var leakingClusters: Int { duplicateClusters.filter(\.leaks).count }

    /// - Parameter groups: per attribute analysis, its name and each row's group (nil: unknown).
    static func compute(manifest: Manifest, catalog: Catalog, catalogPath: String,
                        groups: [(name: String, values: [String], codes: [Int32])]) throws -> ImageAudit {
        let (_, pathOfRow, records, clusters) = try Scanner.catalogFacts(manifest: manifest, catalog: catalog)
        // Per row: the statistics vector, when the image decoded.
        let stats: [[Double]?] = pathOfRow.map { i in
            let r = records[i]
            guard r.status == .ok, let s = r.statistics, let w = r.width, let h = r.height else { return nil }
            return [s.brightness, s.colourfulness, Double(w), Double(h)]
        }
        let covered = stats.filter { $0 != nil }.count
        var attributes: [AttributeImages] = []
        for g in groups {
            var sums = [[Double]](repeating: [0, 0, 0, 0], count: g.values.count)
            var squares = sums
            var counts = [Int](repeating: 0, count: g.values.count)
            for (r, s) in stats.enumerated() {
                guard let s, g.codes[r] >= 0 else { continue }
                let c = Int(g.codes[r])
                counts[c] += 1
                for k in 0..<4 {
                    sums[c][k] += s[k]
                    squares[c][k] += s[k] * s[k]
                }
            }
            var out: [GroupStatistics] = []
            for (c, v) in g.values.enumerated() where counts[c] > 0 {
                let n = Double(counts[c])
                let means = sums[c].map { $0 / n }
                let sds = (0..<4).map { k in counts[c] > 1 ? max(0, (squares[c][k] - n * means[k] * means[k]) / (n - 1)).squareRoot() : 0 }
                out.append(GroupStatistics(value: v, images: counts[c], means: means, deviations: sds))
            }
            var largest: [(String, Double, (String, String))] = []
            for (k, name) in statisticNames.enumerated() {
                var best: (Double, (String, String))? = nil
                for i in out.indices {
                    for j in out.indices where j > i {
                        if let d = Statistics.standardizedMeanDifference(mean1: out[i].means[k], sd1: out[i].deviations[k],
                                                                        mean2: out[j].means[k], sd2: out[j].deviations[k]),
                           abs(d) > abs(best?.0 ?? 0) {
                            best = (d, (out[i].value, out[j].value))
                        }
                    }
                }
                if let best { largest.append((name, best.0, best.1)) }
            }
            attributes.append(AttributeImages(attribute: g.name, groups: out, largestDifference: largest))
        }

        var separability: Separability?
        if manifest.has("origin") {
            let origins = manifest.origins
            var real: [[Double]] = [], synthetic: [[Double]] = [], labelled: [([Double], Bool)] = []
            for (r, s) in stats.enumerated() {
                guard let s else { continue }
                if origins[r] == "synthetic" { synthetic.append(s); labelled.append((s, true)) }
                else if origins[r] == "real" { real.append(s); labelled.append((s, false)) }
            }
            if !real.isEmpty && !synthetic.isEmpty {
                let auc = statisticNames.indices.map { k -> (String, Double) in
                    let a = ImageAudit.auc(positive: synthetic.map { $0[k] }, negative: real.map { $0[k] })
                    return (statisticNames[k], max(a, 1 - a))
                }
                separability = Separability(real: real.count, synthetic: synthetic.count, auc: auc,
                                            balancedAccuracy: ImageAudit.nearestCentroidCV(labelled))
            }
        }
        return ImageAudit(catalog: catalogPath, covered: covered, uncovered: manifest.count - covered, attributes: attributes,
                          separability: separability, duplicateClusters: clusters)
    }

    /// The Mann-Whitney AUC: P(positive > negative) + P(tie) / 2, by ranks.
    static func auc(positive: [Double], negative: [Double]) -> Double {
        let all = positive.map { ($0, true) } + negative.map { ($0, false) }
        let sorted = all.sorted { $0.0 < $1.0 }
        var rankSum = 0.0
        var i = 0
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count && sorted[j + 1].0 == sorted[i].0 { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for k in i...j where sorted[k].1 { rankSum += rank }
            i = j + 1
        }
        let np = Double(positive.count), nn = Double(negative.count)
        return (rankSum - np * (np + 1) / 2) / (np * nn)
    }

    /// 5-fold cross-validated nearest-centroid classification on standardised features.
    static func nearestCentroidCV(_ rows: [([Double], Bool)]) -> Double {
        let k = rows.first?.0.count ?? 0
        var correct = [0, 0], totals = [0, 0]
        for fold in 0..<5 {
            let train = rows.enumerated().filter { $0.offset % 5 != fold }.map(\.element)
            let test = rows.enumerated().filter { $0.offset % 5 == fold }.map(\.element)
            guard !train.isEmpty, !test.isEmpty else { continue }
            let n = Double(train.count)
            let mean = (0..<k).map { f in train.reduce(0.0) { $0 + $1.0[f] } / n }
            let sd = (0..<k).map { f in max(1e-12, (train.reduce(0.0) { $0 + ($1.0[f] - mean[f]) * ($1.0[f] - mean[f]) } / n).squareRoot()) }
            func z(_ x: [Double]) -> [Double] { (0..<k).map { (x[$0] - mean[$0]) / sd[$0] } }
            var centroids = [[Double]](repeating: [Double](repeating: 0, count: k), count: 2)
            var counts = [0.0, 0.0]
            for (x, s) in train {
                let c = s ? 1 : 0
                counts[c] += 1
                for (f, v) in z(x).enumerated() { centroids[c][f] += v }
            }
            guard counts[0] > 0, counts[1] > 0 else { continue }
            for c in 0..<2 { centroids[c] = centroids[c].map { $0 / counts[c] } }
            for (x, s) in test {
                let v = z(x)
                let d = centroids.map { c in zip(c, v).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } }
                let predicted = d[1] < d[0]
                totals[s ? 1 : 0] += 1
                if predicted == s { correct[s ? 1 : 0] += 1 }
            }
        }
        let rates = (0..<2).compactMap { totals[$0] > 0 ? Double(correct[$0]) / Double(totals[$0]) : nil }
        return rates.isEmpty ? 0.5 : rates.reduce(0, +) / Double(rates.count)
    }
}
