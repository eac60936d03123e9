import Foundation
import NeuralNet

/// How the optimizer, schedule and batches are set: by default the PyTorch reference's recipe
/// (SGD, momentum 0.9, lr 0.05, weight decay 5e-4, batch 128).
public struct TrainingRecipe: Sendable {
    public enum OptimizerKind: String, Sendable, CaseIterable { case sgd, adam, adamw }
    public enum ScheduleKind: Sendable, Equatable {
        case constant
        case step(every: Int, gamma: Float)
        case cosine
    }

    public var epochs = 5
    public var batchSize = 128
    public var learningRate: Float = 0.05
    public var optimizer: OptimizerKind = .sgd
    public var momentum: Float = 0.9
    public var nesterov = false
    public var weightDecay: Float = 5e-4
    public var schedule: ScheduleKind = .constant
    public var warmupEpochs = 0
    /// L1 penalty on the weights of dense layers (mean-loss units), applied as a proximal
    /// (soft-threshold) step after each update: Deep Feature Reweighting's sparse last layer.
    public var l1: Float = 0
    public var augmentation: Augmentation = []
    public var seed: UInt64 = 0
    /// Adversarial training (Madry et al.): every batch is replaced by its adversarial version
    /// against the model as it stands (in its evaluation behaviour), then trained on. The
    /// attack's random starts are drawn anew each step from its seed.
    public var adversarial: Attack?

    public init() {}

    func makeOptimizer() -> Optimizer {
        switch optimizer {
        case .sgd: return SGD(momentum: momentum, nesterov: nesterov, weightDecay: weightDecay)
        case .adam: return Adam(weightDecay: weightDecay)
        case .adamw: return Adam(weightDecay: weightDecay, decoupled: true)
        }
    }

    func makeSchedule(stepsPerEpoch: Int, epochs: Int) -> LearningRateSchedule {
        let kind: LearningRateSchedule.Kind
        switch schedule {
        case .constant: kind = .constant
        case .step(let every, let gamma): kind = .step(every: every, gamma: gamma)
        case .cosine: kind = .cosine
        }
        return LearningRateSchedule(base: learningRate, kind: kind, warmupSteps: warmupEpochs * stepsPerEpoch,
                                    stepsPerEpoch: stepsPerEpoch, totalSteps: epochs * stepsPerEpoch)
    }
}

/// The training objective.
public enum TrainingLoss: Sendable, Equatable {
    /// Empirical risk: the weighted mean cross-entropy.
    case erm
    /// Group DRO (Sagawa et al. 2020): group weights q updated by exponentiated gradient,
    /// q_g <- q_g exp(eta * loss_g), normalised; the loss is sum_g q_g loss_g.
    case groupDRO(eta: Float)
    /// Just Train Twice (Liu et al. 2021): train `firstEpochs` epochs, upweight the
    /// misclassified training examples by `lambda`, train again from the same start.
    case jtt(lambda: Float, firstEpochs: Int)
}

/// One epoch's figures.
public struct EpochReport: Sendable {
    public var stage: String
    public var epoch: Int
    public var epochs: Int
    public var loss: Double
    public var accuracy: Double
    public var learningRate: Float
    public var seconds: Double
    public var images: Int
    public var validationAccuracy: Double?
    public var imagesPerSecond: Double { seconds > 0 ? Double(images) / seconds : 0 }
}

/// The mini-batch loop: shuffles with the seed, batches, runs forward and backward, steps the
/// optimizer. It trains `net` in place on inputs given by `input(indices, epoch)`.
public struct FitLoop {
    public var recipe: TrainingRecipe
    public var stage: String
    public var progress: ((EpochReport) -> Void)?
    public var validate: ((Int) -> Double?)?
    /// Called after every batch with the epoch so far (images done, running loss and accuracy).
    public var batchProgress: ((EpochReport) -> Void)?
    /// Zhang et al.'s remedy for inherited non-robustness: adds weight x the (example-weighted)
    /// mean squared distance between the model's features (the head's input) and `reference`'s
    /// on the same images, so that fine-tuning stays near the pretrained representation.
    public var anchor: (reference: Sequential, weight: Float)?

    public init(recipe: TrainingRecipe, stage: String = "train", progress: ((EpochReport) -> Void)? = nil,
                validate: ((Int) -> Double?)? = nil, batchProgress: ((EpochReport) -> Void)? = nil) {
        self.recipe = recipe
        self.stage = stage
        self.progress = progress
        self.validate = validate
        self.batchProgress = batchProgress
    }

    /// - Parameters:
    ///   - labels, weights: per example.
    ///   - groups: per-example group ids (group DRO), with `groupCount` groups.
    ///   - sampler: the examples an epoch visits, in order (default: a seeded shuffle of all).
    public func fit(_ net: Sequential, count: Int, epochs: Int, input: (_ indices: [Int], _ epoch: Int) -> Tensor,
                    labels: [Int], weights: [Float], groups: [Int]? = nil, groupCount: Int = 0,
                    loss: TrainingLoss = .erm, sampler: ((Int) -> [Int])? = nil) -> [EpochReport] {
        let optimizer = recipe.makeOptimizer()
        let parameters = net.trainableParameters
        let batch = max(1, recipe.batchSize)
        let schedule = self.schedule(count: count, epochs: epochs, sampler: sampler)
        var dro = GroupDRO(groups: groupCount)
        var step = 0
        var reports: [EpochReport] = []
        for epoch in 0..<epochs {
            var tally = EpochTally(stage: stage, epoch: epoch, epochs: epochs)
            let order = self.order(epoch: epoch, count: count, sampler: sampler)
            var lr: Float = 0
            var i = 0
            while i < order.count {
                let idx = Array(order[i..<min(i + batch, order.count)])
                i += batch
                let y = idx.map { labels[$0] }
                var x = input(idx, epoch)
                if var attack = recipe.adversarial {
                    attack.seed = SplitMix64.mix(attack.seed ^ UInt64(step))
                    x = attack.perturb(net, x, labels: y)
                }
                let w = idx.map { weights[$0] }
                let logits: Tensor, features: Tensor?
                if anchor != nil {
                    (logits, features) = net.forward(x, training: true, keepingInputOf: net.headIndex)
                } else {
                    (logits, features) = (net.forward(x, training: true), nil)
                }
                let k = logits.itemCount
                let (losses, probs) = SoftmaxCrossEntropy.evaluate(logits: logits, labels: y)
                let coefficients: [Float]
                switch loss {
                case .erm, .jtt:
                    let total = max(w.reduce(0, +), 1e-12)
                    coefficients = w.map { $0 / total }
                case .groupDRO(let eta):
                    coefficients = dro.step(losses: losses, groups: idx.map { groups![$0] }, weights: w, eta: eta)
                }
                let grad = SoftmaxCrossEntropy.gradient(probabilities: probs, labels: y, coefficients: coefficients, classes: k)
                if let anchor, var f = features {
                    // d/df of weight * sum_i c_i |f_i - f0_i|^2 is 2 weight c_i (f_i - f0_i).
                    let f0 = anchor.reference.features(x, upTo: anchor.reference.headIndex)
                    let per = f.itemCount
                    for i in 0..<f.batch {
                        let scale = 2 * anchor.weight * coefficients[i]
                        for j in 0..<per { f.storage[i * per + j] = scale * (f.storage[i * per + j] - f0.storage[i * per + j]) }
                    }
                    _ = net.backward(grad, inputGradient: false, adding: (f, net.headIndex))
                } else {
                    _ = net.backward(grad, inputGradient: false)
                }
                lr = schedule.rate(at: step)
                update(optimizer, parameters, learningRate: lr)
                step += 1
                losses.withUnsafeBufferPointer { l in
                    probs.withUnsafeBufferPointer { pr in tally.add(losses: l, probabilities: pr, labels: y, weights: w, classes: k) }
                }
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

/// Predictions of a model on a set of inputs, in batches of 512, in evaluation mode.
public func predict(_ net: Sequential, count: Int, input: ([Int]) -> Tensor) -> (classes: [Int], probabilities: [Float], classCount: Int) {
    var classes: [Int] = []
    var probabilities: [Float] = []
    var k = 0
    var i = 0
    while i < count {
        let idx = Array(i..<min(i + 512, count))
        i += 512
        let logits = net.forward(input(idx), training: false)
        k = logits.itemCount
        let (_, probs) = SoftmaxCrossEntropy.evaluate(logits: logits, labels: [Int](repeating: 0, count: idx.count))
        for j in 0..<idx.count {
            var best = 0
            for c in 1..<max(k, 1) where probs[j * k + c] > probs[j * k + best] { best = c }
            classes.append(best)
        }
        probabilities += probs
    }
    return (classes, probabilities, k)
}

/// Group DRO's adversarial group weights (Sagawa et al. 2020, their `loss.py`): each batch,
/// every group present gets its weighted mean loss L_g, q_g <- q_g exp(eta L_g), q is
/// normalised, and the batch loss is sum_g q_g L_g.
public struct GroupDRO: Sendable {
    public private(set) var q: [Float]

    public init(groups: Int) {
        q = [Float](repeating: groups > 0 ? 1 / Float(groups) : 0, count: groups)
    }

    /// Updates q from one batch and returns each example's loss coefficient
    /// q_g(i) w_i / sum_{j in g(i)} w_j (the gradient of sum_g q_g L_g).
    public mutating func step(losses: [Float], groups: [Int], weights: [Float], eta: Float) -> [Float] {
        let count = q.count
        var groupWeight = [Float](repeating: 0, count: count)
        var groupLoss = [Float](repeating: 0, count: count)
        for j in 0..<losses.count {
            groupWeight[groups[j]] += weights[j]
            groupLoss[groups[j]] += weights[j] * losses[j]
        }
        for g in 0..<count where groupWeight[g] > 0 {
            groupLoss[g] /= groupWeight[g]
            q[g] *= expf(eta * groupLoss[g])
        }
        let z = q.reduce(0, +)
        for g in 0..<count { q[g] /= z }
        return (0..<losses.count).map { j in
            groupWeight[groups[j]] > 0 ? q[groups[j]] * weights[j] / groupWeight[groups[j]] : 0
        }
    }
}

/// JTT's second-stage weights: the examples the first model got wrong weigh `lambda` times more.
public func jttWeights(_ weights: [Float], predictions: [Int], labels: [Int], lambda: Float) -> (weights: [Float], errors: Int) {
    var out = weights
    var errors = 0
    for i in 0..<weights.count where predictions[i] != labels[i] {
        out[i] *= lambda
        errors += 1
    }
    return (out, errors)
}

/// The proximal step of an L1 penalty on dense weights: each moves toward 0 by `t`, and stops there.
func softThreshold(_ parameters: [Parameter], by t: Float) {
    for p in parameters where p.name == "weight" && p.shape.count == 2 {
        p.value.withUnsafeMutableBufferPointer { v in
            for j in v.indices {
                let x = v[j]
                v[j] = x > t ? x - t : (x < -t ? x + t : 0)
            }
        }
    }
}

extension FitLoop {
    /// The learning-rate schedule of a run (its steps per epoch from the sampler's first epoch).
    func schedule(count: Int, epochs: Int, sampler: ((Int) -> [Int])?) -> LearningRateSchedule {
        let batch = max(1, recipe.batchSize)
        let perEpoch = sampler.map { $0(0).count } ?? count
        return recipe.makeSchedule(stepsPerEpoch: max(1, (perEpoch + batch - 1) / batch), epochs: epochs)
    }

    /// The examples an epoch visits, in order: the sampler's, or a seeded shuffle of all.
    func order(epoch: Int, count: Int, sampler: ((Int) -> [Int])?) -> [Int] {
        if let sampler { return sampler(epoch) }
        var rng = SplitMix64(seed: recipe.seed, stream: 0x5AFF1E, UInt64(epoch))
        return rng.permutation(count)
    }

    /// One optimizer step, then the L1 penalty's proximal step.
    func update(_ optimizer: Optimizer, _ parameters: [Parameter], learningRate lr: Float) {
        optimizer.step(parameters, learningRate: lr)
        if recipe.l1 > 0 { softThreshold(parameters, by: lr * recipe.l1) }
    }
}

/// An epoch's running weighted loss and correct count, and the reports made from them.
struct EpochTally {
    let stage: String, epoch: Int, epochs: Int
    let start = DispatchTime.now().uptimeNanoseconds
    var lossSum = 0.0, weightSum = 0.0, correct = 0

    init(stage: String, epoch: Int, epochs: Int) {
        self.stage = stage
        self.epoch = epoch
        self.epochs = epochs
    }

    /// Adds a batch: per-sample losses, class probabilities (k per sample), labels and weights.
    mutating func add(losses: UnsafeBufferPointer<Float>, probabilities probs: UnsafeBufferPointer<Float>, labels y: [Int], weights w: [Float], classes k: Int) {
        y.withUnsafeBufferPointer { y in w.withUnsafeBufferPointer { w in add(losses: losses, probabilities: probs, labels: y, weights: w, classes: k) } }
    }

    mutating func add(losses: UnsafeBufferPointer<Float>, probabilities probs: UnsafeBufferPointer<Float>,
                      labels y: UnsafeBufferPointer<Int>, weights w: UnsafeBufferPointer<Float>, classes k: Int) {
        for j in 0..<y.count {
            lossSum += Double(w[j] * losses[j])
            weightSum += Double(w[j])
            // The first largest probability, kept by selects rather than branches (which the
            // data mispredicts: this loop took 33 ms of a probe's epoch on 1,000,000 rows).
            let row = probs.baseAddress! + j * k
            var best = 0, top = row[0]
            for c in 1..<max(k, 1) {
                let v = row[c]
                let better = v > top
                best = better ? c : best
                top = better ? v : top
            }
            correct += best == y[j] ? 1 : 0
        }
    }

    /// The epoch so far, after `images` samples.
    func report(learningRate: Float, images: Int) -> EpochReport {
        EpochReport(stage: stage, epoch: epoch + 1, epochs: epochs, loss: weightSum > 0 ? lossSum / weightSum : 0,
                    accuracy: images > 0 ? Double(correct) / Double(images) : 0, learningRate: learningRate,
                    seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, images: images)
    }
}
