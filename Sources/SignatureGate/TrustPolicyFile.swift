import Foundation

/// A trust-policy file as written: one directive a line, `#` starts a comment; relative paths are relative to the
/// file's directory.
///
///     trust keys/release.pub        # a trusted key (cosign PEM or minisign), repeatable
///     trust-dir /etc/swtorrent/trusted.d   # every *.pub in the directory
///     require 2                     # distinct trusted signers needed
///     require-prehashed             # refuse legacy minisign signatures
///     require-attestation https://slsa.dev/provenance/v1   # manifests: each file needs such an attestation
///     min-version app 1.4.0         # manifests: refuse release 'app' below 1.4.0
///
/// ``requiredSigners`` is nil when the file has no `require` line, so a caller merging it with other sources can
/// tell "the file says 1" from "the file says nothing" (see the node's trust-policy merge, Docs/signing.md).
public struct TrustPolicyFile: Sendable, Hashable {
    /// `trust` lines, resolved against the file's directory.
    public var keyFiles: [String] = []
    /// `trust-dir` lines, resolved against the file's directory.
    public var directories: [String] = []
    /// The last `require N` line; nil without one.
    public var requiredSigners: Int?
    /// A `require-prehashed` line.
    public var requirePrehashedMinisign = false
    /// `require-attestation TYPE` lines: accepted provenance predicate types (release manifests).
    public var attestationPredicateTypes: [String] = []
    /// `min-version NAME VERSION` lines: the lowest version accepted per release name (the highest line wins).
    public var minimumVersions: [String: ReleaseVersion] = [:]

    public init() {}

    /// Parses the file at `path` (at most 64 KiB).
    ///
    /// - Throws: ``SignatureGateError`` `.malformedPolicy` naming the line, or `.io` / `.inputTooLarge`.
    public static func read(_ path: String) throws(SignatureGateError) -> TrustPolicyFile {
        let text = try BoundedInput.readText(path, limit: 64 << 10)
        let base = (path as NSString).deletingLastPathComponent
        func resolve(_ value: String) -> String {
            value.hasPrefix("/") ? value : (base.isEmpty ? value : base + "/" + value)
        }
        var file = TrustPolicyFile()
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard let directive = words.first else { continue }
            func bad(_ detail: String) -> SignatureGateError {
                SignatureGateError(.malformedPolicy, "\(path):\(index + 1)", detail)
            }
            switch (directive, words.count) {
            case ("trust", 2): file.keyFiles.append(resolve(words[1]))
            case ("trust-dir", 2): file.directories.append(resolve(words[1]))
            case ("require", 2):
                guard let n = Int(words[1]), n >= 0 else { throw bad("require takes a number ≥ 0") }
                file.requiredSigners = n
            case ("require-prehashed", 1): file.requirePrehashedMinisign = true
            case ("require-attestation", 2):
                if !file.attestationPredicateTypes.contains(words[1]) { file.attestationPredicateTypes.append(words[1]) }
            case ("min-version", 3):
                guard ReleaseManifest.isValidName(words[1]) else {
                    throw bad("min-version: '\(words[1])' is not a release name (A-Z a-z 0-9 . _ -)")
                }
                let version = try ReleaseVersion(words[2], subject: "\(path):\(index + 1)")
                file.minimumVersions[words[1]] = max(file.minimumVersions[words[1]] ?? version, version)
            default:
                throw bad(
                    "unknown directive '\(line)' (expected trust PATH, trust-dir DIR, require N, require-prehashed, "
                        + "require-attestation TYPE, min-version NAME VERSION)"
                )
            }
        }
        return file
    }
}
