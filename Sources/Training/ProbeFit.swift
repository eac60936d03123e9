import CPrefetch
import Dispatch
import Features
import NeuralNet

extension FitLoop {
    /// The training loop of `fit`, for a model that is one dense layer over feature vectors read
    /// in place (a linear probe on a memory-mapped `.npy`): no batch is copied. Each batch's row
    /// pointers, labels and weights are gathered on all cores; then, for ERM and JTT, one parallel
    /// pass runs fixed blocks of 256 rows (block b on task b mod T) in sub-blocks of 32: logits,
    /// loss and weight gradient while the rows are in cache, the task's next sub-block
    /// prefetched meanwhile. Group DRO needs the batch's losses first and takes two passes. Block
    /// partials are summed in block order. The optimizer, schedule, L1 step, group DRO and reports
    /// are `fit`'s, so the two loops train the same model (up to float rounding), and the result
    /// does not depend on the thread count.
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
        // Each row's label and weight side by side: a shuffled batch then gathers them with one
        // random access a row, not two (labels: an 8 MB array, weights: 4 MB, for 1,000,000 rows).
        let meta = UnsafeMutablePointer<RowMeta>.allocate(capacity: max(1, count))
        defer { meta.deallocate() }
        for j in 0..<count { meta[j] = RowMeta(label: Int32(truncatingIfNeeded: labels[j]), weight: weights[j]) }
        for epoch in 0..<epochs {
            var tally = EpochTally(stage: stage, epoch: epoch, epochs: epochs)
            let order = self.order(epoch: epoch, count: count, sampler: sampler)
            var lr: Float = 0
            var i = 0
            while i < order.count {
                let idx = Array(order[i..<min(i + batch, order.count)])
                i += batch
                let m = idx.count
                // The batch's row pointers, labels and weights, gathered on all cores. In shuffled
                // order each row is a random access into a large array (a cache and TLB miss), so
                // each row's label and weight, kept side by side, are prefetched 16 rows ahead.
                // (Prefetching the feature rows here too measured slower: their pages' walks stall
                // the gather, and the pass prefetches them.)
                let (gp, gy, gw) = (buffers.pointers, buffers.labels, buffers.weights)
                idx.withUnsafeBufferPointer { order in
                    Parallel.ranges(m, grain: 256) { part in
                        for t in part {
                            if t &+ 16 < part.upperBound { curate_prefetch(meta + order[t &+ 16]) }
                            let j = order[t]
                            let e = meta[j]
                            gp[t] = rows(j); gy[t] = Int(e.label); gw[t] = e.weight
                        }
                    }
                }
                let pointers = UnsafeBufferPointer(start: UnsafePointer(gp), count: m)
                let y = Array(UnsafeBufferPointer(start: gy, count: m)), w = Array(UnsafeBufferPointer(start: gw, count: m))
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
                let forward = { (range: Range<Int>, upcoming: Range<Int>?) in
                    ThinDense.forward(rows: pp.baseAddress!, k: k, wT: wp, n: n, bias: bp, y: lg, range: range,
                                      upcoming: upcoming.map { UnsafeBufferPointer(rebasing: pp[$0]) })
                    for r in range { ls[r] = SoftmaxCrossEntropy.row(lg + r * n, classes: n, label: y[r], probabilities: pr + r * n) }
                }
                let backward = { (b: Int, range: Range<Int>, c: [Float], accumulate: Bool) in
                    for r in range {
                        for j in 0..<n { gd[r * n + j] = pr[r * n + j] * c[r] }
                        gd[r * n + y[r]] -= c[r]
                    }
                    ThinDense.weightGradient(rows: pp.baseAddress!, k: k, dy: gd, n: n, gT: pa + b * n * k, range: range, accumulate: accumulate)
                }
                if let eta = dro {
                    pass { _, range in forward(range, nil) }
                    let losses = Array(UnsafeBufferPointer(start: ls, count: m))
                    coefficients = droState.step(losses: losses, groups: idx.map { groups![$0] }, weights: w, eta: eta)
                    let c = coefficients
                    pass { b, range in backward(b, range, c, false) }
                } else {
                    // Sub-blocks of 32 rows: their logits, loss and gradient while the rows are in L1/L2.
                    // Blocks go to the tasks in turn (block b to task b mod T), so each task knows
                    // which sub-block it takes next and prefetches its rows during this one.
                    let c = coefficients
                    let tasks = parallel ? min(Parallel.threads, blocks) : 1
                    Parallel.forEach(tasks) { t in
                        var subs: [(block: Int, rows: Range<Int>)] = []
                        for b in Swift.stride(from: t, to: blocks, by: tasks) {
                            for s in Swift.stride(from: b * block, to: min(m, (b + 1) * block), by: 32) {
                                subs.append((b, s..<min(m, (b + 1) * block, s + 32)))
                            }
                        }
                        for (q, sub) in subs.enumerated() {
                            forward(sub.rows, q + 1 < subs.count ? subs[q + 1].rows : nil)
                            backward(sub.block, sub.rows, c, sub.rows.lowerBound != sub.block * block)
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
                dense.bias.grad.withUnsafeMutableBufferPointer { columnSums(gd, rows: m, columns: n, into: $0.baseAddress!) }
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

/// A row's label and weight, gathered together.
struct RowMeta {
    var label: Int32
    var weight: Float
}

/// A probe's per-batch scratch, allocated once for the run.
final class ProbeBuffers {
    let logits, probabilities, losses, gradient, partials, total, weights: UnsafeMutablePointer<Float>
    let pointers: UnsafeMutablePointer<UnsafePointer<Float>>
    let labels: UnsafeMutablePointer<Int>
    init(batch: Int, blocks: Int, k: Int, n: Int) {
        pointers = .allocate(capacity: batch)
        labels = .allocate(capacity: batch)
        weights = .allocate(capacity: batch)
        logits = .allocate(capacity: batch * n)
        probabilities = .allocate(capacity: batch * n)
        losses = .allocate(capacity: batch)
        gradient = .allocate(capacity: batch * n)
        partials = .allocate(capacity: max(1, blocks) * n * k)
        total = .allocate(capacity: n * k)
    }
    deinit {
        for p in [logits, probabilities, losses, gradient, partials, total, weights] { p.deallocate() }
        pointers.deallocate()
        labels.deallocate()
    }
}
