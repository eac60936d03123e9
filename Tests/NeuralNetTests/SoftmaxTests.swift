import Foundation
import Testing
@testable import NeuralNet

/// The probe loop's many-row softmax against the one-row one, and its exponential against
/// glibc's `expf` (an independent implementation).
struct SoftmaxTests {
    /// Every 4,099th float from -87.3 to 0 (the range softmax gives its exponentials: logit
    /// minus the row's largest), and a few exact points.
    @Test func exponentialWithinOneUlpOfExpf() {
        var values: [Float] = [0, -0.0, -1, -0.5, -Float.ulpOfOne, -87.3, -Float(M_LN2), -10.5]
        for bits in stride(from: (0.0 as Float).bitPattern, through: Float(87.3).bitPattern, by: 4_099) {
            values.append(-Float(bitPattern: bits))
        }
        while values.count % 8 != 0 { values.append(0) }
        var worst: Float = 0
        var at: Float = 0
        for i in stride(from: 0, to: values.count, by: 8) {
            var v = SIMD8<Float>()
            for q in 0..<8 { v[q] = values[i + q] }
            let e = SoftmaxCrossEntropy.exp(v)
            for q in 0..<8 {
                let reference = expf(values[i + q])
                let ulps = abs(e[q] - reference) / reference.ulp
                if ulps > worst { (worst, at) = (ulps, values[i + q]) }
            }
        }
        #expect(worst <= 1, "\(worst) ulp at \(at)")
        #expect(values.count > 250_000)
    }

    /// Below the clamp, e^x comes out as about 1.2e-38 (expf: a subnormal or 0): nothing a
    /// softmax whose largest term is 1 can see.
    @Test func exponentialBelowTheRangeIsTiny() {
        let e = SoftmaxCrossEntropy.exp(SIMD8<Float>(-88, -90, -100, -104, -200, -1e6, -Float.greatestFiniteMagnitude, -87.4))
        for q in 0..<8 { #expect(e[q] >= 0 && e[q] < 1.2e-38) }
    }

    /// Random logits over class counts and row counts that cross the chunk (1,024 values) and
    /// the vector (8) at every offset: the same probabilities and losses as `row`, to float
    /// rounding of the exponential.
    @Test(arguments: [(1, 37), (2, 9), (3, 700), (10, 1_000), (10, 31), (17, 129), (1_030, 3)])
    func manyRowsMatchOneRowAtATime(classes k: Int, count: Int) {
        var rng = SplitMix64(seed: UInt64(k * 1_000 + count))
        let logits = (0..<(count * k)).map { _ in Float(rng.uniform(-30, 30)) }
        let labels = (0..<count).map { ($0 * 7) % k }
        var p1 = [Float](repeating: .nan, count: count * k), p2 = p1
        var l1 = [Float](repeating: .nan, count: count), l2 = l1
        logits.withUnsafeBufferPointer { lg in
            for r in 0..<count {
                l1[r] = p1.withUnsafeMutableBufferPointer { SoftmaxCrossEntropy.row(lg.baseAddress! + r * k, classes: k, label: labels[r], probabilities: $0.baseAddress! + r * k) }
            }
            labels.withUnsafeBufferPointer { y in
                p2.withUnsafeMutableBufferPointer { p in
                    l2.withUnsafeMutableBufferPointer { l in
                        SoftmaxCrossEntropy.rows(lg.baseAddress!, count: count, classes: k, labels: y.baseAddress!, probabilities: p.baseAddress!, losses: l.baseAddress!)
                    }
                }
            }
        }
        for j in 0..<(count * k) { #expect(abs(p1[j] - p2[j]) <= 4e-7 * max(p1[j], 1e-30) + 1e-37, "probability \(j)") }
        for r in 0..<count { #expect(abs(l1[r] - l2[r]) <= 1e-6 * max(1, abs(l1[r])), "loss \(r)") }
        // Each row sums to 1.
        for r in 0..<count {
            let total = p2[(r * k)..<((r + 1) * k)].reduce(0, +)
            #expect(abs(total - 1) <= 1e-5)
        }
    }

    /// A hand-computed case: logits (0, ln 2, ln 3, ln 4) give (1, 2, 3, 4) / 10, and label 3's loss
    /// is -ln 0.4.
    @Test func handComputedRow() {
        let logits: [Float] = [0, logf(2), logf(3), logf(4)]
        var p = [Float](repeating: 0, count: 4), loss: Float = 0
        let label = 3
        logits.withUnsafeBufferPointer { lg in
            withUnsafePointer(to: label) { y in
                SoftmaxCrossEntropy.rows(lg.baseAddress!, count: 1, classes: 4, labels: y, probabilities: &p, losses: &loss)
            }
        }
        for (got, want) in zip(p, [Float(0.1), 0.2, 0.3, 0.4]) { #expect(abs(got - want) <= 1e-6) }
        #expect(abs(loss - -logf(0.4)) <= 1e-6)
    }

    /// Rows with an infinite or NaN logit come out exactly as `row` gives them (the other rows of
    /// their chunk too), and the rows of other chunks are not disturbed.
    @Test func nonFiniteLogitsGiveWhatRowGives() {
        let k = 4, count = 600  // 2,400 values: three chunks of 256 rows
        var logits = (0..<(count * k)).map { Float(($0 * 37) % 11) - 5 }
        logits[5] = .infinity
        logits[9 * k + 2] = -.infinity
        logits[300 * k] = .nan
        let labels = (0..<count).map { $0 % k }
        var p1 = [Float](repeating: 0, count: count * k), p2 = p1
        var l1 = [Float](repeating: 0, count: count), l2 = l1
        logits.withUnsafeBufferPointer { lg in
            for r in 0..<count {
                l1[r] = p1.withUnsafeMutableBufferPointer { SoftmaxCrossEntropy.row(lg.baseAddress! + r * k, classes: k, label: labels[r], probabilities: $0.baseAddress! + r * k) }
            }
            labels.withUnsafeBufferPointer { y in
                SoftmaxCrossEntropy.rows(lg.baseAddress!, count: count, classes: k, labels: y.baseAddress!, probabilities: &p2, losses: &l2)
            }
        }
        for r in [1, 9, 300] {
            for c in 0..<k { #expect(p1[r * k + c].bitPattern == p2[r * k + c].bitPattern, "row \(r)") }
            #expect(l1[r].bitPattern == l2[r].bitPattern, "row \(r)")
        }
        #expect(p2[9 * k + 2] == 0 && p2[300 * k].isNaN)
        for r in 520..<count { #expect(abs(l1[r] - l2[r]) <= 1e-6 * max(1, abs(l1[r]))) }
    }
}
