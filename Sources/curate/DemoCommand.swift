import ArgumentParser
import Foundation

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "The main job: for now, decode the conformance suites and print the summary.",
        discussion: "Example:\n  curate demo")

    @Option(help: "The folder holding png/ and jpeg/ (default: ../shared/testdata).")
    var testdata: String?

    func run() throws {
        note("Decoding the conformance suites (PngSuite, libpng test images, libjpeg-turbo test images, AFL JPEG corpus)...")
        try ConformanceReport.run(testdata: testdata, json: false)
    }
}
