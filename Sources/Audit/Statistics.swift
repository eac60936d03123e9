import Foundation

/// The statistics the audit reports, written from their definitions (and checked in the
/// tests against scipy, scikit-learn, fairlearn and AIF360).
public enum Statistics {
    /// z for a two-sided 95% interval.
    public static let z95 = 1.959963984540054

    /// The Wilson score interval for a proportion p observed on n trials (n may be an
    /// effective sample size). Returns (0, 0) when n is 0.
    public static func wilson(p: Double, n: Double, z: Double = z95) -> (low: Double, high: Double) {
        guard n > 0 else { return (0, 0) }
        let z2 = z * z
        let denominator = 1 + z2 / n
        let centre = (p + z2 / (2 * n)) / denominator
        let half = z * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot() / denominator
        return (max(0, centre - half), min(1, centre + half))
    }

    /// Pearson's chi-square statistic of independence (no continuity correction, as scipy's
    /// chi2_contingency(correction=False)) of a rows x columns table, with its degrees of
    /// freedom. Rows or columns that sum to zero are left out.
    public static func chiSquare(_ table: [[Double]]) -> (chi2: Double, dof: Int) {
        let rows = table.indices.filter { table[$0].reduce(0, +) > 0 }
        guard let first = table.first else { return (0, 0) }
        let columns = first.indices.filter { c in table.reduce(0) { $0 + $1[c] } > 0 }
        let total = rows.reduce(0.0) { s, r in s + columns.reduce(0.0) { $0 + table[r][$1] } }
        guard rows.count > 1, columns.count > 1, total > 0 else { return (0, 0) }
        let rowSums = rows.map { r in columns.reduce(0.0) { $0 + table[r][$1] } }
        let columnSums = columns.map { c in rows.reduce(0.0) { $0 + table[$1][c] } }
        var chi2 = 0.0
        for (i, r) in rows.enumerated() {
            for (j, c) in columns.enumerated() {
                let expected = rowSums[i] * columnSums[j] / total
                let d = table[r][c] - expected
                chi2 += d * d / expected
            }
        }
        return (chi2, (rows.count - 1) * (columns.count - 1))
    }

    /// P(X >= x) for X chi-square with `dof` degrees of freedom: the regularised upper
    /// incomplete gamma function Q(dof/2, x/2).
    public static func chiSquarePValue(_ x: Double, dof: Int) -> Double {
        guard dof > 0 else { return .nan }
        if x <= 0 { return 1 }
        return upperRegularizedGamma(Double(dof) / 2, x / 2)
    }

    /// Q(a, x) = Gamma(a, x) / Gamma(a): the series for P when x < a + 1, Lentz's continued
    /// fraction for Q otherwise (Numerical Recipes 6.2), both to double precision.
    public static func upperRegularizedGamma(_ a: Double, _ x: Double) -> Double {
        if x <= 0 { return 1 }
        let logPrefix = a * log(x) - x - lgamma(a)
        if x < a + 1 {
            var term = 1 / a, sum = term, n = a
            for _ in 0..<100_000 {
                n += 1
                term *= x / n
                sum += term
                if abs(term) < abs(sum) * 1e-17 { break }
            }
            return max(0, 1 - sum * exp(logPrefix))
        }
        let tiny = 1e-300
        var b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d
        for i in 1...100_000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-17 { break }
        }
        return exp(logPrefix) * h
    }

    /// Cramér's V, sqrt(chi2 / (n (min(r, c) - 1))), and Bergsma's (2013) bias-corrected
    /// variant: phi2+ = max(0, chi2/n - (r-1)(c-1)/(n-1)), r~ = r - (r-1)^2/(n-1),
    /// c~ = c - (c-1)^2/(n-1), V~ = sqrt(phi2+ / min(r~ - 1, c~ - 1)).
    public static func cramersV(chi2: Double, n: Double, rows: Int, columns: Int) -> (v: Double?, corrected: Double?) {
        let k = min(rows, columns)
        guard k > 1, n > 0 else { return (nil, nil) }
        let v = (chi2 / (n * Double(k - 1))).squareRoot()
        guard n > 1 else { return (v, nil) }
        let r = Double(rows), c = Double(columns)
        let phi2 = max(0, chi2 / n - (r - 1) * (c - 1) / (n - 1))
        let rc = r - (r - 1) * (r - 1) / (n - 1), cc = c - (c - 1) * (c - 1) / (n - 1)
        let denominator = min(rc - 1, cc - 1)
        return (v, denominator > 0 ? (phi2 / denominator).squareRoot() : nil)
    }

    /// Mutual information (nats) of a contingency table of (weighted) counts, and its
    /// normalisation by the arithmetic mean of the two entropies (scikit-learn's default).
    public static func mutualInformation(_ table: [[Double]]) -> (nats: Double, normalized: Double?) {
        let total = table.reduce(0.0) { $0 + $1.reduce(0, +) }
        guard total > 0, let first = table.first else { return (0, nil) }
        let rowSums = table.map { $0.reduce(0, +) }
        let columnSums = first.indices.map { c in table.reduce(0.0) { $0 + $1[c] } }
        var mi = 0.0
        for (r, row) in table.enumerated() {
            for (c, count) in row.enumerated() where count > 0 {
                mi += count / total * log(count * total / (rowSums[r] * columnSums[c]))
            }
        }
        mi = max(0, mi)
        func entropy(_ xs: [Double]) -> Double {
            xs.reduce(0.0) { $1 > 0 ? $0 - $1 / total * log($1 / total) : $0 }
        }
        let mean = (entropy(rowSums) + entropy(columnSums)) / 2
        return (mi, mean > 0 ? mi / mean : nil)
    }

    /// Kish's effective sample size of weights: (sum w)^2 / sum w^2.
    public static func effectiveSize(sum: Double, sumOfSquares: Double) -> Double {
        sumOfSquares > 0 ? sum * sum / sumOfSquares : 0
    }

    /// The standardised mean difference (m1 - m2) / sqrt((s1^2 + s2^2) / 2).
    public static func standardizedMeanDifference(mean1: Double, sd1: Double, mean2: Double, sd2: Double) -> Double? {
        let pooled = ((sd1 * sd1 + sd2 * sd2) / 2).squareRoot()
        return pooled > 0 ? (mean1 - mean2) / pooled : nil
    }
}
