import DatasetCatalog
import Foundation

public enum CatalogClusters {
    /// Exact and near-duplicate clusters (by resolved path) of the manifest's images, from the
    /// scan catalog's hashes.
    public static func clusters(manifest: Manifest, catalog: Catalog) throws -> [[String]] {
        var paths: [String] = []
        var index: [String: Int] = [:]
        var pathOfRow: [Int] = []
        for r in 0..<manifest.count {
            let p = manifest.resolvedPath(r)
            if let i = index[p] { pathOfRow.append(i) } else { index[p] = paths.count; pathOfRow.append(paths.count); paths.append(p) }
        }
        let found = try catalog.records(for: paths)
        let records = paths.map { found[$0] ?? CatalogRecord(path: $0, status: .missing) }
        return try Scanner.duplicateClusters(manifest: manifest, paths: paths, pathOfRow: pathOfRow, records: records,
                                             nearDistance: 4, nearDifference: 4.0) { try catalog.details(for: $0) }
            .map(\.paths).filter { $0.count > 1 }
    }
}
