import Bencode

/// libFuzzer entry point: decode strictly and leniently; whatever decodes must re-encode, and canonical input must
/// re-encode byte for byte.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBencode(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let value = try? BencodeDecoder().decode(bytes) {
        let encoded = value.encoded()
        precondition(encoded == bytes, "strictly decoded input does not re-encode byte for byte")
    }
    var lenient = BencodeDecoder.Options.lenient
    lenient.allowTrailingBytes = true
    if let document = try? BencodeDecoder(options: lenient).decodeDocument(bytes) {
        precondition(document.span.range.lowerBound == 0 && document.span.range.upperBound <= size)
        let reencoded = document.value.encoded()
        // The canonical form of a leniently decoded value must decode strictly and be a fixed point.
        let strict = try? BencodeDecoder().decode(reencoded)
        precondition(strict?.encoded() == reencoded, "canonical re-encoding is not canonical")
        _ = document.rawBytes(atPath: ["info"])
    }
    return 0
}
