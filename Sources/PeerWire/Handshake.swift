import NIOCore
import SwarmPrimitives

/// The BitTorrent handshake (BEP 3): `19`, `BitTorrent protocol`, 8 reserved bytes, the info-hash, the peer id.
/// Always 68 bytes.
public struct Handshake: Sendable, Hashable {
    /// The protocol string.
    public static let protocolString = "BitTorrent protocol"
    /// The encoded length of a handshake.
    public static let length = 68

    /// The 8 reserved bytes, which advertise extensions.
    public var reserved: Reserved
    /// The torrent's (v1) info-hash.
    public var infoHash: InfoHash
    /// The sender's peer id.
    public var peerID: PeerID

    /// A handshake.
    public init(infoHash: InfoHash, peerID: PeerID, reserved: Reserved = .swtorrent) {
        self.reserved = reserved
        self.infoHash = infoHash
        self.peerID = peerID
    }

    /// The reserved bytes and the extension bits this implementation knows.
    public struct Reserved: Sendable, Hashable {
        /// The 8 bytes as sent.
        public var bytes: [UInt8]

        /// Reserved bytes as given.
        ///
        /// - Precondition: 8 bytes.
        public init(bytes: [UInt8] = [UInt8](repeating: 0, count: 8)) {
            precondition(bytes.count == 8, "the reserved field is 8 bytes, got \(bytes.count)")
            self.bytes = bytes
        }

        /// Reserved bytes with the given extension bits set.
        public init(fastExtension: Bool, extensionProtocol: Bool, dht: Bool = false) {
            self.init()
            self.fastExtension = fastExtension
            self.extensionProtocol = extensionProtocol
            self.dht = dht
        }

        /// What swtorrent sends: the Fast extension and the extension protocol, no DHT.
        public static let swtorrent = Reserved(fastExtension: true, extensionProtocol: true)

        /// The Fast extension (BEP 6): `0x04` in byte 7.
        public var fastExtension: Bool {
            get { bit(7, 0x04) }
            set { setBit(7, 0x04, newValue) }
        }

        /// The extension protocol (BEP 10): `0x10` in byte 5.
        public var extensionProtocol: Bool {
            get { bit(5, 0x10) }
            set { setBit(5, 0x10, newValue) }
        }

        /// DHT (BEP 5): `0x01` in byte 7.
        public var dht: Bool {
            get { bit(7, 0x01) }
            set { setBit(7, 0x01, newValue) }
        }

        /// What both sides support: the bitwise AND of the two reserved fields.
        public func negotiated(with other: Reserved) -> Reserved {
            Reserved(bytes: zip(bytes, other.bytes).map { $0 & $1 })
        }

        private func bit(_ byte: Int, _ mask: UInt8) -> Bool { bytes[byte] & mask != 0 }

        private mutating func setBit(_ byte: Int, _ mask: UInt8, _ value: Bool) {
            if value { bytes[byte] |= mask } else { bytes[byte] &= ~mask }
        }
    }
}

extension Handshake {
    /// Appends the 68-byte handshake to `buffer`.
    public func write(to buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: Self.length)
        buffer.writeInteger(UInt8(19))
        buffer.writeString(Self.protocolString)
        buffer.writeBytes(reserved.bytes)
        _ = infoHash.withUnsafeBytes { buffer.writeBytes($0) }
        _ = peerID.withUnsafeBytes { buffer.writeBytes($0) }
    }

    /// Reads one handshake from the front of `buffer`.
    ///
    /// - Returns: the handshake, or nil (reader index unchanged) when fewer than 68 bytes are readable.
    /// - Throws: ``PeerWireError`` with code `invalidHandshake` when the protocol string length or the protocol
    ///   string is wrong, as soon as the bytes that show it have arrived.
    public static func read(from buffer: inout ByteBuffer) throws(PeerWireError) -> Handshake? {
        let start = buffer.readerIndex
        if let pstrlen = buffer.getInteger(at: start, as: UInt8.self), pstrlen != 19 {
            throw PeerWireError(
                .invalidHandshake,
                "protocol string length is \(pstrlen), expected 19 (`BitTorrent protocol`); encrypted (MSE) "
                    + "connections are not supported, so the peer must allow plain-text connections"
            )
        }
        let available = min(buffer.readableBytes - 1, 19)
        if available > 0, let prefix = buffer.getBytes(at: start + 1, length: available),
            !prefix.elementsEqual(Self.protocolString.utf8.prefix(available))
        {
            throw PeerWireError(.invalidHandshake, "protocol string is not `BitTorrent protocol`")
        }
        guard buffer.readableBytes >= Self.length else { return nil }
        buffer.moveReaderIndex(forwardBy: 20)
        let reserved = buffer.readBytes(length: 8)!
        let infoHash = InfoHash(buffer.readBytes(length: 20)!)!
        let peerID = PeerID(buffer.readBytes(length: 20)!)!
        return Handshake(infoHash: infoHash, peerID: peerID, reserved: Reserved(bytes: reserved))
    }
}

extension Handshake: CustomStringConvertible {
    public var description: String {
        func hex(_ bytes: [UInt8]) -> String {
            bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        }
        return "Handshake(infoHash: \(infoHash.hex), peerID: \(peerID.hex), reserved: \(hex(reserved.bytes)))"
    }
}

