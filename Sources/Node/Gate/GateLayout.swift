import Foundation
import SystemSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where a gated leech keeps what is not yet released: a 0700 staging directory per torrent, a quarantine for
/// refused files, and the append-only audit log. By default all three live in `.NAME.swtorrent-gate` beside the
/// output directory `NAME` (the same file system in the usual case, so a release is one rename).
public struct GateLayout: Sendable, Hashable {
    public var staging: String
    public var quarantine: String
    public var auditLog: String

    public init(staging: String, quarantine: String, auditLog: String) {
        self.staging = staging
        self.quarantine = quarantine
        self.auditLog = auditLog
    }

    /// The default layout for releasing into `output`, with any of the three paths overridden: staging
    /// `OUT/../.NAME.swtorrent-gate/staging/INFOHASH`, quarantine `…/quarantine`, audit log `…/audit.jsonl`. Creates
    /// the gate directory (mode 0700).
    ///
    /// - Throws: ``NodeError`` `.io` when `output` cannot be resolved or the gate directory cannot be created.
    public static func beside(
        output: String, infoHash: String, staging: String? = nil, quarantine: String? = nil, auditLog: String? = nil
    ) throws(NodeError) -> GateLayout {
        beside(
            gateDirectory: try gateDirectory(output: output), infoHash: infoHash, staging: staging,
            quarantine: quarantine, auditLog: auditLog)
    }

    /// The layout inside an existing gate directory (``gateDirectory(output:)``).
    static func beside(
        gateDirectory base: String, infoHash: String, staging: String? = nil, quarantine: String? = nil,
        auditLog: String? = nil
    ) -> GateLayout {
        GateLayout(
            staging: staging ?? base + "/staging/" + infoHash, quarantine: quarantine ?? base + "/quarantine",
            auditLog: auditLog ?? base + "/audit.jsonl")
    }

    /// `.NAME.swtorrent-gate` beside `output`, created with mode 0700.
    static func gateDirectory(output: String) throws(NodeError) -> String {
        guard let resolved = realpath(output, nil) else {
            throw NodeError(.io, "\(output): cannot resolve the output directory: \(ErrnoText.of())")
        }
        let path = String(cString: resolved)
        free(resolved)
        let parent = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let directory = (parent == "/" ? "" : parent) + "/." + (name == "/" ? "root" : name) + ".swtorrent-gate"
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw NodeError(.io, "\(directory): cannot create the gate directory: \(ErrnoText.of())")
        }
        return directory
    }
}
