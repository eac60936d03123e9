import Foundation

/// Softmax cross-entropy, computed stably (log-sum-exp), per sample.
public enum SoftmaxCrossEntropy {
    /// Per-sample losses and class probabilities for logits [N, K].
    public static func evaluate(logits: Tensor, labels: [Int]) -> (losses: [Float], probabilities: [Float]) {
        let n = logits.batch, k = logits.itemCount
        precondition(labels.count == n)
        var probs = [Float](repeating: 0, count: n * k)
        var losses = [Float](repeating: 0, count: n)
        logits.storage.withUnsafeBufferPointer { pl in
            probs.withUnsafeMutableBufferPointer { pp in
                for i in 0..<n { losses[i] = row(pl.baseAddress! + i * k, classes: k, label: labels[i], probabilities: pp.baseAddress! + i * k) }
            }
        }
        return (losses, probs)
    }

    /// One sample: writes its k class probabilities and returns its loss.
    @inline(__always)
    public static func row(_ logits: UnsafePointer<Float>, classes k: Int, label: Int, probabilities: UnsafeMutablePointer<Float>) -> Float {
        var top = logits[0]
        for j in 1..<max(k, 1) { top = max(top, logits[j]) }
        var sum: Float = 0
        for j in 0..<k {
            let e = expf(logits[j] - top)
            probabilities[j] = e
            sum += e
        }
        for j in 0..<k { probabilities[j] /= sum }
        return -(logits[label] - top - logf(sum))
    }

    /// `row` for `count` rows at once (logits, probabilities: count x k, row-major; labels and
    /// losses: count), with the exponentials eight lanes wide over the rows' values laid end to
    /// end, instead of one `expf` call each (for 10 classes those calls were most of a linear
    /// probe's epoch beside its two kernels). The exponential is Cephes' single-precision one,
    /// within 1 ulp of `expf` over the range softmax gives it; everything else is `row`'s own
    /// arithmetic in `row`'s order. Rows with a logit that is not finite go through `row`, so
    /// NaN and infinity come out as `row` gives them. Each row's result depends only on its own
    /// logits.
    public static func rows(_ logits: UnsafePointer<Float>, count: Int, classes k: Int, labels: UnsafePointer<Int>,
                            probabilities: UnsafeMutablePointer<Float>, losses: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        guard k > 0, count > 0 else { return }
        // Rows a chunk, so that a chunk's values (about 1,024) stay in L1.
        let per = max(1, 1024 / k)
        let cap = (per &* k &+ 7) & ~7
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 &* cap &+ per) { buffer in
            // e: x - max, then e^(x - max); s: each value's row sum, for the vector division.
            let e = buffer.baseAddress!, s = e + cap, tops = s + cap
            let re = UnsafeMutableRawPointer(e), rs = UnsafeMutableRawPointer(s)
            var r0 = 0
            while r0 < count {
                let m = min(per, count &- r0), len = m &* k, padded = (len &+ 7) & ~7
                let l = logits + r0 &* k
                for q in 0..<m {
                    let row = l + q &* k
                    var top = row[0]
                    for c in 1..<k { top = max(top, row[c]) }
                    tops[q] = top
                    for c in 0..<k { e[q &* k &+ c] = row[c] - top }
                }
                for j in len..<padded { e[j] = 0 }
                // x - max is finite for every row whose logits all are; x * 0 is NaN otherwise,
                // and a NaN lane stays NaN through the sums.
                var poison = V()
                var o = 0
                while o < padded &* 4 {
                    let x = re.load(fromByteOffset: o, as: V.self)
                    poison += x * 0
                    re.storeBytes(of: exp(x), toByteOffset: o, as: V.self)
                    o &+= 32
                }
                if poison.sum().isNaN {
                    for r in r0..<(r0 &+ m) {
                        losses[r] = row(logits + r &* k, classes: k, label: labels[r], probabilities: probabilities + r &* k)
                    }
                    r0 &+= m
                    continue
                }
                for q in 0..<m {
                    var sum: Float = 0
                    for c in 0..<k { sum += e[q &* k &+ c] }
                    for c in 0..<k { s[q &* k &+ c] = sum }
                }
                let rp = UnsafeMutableRawPointer(probabilities + r0 &* k)
                o = 0
                while o &+ 32 <= len &* 4 {
                    rp.storeBytes(of: re.load(fromByteOffset: o, as: V.self) / rs.load(fromByteOffset: o, as: V.self), toByteOffset: o, as: V.self)
                    o &+= 32
                }
                var j = o / 4
                while j < len { probabilities[r0 &* k &+ j] = e[j] / s[j]; j &+= 1 }
                for q in 0..<m {
                    let r = r0 &+ q
                    losses[r] = -(l[q &* k &+ labels[r]] - tops[q] - logf(s[q &* k]))
                }
                r0 &+= m
            }
        }
    }

    /// e^x in eight lanes (Cephes' expf: x = n ln 2 + r with |r| <= ln 2 / 2, a degree-5
    /// polynomial in r, then 2^n put into the exponent). x is clamped to [-87.3, 88.3]: e^x
    /// below that range comes out as about 1.2e-38 instead of a subnormal or 0. Finite x only.
    @inline(__always)
    static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        typealias V = SIMD8<Float>
        var x = x
        x.replace(with: V(repeating: -87.33654), where: x .< V(repeating: -87.33654))
        x.replace(with: V(repeating: 88.3), where: x .> V(repeating: 88.3))
        // Round x / ln 2 to the nearest integer by adding and taking away 1.5 x 2^23; the sum's
        // low mantissa bits are that integer, offset.
        let magic = V(repeating: 12_582_912)
        let shifted = (x * 1.442_695_04) + magic
        let n = shifted - magic
        var r = x.addingProduct(n, V(repeating: -0.693_359_375))
        r = r.addingProduct(n, V(repeating: 2.121_944_4e-4))
        var p = V(repeating: 1.987_569_15e-4)
        p = V(repeating: 1.398_199_950_7e-3).addingProduct(p, r)
        p = V(repeating: 8.333_451_907_3e-3).addingProduct(p, r)
        p = V(repeating: 4.166_579_589_4e-2).addingProduct(p, r)
        p = V(repeating: 1.666_666_545_9e-1).addingProduct(p, r)
        p = V(repeating: 5.000_000_120_1e-1).addingProduct(p, r)
        let y = (r + 1).addingProduct(p, r * r)
        let bits = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- (0x4B40_0000 &- 127)) &<< 23
        return y * unsafeBitCast(bits, to: V.self)
    }

    /// dL/dlogits when L = sum_i coefficient_i * loss_i: coefficient_i * (p_i - onehot_i).
    public static func gradient(probabilities: [Float], labels: [Int], coefficients: [Float], classes k: Int) -> Tensor {
        let n = labels.count
        var g = Tensor(shape: [n, k], storage: probabilities)
        for i in 0..<n {
            g.storage[i * k + labels[i]] -= 1
            for j in 0..<k { g.storage[i * k + j] *= coefficients[i] }
        }
        return g
    }

    /// The weighted mean loss, sum w_i l_i / sum w_i (PyTorch's reference recipe), with its
    /// gradient. Weights default to 1.
    public static func weightedMean(logits: Tensor, labels: [Int], weights: [Float]? = nil)
        -> (loss: Float, gradient: Tensor, losses: [Float], probabilities: [Float]) {
        let (losses, probs) = evaluate(logits: logits, labels: labels)
        let w = weights ?? [Float](repeating: 1, count: labels.count)
        let total = max(w.reduce(0, +), 1e-12)
        var loss: Float = 0
        for i in 0..<labels.count { loss += w[i] * losses[i] }
        let coefficients = w.map { $0 / total }
        return (loss / total, gradient(probabilities: probs, labels: labels, coefficients: coefficients, classes: logits.itemCount), losses, probs)
    }
}
