// swift-tools-version:6.1
import PackageDescription

// CI sets SWTORRENT_STRICT=1: our own targets are built with warnings as errors.
let strict = Context.environment["SWTORRENT_STRICT"] != nil
let ours: [SwiftSetting] = strict ? [.unsafeFlags(["-warnings-as-errors"])] : []

let package = Package(
    name: "swtorrent",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "swtorrent", targets: ["swtorrent"]),
        .library(name: "Bencode", targets: ["Bencode"]),
        .library(name: "Metainfo", targets: ["Metainfo"]),
        .library(name: "Tracker", targets: ["Tracker"]),
        .library(name: "LocalDiscovery", targets: ["LocalDiscovery"]),
    ],
    dependencies: [
        // Exact: Engine's AlignedAllocator uses NIOCore's `@_spi(CustomByteBufferAllocator)`, which has no
        // source-stability promise, so a newer NIO may change it under us. Move this pin deliberately (2.101.3 is the
        // mirror's newest) and rebuild Engine when doing so.
        .package(url: "https://github.com/apple/swift-nio.git", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // The seed daemon's config file (YAML, with comments): Docs/operations.md says why this parser.
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        // Peer connections of private swarms: TLS 1.3 with mutual authentication by node key (Docs/peer-tls.md).
        // NIOSSL bundles BoringSSL under prefixed symbols, so it coexists with CLibCrypto (system OpenSSL).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        // HTTP mirrors and web seeds (BEP 19): a kept HTTP/1.1 + HTTPS client with redirects, timeouts and pooling
        // rather than a hand-written one (Docs/mirrors.md).
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // System libraries, found with pkg-config (scripts/install-deps.sh installs them).
        .systemLibrary(
            name: "CLibCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),

        // Libraries, lowest layer first. See Docs/architecture.md.
        .target(name: "Bencode", swiftSettings: ours),
        // POSIX helpers (Glibc only): errno text, O_DIRECT, the copy loop, file fingerprints (Docs/architecture.md).
        .target(name: "SystemSupport", swiftSettings: ours),
        // SHA-1 with the x86 SHA extensions, several pieces interleaved; reached through CryptoPrimitives'
        // MultiLaneSHA1 (see Docs/make.md).
        .target(name: "CSHA1NI"),
        .target(name: "CryptoPrimitives", dependencies: ["CLibCrypto", "CSodium", "CSHA1NI"], swiftSettings: ours),
        // The 20-byte info-hash / peer id, IP address text, FastRandom: shared by PeerWire, Engine and Tracker.
        .target(name: "SwarmPrimitives", dependencies: ["CryptoPrimitives"], swiftSettings: ours),
        .target(
            name: "Metainfo", dependencies: ["Bencode", "CryptoPrimitives", "SwarmPrimitives", "SystemSupport"],
            swiftSettings: ours
        ),
        .target(name: "Identity", dependencies: ["CryptoPrimitives", "SystemSupport"], swiftSettings: ours),
        // Linux epoll for the tracker's announce loop (Docs/tracker.md, "Server design").
        .target(name: "CEventPoll"),
        .target(
            name: "SignatureGate",
            dependencies: [
                "CryptoPrimitives", "Bencode", "CLibCrypto", "CSodium", "SystemSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: ours
        ),
        // What operators and monitoring read from a daemon: a small read-only HTTP server (the tracker's and the
        // seed's /metrics, the seed's /healthz and /status) and its client, JSON log lines (Docs/operations.md).
        .target(
            name: "Operations",
            dependencies: [
                "SystemSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: ours
        ),
        .target(
            name: "Tracker",
            dependencies: [
                "Bencode", "Identity", "CryptoPrimitives", "SwarmPrimitives", "CEventPoll", "SystemSupport",
                "Operations",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: ours
        ),
        .target(
            name: "PeerWire",
            dependencies: ["SwarmPrimitives", "Bencode", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: ours
        ),
        // BEP 14 local service discovery: the codec (NIOCore) and the multicast announcer (NIOPosix).
        .target(
            name: "LocalDiscovery",
            dependencies: [
                "SwarmPrimitives",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: ours
        ),
        .target(
            name: "Engine",
            dependencies: [
                "PeerWire", "LocalDiscovery", "Metainfo", "Bencode", "Identity", "CryptoPrimitives", "SwarmPrimitives",
                "SystemSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: ours
        ),

        // Private swarms: the TLS 1.3 transport in Engine's PeerTransportSecurity slot, certificates made from the
        // node key, peers pinned against the allowlist (Docs/peer-tls.md).
        .target(
            name: "PeerTLS",
            dependencies: [
                "Engine", "Identity",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: ours
        ),

        // What a running node is: the gated leech, make-and-sign, the trust-policy merge, transfers as Services.
        .target(
            name: "Node",
            dependencies: [
                "Engine", "SignatureGate", "Metainfo", "SystemSupport", "Identity", "LocalDiscovery", "SwarmPrimitives",
                "Operations", "PeerTLS", "CryptoPrimitives",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: ours
        ),

        // The command-line tool: argument parsing and exit codes only; the work lives in the libraries.
        .executableTarget(
            name: "swtorrent",
            dependencies: [
                "Node", "Metainfo", "Identity", "SignatureGate", "Tracker", "Engine", "LocalDiscovery", "Operations",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: ours
        ),

        // Shared by the test targets: bounded process runner, temp files, conformance data locator.
        .target(
            name: "TestSupport", path: "Tests/TestSupport", exclude: ["faulty-http-server.py", "tls-alert-proxy.py"],
            swiftSettings: ours),

        .testTarget(name: "SystemSupportTests", dependencies: ["SystemSupport", "TestSupport"], swiftSettings: ours),
        .testTarget(name: "BencodeTests", dependencies: ["Bencode", "TestSupport"], swiftSettings: ours),
        .testTarget(name: "CryptoPrimitivesTests", dependencies: ["CryptoPrimitives"], swiftSettings: ours),
        .testTarget(name: "SwarmPrimitivesTests", dependencies: ["SwarmPrimitives"], swiftSettings: ours),
        .testTarget(
            name: "MetainfoTests",
            dependencies: ["Metainfo", "Bencode", "CryptoPrimitives", "SwarmPrimitives", "TestSupport"],
            swiftSettings: ours
        ),
        .testTarget(
            name: "IdentityTests", dependencies: ["Identity", "CryptoPrimitives", "TestSupport"], swiftSettings: ours
        ),
        .testTarget(
            name: "SignatureGateTests",
            dependencies: [
                "SignatureGate", "Bencode", "CryptoPrimitives", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: ours
        ),
        .testTarget(
            name: "TrackerTests",
            dependencies: [
                "Tracker", "Identity", "Bencode", "CryptoPrimitives", "SwarmPrimitives", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: ours
        ),
        .testTarget(
            name: "PeerWireTests",
            dependencies: [
                "PeerWire", "Bencode", "SwarmPrimitives",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: ours
        ),
        .testTarget(
            name: "EngineTests",
            dependencies: [
                "Engine", "PeerWire", "Metainfo", "Bencode", "CryptoPrimitives", "Identity", "SwarmPrimitives",
                "LocalDiscovery", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: ours
        ),
        .testTarget(
            name: "LocalDiscoveryTests",
            dependencies: [
                "LocalDiscovery", "SwarmPrimitives",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: ours
        ),
        .testTarget(
            name: "OperationsTests",
            dependencies: ["Operations", .product(name: "Logging", package: "swift-log")],
            swiftSettings: ours
        ),
        .testTarget(
            name: "NodeTests",
            dependencies: [
                "Node", "Engine", "SignatureGate", "Metainfo", "TestSupport", "Operations", "SystemSupport",
                "LocalDiscovery",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: ours
        ),
        // PeerTLS's checks on their own, and hostile TLS peers against a real `swtorrent seed` over loopback.
        .testTarget(
            name: "PeerTLSTests",
            dependencies: [
                "PeerTLS", "Engine", "Identity", "TestSupport", "Operations",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: ours
        ),
        // End-to-end: runs the built `swtorrent` binary and real third-party tools on loopback.
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["Bencode", "Metainfo", "TestSupport", "Operations", "LocalDiscovery", "SwarmPrimitives"],
            swiftSettings: ours
        ),
    ]
)
