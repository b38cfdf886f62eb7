import NIOCore
import Operations
import Testing

struct EndpointServerTests {
    @Test(arguments: [
        ("127.0.0.1:9100", nil, "127.0.0.1", 9100),
        ("[::1]:9100", nil, "::1", 9100),
        ("0.0.0.0:0", nil, "0.0.0.0", 0),
        ("9100", "127.0.0.1", "127.0.0.1", 9100),
    ] as [(String, String?, String, Int)])
    func addressesSplit(text: String, defaultHost: String?, host: String, port: Int) {
        let split = EndpointServer.split(text, defaultHost: defaultHost)
        #expect(split?.host == host && split?.port == port)
    }

    @Test(arguments: [("9100", nil), (":9100", nil), ("host:70000", nil), ("host:", nil), ("70000", "127.0.0.1")]
        as [(String, String?)])
    func badAddressesDoNotSplit(text: String, defaultHost: String?) {
        #expect(EndpointServer.split(text, defaultHost: defaultHost) == nil)
    }

    /// A real listener on loopback: a route answers, an unknown path or method gets a 404 naming the routes.
    @Test func routesAnswerOverLoopback() async throws {
        let channel = try await EndpointServer.bind(
            host: "127.0.0.1", port: 0,
            routes: [
                "/hello": { $0.makeSucceededFuture(.text("hi")) },
                "/data": { $0.makeSucceededFuture(.json(Array("{\"a\":1}".utf8))) },
            ])
        let port = try #require(channel.localAddress?.port)
        let hello = try await EndpointClient.get(host: "127.0.0.1", port: port, path: "/hello?x=1")
        #expect(hello.status == 200 && hello.body == Array("hi\n".utf8))
        let data = try await EndpointClient.get(host: "127.0.0.1", port: port, path: "/data")
        #expect(data.status == 200 && data.body == Array("{\"a\":1}".utf8))
        let missing = try await EndpointClient.get(host: "127.0.0.1", port: port, path: "/other")
        #expect(missing.status == 404)
        #expect(String(decoding: missing.body, as: UTF8.self) == "not found; try /data /hello\n")
        try await channel.close()
        await #expect(throws: EndpointClient.Failure.self) {
            _ = try await EndpointClient.get(host: "127.0.0.1", port: port, path: "/hello")
        }
    }
}
