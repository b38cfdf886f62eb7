import Foundation
import Node
import SignatureGate
import Testing

/// `leech` and `verify` build their trust policy with the one merge (``TrustPolicySources``), so the same inputs
/// release a file in one exactly when they accept it in the other. Each row runs a real gated leech (staged content,
/// loopback session) and a real verification of the same torrent, and states what both must decide.
struct TrustPolicyAgreementTests {
    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var unsignedLibrary = false
        var secondSigner = false
        /// Builds the sources from the fixture's key files and a policy file (written with `policyText`).
        var keys: [String] = []  // "signer" / "other"
        var require: Int?
        var policyText: String?
        /// Expected per file (app.tar, lib.so): released / accepted.
        var expected: [Bool]
        var testDescription: String { name }
    }

    static let rows: [Row] = [
        Row(name: "trusted signer", keys: ["signer"], expected: [true, true]),
        Row(name: "untrusted signer", keys: ["other"], expected: [false, false]),
        Row(name: "require 2 of one signer", keys: ["signer"], require: 2, expected: [false, false]),
        Row(
            name: "two signers on one file, require 2", secondSigner: true, keys: ["signer", "other"], require: 2,
            expected: [true, false]),
        // The case leech and verify used to disagree on: the file says require 0, no explicit count.
        Row(
            name: "policy file require 0", unsignedLibrary: true, policyText: "trust signer.pub\nrequire 0\n",
            expected: [true, true]),
        Row(
            name: "explicit require 0, file silent", unsignedLibrary: true, require: 0,
            policyText: "trust signer.pub\n", expected: [true, true]),
        Row(
            name: "file require 2 beats explicit 1", keys: ["signer"], require: 1,
            policyText: "trust other.pub\nrequire 2\n", expected: [false, false]),
        Row(
            name: "keys from flags and file together", keys: ["other"], policyText: "trust signer.pub\n",
            expected: [true, true]),
        Row(name: "unsigned allowed without keys", unsignedLibrary: true, require: 0, expected: [true, true]),
        Row(name: "missing signature refused", unsignedLibrary: true, keys: ["signer"], expected: [true, false]),
    ]

    @Test(arguments: rows)
    func leechReleasesExactlyWhatVerifyAccepts(row: Row) async throws {
        let f = try NodeFixture("node-agree", unsignedLibrary: row.unsignedLibrary, secondSigner: row.secondSigner)
        defer { f.cleanup() }
        var sources = TrustPolicySources(
            keyFiles: row.keys.map { $0 == "signer" ? f.signerKeyFile : f.otherKeyFile }, requiredSigners: row.require)
        if let text = row.policyText {
            let path = f.root.appendingPathComponent("policy.conf").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            sources.policyFile = path
        }
        let policy = try sources.policy()

        // verify's path: the content where the seed keeps it.
        let verdicts = try ArtifactVerifier(policy: policy).verify(torrentPath: f.torrentPath, dataDirectory: f.source)
        let accepted = verdicts.map { if case .verified = $0.result { true } else { false } }

        // leech's path: the same content staged, gated and released.
        try f.stageContent()
        let outcome = try await f.leech(policy: policy).run()
        let released = outcome.decisions.map(\.decision.isReleased)

        #expect(accepted == row.expected, "verify: \(verdicts)")
        #expect(released == row.expected, "leech: \(outcome.decisions)")
        #expect(f.outputEntries().filter { $0 != "rel" } == zip(["rel/app.tar", "rel/lib.so"], row.expected)
            .filter(\.1).map(\.0))
    }

    @Test func mergeRuleTakesTheLargestStatedCountAndDefaultsToOne() throws {
        let f = try NodeFixture("node-merge")
        defer { f.cleanup() }
        let file = f.root.appendingPathComponent("p.conf").path
        try "trust other.pub\nrequire-prehashed\n".write(toFile: file, atomically: true, encoding: .utf8)
        let silent = try TrustPolicySources(keyFiles: [f.signerKeyFile], policyFile: file).policy()
        #expect(silent.requiredSigners == 1)
        #expect(silent.keys.count == 2)
        #expect(silent.requirePrehashedMinisign)
        let duplicate = try TrustPolicySources(keyFiles: [f.signerKeyFile, f.signerKeyFile]).policy()
        #expect(duplicate.keys.count == 1)
        #expect(throws: NodeError.self) { try TrustPolicySources(requiredSigners: -1).policy() }
        #expect { try TrustPolicySources(requiredSigners: 1).policy() } throws: {
            ($0 as? NodeError)?.code == .noTrustedKey
        }
    }
}
