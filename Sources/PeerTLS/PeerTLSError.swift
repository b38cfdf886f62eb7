/// What can go wrong setting up the TLS transport of private swarms (one error type for the module).
public struct PeerTLSError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// The node certificate could not be made from the node key.
        case certificate
        /// NIOSSL refused the TLS configuration (the certificate, the key or a setting).
        case configuration
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
