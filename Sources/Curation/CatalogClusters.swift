import DatasetCatalog
import Foundation

public enum CatalogClusters {
    /// Exact and near-duplicate clusters (by resolved path) of the manifest's images, from the
    /// scan catalog's hashes.
    public static func clusters(manifest: Manifest, catalog: Catalog) throws -> [[String]] {
        try Scanner.catalogFacts(manifest: manifest, catalog: catalog).clusters.map(\.paths).filter { $0.count > 1 }
    }
}
