// swift-tools-version: 6.1
import PackageDescription

// Benchmarks live in their own package so that building and testing dxcp-policy never pays for
// them. Run: swift run -c release dxcp-bench   (from this directory)
let package = Package(
    name: "dxcp-policy-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "dxcp-policy", path: "..")],
    targets: [
        .executableTarget(
            name: "dxcp-bench",
            dependencies: [
                .product(name: "Rules", package: "dxcp-policy"),
                .product(name: "GovernanceStore", package: "dxcp-policy"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        )
    ]
)
