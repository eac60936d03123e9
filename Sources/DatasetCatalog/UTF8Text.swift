/// Text from UTF-8 bytes, validated. ASCII (nearly every manifest cell) takes the specialised
/// `String(decoding:)` path; `String(validating:)` is generic and looks up type metadata at run
/// time, which dominated parsing.
@inline(__always)
func utf8Text(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
    var high: UInt8 = 0
    for b in bytes { high |= b }
    if high < 0x80 { return String(decoding: bytes, as: UTF8.self) }
    return String(validating: bytes, as: UTF8.self)
}

func utf8Text(_ bytes: [UInt8]) -> String? {
    bytes.withUnsafeBufferPointer { utf8Text($0) }
}
