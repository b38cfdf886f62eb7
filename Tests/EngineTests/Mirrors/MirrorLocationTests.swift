import Engine
import Testing

/// BEP 19's URL layout over a torrent's files.
@Suite struct MirrorLocationTests {
    static let hashes = [UInt8](repeating: 0, count: 20 * 4)
    static let infoHash = [UInt8](repeating: 1, count: 20)

    static func single() throws -> StorageLayout {
        try StorageLayout(
            files: [(path: ["release 1.0.tar"], length: 40_000, isPadFile: false)], pieceLength: 16_384,
            pieceHashes: [UInt8](repeating: 0, count: 60), infoHash: infoHash)
    }

    static func multi() throws -> StorageLayout {
        try StorageLayout(
            files: [
                (path: ["rel", "a.bin"], length: 10_000, isPadFile: false),
                (path: ["rel", ".pad", "6384"], length: 6_384, isPadFile: true),
                (path: ["rel", "docs", "read me+ü.txt"], length: 30_000, isPadFile: false),
            ], pieceLength: 16_384, pieceHashes: [UInt8](repeating: 0, count: 60), infoHash: infoHash)
    }

    @Test(arguments: [
        ("http://10.0.0.5/files/", "http://10.0.0.5/files/release%201.0.tar"),
        ("http://10.0.0.5/files/rel.tar", "http://10.0.0.5/files/rel.tar"),
        ("https://mirror.example:8443/x", "https://mirror.example:8443/x"),
    ])
    func aSingleFileIsTheURLOrItsNameUnderADirectoryURL(url: String, expected: String) throws {
        let location = try MirrorLocation(url: url, layout: Self.single(), isSingleFile: true)
        #expect(location.fileURLs == [expected])
    }

    @Test(arguments: ["http://[::1]:8080/m", "http://[::1]:8080/m/"])
    func multiFileURLsAreTheDirectoryAndEachEncodedPathWithPadFilesNeverFetched(url: String) throws {
        let location = try MirrorLocation(url: url, layout: Self.multi(), isSingleFile: false)
        #expect(
            location.fileURLs == [
                "http://[::1]:8080/m/rel/a.bin", nil, "http://[::1]:8080/m/rel/docs/read%20me%2B%C3%BC.txt",
            ])
        #expect(location.host == "::1" && location.port == 8080)
    }

    @Test func theDefaultPortIsTheSchemes() throws {
        let plain = try MirrorLocation.check("http://m/")
        let secure = try MirrorLocation.check("https://m/")
        #expect(plain.host == "m" && plain.port == 80)
        #expect(secure.host == "m" && secure.port == 443)
    }

    @Test(arguments: ["ftp://m/x", "m/x", "http:///x", "http://m/x?token=1", "", "file:///tmp/x"])
    func anythingButAnHTTPURLWithAHostIsRefusedByName(url: String) {
        #expect {
            try MirrorLocation.check(url)
        } throws: { error in
            guard let error = error as? EngineError else { return false }
            return error.code == .badMirrorURL && error.context.contains("'\(url)'")
        }
    }

    @Test func theBackoffDoublesFromOneSecondUpToItsCap() {
        let settings = MirrorSettings()
        #expect((1...8).map { settings.backoff(afterFailures: $0) } == [1, 2, 4, 8, 16, 32, 60, 60].map { .seconds($0) })
    }
}
