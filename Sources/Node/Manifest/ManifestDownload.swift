import AsyncHTTPClient
import Engine
import NIOCore
import NIOSSL
import SignatureGate

/// `swtorrent leech https://…/release.manifest`: a signed release manifest fetched over HTTP(S), bounded in size
/// (``SignedManifest/maxBytes``) and time, before it is checked like a manifest read from a file.
public enum ManifestDownload {
    /// The longest a manifest download may take, redirects included.
    public static let timeout: TimeAmount = .seconds(30)

    /// Whether `source` names a manifest by URL rather than a file.
    public static func isURL(_ source: String) -> Bool {
        let lower = source.lowercased()
        return lower.hasPrefix("http://") || lower.hasPrefix("https://")
    }

    /// Downloads the manifest at `url` (following at most 5 redirects) and parses its envelope.
    ///
    /// - Parameter trustRoots: CAs trusted for an `https` URL besides the system's (`leech --mirror-ca`).
    /// - Throws: ``NodeError`` `io` when it cannot be fetched (naming the URL and the HTTP status or the error; a
    ///   certificate that does not verify says so, ``MirrorTrustRoots/describe(_:)``), `malformedInput` when it is
    ///   larger than ``SignedManifest/maxBytes`` or not a signed manifest.
    public static func fetch(_ url: String, trustRoots: [NIOSSLCertificate] = []) async throws(NodeError)
        -> SignedManifest
    {
        // A client of its own, shut down after the download: a connection that cannot be made (refused, or a
        // certificate that does not verify) fails at once instead of being retried until the timeout.
        var configuration = HTTPClient.Configuration(redirectConfiguration: .follow(max: 5, allowCycles: false))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.tlsConfiguration = MirrorTrustRoots.clientTLS(adding: trustRoots)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let result: Result<SignedManifest, NodeError>
        do throws(NodeError) {
            result = .success(try await fetch(url, client: client))
        } catch {
            result = .failure(error)
        }
        try? await client.shutdown()
        return try result.get()
    }

    private static func fetch(_ url: String, client: HTTPClient) async throws(NodeError) -> SignedManifest {
        let bytes: [UInt8]
        do {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "User-Agent", value: "swtorrent")
            let response = try await client.execute(request, timeout: timeout)
            guard response.status == .ok else {
                throw NodeError(.io, "\(url): HTTP \(response.status.code) \(response.status.reasonPhrase)")
            }
            let body = try await response.body.collect(upTo: SignedManifest.maxBytes)
            bytes = Array(buffer: body)
        } catch let error as NodeError {
            throw error
        } catch let error as NIOTooManyBytesError {
            _ = error
            throw NodeError(
                .malformedInput, "\(url): larger than \(SignedManifest.maxBytes) bytes; not a release manifest")
        } catch {
            throw NodeError(.io, "\(url): cannot fetch the manifest: \(MirrorTrustRoots.describe(error))")
        }
        do {
            return try SignedManifest(envelope: bytes, subject: url)
        } catch {
            throw NodeError(error)
        }
    }
}
