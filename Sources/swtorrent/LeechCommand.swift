import ArgumentParser
import Engine
import Foundation
import Logging
import Metainfo
import Node
import ServiceLifecycle
import SignatureGate

/// `swtorrent leech TORRENT --out DIR`: downloads a torrent through the signature gate. The work is in
/// `Node.GatedLeech`.
struct LeechCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leech",
        abstract: "Download a torrent into a directory.",
        discussion: """
            Writes OUT/NAME (a single-file torrent's file, or a multi-file torrent's directory), through the \
            signature gate (below). Peers come from the torrent's HTTP trackers, \
            from --peer and, unless --no-lsd or the torrent is private without --key and --allow, from BEP 14 local \
            discovery on the LAN. Progress goes to the terminal (stderr) as percent, rates, peers and ETA; --json \
            prints one JSON object a line on stdout instead (events "progress", then "complete", "stopped" or \
            "stalled"; each says which peer sources are active, e.g. "sources":{"lsd":2,"tracker":1}, and where \
            the peers are, "localities":{"lan":2,"wan":1}, and each HTTP mirror with its state, bytes and why it backs \
            off or was dropped, "mirrors":[{"url":...,"state":"active","bytes":...}]).

            HTTP mirrors (Docs/mirrors.md): pieces are also fetched with Range requests from each --mirror and from \
            the torrent's web seeds (BEP 19 url-list; --no-web-seeds ignores them), and hash-checked like a peer's. \
            A mirror that fails backs off 1 s, 2 s, 4 s ... and is dropped after 5 failures in a row; one that \
            sends a piece that fails its hash check is dropped at once. LAN mirrors are used before the others. \
            An https:// mirror's certificate must chain to a system CA or to one given with --mirror-ca.

            Magnet links (quote them): the info dictionary is first fetched from peers by BEP 9 ut_metadata (the \
            link's x.pe peers, --peer, its tr= trackers' peers and, unless --no-lsd, the peers local discovery \
            finds for the info-hash and those that dial this node for it; with local discovery it waits up to \
            120 s for peers, without it a link naming none fails at once), at most 8 MiB and checked against the \
            info-hash, then the download runs as for a torrent. With --key/--allow it comes over TLS from listed \
            nodes only; without them a private torrent's info dictionary is refused.

            Exit codes: 0 every piece is on disk and verified (after seeding for --seed-after, if given); 1 I/O or \
            network failure (cannot listen, disk error); 2 bad arguments or a malformed torrent; 3 no piece was \
            verified for --stall-timeout, or no peer gave a magnet link's info dictionary; 4 interrupted (SIGINT/SIGTERM) before completion; 5 the signature gate \
            refused at least one file (quarantined; the message names each file and the reason); 11 the download \
            was not complete at --deadline (the gate's checks after it and --seed-after do not count).

            Signature gate: nothing unverified is ever placed in OUT. The torrent is downloaded into a 0700 \
            staging directory (--staging, default OUT/../.NAME.swtorrent-gate/staging/INFOHASH, beside OUT so a \
            release is one rename), never into OUT; files already in OUT are copied into staging first, so a \
            re-run fetches only what is missing. When every piece is verified, each file's signatures (embedded \
            in the torrent, or NAME.sig / NAME.minisig / NAME.sigstore.json shipped in it) are checked against the \
            trust policy (--trust, --trust-dir, --require, --policy, as in `swtorrent verify`); only files that pass \
            are moved into OUT (mode 0644); the others go to --quarantine (default \
            OUT/../.NAME.swtorrent-gate/quarantine). Every decision is appended to --audit-log (default \
            OUT/../.NAME.swtorrent-gate/audit.jsonl). --seed-after then seeds the released files from OUT.

            A trust policy is required: without one, leech refuses to start (exit 2). --allow-unsigned instead \
            releases files that passed the torrent's piece hashes only, still through staging and an atomic rename; \
            the audit log records them as released-unsigned (reason no-trust-policy).

            Release manifests (Docs/manifest.md): given a signed manifest (from `swtorrent make --manifest`) instead \
            of a torrent, leech first checks it against the trust policy and refuses it, fetching and releasing \
            nothing, when: its signatures do not verify (exit 6); it expired or was created in the future, beyond \
            --clock-skew (default 5m) (exit 7); its version is below the policy's min-version, or below the highest \
            version of the same release this node already released (kept in --state-dir; --allow-downgrade \
            permits it) (exit 8); it disagrees with its embedded torrent (exit 9); a file lacks a valid provenance \
            attestation the policy requires (--require-attestation, exit 10). Each refusal is an audit record. \
            Then the embedded torrent is leeched as above — from peers, the manifest's mirrors and, with \
            --allow-origin, its origin as a last resort — and a file is released only when its SHA-256 is the \
            manifest's and its signatures verify; audit records name the manifest. MANIFEST may be an http(s) URL \
            (downloaded first, bounded in size and time).
            """
    )

    @Argument(
        help: """
            The .torrent file, a magnet link (magnet:?xt=urn:btih:...), or a signed release manifest (swtorrent make \
            --manifest): a file or an http(s) URL.
            """)
    var torrent: String

    @Option(name: .long, help: "Directory to download into (created if missing).")
    var out: String

    @OptionGroup var common: TransferOptions

    @OptionGroup(title: "Signature gate") var gate: LeechGateOptions

    @Option(name: .long, help: "Keep seeding this long after completion (e.g. 30s, 10m, 1h).")
    var seedAfter: String?

    @Option(name: .long, help: "Give up (exit 3) when no piece is verified for this long (e.g. 5m).")
    var stallTimeout: String?

    @Option(
        name: .long,
        help: "Give up (exit 11) when the download is not complete this long after start (e.g. 90s, 10m).")
    var deadline: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "An HTTP or HTTPS mirror of the torrent's files, used beside peers (repeatable; BEP 19 layout: a "
                + "multi-file torrent's files under URL/NAME/..., a single-file torrent's file at URL, or URL/NAME "
                + "when URL ends in /).", valueName: "url"))
    var mirror: [String] = []

    @Option(
        name: .customLong("mirror-ca"),
        help: ArgumentHelp(
            "A PEM file of CA certificates (one or a bundle, as curl --cacert takes) trusted for https:// mirrors, "
                + "web seeds, a manifest's mirrors and a manifest URL besides the system's (repeatable).",
            valueName: "file"))
    var mirrorCA: [String] = []

    @Flag(name: .customLong("no-web-seeds"), help: "Do not use the torrent's web seeds (its url-list).")
    var noWebSeeds = false

    @OptionGroup(title: "Release manifests") var manifestOptions: LeechManifestOptions

    func run() async throws {
        common.bootstrapLogging()
        var configuration = try common.sessionConfiguration()
        for url in mirror {
            do {
                try MirrorLocation.check(url)
            } catch {
                throw ValidationError("--mirror: \(error.context)")
            }
        }
        configuration.mirrors = mirror
        for path in mirrorCA {
            do {
                configuration.mirrorTrustRoots += try MirrorTrustRoots.load(pemFile: path)
            } catch {
                throw ValidationError("--mirror-ca: \(error.context)")
            }
        }
        configuration.mirrorSettings.useWebSeeds = !noWebSeeds
        if let seedAfter {
            guard let d = ProgressFormat.parseDuration(seedAfter) else {
                throw ValidationError("--seed-after '\(seedAfter)' is not a duration like 30s, 10m, 1h")
            }
            configuration.seedAfterComplete = d
        }
        if let stallTimeout {
            guard let d = ProgressFormat.parseDuration(stallTimeout) else {
                throw ValidationError("--stall-timeout '\(stallTimeout)' is not a duration like 5m")
            }
            configuration.stallTimeout = d
        }
        let deadlineService = try deadline.map { text in
            guard let d = ProgressFormat.parseDuration(text), d > .zero else {
                throw ValidationError("--deadline '\(text)' is not a duration like 90s, 10m, 1h")
            }
            return DeadlineService(after: d)
        }
        let policy: TrustPolicy
        switch gate.trustPolicy() {
        case .success(let p): policy = p
        case .failure(let exit): throw exit
        }
        var gateLogger = Logger(label: "swtorrent.leech.gate")
        gateLogger.logLevel = common.verbose ? .info : .error
        if let signed = try await manifestOptions.signedManifest(torrent, configuration: configuration) {
            guard !gate.allowUnsigned else {
                StandardError.report("leech", "a release manifest is always verified: --allow-unsigned does not apply")
                throw ExitCode(ExitCodes.badInput)
            }
            var leech = ManifestLeech(
                source: torrent, signed: signed, output: out,
                acceptance: try manifestOptions.acceptance(policy: policy), staging: gate.staging,
                quarantine: gate.quarantine, auditLog: gate.auditLog, configuration: configuration,
                logger: common.logger("leech"), gateLogger: gateLogger)
            leech.allowOrigin = manifestOptions.allowOrigin
            leech.site = manifestOptions.nodeSite()
            let (host, hostServices) = try common.nodeHost(configuration, command: "leech")
            leech.host = host
            return try await runManifest(leech, policy: policy, deadline: deadlineService, services: hostServices)
        }
        let ignored = manifestOptions.givenNames
        if !ignored.isEmpty {
            StandardError.report(
                "leech",
                "\(ignored.joined(separator: ", ")) \(ignored.count == 1 ? "applies" : "apply") to release manifests "
                    + "only; ignored for \(MagnetLink.isMagnet(torrent) ? "a magnet link" : torrent)")
        }
        let (host, hostServices) = try common.nodeHost(configuration, command: "leech")
        let magnet = try magnetMetadata(configuration, host: host)
        var gated = GatedLeech(
            torrentPath: torrent, output: out, policy: policy, staging: gate.staging, quarantine: gate.quarantine,
            auditLog: gate.auditLog, configuration: configuration, logger: common.logger("leech"),
            gateLogger: gateLogger)
        gated.host = host
        let prepared = gated
        let events = events(policy: policy, deadline: deadlineService)
        let services = (deadlineService.map { [$0] } ?? []) + hostServices
        let json = common.json
        let result = await common.runAsService("leech", services: services) {
            () async -> Result<GatedLeechOutcome, NodeError> in
            var leech = prepared
            let result: Result<GatedLeechOutcome, NodeError>
            do throws(NodeError) {
                if let magnet {
                    // The metadata phase runs in the service group too: SIGINT/SIGTERM and --deadline end it.
                    let (path, peers) = try await Self.fetch(magnet, output: leech.output, json: json).get()
                    leech.torrentPath = path
                    leech.configuration.manualPeers = peers
                }
                result = .success(try await leech.run(events: events))
            } catch {
                result = .failure(error)
            }
            await host?.shutdown()
            return result
        }
        try Self.finish(result, deadline: deadlineService)
    }

    /// The magnet link's fetch (nil when the argument is not a magnet link).
    ///
    /// - Throws: `ExitCode` bad input for a link that does not parse.
    private func magnetMetadata(_ configuration: SessionConfiguration, host: SessionHost?) throws -> MagnetMetadata? {
        guard MagnetLink.isMagnet(torrent) else { return nil }
        let link: MagnetLink
        do {
            link = try MagnetLink(parsing: torrent)
        } catch {
            StandardError.report("leech", "magnet link: \(error)")
            throw ExitCode(ExitCodes.badInput)
        }
        var magnet = MagnetMetadata(
            link: link, configuration: configuration, transportSecurity: host?.configuration.transportSecurity,
            logger: common.logger("leech"))
        magnet.host = host
        return magnet
    }

    /// Fetches a magnet link's info dictionary from peers (BEP 9) into a torrent file beside the output, cancelled by
    /// a graceful shutdown; returns its path and the peers the download should dial (`--peer` and the link's `x.pe`).
    private static func fetch(
        _ magnet: MagnetMetadata, output: String, json: Bool
    ) async -> Result<(String, [PeerAddress]), NodeError> {
        let infoHash = magnet.link.infoHash?.hex
        let result = await cancelWhenGracefulShutdown { () async -> Result<(String, [PeerAddress]), NodeError> in
            do throws(NodeError) {
                let path = try await magnet.torrentFile(output: output)
                // The download asks the link's x.pe peers too.
                return .success((path, magnet.configuration.manualPeers + (try magnet.linkPeers())))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success((let path, _)):
            StandardError.report("leech", "magnet link: info dictionary received, \(path)")
            if json { printMetadataJSON(infoHash: infoHash, result: "received", torrent: path) }
        case .failure(let error):
            if json {
                printMetadataJSON(
                    infoHash: infoHash, result: error.code == .interrupted ? "interrupted" : "unavailable",
                    message: error.message)
            }
        }
        return result
    }

    /// The magnet link's metadata phase as one `--json` line: `{"event":"metadata","result":"received",...}` or
    /// `"unavailable"` with the reason.
    private static func printMetadataJSON(
        infoHash: String?, result: String, torrent: String? = nil, message: String? = nil
    ) {
        struct Event: Encodable {
            var event = "metadata"
            var infohash: String?
            var result: String
            var torrent: String?
            var message: String?
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let event = Event(infohash: infoHash, result: result, torrent: torrent, message: message)
        guard let data = try? encoder.encode(event), let line = String(data: data, encoding: .utf8) else { return }
        Output.line(line)
    }

    /// Prints a gated leech's events; a complete download tells the deadline it was met.
    private func events(policy: TrustPolicy, deadline: DeadlineService?) -> @Sendable (GatedLeechEvent) -> Void {
        let printer = common.progressPrinter
        let common = self.common
        return { event in
            switch event {
            case .progress(let p), .seedingProgress(let p): printer.show(p)
            case .downloadEnded(let outcome):
                if case .complete = outcome { deadline?.reached() }
                common.reportEnd("leech", outcome, mode: .leech)
            case .digestsStreamed: break  // logged by the gate's logger (--verbose)
            case .seedingEnded(let outcome): common.reportEnd("leech", outcome, mode: .seed)
            case .decision(let decision): Self.report(decision, policy: policy, json: common.json)
            }
        }
    }

    /// Runs a manifest leech and exits as its outcome says.
    private func runManifest(
        _ leech: ManifestLeech, policy: TrustPolicy, deadline: DeadlineService?, services: [any Service]
    ) async throws {
        let events = events(policy: policy, deadline: deadline)
        let result = await common.runAsService("leech", services: (deadline.map { [$0] } ?? []) + services) {
            () async -> Result<ManifestLeech.Outcome, NodeError> in
            let result: Result<ManifestLeech.Outcome, NodeError>
            do throws(NodeError) {
                result = .success(
                    try await leech.run(accepted: { Self.reportAccepted($0) }, events: events))
            } catch {
                result = .failure(error)
            }
            await leech.host?.shutdown()
            return result
        }
        switch result {
        case .success(.refused(let refusal)):
            StandardError.report(
                "leech", "\(leech.source): manifest refused (\(refusal.reason.name)): \(refusal.reason); nothing released")
            throw ExitCode(ExitCodes.of(refusal.reason))
        case .success(.leeched(_, let outcome)): try Self.finish(.success(outcome), deadline: deadline)
        case .failure(let error): try Self.finish(.failure(error), deadline: deadline)
        case nil: try Self.finish(nil, deadline: deadline)
        }
    }

    static func reportAccepted(_ accepted: AcceptedManifest) {
        let manifest = accepted.manifest
        StandardError.report(
            "leech",
            "manifest \(manifest.name) \(manifest.version) accepted (sha256 \(accepted.signed.digest)): signed by "
                + accepted.signers.map(\.keyID).joined(separator: ", ") + "; expires "
                + ReleaseManifest.formatTime(manifest.expires))
    }

    /// Exits as a gated leech's outcome says (a download stopped by a deadline that fired exits 11).
    private static func finish(_ result: Result<GatedLeechOutcome, NodeError>?, deadline: DeadlineService?) throws {
        switch result {
        case .success(.released(_, let seeding)):
            try ExitCodes.exit(seeding.map { ExitCodes.of($0, seeding: true) } ?? ExitCodes.success)
        case .success(.refused(let decisions)):
            let refused = decisions.filter { !$0.decision.isReleased }.count
            StandardError.report("leech", "\(refused) of \(decisions.count) files refused by the signature gate")
            throw ExitCode(ExitCodes.refusedByGate)
        case .success(.notDownloaded(let outcome)):
            if let deadline, deadline.fired {
                StandardError.report(
                    "leech",
                    "deadline \(deadline.after) passed before the download completed; what is verified stays in "
                        + "staging and a re-run fetches only the rest")
                throw ExitCode(ExitCodes.deadline)
            }
            try ExitCodes.exit(ExitCodes.of(outcome, seeding: false))
        case .failure(let error):
            StandardError.report("leech", error.message)
            if error.code == .interrupted, let deadline, deadline.fired {
                StandardError.report("leech", "deadline \(deadline.after) passed before the download began")
                throw ExitCode(ExitCodes.deadline)
            }
            throw ExitCode(ExitCodes.of(error))
        case nil:
            throw ExitCode(ExitCodes.failure)
        }
    }

    /// One line per file on stderr; with --json also one `{"event":"gate",...}` line on stdout, after the download's
    /// `complete` line.
    static func report(_ decision: TorrentFileDecision, policy: TrustPolicy, json: Bool) {
        let name = decision.path.joined(separator: "/")
        if json { printJSON(decision, name: name) }
        switch decision.decision {
        case .released(_, let signers, _):
            let how =
                signers.isEmpty
                ? (policy.keys.isEmpty
                    ? "unsigned (--allow-unsigned: checked against the torrent's piece hashes only)"
                    : "unsigned (the policy requires 0 signers)")
                : "signed by " + signers.map(\.keyID).joined(separator: ", ")
            StandardError.report("leech", "released \(name): \(how)")
        case .quarantined(let path, let reason):
            StandardError.report("leech", "\(name): refused (\(reason.name)): \(reason); quarantined at \(path)")
        }
    }

    private static func printJSON(_ decision: TorrentFileDecision, name: String) {
        struct Event: Encodable {
            var event = "gate"
            var file: String
            var result: String
            var reason: String?
            var message: String?
            var path: String
            var signers: [String]
            var sha256: String?
        }
        let event: Event
        switch decision.decision {
        case .released(let path, let signers, let sha256):
            event = Event(
                file: name, result: signers.isEmpty ? "released-unsigned" : "released", path: path,
                signers: signers.map(\.keyID), sha256: sha256)
        case .quarantined(let path, let reason):
            event = Event(
                file: name, result: "quarantined", reason: reason.name, message: reason.description, path: path,
                signers: [])
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(event), let line = String(data: data, encoding: .utf8) else { return }
        Output.line(line)
    }
}
