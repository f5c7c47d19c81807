// swift-tools-version:6.1
// ordersync — keeps a trading app's `open_orders` table and the exchange in agreement, and cancels
// only what a strategy owns. Layout and dependency rule: README.md § Architecture.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
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
    ],
    targets: [
        // Pure core: model, reconciliation decision, cancel selection, tags, reports, scenarios.
        // Imports nothing but the standard library and FoundationEssentials.
        .target(name: "SyncCore", swiftSettings: strict),
        // Edge: GRDB/SQLite store on the seed-compatible schema plus ordersync's `sync_` tables.
        .target(
            name: "OrderStore",
            dependencies: ["SyncCore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict),
        // Composition root: builds every service from options; called by `main` and by tests.
        .target(name: "OrderSyncApp", dependencies: ["SyncCore", "OrderStore"], swiftSettings: strict),
        // Thin @main: the subcommand tree.
        .executableTarget(
            name: "ordersync",
            dependencies: ["OrderSyncApp", "SyncCore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict),
        // Release-mode benchmarks (`swift run -c release ordersync-bench …`).
        .executableTarget(
            name: "ordersync-bench",
            dependencies: ["SyncCore"],
            path: "Benchmarks/ordersync-bench",
            swiftSettings: strict),

        // Test doubles and generators as real code (seeded RNG, random worlds, an in-memory model).
        .target(name: "SyncTestSupport", dependencies: ["SyncCore"], swiftSettings: strict),

        .testTarget(name: "SyncCoreTests", dependencies: ["SyncCore", "SyncTestSupport"], swiftSettings: strict),
        .testTarget(name: "OrderStoreTests", dependencies: ["OrderStore", "SyncCore", "SyncTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "OrderSyncAppTests",
            dependencies: ["OrderSyncApp", "OrderStore", "SyncCore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict),
    ]
)
