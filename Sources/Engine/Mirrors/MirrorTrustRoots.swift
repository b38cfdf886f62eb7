import NIOSSL

/// Certificate authorities the node's HTTP client trusts for `https://` mirrors and web seeds besides the system's
/// (`leech --mirror-ca FILE`, ``HostConfiguration/mirrorTrustRoots``): an operator's own CA, whose certificates a
/// company's internal mirrors use, without adding it to the system trust store.
public enum MirrorTrustRoots {
    /// The largest file read (a bundle of a few hundred certificates; Debian's whole `ca-certificates.crt` is about
    /// 220 KB).
    public static let maximumFileSize = 1 << 20

    /// Reads the certificates of a PEM file: one certificate or a bundle of several (`-----BEGIN CERTIFICATE-----`
    /// blocks, as `curl --cacert` and `aria2c --ca-certificate` take); text outside the blocks is ignored.
    ///
    /// - Parameter path: the file.
    /// - Returns: its certificates, at least one, in file order.
    /// - Throws: ``EngineError`` `badMirrorCA` naming the file: it cannot be read, is larger than
    ///   ``maximumFileSize``, holds no `CERTIFICATE` block, or a block that does not parse.
    public static func load(pemFile path: String) throws(EngineError) -> [NIOSSLCertificate] {
        let read: [UInt8]?
        do {
            read = try FileSystem.readSmallFile(path, limit: maximumFileSize)
        } catch let error as EngineError where error.code == .io {
            throw EngineError(.badMirrorCA, error.context, errno: error.errno)
        } catch {
            throw EngineError(
                .badMirrorCA, "\(path): larger than \(maximumFileSize) bytes; give a PEM file of CA certificates")
        }
        guard let bytes = read else {
            throw EngineError(.badMirrorCA, "\(path): no such file; give the path of a PEM file of CA certificates")
        }
        guard contains(Array("-----BEGIN CERTIFICATE-----".utf8), in: bytes) else {
            throw EngineError(
                .badMirrorCA,
                "\(path): no PEM certificate in it (expected '-----BEGIN CERTIFICATE-----' blocks; convert a DER file "
                    + "with `openssl x509 -inform der -in FILE -out FILE.pem`)")
        }
        do {
            return try NIOSSLCertificate.fromPEMBytes(bytes)
        } catch {
            throw EngineError(.badMirrorCA, "\(path): a certificate in it does not parse (\(error))")
        }
    }

    /// TLS client settings that trust `roots` besides `base`'s own (by default AsyncHTTPClient's: full
    /// verification against the system's roots).
    public static func clientTLS(
        adding roots: [NIOSSLCertificate], to base: TLSConfiguration = .makeClientConfiguration()
    ) -> TLSConfiguration {
        var tls = base
        if !roots.isEmpty { tls.additionalTrustRoots.append(.certificates(roots)) }
        return tls
    }

    /// A failed HTTPS request's error as progress and logs show it: a certificate the client does not trust, one
    /// for another host, and a server that refuses the client's certificate say so and name the fix before the TLS
    /// library's own text; other errors as they describe themselves.
    public static func describe(_ error: any Error) -> String {
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return "certificate not valid for this host: \(extra)"
        }
        if isUnverifiedCertificate(error) {
            return "certificate not trusted: the server's certificate does not chain to a system CA or a mirror CA "
                + "(--mirror-ca), or is expired (\(error))"
        }
        let names = tlsErrorNames(error)
        let refusals = ["ALERT_CERTIFICATE_UNKNOWN", "ALERT_BAD_CERTIFICATE", "ALERT_CERTIFICATE_REQUIRED"]
        if names.contains(where: { name in refusals.contains { name.contains($0) } }) {
            return "the server refused this node's client certificate, or requires one (an appliance serves a "
                + "private torrent only to node keys on its allowlist) (\(error))"
        }
        return "\(error)"
    }

    /// Whether `error` says the server's certificate did not verify: not trusted (self-signed, another CA, expired:
    /// `CERTIFICATE_VERIFY_FAILED`) or issued for another host name.
    static func isUnverifiedCertificate(_ error: any Error) -> Bool {
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname { return true }
        return tlsErrorNames(error).contains { $0.contains("CERTIFICATE_VERIFY_FAILED") }
    }

    /// The TLS library's error texts in `error` (a failed handshake, or an alert after it); empty for other errors.
    static func tlsErrorNames(_ error: any Error) -> [String] {
        switch error {
        case NIOSSLError.handshakeFailed(.sslError(let errors)), BoringSSLError.sslError(let errors):
            return errors.map(\.description)
        default:
            return []
        }
    }

    private static func contains(_ needle: [UInt8], in haystack: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}
