import Logging
import NIOCore
import NIOPosix
import SwarmPrimitives

#if canImport(Glibc)
    import Glibc
#endif

/// The announcer on its loop: the sockets, the schedule, the inbound filter and the counters.
final class LocalDiscoveryCore {
    typealias Family = LSDAnnouncement.Family

    /// One interface discovery runs on, and its sending socket per address family.
    struct Link {
        var interface: LocalInterface
        var senders: [Family: any Channel] = [:]

        /// The interface's address and prefix in `family`, if discovery uses that family on it. Multicast over IPv6
        /// does not route on a loopback interface (Linux: no IFF_MULTICAST on `lo`), so loopback is IPv4 only.
        func subnet(_ family: Family) -> LocalInterface.Subnet? {
            switch family {
            case .ipv4: interface.ipv4
            case .ipv6: interface.isLoopback ? nil : interface.ipv6
            }
        }
    }

    private enum State {
        case idle
        case starting(EventLoopFuture<Void>)
        case running(receivers: [any Channel])
        case stopped
    }

    let loop: any EventLoop
    let configuration: LocalDiscoveryConfiguration
    let logger: Logger
    private var state = State.idle
    private var schedule: AnnounceSchedule
    private var filter: InboundFilter
    private var links: [Link] = []
    private var listenPort = 0
    private var onPeer: (@Sendable (LocalPeer) -> Void)?
    private var counters = LocalDiscoveryStatistics()
    let cookie: String

    init(loop: any EventLoop, configuration: LocalDiscoveryConfiguration, logger: Logger) {
        self.loop = loop
        self.configuration = configuration
        self.logger = logger
        self.schedule = configuration.schedule
        self.cookie = String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16)
        self.filter = InboundFilter(cookie: cookie, maximumPerSecond: configuration.inboundPerSecond)
    }

    private var now: Double { Double(NIODeadline.now().uptimeNanoseconds) / 1e9 }

    /// The families some link uses.
    private var families: [Family] {
        [.ipv4, .ipv6].filter { family in links.contains { $0.subnet(family) != nil } }
    }

    // MARK: - Lifecycle

    func start(listenPort: Int, onPeer: @escaping @Sendable (LocalPeer) -> Void) -> EventLoopFuture<Void> {
        switch state {
        case .idle: break
        case .starting(let future): return future
        case .running: return loop.makeSucceededVoidFuture()
        case .stopped: return loop.makeFailedFuture(LocalDiscoveryError(.socketFailed, "local discovery was shut down"))
        }
        self.listenPort = listenPort
        self.onPeer = onPeer
        do {
            links = try LocalInterface.select(from: LocalInterface.current(), named: configuration.interfaces).map {
                Link(interface: $0)
            }
        } catch {
            return loop.makeFailedFuture(error)
        }
        // The state says "starting" before the first socket call: a step may complete at once, on this loop.
        let promise = loop.makePromise(of: Void.self)
        state = .starting(promise.futureResult)
        let receivers = families.map { openReceiver($0) }
        EventLoopFuture.whenAllSucceed(receivers, on: loop).assumeIsolated().flatMap { receivers in
            self.openSenders().map { receivers }
        }.flatMapThrowing { receivers -> Void in
            guard case .starting = self.state else {
                for receiver in receivers { receiver.close(promise: nil) }
                self.closeSenders()
                throw LocalDiscoveryError(.socketFailed, "local discovery was shut down while starting")
            }
            self.state = .running(receivers: receivers)
            self.tick()
            let used = self.links.map { link in
                link.interface.name + "(" + self.families.filter { link.subnet($0) != nil }.map(\.name)
                    .joined(separator: ",") + ")"
            }
            self.logger.info(
                "local discovery running", metadata: ["interfaces": "\(used)", "port": "\(listenPort)"])
        }.flatMapErrorThrowing { error in
            if case .starting = self.state { self.state = .idle }
            self.closeSenders()
            for receiver in receivers { receiver.whenSuccess { $0.close(promise: nil) } }
            if let error = error as? LocalDiscoveryError { throw error }
            throw LocalDiscoveryError(
                .socketFailed,
                "multicast on \(self.links.map(\.interface.name)) port \(self.configuration.groupPort): \(error)")
        }.nonisolated().cascade(to: promise)
        return promise.futureResult
    }

    func shutdown() -> EventLoopFuture<Void> {
        let old = state
        state = .stopped
        closeSenders()
        if case .running = old {
            let totals = statistics()
            var metadata: Logger.Metadata = [
                "sent": "\(totals.sent)", "accepted": "\(totals.accepted)", "peers": "\(totals.peersReported)",
            ]
            for (reason, count) in totals.dropped { metadata["dropped.\(reason)"] = "\(count)" }
            logger.info("local discovery stopped", metadata: metadata)
        }
        switch old {
        case .running(let receivers):
            let closed = receivers.map { $0.close().recover { _ in } }
            return EventLoopFuture.andAllComplete(closed, on: loop)
        case .starting(let future):
            return future.recover { _ in }
        case .idle, .stopped:
            return loop.makeSucceededVoidFuture()
        }
    }

    private func closeSenders() {
        for index in links.indices {
            for sender in links[index].senders.values { sender.close(promise: nil) }
            links[index].senders = [:]
        }
    }

    func statistics() -> LocalDiscoveryStatistics {
        var result = counters
        result.accepted = filter.accepted
        result.dropped = filter.dropped
        result.torrents = schedule.infoHashes.count
        return result
    }

    // MARK: - Torrents

    func add(_ infoHash: InfoHash) {
        schedule.add(infoHash, now: now)
    }

    func remove(_ infoHash: InfoHash) {
        schedule.remove(infoHash)
    }

    // MARK: - Sending

    /// Sends what is due, then runs again after ``LocalDiscoveryConfiguration/tickInterval`` while running.
    private func tick() {
        guard case .running = state else { return }
        let interval = TimeAmount.nanoseconds(Int64(configuration.tickInterval * 1e9))
        loop.assumeIsolated().scheduleTask(in: interval) { self.tick() }
        let due = schedule.takeDue(now: now)
        guard !due.isEmpty else { return }
        let announcement = LSDAnnouncement(port: listenPort, infoHashes: due, cookie: cookie)
        var datagramCount = 0
        for family in families {
            let datagrams: [[UInt8]]
            let group: SocketAddress
            do {
                datagrams = try announcement.encode(family: family)
                group = try SocketAddress(ipAddress: family.groupAddress, port: configuration.groupPort)
            } catch {
                logger.error("cannot encode an announcement", metadata: ["error": "\(error)"])
                continue
            }
            datagramCount = datagrams.count
            for link in links {
                guard let sender = link.senders[family] else { continue }
                let name = link.interface.name
                for datagram in datagrams {
                    let envelope = AddressedEnvelope(remoteAddress: group, data: sender.allocator.buffer(bytes: datagram))
                    sender.writeAndFlush(envelope).whenFailure { [logger] error in
                        logger.debug(
                            "announcement not sent",
                            metadata: ["interface": "\(name)", "family": "\(family.name)", "error": "\(error)"])
                    }
                    counters.sent += 1
                }
            }
        }
        logger.debug("announced", metadata: ["torrents": "\(due.count)", "datagrams": "\(datagramCount)"])
    }

    // MARK: - Receiving

    func received(_ envelope: AddressedEnvelope<ByteBuffer>) {
        guard case .running = state else { return }
        let family: Family
        switch envelope.remoteAddress {
        case .v4: family = .ipv4
        case .v6: family = .ipv6
        case .unixDomainSocket: return
        }
        let info = envelope.metadata?.packetInfo
        let subnet = info.flatMap { info in
            links.first { $0.interface.index == info.interfaceIndex }?.subnet(family)
        }
        let source = Self.addressBytes(envelope.remoteAddress) ?? []
        let toGroup = info.flatMap { Self.addressBytes($0.destinationAddress) } == family.groupBytes
        guard
            let announcement = filter.accept(
                envelope.data.readableBytesView, from: source,
                subnet: subnet.map { ($0.address, $0.prefixLength) }, now: now, toGroup: toGroup),
            let host = envelope.remoteAddress.ipAddress
        else { return }
        for hash in announcement.infoHashes where schedule.contains(hash) {
            counters.peersReported += 1
            onPeer?(LocalPeer(infoHash: hash, host: host, port: announcement.port))
        }
    }

    // MARK: - Sockets

    /// One socket on the group's port, on every address of `family`, joined to the group on each link that uses
    /// the family, reporting the interface each datagram arrived on.
    private func openReceiver(_ family: Family) -> EventLoopFuture<any Channel> {
        let core = NIOLoopBound(self, eventLoop: loop)
        let joins = links.compactMap { link in link.subnet(family).map { (link.interface.index, $0.address) } }
        var bootstrap = DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.receivePacketInfo, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(LSDReceiveHandler(core: core))
                }
            }
        if family == .ipv6 {
            // IPv6 only: IPv4 datagrams come through the IPv4 socket.
            bootstrap = bootstrap.channelOption(ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 1)
        }
        return bootstrap.bind(host: family == .ipv4 ? "0.0.0.0" : "::", port: configuration.groupPort)
            .flatMap { channel -> EventLoopFuture<any Channel> in
                channel.eventLoop.makeCompletedFuture {
                    guard let provider = channel as? any SocketOptionProvider else {
                        throw LocalDiscoveryError(.socketFailed, "the datagram channel has no socket options")
                    }
                    return provider
                }.flatMap { provider in
                    let joined = joins.map { index, address in Self.join(family, index: index, address: address, provider) }
                    return EventLoopFuture.andAllSucceed(joined, on: channel.eventLoop)
                }.map { channel }.flatMapError { error in
                    channel.close(promise: nil)
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
    }

    /// Joins the group of `family` on one interface (by index, so a loopback interface without IFF_MULTICAST works
    /// too; NIO's `joinGroup(device:)` refuses those).
    private static func join(
        _ family: Family, index: Int, address: [UInt8], _ provider: any SocketOptionProvider
    ) -> EventLoopFuture<Void> {
        switch family {
        case .ipv4:
            var request = ip_mreqn()
            request.imr_multiaddr = inAddr(family.groupBytes)
            request.imr_address = inAddr(address)
            request.imr_ifindex = Int32(index)
            return provider.unsafeSetSocketOption(level: .ip, name: .ip_add_membership, value: request)
        case .ipv6:
            var request = ipv6_mreq()
            withUnsafeMutableBytes(of: &request.ipv6mr_multiaddr) { $0.copyBytes(from: family.groupBytes) }
            request.ipv6mr_interface = UInt32(index)
            return provider.unsafeSetSocketOption(level: .ipv6, name: .ipv6_join_group, value: request)
        }
    }

    /// Per link and family a socket bound to the link's address, sending through the link, with the TTL (hop
    /// limit) and loop setting.
    private func openSenders() -> EventLoopFuture<Void> {
        let ttl = configuration.timeToLive
        let loopback: UInt8 = configuration.multicastLoop ? 1 : 0
        var opened: [EventLoopFuture<Void>] = []
        for (index, link) in links.enumerated() {
            for family in families {
                guard let subnet = link.subnet(family) else { continue }
                let host = IPAddressText.format(subnet.address) ?? ""
                let interfaceIndex = link.interface.index
                let sender = DatagramBootstrap(group: loop).bind(host: host, port: 0).flatMap {
                    channel -> EventLoopFuture<any Channel> in
                    // A NIOPosix datagram channel is its own socket-option provider.
                    guard let provider = channel as? any SocketOptionProvider else {
                        channel.close(promise: nil)
                        return channel.eventLoop.makeFailedFuture(
                            LocalDiscoveryError(.socketFailed, "the datagram channel has no socket options"))
                    }
                    let configured: EventLoopFuture<Void> =
                        switch family {
                        case .ipv4:
                            provider.setIPMulticastIF(Self.inAddr(subnet.address))
                                .flatMap { provider.setIPMulticastTTL(ttl) }
                                .flatMap { provider.setIPMulticastLoop(loopback) }
                        case .ipv6:
                            provider.setIPv6MulticastIF(CUnsignedInt(interfaceIndex))
                                .flatMap { provider.setIPv6MulticastHops(CInt(ttl)) }
                                .flatMap { provider.setIPv6MulticastLoop(CUnsignedInt(loopback)) }
                        }
                    return configured.map { channel }.flatMapError { error in
                        channel.close(promise: nil)
                        return channel.eventLoop.makeFailedFuture(error)
                    }
                }.assumeIsolated().map { channel in
                    if case .starting = self.state {
                        self.links[index].senders[family] = channel
                    } else {
                        channel.close(promise: nil)
                    }
                }.nonisolated()
                opened.append(sender)
            }
        }
        return EventLoopFuture.andAllSucceed(opened, on: loop)
    }

    /// 4 address bytes as an `in_addr` (network order, as they are).
    static func inAddr(_ bytes: [UInt8]) -> in_addr {
        var address = in_addr()
        withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes.prefix(4)) }
        return address
    }

    /// The 4 or 16 bytes of an IP socket address.
    static func addressBytes(_ address: SocketAddress) -> [UInt8]? {
        switch address {
        case .v4(let v4): withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
        case .v6(let v6): withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
        case .unixDomainSocket: nil
        }
    }
}

@available(*, unavailable)
extension LocalDiscoveryCore: Sendable {}

/// Hands each datagram the receiving socket reads to the announcer.
final class LSDReceiveHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let core: NIOLoopBound<LocalDiscoveryCore>

    init(core: NIOLoopBound<LocalDiscoveryCore>) {
        self.core = core
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        core.value.received(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A datagram socket reports errors per datagram (e.g. ICMP); it stays open.
        core.value.logger.debug("local discovery socket error", metadata: ["error": "\(error)"])
    }
}

@available(*, unavailable)
extension LSDReceiveHandler: Sendable {}
