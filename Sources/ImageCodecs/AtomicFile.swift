import Foundation

/// A file that could not be written, with the path and the reason.
public struct FileWriteError: Error, CustomStringConvertible, LocalizedError, Sendable {
    public var path: String
    public var reason: String
    public init(path: String, reason: String) { (self.path, self.reason) = (path, reason) }
    public var description: String { "\(path): cannot write: \(reason)" }
    public var errorDescription: String? { description }
}

/// Replaces a file atomically: the bytes go to a temporary file beside it, which is then renamed,
/// so a reader never sees a half-written file and a failure leaves the old one in place. Missing
/// parent folders are created.
public enum AtomicFile {
    /// - Throws: `FileWriteError` naming `path`; the old file, if any, is untouched.
    public static func write(_ data: Data, to path: String) throws {
        let files = AtomicFileSet()
        try files.add(data, to: path)
        try files.commit()
    }

    /// Creates `folder` and its missing parents; nil on success, else the system's reason.
    static func makeFolders(_ folder: String) -> String? {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isDir) { return isDir.boolValue ? nil : "a file stands there" }
        let parent = (folder as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != folder, let reason = makeFolders(parent) { return reason }
        if mkdir(folder, 0o755) != 0 && errno != EEXIST { return String(cString: strerror(errno)) }
        return nil
    }

    /// Writes `data` to a new file at `path` (which must not exist), with the system's reason
    /// on failure ("Permission denied", "No space left on device"); a partial file is removed.
    public static func create(_ data: Data, at path: String) throws(FileWriteError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileWriteError(path: path, reason: String(cString: strerror(errno))) }
        var failure: Int32 = 0
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += n
            }
        }
        if close(fd) != 0 && failure == 0 { failure = errno }
        if failure != 0 {
            unlink(path)
            throw FileWriteError(path: path, reason: String(cString: strerror(failure)))
        }
    }

    /// Fails early, before any work or any other output, when `path` cannot be a file: it is a
    /// folder, or a parent on its way is a file.
    public static func checkWritable(_ path: String) throws {
        guard !path.isEmpty else { throw FileWriteError(path: path, reason: "the path is empty") }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw FileWriteError(path: path, reason: "it is a folder")
        }
        var parent = URL(fileURLWithPath: path).deletingLastPathComponent()
        while parent.path != "/" {
            if FileManager.default.fileExists(atPath: parent.path, isDirectory: &isDir) {
                if !isDir.boolValue { throw FileWriteError(path: path, reason: "\(parent.path) is a file, not a folder") }
                break
            }
            parent = parent.deletingLastPathComponent()
        }
    }
}

/// Several files that appear together or not at all: each is written to a temporary file beside
/// its destination as it is added, and `commit` renames them all once every one is written. A
/// failure while adding (a full disk, a bad value) leaves every destination as it was; the
/// temporary files are removed when the set is discarded or goes away uncommitted.
public final class AtomicFileSet {
    private var staged: [(tmp: String, path: String)] = []
    private var committed = false

    public init() {}

    deinit { discard() }

    /// Writes `data` to a temporary file beside `path`.
    /// - Throws: `FileWriteError` naming `path`.
    public func add(_ data: Data, to path: String) throws {
        try AtomicFile.checkWritable(path)
        guard !staged.contains(where: { $0.path == path }) else { throw FileWriteError(path: path, reason: "it is named twice") }
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent()
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        if let reason = AtomicFile.makeFolders(dir.path) {
            throw FileWriteError(path: path, reason: "cannot create its folder \(dir.path) (\(reason))")
        }
        Leftovers.remove(prefix: ".\(url.lastPathComponent).tmp-", in: dir.path)
        do {
            try AtomicFile.create(data, at: tmp.path)
        } catch {
            throw FileWriteError(path: path, reason: error.reason)
        }
        staged.append((tmp.path, path))
    }

    /// Renames every staged file into place, in the order added.
    /// - Throws: `FileWriteError` for a rename that fails (the files before it are in place,
    ///   the rest are removed).
    public func commit() throws {
        guard !committed else { return }
        committed = true
        for (i, f) in staged.enumerated() where rename(f.tmp, f.path) != 0 {
            let err = String(cString: strerror(errno))
            for g in staged[i...] { unlink(g.tmp) }
            staged = []
            throw FileWriteError(path: f.path, reason: err)
        }
        staged = []
    }

    /// Removes the staged files; nothing is renamed.
    public func discard() {
        for f in staged { unlink(f.tmp) }
        staged = []
    }
}

/// Why a file cannot be read, in words: no such file, a folder, or the system's reason.
public enum FileProblem {
    public static func reading(_ path: String) -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { return String(cString: strerror(errno)).lowercasedFirst }
        if (st.st_mode & S_IFMT) == S_IFDIR { return "is a folder, not a file" }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return String(cString: strerror(errno)).lowercasedFirst }
        close(fd)
        return "cannot be read"
    }

    /// The reason inside a Foundation error: the POSIX error under it, when there is one.
    public static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code))).lowercasedFirst
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))).lowercasedFirst }
        if ns.domain == NSCocoaErrorDomain {
            switch CocoaError.Code(rawValue: ns.code) {
            case .fileWriteFileExists: return "a file of that name is in the way"
            case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file or folder"
            case .fileWriteNoPermission, .fileReadNoPermission: return "permission denied"
            default: break
            }
        }
        return ns.localizedFailureReason ?? ns.localizedDescription
    }
}

extension String {
    /// "No such file" -> "no such file": system messages continue a sentence here.
    var lowercasedFirst: String { prefix(1).lowercased() + dropFirst() }
}

/// What a process killed part way through a write left beside its output: `PREFIXPID...`
/// files or folders whose process is gone. They are removed when the same output is written
/// again; a live process's (another run writing now) are left alone.
public enum Leftovers {
    public static func remove(prefix: String, in folder: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in names where name.hasPrefix(prefix) {
            let digits = name.dropFirst(prefix.count).prefix { $0.isNumber }
            guard let pid = Int32(digits), pid > 0, pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: folder + "/" + name)
        }
    }
}
