import ArgumentParser
import Audit
import DatasetCatalog
import Foundation
import Features
import ImageCodecs
import Training

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Measure a dataset's bias: group sizes, label x attribute association, parity, reweighing, image statistics, findings.",
        discussion: """
        For each --by attribute, and for their intersection when there are several: counts and \
        shares of every group and (label, group) cell with 95% Wilson intervals; chi-square, \
        Cramér's V, mutual information; P(label | group), statistical parity difference, \
        disparate impact, smoothed empirical differential fairness; AIF360 Reweighing and \
        group-balanced weights. Weighted when the manifest has a weight column. With a scan \
        catalog (--catalog, or curate.catalog beside the manifest when it exists): per-group image \
        statistics, real vs synthetic separability, duplicates and leakage between splits. \
        Findings are the numbers that pass thresholds, most severe first.

        Exit status: 0; 1 when any high-severity finding was made (for scripts); 2 on bad input.

        Examples:
          curate audit data/manifest.csv --by gender --by race --json audit.json --html audit.html
          curate audit celeba.csv --label Smiling --by Male --markdown audit.md
        """)

    @Argument(help: "The manifest.") var manifest: String
    @Option(parsing: .singleValue, help: "An attribute column (repeat, or comma-separate, for several).") var by: [String] = []
    @Option(help: "The label column.") var label = "label"
    @Option(help: "The favourable label value for the headline parity numbers (default: 1/yes/true for binary labels).") var positive: String?
    @Option(help: "A scan catalog with the images' facts.") var catalog: String?
    @Option(help: "Feature vectors aligned with the manifest (.npy, .safetensors or column:NAME): audit how well they encode each attribute (a cross-validated linear probe's balanced accuracy) and the groups' centroid distances.") var features: String?
    @Option(parsing: .unconditional, help: "With --features: the probe's folds.") var folds = 5
    @Option(parsing: .unconditional, help: "With --features: the probe trains on at most this many rows (a seeded sample).") var probeRows = 100_000
    @Option(parsing: .unconditional, help: "With --features: the seed of the probe's sample, folds and initialisation.") var seed: UInt64 = 0
    @Option(help: "Write the JSON report here ('-' for stdout).") var json: String?
    @Option(help: "Write a Markdown report here ('-' for stdout).") var markdown: String?
    @Option(help: "Write a single-file HTML report (inline SVG charts) here ('-' for stdout).") var html: String?

    func run() throws {
        let attributes = try columnList(by)
        guard !attributes.isEmpty else { throw ValidationError("name at least one attribute with --by") }
        if attributes.contains(label) { throw ValidationError("--by \(label) is the label column; name the attributes to audit against it") }
        guard folds >= 2 else { throw ValidationError("--folds must be 2 or more") }
        guard probeRows >= 10 else { throw ValidationError("--probe-rows must be 10 or more") }
        let outputs = [("--json", json), ("--markdown", markdown), ("--html", html)]
        let toStdout = outputs.filter { $0.1 == "-" }.map(\.0)
        if toStdout.count > 1 { throw ValidationError("\(toStdout.joined(separator: " and ")) both name stdout ('-'): give one of them a file") }
        // Every output checked before any is written: a bad last path must not leave the first written.
        try checkDistinct(outputs: outputs,
                          inputs: [("manifest", manifest), ("--catalog", catalog), ("--features", features)])
        for case let (_, path?) in outputs where path != "-" { try AtomicFile.checkWritable(path) }
        let m = try ManifestReader.read(manifest)
        try checkNotRows(outputs: outputs, of: m, file: manifest)
        var options = AuditOptions(attributes: attributes, labelColumn: label)
        options.positiveLabel = positive
        let cat = try catalogPath(explicit: catalog, manifest: manifest).map { (try Catalog(reading: $0), $0) }
        var audit: DatasetAudit
        do {
            audit = try DatasetAudit.run(m, path: manifest, options: options, catalog: cat)
        } catch let e as AuditError {
            throw ManifestError(file: manifest, e.description.replacingOccurrences(of: "\(manifest): ", with: ""))
        }
        if let features {
            let matrix = try FeatureMatrix.open(features, for: m, manifestFile: manifest)
            let data = try ImageData.withFeatures(m, matrix: matrix, manifestFile: manifest)
            var fo = FeatureAudit.Options()
            fo.folds = folds
            fo.maxProbeRows = probeRows
            fo.seed = seed
            audit = audit.adding(features: try FeatureAudit.run(data, attributes: attributes, options: fo))
        }
        // The reports appear together or not at all; one named '-' goes to stdout in place of the summary.
        let files = AtomicFileSet()
        var printed: String?
        for (path, text) in [(json, { audit.json.rendered() + "\n" }), (markdown, { audit.markdown }), (html, { audit.html })] as [(String?, () -> String)] {
            guard let path else { continue }
            if path == "-" { printed = text() } else { try files.add(Data(text().utf8), to: path) }
        }
        try files.commit()
        if let printed { print(printed, terminator: "") }
        if let images = audit.images, images.uncovered > 0 {
            note("warning: \(images.catalog) has no decoded record for \(images.uncovered) of the \(audit.rows) rows' images"
                 + (images.covered == 0 ? " (none at all: is it the catalog of another dataset? run curate scan on this manifest)" : ""))
        }
        if printed == nil {
            print("\(audit.rows) rows; \(audit.attributes.map(\.name).joined(separator: ", "))")
            for a in audit.attributes {
                let measures = [
                    a.cramersV.map { String(format: "Cramér's V %.3f", $0) },
                    a.pValue.map { $0 < 1e-300 ? "p < 1e-300" : String(format: "p %.3g", $0) },
                    a.statisticalParityDifference.map { String(format: "SPD %.3f", $0) },
                    a.disparateImpact.map { String(format: "DI %.3f", $0) },
                    a.representationRatio.map { String(format: "representation %.3f", $0) },
                ].compactMap { $0 }
                print("  \(a.name): " + (measures.isEmpty ? "not measurable (\(a.rows == 0 ? "no row with a known value" : "one group or one label value"))" : measures.joined(separator: ", ")))
            }
            if let f = audit.features {
                print("features: \(f.rows) rows x \(f.dimension) (\(f.source))")
                for (attribute, reason) in f.skipped { print("  \(attribute): probe skipped: \(reason)") }
                for p in f.probes {
                    print(String(format: "  %@: probe balanced accuracy %.3f (95%% %.3f-%.3f, chance %.3f)", p.attribute, p.balancedAccuracy, p.low, p.high, p.chance))
                }
                for c in f.centroids {
                    let far = f.pairs(c).max { c.normalized[$0.0][$0.1] < c.normalized[$1.0][$1.1] }
                    if let (a, b) = far {
                        print(String(format: "  %@: farthest centroids %@ vs %@, %.3f pooled spreads", c.attribute, c.groups[a], c.groups[b], c.normalized[a][b]))
                    }
                }
            }
            print("findings: \(audit.findings.count)")
            for f in audit.findings.prefix(12) { print("  [\(f.severity.name)] \(f.message)") }
            if audit.findings.count > 12 { print("  ... \(audit.findings.count - 12) more in the reports") }
        }
        if audit.findings.contains(where: { $0.severity == .high }) { throw ExitCode(1) }
    }
}
