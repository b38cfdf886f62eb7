import Identity
import SwarmPrimitives
import Testing

@testable import Engine

@Suite struct SignedAnnounceTests {
    @Test func signedAnnounceParametersVerifyAtTheTracker() throws {
        let key = try NodeKey.generate(name: "node-1")
        let allowlist = try Allowlist(parsing: key.allowlistLine + "\n")
        let sign = SessionConfiguration.signedAnnounces(key: key, clock: { 1_800_000_000 })
        let url = try AnnounceURL("http://tracker.example:8080/announce?passkey=x")
        let request = AnnounceRequest(
            infoHash: InfoHash([UInt8](repeating: 7, count: 20))!, peerID: PeerID(Array("-SW0100-abcdefghijkl".utf8))!,
            port: 51413,
            left: 10, event: .started)
        let parameters = sign(url, request)
        #expect(parameters.map(\.name) == ["swt_key", "swt_ts", "swt_sig"])
        func value(_ name: String) -> String? { parameters.first { $0.name == name }?.value }
        let result = SignedAnnounce.verify(
            key: value("swt_key"), timestamp: value("swt_ts"), signature: value("swt_sig"),
            infoHash: request.infoHash.bytes,
            peerID: request.peerID.bytes, port: 51413, event: .started, host: "tracker.example:8080", path: "/announce",
            allowlist: allowlist, now: 1_800_000_010)
        #expect(result.failureReason == nil, "signature did not verify: \(result)")
        // The same parameters do not verify for another event.
        let other = SignedAnnounce.verify(
            key: value("swt_key"), timestamp: value("swt_ts"), signature: value("swt_sig"),
            infoHash: request.infoHash.bytes,
            peerID: request.peerID.bytes, port: 51413, event: .stopped, host: "tracker.example:8080", path: "/announce",
            allowlist: allowlist, now: 1_800_000_010)
        #expect(other.failureReason?.hasPrefix("bad signature:") == true, "a changed event must not verify: \(other)")
    }
}
