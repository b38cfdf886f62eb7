import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A network namespace joined to the host by a veth pair, for interop tests that need a client at an address other
/// than 127.x (transmission-cli 3.00 ignores tracker-supplied peers at loopback addresses).
///
/// Every name is unique per instance (`swt` + 8 random hex digits), the link is a /30 picked at random from
/// 10.213.0.0/16 and not already on any interface of the host, and `remove()` (also run by `deinit`) deletes the
/// veth pair and the namespace, ignoring what is already gone. Stop every process started in the namespace (by its
/// pid, e.g. `BackgroundProcess.stop()`) before removing it. Needs root or CAP_NET_ADMIN and iproute2's `ip`; when
/// they are missing, `init` throws ``Unavailable`` so a test can say clearly that it did not run.
public final class NetworkNamespace {
    /// Why a namespace could not be made here (not root, no CAP_NET_ADMIN, no veth driver, no `ip`).
    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    /// The namespace's name (`ip netns exec NAME …`).
    public let name: String
    /// The other end of the veth pair: in the host's namespace, or on a ``NetworkSegment``'s bridge.
    public let hostInterface: String
    /// The host end's address (on a segment, the bridge's): servers the namespace must reach listen here (or on
    /// 0.0.0.0).
    public let hostAddress: String
    /// The namespace end's address.
    public let namespaceAddress: String
    /// The namespace end of the veth pair (its interface name inside the namespace).
    public let namespaceInterface: String
    /// The namespace the host end is in (a segment's switch), nil for the host's own.
    let hostNamespace: String?
    private var removed = false

    /// Creates the namespace and the veth pair and brings both ends (and the namespace's loopback) up.
    public convenience init() throws {
        try Self.requireIP()
        let third = try Self.unusedThirdOctet("10.213")
        let base = Int.random(in: 0...63) * 4
        try self.init(
            hostAddress: "10.213.\(third).\(base + 1)", namespaceAddress: "10.213.\(third).\(base + 2)", prefix: 30,
            segment: nil)
    }

    /// The namespace with a veth pair whose other end is in the host's namespace with `hostAddress` (`segment`:
    /// nil), or on the bridge of a segment's switch namespace, which has `hostAddress` itself.
    init(hostAddress: String, namespaceAddress: String, prefix: Int, segment: (namespace: String, bridge: String)?)
        throws
    {
        let tag = String(format: "%08x", UInt32.random(in: 0...UInt32.max))
        name = "swtns-\(tag)"
        hostInterface = "swth\(tag)"
        namespaceInterface = "swtn\(tag)"
        hostNamespace = segment?.namespace
        self.hostAddress = hostAddress
        self.namespaceAddress = namespaceAddress

        // Creating the namespace or the veth pair fails where the environment forbids it (not root, no
        // CAP_NET_ADMIN, no veth driver in a sandbox): that is "cannot run here", not a test failure.
        let add = try TestProcess.run("ip", ["netns", "add", name], timeout: 10)
        guard add.exitCode == 0 else {
            removed = true
            throw Unavailable(
                description: "`ip netns add` failed (needs root or CAP_NET_ADMIN; uid \(geteuid())): "
                    + add.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let host = hostNamespace.map { ["-n", $0] } ?? []
        let veth = try TestProcess.run(
            "ip",
            host + ["link", "add", hostInterface, "type", "veth", "peer", "name", namespaceInterface, "netns", name],
            timeout: 10)
        guard veth.exitCode == 0 else {
            remove()
            throw Unavailable(
                description: "cannot create a veth pair: "
                    + veth.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let hostEnd: [[String]] =
            if let segment {
                [host + ["link", "set", hostInterface, "master", segment.bridge, "up"]]
            } else {
                [["addr", "add", "\(hostAddress)/\(prefix)", "dev", hostInterface], ["link", "set", hostInterface, "up"]]
            }
        let steps =
            hostEnd + [
                ["-n", name, "addr", "add", "\(namespaceAddress)/\(prefix)", "dev", namespaceInterface],
                ["-n", name, "link", "set", namespaceInterface, "up"],
                ["-n", name, "link", "set", "lo", "up"],
            ]
        for step in steps {
            let result = try TestProcess.run("ip", step, timeout: 10)
            guard result.exitCode == 0 else {
                remove()
                throw HarnessError("ip \(step.joined(separator: " ")) failed: \(result.stderr)")
            }
        }
    }

    /// Throws ``Unavailable`` when iproute2's `ip` is missing.
    static func requireIP() throws {
        guard (try? TestProcess.resolve("ip")) != nil else {
            throw Unavailable(description: "iproute2's `ip` is not installed (scripts/install-deps.sh installs it)")
        }
    }

    /// A third octet N such that no interface of the host has an address in `prefix`.N.0/24 (`prefix`: two octets).
    static func unusedThirdOctet(_ prefix: String) throws -> Int {
        let used = (try? TestProcess.run("ip", ["-4", "-o", "addr", "show"], timeout: 10).stdout) ?? ""
        for _ in 0..<64 {
            let candidate = Int.random(in: 0...255)
            if !used.contains("\(prefix).\(candidate).") { return candidate }
        }
        throw HarnessError("no free /24 in \(prefix).0.0/16 on this host")
    }

    /// `executable arguments…` run inside the namespace: the arguments for `ip`. `ip netns exec` execs the
    /// program in place, so the process's pid is the program's pid.
    public func command(_ executable: String, _ arguments: [String]) throws -> [String] {
        ["netns", "exec", name, try TestProcess.resolve(executable).path] + arguments
    }

    /// Deletes the veth pair (both ends go with either) and the namespace. Safe to call more than once.
    public func remove() {
        guard !removed else { return }
        removed = true
        let host = hostNamespace.map { ["-n", $0] } ?? []
        _ = try? TestProcess.run("ip", host + ["link", "del", hostInterface], timeout: 10)
        _ = try? TestProcess.run("ip", ["netns", "del", name], timeout: 10)
    }

    /// Whether the namespace still exists (for tests that check the cleanup).
    public static func exists(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: "/run/netns/\(name)")
    }

    deinit { remove() }
}
