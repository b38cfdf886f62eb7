import Identity

// Each case's payload as an optional, so a test can `try #require` the case it expects instead of a `guard case`
// that returns early.

extension AllowlistLookup {
    var allowedEntry: AllowlistEntry? { if case .allowed(let entry) = self { entry } else { nil } }
    var revokedEntry: AllowlistEntry? { if case .revoked(let entry) = self { entry } else { nil } }
    var isUnknown: Bool { if case .unknown = self { true } else { false } }
}

extension SignedAnnounceResult {
    var validEntry: AllowlistEntry? { if case .valid(let entry) = self { entry } else { nil } }
    var revokedKeyEntry: AllowlistEntry? { if case .revokedKey(let entry) = self { entry } else { nil } }
    var malformedReason: String? { if case .malformed(let why) = self { why } else { nil } }
    var isUnknownKey: Bool { if case .unknownKey = self { true } else { false } }
    var isBadSignature: Bool { if case .badSignature = self { true } else { false } }
    var isStaleTimestamp: Bool { if case .staleTimestamp = self { true } else { false } }
}
