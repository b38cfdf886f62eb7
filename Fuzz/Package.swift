// swift-tools-version:5.4
// Tools version 5.4 on purpose: from 5.5 on, SwiftPM renames an executable's `main` to `<Target>_main`, which a
// libFuzzer target built with -parse-as-library does not have (libFuzzer supplies `main`).
import PackageDescription

// libFuzzer targets for the parsers that read untrusted bytes. Build and run them with `scripts/fuzz.sh`:
//   swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
let package = Package(
    name: "swtorrent-fuzz",
    dependencies: [.package(name: "swtorrent", path: "..")],
    targets: [
        .executableTarget(name: "FuzzBencode", dependencies: [.product(name: "Bencode", package: "swtorrent")]),
        .executableTarget(
            name: "FuzzTorrent",
            dependencies: [
                .product(name: "Bencode", package: "swtorrent"), .product(name: "Metainfo", package: "swtorrent"),
            ]
        ),
        .executableTarget(name: "FuzzMagnet", dependencies: [.product(name: "Metainfo", package: "swtorrent")]),
        .executableTarget(name: "FuzzTrackerQuery", dependencies: [.product(name: "Tracker", package: "swtorrent")]),
        .executableTarget(name: "FuzzTrackerHead", dependencies: [.product(name: "Tracker", package: "swtorrent")]),
        .executableTarget(
            name: "FuzzLocalDiscovery", dependencies: [.product(name: "LocalDiscovery", package: "swtorrent")]),
    ]
)
