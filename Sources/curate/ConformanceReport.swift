import ArgumentParser
import Foundation
import ImageCodecs

enum ConformanceReport {
    /// Runs the suites and prints the summary; exit status 1 when any case failed.
    static func run(testdata: String?, json: Bool) throws {
        guard let root = testdata ?? TestData.locate() else {
            throw ValidationError("cannot find shared/testdata; pass --testdata DIR")
        }
        let summaries: [ConformanceSuite.Summary]
        do {
            summaries = try ConformanceSuite.run(testdata: root)
        } catch {
            note("curate: \(error)")
            throw ExitCode(2)
        }
        if json {
            let rows = summaries.map { ["suite": $0.suite, "total": $0.total, "passed": $0.passed, "failures": $0.failures] as [String: Any] }
            let data = try JSONSerialization.data(withJSONObject: ["suites": rows], options: [.sortedKeys])
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        } else {
            print(table(summaries))
        }
        if summaries.contains(where: { $0.passed != $0.total }) { throw ExitCode(1) }
    }

    static func table(_ summaries: [ConformanceSuite.Summary]) -> String {
        var lines = ["suite              files  passed  failed"]
        for s in summaries {
            lines.append(s.suite.padding(toLength: 17, withPad: " ", startingAt: 0)
                         + String(format: "%7d %7d %7d", s.total, s.passed, s.total - s.passed))
            for f in s.failures.prefix(10) { lines.append("  FAIL \(f)") }
            if s.failures.count > 10 { lines.append("  ... and \(s.failures.count - 10) more") }
        }
        let total = summaries.reduce(0) { $0 + $1.total }, passed = summaries.reduce(0) { $0 + $1.passed }
        lines.append("all                \(String(format: "%6d %7d %7d", total, passed, total - passed))")
        return lines.joined(separator: "\n")
    }
}

enum TestData {
    /// `CURATE_TESTDATA`, else `shared/testdata` beside the working directory or beside the
    /// checkout that holds the binary.
    static func locate() -> String? {
        if let env = ProcessInfo.processInfo.environment["CURATE_TESTDATA"] { return env }
        var candidates = [FileManager.default.currentDirectoryPath]
        // The running binary itself (/proc/self/exe), wherever PATH found it; argv[0] is only
        // its name when it was run from PATH.
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 { candidates.append(dir.path); dir = dir.deletingLastPathComponent() }
        for c in candidates {
            for rel in ["../shared/testdata", "shared/testdata"] {
                let p = URL(fileURLWithPath: c).appendingPathComponent(rel).standardizedFileURL.path
                if FileManager.default.fileExists(atPath: p + "/png") { return p }
            }
        }
        return nil
    }
}
