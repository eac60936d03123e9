import Crypto
import Foundation
import Testing
@testable import NeuralNet

@Suite struct CheckpointTests {
    let spec = ModelSpec(name: .cnnSmall, height: 8, width: 8, channels: 1, classes: 3)

    func sample() -> Data {
        Checkpoint.encode(spec.build(seed: 5), spec: spec, classes: ["cat", "dog", "owl"], metadata: ["seed": "5"])
    }

    @Test func roundTripGivesTheSameModelAndBytes() throws {
        let net = spec.build(seed: 5)
        let data = Checkpoint.encode(net, spec: spec, classes: ["cat", "dog", "owl"], metadata: ["seed": "5"])
        let (loaded, header) = try Checkpoint.decode(data, path: "m.ckpt")
        #expect(header.classes == ["cat", "dog", "owl"] && header.model == spec && header.metadata["seed"] == "5")
        let x = Tensor(shape: [2, 8, 8, 1], storage: randomArray(128, seed: 1))
        #expect(loaded.forward(x, training: false) == net.forward(x, training: false))
        #expect(Checkpoint.encode(loaded, spec: spec, classes: header.classes, metadata: header.metadata) == data)
        #expect(Array(data.prefix(8)) == Array("CURATECK".utf8))
    }

    func error(_ data: Data) -> String {
        do {
            _ = try Checkpoint.decode(data, path: "bad.ckpt")
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func corruptTruncatedAndForeignFilesAreClearErrors() {
        var flipped = sample()
        flipped[flipped.count / 2] ^= 0x40
        #expect(error(flipped) == "bad.ckpt: checksum mismatch: the file is corrupt or truncated")
        #expect(error(sample().prefix(1000)) == "bad.ckpt: checksum mismatch: the file is corrupt or truncated")
        #expect(error(sample().prefix(20)) == "bad.ckpt: truncated checkpoint (20 bytes)")
        #expect(error(Data("path,label\n".utf8)) == "bad.ckpt: not a Curate checkpoint (bad magic)")
        var future = sample()
        future[8] = 9
        #expect(error(future).hasPrefix("bad.ckpt: checkpoint format version 9 is not supported"))
    }

    /// A well-formed file (valid checksum) whose tensors do not fit the architecture it names.
    @Test func mismatchedArchitectureIsAClearError() {
        let other = ModelSpec(name: .cnnSmall, height: 12, width: 12, channels: 1, classes: 3)
        var data = Checkpoint.encode(other.build(seed: 1), spec: other, classes: ["a", "b", "c"])
        // Rewrite the header to claim 8x8 inputs (same length: "12" -> "8 "), then re-sign.
        let headerLength = Int(data[12]) | Int(data[13]) << 8
        var header = String(decoding: data[16..<(16 + headerLength)], as: UTF8.self)
        header = header.replacingOccurrences(of: "\"height\":12", with: "\"height\":8 ")
            .replacingOccurrences(of: "\"width\":12", with: "\"width\":8 ")
        data.replaceSubrange(16..<(16 + headerLength), with: Data(header.utf8))
        data = data.prefix(data.count - 32)
        data.append(contentsOf: SHA256.hash(data: data))
        #expect(error(data) == "bad.ckpt: tensor 5.weight [576, 128] does not match cnn-small's 5.weight [256, 128]")
    }

    /// A re-signed header whose text is changed (same JSON otherwise), re-signed.
    func resigned(_ change: (String) -> String) -> Data {
        let data = sample()
        let headerLength = Int(data[12]) | Int(data[13]) << 8
        let header = change(String(decoding: data[16..<(16 + headerLength)], as: UTF8.self))
        var rebuilt = data.prefix(12)
        withUnsafeBytes(of: UInt32(header.utf8.count).littleEndian) { rebuilt.append(contentsOf: $0) }
        rebuilt.append(Data(header.utf8))
        rebuilt.append(data[(16 + headerLength)..<(data.count - 32)])
        rebuilt.append(contentsOf: SHA256.hash(data: rebuilt))
        return rebuilt
    }

    /// A class named twice would map two outputs to one name (and crash a dictionary built from
    /// them); a header missing a field or with one of the wrong type says which, in plain words.
    @Test func headerProblemsNameTheField() {
        #expect(error(resigned { $0.replacingOccurrences(of: "\"owl\"", with: "\"cat\"") }) == "bad.ckpt: the header names the class 'cat' twice")
        #expect(error(resigned { $0.replacingOccurrences(of: "\"metadata\"", with: "\"metadatum\"") }) == "bad.ckpt: unreadable header: 'metadata' is missing")
        #expect(error(resigned { $0.replacingOccurrences(of: "\"classes\":[\"cat\"", with: "\"classes\":[7") }).hasPrefix("bad.ckpt: unreadable header: 'classes[0]' has the wrong type"))
    }

    /// A re-signed header naming sizes no model can have is refused before anything is built.
    @Test(arguments: [("\"height\":-5", "height -5 is outside 1 to 1048576"), ("\"height\":1000000000", "height 1000000000 is outside"),
                      ("\"height\":2", "cnn-small halves its input twice: it needs at least 4x4 pixels, not 12x2")])
    func impossibleArchitecturesAreClearErrors(height: String, message: String) {
        let other = ModelSpec(name: .cnnSmall, height: 12, width: 12, channels: 1, classes: 3)
        var data = Checkpoint.encode(other.build(seed: 1), spec: other, classes: ["a", "b", "c"])
        let headerLength = Int(data[12]) | Int(data[13]) << 8
        let header = String(decoding: data[16..<(16 + headerLength)], as: UTF8.self).replacingOccurrences(of: "\"height\":12", with: height)
        var rebuilt = data.prefix(12)
        withUnsafeBytes(of: UInt32(header.utf8.count).littleEndian) { rebuilt.append(contentsOf: $0) }
        rebuilt.append(Data(header.utf8))
        rebuilt.append(data[(16 + headerLength)..<(data.count - 32)])
        rebuilt.append(contentsOf: SHA256.hash(data: rebuilt))
        data = rebuilt
        #expect(error(data).hasPrefix("bad.ckpt: the header's model does not fit: " + message), "\(error(data))")
    }

    @Test func specsCheckTheirSizes() {
        #expect(ModelSpec(name: .cnnSmall, height: 4, width: 4, channels: 3, classes: 2).problem == nil)
        #expect(ModelSpec(name: .cnnSmall, height: 3, width: 8, channels: 3, classes: 2).problem != nil)
        #expect(ModelSpec(name: .linear, height: 1, width: 1, channels: 768, classes: 10).problem == nil)
        #expect(ModelSpec(name: .linear, height: 1, width: 1, channels: 768, classes: 0).problem != nil)
        #expect(ModelSpec(name: .mlp, height: 1 << 20, width: 1 << 20, channels: 1, classes: 2).problem?.contains("over the limit") == true)
    }
}
