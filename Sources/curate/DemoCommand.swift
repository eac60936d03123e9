import ArgumentParser
import DatasetCatalog
import Experiments
import Foundation
import ImageCodecs

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "The main job: make the default bias benchmark, run the default experiment, print what it found.",
        discussion: """
        Makes the `synthetic` benchmark from Fashion-MNIST (a tint that goes with the class in a \
        biased source, a mildly correlated target, a synthetic pool), then runs \
        manifests/experiments/demo.yaml (built in): none, undersample, oversample, reweight, a \
        de-correlated target, the FFR two-stage plan and group DRO, under fixed-feature and full \
        fine-tuning, from a biased and a clean source, over 3 seeds. Resumable: run it again to \
        finish an interrupted demo. About 30 seconds to a minute on 2 cores.

        Example:
          curate demo --out demo-run
        """)

    @Option(help: "The output folder.") var out = "curate-demo"

    /// manifests/experiments/demo.yaml, built in so the demo runs from anywhere.
    static let manifest = """
# The demo: does a source model whose features learned "tint goes with the class" hand that
# shortcut to a fine-tuned sandal/sneaker classifier, and which curation of the target undoes
# it? Made from Fashion-MNIST by `curate benchmark make synthetic` (a procedural set without it).
# Run: curate experiment run manifests/experiments/demo.yaml --out runs/demo  (or: make demo)
name: tint-transfer
benchmark: synthetic
attribute: tint
by: [label, tint]
interventions:
  - none
  - name: undersample
    strategy: undersample
  - name: oversample
    strategy: oversample
  - name: reweight
    strategy: reweight
    method: reweighing
  - name: decorrelate
    strategy: correlate
    strength: 0
  - name: ffr
    strategy: ffr
  - name: group-dro
    loss: group-dro
transfers: [linear, full]
sources: [biased, clean]
recipe:
  model: cnn-small
  size: 28
  channels: 3
  epochs: 3
  source_epochs: 3
  batch_size: 64
  lr: 0.05
seeds: [0, 1, 2]
"""

    func run() throws {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let path = out + "/demo.yaml"
        try AtomicFile.write(Data(Self.manifest.utf8), to: path)
        let m = try ExperimentManifest.load(path)
        let runner = ExperimentRunner(m, outDir: out)
        defer { withExtendedLifetime(runner) {} }  // its lock on the folder lasts until the reports are written
        let tty = isatty(2) != 0
        runner.progress = { line in if tty { note(line) } }
        let start = Date()
        note("Making the benchmark and running \(m.interventions.count) interventions x \(m.transfers.count) transfers x \(m.sources.count) sources x \(m.seeds.count) seeds...")
        try runner.run()
        let (md, cells) = try ExperimentResults.writeReports(m, outDir: out, target: out + "/benchmark/target.csv")
        print(md)
        // The headline: inherited flip rate (biased - clean source) without intervention, and
        // what each intervention leaves of it.
        func mean(_ i: String, _ t: String, _ s: String) -> Double? {
            let xs = cells.filter { $0.intervention == i && $0.transfer == t && $0.source == s }.compactMap { $0.values["flip_rate"] }
            return xs.isEmpty ? nil : xs.reduce(0, +) / Double(xs.count)
        }
        print("Inherited flip rate (from the biased source minus from the clean one), percentage points:")
        print("| intervention | fixed-feature | full fine-tuning |\n|---|---:|---:|")
        for i in m.interventions.map(\.name) {
            let cols = m.transfers.map { t -> String in
                guard let b = mean(i, t, "biased"), let c = mean(i, t, "clean") else { return "n/a" }
                return ExperimentResults.tenths(100 * (b - c), signed: true)
            }
            print("| \(i) | " + cols.joined(separator: " | ") + " |")
        }
        print(String(format: "\nfinished in %.0f s; the report: %@/report.html (and report.md, results.json)", Date().timeIntervalSince(start), out))
    }
}
