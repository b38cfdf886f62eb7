import Metainfo
import SwarmPrimitives
import Testing

struct MagnetLinkTests {
    static let hex = "d2354010a3ca4ade5b7427bb093a62a3899ff381"

    @Test func parsesHexAndBase32InfoHashes() throws {
        let fromHex = try MagnetLink(parsing: "magnet:?xt=urn:btih:\(Self.hex)")
        let fromBase32 = try MagnetLink(parsing: "magnet:?xt=urn:btih:2I2UAEFDZJFN4W3UE65QSOTCUOEZ744B")
        #expect(fromHex.infoHash?.hex == Self.hex)
        #expect(fromBase32.infoHash == fromHex.infoHash)
        #expect(fromHex.infoHash?.base32 == "2I2UAEFDZJFN4W3UE65QSOTCUOEZ744B")
    }

    @Test func parsesFieldsPercentDecodedAsBytes() throws {
        let link = try MagnetLink(
            parsing: "magnet:?XT=urn:btih:\(Self.hex)&dn=Caf%C3%A9+b%2Bc&tr=http%3A%2F%2Ft.example%2Fannounce"
                + "&tr=udp://u.example:80&tr=http%3A%2F%2Ft.example%2Fannounce&ws=https://w.example/f"
                + "&x.pe=10.0.0.1:6881&x.pe=[::1]:7000&x.pe=bad&so=3,1-2,9&xl=42")
        #expect(link.displayName == "Café b+c")
        #expect(link.trackers == ["http://t.example/announce", "udp://u.example:80"])
        #expect(link.webSeeds == ["https://w.example/f"])
        #expect(link.peers == ["10.0.0.1:6881", "[::1]:7000"])
        #expect(link.selectedFiles == [1...3, 9...9])
        #expect(link.otherParameters == [MagnetLink.Parameter(name: "xl", value: "42")])
    }

    @Test func recognisesV2AndHybridLinks() throws {
        let digest = String(repeating: "cd", count: 32)
        let v2 = try MagnetLink(parsing: "magnet:?xt=urn:btmh:1220\(digest)")
        #expect(v2.infoHash == nil)
        #expect(v2.infoHashV2?.hex == digest)
        let hybrid = try MagnetLink(parsing: "magnet:?xt=urn:btmh:1220\(digest)&xt=urn:btih:\(Self.hex)")
        #expect(hybrid.infoHash?.hex == Self.hex)
        #expect(hybrid.infoHashV2?.hex == digest)
    }

    @Test(arguments: [
        ("", MetainfoError.Code.invalidMagnetLink),
        ("http://example.com/", .invalidMagnetLink),
        ("magnet:?dn=foo", .missingInfoHash),
        ("magnet:?xt=urn:ed2k:354B15E68FB8F36D7CD88FF94116CDC1", .missingInfoHash),
        ("magnet:?xt=urn:btih:abababab", .invalidInfoHash),
        ("magnet:?xt=urn:btih:zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", .invalidInfoHash),
        ("magnet:?xt=urn:btmh:1221" + String(repeating: "cd", count: 32), .invalidInfoHash),
        ("magnet:?xt=urn%%3A", .invalidMagnetLink),
        ("magnet:?xt=urn:btih:\(hex)&tr=http%3", .invalidMagnetLink),
    ])
    func rejectsBadLinks(text: String, code: MetainfoError.Code) {
        #expect {
            try MagnetLink(parsing: text)
        } throws: { error in
            (error as? MetainfoError)?.code == code
        }
    }

    @Test func producesALinkThatParsesBack() throws {
        let original = MagnetLink(
            infoHash: InfoHash(hex: Self.hex),
            infoHashV2: InfoHashV2(hex: String(repeating: "ab", count: 32)),
            displayName: "release 1.0 & notes",
            trackers: ["http://tracker.example:6969/announce?passkey=a%20b&x=1"],
            webSeeds: ["https://cdn.example/release/"],
            peers: ["127.0.0.1:6881"],
            selectedFiles: [0...0, 2...4])
        let uri = original.uri
        #expect(uri.hasPrefix("magnet:?xt=urn:btih:\(Self.hex)&xt=urn:btmh:1220"))
        #expect(uri.contains("&dn=release+1.0+%26+notes&"))
        #expect(uri.hasSuffix("&so=0,2-4"))
        #expect(try MagnetLink(parsing: uri) == original)
    }

    /// Transmission's `magnetLink` test: regenerating the link reproduces this exact string.
    @Test func reproducesTransmissionsMagnetByteForByte() throws {
        let text =
            "magnet:?xt=urn:btih:14ffe5dd23188fd5cb53a1d47f1289db70abf31e&dn=ubuntu_12_04_1_desktop_32_bit"
            + "&tr=http%3A%2F%2Ftracker.publicbt.com%2Fannounce&tr=udp%3A%2F%2Ftracker.publicbt.com%3A80"
            + "&ws=http%3A%2F%2Ftransmissionbt.com"
        #expect(try MagnetLink(parsing: text).uri == text)
    }

    /// A link at the size limit made of distinct trackers, web seeds and peers parses completely (de-duplication is
    /// linear, so this is quick) and one byte more is refused.
    @Test func handlesALinkAtTheSizeLimit() throws {
        var text = "magnet:?xt=urn:btih:\(Self.hex)"
        var count = 0
        while true {
            let chunk = "&tr=http://t\(count).example/a&ws=http://w\(count).example/"
                + "&x.pe=10.0.\(count % 250).1:\(count % 60000 + 1)"
            guard text.utf8.count + chunk.utf8.count <= MagnetLink.maximumLength else { break }
            text += chunk
            count += 1
        }
        let link = try MagnetLink(parsing: text)
        #expect(link.trackers.count == count)
        #expect(link.webSeeds.count == count)
        #expect(link.peers.count == Set((0..<count).map { "10.0.\($0 % 250).1:\($0 % 60000 + 1)" }).count)
        let tooLong = text + String(repeating: "x", count: MagnetLink.maximumLength)
        #expect(throws: MetainfoError.self) { try MagnetLink(parsing: tooLong) }
    }
}
