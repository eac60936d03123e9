import Crypto
import Foundation

/// A checkpoint file, format version 1 (all integers little-endian):
///
///     bytes 0..<8    magic "CURATECK"
///     bytes 8..<12   format version (UInt32, 1)
///     bytes 12..<16  header length H (UInt32)
///     H bytes        header: JSON, sorted keys (the model spec, class names, tensor names and
///                    shapes, and free-form training metadata)
///     tensors        each tensor's float32 values, in the header's order
///     32 bytes       SHA-256 of every byte before it
///
/// The same model gives the same bytes: no time stamps, sorted JSON keys.
public enum Checkpoint {
    public static let magic = Array("CURATECK".utf8)
    public static let version: UInt32 = 1

    public struct Header: Codable, Equatable, Sendable {
        public struct Entry: Codable, Equatable, Sendable {
            public var name: String
            public var shape: [Int]
        }
        public var model: ModelSpec
        public var classes: [String]
        public var tensors: [Entry]
        public var metadata: [String: String]

        public init(model: ModelSpec, classes: [String], tensors: [Entry], metadata: [String: String]) {
            self.model = model
            self.classes = classes
            self.tensors = tensors
            self.metadata = metadata
        }
    }

    public static func encode(_ model: Sequential, spec: ModelSpec, classes: [String], metadata: [String: String] = [:]) -> Data {
        let named = model.namedParameters
        let header = Header(model: spec, classes: classes, tensors: named.map { Header.Entry(name: $0.0, shape: $0.1.shape) }, metadata: metadata)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try! encoder.encode(header)
        var data = Data(magic)
        appendUInt32(&data, version)
        appendUInt32(&data, UInt32(json.count))
        data.append(json)
        for (_, p) in named {
            p.value.withUnsafeBytes { data.append(contentsOf: $0) }
        }
        data.append(contentsOf: SHA256.hash(data: data))
        return data
    }

    /// Reads a checkpoint and rebuilds its model. Every problem (not a checkpoint, another
    /// version, a bad checksum, a truncated file, tensors that do not fit the architecture) is
    /// a `CheckpointError` naming the file.
    public static func decode(_ data: Data, path: String) throws -> (model: Sequential, header: Header) {
        func fail(_ message: String) -> CheckpointError { CheckpointError(path: path, message: message) }
        let bytes = [UInt8](data)
        guard bytes.count >= 16 + 32, Array(bytes[0..<8]) == magic else {
            throw fail(bytes.count < 16 + 32 && Array(bytes.prefix(8)) == magic ? "truncated checkpoint (\(bytes.count) bytes)" : "not a Curate checkpoint (bad magic)")
        }
        let fileVersion = readUInt32(bytes, 8)
        guard fileVersion == version else { throw fail("checkpoint format version \(fileVersion) is not supported (this Curate reads version \(version))") }
        let stored = Array(bytes[(bytes.count - 32)...])
        let computed = Array(SHA256.hash(data: bytes[..<(bytes.count - 32)]))
        guard stored == computed else { throw fail("checksum mismatch: the file is corrupt or truncated") }
        let headerLength = Int(readUInt32(bytes, 12))
        guard 16 + headerLength <= bytes.count - 32 else { throw fail("header length \(headerLength) runs past the end of the file") }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(bytes[16..<(16 + headerLength)]))
        } catch let error as DecodingError {
            throw fail("unreadable header: \(Self.describe(error))")
        } catch {
            throw fail("unreadable header: \(error)")
        }
        let spec = header.model
        if let problem = spec.problem { throw fail("the header's model does not fit: \(problem)") }
        guard spec.classes == header.classes.count, spec.classes > 0 else {
            throw fail("the header names \(header.classes.count) classes for a \(spec.classes)-class model")
        }
        var seen = Set<String>()
        for name in header.classes where !seen.insert(name).inserted {
            throw fail("the header names the class '\(name)' twice")
        }
        let model = spec.build(seed: 0)
        let named = model.namedParameters
        guard named.count == header.tensors.count else {
            throw fail("\(header.tensors.count) tensors stored, but \(spec.name.rawValue) has \(named.count)")
        }
        var offset = 16 + headerLength
        for ((name, p), entry) in zip(named, header.tensors) {
            guard name == entry.name, p.shape == entry.shape else {
                throw fail("tensor \(entry.name) \(entry.shape) does not match \(spec.name.rawValue)'s \(name) \(p.shape)")
            }
            let byteCount = p.count * 4
            guard offset + byteCount <= bytes.count - 32 else { throw fail("truncated tensor data at \(entry.name)") }
            p.value.withUnsafeMutableBytes { dst in
                bytes.withUnsafeBytes { src in
                    dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<(offset + byteCount)]))
                }
            }
            offset += byteCount
        }
        guard offset == bytes.count - 32 else { throw fail("\(bytes.count - 32 - offset) unexpected bytes after the tensors") }
        return (model, header)
    }

    public static func read(path: String) throws -> (model: Sequential, header: Header) {
        guard let data = FileManager.default.contents(atPath: path) else {
            var isFolder: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
            throw CheckpointError(path: path, message: !exists ? "no such checkpoint" : isFolder.boolValue ? "is a folder, not a checkpoint" : "cannot read the file")
        }
        return try decode(data, path: path)
    }

    static func appendUInt32(_ data: inout Data, _ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) }
    }

    static func readUInt32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }
}

extension Checkpoint {
    /// A JSON decoding failure as a person reads it: the field's path and what was wrong with it.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [CodingKey]) -> String {
            guard !keys.isEmpty else { return "the header" }
            var text = ""
            for key in keys {
                if let i = key.intValue { text += "[\(i)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
            }
            return "'\(text)'"
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])) is missing"
        case .typeMismatch(_, let context): return "\(path(context.codingPath)) has the wrong type (\(context.debugDescription))"
        case .valueNotFound(_, let context): return "\(path(context.codingPath)) is null"
        case .dataCorrupted(let context): return context.codingPath.isEmpty ? "not valid JSON" : "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
}
