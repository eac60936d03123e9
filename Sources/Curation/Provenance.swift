import Crypto
import DatasetCatalog
import ImageCodecs
import Foundation

public enum Provenance {
    /// SHA-256 of a file's bytes, as hex.
    public static func sha256(ofFile path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw CurationError("\(path): cannot read: \(FileProblem.reading(path))") }
        return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// The provenance record of a build: strategy, parameters, seed, input hash, counts per cell
    /// before and after, asked against achieved, warnings, Curate's version. No time stamps.
    public static func document(strategy: String, input: String, inputSHA256: String, output: String, seed: UInt64,
                                result: CurationResult, version: String, extra: [(String, JSONValue)] = []) -> JSONValue {
        .object([
            ("strategy", .string(strategy)),
            ("parameters", .object(result.parameters)),
            ("seed", .int(Int(truncatingIfNeeded: seed))),
            ("input", .string(input)),
            ("input_sha256", .string(inputSHA256)),
            ("output", .string(output)),
            ("rows_before", .int(result.before.reduce(0, +))),
            ("rows_after", .int(result.manifest.count)),
            ("cells", .array(result.cellNames.indices.map { c in
                .object([("cell", .string(result.cellNames[c])), ("before", .int(result.before[c])), ("after", .int(result.after[c]))])
            })),
            ("asked", .object(result.asked)),
            ("achieved", .object(result.achieved)),
            ("warnings", .array(result.warnings.map { .string($0) })),
            ("curate_version", .string(version)),
        ] + extra)
    }
}
