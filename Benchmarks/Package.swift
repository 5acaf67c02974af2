// swift-tools-version: 6.1
import PackageDescription

// Benchmarks live in their own package so that building and testing dxcp-policy never pays for
// them. Run: swift run -c release dxcp-bench   (from this directory)
let package = Package(
    name: "dxcp-policy-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "dxcp-policy", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
    ],
    targets: [
        .executableTarget(
            name: "dxcp-bench",
            dependencies: [
                .product(name: "Rules", package: "dxcp-policy"),
                .product(name: "GovernanceStore", package: "dxcp-policy"),
                .product(name: "PolicyServer", package: "dxcp-policy"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        // The limit of a Swift HTTP server here: raw SwiftNIO answering a fixed response.
        .executableTarget(
            name: "raw-nio-server",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ]
)
