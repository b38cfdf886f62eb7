import SignatureGate

// Each case's payload as an optional, so a test can `try #require` the case it expects instead of a `guard case`
// that returns early.

extension ReleaseDecision {
    var releasedFile: (path: String, signers: [Signer], sha256: String)? {
        if case .released(let path, let signers, let sha256) = self { (path, signers, sha256) } else { nil }
    }
    var quarantinedFile: (path: String, reason: GateRefusal)? {
        if case .quarantined(let path, let reason) = self { (path, reason) } else { nil }
    }
}

extension VerificationResult {
    var verifiedSigners: [Signer]? { if case .verified(let signers) = self { signers } else { nil } }
}

extension SigstoreBundle.Content {
    var dsseEnvelope: (payloadType: String, payload: [UInt8], signatures: [[UInt8]])? {
        if case .dsse(let type, let payload, let signatures) = self { (type, payload, signatures) } else { nil }
    }
}

extension DetachedSignature.Content {
    var minisignSignature: MinisignSignature? { if case .minisign(let signature) = self { signature } else { nil } }
}

extension ArtifactSigningKey {
    var cosignKey: SigningKey? { if case .cosign(let key) = self { key } else { nil } }
    var minisignKey: MinisignSecretKey? { if case .minisign(let key) = self { key } else { nil } }
}
