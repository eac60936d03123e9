import DatasetCatalog
import Foundation
import Testing
@testable import Features

/// The readers against files NumPy and safetensors wrote (fixtures/features/make_fixtures.py):
/// every supported dtype, order and header version gives the golden matrix exactly; every
/// damaged file is an error naming it.
@Suite struct ReaderTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures/features").path
    /// M[i][j] = (i*3 + j) * 0.5 - 2.25, exact in float16 too (golden.json holds the same).
    static let golden: [[Float]] = (0..<5).map { i in (0..<3).map { j in Float(i * 3 + j) * 0.5 - 2.25 } }

    func values(_ m: FeatureMatrix) -> [[Float]] {
        (0..<m.rows).map { r in Array(UnsafeBufferPointer(start: m.row(r), count: m.dimension)) }
    }

    @Test func goldenMatchesTheFixtureFile() throws {
        let data = try #require(FileManager.default.contents(atPath: Self.folder + "/golden.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let values = try #require(json["values"] as? [[Double]])
        #expect(values.map { $0.map { Float($0) } } == Self.golden)
    }

    @Test(arguments: ["f32_c_v1.npy", "f32_f_v1.npy", "f16_c_v1.npy", "f16_f_v1.npy", "f32_c_v2.npy", "f16_f_v2.npy",
                      "features_f32.safetensors", "features_f16.safetensors"])
    func everyDtypeOrderAndVersionReadsTheGoldenMatrix(file: String) throws {
        let m = try FeatureMatrix.open(Self.folder + "/" + file)
        #expect(m.rows == 5 && m.dimension == 3)
        #expect(values(m) == Self.golden)
        try m.validateFinite()
        // float32 in C order is used in place; anything else is converted once.
        let inPlace = file.hasPrefix("f32_c") || file == "features_f32.safetensors"
        #expect(m.isMapped == inPlace, "\(file): \(m.layout)")
        #expect(m.layout.contains(file.contains("_v2") ? "v2.0" : file.hasSuffix(".npy") ? "v1.0" : "safetensors"))
    }

    @Test(arguments: ["bad_magic.npy", "truncated_header.npy", "header_not_dict.npy", "bad_version.npy", "int32.npy",
                      "big_endian.npy", "three_d.npy", "one_d.npy", "short_data.npy", "two_tensors.safetensors", "bad_header.safetensors"])
    func damagedFilesAreClearErrorsNamingTheFile(file: String) {
        let path = Self.folder + "/" + file
        #expect {
            _ = try FeatureMatrix.open(path)
        } throws: { error in
            guard let e = error as? FeatureError else { return false }
            return e.description.hasPrefix(path + ": ") && e.message.count > 10
        }
    }

    @Test func theErrorsSayWhatIsWrong() throws {
        func message(_ file: String) -> String {
            do { _ = try FeatureMatrix.open(Self.folder + "/" + file); return "" } catch { return "\(error)" }
        }
        #expect(message("int32.npy").contains("<i4"))
        #expect(message("big_endian.npy").contains(">f4"))
        #expect(message("three_d.npy").contains("(2, 2, 2)"))
        #expect(message("one_d.npy").contains("(6,)"))
        #expect(message("short_data.npy").contains("60 bytes") && message("short_data.npy").contains("40"))
        #expect(message("bad_version.npy").contains("9.0"))
        #expect(message("two_tensors.safetensors").contains("2 tensors"))
    }

    @Test func nanAndInfinityAreFoundAndLocated() throws {
        let nan = try FeatureMatrix.open(Self.folder + "/has_nan.npy")
        #expect(throws: FeatureError.self) { try nan.validateFinite() }
        do { try nan.validateFinite() } catch { #expect("\(error)".contains("row 4, column 2 is NaN")) }
        let inf = try FeatureMatrix.open(Self.folder + "/has_inf.npy")
        do { try inf.validateFinite(); Issue.record("infinity accepted") } catch { #expect("\(error)".contains("row 1, column 3 is infinite")) }
    }

    /// The vectorised check looks at blocks of 4,096 values: a bad value in any position of a
    /// large matrix, across both threads' halves, is found and the first one is reported.
    @Test func theFiniteCheckFindsTheFirstBadValueAnywhere() throws {
        let n = 3 * 4096 + 17
        for bad in [0, 4095, 4096, 8200, n - 1] {
            var values = [Float](repeating: 1, count: n)
            values[bad] = .nan
            if bad + 5000 < n { values[bad + 5000] = .infinity }
            let m = FeatureMatrix(rows: n, dimension: 1, values: values)
            do { try m.validateFinite(threads: 2); Issue.record("missed \(bad)") } catch {
                #expect("\(error)".contains("row \(bad + 1), column 1 is NaN"))
            }
        }
        try FeatureMatrix(rows: n, dimension: 1, values: [Float](repeating: -3e38, count: n)).validateFinite()
    }

    @Test func manifestColumnsHoldInlineVectorsOrPerRowFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("curate-features-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A one-row file: the golden's second row, written as NumPy would (v1.0 header).
        try Self.npy(rows: 1, cols: 3, values: Self.golden[1]).write(to: URL(fileURLWithPath: dir + "/row1.npy"))
        let m = Manifest(columns: ["path", "label", "vec"], cells: [["a.png", "b.png", "c.png"], ["x", "y", "x"],
                                                                    ["-2.25 -1.75 -1.25", "row1.npy", "[0.75, 1.25, 1.75]"]], baseDirectory: dir)
        let f = try FeatureMatrix.column("vec", of: m, file: "m.csv")
        #expect(values(f) == Array(Self.golden[0..<3]))
        let bad = Manifest(columns: ["path", "vec"], cells: [["a.png", "b.png"], ["1 2 3", "1 2"]], baseDirectory: dir)
        #expect { try FeatureMatrix.column("vec", of: bad, file: "m.csv") } throws: { "\($0)".contains("m.csv: row 2") && "\($0)".contains("2 values") }
        // Read from a file, the message names the line (the header is line 1).
        try "path,vec\na.png,1 2 3\nb.png,1 2\n".write(toFile: dir + "/bad.csv", atomically: true, encoding: .utf8)
        let badFile = try ManifestReader.read(dir + "/bad.csv")
        #expect { try FeatureMatrix.column("vec", of: badFile, file: "bad.csv") } throws: { "\($0)".contains("bad.csv: line 3 (column vec): 2 values") }
        let word = Manifest(columns: ["path", "vec"], cells: [["a.png"], ["1 two 3"]], baseDirectory: dir)
        #expect { try FeatureMatrix.column("vec", of: word, file: "m.csv") } throws: { "\($0)".contains("\"two\" is not a decimal number") }
        // Hexadecimal and NaN text are not decimal numbers, and text with separators is numbers, not a file name.
        for cell in ["0x10 1 2", "NaN 2 3", "1 2 inf"] {
            let odd = Manifest(columns: ["path", "vec"], cells: [["a.png"], [cell]], baseDirectory: dir)
            #expect { try FeatureMatrix.column("vec", of: odd, file: "m.csv") } throws: { "\($0)".contains("is not a decimal number") }
        }
        // Malformed lists are refused, not read as some other numbers.
        for (cell, message) in [("[1 2 3", "unbalanced brackets"), ("1 2 3]", "unbalanced brackets"), ("[[1 2 3]]", "one list of numbers"),
                                ("1,,2,3", "an empty value between separators"), ("1,2;3", "mixes commas and semicolons"), ("[1, 2, 3,]", "an empty value")] {
            let odd = Manifest(columns: ["path", "vec"], cells: [["a.png"], [cell]], baseDirectory: dir)
            #expect { try FeatureMatrix.column("vec", of: odd, file: "m.csv") } throws: { "\($0)".hasPrefix("m.csv: row 1 (column vec): ") && "\($0)".contains(message) }
        }
        // A row's file may hold the vector 1-D, as np.save(path, v) writes it.
        var flat = try Self.npy(rows: 1, cols: 3, values: Self.golden[1])
        let header = String(decoding: flat[10..<(10 + Int(flat[8]))], as: UTF8.self)
        let flatHeader = header.replacingOccurrences(of: "(1, 3)", with: "(3,)  ")
        #expect(flatHeader != header && flatHeader.utf8.count == header.utf8.count)
        flat.replaceSubrange(10..<(10 + Int(flat[8])), with: Data(flatHeader.utf8))
        try flat.write(to: URL(fileURLWithPath: dir + "/flat.npy"))
        let one = Manifest(columns: ["path", "vec"], cells: [["a.png"], ["flat.npy"]], baseDirectory: dir)
        #expect(values(try FeatureMatrix.column("vec", of: one, file: "m.csv")) == [Self.golden[1]])
        #expect { try FeatureMatrix.open(dir + "/flat.npy") } throws: { "\($0)".contains("shape (3,) is not 2-D") }
    }

    @Test func rowsMapThroughSourceRowWhenCountsDiffer() throws {
        let f = try FeatureMatrix.open(Self.folder + "/f32_c_v1.npy")
        let same = Manifest(columns: ["path"], cells: [(0..<5).map { "\($0).png" }], baseDirectory: "/")
        #expect(try f.rows(for: same, manifestFile: "m.csv") == [0, 1, 2, 3, 4])
        let curated = Manifest(columns: ["path", "source_row"], cells: [["3.png", "3.png", "0.png"], ["3", "3", "0"]], baseDirectory: "/")
        #expect(try f.rows(for: curated, manifestFile: "m.csv") == [3, 3, 0])
        let outside = Manifest(columns: ["path", "source_row"], cells: [["9.png"], ["9"]], baseDirectory: "/")
        #expect { try f.rows(for: outside, manifestFile: "m.csv") } throws: { "\($0)".contains("source_row \"9\"") }
        let unmapped = Manifest(columns: ["path"], cells: [["a.png", "b.png"]], baseDirectory: "/")
        #expect { try f.rows(for: unmapped, manifestFile: "m.csv") } throws: { "\($0)".contains("holds 5 vectors but m.csv has 2 rows") }
        // As many rows as vectors: a source_row in order changes nothing; one that reorders
        // them could mean either alignment, and guessing would silently mismatch every row.
        let kept = Manifest(columns: ["path", "source_row"], cells: [(0..<5).map { "\($0).png" }, (0..<5).map(String.init)], baseDirectory: "/")
        #expect(try f.rows(for: kept, manifestFile: "m.csv") == [0, 1, 2, 3, 4])
        let shuffled = Manifest(columns: ["path", "source_row"], cells: [["1.png", "0.png", "2.png", "4.png", "3.png"], ["1", "0", "2", "4", "3"]], baseDirectory: "/")
        #expect { try f.rows(for: shuffled, manifestFile: "m.csv") } throws: {
            "\($0)".contains("holds 5 vectors, as many as m.csv has rows, but its source_row reorders or repeats rows (row 1: source_row \"1\")")
        }
    }

    /// Headers that declare more data than a file can hold, or sizes that are not sizes, are
    /// errors naming the file, never an arithmetic overflow.
    @Test func absurdShapesAndOffsetsAreErrorsNotOverflows() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("curate-absurd-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func message(_ name: String, _ data: Data) throws -> String {
            let path = dir + "/" + name
            try data.write(to: URL(fileURLWithPath: path))
            do { _ = try FeatureMatrix.open(path); return "" } catch let e as FeatureError { return e.description } catch { return "other: \(error)" }
        }
        func npy(shape: String) -> Data {
            var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
            while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
            header += "\n"
            return Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]) + Data(header.utf8) + Data(count: 48)
        }
        func safetensors(_ entry: String) -> Data {
            let json = Data("{\"x\": \(entry)}".utf8)
            var length = UInt64(json.count).littleEndian
            return Data(bytes: &length, count: 8) + json + Data(count: 32)
        }
        #expect(try message("a.npy", npy(shape: "(2, 4611686018427387904)")).contains("needs more data than a file can hold"))
        #expect(try message("b.npy", npy(shape: "(3074457345618258603, 3)")).contains("needs more data than a file can hold"))
        #expect(try message("c.npy", npy(shape: "(100, 3)")).contains("needs 1200 bytes of data; the file holds 48"))
        // A key given twice (Python would keep the last) is refused, not read as the first.
        let twice = try message("d.npy", npy(shape: "(3, 4), 'shape': (4, 3)"))
        #expect(twice == dir + "/d.npy: npy header names 'shape' 2 times", "\(twice)")
        let huge = try message("a.safetensors", safetensors("{\"dtype\": \"F32\", \"shape\": [4611686018427387904, 4], \"data_offsets\": [0, 32]}"))
        #expect(huge.hasPrefix(dir + "/a.safetensors: ") && huge.contains("not a list of sizes"), "\(huge)")
        let far = try message("b.safetensors", safetensors("{\"dtype\": \"F32\", \"shape\": [2, 4], \"data_offsets\": [1000000000, 1000000032]}"))
        #expect(far.contains("do not fit the file's 32 bytes of data"), "\(far)")
        #expect(try message("c.safetensors", safetensors("{\"dtype\": \"F32\", \"shape\": [12.7, 4], \"data_offsets\": [0, 32]}")).contains("not a list of sizes"))
        #expect(try message("d.safetensors", safetensors("{\"dtype\": \"F32\", \"shape\": [-2, -4], \"data_offsets\": [0, 32]}")).contains("not a list of sizes"))
        #expect(try message("e.safetensors", safetensors("{\"dtype\": \"F32\", \"shape\": [2, 4], \"data_offsets\": [0, \"x\", 32]}")).contains("not a list of sizes"))
        #expect(try message("f.safetensors", safetensors("{\"dtype\": \"F32\", \"shape\": [2, 4], \"data_offsets\": [0, 32]}")) == "")
    }

    /// A little-endian float32 C-order .npy, version 1.0, as numpy.save writes it.
    static func npy(rows: Int, cols: Int, values: [Float]) -> Data {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(cols)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var d = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        d += Data(header.utf8)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { d += Data($0) } }
        return d
    }
}
