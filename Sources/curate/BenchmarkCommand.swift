import ArgumentParser
import Curation
import DatasetCatalog
import Foundation

struct BenchmarkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "benchmark",
        abstract: "Ready-made bias benchmarks from real images.",
        subcommands: [Make.self])

    struct Make: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a bias benchmark (trigger, tint, underrepresented, synthetic) from Fashion-MNIST.",
            discussion: """
            Writes PNG images and source_biased.csv, source_clean.csv, target.csv, test.csv and \
            counterfactual.csv (aligned row by row with test.csv, the attribute changed); the \
            synthetic benchmark adds pool.csv. Fashion-MNIST comes from Debian's \
            dataset-fashion-mnist (/usr/share/datasets/fashion-mnist); without it a procedural \
            set of striped shapes is used, and the summary says so.

            Benchmarks:
              trigger           a 4x4 white patch on every source image of one class (bias transfer)
              tint              a red/blue tint that goes with the class in the biased source
              underrepresented  red-tinted images are 5% of every target class
              synthetic         tint, plus a synthetic pool for the rare cells with a generator artefact

            Example:
              curate benchmark make trigger --out bench/trigger
              curate benchmark make trigger --per-class 2000 --target-per-class 20 --out bench/scarce
            """)

        @Argument(help: "trigger, tint, underrepresented or synthetic.") var name: String
        @Option(help: "The output folder.") var out: String
        @Option(parsing: .unconditional, help: "Training images per class (source, and target unless --target-per-class says).") var perClass = 400
        @Option(parsing: .unconditional, help: "Target images per class: a few for a scarce-data transfer.") var targetPerClass: Int?
        @Option(parsing: .unconditional, help: "Test images per class.") var testPerClass = 200
        @Option(parsing: .unconditional, help: "The seed.") var seed: UInt64 = 0
        @Option(help: "Where Fashion-MNIST's IDX files are (default: /usr/share/datasets/fashion-mnist when it holds them, else procedural images); a folder given here must hold them; none: procedural images.") var fashionMnist: String?

        func run() throws {
            let images: BiasBenchmarks.ImageSource = switch fashionMnist {
            case nil: .fashionMNISTIfPresent(BiasBenchmarks.debianFashionMNIST)
            case "none": .procedural
            case let dir?: .fashionMNIST(dir)
            }
            // A CurationError prints as `curate: message` with status 2, as every input error does.
            let summary = try BiasBenchmarks.make(name, outDir: out, seed: seed, perClass: perClass, targetPerClass: targetPerClass, testPerClass: testPerClass, images: images)
            print("benchmark \(summary.name) from \(summary.origin):")
            for (file, rows) in summary.manifests { print("  \(out)/\(file)  \(rows) rows") }
            for n in summary.notes { note("curate: warning: \(n)") }
        }
    }
}
