import NIOCore

/// One HTTP response of an ``EndpointServer`` route: a status line, a content type and a body.
public struct EndpointResponse: Sendable, Hashable {
    /// `200 OK`, `404 Not Found`, `503 Service Unavailable`.
    public var status: String
    public var contentType: String
    public var body: [UInt8]

    public init(status: String = "200 OK", contentType: String, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    /// Prometheus text exposition format 0.0.4.
    public static func prometheus(_ body: [UInt8]) -> EndpointResponse {
        EndpointResponse(contentType: "text/plain; version=0.0.4", body: body)
    }

    /// A JSON document.
    public static func json(_ body: [UInt8], status: String = "200 OK") -> EndpointResponse {
        EndpointResponse(status: status, contentType: "application/json", body: body)
    }

    /// Plain text, one line.
    public static func text(_ line: String, status: String = "200 OK") -> EndpointResponse {
        EndpointResponse(status: status, contentType: "text/plain", body: Array((line + "\n").utf8))
    }
}

/// What an ``EndpointServer`` serves: `GET` of a path (the query string is ignored) to the response made for it.
/// A route is handed the connection's event loop and answers with a future (already succeeded for what it knows at
/// once), never with a Swift task: the endpoints keep answering when every cooperative thread is busy or blocked.
public typealias EndpointRoutes = [String: @Sendable (any EventLoop) -> EventLoopFuture<EndpointResponse>]
