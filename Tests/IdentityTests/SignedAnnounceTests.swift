import CryptoPrimitives
import Identity
import Testing

/// The test vector published in Docs/identity.md; computed independently with Python's `cryptography` package.
enum Vector {
    static let seed = Array(UInt8(0)...UInt8(31))
    static let publicKeyHex = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
    static let publicKeyBase64 = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
    static let fingerprint = "SHA256:Vkdap1RjR0wChd9dvyvKtz2mUTWIOem3dIGy6rEHcIw"
    static let infoHash = Array(UInt8(1)...UInt8(20))
    static let peerID = Array("-SW0001-abcdefghijkl".utf8)
    static let port: UInt16 = 6881
    static let event = AnnounceEvent.started
    static let host = "Tracker.Example:8080"
    static let path = "/announce"
    static let timestamp: Int64 = 1_700_000_000
    static let message =
        "7377746f7272656e742d616e6e6f756e63652d76310a0102030405060708090a0b0c0d0e0f1011121314"
        + "2d5357303030312d6162636465666768696a6b6c1ae102000000006553f10014747261636b65722e6578"
        + "616d706c653a3830383000092f616e6e6f756e6365"
    static let signature =
        "9d9081b37ef8790075b6aa751eea7f965f287b41db16514bb6da710102811f24"
        + "2a92eabd7cdbe9583497bf0b69e4ef885540cfd2257335b7ca874c2b1bd9880b"

    static func key() throws -> NodeKey { try NodeKey(seed: seed, name: "vector-node") }

    static func allowlist(_ extra: String = "") throws -> Allowlist {
        try Allowlist(parsing: "ed25519 \(publicKeyBase64) vector-node\n" + extra)
    }
}

struct SignedAnnounceTests {
    @Test func canonicalMessageMatchesTheDocumentedVector() throws {
        let message = try SignedAnnounce.canonicalMessage(
            infoHash: Vector.infoHash, peerID: Vector.peerID, port: Vector.port, event: Vector.event,
            host: Vector.host, path: Vector.path, timestamp: Vector.timestamp
        )
        #expect(Hex.encode(message) == Vector.message)
        #expect(message.count == 105)
    }

    @Test func signingProducesTheDocumentedQueryItems() throws {
        let key = try Vector.key()
        #expect(key.publicKey.hex == Vector.publicKeyHex)
        #expect(key.publicKey.base64 == Vector.publicKeyBase64)
        #expect(key.fingerprint == Vector.fingerprint)
        let items = try SignedAnnounce.sign(
            infoHash: Vector.infoHash, peerID: Vector.peerID, port: Vector.port, event: Vector.event,
            host: Vector.host, path: Vector.path, key: key, timestamp: Vector.timestamp
        )
        #expect(items.map(\.name) == ["swt_key", "swt_ts", "swt_sig"])
        #expect(items.map(\.value) == [Vector.publicKeyHex, "1700000000", Vector.signature])
        #expect(
            SignedAnnounce.queryString(items)
                == "swt_key=\(Vector.publicKeyHex)&swt_ts=1700000000&swt_sig=\(Vector.signature)"
        )
    }

    private func verify(
        key: String? = Vector.publicKeyHex,
        timestamp: String? = "1700000000",
        signature: String? = Vector.signature,
        infoHash: [UInt8] = Vector.infoHash,
        peerID: [UInt8] = Vector.peerID,
        port: UInt16 = Vector.port,
        event: AnnounceEvent = Vector.event,
        host: String = Vector.host,
        path: String = Vector.path,
        allowlist: Allowlist? = nil,
        now: Int64 = Vector.timestamp + 10
    ) throws -> SignedAnnounceResult {
        SignedAnnounce.verify(
            key: key, timestamp: timestamp, signature: signature, infoHash: infoHash, peerID: peerID, port: port,
            event: event, host: host, path: path, allowlist: try allowlist ?? Vector.allowlist(), now: now
        )
    }

    @Test func theVectorVerifies() throws {
        let entry = try #require(try verify().validEntry, "the documented vector does not verify")
        #expect(entry.name == "vector-node")
        // The host is normalised on both sides: case and a default port do not matter.
        #expect(try verify(host: "tracker.example:8080").failureReason == nil)
        // Upper-case hex is accepted too.
        #expect(try verify(key: Vector.publicKeyHex.uppercased(), signature: Vector.signature.uppercased())
            .failureReason == nil)
    }

    @Test func everySignedFieldIsCovered() throws {
        var otherHash = Vector.infoHash
        otherHash[19] ^= 1
        var otherPeer = Vector.peerID
        otherPeer[0] ^= 1
        let tampered: [SignedAnnounceResult] = [
            try verify(infoHash: otherHash),
            try verify(peerID: otherPeer),
            try verify(port: 6882),
            try verify(event: .completed),
            try verify(event: .none),
            try verify(host: "tracker.example"),
            try verify(host: "other.example:8080"),
            try verify(path: "/announce2"),
            try verify(timestamp: "1700000001"),
        ]
        for result in tampered {
            #expect(result.isBadSignature, "expected badSignature, got \(result)")
        }
    }

    @Test func refusalsAreDistinct() throws {
        let other = try NodeKey(seed: Array(repeating: 7, count: 32), name: "stranger")
        #expect(
            try verify(allowlist: Allowlist(parsing: "ed25519 \(other.publicKey.base64) x\n")).isUnknownKey,
            "unlisted key not reported as unknown")
        let revokedList = try Allowlist(parsing: "revoked ed25519 \(Vector.publicKeyBase64) vector-node\n")
        let entry = try #require(
            try verify(allowlist: revokedList).revokedKeyEntry,
            "revoked key not reported as revoked")
        #expect(entry.status == .revokedInFile)
        #expect(try verify(now: Vector.timestamp + 301).isStaleTimestamp, "late announce not reported as stale")
        #expect(
            try verify(now: Vector.timestamp - 301).isStaleTimestamp,
            "announce from the future not reported as stale")
        #expect(try verify(now: Vector.timestamp + 300).failureReason == nil)
        #expect(try verify(now: Vector.timestamp - 300).failureReason == nil)
        var badSignature = Array(Vector.signature)
        badSignature[0] = badSignature[0] == "0" ? "1" : "0"
        #expect(try verify(signature: String(badSignature)).isBadSignature, "altered signature not reported as bad")
    }

    @Test(arguments: [
        ("key absent", nil, "1700000000", Vector.signature, "missing swt_key"),
        ("key short", "03a1", "1700000000", Vector.signature, "swt_key must be 64 hex digits"),
        ("key not hex", String(repeating: "z", count: 64), "1700000000", Vector.signature, "swt_key must be"),
        ("ts absent", Vector.publicKeyHex, nil, Vector.signature, "missing swt_ts"),
        ("ts negative", Vector.publicKeyHex, "-5", Vector.signature, "swt_ts must be decimal"),
        ("ts empty", Vector.publicKeyHex, "", Vector.signature, "swt_ts must be decimal"),
        ("ts huge", Vector.publicKeyHex, String(repeating: "9", count: 30), Vector.signature, "swt_ts must be"),
        ("sig absent", Vector.publicKeyHex, "1700000000", nil, "missing swt_sig"),
        ("sig short", Vector.publicKeyHex, "1700000000", "abcd", "swt_sig must be 128 hex digits"),
    ] as [(String, String?, String?, String?, String)])
    func malformedParametersAreNamed(
        label: String, key: String?, timestamp: String?, signature: String?, expected: String
    ) throws {
        let result = try verify(key: key, timestamp: timestamp, signature: signature)
        let why = try #require(result.malformedReason, "\(label): expected malformed, got \(result)")
        #expect(why.contains(expected), "\(label): \(why)")
    }

    @Test func malformedFieldsAreNotSignatureFailures() throws {
        #expect(try verify(infoHash: [1, 2, 3]).malformedReason != nil, "short info_hash not reported as malformed")
        #expect(try verify(path: "announce").malformedReason != nil, "relative path not reported as malformed")
        #expect(throws: IdentityError.self) {
            try SignedAnnounce.canonicalMessage(
                infoHash: Vector.infoHash, peerID: Vector.peerID, port: 1, event: .none, host: "",
                path: "/announce", timestamp: 0
            )
        }
    }

    @Test(arguments: [
        ("Tracker.Example", "tracker.example"),
        ("tracker.example:80", "tracker.example"),
        ("tracker.example:443", "tracker.example"),
        ("tracker.example:8080", "tracker.example:8080"),
        ("127.0.0.1:6969", "127.0.0.1:6969"),
        ("[::1]:80", "[::1]"),
        ("[::1]:6969", "[::1]:6969"),
        ("[2001:db8::80]", "[2001:db8::80]"),
    ])
    func hostsAreNormalised(authority: String, expected: String) {
        #expect(SignedAnnounce.canonicalHost(authority) == expected)
    }

    @Test func urlHostsAreBracketedAndNormalised() {
        #expect(SignedAnnounce.canonicalHost(host: "::1", port: 6969) == "[::1]:6969")
        #expect(SignedAnnounce.canonicalHost(host: "Tracker.Example", port: 80) == "tracker.example")
        #expect(SignedAnnounce.canonicalHost(host: "tracker.example", port: nil) == "tracker.example")
        #expect(SignedAnnounce.canonicalHost("bad host") == nil)
        #expect(SignedAnnounce.canonicalHost(String(repeating: "a", count: 256)) == nil)
    }

    @Test func eventsRoundTripThroughTheirQueryValues() {
        for event in AnnounceEvent.allCases {
            #expect(AnnounceEvent(queryValue: event.queryValue) == event)
        }
        #expect(AnnounceEvent(queryValue: "bogus") == nil)
    }

    @Test func aFreshKeySignsWhatItsAllowlistLineVerifies() throws {
        let key = try NodeKey.generate(name: "fresh")
        let allowlist = try Allowlist(parsing: key.allowlistLine + "\n")
        let items = try SignedAnnounce.sign(
            infoHash: Vector.infoHash, peerID: Vector.peerID, port: 51413, event: .none, host: "127.0.0.1:7000",
            path: "/announce", key: key, timestamp: 42
        )
        let values = Dictionary(uniqueKeysWithValues: items.map { ($0.name, $0.value) })
        let result = SignedAnnounce.verify(
            key: values["swt_key"], timestamp: values["swt_ts"], signature: values["swt_sig"],
            infoHash: Vector.infoHash, peerID: Vector.peerID, port: 51413, event: .none, host: "127.0.0.1:7000",
            path: "/announce", allowlist: allowlist, now: 100
        )
        #expect(result.failureReason == nil)
    }
}
