import ArgumentParser
import DatasetCatalog
import Foundation

struct TagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag",
        abstract: "Add or derive attribute columns: from paths, by mapping, binning, combining, rules, or pixels.",
        discussion: """
        Operations run in this order: --regex, --map, --bins, --pixels, --combine, --rule; each \
        may be repeated. A group is a combination of columns (--by label,gender elsewhere).

        Examples:
          curate tag faces.csv --regex '(?<gender>male|female)/' --out tagged.csv
          curate tag utk.csv --bins 'age_band=age:0-19,20-39,40-59,60+' --combine 'gender_race=gender+race' --out utk2.csv
          curate tag utk2.csv --rule 'older_woman=gender==female && age_band in {40-59,60+}' --out utk3.csv
          curate tag photos.csv --pixels brightness,hue --catalog curate.catalog --out photos2.csv
        """)

    @Argument(help: "The manifest to read.") var manifest: String
    @Option(help: "The manifest to write (.csv or .jsonl).") var out: String
    @Option(help: "A regular expression over the path; its named captures (?<name>...) become columns.")
    var regex: [String] = []
    @Option(help: "NEW=COLUMN:FROM=TO,FROM=TO: map values (unmapped values are kept).")
    var map: [String] = []
    @Option(help: "NEW=COLUMN:0-19,20-39,60+: numeric bands of a column.")
    var bins: [String] = []
    @Option(help: "Pixel tags, comma-separated: brightness, colourfulness, hue, size, aspect.")
    var pixels: [String] = []
    @Option(help: "NEW=A+B: the intersection of columns (values joined with /).")
    var combine: [String] = []
    @Option(help: "NEW=EXPRESSION: yes where the rule holds, e.g. 'older=age>=60 && gender==female'.")
    var rule: [String] = []
    @Option(help: "A scan catalog to take pixel statistics from (images not in it are decoded).")
    var catalog: String?

    func validate() throws {
        guard ManifestFormat.of(path: out) != nil else { throw ValidationError("--out must end in .csv or .jsonl") }
        if regex.isEmpty && map.isEmpty && bins.isEmpty && pixels.isEmpty && combine.isEmpty && rule.isEmpty {
            throw ValidationError("name at least one operation (--regex, --map, --bins, --pixels, --combine, --rule)")
        }
    }

    func run() throws {
        var operations: [TagOperation] = regex.map { .pathRegex($0) }
        do {
            operations += try map.map(TagOperation.parseMap)
            operations += try bins.map(TagOperation.parseBins)
            let pixelTags = pixels.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            if !pixelTags.isEmpty { operations.append(.pixels(pixelTags)) }
            operations += try combine.map(TagOperation.parseCombine)
            operations += try rule.map(TagOperation.parseRule)
        } catch let error as TagError {
            throw ValidationError(error.message)
        }
        try checkDistinct(outputs: [("--out", out)], inputs: [("manifest", manifest), ("--catalog", catalog)])
        let input = try ManifestReader.read(manifest)
        try checkNotRows(outputs: [("--out", out)], of: input, file: manifest)
        var tagger = Tagger()
        if let catalog {
            guard FileManager.default.fileExists(atPath: catalog) else { throw ValidationError("--catalog \(catalog): no such file") }
            // Only records that still describe their files: a changed file is decoded again.
            let paths = Array(Set(input.resolvedPaths()))
            for r in try Catalog(reading: catalog).currentRecords(for: paths).values where r.status == .ok {
                if let s = r.statistics, let w = r.width, let h = r.height { tagger.knownStatistics[r.path] = (w, h, s) }
            }
        }
        // The tagging runs on a worker; this thread stops the command if one regex match runs
        // for longer than any sane pattern needs (nothing has been written yet).
        let watch = RegexWatch()
        tagger.watch = watch
        let limit = ProcessInfo.processInfo.environment["CURATE_REGEX_SECONDS"].flatMap(Double.init) ?? 10
        let box = ResultBox(tagger: tagger, operations: operations, input: input)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            box.value = Result { try box.tagger.apply(box.operations, to: box.input) }
            done.signal()
        }
        thread.stackSize = 16 << 20
        thread.start()
        while done.wait(timeout: .now() + min(0.25, limit / 4)) == .timedOut {
            if let (pattern, path) = watch.stuck(longerThan: limit) {
                note("curate tag: --regex '\(pattern)' matched \(path) for more than \(Int(limit.rounded(.up))) s without an answer: "
                     + "nested repetition such as (a+)+ backtracks exponentially; write the pattern without it (nothing was written)")
                Foundation.exit(2)
            }
        }
        let result: (manifest: Manifest, problems: [String])
        do { result = try box.value!.get() } catch let error as TagError {
            note("curate tag: \(error.message)")
            throw ExitCode(2)
        }
        try ManifestWriter.write(result.manifest, to: out)
        // A derived column may replace one the input has (mapping codes to names in place is a
        // use); it is said, so that it is never a surprise.
        var warned = Set<String>()
        for name in operations.flatMap(\.newColumns) where input.has(name) && warned.insert(name).inserted {
            note("warning: the column '\(name)' is replaced by the tagged values")
        }
        for p in result.problems.prefix(20) { note("warning: \(p)") }
        note("wrote \(out): \(result.manifest.count) rows, columns \(result.manifest.writeOrder.joined(separator: ", "))")
        if !result.problems.isEmpty { throw ExitCode(1) }
    }
}

/// The tagging's outcome, handed from its worker thread.
private final class ResultBox: @unchecked Sendable {
    let tagger: Tagger, operations: [TagOperation], input: Manifest
    var value: Result<(manifest: Manifest, problems: [String]), Error>?
    init(tagger: Tagger, operations: [TagOperation], input: Manifest) { (self.tagger, self.operations, self.input) = (tagger, operations, input) }
}
