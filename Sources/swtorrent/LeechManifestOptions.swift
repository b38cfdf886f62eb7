import ArgumentParser
import Engine
import Foundation
import Node
import SignatureGate

/// The options of `swtorrent leech MANIFEST` (Docs/manifest.md): freshness, rollback state.
struct LeechManifestOptions: ParsableArguments {
    @Option(
        name: .customLong("state-dir"),
        help: """
            Release manifests: the node's state directory, holding the highest version released per release name \\
            (default $STATE_DIRECTORY, /var/lib/swtorrent for root, else $XDG_STATE_HOME/swtorrent or \\
            ~/.local/state/swtorrent).
            """)
    var stateDir: String?

    @Flag(
        name: .customLong("allow-downgrade"),
        help: "Release manifests: accept a version lower than the highest this node released (not below min-version).")
    var allowDowngrade = false

    @Flag(
        name: .customLong("allow-origin"),
        help: "Release manifests: fetch from the manifest's origin (CDN) when no peer or mirror can serve.")
    var allowOrigin = false

    @Option(
        name: .customLong("site"),
        help: ArgumentHelp(
            "Release manifests: the site this node is in. The manifest's mirrors of this site are LAN, those of "
                + "another site WAN, whatever their address; mirrors without a site go by their address.",
            valueName: "name"))
    var site: String?

    @Option(
        name: .customLong("clock-skew"),
        help: "Release manifests: how far clocks may disagree when checking creation and expiry (default 5m).")
    var clockSkew: String?

    /// The signed manifest when `path` holds one (its first byte is `{`; a torrent starts with `d`) or is an http(s)
    /// URL (always a manifest, downloaded bounded in size and time, trusting `--mirror-ca`'s CAs besides the
    /// system's), else nil.
    func signedManifest(_ path: String, configuration: SessionConfiguration) async throws -> SignedManifest? {
        if ManifestDownload.isURL(path) {
            do {
                return try await ManifestDownload.fetch(path, trustRoots: configuration.mirrorTrustRoots)
            } catch {
                StandardError.report("leech", error.message)
                throw ExitCode(ExitCodes.of(error))
            }
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        let first = (try? handle.read(upToCount: 64)) ?? Data()
        try? handle.close()
        guard first.first(where: { ![0x20, 0x09, 0x0a, 0x0d].contains($0) }) == UInt8(ascii: "{") else { return nil }
        do {
            return try SignedManifest.load(path)
        } catch {
            StandardError.report("leech", error.description)
            throw ExitCode(error.code == .io ? ExitCodes.failure : ExitCodes.badInput)
        }
    }

    /// `--site` is refused when empty (no manifest names an empty site), when the arguments are parsed.
    func validate() throws {
        if let site, site.isEmpty {
            throw ValidationError("--site: expected a site name, as the manifest's mirrors name it")
        }
    }

    /// `--site`.
    func nodeSite() -> String? { site }

    /// The manifest-only options given, by name (`--site`, `--allow-origin` ...), for the note that a torrent or
    /// magnet link ignores them.
    var givenNames: [String] {
        [
            stateDir.map { _ in "--state-dir" }, allowDowngrade ? "--allow-downgrade" : nil,
            allowOrigin ? "--allow-origin" : nil, site.map { _ in "--site" }, clockSkew.map { _ in "--clock-skew" },
        ].compactMap { $0 }
    }

    /// The manifest checks with the node's state directory.
    func acceptance(policy: TrustPolicy) throws -> ManifestAcceptance {
        var skew = ManifestAcceptance.defaultClockSkew
        if let clockSkew {
            guard let duration = ProgressFormat.parseDuration(clockSkew) else {
                throw ValidationError("--clock-skew '\(clockSkew)' is not a duration like 30s or 5m")
            }
            skew = duration.components.seconds
        }
        guard
            let directory = stateDir
                ?? StateDirectory.default(
                    environment: ProcessInfo.processInfo.environment, isRoot: getuid() == 0)
        else {
            throw ValidationError("no state directory for rollback protection: give --state-dir DIR (HOME is unset)")
        }
        return ManifestAcceptance(
            policy: policy, ledger: VersionLedger(directory: directory), allowDowngrade: allowDowngrade,
            clockSkew: skew)
    }
}
