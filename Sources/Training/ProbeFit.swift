import Dispatch
import Features
import NeuralNet

extension FitLoop {
    /// The training loop of `fit`, for a model that is one dense layer over feature vectors read
    /// in place (a linear probe on a memory-mapped `.npy`): no batch is copied. Each batch runs
    /// two parallel passes over fixed blocks of 64 rows: logits, then (after the loss and its
    /// coefficients, computed exactly as `fit` does) each block's weight gradient, summed in
    /// block order. The optimizer, schedule, L1 step, group DRO and reports are `fit`'s, so the
    /// two loops train the same model (up to float rounding), and the result does not depend on
    /// the thread count.
    public func fitProbe(_ dense: Dense, rows: (Int) -> UnsafePointer<Float>, count: Int, epochs: Int,
                         labels: [Int], weights: [Float], groups: [Int]? = nil, groupCount: Int = 0,
                         loss: TrainingLoss = .erm, sampler: ((Int) -> [Int])? = nil) -> [EpochReport] {
        let optimizer = recipe.makeOptimizer()
        let parameters = dense.parameters
        let batch = max(1, recipe.batchSize)
        let schedule = self.schedule(count: count, epochs: epochs, sampler: sampler)
        let (k, n) = (dense.inputs, dense.outputs)
        // Fixed blocks of rows, each with its own gradient partial (summed in block order).
        let block = 256
        var droState = GroupDRO(groups: groupCount)
        let buffers = ProbeBuffers(batch: batch, blocks: (batch + block - 1) / block, k: k, n: n)
        var step = 0
        var reports: [EpochReport] = []
        let wT = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
        defer { wT.deallocate() }
        for epoch in 0..<epochs {
            var tally = EpochTally(stage: stage, epoch: epoch, epochs: epochs)
            let order = self.order(epoch: epoch, count: count, sampler: sampler)
            var lr: Float = 0
            var i = 0
            while i < order.count {
                let idx = Array(order[i..<min(i + batch, order.count)])
                i += batch
                let m = idx.count
                // The batch's row pointers, labels and weights in one pass.
                var pointers = [UnsafePointer<Float>](), y = [Int](), w = [Float]()
                pointers.reserveCapacity(m); y.reserveCapacity(m); w.reserveCapacity(m)
                labels.withUnsafeBufferPointer { l in
                    weights.withUnsafeBufferPointer { ws in
                        for j in idx { pointers.append(rows(j)); y.append(l[j]); w.append(ws[j]) }
                    }
                }
                dense.weight.value.withUnsafeBufferPointer { v in
                    for j in 0..<k { for c in 0..<n { wT[c * k + j] = v[j * n + c] } }
                }
                let blocks = (m + block - 1) / block
                // Work under ~256k multiply-adds is not worth waking a second core for.
                let parallel = m * k * n >= 1 << 18
                let dro: Float? = { if case .groupDRO(let eta) = loss { return eta } else { return nil } }()
                // ERM and JTT know each row's coefficient before the pass (w / sum w), so one pass
                // does logits, loss and weight gradient while the block's rows are in cache; group
                // DRO needs the whole batch's losses first, so it takes two passes.
                var coefficients = [Float](repeating: 0, count: m)
                if dro == nil {
                    let total = max(w.reduce(0, +), 1e-12)
                    for j in 0..<m { coefficients[j] = w[j] / total }
                }
                let (pp, wp, bp) = (pointers, wT, dense.bias.value)
                let (lg, pr, ls, gd, pa) = (buffers.logits, buffers.probabilities, buffers.losses, buffers.gradient, buffers.partials)
                func pass(_ body: @escaping (Int, Range<Int>) -> Void) {
                    let run = { (b: Int) in body(b, (b * block)..<min(m, (b + 1) * block)) }
                    if parallel { Parallel.forEach(blocks, run) } else { for b in 0..<blocks { run(b) } }
                }
                let forward = { (range: Range<Int>) in
                    pp.withUnsafeBufferPointer { p in
                        ThinDense.forward(rows: p.baseAddress!, k: k, wT: wp, n: n, bias: bp, y: lg, range: range)
                    }
                    for r in range { ls[r] = SoftmaxCrossEntropy.row(lg + r * n, classes: n, label: y[r], probabilities: pr + r * n) }
                }
                let backward = { (b: Int, range: Range<Int>, c: [Float], accumulate: Bool) in
                    for r in range {
                        for j in 0..<n { gd[r * n + j] = pr[r * n + j] * c[r] }
                        gd[r * n + y[r]] -= c[r]
                    }
                    pp.withUnsafeBufferPointer { p in
                        ThinDense.weightGradient(rows: p.baseAddress!, k: k, dy: gd, n: n, gT: pa + b * n * k, range: range, accumulate: accumulate)
                    }
                }
                if let eta = dro {
                    pass { _, range in forward(range) }
                    let losses = Array(UnsafeBufferPointer(start: ls, count: m))
                    coefficients = droState.step(losses: losses, groups: idx.map { groups![$0] }, weights: w, eta: eta)
                    let c = coefficients
                    pass { b, range in backward(b, range, c, false) }
                } else {
                    // Sub-blocks of 32 rows: their logits, loss and gradient while the rows are in L1/L2.
                    let c = coefficients
                    pass { b, range in
                        for s in stride(from: range.lowerBound, to: range.upperBound, by: 32) {
                            let sub = s..<min(range.upperBound, s + 32)
                            forward(sub)
                            backward(b, sub, c, s != range.lowerBound)
                        }
                    }
                }
                // Block partials summed in block order (contiguous, vectorised), then transposed.
                let total = buffers.total
                total.update(from: pa, count: n * k)
                for b in 1..<max(blocks, 1) {
                    let src = pa + b * n * k
                    for j in 0..<(n * k) { total[j] += src[j] }
                }
                dense.weight.grad.withUnsafeMutableBufferPointer { g in
                    for c in 0..<n { for j in 0..<k { g[j * n + c] = total[c * k + j] } }
                }
                for c in 0..<n {
                    var s: Float = 0
                    for r in 0..<m { s += gd[r * n + c] }
                    dense.bias.grad[c] = s
                }
                let losses = UnsafeBufferPointer(start: ls, count: m)
                let probs = UnsafeBufferPointer(start: pr, count: m * n)
                lr = schedule.rate(at: step)
                update(optimizer, parameters, learningRate: lr)
                step += 1
                tally.add(losses: losses, probabilities: probs, labels: y, weights: w, classes: n)
                batchProgress?(tally.report(learningRate: lr, images: min(i, order.count)))
            }
            var report = tally.report(learningRate: lr, images: order.count)
            report.validationAccuracy = validate?(epoch)
            progress?(report)
            reports.append(report)
        }
        return reports
    }
}

/// A probe's per-batch scratch, allocated once for the run.
final class ProbeBuffers {
    let logits, probabilities, losses, gradient, partials, total: UnsafeMutablePointer<Float>
    init(batch: Int, blocks: Int, k: Int, n: Int) {
        logits = .allocate(capacity: batch * n)
        probabilities = .allocate(capacity: batch * n)
        losses = .allocate(capacity: batch)
        gradient = .allocate(capacity: batch * n)
        partials = .allocate(capacity: max(1, blocks) * n * k)
        total = .allocate(capacity: n * k)
    }
    deinit { for p in [logits, probabilities, losses, gradient, partials, total] { p.deallocate() } }
}
