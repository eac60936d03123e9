import Foundation
import ImageCodecs

/// One way to add or derive an attribute column (`curate tag`).
public enum TagOperation: Sendable {
    /// Named captures of a regular expression over the path become columns.
    case pathRegex(String)
    /// `new` takes `source`'s value mapped through `mapping`; unmapped values are kept as they are.
    case map(new: String, source: String, mapping: [String: String])
    /// `new` is the numeric band of `source`: `0-19`, `20-39`, `60+` (inclusive integer or real bounds).
    case bins(new: String, source: String, bands: [String])
    /// `new` is the intersection of several columns, values joined with `/` (`female/Asian`).
    case combine(new: String, sources: [String])
    /// `new` is `yes` where the rule holds, `no` where it does not, empty where it reads unknown cells.
    case rule(new: String, expression: RuleExpression)
    /// Pixel tags: any of `brightness`, `colourfulness`, `hue`, `size`, `aspect`.
    case pixels([String])

    public static let pixelTags = ["brightness", "colourfulness", "hue", "size", "aspect"]

    /// The columns the operation writes (a regular expression's are its named captures).
    public var newColumns: [String] {
        switch self {
        case .pathRegex(let pattern):
            // (?<name>...) groups; (?<= and (?<! are lookbehinds, not names.
            var names: [String] = []
            var rest = Substring(pattern)
            while let r = rest.range(of: "(?<") {
                let after = rest[r.upperBound...]
                if let first = after.first, first != "=", first != "!", let end = after.firstIndex(of: ">") { names.append(String(after[..<end])) }
                rest = after
            }
            return names
        case .map(let new, _, _), .bins(let new, _, _), .combine(let new, _), .rule(let new, _): return [new]
        case .pixels(let tags): return tags
        }
    }

    /// `NEW=COLUMN:from=to,from=to`
    public static func parseMap(_ text: String) throws -> TagOperation {
        let (new, source, rest) = try splitSpec(text, "--map", example: "gender_name=gender:0=male,1=female")
        var mapping: [String: String] = [:]
        for pair in rest.split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw TagError("--map '\(text)': '\(pair)' is not FROM=TO") }
            mapping[kv[0]] = kv[1]
        }
        return .map(new: new, source: source, mapping: mapping)
    }

    /// `NEW=COLUMN:0-19,20-39,40-59,60+`
    public static func parseBins(_ text: String) throws -> TagOperation {
        let (new, source, rest) = try splitSpec(text, "--bins", example: "age_band=age:0-19,20-39,40-59,60+")
        let bands = rest.split(separator: ",").map(String.init)
        for b in bands where Band(b) == nil { throw TagError("--bins '\(text)': '\(b)' is not LOW-HIGH or LOW+") }
        return .bins(new: new, source: source, bands: bands)
    }

    /// `NEW=A+B+C`
    public static func parseCombine(_ text: String) throws -> TagOperation {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty else { throw TagError("--combine '\(text)': expected NEW=COLUMN+COLUMN, e.g. gender_race=gender+race") }
        let sources = parts[1].split(separator: "+").map(String.init)
        guard sources.count >= 2 else { throw TagError("--combine '\(text)': name at least two columns joined by +") }
        return .combine(new: parts[0], sources: sources)
    }

    /// `NEW=EXPRESSION`
    public static func parseRule(_ text: String) throws -> TagOperation {
        guard let eq = text.firstIndex(of: "="), text[text.index(after: eq)...].first != "=" else {
            throw TagError("--rule '\(text)': expected NEW=EXPRESSION, e.g. older_woman=gender==female && age>=60")
        }
        let new = String(text[..<eq]).trimmingCharacters(in: .whitespaces)
        do {
            return .rule(new: new, expression: try RuleExpression.parse(String(text[text.index(after: eq)...])))
        } catch {
            throw TagError("--rule '\(text.count > 80 ? text.prefix(77) + "..." : text)': \(error)")
        }
    }

    private static func splitSpec(_ text: String, _ flag: String, example: String) throws -> (String, String, String) {
        guard let eq = text.firstIndex(of: "="), let colon = text[eq...].firstIndex(of: ":") else {
            throw TagError("\(flag) '\(text)': expected NEW=COLUMN:..., e.g. \(example)")
        }
        let new = String(text[..<eq]), source = String(text[text.index(after: eq)..<colon])
        guard !new.isEmpty, !source.isEmpty else { throw TagError("\(flag) '\(text)': expected NEW=COLUMN:..., e.g. \(example)") }
        return (new, source, String(text[text.index(after: colon)...]))
    }
}

public struct TagError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A numeric band: `LOW-HIGH` (inclusive) or `LOW+`.
struct Band {
    var low: Double
    var high: Double
    var label: String
    init?(_ text: String) {
        label = text
        if text.hasSuffix("+"), let l = Double(text.dropLast()) { low = l; high = .infinity; return }
        let parts = text.split(separator: "-", maxSplits: 1)
        guard parts.count == 2, let l = Double(parts[0]), let h = Double(parts[1]), l <= h else { return nil }
        low = l
        high = h
    }
    /// Integer bands (`20-39`) cover up to the next band's start when it follows within 1
    /// (`40-59`): 39.5 is in 20-39. A value in a wider gap (25 with `0-19,60+`) is in no band.
    func contains(_ v: Double, next: Band?) -> Bool {
        if let next, next.low > high, next.low <= high + 1 { return v >= low && v < next.low }
        return v >= low && v <= high
    }
}

/// Which path a `--regex` is matching and since when, for a watchdog on another thread: a
/// pattern that backtracks exponentially (`(a+)+$`) never returns, and the regex engine cannot
/// be interrupted, so the command watches it and stops with the pattern and the path.
public final class RegexWatch: @unchecked Sendable {
    private let lock = NSLock()
    private var current: (pattern: String, path: String, since: Date)?
    public init() {}
    func begin(_ pattern: String, _ path: String) { lock.lock(); current = (pattern, path, Date()); lock.unlock() }
    func end() { lock.lock(); current = nil; lock.unlock() }
    /// The pattern and path of a match running longer than `seconds`, if any.
    public func stuck(longerThan seconds: Double) -> (pattern: String, path: String)? {
        lock.lock()
        defer { lock.unlock() }
        guard let c = current, Date().timeIntervalSince(c.since) > seconds else { return nil }
        return (c.pattern, c.path)
    }
}

/// Applies tag operations to a manifest.
public struct Tagger {
    /// Told of every `--regex` match as it starts and ends.
    public var watch: RegexWatch?
    /// Where pixel statistics come from when no catalog has them: decoding the images.
    public var decoder = ImageDecoder()
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Statistics already known, by resolved path (from a catalog).
    public var knownStatistics: [String: (width: Int, height: Int, stats: ImageStatistics)] = [:]

    public init() {}

    /// The manifest with every operation applied, in order, and the problems found (rows whose
    /// path does not match a regex, images that fail to decode, values outside every band).
    public func apply(_ operations: [TagOperation], to input: Manifest) throws -> (manifest: Manifest, problems: [String]) {
        var m = input
        var problems: [String] = []
        for op in operations {
            // The path column names the images: no operation may write it.
            let pathsBefore = m.column("path")
            switch op {
            case .pathRegex(let pattern):
                let regex: Regex<AnyRegexOutput>
                do { regex = try Regex(pattern) } catch { throw TagError("--regex '\(pattern)': \(error)") }
                let paths = m.column("path")!
                var columns: [String: [String]] = [:]
                var order: [String] = []
                var unmatched = 0
                for (r, path) in paths.enumerated() {
                    watch?.begin(pattern, path)
                    let found = try? regex.firstMatch(in: path)
                    watch?.end()
                    guard let match = found else { unmatched += 1; continue }
                    for capture in match.output {
                        guard let name = capture.name else { continue }
                        if columns[name] == nil { columns[name] = [String](repeating: "", count: m.count); order.append(name) }
                        columns[name]![r] = capture.substring.map(String.init) ?? ""
                    }
                }
                if order.isEmpty && unmatched < m.count { throw TagError("--regex '\(pattern)' has no named captures, like (?<label>[^/]+)") }
                if unmatched == m.count { throw TagError("--regex '\(pattern)' matches no path (first: \(paths.first ?? ""))") }
                for name in order { m.setColumn(name, columns[name]!) }
                if unmatched > 0 { problems.append("--regex: \(unmatched) path(s) do not match; their columns are empty") }
            case .map(let new, let source, let mapping):
                let values = try column(m, source)
                m.setColumn(new, values.map { mapping[$0] ?? $0 })
            case .bins(let new, let source, let texts):
                let bands = texts.compactMap(Band.init).sorted { $0.low < $1.low }
                let values = try column(m, source)
                var outside = 0, nonNumeric = 0
                m.setColumn(new, values.map { text in
                    if text.isEmpty { return "" }
                    guard let v = Double(text) else { nonNumeric += 1; return "" }
                    for (k, b) in bands.enumerated() where b.contains(v, next: k + 1 < bands.count ? bands[k + 1] : nil) { return b.label }
                    outside += 1
                    return ""
                })
                if nonNumeric > 0 { problems.append("--bins \(new): \(nonNumeric) value(s) of \(source) are not numbers; left empty") }
                if outside > 0 { problems.append("--bins \(new): \(outside) value(s) of \(source) fall in no band; left empty") }
            case .combine(let new, let sources):
                let cols = try sources.map { try column(m, $0) }
                m.setColumn(new, (0..<m.count).map { r in
                    let parts = cols.map { $0[r] }
                    return parts.contains("") ? "" : parts.joined(separator: "/")
                })
            case .rule(let new, let expression):
                for c in expression.columns where !m.has(c) { throw TagError("--rule \(new): no column '\(c)' (columns: \(m.columns.joined(separator: ", ")))") }
                let cols = Dictionary(uniqueKeysWithValues: Set(expression.columns).map { ($0, m.column($0)!) })
                m.setColumn(new, (0..<m.count).map { r in expression.evaluate { cols[$0]![r] }.map { $0 ? "yes" : "no" } ?? "" })
                for c in Set(expression.numericColumns).sorted() {
                    let text = cols[c]!.filter { !$0.isEmpty && Double($0) == nil }
                    if let first = text.first {
                        problems.append("--rule \(new): \(text.count) value(s) of \(c) are not numbers (such as '\(first)'); compared with a number, they are unknown")
                    }
                }
            case .pixels(let tags):
                for t in tags where !TagOperation.pixelTags.contains(t) {
                    throw TagError("--pixels: unknown tag '\(t)' (known: \(TagOperation.pixelTags.joined(separator: ", ")))")
                }
                let (facts, failures) = pixelFacts(m)
                problems += failures
                for t in tags {
                    m.setColumn(t, facts.map { f in f.map { Self.pixelTag(t, width: $0.width, height: $0.height, stats: $0.stats) } ?? "" })
                }
            }
            if m.column("path") != pathsBefore {
                throw TagError("a tag operation would overwrite the path column, which names the images: give its result another column name")
            }
        }
        return (m, problems)
    }

    /// The bin a pixel tag gives.
    public static func pixelTag(_ tag: String, width: Int, height: Int, stats: ImageStatistics) -> String {
        switch tag {
        case "brightness": stats.brightness < 85 ? "dark" : (stats.brightness < 170 ? "mid" : "bright")
        case "colourfulness": stats.colourfulness < 15 ? "low" : (stats.colourfulness < 45 ? "medium" : "high")
        case "hue": stats.dominantHue
        case "size": max(width, height) <= 64 ? "small" : (max(width, height) <= 512 ? "medium" : "large")
        default:
            Double(width) / Double(max(height, 1)) < 0.9 ? "portrait" : (Double(width) / Double(max(height, 1)) > 1.1 ? "landscape" : "square")
        }
    }

    private func pixelFacts(_ m: Manifest) -> ([(width: Int, height: Int, stats: ImageStatistics)?], [String]) {
        let paths = (0..<m.count).map(m.resolvedPath)
        let known = knownStatistics, decoder = decoder
        let results = ParallelMap.run(count: paths.count, threads: threads) { i -> Result<(width: Int, height: Int, stats: ImageStatistics), ImageDecodingError> in
            if let k = known[paths[i]] { return .success(k) }
            do throws(ImageDecodingError) {
                let image = try decoder.decode(contentsOf: paths[i]).image
                return .success((image.width, image.height, ImageStatistics(image)))
            } catch {
                return .failure(error)
            }
        }
        var failures: [String] = []
        let facts = results.map { r -> (width: Int, height: Int, stats: ImageStatistics)? in
            switch r {
            case .success(let f): return f
            case .failure(let e): failures.append("\(e); its pixel tags are empty"); return nil
            }
        }
        return (facts, failures)
    }

    private func column(_ m: Manifest, _ name: String) throws -> [String] {
        guard let c = m.column(name) else { throw TagError("no column '\(name)' (columns: \(m.columns.joined(separator: ", ")))") }
        return c
    }
}
