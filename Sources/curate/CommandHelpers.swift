import ArgumentParser
import DatasetCatalog
import Foundation

/// Column names from `--by` options, each comma-separated or repeated: `--by a,b --by c`. A
/// column named twice is refused: it would make a group like `g=a,g=a` and report it twice.
func columnList(_ options: [String], flag: String = "--by") throws -> [String] {
    let names = options.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
    var seen = Set<String>()
    for name in names where !seen.insert(name).inserted {
        throw ValidationError("\(flag) names the column '\(name)' twice: name each column once")
    }
    // The spec's path, weight and source_row are not attributes (split and origin are).
    if let reserved = names.first(where: { ["path", "weight", "source_row"].contains($0) }) {
        throw ValidationError("\(flag) \(reserved): \(reserved) is not an attribute but the manifest's \(reserved == "weight" ? "sample weight" : reserved == "path" ? "image path" : "source row"); name attribute columns")
    }
    return names
}

/// The scan catalog a command reads: `--catalog PATH` (which must exist), or `curate.catalog`
/// beside the manifest when there is one, or none.
func catalogPath(explicit: String?, manifest: String) throws -> String? {
    if let explicit {
        guard FileManager.default.fileExists(atPath: explicit) else { throw CatalogError("\(explicit): no such catalog (run curate scan first)") }
        return explicit
    }
    let beside = ((manifest as NSString).deletingLastPathComponent as NSString).appendingPathComponent("curate.catalog")
    return FileManager.default.fileExists(atPath: beside) ? beside : nil
}

/// Refuses outputs that name an input or each other, before any work: writing a report over
/// the manifest it reports on, or two reports to one file, would lose one of them silently.
/// "-" (standard output) is not a file.
func checkDistinct(outputs: [(flag: String, path: String?)], inputs: [(flag: String, path: String?)]) throws {
    func same(_ a: String, _ b: String) -> Bool {
        URL(fileURLWithPath: a).standardizedFileURL.resolvingSymlinksInPath().path == URL(fileURLWithPath: b).standardizedFileURL.resolvingSymlinksInPath().path
    }
    let outs = outputs.compactMap { o in o.path.flatMap { $0 == "-" ? nil : (o.flag, $0) } }
    for (k, (flag, path)) in outs.enumerated() {
        for input in inputs {
            if let p = input.path, p != "-", same(p, path) {
                throw ValidationError("\(flag) \(path) is the input \(input.flag) \(p): name another file")
            }
        }
        for (other, otherPath) in outs[..<k] where same(otherPath, path) {
            throw ValidationError("\(flag) and \(other) both name \(path): give each its own file")
        }
    }
}

/// Refuses outputs that name a file a row of `manifest` names (an image, most often): writing a
/// report or a manifest over a dataset's image would destroy it. Checked before any work.
func checkNotRows(outputs: [(flag: String, path: String?)], of manifest: Manifest, file: String) throws {
    let outs = outputs.compactMap { o in o.path.flatMap { $0 == "-" ? nil : (o.flag, $0) } }
    guard !outs.isEmpty, manifest.has("path") else { return }
    var targets: [String: (String, String)] = [:]
    for (flag, path) in outs {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        targets[url.path] = (flag, path)
        targets[url.resolvingSymlinksInPath().path] = (flag, path)
    }
    // Resolved paths are absolute and normalised already: one dictionary lookup a row.
    for (r, resolved) in manifest.resolvedPaths().enumerated() {
        if let (flag, path) = targets[resolved] {
            throw ValidationError("\(flag) \(path) is a file that \(file) names (\(manifest.place(r))): name another file")
        }
    }
}
