import NIOCore
import PeerWire

/// HTTP mirrors and web seeds (``HTTPMirror``): which are used, how much is asked of each, what their blocks and
/// bad pieces mean. LAN mirrors come before the others: a mirror that is not on the LAN is asked for nothing while a
/// LAN mirror is active; the origin only when nothing else can serve (Docs/mirrors.md, "Order").
extension SessionCore {
    /// Adds the configured mirrors and, unless switched off, the torrent's web seeds; a URL that cannot be used is
    /// logged and skipped (the CLI checks `--mirror` before the session starts). A mirror's locality is the one
    /// ``SessionConfiguration/mirrorLocalities`` gives its URL, else its host's by the peers' rules.
    func startMirrors() {
        let settings = configuration.mirrorSettings
        var urls = configuration.mirrors
        if settings.useWebSeeds { urls += torrent.webSeeds }
        var seen = Set<String>()
        let origin = configuration.origin
        if let origin { urls.append(origin) }
        for url in urls where seen.insert(url).inserted {
            let location: MirrorLocation
            do {
                location = try MirrorLocation(url: url, layout: storage.layout, isSingleFile: torrent.isSingleFile)
            } catch {
                logger.warning("\(error); not used")
                continue
            }
            let locality =
                configuration.mirrorLocalities[url]
                ?? classifier.locality(of: PeerAddress(host: location.host, port: location.port), source: .mirror)
            let mirror = HTTPMirror(
                core: self, sourceID: nextID, location: location, locality: locality, isOrigin: url == origin,
                settings: settings)
            nextID += 1
            mirrors[mirror.sourceID] = mirror
            picker.addSource(mirror)
            picker.peerHasAll(mirror.sourceID)
            logger.info("mirror added", metadata: ["mirror": "\(url)", "locality": "\(locality)"])
        }
        requestFromMirrors()
    }

    func requestFromMirrors() {
        for mirror in mirrors.values { requestMore(mirror) }
    }

    /// Whether a mirror waits: one not on the LAN while a LAN mirror that lacks no file is active (beside a LAN
    /// mirror that lacks a file, LAN-first selection keeps it to the pieces the LAN cannot serve); the origin during
    /// the first ``MirrorSettings/originGrace`` of the session and while a peer or another active mirror has pieces
    /// we lack.
    func isStandby(_ mirror: HTTPMirror) -> Bool {
        if mirror.isOrigin {
            return now() < configuration.mirrorSettings.originGrace.seconds
                || connections.values.contains { picker.isInteresting($0.id) }
                || mirrors.values.contains { !$0.isOrigin && $0.isActive && picker.isInteresting($0.sourceID) }
        }
        return mirror.locality != .lan
            && mirrors.values.contains {
                !$0.isOrigin && $0.locality == .lan && $0.isActive && $0.lackingFiles.isEmpty
            }
    }

    /// Fills the mirror's free request slots with runs of blocks.
    func requestMore(_ mirror: HTTPMirror) {
        guard case .downloading = state, mirror.isActive, !isStandby(mirror), host.writesAllowRequests(for: self)
        else { return }
        let fastest = mirrors.values.lazy.filter(\.isActive).map(\.rate).max() ?? 0
        let slots = mirror.requestSlots(fastestRate: fastest) - mirror.fetchCount
        guard slots > 0 else { return }
        let count = slots * max(1, configuration.mirrorSettings.bytesPerRequest / picker.blockSize)
        guard paceDownload(count * picker.blockSize) else { return }
        // Picked first, then handed over: a fetch can end at once (a run of pad-file zeros, a URL the client
        // refuses) and reach the picker again, which must not be inside `picker.request` then.
        let requests = picker.nextRequests(for: mirror.sourceID, count: count)
        if !requests.isEmpty { mirror.requestBlocks(requests) }
    }

    /// A block from a mirror: accepted like a peer's when the picker still wants it.
    func mirrorBlockArrived(_ request: BlockRequest, _ block: ByteBuffer, from mirror: HTTPMirror) {
        guard case .downloading = state else { return }
        let arrival = picker.blockReceived(from: mirror.sourceID, request)
        guard arrival.accepted else { return }
        mirror.bytes += Int64(block.readableBytes)
        mirror.rateWindowBytes += Int64(block.readableBytes)
        accept(request, block, arrival, source: mirror.location.url)
    }

    /// A piece failed its hash check: a mirror that supplied every block of it is dropped at once and named; one
    /// that shared it with other sources is dropped after ``MirrorSettings/sharedHashFailureLimit`` such pieces.
    func mirrorsSentBadPiece(_ piece: Int, contributors: Set<Int>) {
        for id in contributors {
            guard let mirror = mirrors[id] else { continue }
            if contributors.count == 1 {
                mirror.drop("bad data in piece \(piece)")
            } else {
                mirror.sharedHashFailures += 1
                if mirror.sharedHashFailures >= configuration.mirrorSettings.sharedHashFailureLimit {
                    mirror.drop("\(mirror.sharedHashFailures) pieces with its data failed the hash check (last: \(piece))")
                }
            }
        }
    }

    /// The tick's part: each mirror's rate.
    func updateMirrorRates() {
        for mirror in mirrors.values {
            mirror.rate = mirror.rate * 0.75 + Double(mirror.rateWindowBytes) * 4 * 0.25
            mirror.rateWindowBytes = 0
        }
    }

    func stopMirrors() {
        for mirror in mirrors.values { mirror.stop() }
    }

    /// Every mirror, in the order they were added.
    var mirrorProgress: [MirrorProgress] {
        mirrors.keys.sorted().map { mirrors[$0]!.progress(standby: isStandby(mirrors[$0]!)) }
    }
}
