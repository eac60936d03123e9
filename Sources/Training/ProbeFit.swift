import Foundation
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
        let batch = max(1, recipe.batchSize)
        let schedule = self.schedule(count: count, epochs: epochs, sampler: sampler)
        let (k, n) = (dense.inputs, dense.outputs)
        // The weight is trained transposed (outputs x inputs), the layout both kernels read and
        // the gradient's partials are summed in; the optimizer and the L1 step are elementwise,
        // so this is the same training, without two transposes a batch. The layer gets it back
        // at the end of every epoch (before validation) and at the end.
        let weight = Parameter(name: dense.weight.name, shape: [n, k], value: transposed(dense.weight.value, rows: k, columns: n))
        let parameters = [weight, dense.bias]
        func publish() { dense.weight.value = transposed(weight.value, rows: n, columns: k) }
        // Fixed blocks of rows, each with its own gradient partial (summed in block order).
        let block = 256
        var droState = GroupDRO(groups: groupCount)
        let buffers = ProbeBuffers(batch: batch, blocks: (batch + block - 1) / block, k: k, n: n)
        var step = 0
        var reports: [EpochReport] = []
        // Each row's label and weight side by side: a shuffled batch then gathers them with one
        // random access a row, not two (labels: an 8 MB array, weights: 4 MB, for 1,000,000 rows).
        let meta = UnsafeMutablePointer<RowMeta>.allocate(capacity: max(1, count))
        defer { meta.deallocate() }
        for j in 0..<count { meta[j] = RowMeta(label: Int32(truncatingIfNeeded: labels[j]), weight: weights[j]) }
        let dro: Float? = { if case .groupDRO(let eta) = loss { return eta } else { return nil } }()
        // CURATE_PROBE_TIMING=1 prints each epoch's gather, parallel pass and the rest on stderr.
        let timing = ProcessInfo.processInfo.environment["CURATE_PROBE_TIMING"] != nil
        for epoch in 0..<epochs {
            var spent = (gather: UInt64(0), pass: UInt64(0), rest: UInt64(0))
            var clock = DispatchTime.now().uptimeNanoseconds
            func lap(_ part: inout UInt64) {
                let now = DispatchTime.now().uptimeNanoseconds
                part &+= now &- clock
                clock = now
            }
            var tally = EpochTally(stage: stage, epoch: epoch, epochs: epochs)
            let order = self.order(epoch: epoch, count: count, sampler: sampler)
            var lr: Float = 0
            var i = 0
            while i < order.count {
                let m = min(batch, order.count - i)
                let first = i
                i += m
                // The batch's row pointers, labels and weights, gathered on all cores. In shuffled
                // order each row is a random access into a large array (a cache and TLB miss), so
                // each row's label and weight, kept side by side, are prefetched 16 rows ahead.
                // (Prefetching the feature rows here too measured slower: their pages' walks stall
                // the gather, and the pass prefetches them.)
                let (gp, y, w) = (buffers.pointers, buffers.labels, buffers.weights)
                order.withUnsafeBufferPointer { all in
                    let order = all.baseAddress! + first
                    Parallel.ranges(m, grain: 256) { part in
                        for t in part {
                            if t &+ 16 < part.upperBound { Prefetch.l1(meta + order[t &+ 16]) }
                            let j = order[t]
                            let e = meta[j]
                            gp[t] = rows(j); y[t] = Int(e.label); w[t] = e.weight
                        }
                    }
                }
                let pointers = UnsafeBufferPointer(start: UnsafePointer(gp), count: m)
                lap(&spent.gather)
                let blocks = (m + block - 1) / block
                // Work under ~256k multiply-adds is not worth waking a second core for.
                let parallel = m * k * n >= 1 << 18
                // ERM and JTT know each row's coefficient before the pass (w / sum w), so one pass
                // does logits, loss and weight gradient while the block's rows are in cache; group
                // DRO needs the whole batch's losses first, so it takes two passes.
                let coefficients = buffers.coefficients
                if dro == nil {
                    var total: Float = 0
                    for j in 0..<m { total += w[j] }
                    total = max(total, 1e-12)
                    for j in 0..<m { coefficients[j] = w[j] / total }
                }
                let (lg, pr, ls, gd, pa) = (buffers.logits, buffers.probabilities, buffers.losses, buffers.gradient, buffers.partials)
                // The weights copied to a 64-byte-aligned buffer: a 512-bit load from an array's
                // storage (32-byte aligned) spans two cache lines.
                weight.value.withUnsafeBufferPointer { buffers.alignedWeight.update(from: $0.baseAddress!, count: n * k) }
                let (pp, wp, bp) = (pointers, UnsafePointer(buffers.alignedWeight), dense.bias.value)
                func pass(_ body: @escaping (Int, Range<Int>) -> Void) {
                    let run = { (b: Int) in body(b, (b * block)..<min(m, (b + 1) * block)) }
                    if parallel { Parallel.forEach(blocks, run) } else { for b in 0..<blocks { run(b) } }
                }
                let forward = { (range: Range<Int>, upcoming: Range<Int>?) in
                    ThinDense.forward(rows: pp.baseAddress!, k: k, wT: wp, n: n, bias: bp, y: lg, range: range,
                                      upcoming: upcoming.map { UnsafeBufferPointer(rebasing: pp[$0]) })
                    let r0 = range.lowerBound
                    SoftmaxCrossEntropy.rows(lg + r0 * n, count: range.count, classes: n, labels: y + r0, probabilities: pr + r0 * n, losses: ls + r0)
                }
                let backward = { (b: Int, range: Range<Int>, accumulate: Bool) in
                    for r in range {
                        for j in 0..<n { gd[r * n + j] = pr[r * n + j] * coefficients[r] }
                        gd[r * n + y[r]] -= coefficients[r]
                    }
                    ThinDense.weightGradient(rows: pp.baseAddress!, k: k, dy: gd, n: n, gT: pa + b * n * k, range: range, accumulate: accumulate)
                }
                if let eta = dro {
                    pass { _, range in forward(range, nil) }
                    order.withUnsafeBufferPointer { all in
                        let idx = UnsafeBufferPointer(rebasing: all[first..<(first + m)])
                        let c = droState.step(losses: Array(UnsafeBufferPointer(start: ls, count: m)), groups: idx.map { groups![$0] },
                                              weights: Array(UnsafeBufferPointer(start: w, count: m)), eta: eta)
                        coefficients.update(from: c, count: m)
                    }
                    pass { b, range in backward(b, range, false) }
                } else {
                    // Sub-blocks of 32 rows: their logits, loss and gradient while the rows are in L1/L2.
                    // Blocks go to the tasks in turn (block b to task b mod T), so each task knows
                    // which sub-block it takes next and prefetches its rows during this one.
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
                            backward(sub.block, sub.rows, sub.rows.lowerBound != sub.block * block)
                        }
                    }
                }
                lap(&spent.pass)
                // Block partials summed in block order (contiguous, vectorised) into the gradient.
                weight.grad.withUnsafeMutableBufferPointer { g in
                    let total = g.baseAddress!
                    total.update(from: pa, count: n * k)
                    for b in 1..<max(blocks, 1) {
                        let src = pa + b * n * k
                        for j in 0..<(n * k) { total[j] += src[j] }
                    }
                }
                dense.bias.grad.withUnsafeMutableBufferPointer { columnSums(gd, rows: m, columns: n, into: $0.baseAddress!) }
                lr = schedule.rate(at: step)
                update(optimizer, parameters, learningRate: lr)
                step += 1
                tally.add(losses: UnsafeBufferPointer(start: ls, count: m), probabilities: UnsafeBufferPointer(start: pr, count: m * n),
                          labels: UnsafeBufferPointer(start: y, count: m), weights: UnsafeBufferPointer(start: w, count: m), classes: n)
                batchProgress?(tally.report(learningRate: lr, images: min(i, order.count)))
                lap(&spent.rest)
            }
            if timing {
                let ms = { (t: UInt64) in String(format: "%.1f", Double(t) / 1e6) }
                FileHandle.standardError.write(Data("probe epoch \(epoch + 1): gather \(ms(spent.gather)) ms, pass \(ms(spent.pass)) ms, rest \(ms(spent.rest)) ms\n".utf8))
            }
            publish()
            var report = tally.report(learningRate: lr, images: order.count)
            report.validationAccuracy = validate?(epoch)
            progress?(report)
            reports.append(report)
        }
        publish()
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
    let logits, probabilities, losses, gradient, partials, coefficients, weights: UnsafeMutablePointer<Float>
    let pointers: UnsafeMutablePointer<UnsafePointer<Float>>
    let alignedWeight: UnsafeMutablePointer<Float>
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
        coefficients = .allocate(capacity: batch)
        alignedWeight = UnsafeMutableRawPointer.allocate(byteCount: n * k * 4, alignment: 64).bindMemory(to: Float.self, capacity: n * k)
    }
    deinit {
        for p in [logits, probabilities, losses, gradient, partials, coefficients, weights] { p.deallocate() }
        pointers.deallocate()
        alignedWeight.deallocate()
        labels.deallocate()
    }
}
