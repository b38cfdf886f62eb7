import SwarmPrimitives

/// A magnet link (BEP 9): the info-hash of a torrent plus hints for finding its metadata and peers.
///
/// Parsing follows what BitTorrent clients do (libtorrent is the reference): parameter names are matched
/// case-insensitively, values are percent-decoded as bytes, unknown parameters are kept but not interpreted, and
/// malformed trackers, web seeds and peer addresses are dropped rather than failing the whole link. A link must
/// carry a BitTorrent info-hash: `xt=urn:btih:` (40 hex digits or 32 base32 characters) and/or `xt=urn:btmh:`
/// (multihash `1220` + 64 hex digits, SHA-256). See `Docs/metainfo.md`.
public struct MagnetLink: Sendable, Hashable {
    /// A parameter this type does not interpret, after percent-decoding; the name is lower-cased.
    public struct Parameter: Sendable, Hashable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The v1 info-hash (`xt=urn:btih:`), if the link has one.
    public var infoHash: InfoHash?
    /// The v2 info-hash (`xt=urn:btmh:1220...`), if the link has one.
    public var infoHashV2: InfoHashV2?
    /// `dn`: the suggested name.
    public var displayName: String?
    /// `tr` and `tr.N`: tracker URLs (http, https or udp) in the order given, without duplicates.
    public var trackers: [String]
    /// `ws` (BEP 19 web seeds) and `as` (acceptable source) URLs, http or https, without duplicates.
    public var webSeeds: [String]
    /// `x.pe`: peer addresses as `host:port` or `[v6]:port`, without duplicates.
    public var peers: [String]
    /// `so` (BEP 53 select-only): the selected file indices as sorted, merged, non-overlapping ranges.
    public var selectedFiles: [ClosedRange<Int>]
    /// Everything else (`xl`, `kt`, `dht`, `xs`, other `xt` URNs, unknown names), in order.
    public var otherParameters: [Parameter]

    /// The largest magnet link accepted, in bytes.
    public static let maximumLength = 1 << 20
    /// File indices in `so` at or above this are ignored (no torrent has a million files; it bounds memory).
    public static let selectOnlyIndexLimit = 1 << 20

    /// Creates a magnet link. At least one of `infoHash` and `infoHashV2` should be set for ``uri`` to be usable.
    public init(
        infoHash: InfoHash?,
        infoHashV2: InfoHashV2? = nil,
        displayName: String? = nil,
        trackers: [String] = [],
        webSeeds: [String] = [],
        peers: [String] = [],
        selectedFiles: [ClosedRange<Int>] = []
    ) {
        self.infoHash = infoHash
        self.infoHashV2 = infoHashV2
        self.displayName = displayName
        self.trackers = trackers
        self.webSeeds = webSeeds
        self.peers = peers
        self.selectedFiles = selectedFiles
        self.otherParameters = []
    }

    /// The link as a `magnet:?` URI: `xt` (v1 then v2), `dn`, `tr`, `ws`, `x.pe`, `so`, each value
    /// percent-encoded (everything but RFC 3986 unreserved characters; a space in `dn` becomes `+`).
    /// ``otherParameters`` are not written.
    public var uri: String {
        var parts: [String] = []
        if let infoHash { parts.append("xt=urn:btih:" + infoHash.hex) }
        if let infoHashV2 { parts.append("xt=urn:btmh:" + infoHashV2.multihashHex) }
        if let displayName { parts.append("dn=" + Self.percentEncode(displayName, spaceAsPlus: true)) }
        for tracker in trackers { parts.append("tr=" + Self.percentEncode(tracker)) }
        for seed in webSeeds { parts.append("ws=" + Self.percentEncode(seed)) }
        for peer in peers { parts.append("x.pe=" + Self.percentEncode(peer)) }
        if !selectedFiles.isEmpty {
            let ranges = selectedFiles.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
            parts.append("so=" + ranges.joined(separator: ","))
        }
        return "magnet:?" + parts.joined(separator: "&")
    }
}

extension MagnetLink {
    /// Whether `text` starts with the `magnet:` scheme (any case): what a command taking a torrent path or a magnet
    /// link tells them apart by.
    public static func isMagnet(_ text: String) -> Bool {
        text.utf8.prefix(7).map(lowercased).elementsEqual("magnet:".utf8)
    }

    /// Parses a magnet link. A bare info-hash (40 hex digits or 32 base32 characters) is accepted as well, as
    /// Transmission does.
    ///
    /// - Throws: ``MetainfoError`` with ``MetainfoError/Code/invalidMagnetLink`` (not a magnet link, bad percent
    ///   escape, too long), ``MetainfoError/Code/invalidInfoHash`` (an `xt` BitTorrent hash of the wrong length or
    ///   alphabet, or two different ones) or ``MetainfoError/Code/missingInfoHash`` (no BitTorrent `xt`).
    public init(parsing text: String) throws(MetainfoError) {
        let bytes = Array(text.utf8)
        guard bytes.count <= Self.maximumLength else {
            throw MetainfoError(
                .tooLarge, "magnet link is \(bytes.count) bytes; the limit is \(Self.maximumLength)")
        }
        self.init(infoHash: nil)

        let scheme = Array("magnet:".utf8)
        guard bytes.count >= scheme.count, bytes[0..<scheme.count].map(Self.lowercased).elementsEqual(scheme) else {
            if let hash = InfoHash(hex: text) ?? InfoHash(base32: text) {
                infoHash = hash
                return
            }
            throw MetainfoError(
                .invalidMagnetLink,
                "not a magnet link: expected magnet:?xt=urn:btih:<info-hash> (or a bare 40-digit hex info-hash)")
        }
        var rest = bytes[scheme.count...]
        // `magnet:?`, and the `magnet://?` / `magnet:///?` forms with an empty authority.
        var slashes = 0
        while rest.first == UInt8(ascii: "/") && slashes < 3 {
            rest = rest.dropFirst()
            slashes += 1
        }
        if let first = rest.first {
            guard first == UInt8(ascii: "?") else {
                throw MetainfoError(.invalidMagnetLink, "magnet link has no '?' before its parameters")
            }
            rest = rest.dropFirst()
        }

        var selected: [ClosedRange<Int>] = []
        // Sets keep de-duplication linear: a 1 MiB link can hold tens of thousands of parameters.
        var seenTrackers: Set<String> = []
        var seenWebSeeds: Set<String> = []
        var seenPeers: Set<String> = []
        for field in rest.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            guard let equals = field.firstIndex(of: UInt8(ascii: "=")) else { continue }
            guard let nameBytes = Self.percentDecode(field[field.startIndex..<equals], plusAsSpace: false) else {
                continue
            }
            let name = String(decoding: nameBytes.map(Self.lowercased), as: UTF8.self)
            guard !name.isEmpty else { continue }
            let rawValue = field[(equals + 1)...]
            guard let valueBytes = Self.percentDecode(rawValue, plusAsSpace: name == "dn") else {
                throw MetainfoError(
                    .invalidMagnetLink,
                    "magnet link parameter '\(name)' has an invalid percent escape (use %XX with two hex digits)")
            }
            let value = String(decoding: valueBytes, as: UTF8.self)
            switch name {
            case "xt":
                try takeExactTopic(value)
            case "dn":
                displayName = value
            case "tr":
                addTracker(valueBytes, seen: &seenTrackers)
            case _ where name.hasPrefix("tr.") && name.count > 3 && name.dropFirst(3).allSatisfy(\.isASCIIDigit):
                addTracker(valueBytes, seen: &seenTrackers)
            case "ws", "as":
                if Self.isURL(valueBytes, schemes: ["http", "https"]) && seenWebSeeds.insert(value).inserted {
                    webSeeds.append(value)
                }
            case "x.pe":
                if Self.isPeerAddress(valueBytes) && seenPeers.insert(value).inserted { peers.append(value) }
            case "so":
                selected.append(contentsOf: Self.parseSelectOnly(valueBytes))
            default:
                otherParameters.append(Parameter(name: name, value: value))
            }
        }
        selectedFiles = Self.merge(selected)
        guard infoHash != nil || infoHashV2 != nil else {
            throw MetainfoError(
                .missingInfoHash,
                "magnet link has no BitTorrent info-hash: add xt=urn:btih:<40 hex digits> or xt=urn:btmh:1220<64 hex>")
        }
    }

    private mutating func takeExactTopic(_ value: String) throws(MetainfoError) {
        let lower = value.lowercased()
        if lower.hasPrefix("urn:btih:") {
            let hashText = value.dropFirst("urn:btih:".count)
            guard let hash = InfoHash(hex: hashText) ?? InfoHash(base32: hashText) else {
                throw MetainfoError(
                    .invalidInfoHash,
                    "magnet link xt=urn:btih:\(hashText.prefix(80)) is not an info-hash "
                        + "(expected 40 hex digits or 32 base32 characters)")
            }
            if let infoHash, infoHash != hash {
                throw MetainfoError(
                    .invalidInfoHash, "magnet link has two different v1 info-hashes: \(infoHash) and \(hash)")
            }
            infoHash = hash
        } else if lower.hasPrefix("urn:btmh:") {
            let hashText = value.dropFirst("urn:btmh:".count)
            guard let hash = InfoHashV2(multihashHex: hashText) else {
                throw MetainfoError(
                    .invalidInfoHash,
                    "magnet link xt=urn:btmh:\(hashText.prefix(80)) is not a v2 info-hash "
                        + "(expected 1220 followed by 64 hex digits, a SHA-256 multihash)")
            }
            if let infoHashV2, infoHashV2 != hash {
                throw MetainfoError(
                    .invalidInfoHash, "magnet link has two different v2 info-hashes: \(infoHashV2) and \(hash)")
            }
            infoHashV2 = hash
        } else {
            otherParameters.append(Parameter(name: "xt", value: value))
        }
    }

    private mutating func addTracker(_ bytes: [UInt8], seen: inout Set<String>) {
        guard Self.isURL(bytes, schemes: ["http", "https", "udp"]) else { return }
        let url = String(decoding: bytes, as: UTF8.self)
        if seen.insert(url).inserted { trackers.append(url) }
    }

    // MARK: - Helpers

    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    /// Percent-decodes into bytes; nil on a `%` not followed by two hex digits (also what the HTTP mirror decodes
    /// request paths with).
    public static func percentDecode(_ input: ArraySlice<UInt8>, plusAsSpace: Bool) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var index = input.startIndex
        while index < input.endIndex {
            let byte = input[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < input.endIndex,
                    let high = hexValue(input[index + 1]), let low = hexValue(input[index + 2])
                else { return nil }
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(plusAsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index += 1
            }
        }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    static func percentEncode(_ text: String, spaceAsPlus: Bool = false) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: " ") where spaceAsPlus:
                out.append(UInt8(ascii: "+"))
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `scheme://rest`: one of `schemes` (any case), a non-empty rest of printable ASCII without `<`, `>`, `"`
    /// or spaces, valid UTF-8.
    static func isURL(_ bytes: [UInt8], schemes: [String]) -> Bool {
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return false }
        let scheme = String(decoding: bytes[..<colon].map(lowercased), as: UTF8.self)
        guard schemes.contains(scheme) else { return false }
        let rest = bytes[(colon + 1)...]
        guard rest.starts(with: "//".utf8), rest.count > 2 else { return false }
        return rest.dropFirst(2).allSatisfy { byte in
            byte > 0x20 && byte < 0x7f && byte != UInt8(ascii: "<") && byte != UInt8(ascii: ">")
                && byte != UInt8(ascii: "\"")
        }
    }

    /// `host:port` with a DNS name or dotted IPv4 host, or `[v6]:port`; port 1...65535.
    static func isPeerAddress(_ bytes: [UInt8]) -> Bool {
        guard let colon = bytes.lastIndex(of: UInt8(ascii: ":")) else { return false }
        let portBytes = bytes[(colon + 1)...]
        guard !portBytes.isEmpty, portBytes.count <= 5, portBytes.allSatisfy(\.isASCIIDigitByte),
            let port = Int(String(decoding: portBytes, as: UTF8.self)), (1...65535).contains(port)
        else { return false }
        let host = bytes[..<colon]
        if host.first == UInt8(ascii: "[") {
            guard host.count > 2, host.last == UInt8(ascii: "]") else { return false }
            return host.dropFirst().dropLast().allSatisfy { byte in
                byte.isHexDigitByte || byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".")
            }
        }
        guard !host.isEmpty, host.count <= 253 else { return false }
        return host.allSatisfy { byte in
            byte.isASCIIDigitByte || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
                || (lowercased(byte) >= UInt8(ascii: "a") && lowercased(byte) <= UInt8(ascii: "z"))
        }
    }

    /// BEP 53: comma-separated indices and inclusive ranges `a-b`. Malformed items, inverted ranges and indices at
    /// or above ``selectOnlyIndexLimit`` are ignored, as libtorrent does.
    static func parseSelectOnly(_ bytes: [UInt8]) -> [ClosedRange<Int>] {
        func index(_ digits: ArraySlice<UInt8>) -> Int? {
            guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy(\.isASCIIDigitByte),
                let value = Int(String(decoding: digits, as: UTF8.self)), value < selectOnlyIndexLimit
            else { return nil }
            return value
        }
        var ranges: [ClosedRange<Int>] = []
        for item in bytes.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: true) {
            if let dash = item.firstIndex(of: UInt8(ascii: "-")) {
                guard let low = index(item[item.startIndex..<dash]), let high = index(item[(dash + 1)...]),
                    low <= high
                else { continue }
                ranges.append(low...high)
            } else if let single = index(item) {
                ranges.append(single...single)
            }
        }
        return ranges
    }

    static func merge(_ ranges: [ClosedRange<Int>]) -> [ClosedRange<Int>] {
        var merged: [ClosedRange<Int>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound + 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
    }
}

extension UInt8 {
    fileprivate var isASCIIDigitByte: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }
    fileprivate var isHexDigitByte: Bool {
        isASCIIDigitByte || (self >= UInt8(ascii: "a") && self <= UInt8(ascii: "f"))
            || (self >= UInt8(ascii: "A") && self <= UInt8(ascii: "F"))
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
