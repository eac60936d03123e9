import ArgumentParser
import DatasetCatalog
import Experiments
import Foundation
import ImageCodecs

struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Run an experiment manifest's matrix and report how much each intervention reduces inherited bias.",
        subcommands: [Run.self, Compare.self])

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run (or resume) an experiment: every finished cell is kept and never rerun.",
            discussion: """
            Writes DIR/cells/*.json (one per intervention, transfer, source and seed), \
            DIR/results.json, DIR/report.md and DIR/report.html. An interrupted run continues where \
            it stopped; seeds, interventions, sources and transfers may be added to it. DIR/settings.json \
            records the recipe, data and interventions the cells were made with: a manifest that \
            changes them is refused (use another --out). On a terminal, one line of progress per cell \
            goes to stderr.

            Example:
              curate experiment run manifests/experiments/trigger.yaml --out runs/trigger
            """)

        @Argument(help: "The experiment manifest (YAML).") var manifest: String
        @Option(help: "The output folder.") var out: String
        @Flag(help: "No progress lines.") var quiet = false
        @Flag(help: "Progress lines even when stderr is not a terminal.") var progress = false

        func run() throws {
            let m = try ExperimentManifest.load(manifest)
            let runner = ExperimentRunner(m, outDir: out)
            defer { withExtendedLifetime(runner) {} }  // its lock on the folder lasts until the reports are written
            if !quiet && (progress || isatty(2) != 0) { runner.progress = { note($0) } }
            runner.warn = { note("curate: warning: \($0)") }
            try runner.run()
            let (md, _) = try ExperimentResults.writeReports(m, outDir: out, target: m.datasets["target"] ?? out + "/benchmark/target.csv")
            print(md)
            print("wrote \(out)/results.json, \(out)/report.md and \(out)/report.html")
        }
    }
}

extension ExperimentCommand {
    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put several experiment runs side by side: each run's flip rate and worst-group accuracy per intervention and transfer, from the biased source.",
            discussion: "Example:\n  curate experiment compare runs/demo runs/demo-5seeds")

        @Argument(help: "Run folders (each with results.json).") var runs: [String]

        func run() throws {
            var rows: [String: [String]] = [:]
            var order: [String] = []
            for (k, dir) in runs.enumerated() {
                let path = dir + "/results.json"
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw ExperimentError(path, nil, "no such file (run curate experiment run first)")
                }
                let doc: [String: Any]
                do {
                    guard let d = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw ExperimentError(path, nil, "not a JSON object") }
                    doc = d
                } catch let e as ExperimentError { throw e } catch {
                    throw ExperimentError(path, nil, "not valid JSON (\((error as NSError).userInfo["NSDebugDescription"] as? String ?? "damaged")): run the experiment again to rewrite it")
                }
                guard let summary = doc["summary"] as? [[String: Any]] else { throw ExperimentError(path, nil, "has no summary list: not an experiment's results") }
                for row in summary where row["source"] as? String == "biased" {
                    let key = "\(row["intervention"] as? String ?? "") / \(row["transfer"] as? String ?? "")"
                    if rows[key] == nil { order.append(key); rows[key] = [String](repeating: "n/a", count: runs.count) }
                    func mean(_ m: String) -> String {
                        ((row[m] as? [String: Any])?["mean"] as? Double).map { String(format: "%.1f", 100 * $0) } ?? "n/a"
                    }
                    rows[key]![k] = "\(mean("flip_rate")) / \(mean("worst_group_accuracy"))"
                }
            }
            print("| intervention / transfer | " + runs.joined(separator: " | ") + " |")
            print("|---|" + runs.map { _ in "---:|" }.joined())
            for key in order { print("| \(key) | " + rows[key]!.joined(separator: " | ") + " |") }
            print("\ncells: flip rate / worst-group accuracy, percent, from the biased source, means over seeds")
        }
    }
}
