import CCodecShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Decodes PNG and JPEG images, from memory or from a file, to canonical 8-bit RGBA.
///
/// The format is found from the bytes. Every failure is an ``ImageDecodingError`` with a code,
/// the library's message and the path; nothing crashes, hangs or allocates without bound on
/// hostile input (see ``DecodeOptions/maxPixels`` and ``DecodeOptions/maxProgressiveScans``).
/// Decoders keep no state between images, so one value may be used from many threads.
public struct ImageDecoder: Sendable {
    public var options: DecodeOptions

    public init(options: DecodeOptions = .default) {
        self.options = options
    }

    /// Reads and decodes the file at `path`.
    public func decode(contentsOf path: String) throws(ImageDecodingError) -> DecodedImage {
        let data = try Self.read(path)
        do {
            return try decode(data)
        } catch {
            throw error.at(path)
        }
    }

    /// Decodes an image held in memory.
    /// - Complexity: O(pixels); the pixels are written once, straight into the result's storage.
    public func decode(_ data: Data) throws(ImageDecodingError) -> DecodedImage {
        switch try Self.format(of: data) {
        case .png: return try PNGCodec.decode(data, options: options)
        case .jpeg: return try JPEGCodec.decode(data, options: options)
        default: fatalError("unreachable: format(of:) returns decodable formats only")
        }
    }

    /// Decodes a PNG to 16-bit RGBA samples (8-bit and lower depths are scaled up exactly).
    public func decode16(_ data: Data) throws(ImageDecodingError) -> (image: Image16, info: ImageInfo) {
        guard try Self.format(of: data) == .png else {
            throw ImageDecodingError(.unsupportedFormat, "16-bit samples are available for PNG only")
        }
        return try PNGCodec.decode16(data, options: options)
    }

    /// Reads only the header: format, stored size, channels, bit depth.
    public func info(_ data: Data) throws(ImageDecodingError) -> ImageInfo {
        switch try Self.format(of: data) {
        case .png: return try PNGCodec.info(data)
        default: return try JPEGCodec.info(data, options: options)
        }
    }

    /// The decodable format of `data`, or the error a user should see.
    public static func format(of data: Data) throws(ImageDecodingError) -> ImageFormat {
        if data.isEmpty { throw ImageDecodingError(.truncated, "empty file") }
        if let format = ImageFormat.sniff(data) {
            if format.isDecodable { return format }
            throw ImageDecodingError(.unsupportedFormat, "\(format.displayName) images are not supported (Curate decodes PNG and JPEG)")
        }
        // A PNG signature with damaged bytes (bit 7 cleared, a letter's case changed, CR/LF
        // translated by a text-mode transfer) is still a PNG attempt.
        let head = Array(data.prefix(8))
        let png = Array("PNG".utf8)
        let letters = head.count >= 4 ? (1...3).filter { head[$0] & 0xDF == png[$0 - 1] }.count : 0
        if head.count >= 4 && (head[0] == 0x89 || letters == 3 || (head[0] & 0x7F == 0x09 && letters >= 2)) {
            throw ImageDecodingError(.notPNG, "damaged PNG signature \(hex(head))")
        }
        throw ImageDecodingError(.unsupportedFormat, "unrecognised file format (first bytes \(hex(head)))")
    }

    /// Reads a whole file, mapping failures to `.unreadable`: one open, fstat, read and close
    /// (by name in its directory when `directories` holds it as path number `index`).
    public static func read(_ path: String, in directories: DirectoryHandles? = nil, index: Int = 0) throws(ImageDecodingError) -> Data {
        let fd = directories?.open(path, index) ?? open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let err = errno
            throw ImageDecodingError(.unreadable, err == ENOENT || err == ENOTDIR ? "no such file" : "cannot read: " + String(cString: strerror(err)), path: path)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ImageDecodingError(.unreadable, "cannot read: " + String(cString: strerror(errno)), path: path) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw ImageDecodingError(.unreadable, "is a directory", path: path) }
        // A FIFO, a device or /proc file has no size to read up to (and may never end).
        if (st.st_mode & S_IFMT) != S_IFREG { throw ImageDecodingError(.unreadable, "not a regular file", path: path) }
        var data = Data(count: Int(st.st_size))
        let got = data.withUnsafeMutableBytes { readFully(fd, into: $0) }
        guard got >= 0 else { throw ImageDecodingError(.unreadable, "cannot read: " + String(cString: strerror(errno)), path: path) }
        // A file that shrank while it was read keeps what was there; one that grew keeps its
        // size at the fstat (the decoder then finds it complete or truncated).
        if got < data.count { data.removeSubrange(got...) }
        return data
    }

    /// Reads from `fd` until `buffer` is full or the file ends (retrying interrupted reads):
    /// the bytes read, or -1 on an error (errno says which).
    public static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var done = 0
        while done < buffer.count {
            let n = Glibc.read(fd, buffer.baseAddress! + done, buffer.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return n < 0 ? -1 : done }
            done += n
        }
        return done
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined(separator: " ")
    }
}

extension ImageDecodingError {
    /// Builds the error a shim reported.
    init(status: curate_status) {
        var s = status
        let message = withUnsafeBytes(of: &s.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        self.init(Self.code(forShimCode: s.code), message.isEmpty ? "decoding failed" : message)
    }

    static func code(forShimCode c: Int32) -> Code {
        switch Int(c) {
        case Int(CURATE_ERR_NOT_PNG): .notPNG
        case Int(CURATE_ERR_NOT_JPEG): .notJPEG
        case Int(CURATE_ERR_TRUNCATED): .truncated
        case Int(CURATE_ERR_BAD_CRC): .badCRC
        case Int(CURATE_ERR_BAD_HEADER): .badHeader
        case Int(CURATE_ERR_TOO_LARGE): .tooLarge
        case Int(CURATE_ERR_DAMAGED): .damaged
        case Int(CURATE_ERR_CORRUPT): .corrupt
        case Int(CURATE_ERR_NO_MEMORY): .outOfMemory
        case Int(CURATE_ERR_UNSUPPORTED): .unsupportedFormat
        default: .failed
        }
    }
}

extension curate_status {
    /// The first warning's text.
    var warningText: String {
        var s = self
        return withUnsafeBytes(of: &s.warning) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}

/// Allocates an array of `count` elements and lets `fill` initialise all of them.
@inline(__always)
func makeArray<T: BitwiseCopyable>(count: Int, _ fill: (UnsafeMutableBufferPointer<T>) -> Bool) -> [T]? {
    var ok = false
    let array = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
        ok = fill(buffer)
        initialized = count
    }
    return ok ? array : nil
}
