import Foundation
import SignatureGate
import TestSupport
import Testing

struct TrustPolicyTests {
    @Test func policyFileNamesKeysDirectoriesAndThresholds() throws {
        let dir = try TestFiles.makeTemporaryDirectory("gate-policy")
        defer { TestFiles.cleanup(dir) }
        let cosign = try SigningKey.generateP256().publicKey
        let minisign = MinisignSecretKey.generate().publicKey
        let other = MinisignSecretKey.generate().publicKey
        try FileManager.default.createDirectory(
            at: dir.appendingPathComponent("trusted.d"), withIntermediateDirectories: true
        )
        try cosign.pem.write(toFile: dir.appendingPathComponent("release.pub").path, atomically: true, encoding: .utf8)
        try minisign.fileText.write(
            toFile: dir.appendingPathComponent("trusted.d/a.pub").path, atomically: true, encoding: .utf8
        )
        try other.fileText.write(
            toFile: dir.appendingPathComponent("trusted.d/b.pub").path, atomically: true, encoding: .utf8
        )
        try "not a key".write(
            toFile: dir.appendingPathComponent("trusted.d/README").path, atomically: true, encoding: .utf8
        )
        let policyFile = dir.appendingPathComponent("policy.conf").path
        try """
            # release signing policy
            trust release.pub
            trust-dir trusted.d   # team keys
            require 2
            require-prehashed
            """.write(toFile: policyFile, atomically: true, encoding: .utf8)
        let policy = try TrustPolicy.load(policyFile: policyFile)
        #expect(policy.keys == [.cosign(cosign), .minisign(minisign), .minisign(other)])
        #expect(policy.requiredSigners == 2)
        #expect(policy.requirePrehashedMinisign)
    }

    @Test(arguments: ["trust", "require many", "require -1", "allow-everything", "trust a b"])
    func malformedPolicyLinesAreRefusedWithTheLineNumber(line: String) throws {
        let dir = try TestFiles.makeTemporaryDirectory("gate-policy")
        defer { TestFiles.cleanup(dir) }
        let path = dir.appendingPathComponent("policy.conf").path
        try "# header\n\(line)\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect {
            _ = try TrustPolicy.load(policyFile: path)
        } throws: { error in
            guard let error = error as? SignatureGateError else { return false }
            return error.code == .malformedPolicy && error.subject.hasSuffix(":2")
        }
    }

    @Test func shippedSignatureFilesBelongToTheirArtifact() {
        let files = [
            TorrentFileEntry(path: ["r", "app.tar"], length: 10),
            TorrentFileEntry(path: ["r", "app.tar.minisig"], length: 300),
            TorrentFileEntry(path: ["r", "app.tar.sig"], length: 96),
            TorrentFileEntry(path: ["r", "orphan.sig"], length: 96),
            TorrentFileEntry(path: ["r", "lib", "x.so"], length: 5),
            TorrentFileEntry(path: ["r", "lib", "x.so.sigstore.json"], length: 500),
        ]
        let plan = TorrentSignatures.plan(files: files, embedded: [])
        #expect(plan.map(\.file.path) == [["r", "app.tar"], ["r", "orphan.sig"], ["r", "lib", "x.so"]])
        #expect(plan[0].shipped == [["r", "app.tar.minisig"], ["r", "app.tar.sig"]])
        #expect(plan[1].shipped.isEmpty)
        #expect(plan[2].shipped == [["r", "lib", "x.so.sigstore.json"]])
    }
}
