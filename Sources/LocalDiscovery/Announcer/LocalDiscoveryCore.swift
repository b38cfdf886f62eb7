import Logging
import NIOCore
import NIOPosix
import SwarmPrimitives

#if canImport(Glibc)
    import Glibc
#endif

/// The announcer on its loop: the sockets, the schedule, the inbound filter and the counters.
final class LocalDiscoveryCore {
    /// One interface discovery runs on: its index, IPv4 address and subnet, and its sending socket.
    struct Link {
        var name: String
        var index: Int
        var address: [UInt8]
        var prefixLength: Int
        var device: NIONetworkDevice
        var sender: (any Channel)?
    }

    private enum State {
        case idle
        case starting(EventLoopFuture<Void>)
        case running(receiver: any Channel)
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
            links = try Self.resolve(configuration.interfaces)
        } catch {
            return loop.makeFailedFuture(error)
        }
        // The state says "starting" before the first socket call: a step may complete at once, on this loop.
        let promise = loop.makePromise(of: Void.self)
        state = .starting(promise.futureResult)
        openReceiver().assumeIsolated().flatMap { receiver in
            self.openSenders().map { receiver }
        }.flatMapThrowing { receiver -> Void in
            guard case .starting = self.state else {
                receiver.close(promise: nil)
                self.closeSenders()
                throw LocalDiscoveryError(.socketFailed, "local discovery was shut down while starting")
            }
            self.state = .running(receiver: receiver)
            self.tick()
            self.logger.info(
                "local discovery running",
                metadata: ["interfaces": "\(self.links.map(\.name))", "port": "\(listenPort)"])
        }.flatMapErrorThrowing { error in
            if case .starting = self.state { self.state = .idle }
            self.closeSenders()
            if let error = error as? LocalDiscoveryError { throw error }
            throw LocalDiscoveryError(
                .socketFailed,
                "multicast on \(self.configuration.interfaces) port \(self.configuration.groupPort): \(error)")
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
        case .running(let receiver):
            return receiver.close().recover { _ in }
        case .starting(let future):
            return future.recover { _ in }
        case .idle, .stopped:
            return loop.makeSucceededVoidFuture()
        }
    }

    private func closeSenders() {
        for index in links.indices {
            links[index].sender?.close(promise: nil)
            links[index].sender = nil
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
        let datagrams: [[UInt8]]
        do {
            datagrams = try LSDAnnouncement(port: listenPort, infoHashes: due, cookie: cookie).encode(family: .ipv4)
        } catch {
            logger.error("cannot encode an announcement", metadata: ["error": "\(error)"])
            return
        }
        guard let group = try? SocketAddress(ipAddress: LSDLimits.ipv4Group, port: configuration.groupPort) else {
            return
        }
        for link in links {
            guard let sender = link.sender else { continue }
            let name = link.name
            for datagram in datagrams {
                let envelope = AddressedEnvelope(remoteAddress: group, data: sender.allocator.buffer(bytes: datagram))
                sender.writeAndFlush(envelope).whenFailure { [logger] error in
                    logger.debug("announcement not sent", metadata: ["interface": "\(name)", "error": "\(error)"])
                }
                counters.sent += 1
            }
        }
        logger.debug("announced", metadata: ["torrents": "\(due.count)", "datagrams": "\(datagrams.count)"])
    }

    // MARK: - Receiving

    func received(_ envelope: AddressedEnvelope<ByteBuffer>) {
        guard case .running = state else { return }
        let info = envelope.metadata?.packetInfo
        let link = info.flatMap { info in links.first { $0.index == info.interfaceIndex } }
        let source = Self.addressBytes(envelope.remoteAddress) ?? []
        guard
            let announcement = filter.accept(
                envelope.data.readableBytesView, from: source,
                subnet: link.map { ($0.address, $0.prefixLength) }, now: now,
                toGroup: info?.destinationAddress.ipAddress == LSDLimits.ipv4Group),
            let host = envelope.remoteAddress.ipAddress
        else { return }
        for hash in announcement.infoHashes where schedule.contains(hash) {
            counters.peersReported += 1
            onPeer?(LocalPeer(infoHash: hash, host: host, port: announcement.port))
        }
    }

    // MARK: - Sockets

    /// One socket on the group's port, on every address, joined to the group on each link, reporting the interface
    /// each datagram arrived on.
    private func openReceiver() -> EventLoopFuture<any Channel> {
        let core = NIOLoopBound(self, eventLoop: loop)
        let group: SocketAddress
        do {
            group = try SocketAddress(ipAddress: LSDLimits.ipv4Group, port: configuration.groupPort)
        } catch {
            return loop.makeFailedFuture(error)
        }
        let devices = links.map(\.device)
        return DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.receivePacketInfo, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(LSDReceiveHandler(core: core))
                }
            }
            .bind(host: "0.0.0.0", port: configuration.groupPort)
            .flatMap { channel -> EventLoopFuture<any Channel> in
                guard let multicast = channel as? any MulticastChannel else {
                    channel.close(promise: nil)
                    return channel.eventLoop.makeFailedFuture(
                        LocalDiscoveryError(.socketFailed, "the datagram channel cannot join multicast groups"))
                }
                let joins = devices.map { multicast.joinGroup(group, device: $0) }
                return EventLoopFuture.andAllSucceed(joins, on: channel.eventLoop).map { channel }.flatMapError {
                    error in
                    channel.close(promise: nil)
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
    }

    /// Per link a socket bound to the link's address, sending through it, with the TTL and loop setting.
    private func openSenders() -> EventLoopFuture<Void> {
        let ttl = configuration.timeToLive
        let loopback: UInt8 = configuration.multicastLoop ? 1 : 0
        let opened = links.enumerated().map { index, link -> EventLoopFuture<Void> in
            let host = IPAddressText.ipv4(link.address)
            let interface = Self.inAddr(link.address)
            return DatagramBootstrap(group: loop).bind(host: host, port: 0).flatMap {
                channel -> EventLoopFuture<any Channel> in
                // A NIOPosix datagram channel is its own socket-option provider.
                guard let provider = channel as? any SocketOptionProvider else {
                    channel.close(promise: nil)
                    return channel.eventLoop.makeFailedFuture(
                        LocalDiscoveryError(.socketFailed, "the datagram channel has no socket options"))
                }
                return provider.setIPMulticastIF(interface)
                    .flatMap { provider.setIPMulticastTTL(ttl) }
                    .flatMap { provider.setIPMulticastLoop(loopback) }
                    .map { channel }.flatMapError { error in
                    channel.close(promise: nil)
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }.assumeIsolated().map { channel in
                if case .starting = self.state {
                    self.links[index].sender = channel
                } else {
                    channel.close(promise: nil)
                }
            }.nonisolated()
        }
        return EventLoopFuture.andAllSucceed(opened, on: loop)
    }

    /// The links for the named interfaces: each must exist, be up and have an IPv4 address and netmask.
    static func resolve(_ names: [String]) throws(LocalDiscoveryError) -> [Link] {
        guard !names.isEmpty else {
            throw LocalDiscoveryError(.unknownInterface, "no interface given: name the interfaces to discover peers on")
        }
        let devices: [NIONetworkDevice]
        do {
            devices = try System.enumerateDevices()
        } catch {
            throw LocalDiscoveryError(.unknownInterface, "cannot list the network interfaces: \(error)")
        }
        var links: [Link] = []
        for name in names {
            let candidates = devices.filter { $0.name == name }
            guard
                let device = candidates.first(where: {
                    if case .v4? = $0.address { return true } else { return false }
                }),
                let address = device.address.flatMap(Self.addressBytes), let netmask = device.netmask.flatMap(Self.addressBytes)
            else {
                let known = Set(devices.map(\.name)).sorted().joined(separator: ", ")
                throw LocalDiscoveryError(
                    .unknownInterface,
                    "interface '\(name)' does not exist or has no IPv4 address; choose one of: \(known)")
            }
            let prefix = netmask.reduce(0) { $0 + $1.nonzeroBitCount }
            links.append(
                Link(name: name, index: device.interfaceIndex, address: address, prefixLength: prefix, device: device))
        }
        return links
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
