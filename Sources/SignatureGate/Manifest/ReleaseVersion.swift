/// A release version as a manifest states it: 1 to 8 dot-separated decimal numbers (`1.4.2`, `2026.12.2`), each at
/// most 18 digits. Versions compare numerically component by component, a missing component counting as 0
/// (`1.2` == `1.2.0` < `1.10`). Nothing else is accepted (no `v` prefix, no pre-release suffix), so two versions
/// always compare one way: the rollback check (Docs/manifest.md) must never guess.
public struct ReleaseVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The numbers, as written.
    public let components: [UInt64]
    /// The text as written (kept for messages and the state file).
    public let text: String

    /// Parses `text`.
    ///
    /// - Throws: ``SignatureGateError`` `.malformedManifest` naming `subject` and the accepted form.
    public init(_ text: String, subject: String = "version") throws(SignatureGateError) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        var components: [UInt64] = []
        for part in parts {
            guard (1...18).contains(part.utf8.count), part.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                let value = UInt64(part)
            else { components = []; break }
            components.append(value)
        }
        guard (1...8).contains(components.count), components.count == parts.count else {
            throw SignatureGateError(
                .malformedManifest, subject,
                "version '\(text)' is not 1 to 8 dot-separated numbers of at most 18 digits (like 1.4.2 or 2026.12.2)")
        }
        self.components = components
        self.text = text
    }

    public static func < (lhs: ReleaseVersion, rhs: ReleaseVersion) -> Bool {
        for index in 0..<max(lhs.components.count, rhs.components.count) {
            let (l, r) = (lhs.component(index), rhs.component(index))
            if l != r { return l < r }
        }
        return false
    }

    /// Versions that compare equal (`1.2` and `1.2.0`) are equal.
    public static func == (lhs: ReleaseVersion, rhs: ReleaseVersion) -> Bool { !(lhs < rhs) && !(rhs < lhs) }

    public func hash(into hasher: inout Hasher) {
        var trimmed = components
        while trimmed.count > 1, trimmed.last == 0 { trimmed.removeLast() }
        hasher.combine(trimmed)
    }

    private func component(_ index: Int) -> UInt64 { index < components.count ? components[index] : 0 }

    public var description: String { text }
}
