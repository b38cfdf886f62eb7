import CryptoPrimitives
import Foundation
import SystemSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reading the small text inputs the gate parses (keys, signatures, bundles), each with a size bound.
enum BoundedInput {
    /// Keys, signature files and bundles are a few KiB; 1 MiB is far beyond any real one.
    static let smallFileLimit = 1 << 20

    /// Reads a whole file of at most `limit` bytes.
    static func read(_ path: String, limit: Int = smallFileLimit) throws(SignatureGateError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SignatureGateError(.io, path, "cannot open: \(ErrnoText.of())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SignatureGateError(.io, path, "cannot stat: \(ErrnoText.of())") }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw SignatureGateError(.io, path, "not a regular file")
        }
        guard Int(info.st_size) <= limit else {
            throw SignatureGateError(.inputTooLarge, path, "\(info.st_size) bytes; at most \(limit) accepted")
        }
        var out = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
        var filled = 0
        while filled < out.count {
            let n = out.withUnsafeMutableBytes { posixRead(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SignatureGateError(.io, path, "read failed: \(ErrnoText.of())")
            }
            if n == 0 { break }
            filled += n
        }
        guard filled <= limit else {
            throw SignatureGateError(.inputTooLarge, path, "grew beyond \(limit) bytes while reading")
        }
        return Array(out[0..<filled])
    }

    /// Parses `bytes` (at most `limit` of them) as a JSON object.
    ///
    /// - Throws: ``SignatureGateError`` `.inputTooLarge`, or `code` with "not a JSON object" and `expected`.
    static func jsonObject(
        _ bytes: [UInt8], limit: Int, subject: String, code: SignatureGateError.Code, expected: String
    ) throws(SignatureGateError) -> [String: Any] {
        guard bytes.count <= limit else {
            throw SignatureGateError(.inputTooLarge, subject, "\(bytes.count) bytes; at most \(limit) accepted")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw SignatureGateError(code, subject, "not a JSON object (\(expected))")
        }
        return object
    }

    /// Reads a file as UTF-8 text.
    static func readText(_ path: String, limit: Int = smallFileLimit) throws(SignatureGateError) -> String {
        let bytes = try read(path, limit: limit)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw SignatureGateError(.malformedSignature, path, "not UTF-8 text")
        }
        return text
    }
}

/// `read(2)`, callable from types that have a `read` method of their own.
func posixRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}

/// A PEM block: `-----BEGIN LABEL-----`, base64 body, `-----END LABEL-----`.
struct PEMBlock: Sendable, Hashable {
    var label: String
    var der: [UInt8]

    /// Finds the first PEM block in `text`. Throws if there is none or its body is not base64.
    static func parse(_ text: String, subject: String) throws(SignatureGateError) -> PEMBlock {
        // Swift treats CR LF as one Character: split on both.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        guard let begin = lines.firstIndex(where: { $0.hasPrefix("-----BEGIN ") && $0.hasSuffix("-----") }) else {
            throw SignatureGateError(.malformedPEM, subject, "no '-----BEGIN …-----' line; expected a PEM file")
        }
        let label = String(lines[begin].dropFirst("-----BEGIN ".count).dropLast(5))
        let endLine = "-----END \(label)-----"
        guard let end = lines[(begin + 1)...].firstIndex(where: { $0 == endLine }) else {
            throw SignatureGateError(.malformedPEM, subject, "no '\(endLine)' line")
        }
        let body = lines[(begin + 1)..<end].filter { !$0.contains(":") }.joined()
        guard let der = Base64.decode(lenient: body), !der.isEmpty else {
            throw SignatureGateError(.malformedPEM, subject, "the body of the \(label) block is not valid base64")
        }
        return PEMBlock(label: label, der: der)
    }

    /// The PEM text for `der` under `label`, 64 columns like OpenSSL.
    static func format(label: String, der: [UInt8]) -> String {
        let body = Base64.encode(der)
        var out = "-----BEGIN \(label)-----\n"
        var index = body.startIndex
        while index < body.endIndex {
            let next = body.index(index, offsetBy: 64, limitedBy: body.endIndex) ?? body.endIndex
            out += body[index..<next] + "\n"
            index = next
        }
        return out + "-----END \(label)-----\n"
    }
}
