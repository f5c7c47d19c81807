// swift-tools-version:6.1
// ordersync — keeps a trading app's `open_orders` table and the exchange in agreement, and cancels
// only what a strategy owns. Layout and dependency rule: README.md § Architecture.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "ordersync",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ordersync", targets: ["ordersync"]),
        .library(name: "SyncCore", targets: ["SyncCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", "4.0.0"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // Pure core: model, reconciliation decision, cancel selection, tags, reports, scenarios.
        // Imports nothing but the standard library and FoundationEssentials.
        .target(name: "SyncCore", swiftSettings: strict),
        // The scenario format (fixtures/README.md): the demo's, the tests' and the benchmarks' worlds,
        // loaded into the store and the simulator; not part of the decision core.
        .target(name: "Scenarios", dependencies: ["SyncCore"], swiftSettings: strict),
        // Edge: the store on the origin app's schema plus ordersync's `sync_` tables, on SQLite (GRDB)
        // or PostgreSQL (PostgresNIO) behind one contract.
        .target(
            name: "OrderStore",
            dependencies: [
                "SyncCore", "Scenarios", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        // The origin app's keys for every exchange's accounts: its Fernet rules, resolved once per account.
        .target(
            name: "OriginKeys",
            dependencies: [
                "SyncCore", .product(name: "Crypto", package: "swift-crypto"), .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // A fast reader of JSON arrays of flat objects (exchanges' order lists), with JSONDecoder as its fallback.
        .target(name: "FlatJSON", swiftSettings: strict),
        // What every exchange's simulator shares: its JSON writer.
        .target(name: "SimulatorSupport", swiftSettings: strict),
        // A Binance-compatible exchange (spot + USDⓈ-M futures subset): a library and a server.
        // Meets ordersync's client only on the wire.
        .target(
            name: "BinanceSimulator",
            dependencies: [
                "SyncCore", "Scenarios", "SimulatorSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Binance as a venue: the signed REST client (spot + USDⓈ-M futures + Algo), weight governor,
        // time sync, retries that resolve unknown outcomes by query, and its Venue.
        // Meets the simulator only on the wire.
        .target(
            name: "BinanceAPI",
            dependencies: [
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                "SyncCore", "OriginKeys", "FlatJSON",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Upbit as a venue (and Bithumb API 2.0's shared scheme): JWT authentication, the wire's order
        // objects and errors, the client with its per-account pacing, and its Venue.
        .target(
            name: "UpbitAPI",
            dependencies: [
                "SyncCore", "OriginKeys", "FlatJSON", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Bithumb (API 2.0) as a venue: its v2 endpoints and per-category limits over Upbit's scheme.
        .target(
            name: "BithumbAPI",
            dependencies: [
                "SyncCore", "UpbitAPI", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // An Upbit-compatible exchange (spot): REST with JWT, per-account limits, paging, cancels by
        // ids, the control API. Meets ordersync's client only on the wire.
        .target(
            name: "UpbitSimulator",
            dependencies: [
                "SyncCore", "Scenarios", "SimulatorSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // A Bithumb-compatible exchange (API 2.0, spot): v1 shared with Upbit's simulator, its v2 order endpoints.
        .target(
            name: "BithumbSimulator",
            dependencies: [
                "SyncCore", "SimulatorSupport", "UpbitSimulator", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Shell: reconcile passes over the ports (store, exchange), per-account locks, bounded
        // parallelism across accounts.
        .target(
            name: "SyncRuntime",
            dependencies: ["SyncCore", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: strict
        ),
        // Edge: the webhook (Hummingbird), /healthz and /metrics (Prometheus text).
        .target(
            name: "WebhookServer",
            dependencies: [
                "SyncCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Composition root: builds every service from options; called by `main` and by tests.
        .target(
            name: "OrderSyncApp",
            dependencies: [
                "SyncCore", "Scenarios", "SyncRuntime", "OrderStore", "OriginKeys", "BinanceAPI", "UpbitAPI", "BithumbAPI", "WebhookServer",
                .product(name: "TOMLKit", package: "TOMLKit"), .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // The alert sinks (Telegram's Bot API, a signed JSON webhook).
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Everything in one process on loopback — the simulator, a database, the daemon and its webhook —
        // for `ordersync demo`, `ordersync simulate`, the end-to-end tests and the benchmarks.
        .target(
            name: "LocalStack",
            dependencies: [
                "OrderSyncApp", "BinanceSimulator", "UpbitSimulator", "BithumbSimulator", "OrderStore", "Scenarios", "SyncCore", "WebhookServer",
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // Thin @main: the subcommand tree.
        .executableTarget(
            name: "ordersync",
            dependencies: [
                "OrderSyncApp", "OrderStore", "LocalStack", "SyncCore", "Scenarios", "SyncRuntime", "BinanceSimulator", "UpbitSimulator",
                "BithumbSimulator", "WebhookServer", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Release-mode benchmarks (`swift run -c release ordersync-bench …`).
        .executableTarget(
            name: "ordersync-bench",
            dependencies: [
                "SyncCore", "Scenarios", "OriginKeys", "BinanceAPI", "UpbitAPI", "OrderSyncApp", "LocalStack", "OrderStore", "SyncRuntime",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/ordersync-bench",
            swiftSettings: strict
        ),

        // Test doubles and generators as real code (seeded RNG, random worlds, an in-memory model).
        .target(name: "SyncTestSupport", dependencies: ["SyncCore"], swiftSettings: strict),
        // Fresh databases on each backend (SQLite files; databases on the throwaway PostgreSQL of scripts/test).
        .target(name: "StoreTestSupport", dependencies: ["OrderStore"], swiftSettings: strict),

        .testTarget(name: "SyncCoreTests", dependencies: ["SyncCore", "SyncTestSupport", "BinanceAPI"], swiftSettings: strict),
        .testTarget(name: "ScenariosTests", dependencies: ["Scenarios", "SyncCore"], swiftSettings: strict),
        .testTarget(name: "SyncRuntimeTests", dependencies: ["SyncRuntime", "SyncCore", "Scenarios", "OrderStore"], swiftSettings: strict),
        .testTarget(
            name: "OrderStoreTests",
            dependencies: ["OrderStore", "SyncCore", "Scenarios", "SyncTestSupport", "StoreTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "BinanceSimulatorTests",
            dependencies: [
                "BinanceSimulator", "SyncCore", "SyncTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "BinanceAPITests",
            dependencies: [
                "BinanceAPI", "BinanceSimulator", "OriginKeys", "SyncCore", "FlatJSON",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "BithumbAPITests",
            dependencies: [
                "BithumbAPI", "BithumbSimulator", "UpbitAPI", "UpbitSimulator", "SyncCore", "SyncTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "UpbitAPITests",
            dependencies: [
                "UpbitAPI", "UpbitSimulator", "SyncCore", "FlatJSON", "SyncTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"), .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "WebhookServerTests",
            dependencies: [
                "WebhookServer", "SyncCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "OrderSyncAppTests",
            dependencies: [
                "OrderSyncApp", "LocalStack", "OrderStore", "SyncCore", "BinanceSimulator", "StoreTestSupport", "SyncTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
    ]
)
