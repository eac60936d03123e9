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
