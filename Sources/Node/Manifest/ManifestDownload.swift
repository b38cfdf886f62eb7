import AsyncHTTPClient
import NIOCore
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
    /// - Throws: ``NodeError`` `io` when it cannot be fetched (naming the URL and the HTTP status or the error),
    ///   `malformedInput` when it is larger than ``SignedManifest/maxBytes`` or not a signed manifest.
    public static func fetch(_ url: String) async throws(NodeError) -> SignedManifest {
        let bytes: [UInt8]
        do {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "User-Agent", value: "swtorrent")
            let response = try await HTTPClient.shared.execute(request, timeout: timeout)
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
            throw NodeError(.io, "\(url): cannot fetch the manifest: \(error)")
        }
        do {
            return try SignedManifest(envelope: bytes, subject: url)
        } catch {
            throw NodeError(error)
        }
    }
}
