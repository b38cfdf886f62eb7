import Bencode
import NIOCore

/// The extension protocol handshake (BEP 10): the bencoded dictionary carried by extended message id 0.
///
/// Only the keys this client uses are kept: `m` (extension name to the id the sender wants to receive it on),
/// `v` (client name and version), `p` (listen port), `reqq` (how many outstanding requests the sender queues)
/// `yourip` (the receiver's address as the sender sees it: 4 or 16 bytes) and `metadata_size` (BEP 9: the size of
/// the info dictionary the sender can serve over `ut_metadata`). Other keys are ignored.
public struct ExtendedHandshake: Sendable, Hashable {
    /// The longest `v` string kept; longer ones are cut.
    public static let maxClientNameLength = 256

    /// Extension names and the message ids the sender wants them on. An id of 0 disables the extension, so such
    /// entries are dropped when parsing.
    public var messages: [String: UInt8]
    /// The sender's client name and version (`v`).
    public var client: String?
    /// The sender's listen port (`p`).
    public var listenPort: UInt16?
    /// How many outstanding requests the sender will queue (`reqq`).
    public var requestQueueLength: Int?
    /// The receiver's IP address as the sender sees it (`yourip`): 4 (IPv4) or 16 (IPv6) bytes.
    public var yourIP: [UInt8]?
    /// The size in bytes of the info dictionary the sender serves over `ut_metadata` (BEP 9 `metadata_size`); only
    /// positive values are kept (a receiver bounds it, see ``MetadataMessage/maximumMetadataSize``).
    public var metadataSize: Int?

    /// An extended handshake.
    public init(
        messages: [String: UInt8] = [:],
        client: String? = nil,
        listenPort: UInt16? = nil,
        requestQueueLength: Int? = nil,
        yourIP: [UInt8]? = nil,
        metadataSize: Int? = nil
    ) {
        self.messages = messages
        self.client = client
        self.listenPort = listenPort
        self.requestQueueLength = requestQueueLength
        self.yourIP = yourIP
        self.metadataSize = metadataSize
    }

    /// The bencoded dictionary (canonical: keys sorted).
    public func encoded() -> [UInt8] {
        var entries = [BencodeEntry("m", .dictionary(messages.map { BencodeEntry($0.key, .integer(Int64($0.value))) }))]
        if let metadataSize { entries.append(BencodeEntry("metadata_size", .integer(Int64(metadataSize)))) }
        if let listenPort { entries.append(BencodeEntry("p", .integer(Int64(listenPort)))) }
        if let requestQueueLength { entries.append(BencodeEntry("reqq", .integer(Int64(requestQueueLength)))) }
        if let client { entries.append(BencodeEntry("v", .string(client))) }
        if let yourIP { entries.append(BencodeEntry("yourip", .bytes(yourIP))) }
        return BencodeValue.dictionary(entries).encoded()
    }

    /// The handshake as a ready-to-send ``PeerMessage/extended(id:payload:)`` with id 0.
    public func message(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> PeerMessage {
        .extended(id: 0, payload: allocator.buffer(bytes: encoded()))
    }

    /// Parses the payload of an extended message with id 0.
    ///
    /// Accepts unsorted dictionary keys (as libtorrent does); ignores unknown keys, `m` entries whose value is not
    /// an integer in 1...255, a `p` outside 1...65535, a negative `reqq` and a `yourip` that is not 4 or 16 bytes.
    ///
    /// - Throws: ``PeerWireError`` with code `invalidExtendedHandshake` when the payload is not a bencoded
    ///   dictionary or `m` is present and not a dictionary.
    public init(payload: ByteBuffer) throws(PeerWireError) {
        var options = BencodeDecoder.Options.lenient
        options.maxInputSize = max(payload.readableBytes, 1)
        options.maxDepth = 8
        let value: BencodeValue
        do {
            value = try BencodeDecoder(options: options).decode(payload.readableBytesView)
        } catch {
            throw PeerWireError(.invalidExtendedHandshake, "extended handshake is not valid bencode: \(error)")
        }
        guard value.entries != nil else {
            throw PeerWireError(.invalidExtendedHandshake, "extended handshake is not a bencoded dictionary")
        }
        var messages: [String: UInt8] = [:]
        if let m = value["m"] {
            guard let entries = m.entries else {
                throw PeerWireError(.invalidExtendedHandshake, "extended handshake key `m` is not a dictionary")
            }
            for entry in entries {
                guard let name = String(validating: entry.key, as: UTF8.self),
                    let id = entry.value.integer, (1...255).contains(id)
                else { continue }
                messages[name] = UInt8(id)
            }
        }
        self.messages = messages
        self.client = value["v"]?.utf8String.map { String($0.prefix(Self.maxClientNameLength)) }
        self.listenPort = value["p"]?.integer.flatMap { (1...65535).contains($0) ? UInt16($0) : nil }
        self.requestQueueLength = value["reqq"]?.integer.flatMap { $0 >= 0 ? Int(clamping: $0) : nil }
        self.yourIP = value["yourip"]?.bytes.flatMap { $0.count == 4 || $0.count == 16 ? $0 : nil }
        self.metadataSize = value["metadata_size"]?.integer.flatMap { $0 > 0 ? Int(clamping: $0) : nil }
    }
}
