import DatasetCatalog
import Foundation

/// Column names from `--by` options, each comma-separated or repeated: `--by a,b --by c`.
func columnList(_ options: [String]) -> [String] {
    options.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
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
