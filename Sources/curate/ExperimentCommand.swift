import ArgumentParser
import DatasetCatalog
import Experiments
import Foundation
import ImageCodecs

struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Run an experiment manifest's matrix and report how much each intervention reduces inherited bias.",
        subcommands: [Run.self])

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run (or resume) an experiment: every finished cell is kept and never rerun.",
            discussion: """
            Writes DIR/cells/*.json (one per intervention, transfer, source and seed), \
            DIR/results.json and DIR/report.md. An interrupted run continues where it stopped.

            Example:
              curate experiment run manifests/experiments/trigger.yaml --out runs/trigger
            """)

        @Argument(help: "The experiment manifest (YAML).") var manifest: String
        @Option(help: "The output folder.") var out: String
        @Flag(help: "No progress lines.") var quiet = false

        func run() throws {
            let m = try ExperimentManifest.load(manifest)
            let runner = ExperimentRunner(m, outDir: out)
            if !quiet { runner.progress = { note($0) } }
            try runner.run()
            let cells = try ExperimentResults.loadCells(out)
            try AtomicFile.write(Data((ExperimentResults.summarize(m, cells: cells).rendered() + "\n").utf8), to: out + "/results.json")
            let md = ExperimentResults.markdown(m, cells: cells)
            try AtomicFile.write(Data(md.utf8), to: out + "/report.md")
            print(md)
            print("wrote \(out)/results.json and \(out)/report.md")
        }
    }
}
