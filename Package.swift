// swift-tools-version: 6.1
import PackageDescription

/// Settings every target of ours shares: Swift 6 language mode (the tools version's default),
/// imports internal unless marked `public import`, and `any` spelled out for existentials.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "dxcp-policy",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "dxcp-policy", targets: ["dxcp-policy"]),
        .library(name: "Rules", targets: ["Rules"]),
        .library(name: "GovernanceStore", targets: ["GovernanceStore"]),
        .library(name: "PolicyServer", targets: ["PolicyServer"]),
        .executable(name: "governance-tests", targets: ["governance-tests"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // The embedded key-value store: Debian's liblmdb-dev and a thin Swift wrapper over it.
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .target(name: "LMDB", dependencies: ["CLMDB"], swiftSettings: strict),

        // HTTP to Spinnaker's Gate: Debian's libcurl and a C shim with typed, non-variadic setters.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(name: "CCurlShim", dependencies: ["CCurl"]),

        // The governance contract as pure functions: no I/O, no clock, no randomness.
        .target(name: "Rules", swiftSettings: strict),

        // Compact JSON written byte by byte, for the hot encodings (records, answers, the log).
        .target(name: "JSONWriter", dependencies: ["Rules"], swiftSettings: strict),

        // The hash-chained decision log: entry type, canonical encoding, verification.
        .target(
            name: "Audit",
            dependencies: ["Rules", "JSONWriter", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),

        // All governance state behind one batched write path: one LMDB environment (one node), or
        // PostgreSQL shared by the replicas of a fleet.
        .target(
            name: "GovernanceStore",
            dependencies: [
                "LMDB", "Rules", "Audit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),

        // The engine: the Gate client over libcurl, engine errors, execution states.
        .target(
            name: "Engine",
            dependencies: ["CCurlShim", "Rules", "Audit", "JSONWriter", "GovernanceStore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),

        // The YAML policy data format (delivery groups, recipes, services, environments, routing).
        .target(
            name: "PolicyFile",
            dependencies: ["Rules", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),

        // The service edge: request decoding, decision encoding, and the decision service.
        .target(
            name: "PolicyServer",
            dependencies: [
                "Rules", "GovernanceStore", "PolicyFile", "Audit", "JSONWriter", "Engine",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [.copy("Resources/openapi.yaml")],
            swiftSettings: strict
        ),

        .executableTarget(
            name: "dxcp-policy",
            dependencies: [
                "PolicyServer", "GovernanceStore", "PolicyFile", "Rules", "Engine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // The demo policy travels with the binary, so `serve --demo` works from any directory
            // (examples/demo-policy.yaml links to it).
            resources: [.copy("Resources/demo-policy.yaml")],
            swiftSettings: strict
        ),

        // A stand-in for Spinnaker's Gate, for tests, the demo and the conformance suite.
        .executableTarget(
            name: "gate-emulator",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),

        // The conformance suite: a pure HTTP client of any DXCP-compatible API. It imports none of
        // our server modules, so it proves the contract, not our implementation of it.
        .executableTarget(
            name: "governance-tests",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            path: "governance-tests",
            exclude: ["README.md", "corpus"],
            swiftSettings: strict
        ),

        .testTarget(name: "LMDBTests", dependencies: ["LMDB"], swiftSettings: strict),
        // The contract's tests, beside the sections they prove; the corpus (governance-tests/corpus)
        // runs here in-process against the rules, through the same request decoder as HTTP.
        .testTarget(
            name: "RulesTests", dependencies: ["Rules", "TestSupport", "PolicyServer", "PolicyFile", "governance-tests"], swiftSettings: strict),
        .testTarget(name: "AuditTests", dependencies: ["Audit", "JSONWriter", "Rules", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "GovernanceStoreTests",
            dependencies: ["GovernanceStore", "Rules", "Audit", "LMDB", "PolicyFile", "TestSupport"],
            swiftSettings: strict
        ),
        // Helpers shared by test targets: starting the Gate emulator.
        .target(
            name: "TestSupport", dependencies: [.product(name: "JWTKit", package: "jwt-kit")], path: "Tests/TestSupport",
            swiftSettings: strict),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Rules", "GovernanceStore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "PolicyFileTests", dependencies: ["PolicyFile", "Rules"], swiftSettings: strict),
        // The conformance suite against real processes (dxcp-policy, gate-emulator, governance-tests).
        .testTarget(
            name: "GovernanceTestsTests",
            dependencies: ["TestSupport", .product(name: "JWTKit", package: "jwt-kit"), .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PolicyServerTests",
            dependencies: [
                "PolicyServer", "GovernanceStore", "Rules", "PolicyFile", "Engine", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            swiftSettings: strict
        ),
    ]
)
