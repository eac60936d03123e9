@testable import DatasetCatalog
import ImageCodecs
import Foundation
import Testing

@Suite("Files opened relative to their directories")
struct DirectoryHandleTests {
    @Test("every file opens and stats as by its path, past the directory limit and in missing directories too")
    func sameAsByPath() throws {
        let dir = try TempDir()
        var paths: [String] = []
        for d in ["a", "b", "c"] {
            for f in ["1.bin", "2.bin"] { paths.append(try dir.write("\(d)/\(f)", "\(d)\(f) contents")) }
        }
        paths.insert(dir.path + "/a/absent.bin", at: 1)              // a known directory, a missing file
        paths.append(dir.path + "/nowhere/x.bin")                     // a missing directory
        paths.append(dir.path + "/b/1.bin")                           // a directory seen before, not just before
        let handles = DirectoryHandles(paths: paths, limit: 2)        // c/ and beyond go by their paths
        for (i, path) in paths.enumerated() {
            var st = stat()
            #expect(handles.stamp(path, i) == (stat(path, &st) == 0 ? FileStamp(st) : nil), "\(path)")
            let fd = handles.open(path, i)
            defer { if fd >= 0 { close(fd) } }
            if FileManager.default.fileExists(atPath: path) {
                #expect(fd >= 0, "\(path)")
                var buffer = [UInt8](repeating: 0, count: 64)
                let n = read(fd, &buffer, 64)
                #expect(String(decoding: buffer.prefix(max(0, n)), as: UTF8.self) == (try String(contentsOfFile: path, encoding: .utf8)))
            } else {
                #expect(fd < 0 && errno == ENOENT, "\(path)")
            }
        }
    }
}
