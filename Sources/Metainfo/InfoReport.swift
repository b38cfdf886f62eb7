import SystemSupport

/// What `swtorrent info` shows about a `.torrent` file or a magnet link, as text for people or JSON for programs.
public struct InfoReport: Sendable {
    /// What was loaded.
    public enum Subject: Sendable {
        case torrent(Torrent)
        case magnet(MagnetLink)
    }

    /// The file name or link as given.
    public let source: String
    public let subject: Subject

    public init(source: String, subject: Subject) {
        self.source = source
        self.subject = subject
    }

    /// Loads `argument`: a magnet link if it starts with `magnet:` (any case), otherwise a `.torrent` file path.
    ///
    /// - Throws: ``MetainfoError`` with ``MetainfoError/source`` set to the file name (or `magnet link`).
    public init(argument: String) throws(MetainfoError) {
        source = argument
        if argument.utf8.count >= 7, argument.prefix(7).lowercased() == "magnet:" {
            subject = .magnet(try MagnetLink(parsing: argument))
        } else {
            subject = .torrent(try Torrent(contentsOfFile: argument))
        }
    }

    // MARK: - Text

    /// A human-readable report, one field a line, files and trackers indented below their heading.
    public func text() -> String {
        var lines: [String] = []
        func field(_ label: String, _ value: String) {
            lines.append((label + ":").padding(to: 15) + value)
        }
        switch subject {
        case .torrent(let torrent):
            field("Name", torrent.name)
            field("Info-hash v1", torrent.infoHash.hex)
            if let v2 = torrent.infoHashV2 { field("Info-hash v2", v2.hex + " (hybrid torrent)") }
            field("Piece length", "\(Self.size(Int64(torrent.pieceLength))) (\(torrent.pieceLength) bytes)")
            field("Pieces", "\(torrent.pieceCount)")
            field("Total size", "\(Self.size(torrent.totalLength)) (\(torrent.totalLength) bytes)")
            field("Private", torrent.isPrivate ? "yes" : "no")
            if let source = torrent.source { field("Source", source) }
            if let comment = torrent.comment { field("Comment", comment) }
            if let createdBy = torrent.createdBy { field("Created by", createdBy) }
            if let date = torrent.creationDate { field("Created on", "\(Self.isoDate(date)) (\(date))") }
            lines.append(contentsOf: Self.trackerLines(torrent.trackerTiers))
            if !torrent.webSeeds.isEmpty {
                lines.append("Web seeds:")
                lines.append(contentsOf: torrent.webSeeds.map { "  " + $0 })
            }
            lines.append("Files (\(torrent.files.count)):")
            let width = torrent.files.map { String($0.length).count }.max() ?? 1
            for file in torrent.files {
                var line = "  " + String(file.length).leftPadded(to: width) + "  " + file.path
                if file.isPadFile { line += "  [pad]" }
                if file.isExecutable { line += "  [executable]" }
                if let target = file.symlinkTarget { line += "  -> " + target.joined(separator: "/") }
                if file.wasSanitised { line += "  [sanitised]" }
                lines.append(line)
            }
            field("Magnet", torrent.magnetLink().uri)
        case .magnet(let magnet):
            if let name = magnet.displayName { field("Name", name) }
            if let v1 = magnet.infoHash { field("Info-hash v1", v1.hex) }
            if let v2 = magnet.infoHashV2 { field("Info-hash v2", v2.hex) }
            lines.append(contentsOf: Self.trackerLines(magnet.trackers.map { [$0] }))
            if !magnet.webSeeds.isEmpty {
                lines.append("Web seeds:")
                lines.append(contentsOf: magnet.webSeeds.map { "  " + $0 })
            }
            if !magnet.peers.isEmpty {
                lines.append("Peers:")
                lines.append(contentsOf: magnet.peers.map { "  " + $0 })
            }
            field("Magnet", magnet.uri)
        }
        return lines.joined(separator: "\n")
    }

    private static func trackerLines(_ tiers: [[String]]) -> [String] {
        guard !tiers.isEmpty else { return ["Trackers:      (none)"] }
        var lines = ["Trackers:"]
        for (index, tier) in tiers.enumerated() {
            for (position, url) in tier.enumerated() {
                let label = "  tier \(index + 1): "
                lines.append((position == 0 ? label : String(repeating: " ", count: label.count)) + url)
            }
        }
        return lines
    }

    /// `1.5 GiB`-style size with one decimal.
    static func size(_ bytes: Int64) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) bytes" }
        let tenths = Int((value * 10).rounded())
        return tenths % 10 == 0 ? "\(tenths / 10) \(units[unit])" : "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    /// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC); outside years 0...9999
    /// (a corrupt or hostile value) just the number.
    static func isoDate(_ seconds: Int64) -> String {
        guard seconds >= -62_167_219_200 && seconds <= 253_402_300_799 else { return "\(seconds) s after the epoch" }
        // Howard Hinnant's civil-from-days.
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondsOfDay = seconds - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(year)-\(two(month))-\(two(day))T\(two(secondsOfDay / 3600)):\(two(secondsOfDay % 3600 / 60))"
            + ":\(two(secondsOfDay % 60))Z"
    }

    // MARK: - JSON

    /// The report as one JSON object (keys in a fixed order; absent optional fields are `null`).
    public func json() -> String {
        var object = JSONObject()
        switch subject {
        case .torrent(let torrent):
            object.add("type", .string("torrent"))
            object.add("name", .string(torrent.name))
            object.add("infoHash", .string(torrent.infoHash.hex))
            object.add("infoHashV2", torrent.infoHashV2.map { .string($0.hex) } ?? .null)
            object.add("version", .string(torrent.version.rawValue))
            object.add("pieceLength", .number(Int64(torrent.pieceLength)))
            object.add("pieceCount", .number(Int64(torrent.pieceCount)))
            object.add("totalSize", .number(torrent.totalLength))
            object.add("private", .bool(torrent.isPrivate))
            object.add("source", torrent.source.map { .string($0) } ?? .null)
            object.add("comment", torrent.comment.map { .string($0) } ?? .null)
            object.add("createdBy", torrent.createdBy.map { .string($0) } ?? .null)
            object.add("creationDate", torrent.creationDate.map { .number($0) } ?? .null)
            object.add("trackers", .array(torrent.trackerTiers.map { .array($0.map { .string($0) }) }))
            object.add("webSeeds", .array(torrent.webSeeds.map { .string($0) }))
            object.add(
                "files",
                .array(
                    torrent.files.map { file in
                        var entry = JSONObject()
                        entry.add("path", .string(file.path))
                        entry.add("length", .number(file.length))
                        entry.add("offset", .number(file.offset))
                        entry.add("pad", .bool(file.isPadFile))
                        entry.add("executable", .bool(file.isExecutable))
                        entry.add("symlink", file.symlinkTarget.map { .string($0.joined(separator: "/")) } ?? .null)
                        entry.add("sanitised", .bool(file.wasSanitised))
                        return .object(entry)
                    }))
            object.add("magnet", .string(torrent.magnetLink().uri))
        case .magnet(let magnet):
            object.add("type", .string("magnet"))
            object.add("name", magnet.displayName.map { .string($0) } ?? .null)
            object.add("infoHash", magnet.infoHash.map { .string($0.hex) } ?? .null)
            object.add("infoHashV2", magnet.infoHashV2.map { .string($0.hex) } ?? .null)
            object.add("trackers", .array(magnet.trackers.map { .array([.string($0)]) }))
            object.add("webSeeds", .array(magnet.webSeeds.map { .string($0) }))
            object.add("peers", .array(magnet.peers.map { .string($0) }))
            object.add("magnet", .string(magnet.uri))
        }
        var out = ""
        JSONValue.object(object).write(to: &out, indent: 0)
        return out
    }
}

/// A minimal ordered JSON writer (so the output's key order is stable and readable).
struct JSONObject {
    var members: [(String, JSONValue)] = []
    mutating func add(_ key: String, _ value: JSONValue) { members.append((key, value)) }
}

indirect enum JSONValue {
    case string(String)
    case number(Int64)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object(JSONObject)

    var isScalar: Bool {
        switch self {
        case .array, .object: false
        default: true
        }
    }

    func write(to out: inout String, indent: Int) {
        let pad = String(repeating: "  ", count: indent + 1)
        let closePad = String(repeating: "  ", count: indent)
        switch self {
        case .string(let s): Self.writeString(s, to: &out)
        case .number(let n): out += String(n)
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        case .array(let values):
            if values.isEmpty {
                out += "[]"
                return
            }
            // Arrays of scalars stay on one line.
            if values.allSatisfy(\.isScalar) {
                out += "["
                for (index, value) in values.enumerated() {
                    if index > 0 { out += ", " }
                    value.write(to: &out, indent: indent + 1)
                }
                out += "]"
                return
            }
            out += "[\n"
            for (index, value) in values.enumerated() {
                out += pad
                value.write(to: &out, indent: indent + 1)
                out += index < values.count - 1 ? ",\n" : "\n"
            }
            out += closePad + "]"
        case .object(let object):
            if object.members.isEmpty {
                out += "{}"
                return
            }
            out += "{\n"
            for (index, (key, value)) in object.members.enumerated() {
                out += pad
                Self.writeString(key, to: &out)
                out += ": "
                value.write(to: &out, indent: indent + 1)
                out += index < object.members.count - 1 ? ",\n" : "\n"
            }
            out += closePad + "}"
        }
    }

    static func writeString(_ s: String, to out: inout String) {
        JSONString.append(s, to: &out)
    }
}

extension String {
    fileprivate func padding(to width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }

    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
