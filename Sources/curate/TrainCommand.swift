import ArgumentParser
import DatasetCatalog
import Foundation
import ImageCodecs
import NeuralNet
import Training

extension ModelName: ExpressibleByArgument {}
extension FineTuneMode: ExpressibleByArgument {}
extension TrainingRecipe.OptimizerKind: ExpressibleByArgument {}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model on a manifest, from scratch or by fine-tuning a checkpoint.",
        discussion: """
        The images are decoded once (corrupt ones are reported and skipped), resized to \
        --size x --size, scaled to [-1, 1] and kept in memory. The default recipe is the PyTorch \
        reference's (shared/peers/torch_reference.py): SGD, momentum 0.9, lr 0.05, weight decay \
        5e-4, batch 128, cross-entropy weighted by the manifest's `weight` column, shuffled each \
        epoch with the seed. The same seed gives a byte-identical checkpoint whatever --threads is.

        Transfer: --from CKPT fine-tunes a checkpoint with a new last layer; --mode full trains \
        every layer, linear freezes the features (the fixed-feature setting), last-layer retrains \
        the last layer on group-balanced subsets of the --by groups (Deep Feature Reweighting).
        Robust losses: --loss group-dro (groups from --by, step size --eta) and jtt (train \
        --jtt-epochs, upweight the misclassified by --jtt-lambda, train again).

        Examples:
          curate train --train fmnist/train.csv --channels 1 --size 28 --epochs 5 --out base.ckpt
          curate train --train target.csv --from source.ckpt --mode linear --epochs 3 --out ft.ckpt
          curate train --train train.csv --loss group-dro --by label,gender --out dro.ckpt
        """)

    @Option(help: "The training manifest.") var train: String?
    @Option(help: "A curation plan (curate build ffr): its stages train in order, each from the previous one's weights.") var plan: String?
    @Option(help: "A validation manifest (accuracy printed after every epoch).") var val: String?
    @Option(help: "Feature vectors in place of the --train images: a .npy (float32/float16, C or Fortran order) or .safetensors file aligned with the manifest's rows (or mapped through its source_row), or column:NAME for vectors in a manifest column. Models: linear (a linear probe) or mlp.") var features: String?
    @Option(help: "Feature vectors for the --val manifest (as --features).") var valFeatures: String?
    @Option(parsing: .unconditional, help: "L1 penalty on the dense weights (per example, mean-loss units; as in Deep Feature Reweighting's last layer).") var l1: Float = 0
    @Option(help: "The architecture: linear, mlp, cnn-small, resnet-small (default: cnn-small; with --from, the checkpoint's).") var model: ModelName?
    @Option(parsing: .unconditional, help: "Epochs.") var epochs = 5
    @Option(parsing: .unconditional, help: "Images are resized to SIZE x SIZE (default: 32; with --from, the checkpoint's).") var size: Int?
    @Option(parsing: .unconditional, help: "Input channels: 3 (RGB) or 1 (grey) (default: 3; with --from, the checkpoint's).") var channels: Int?
    @Option(parsing: .unconditional, help: "Batch size.") var batchSize = 128
    @Option(name: .customLong("lr"), parsing: .unconditional, help: "Learning rate.") var learningRate: Float = 0.05
    @Option(help: "sgd, adam or adamw.") var optimizer: TrainingRecipe.OptimizerKind = .sgd
    @Option(parsing: .unconditional, help: "SGD momentum.") var momentum: Float = 0.9
    @Flag(help: "Nesterov momentum.") var nesterov = false
    @Option(parsing: .unconditional, help: "Weight decay (L2 for sgd and adam, decoupled for adamw).") var weightDecay: Float = 5e-4
    @Option(help: "Learning-rate schedule: constant, step or cosine.") var schedule = "constant"
    @Option(parsing: .unconditional, help: "For --schedule step: decay every N epochs.") var stepEvery = 30
    @Option(parsing: .unconditional, help: "For --schedule step: the decay factor.") var gamma: Float = 0.1
    @Option(parsing: .unconditional, help: "Linear warm-up over this many epochs.") var warmup = 0
    @Option(help: "Augmentation: flip, crop (comma-separated) or none.") var augment = "none"
    @Option(help: "A checkpoint to fine-tune.") var from: String?
    @Option(parsing: .unconditional, help: "With --from and --mode full: Zhang et al.'s penalty, this weight times the mean squared distance between the fine-tuned and the pretrained model's features (the head's input) on the training images. About 0.1 suits cnn-small's default recipe; much larger weights make SGD's steps overshoot (the run then stops: diverged).") var featureDistance: Float?
    @Option(help: "Fine-tuning mode: full, linear or last-layer.") var mode: FineTuneMode = .full
    @Option(help: "The loss: erm, group-dro or jtt.") var loss = "erm"
    @Option(parsing: .singleValue, help: "Group columns (comma-separated or repeated), for group-dro and last-layer.") var by: [String] = []
    @Option(parsing: .unconditional, help: "With --loss group-dro: the step size (default: 0.01).") var eta: Float?
    @Option(parsing: .unconditional, help: "With --loss jtt: the upweighting of the misclassified examples (default: 6).") var jttLambda: Float?
    @Option(parsing: .unconditional, help: "With --loss jtt: epochs of the first (identification) run (default: 1).") var jttEpochs: Int?
    @Option(help: "Adversarial training (Madry et al.): train on each batch's fgsm or pgd adversarial images (budget: --epsilon, --steps, ...).") var adversarial: Attack.Method?
    @OptionGroup var budget: AttackOptions
    @Option(parsing: .unconditional, help: "The seed of every random choice.") var seed: UInt64 = 0
    @Option(parsing: .unconditional, help: "Threads (default: all cores). The result does not depend on it.") var threads: Int?
    @Option(help: "Where to write the checkpoint.") var out: String
    @Flag(help: "Print a JSON summary on stdout (no progress).") var json = false

    func validate() throws {
        guard epochs >= 0 else { throw ValidationError("--epochs must be 0 or more") }
        if let channels { guard channels == 1 || channels == 3 else { throw ValidationError("--channels must be 1 or 3") } }
        if let size { guard size >= 1 && size <= 1024 else { throw ValidationError("--size must be between 1 and 1024") } }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be positive") }
        guard ["erm", "group-dro", "jtt"].contains(loss) else { throw ValidationError("--loss must be erm, group-dro or jtt") }
        guard ["constant", "step", "cosine"].contains(schedule) else { throw ValidationError("--schedule must be constant, step or cosine") }
        if from == nil && mode != .full { throw ValidationError("--mode \(mode.rawValue) needs --from CKPT") }
        if let w = featureDistance {
            if from == nil || mode != .full { throw ValidationError("--feature-distance needs --from CKPT and --mode full") }
            if features != nil { throw ValidationError("--feature-distance works on images, not --features") }
            if !(w >= 0) || !w.isFinite { throw ValidationError("--feature-distance must be a non-negative number") }
        }
        if plan != nil && from != nil { throw ValidationError("--plan trains its first stage from scratch, as the plan says: leave out --from") }
        if (train == nil) == (plan == nil) { throw ValidationError("give --train MANIFEST or --plan PLAN (one of them)") }
        guard l1 >= 0, l1.isFinite else { throw ValidationError("--l1 must be 0 or more") }
        // NaN fails every comparison, so each check is written to let only good values through.
        guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--lr must be a positive number") }
        guard momentum >= 0, momentum < 1 else { throw ValidationError("--momentum must be at least 0 and below 1") }
        guard weightDecay >= 0, weightDecay.isFinite else { throw ValidationError("--weight-decay must be 0 or more") }
        guard gamma > 0, gamma.isFinite else { throw ValidationError("--gamma must be a positive number") }
        guard stepEvery >= 1 else { throw ValidationError("--step-every must be 1 or more") }
        guard warmup >= 0 else { throw ValidationError("--warmup must be 0 or more") }
        // An option of another loss would be ignored: say so instead.
        if eta != nil && loss != "group-dro" { throw ValidationError("--eta is group DRO's step size: it needs --loss group-dro") }
        if (jttLambda != nil || jttEpochs != nil) && loss != "jtt" {
            throw ValidationError("\(jttLambda != nil ? "--jtt-lambda" : "--jtt-epochs") is JTT's: it needs --loss jtt")
        }
        if let eta { guard eta > 0, eta.isFinite else { throw ValidationError("--eta must be a positive number") } }
        if let jttLambda { guard jttLambda >= 1, jttLambda.isFinite else { throw ValidationError("--jtt-lambda must be 1 or more (the misclassified rows' weight)") } }
        if let jttEpochs { guard jttEpochs >= 1 else { throw ValidationError("--jtt-epochs must be 1 or more") } }
        if let threads, threads < 1 { throw ValidationError("--threads must be 1 or more") }
        if features != nil {
            if plan != nil { throw ValidationError("--features trains on one manifest; a --plan's stages are images") }
            if from == nil && model != .linear && model != .mlp { throw ValidationError("--features needs --model linear (a linear probe) or mlp") }
            if size != nil || channels != nil { throw ValidationError("\(size != nil ? "--size" : "--channels") shapes images; feature vectors have the file's width") }
            if val != nil && valFeatures == nil { throw ValidationError("--val with --features needs --val-features") }
            if augment != "none" { throw ValidationError("--augment flips and crops images; feature vectors cannot be augmented") }
        } else if valFeatures != nil { throw ValidationError("--val-features needs --features") }
    }

    var groupColumns: [String] { get throws { try columnList(by) } }

    func run() throws {
        try checkDistinct(outputs: [("--out", out)], inputs: [("--train", train), ("--plan", plan), ("--val", val), ("--from", from),
                                                               ("--features", features), ("--val-features", valFeatures)])
        try AtomicFile.checkWritable(out)  // before training, not after it
        if let threads { Parallel.threads = max(1, threads) }
        Parallel.retainLargeAllocations()
        var recipe = TrainingRecipe()
        recipe.epochs = epochs
        recipe.batchSize = batchSize
        recipe.learningRate = learningRate
        recipe.optimizer = optimizer
        recipe.momentum = momentum
        recipe.nesterov = nesterov
        recipe.weightDecay = weightDecay
        recipe.schedule = schedule == "step" ? .step(every: stepEvery, gamma: gamma) : schedule == "cosine" ? .cosine : .constant
        recipe.warmupEpochs = warmup
        recipe.augmentation = try Augmentation(parsing: augment)
        recipe.seed = seed
        recipe.l1 = l1
        recipe.adversarial = try budget.make(adversarial, flag: "--adversarial", seed: seed)
        if recipe.adversarial != nil && features != nil { throw ValidationError("--adversarial perturbs images: it cannot train on --features") }

        var job = TrainingJob()
        job.model = model ?? .cnnSmall
        job.size = size ?? 32
        job.channels = channels ?? 3
        job.recipe = recipe
        job.groupColumns = try groupColumns
        job.mode = mode
        switch loss {
        case "group-dro": job.loss = .groupDRO(eta: eta ?? 0.01)
        case "jtt": job.loss = .jtt(lambda: jttLambda ?? 6, firstEpochs: jttEpochs ?? 1)
        default: job.loss = .erm
        }
        if let from {
            let (net, header) = try Checkpoint.read(path: from)
            let takesFeatures = header.metadata["input"] == "features"
            if takesFeatures && features == nil { throw CheckpointError(path: from, message: "takes feature vectors (\(header.model.channels) values): give --features") }
            if !takesFeatures && features != nil { throw CheckpointError(path: from, message: "takes images, not feature vectors") }
            // The architecture and input shape are the checkpoint's: one given that differs would
            // be ignored, so it is an error instead.
            if let model, model != header.model.name {
                throw ValidationError("--model \(model.rawValue): \(from) is a \(header.model.name.rawValue); leave --model out to fine-tune it")
            }
            if let size, size != header.model.height {
                throw ValidationError("--size \(size): \(from) takes \(header.model.height)x\(header.model.width) images; leave --size out")
            }
            if let channels, !takesFeatures, channels != header.model.channels {
                throw ValidationError("--channels \(channels): \(from) takes \(header.model.channels)-channel images; leave --channels out")
            }
            job.from = (net, header)
            if let weight = featureDistance { job.anchor = (try Checkpoint.read(path: from).model, weight) }
            job.size = header.model.height
            job.channels = header.model.channels
        }
        var train = self.train ?? ""
        var skippedInStages = 0
        // With --plan, what each stage before the last trained on and gave, for --json.
        var stageSummaries: [JSONValue] = []
        func epochsJSON(_ reports: [EpochReport]) -> JSONValue {
            .array(reports.map { r in
                .object([("stage", .string(r.stage)), ("epoch", .int(r.epoch)), ("loss", .number(r.loss)),
                         ("accuracy", .number(r.accuracy)), ("validation_accuracy", .optional(r.validationAccuracy)),
                         ("learning_rate", .number(Double(r.learningRate))), ("seconds", .number(r.seconds)),
                         ("images_per_s", .number(r.imagesPerSecond.rounded()))])
            })
        }
        func stageJSON(_ index: Int, _ manifest: String, mode: FineTuneMode, images: Int, skipped: Int, reports: [EpochReport]) -> JSONValue {
            .object([("stage", .int(index)), ("manifest", .string(manifest)), ("mode", .string(mode.rawValue)),
                     ("train_images", .int(images)), ("skipped", .int(skipped)), ("epochs", epochsJSON(reports))])
        }
        if let plan {
            // Every stage but the last trains here; the last is the run below, from the one before.
            let planned = try TrainCommand.planStages(plan)
            let stages = planned.map(\.manifest)
            for (i, stage) in stages.dropLast().enumerated() {
                let data = try TrainCommand.load(stage, size: job.size, channels: job.channels)
                skippedInStages += data.failures.count
                let outcome = try job.run(train: data)
                let last = outcome.reports.last
                if !json { print("plan stage \(i + 1) (\(stage)): \(data.count) images" + (last.map { String(format: ", final loss %.4f, train accuracy %.2f%%", $0.loss, 100 * $0.accuracy) } ?? "")) }
                stageSummaries.append(stageJSON(i + 1, stage, mode: planned[i].mode, images: data.count, skipped: data.failures.count, reports: outcome.reports))
                let header = Checkpoint.Header(model: outcome.spec, classes: outcome.classes, tensors: [], metadata: [:])
                job.from = (outcome.model, header)
                job.mode = planned[i + 1].mode
                job.keepHeadWhenClassesMatch = true
            }
            train = stages.last!
        }
        let started = Date()
        let trainData: ImageData, valData: ImageData?
        if let features {
            trainData = try ImageData.load(train, features: features)
            valData = try val.map { try ImageData.load($0, features: valFeatures!) }
            if let v = valData, v.channels != trainData.channels {
                throw ValidationError("--val-features has \(v.channels) values per row; --features has \(trainData.channels)")
            }
            if let from = self.from, let s = job.from?.header.model, s.channels != trainData.channels {
                throw CheckpointError(path: from, message: "takes \(s.channels) values per row; \(trainData.features?.source ?? features) has \(trainData.channels) (features from another model than the checkpoint's?)")
            }
        } else {
            trainData = try TrainCommand.load(train, size: job.size, channels: job.channels)
            valData = try val.map { try TrainCommand.load($0, size: job.size, channels: job.channels) }
        }
        let loaded = Date().timeIntervalSince(started)
        let tty = !json && isatty(2) != 0
        // On a terminal: a line that updates twice a second within an epoch, and stays at
        // the end of each epoch.
        var lastDraw = 0.0
        func line(_ r: EpochReport, total: Int) -> String {
            let rate = r.seconds > 0 ? Double(r.images) / r.seconds : 0
            let left = rate > 0 ? (Double(total - r.images) + Double(r.epochs - r.epoch) * Double(total)) / rate : 0
            var text = String(format: "%@ epoch %d/%d  %d/%d  loss %.4f  acc %.2f%%", r.stage, r.epoch, r.epochs, r.images, total, r.loss, 100 * r.accuracy)
            if let v = r.validationAccuracy { text += String(format: "  val %.2f%%", 100 * v) }
            return text + String(format: "  %.0f img/s  %d:%02d left", rate, Int(left) / 60, Int(left) % 60)
        }
        let total = job.mode == .lastLayer && job.from != nil ? 0 : trainData.count
        if let f = trainData.features, !json, isatty(2) != 0 {
            note("features: \(f.rows) x \(f.dimension) from \(f.source), \(f.layout)")
        }
        let outcome = try job.run(train: trainData, validation: valData, progress: { r in
            guard tty else { return }
            FileHandle.standardError.write(Data(("\r" + line(r, total: r.images) + "\u{1B}[K\n").utf8))
        }, batchProgress: { r in
            guard tty, r.seconds - lastDraw >= 0.5 || r.seconds < lastDraw else { return }
            lastDraw = r.seconds
            FileHandle.standardError.write(Data(("\r" + line(r, total: total > 0 ? total : r.images) + "\u{1B}[K").utf8))
        })
        var metadata: [String: String] = [
            "curate_version": CurateVersion.string, "seed": String(seed), "epochs": String(epochs),
            "loss": loss, "train": plan ?? train, "optimizer": optimizer.rawValue, "learning_rate": String(learningRate),
            "batch_size": String(batchSize), "weight_decay": String(weightDecay), "schedule": schedule,
            "warmup_epochs": String(warmup), "augment": augment,
        ]
        // The whole recipe, each setting where it applies, so the checkpoint says how it was made.
        if optimizer == .sgd { metadata["momentum"] = String(momentum); metadata["nesterov"] = String(nesterov) }
        if schedule == "step" { metadata["step_every"] = String(stepEvery); metadata["gamma"] = String(gamma) }
        if loss == "group-dro" { metadata["eta"] = String(eta ?? 0.01) }
        if loss == "jtt" { metadata["jtt_lambda"] = String(jttLambda ?? 6); metadata["jtt_epochs"] = String(jttEpochs ?? 1) }
        if let from { metadata["from"] = from }
        if let features {
            metadata["input"] = "features"
            metadata["features"] = features
            if l1 > 0 { metadata["l1"] = String(l1) }
        }
        if let columns = try? groupColumns, !columns.isEmpty { metadata["by"] = columns.joined(separator: ",") }
        if let attack = recipe.adversarial { metadata["adversarial"] = attack.description }
        if let weight = featureDistance { metadata["feature_distance"] = String(weight) }
        for (k, v) in outcome.notes { metadata[k] = v }
        let data = Checkpoint.encode(outcome.model, spec: outcome.spec, classes: outcome.classes, metadata: metadata)
        try AtomicFile.write(data, to: out)

        // As the PyTorch reference reports it: images of an epoch over the median epoch time
        // (the upper median for an even count).
        let seconds = outcome.reports.map(\.seconds).sorted()
        let median = seconds.isEmpty || seconds[seconds.count / 2] == 0 ? 0
            : Double(outcome.reports[0].images) / seconds[seconds.count / 2]
        if json {
            let summary: JSONValue = .object([
                ("checkpoint", .string(out)),
                ("model", .string(outcome.spec.name.rawValue)),
                ("classes", .array(outcome.classes.map { .string($0) })),
                ("train_images", .int(trainData.count)),
                ("skipped", .int(trainData.failures.count)),
                ("load_seconds", .number((loaded * 1000).rounded() / 1000)),
                ("train_images_per_s", .number(median.rounded())),
                ("notes", .object(outcome.notes.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
                ("epochs", epochsJSON(outcome.reports)),
            ] + (plan == nil ? [] : [
                // Every stage in order, the last (the one above) included.
                ("stages", .array(stageSummaries + [stageJSON(stageSummaries.count + 1, train, mode: job.mode, images: trainData.count,
                                                              skipped: trainData.failures.count, reports: outcome.reports)])),
            ]))
            print(summary.rendered())
        } else {
            let last = outcome.reports.last
            print("trained \(outcome.spec.name.rawValue) on \(trainData.count) \(features == nil ? "images" : "feature vectors"), \(outcome.classes.count) classes; "
                  + (last.map { String(format: "final loss %.4f, train accuracy %.2f%%", $0.loss, 100 * $0.accuracy) } ?? "no epochs")
                  + String(format: ", %.0f %@/s (median epoch)", median, features == nil ? "images" : "rows"))
            if let v = last?.validationAccuracy { print(String(format: "validation accuracy %.2f%%", 100 * v)) }
            for (k, v) in outcome.notes.sorted(by: { $0.key < $1.key }) { print("\(k): \(v)") }
            print("wrote \(out)")
        }
        // The checkpoint is written; the exit status still says images were skipped.
        if skippedInStages + trainData.failures.count + (valData?.failures.count ?? 0) > 0 { throw ExitCode(1) }
    }

    /// The stage manifests of a plan file, resolved against its folder.
    /// Every field of a stage is checked: `init` is scratch for the first stage and previous for
    /// the others (the only orders the trainer runs), and `mode` is how a later stage fine-tunes
    /// the one before (full when absent).
    static func planStages(_ path: String) throws -> [(manifest: String, mode: FineTuneMode)] {
        guard let data = FileManager.default.contents(atPath: path),
              let doc = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TrainingError("\(path): not a readable plan (JSON)")
        }
        guard doc["format"] as? String == "curate-plan", let stages = doc["stages"] as? [[String: Any]], !stages.isEmpty else {
            throw TrainingError("\(path): not a curate plan (format curate-plan with stages)")
        }
        if let v = doc["version"], (v as? Int) != 1 { throw TrainingError("\(path): plan version \(v) is not supported (this Curate reads version 1)") }
        let base = (path as NSString).deletingLastPathComponent
        return try stages.enumerated().map { i, s in
            guard let m = s["manifest"] as? String, !m.isEmpty else { throw TrainingError("\(path): stage \(i + 1) names no manifest") }
            let initial = s["init"] as? String ?? (i == 0 ? "scratch" : "previous")
            guard initial == (i == 0 ? "scratch" : "previous") else {
                throw TrainingError("\(path): stage \(i + 1) has init \"\(s["init"].map { "\($0)" } ?? "")\": the first stage starts from scratch and each later one from the previous")
            }
            var mode = FineTuneMode.full
            if let text = s["mode"] {
                guard let t = text as? String, let parsed = FineTuneMode(rawValue: t) else {
                    throw TrainingError("\(path): stage \(i + 1) has mode \"\(text)\" (\(FineTuneMode.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                guard i > 0 || parsed == .full else { throw TrainingError("\(path): stage 1 trains from scratch: its mode can only be full") }
                mode = parsed
            }
            let resolved = m.hasPrefix("/") || base.isEmpty ? m : base + "/" + m
            guard FileManager.default.fileExists(atPath: resolved) else { throw TrainingError("\(path): stage \(i + 1)'s manifest \(resolved): no such file") }
            return (resolved, mode)
        }
    }

    /// Loads a manifest's images, reporting the ones skipped.
    static func load(_ path: String, size: Int, channels: Int, requireLabels: Bool = true) throws -> ImageData {
        let data = try ImageData.load(path, size: size, channels: channels, requireLabels: requireLabels)
        for f in data.failures.prefix(20) { note("curate: \(f.path): \(f.message) (skipped)") }
        if data.failures.count > 20 { note("curate: \(data.failures.count - 20) more images skipped") }
        return data
    }
}
