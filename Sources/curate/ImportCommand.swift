import ArgumentParser
import Curation
import DatasetCatalog
import Foundation
import ImageCodecs

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Write a manifest for a dataset in one of the common layouts.",
        subcommands: [ImageFolder.self, CelebA.self, Waterbirds.self, UTKFace.self, FairFace.self, IDX.self])

    /// Flags every importer shares.
    struct Output: ParsableArguments {
        @Option(help: "The manifest to write (.csv or .jsonl). Image paths in it are relative to its folder.")
        var out: String

        @Option(help: "Make this attribute the label (it is moved into `label`; the layout's own label, if any, is kept as `class`).")
        var label: String?

        func validate() throws {
            guard ManifestFormat.of(path: out) != nil else { throw ValidationError("--out must end in .csv or .jsonl") }
        }

        /// Applies --label, writes the manifest, reports problems; exit 1 when there were any.
        /// `inputs` are the layout's own files, which --out must not name.
        func finish(_ result: ImportResult, inputs: [String] = []) throws {
            try checkDistinct(outputs: [("--out", out)], inputs: inputs.map { ("file", $0) })
            var m = result.manifest
            try checkNotRows(outputs: [("--out", out)], of: m, file: "the import")
            if let label, label != "label" {
                guard let values = m.column(label) else {
                    throw ValidationError("--label \(label): no such column (columns: \(m.columns.joined(separator: ", ")))")
                }
                guard !Manifest.reservedColumns.contains(label) else {
                    throw ValidationError("--label \(label): \(label) is a reserved column (the spec's), not an attribute; name an attribute")
                }
                // The layout's own label (a class folder, Waterbirds' bird type) is kept, as `class`.
                if let previous = m.column("label") {
                    guard !m.has("class") else {
                        throw ValidationError("--label \(label): the import has a label already and a column 'class' to keep it in")
                    }
                    m.setColumn("class", previous)
                    note("the layout's label is kept as the column 'class'")
                }
                m.removeColumn(label)
                m.setColumn("label", values)
            }
            try ManifestWriter.write(m, to: out)
            for p in result.problems.prefix(20) { note("warning: \(p)") }
            if result.problems.count > 20 { note("warning: ... and \(result.problems.count - 20) more") }
            note("wrote \(out): \(m.count) rows, columns \(m.writeOrder.joined(separator: ", "))")
            if !result.problems.isEmpty { throw ExitCode(1) }
        }
    }

    struct ImageFolder: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "imagefolder",
            abstract: "One folder per class (torchvision's ImageFolder); more folder levels can become columns.",
            discussion: """
            Example:
              curate import imagefolder photos/ --out photos.csv
              curate import imagefolder data/ --levels split,label --out data.csv   # data/train/cat/1.png
            """)
        @Argument(help: "The dataset folder.") var directory: String
        @Option(help: "Column names for the folder levels above each image, outermost first (`_` skips a level).")
        var levels: String = "label"
        @OptionGroup var output: Output

        func run() throws {
            let names = levels.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            try output.finish(try Importers.imageFolder(directory, levels: names))
        }
    }

    struct CelebA: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "celeba",
            abstract: "CelebA: list_attr_celeba.txt (40 attributes, yes/no) and list_eval_partition.txt (train/val/test).",
            discussion: "Example:\n  curate import celeba CelebA/ --label Blond_Hair --out celeba.csv")
        @Argument(help: "The folder holding list_attr_celeba.txt and img_align_celeba/.") var root: String
        @OptionGroup var output: Output
        func run() throws {
            try output.finish(try Importers.celebA(root), inputs: ["list_attr_celeba.txt", "list_eval_partition.txt"].map { (root as NSString).appendingPathComponent($0) })
        }
    }

    struct Waterbirds: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "waterbirds",
            abstract: "Waterbirds: metadata.csv; the bird type is the label, the place an attribute.",
            discussion: "Example:\n  curate import waterbirds waterbird_complete95_forest2water2/ --out waterbirds.csv")
        @Argument(help: "The folder holding metadata.csv.") var root: String
        @OptionGroup var output: Output
        func run() throws { try output.finish(try Importers.waterbirds(root), inputs: [(root as NSString).appendingPathComponent("metadata.csv")]) }
    }

    struct UTKFace: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "utkface",
            abstract: "UTKFace: age, gender and race from [age]_[gender]_[race]_[date&time].jpg names.",
            discussion: """
            Gender 0/1 is written male/female, race 0-4 White/Black/Asian/Indian/Others, as the \
            dataset documents. A malformed name is reported and skipped (exit status 1).

            Example:
              curate import utkface UTKFace/ --label gender --out utk.csv
            """)
        @Argument(help: "The folder of images.") var directory: String
        @OptionGroup var output: Output
        func run() throws { try output.finish(try Importers.utkFace(directory)) }
    }

    struct FairFace: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fairface",
            abstract: "FairFace: a label CSV with columns file, age, gender, race, service_test.",
            discussion: "Example:\n  curate import fairface fairface/fairface_label_train.csv --label race --out fairface.csv")
        @Argument(help: "The label CSV (image paths in it are relative to its folder).") var csv: String
        @OptionGroup var output: Output
        func run() throws { try output.finish(try Importers.fairFace(csv), inputs: [csv]) }
    }

    struct IDX: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "idx",
            abstract: "MNIST-family IDX files (gzipped or not) written out as PNG files plus a manifest.",
            discussion: """
            Writes OUT/images/*.png and OUT/manifest.csv (or the --manifest name). Debian's \
            dataset-fashion-mnist package puts Fashion-MNIST under /usr/share/datasets/fashion-mnist.

            Example:
              F=/usr/share/datasets/fashion-mnist
              curate import idx $F/t10k-images-idx3-ubyte.gz $F/t10k-labels-idx1-ubyte.gz \\
                  --class-names fashion-mnist --split test --out fmnist-test
            """)
        @Argument(help: "The images file (idx3-ubyte).") var images: String
        @Argument(help: "The labels file (idx1-ubyte).") var labels: String
        @Option(help: "The output folder.") var out: String
        @Option(help: "The manifest's file name inside the output folder.") var manifest = "manifest.csv"
        @Option(help: "Class names for labels 0, 1, ...: comma-separated, or a preset (mnist, fashion-mnist).")
        var classNames: String?
        @Option(help: "The split column's value for every row (train, val or test).") var split: String?
        @Option(parsing: .unconditional, help: "Import only the first N images.") var limit: Int?

        func validate() throws {
            if let split, !["train", "val", "test"].contains(split) { throw ValidationError("--split must be train, val or test") }
            guard ManifestFormat.of(path: manifest) != nil else { throw ValidationError("--manifest must end in .csv or .jsonl") }
            if let limit, limit < 1 { throw ValidationError("--limit must be positive") }
        }

        func run() throws {
            let names = classNames.map { IDXImporter.presets[$0.lowercased()] ?? $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            if let names {
                // Two labels under one name would merge two classes without a word.
                if names.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) { throw ValidationError("--class-names has an empty name") }
                var seen = Set<String>()
                if let twice = names.first(where: { !seen.insert($0).inserted }) {
                    throw ValidationError("--class-names names '\(twice)' twice: two labels would become one class")
                }
            }
            // Nothing is left half-imported: a new folder is built whole beside its place and
            // renamed into it; into a folder that exists (another split's, say), the images are
            // written to a working folder inside it and moved in just before the manifest is
            // written. Working folders of killed imports are removed.
            let fm = FileManager.default
            let path = out + "/" + manifest
            let rows: Int
            if !fm.fileExists(atPath: out) {
                let work = StagedFolder.workPath(beside: out)
                let outURL = URL(fileURLWithPath: out).standardizedFileURL
                Leftovers.remove(prefix: ".\(outURL.lastPathComponent).partial-", in: outURL.deletingLastPathComponent().path)
                try? fm.removeItem(atPath: work)
                do {
                    let result = try IDXImporter.importFiles(images: images, labels: labels, outDir: work, classNames: names, split: split, limit: limit)
                    try ManifestWriter.write(result.manifest, to: work + "/" + manifest)
                    rows = result.manifest.count
                    guard rename(work, outURL.path) == 0 else {
                        throw ManifestError(file: out, "cannot move the imported folder into place: \(String(cString: strerror(errno)))")
                    }
                } catch var error as ManifestError {
                    // Name the folder the user gave, not the working one beside it.
                    try? fm.removeItem(atPath: work)
                    error.file = error.file.replacingOccurrences(of: work, with: out)
                    error.message = error.message.replacingOccurrences(of: work, with: out)
                    throw error
                } catch {
                    try? fm.removeItem(atPath: work)
                    throw error
                }
            } else {
                let staged = try StagedFolder(out + "/images")
                defer { staged.discard() }
                let result = try IDXImporter.importFiles(images: images, labels: labels, outDir: out, classNames: names, split: split, limit: limit, imagesIn: staged.work)
                try staged.commit()
                try ManifestWriter.write(result.manifest, to: path)
                rows = result.manifest.count
            }
            note("wrote \(path): \(rows) rows, and \(rows) PNG files under \(out)/images")
        }
    }
}
