// SignatureGate: cosign- and minisign-compatible signing and verification, trust policy, and the
// staging -> verify -> release / quarantine gate with its audit log.
