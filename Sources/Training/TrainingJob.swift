import Foundation
import NeuralNet

/// How a checkpoint is fine-tuned (the seed papers' transfer settings).
public enum FineTuneMode: String, CaseIterable, Sendable {
    /// Every layer trains (full fine-tuning).
    case full
    /// Features frozen, a new last layer trains (the bias-transfer paper's fixed-feature setting).
    case linear
    /// Features frozen, a new last layer trains on group-balanced subsets drawn afresh each
    /// epoch (Deep Feature Reweighting, Kirichenko et al. 2023).
    case lastLayer = "last-layer"
}

/// Group keys `attr=value,attr=value` (in the order of `columns`) and their ids, sorted.
public struct Grouping: Sendable {
    public var columns: [String]
    public var names: [String]
    public var ids: [Int]

    public init(_ data: ImageData, columns: [String]) throws {
        self.columns = columns
        var values: [[String]] = []
        for c in columns {
            guard let v = data.column(c) else {
                throw TrainingError("\(data.named(data.manifest.baseDirectory)): the manifest has no column '\(c)' (from --by)")
            }
            values.append(v)
        }
        let keys = (0..<data.count).map { r in
            zip(columns, values).map { "\($0.0)=\($0.1[r])" }.joined(separator: ",")
        }
        names = Array(Set(keys)).sorted()
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        ids = keys.map { index[$0]! }
    }
}

public struct TrainingJob {
    public var model: ModelName = .cnnSmall
    public var size = 32
    public var channels = 3
    public var recipe = TrainingRecipe()
    public var loss: TrainingLoss = .erm
    public var groupColumns: [String] = []
    /// The checkpoint to fine-tune, and how.
    public var from: (model: Sequential, header: Checkpoint.Header)?
    public var mode: FineTuneMode = .full
    /// Keep the checkpoint's last layer when its classes are the training set's (a second
    /// stage of one task, as in From Fake to Real); otherwise a new head is drawn.
    public var keepHeadWhenClassesMatch = false
    /// Zhang et al.'s feature-distance penalty for full fine-tuning: the pretrained model (a
    /// separate copy of `from`'s) and the penalty's weight.
    public var anchor: (reference: Sequential, weight: Float)?

    public init() {}
}

public struct TrainingOutcome {
    public var model: Sequential
    public var spec: ModelSpec
    public var classes: [String]
    public var reports: [EpochReport]
    /// Facts about the run for the checkpoint and the summary (JTT's error set, DFR's subset size).
    public var notes: [String: String]
}

extension TrainingJob {
    /// Trains on `train` (and reports accuracy on `validation` after every epoch).
    /// `progress` gets every finished epoch; `batchProgress` the epoch so far after each batch.
    public func run(train: ImageData, validation: ImageData? = nil, progress: ((EpochReport) -> Void)? = nil,
                    batchProgress: ((EpochReport) -> Void)? = nil) throws -> TrainingOutcome {
        guard train.count > 0 else {
            throw TrainingError("\(train.named("the training manifest")): " + (train.manifest.count == 0 ? "no rows to train on" : "none of its \(train.manifest.count) images could be loaded (see the errors above)"))
        }
        if recipe.adversarial != nil && train.features != nil { throw TrainingError("adversarial training perturbs images: feature vectors cannot be attacked") }
        let trainLabels = train.labels
        if let k = trainLabels.firstIndex(where: \.isEmpty) {
            let n = trainLabels.filter(\.isEmpty).count
            throw TrainingError("\(train.named("the training manifest")) \(train.manifest.place(train.rows[k])): no label (an empty cell is unknown); \(n) training row(s) lack one: label them or leave them out")
        }
        let classes = Array(Set(train.labels)).sorted()
        guard classes.count >= 2 else { throw TrainingError("training needs at least 2 label values, found \(classes.count)") }
        let classIndex = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        let labels = train.labels.map { classIndex[$0]! }
        var weights = train.weights
        if let bad = weights.firstIndex(where: { !($0 >= 0) || !$0.isFinite }) {
            throw TrainingError("\(train.named("the training manifest")) \(train.manifest.place(train.rows[bad])): weight must be a non-negative number")
        }
        let grouping = groupColumns.isEmpty ? nil : try Grouping(train, columns: groupColumns)
        if case .groupDRO = loss, grouping == nil { throw TrainingError("--loss group-dro needs --by (the groups)") }
        if anchor != nil && (from == nil || mode != .full) { throw TrainingError("the feature-distance penalty needs --from and --mode full (frozen features cannot move)") }
        if mode == .lastLayer && from != nil && grouping == nil { throw TrainingError("--mode last-layer needs --by (the groups to balance)") }

        // The network: fresh, or a checkpoint with a new head.
        let spec: ModelSpec
        let net: Sequential
        var notes: [String: String] = [:]
        if let from {
            let s = from.header.model
            guard s.height == train.height, s.width == train.width, s.channels == train.channels else {
                throw TrainingError("the checkpoint takes \(s.width)x\(s.height)x\(s.channels) inputs; the data is \(train.width)x\(train.height)x\(train.channels)\(train.features == nil ? " (set --size/--channels)" : ": the features come from another model than the checkpoint's")")
            }
            spec = ModelSpec(name: s.name, height: s.height, width: s.width, channels: s.channels, classes: classes.count)
            net = from.model
            if !(keepHeadWhenClassesMatch && from.header.classes == classes) {
                net.resetHead(classes: classes.count, seed: recipe.seed)
            }
            net.trainableFrom = mode == .full ? 0 : net.headIndex
            notes["fine_tune_mode"] = mode.rawValue
        } else {
            spec = ModelSpec(name: model, height: train.height, width: train.width, channels: train.channels, classes: classes.count)
            if let problem = spec.problem { throw TrainingError("cannot build \(model.rawValue): \(problem) (set --size/--model)") }
            net = spec.build(seed: recipe.seed)
        }

        // Validation rows the model cannot predict (a label training never saw, or no rows at all)
        // would be counted wrong, or print nothing: both are errors, as in evaluate.
        if let val = validation {
            guard val.count > 0 else {
                throw TrainingError("\(val.named("the validation manifest")): " + (val.manifest.count == 0 ? "no rows to validate on" : "none of its \(val.manifest.count) images could be loaded (see the errors above)"))
            }
            if let i = val.labels.firstIndex(where: { classIndex[$0] == nil }) {
                throw TrainingError("\(val.named(val.manifest.baseDirectory)): \(val.manifest.place(val.rows[i])): label '\(val.labels[i])' is not one of the training labels (\(classes.joined(separator: ", ")))")
            }
        }
        let validate: ((Int) -> Double?)? = validation.map { val in
            let valLabels = val.labels.map { classIndex[$0] }
            return { _ in
                let p = predict(net, count: val.count) { val.batch($0) }
                var correct = 0
                for (i, c) in p.classes.enumerated() where valLabels[i] == c { correct += 1 }
                return val.count > 0 ? Double(correct) / Double(val.count) : nil
            }
        }

        // A linear model on feature vectors (or any model whose layers below the head are only a
        // Flatten, with the head alone trained) trains in place on the mapped rows.
        let probe: Dense? = {
            guard let f = train.features, recipe.augmentation.isEmpty, let head = net.layers[net.headIndex] as? Dense,
                  net.layers[..<net.headIndex].allSatisfy({ $0 is Flatten }), head.inputs == f.dimension else { return nil }
            return head
        }()
        // What one run of the loop trains: the probe in place, or the network on batches.
        let fit: (FitLoop, Int, [Float], Bool, ((Int) -> [Int])?) -> [EpochReport]
        let trainPredictions: () -> [Int]
        let trained: [Parameter]
        if let probe {
            let (matrix, map) = (train.features!, train.featureRows)
            // Row-aligned features (the usual case) need no lookup: in an epoch's shuffled order
            // each lookup is one more random access into a large array.
            let aligned = map.count == matrix.rows && map.indices.allSatisfy { map[$0] == $0 }
            let rows: (Int) -> UnsafePointer<Float> = aligned ? { matrix.row($0) } : { matrix.row(map[$0]) }
            fit = { loop, epochs, weights, robust, sampler in
                loop.fitProbe(probe, rows: rows, count: train.count, epochs: epochs, labels: labels, weights: weights,
                              groups: robust ? grouping?.ids : nil, groupCount: robust ? grouping?.names.count ?? 0 : 0,
                              loss: robust ? self.loss : .erm, sampler: sampler)
            }
            trainPredictions = { predict(net, count: train.count) { train.batch($0) }.classes }
            trained = probe.parameters
        } else {
            // Frozen features without augmentation are computed once, not every epoch (unless the
            // images are attacked: adversarial training perturbs the images, not the features).
            let frozen = net.trainableFrom == net.headIndex && net.trainableFrom > 0
            let trainNet: Sequential
            let input: ([Int], Int) -> Tensor
            if frozen && recipe.augmentation.isEmpty && recipe.adversarial == nil {
                let features = computeFeatures(net, train)
                trainNet = Sequential([net.layers[net.headIndex]])
                input = { idx, _ in features.gather(idx) }
            } else {
                trainNet = net
                let (aug, seed) = (recipe.augmentation, recipe.seed)
                input = { idx, epoch in train.batch(idx, augmentation: aug, seed: seed, epoch: epoch) }
            }
            fit = { loop, epochs, weights, robust, sampler in
                loop.fit(trainNet, count: train.count, epochs: epochs, input: input, labels: labels, weights: weights,
                         groups: robust ? grouping?.ids : nil, groupCount: robust ? grouping?.names.count ?? 0 : 0,
                         loss: robust ? self.loss : .erm, sampler: sampler)
            }
            trainPredictions = { predict(trainNet, count: train.count) { input($0, 0) }.classes }
            trained = net.parameters
        }

        var sampler: ((Int) -> [Int])?
        if mode == .lastLayer, from != nil, let grouping { sampler = balancedSampler(grouping, notes: &notes) }

        var reports: [EpochReport] = []
        switch loss {
        case .erm, .groupDRO:
            var loop = FitLoop(recipe: recipe, stage: "train", progress: progress, validate: validate, batchProgress: batchProgress)
            loop.anchor = anchor
            reports = fit(loop, recipe.epochs, weights, true, sampler)
        case .jtt(let lambda, let firstEpochs):
            let start = trained.map(\.value)
            var first = FitLoop(recipe: recipe, stage: "jtt-identify", progress: progress, batchProgress: batchProgress)
            first.anchor = anchor
            reports = fit(first, firstEpochs, weights, false, sampler)
            let upweighted = jttWeights(weights, predictions: trainPredictions(), labels: labels, lambda: lambda)
            weights = upweighted.weights
            for (param, value) in zip(trained, start) { param.value = value }
            notes["jtt_error_set"] = String(upweighted.errors)
            notes["jtt_lambda"] = String(lambda)
            var second = FitLoop(recipe: recipe, stage: "jtt-retrain", progress: progress, validate: validate, batchProgress: batchProgress)
            second.anchor = anchor
            reports += fit(second, recipe.epochs, weights, false, sampler)
        }
        net.trainableFrom = 0
        if let bad = reports.first(where: { !$0.loss.isFinite }) {
            throw TrainingError("training diverged in \(bad.stage) epoch \(bad.epoch) (the loss is not a number): lower --lr"
                                + (anchor != nil ? " or --feature-distance" : ""))
        }
        return TrainingOutcome(model: net, spec: spec, classes: classes, reports: reports, notes: notes)
    }

    func computeFeatures(_ net: Sequential, _ data: ImageData) -> Tensor {
        var rows: [Float] = []
        var width = 0
        var i = 0
        while i < data.count {
            let idx = Array(i..<min(i + 512, data.count))
            i += 512
            let f = net.features(data.batch(idx), upTo: net.headIndex)
            width = f.itemCount
            rows += f.storage
        }
        return Tensor(shape: [data.count, width], storage: rows)
    }

    /// Deep Feature Reweighting's epochs: a fresh group-balanced subset each epoch (the
    /// smallest group's size from every group), shuffled.
    func balancedSampler(_ grouping: Grouping, notes: inout [String: String]) -> (Int) -> [Int] {
        let (members, smallest) = groupMembers(grouping)
        notes["dfr_per_group"] = String(smallest)
        let seed = recipe.seed
        return { epoch in
            var rng = SplitMix64(seed: seed, stream: 0xDF2, UInt64(epoch))
            var chosen: [Int] = []
            for m in members {
                let p = rng.permutation(m.count)
                chosen += p.prefix(smallest).map { m[$0] }
            }
            let order = rng.permutation(chosen.count)
            return order.map { chosen[$0] }
        }
    }

    func groupMembers(_ g: Grouping) -> ([[Int]], Int) {
        var members = [[Int]](repeating: [], count: g.names.count)
        for (i, id) in g.ids.enumerated() { members[id].append(i) }
        return (members, members.map(\.count).min() ?? 0)
    }
}
