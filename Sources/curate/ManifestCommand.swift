import ArgumentParser
import DatasetCatalog
import Foundation

struct ManifestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manifest",
        abstract: "Check and convert dataset manifests (CSV and JSON Lines).",
        subcommands: [Check.self, Convert.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a manifest against the format and print its columns and counts.",
            discussion: "Example:\n  curate manifest check data.csv --json")
        @Argument(help: "The manifest.") var manifest: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let m = try ManifestReader.read(manifest)
            var counts: [String: [String: Int]] = [:]
            for c in ["label", "split", "origin"] + m.attributes where m.has(c) {
                var tally: [String: Int] = [:]
                // The spec: an empty origin is real; any other empty cell is unknown.
                for v in m.column(c)! { tally[v.isEmpty ? (c == "origin" ? "real" : "(unknown)") : v, default: 0] += 1 }
                if tally.count <= 50 { counts[c] = tally }
            }
            if json {
                let object: [String: Any] = ["rows": m.count, "columns": m.writeOrder, "attributes": m.attributes, "values": counts]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                FileHandle.standardOutput.write(data + Data("\n".utf8))
                return
            }
            print("\(manifest): \(m.count) rows; columns: \(m.writeOrder.joined(separator: ", "))")
            for c in m.writeOrder where counts[c] != nil {
                let parts = counts[c]!.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                print("  \(c): \(parts.isEmpty ? "no values" : parts.joined(separator: ", "))")
            }
        }
    }

    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewrite a manifest as CSV or JSON Lines (by the output's extension); paths are rebased.",
            discussion: "Example:\n  curate manifest convert data.csv data.jsonl")
        @Argument(help: "The manifest to read.") var input: String
        @Argument(help: "The manifest to write.") var output: String
        func run() throws {
            try checkDistinct(outputs: [("output", output)], inputs: [("manifest", input)])
            let m = try ManifestReader.read(input)
            try checkNotRows(outputs: [("output", output)], of: m, file: input)
            try ManifestWriter.write(m, to: output)
        }
    }
}
