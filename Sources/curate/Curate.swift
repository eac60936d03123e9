import ArgumentParser
import DatasetCatalog
import Features
import Foundation
import ImageCodecs
import NeuralNet
import Training
import Experiments
import Curation

@main
struct Curate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "curate",
        abstract: "Data-centric curation of image datasets against inherited bias.",
        discussion: """
        Decode and check image datasets, audit them for bias, build de-biased fine-tuning sets, \
        and measure what each intervention does.

        Exit status: 0 success; 1 the command ran but found failures (corrupt images, failed \
        checks); 2 or more for usage errors and errors that stopped the command.
        """,
        version: CurateVersion.string,
        subcommands: [ImageCommand.self, ImportCommand.self, TagCommand.self, ScanCommand.self, ManifestCommand.self, AuditCommand.self, BuildCommand.self, SplitCommand.self, BenchmarkCommand.self, ExperimentCommand.self, TrainCommand.self, EvaluateCommand.self, BenchCommand.self, DemoCommand.self])
}

extension Curate {
    /// Runs the command; errors that stopped it (bad input files, a busy catalog) print as
    /// `curate: file:line: message` and exit with status 2.
    static func main() {
        // `curate help NAME ...` for a NAME that is no command: ArgumentParser would print the
        // root's help and exit 0; it is a usage error.
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "help", arguments.count > 1 {
            var command: ParsableCommand.Type = Curate.self
            for name in arguments.dropFirst() where !name.hasPrefix("-") {
                guard let sub = command.configuration.subcommands.first(where: { $0._commandName == name }) else {
                    let known = command.configuration.subcommands.map { $0._commandName }
                    let path = commandPath(to: command)
                    let under = path.count > 1 ? " under '\(path.joined(separator: " "))'" : ""
                    usageStop("no command '\(name)'\(under) (commands: \(known.joined(separator: ", ")))", command: command)
                }
                command = sub
            }
        }
        do {
            var command = try parseAsRoot()
            do { try command.run() } catch let error as ValidationError {
                // A check made in run() (it needs the files): the usage is the subcommand's, as it is
                // for the checks ArgumentParser makes while parsing, not the root's.
                usageStop(error.message, command: type(of: command))
            }
        } catch let error as ManifestError {
            stop(error.description)
        } catch let error as CatalogError {
            stop(error.description)
        } catch let error as ImageDecodingError {
            stop(error.description)
        } catch let error as TagError {
            stop(error.description)
        } catch let error as TrainingError {
            stop(error.description)
        } catch let error as CheckpointError {
            stop(error.description)
        } catch let error as ExperimentError {
            stop(error.description)
        } catch let error as CurationError {
            stop(error.description)
        } catch let error as FeatureError {
            stop(error.description)
        } catch let error as FileWriteError {
            stop(error.description)
        } catch let error as CocoaError {
            stop(describe(error))
        } catch {
            exit(withError: error)
        }
    }

    /// `Error: message`, the subcommand's usage and where its help is, with ArgumentParser's
    /// exit status for usage errors (64).
    static func usageStop(_ message: String, command: ParsableCommand.Type) -> Never {
        let usage = usageString(for: command)
        let name = commandPath(to: command).joined(separator: " ")
        note("Error: \(message)\nUsage: \(usage)\n  See '\(name) --help' for more information.")
        Foundation.exit(ExitCode.validationFailure.rawValue)
    }

    /// The command names from the root down to `target` (`curate bench scan`).
    static func commandPath(to target: ParsableCommand.Type) -> [String] {
        func search(_ c: ParsableCommand.Type) -> [String]? {
            if ObjectIdentifier(c) == ObjectIdentifier(target) { return [c._commandName] }
            for sub in c.configuration.subcommands { if let path = search(sub) { return [c._commandName] + path } }
            return nil
        }
        return search(self) ?? [_commandName, target._commandName]
    }

    /// A Foundation file error as `path: reason`, the reason the system gave where there is one
    /// ("Permission denied"), never a bare `NSCocoaErrorDomain` code.
    static func describe(_ error: CocoaError) -> String {
        let path = error.filePath ?? error.url?.path
        let underlying = (error.userInfo[NSUnderlyingErrorKey] as? NSError).flatMap { $0.domain == NSPOSIXErrorDomain ? String(cString: strerror(Int32($0.code))) : nil }
        let reason = underlying ?? (error as NSError).localizedFailureReason ?? error.localizedDescription
        return path.map { "\($0): \(reason)" } ?? reason
    }

    static func stop(_ message: String) -> Never {
        note("curate: \(message)")
        Foundation.exit(2)
    }
}

enum CurateVersion {
    static let string = "0.1.0"
}

/// Flags shared by the commands that decode images.
struct DecodeFlags: ParsableArguments {
    @Flag(help: "Return damaged JPEGs (decoded with libjpeg warnings, grey-padded) flagged as damaged instead of failing.")
    var lenient = false

    @Flag(help: "Keep the stored orientation instead of applying the EXIF orientation.")
    var keepOrientation = false

    @Option(help: "Refuse images with more pixels than this (decompression bombs).")
    var maxPixels = 100_000_000

    func validate() throws {
        guard maxPixels > 0 else { throw ValidationError("--max-pixels must be positive") }
    }

    var options: DecodeOptions {
        var o = DecodeOptions()
        o.lenient = lenient
        o.applyOrientation = !keepOrientation
        o.maxPixels = maxPixels
        return o
    }
}

/// Writes a line to stderr.
func note(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// `--size WxH`, parsed by the library's `PixelSize(parsing:)`.
extension PixelSize: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}
