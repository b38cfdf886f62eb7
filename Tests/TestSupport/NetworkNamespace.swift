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
    /// The host end of the veth pair.
    public let hostInterface: String
    /// The host end's address: servers the namespace must reach listen here (or on 0.0.0.0).
    public let hostAddress: String
    /// The namespace end's address.
    public let namespaceAddress: String
    /// The namespace end of the veth pair (its interface name inside the namespace).
    public let namespaceInterface: String
    private var removed = false

    /// Creates the namespace and the veth pair and brings both ends (and the namespace's loopback) up.
    public init() throws {
        guard (try? TestProcess.resolve("ip")) != nil else {
            throw Unavailable(description: "iproute2's `ip` is not installed (scripts/install-deps.sh installs it)")
        }
        let tag = String(format: "%08x", UInt32.random(in: 0...UInt32.max))
        name = "swtns-\(tag)"
        hostInterface = "swth\(tag)"
        let peerInterface = "swtn\(tag)"
        namespaceInterface = peerInterface
        let used = (try? TestProcess.run("ip", ["-4", "-o", "addr", "show"], timeout: 10).stdout) ?? ""
        var subnet: (Int, Int)?
        for _ in 0..<64 {
            let candidate = (Int.random(in: 0...255), Int.random(in: 0...63) * 4)
            if !used.contains("10.213.\(candidate.0).") {
                subnet = candidate
                break
            }
        }
        guard let (third, base) = subnet else { throw HarnessError("no free /30 in 10.213.0.0/16 on this host") }
        hostAddress = "10.213.\(third).\(base + 1)"
        namespaceAddress = "10.213.\(third).\(base + 2)"

        // Creating the namespace or the veth pair fails where the environment forbids it (not root, no
        // CAP_NET_ADMIN, no veth driver in a sandbox): that is "cannot run here", not a test failure.
        let add = try TestProcess.run("ip", ["netns", "add", name], timeout: 10)
        guard add.exitCode == 0 else {
            removed = true
            throw Unavailable(
                description: "`ip netns add` failed (needs root or CAP_NET_ADMIN; uid \(geteuid())): "
                    + add.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let veth = try TestProcess.run(
            "ip", ["link", "add", hostInterface, "type", "veth", "peer", "name", peerInterface, "netns", name],
            timeout: 10)
        guard veth.exitCode == 0 else {
            remove()
            throw Unavailable(
                description: "cannot create a veth pair: "
                    + veth.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let steps: [[String]] = [
            ["addr", "add", "\(hostAddress)/30", "dev", hostInterface],
            ["link", "set", hostInterface, "up"],
            ["-n", name, "addr", "add", "\(namespaceAddress)/30", "dev", peerInterface],
            ["-n", name, "link", "set", peerInterface, "up"],
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

    /// `executable arguments…` run inside the namespace: the arguments for `ip`. `ip netns exec` execs the
    /// program in place, so the process's pid is the program's pid.
    public func command(_ executable: String, _ arguments: [String]) throws -> [String] {
        ["netns", "exec", name, try TestProcess.resolve(executable).path] + arguments
    }

    /// Deletes the veth pair (both ends go with either) and the namespace. Safe to call more than once.
    public func remove() {
        guard !removed else { return }
        removed = true
        _ = try? TestProcess.run("ip", ["link", "del", hostInterface], timeout: 10)
        _ = try? TestProcess.run("ip", ["netns", "del", name], timeout: 10)
    }

    /// Whether the namespace still exists (for tests that check the cleanup).
    public static func exists(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: "/run/netns/\(name)")
    }

    deinit { remove() }
}
