import Foundation

/// One L2 segment of network namespaces, as a rack's hosts on one switch: a bridge in a namespace of its own (the
/// switch, which has the segment's first address) and `members` namespaces (``NetworkNamespace``), each joined to
/// the bridge by a veth pair, at the next addresses of a /24 picked at random from 10.214.0.0/16 and not on any
/// interface of the host. Multicast sent by one member reaches every other one; nothing is in the host's own
/// namespace, so nothing the members send reaches the machine's interfaces.
///
/// `remove()` (also run by `deinit`) deletes the members and the switch, ignoring what is already gone. Stop every
/// process started in a member (by its pid, e.g. `BackgroundProcess.stop()`) before removing it. Needs what
/// ``NetworkNamespace`` needs, and the bridge driver; when they are missing, `init` throws
/// ``NetworkNamespace/Unavailable`` so a test can say clearly that it did not run.
public final class NetworkSegment {
    /// The switch namespace's name.
    public let name: String
    /// The members, in order: `members[i]` has the segment's address `i + 2`.
    public private(set) var members: [NetworkNamespace] = []
    private var removed = false

    public init(members count: Int) throws {
        precondition(count > 0 && count < 250)
        try NetworkNamespace.requireIP()
        name = "swtns-" + String(format: "%08x", UInt32.random(in: 0...UInt32.max)) + "-sw"
        let third = try NetworkNamespace.unusedThirdOctet("10.214")
        let bridge = "br0"
        let add = try TestProcess.run("ip", ["netns", "add", name], timeout: 10)
        guard add.exitCode == 0 else {
            removed = true
            throw NetworkNamespace.Unavailable(
                description: "`ip netns add` failed (needs root or CAP_NET_ADMIN): "
                    + add.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        // Without IGMP snooping the bridge floods multicast to every port, as an unmanaged switch does, whatever group
        // joins it has or has not seen yet.
        let made = try TestProcess.run("ip", ["-n", name, "link", "add", bridge, "type", "bridge", "mcast_snooping", "0"], timeout: 10)
        guard made.exitCode == 0 else {
            remove()
            throw NetworkNamespace.Unavailable(
                description: "cannot create a bridge: " + made.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let hostAddress = "10.214.\(third).1"
        for step in [
            ["-n", name, "addr", "add", "\(hostAddress)/24", "dev", bridge],
            ["-n", name, "link", "set", bridge, "up"],
        ] {
            let result = try TestProcess.run("ip", step, timeout: 10)
            guard result.exitCode == 0 else {
                remove()
                throw HarnessError("ip \(step.joined(separator: " ")) failed: \(result.stderr)")
            }
        }
        do {
            for index in 0..<count {
                members.append(
                    try NetworkNamespace(
                        hostAddress: hostAddress, namespaceAddress: "10.214.\(third).\(index + 2)", prefix: 24,
                        segment: (name, bridge)))
            }
        } catch {
            remove()
            throw error
        }
    }

    /// The names of every namespace the segment made (members and switch).
    public var namespaces: [String] { members.map(\.name) + [name] }

    /// Deletes the members (their veth pairs go with them) and the switch. Safe to call more than once.
    public func remove() {
        guard !removed else { return }
        removed = true
        for member in members { member.remove() }
        _ = try? TestProcess.run("ip", ["netns", "del", name], timeout: 10)
    }

    deinit { remove() }
}
