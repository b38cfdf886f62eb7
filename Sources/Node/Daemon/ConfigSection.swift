import Engine
import Foundation
import Yams

/// One mapping of the daemon's config file, read key by key: each accessor checks the value's type and range and
/// throws a ``NodeError`` `.configuration` that names the file, the line, the dotted key and the fix.
struct ConfigSection {
    /// The dotted key of this mapping (nil at the top).
    let name: String?
    let file: String
    /// The directory relative paths are resolved against.
    let base: String
    let line: Int?
    private let entries: [(key: String, value: Node, line: Int?)]

    init(_ node: Node, name: String?, file: String, base: String) throws(NodeError) {
        self.name = name
        self.file = file
        self.base = base
        self.line = node.mark?.line
        guard case .mapping(let mapping) = node else {
            let what = name.map { "'\($0)'" } ?? "the file"
            throw NodeError(
                .configuration,
                "\(Self.location(file, node.mark?.line)): \(what) must be a mapping of keys to values (key: value lines)")
        }
        // Yams refuses a key given twice in one mapping (see DaemonConfiguration.parse).
        var entries: [(key: String, value: Node, line: Int?)] = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                throw NodeError(
                    .configuration, "\(Self.location(file, key.mark?.line)): a key must be a plain word, not a list or mapping")
            }
            entries.append((scalar.string, value, key.mark?.line))
        }
        self.entries = entries
    }

    static func location(_ file: String, _ line: Int?) -> String {
        line.map { "\(file):\($0)" } ?? file
    }

    func dotted(_ key: String) -> String { name.map { "\($0).\(key)" } ?? key }

    private func entry(_ key: String) -> (value: Node, line: Int?)? {
        entries.first { $0.key == key }.map { ($0.value, $0.line) }
    }

    /// An error about `key`'s value.
    func error(_ key: String, line: Int?, _ problem: String) -> NodeError {
        NodeError(.configuration, "\(Self.location(file, line)): \(dotted(key)): \(problem)")
    }

    /// The error for a required key that is absent.
    func missing(_ key: String, fix: String) -> NodeError {
        let place = name.map { "the \($0) section" } ?? "the file"
        return NodeError(.configuration, "\(Self.location(file, line)): \(dotted(key)) is missing from \(place); \(fix)")
    }

    /// Refuses any key not in `known`, suggesting the nearest known key.
    func allow(_ known: [String]) throws(NodeError) {
        for entry in entries where !known.contains(entry.key) {
            let near = known.min { Self.distance($0, entry.key) < Self.distance($1, entry.key) }
            let fix =
                if let near, Self.distance(near, entry.key) <= 2 {
                    "did you mean \(dotted(near))?"
                } else {
                    "known keys here: \(known.joined(separator: ", "))"
                }
            throw NodeError(
                .configuration, "\(Self.location(file, entry.line)): \(dotted(entry.key)) is not a known key; \(fix)")
        }
    }

    /// The nested mapping under `key`.
    func section(_ key: String) throws(NodeError) -> ConfigSection? {
        guard let (value, _) = entry(key) else { return nil }
        return try ConfigSection(value, name: dotted(key), file: file, base: base)
    }

    /// A scalar's text; nil when the key is absent.
    func scalar(_ key: String, expecting: String) throws(NodeError) -> (text: String, line: Int?)? {
        guard let (value, line) = entry(key) else { return nil }
        guard case .scalar(let scalar) = value else {
            throw error(key, line: line, "must be \(expecting), not a list or mapping")
        }
        guard value.null == nil else {
            throw error(key, line: line, "has no value; give \(expecting) or remove the key")
        }
        return (scalar.string, line)
    }

    func bool(_ key: String) throws(NodeError) -> Bool? {
        guard let (text, line) = try scalar(key, expecting: "true or false") else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error(key, line: line, "'\(text)' is not true or false")
        }
    }

    func integer(_ key: String, in range: ClosedRange<Int>) throws(NodeError) -> Int? {
        guard let (text, line) = try scalar(key, expecting: "a whole number") else { return nil }
        guard let value = Int(text) else { throw error(key, line: line, "'\(text)' is not a whole number") }
        guard range.contains(value) else {
            throw error(key, line: line, "\(value) is out of range; use \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    func choice(_ key: String, _ choices: [String]) throws(NodeError) -> String? {
        let expecting = "one of \(choices.joined(separator: ", "))"
        guard let (text, line) = try scalar(key, expecting: expecting) else { return nil }
        guard choices.contains(text) else { throw error(key, line: line, "'\(text)' is not \(expecting)") }
        return text
    }

    /// A path, resolved against the config file's directory when relative.
    func path(_ key: String) throws(NodeError) -> String? {
        guard let (text, _) = try scalar(key, expecting: "a path") else { return nil }
        return resolve(text)
    }

    private func resolve(_ text: String) -> String {
        let joined = text.hasPrefix("/") ? text : (base.isEmpty ? text : "\(base)/\(text)")
        return (joined as NSString).standardizingPath
    }

    /// Networks (`ADDRESS/LENGTH` or one address) given as one value or as a list; none when the key is absent.
    func networks(_ key: String) throws(NodeError) -> [CIDR] {
        var result: [CIDR] = []
        for text in try strings(key) ?? [] {
            do {
                result.append(try CIDR(parsing: text))
            } catch {
                throw self.error(key, line: entry(key)?.1 ?? line, "\(error.context)")
            }
        }
        return result
    }

    /// Strings given as one value or as a list.
    func strings(_ key: String) throws(NodeError) -> [String]? {
        guard let (value, line) = entry(key) else { return nil }
        let items: [Node]
        switch value {
        case .scalar: items = [value]
        case .sequence(let sequence): items = Array(sequence)
        default: throw error(key, line: line, "must be a value or a list of values ([a, b] or '- a' lines)")
        }
        var result: [String] = []
        for item in items {
            guard case .scalar(let scalar) = item, !scalar.string.isEmpty else {
                throw error(key, line: item.mark?.line ?? line, "every entry must be a non-empty plain value")
            }
            result.append(scalar.string)
        }
        return result
    }

    /// Paths given as one value or as a list, each resolved as ``path(_:)`` does.
    func paths(_ key: String) throws(NodeError) -> [String]? {
        try strings(key).map { $0.map(resolve) }
    }

    /// `HOST:PORT` or `[IPV6]:PORT`.
    func address(_ key: String) throws(NodeError) -> PeerAddress? {
        guard let (text, line) = try scalar(key, expecting: "HOST:PORT") else { return nil }
        do {
            return try PeerAddress(parsing: text)
        } catch {
            throw self.error(
                key, line: line, "'\(text)' is not HOST:PORT with a port 1-65535; write e.g. 0.0.0.0:6881 or [::]:6881")
        }
    }

    /// Bytes per second: `unlimited` (nil), a number of bytes, or a number with a unit (`K`/`KB` 1000, `KiB` 1024,
    /// likewise `M`, `G`), with or without `/s`. At least 16 KiB/s (one block).
    func rate(_ key: String) throws(NodeError) -> Int?? {
        guard let (text, line) = try scalar(key, expecting: "a rate such as 10MiB or unlimited") else { return nil }
        if text.lowercased() == "unlimited" { return .some(nil) }
        guard let value = Self.parseRate(text) else {
            throw error(key, line: line, "'\(text)' is not a rate; write bytes per second such as 10MiB, 500KB or unlimited")
        }
        guard value >= 16 << 10 else {
            throw error(key, line: line, "\(text) is below 16 KiB/s (one block per second); raise it or use unlimited")
        }
        return .some(value)
    }

    static func parseRate(_ text: String) -> Int? {
        var body = text.trimmingCharacters(in: .whitespaces)
        if body.lowercased().hasSuffix("/s") { body.removeLast(2) }
        let digits = body.prefix { $0.isNumber || $0 == "." }
        let unit = body.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        guard let number = Double(digits), number >= 0 else { return nil }
        let multipliers: [String: Double] = [
            "": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 1024, "m": 1e6, "mb": 1e6, "mib": 1_048_576, "g": 1e9, "gb": 1e9,
            "gib": 1_073_741_824,
        ]
        guard let multiplier = multipliers[unit] else { return nil }
        let bytes = number * multiplier
        guard bytes < Double(Int.max) else { return nil }
        return Int(bytes)
    }

    /// A duration: `500ms`, `10s`, `5m`, `1h`, or a number of seconds.
    func duration(_ key: String, in range: ClosedRange<Duration>) throws(NodeError) -> Duration? {
        guard let (text, line) = try scalar(key, expecting: "a duration such as 10s") else { return nil }
        guard let value = Self.parseDuration(text) else {
            throw error(key, line: line, "'\(text)' is not a duration; write e.g. 500ms, 10s, 5m or 1h")
        }
        guard range.contains(value) else {
            throw error(key, line: line, "\(text) is out of range; use \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    static func parseDuration(_ text: String) -> Duration? {
        let body = text.trimmingCharacters(in: .whitespaces)
        let digits = body.prefix { $0.isNumber || $0 == "." }
        let unit = body.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        guard let number = Double(digits), number >= 0, number < 1e9 else { return nil }
        let milliseconds: Double
        switch unit {
        case "ms": milliseconds = number
        case "", "s": milliseconds = number * 1000
        case "m", "min": milliseconds = number * 60_000
        case "h": milliseconds = number * 3_600_000
        default: return nil
        }
        return .milliseconds(Int64(milliseconds))
    }

    /// Edit distance between two short keys (for "did you mean").
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
