// swift-tools-version:6.1
import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its directory: the checkout's own name.
let project = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

// Micro-benchmarks of the hot paths with the ordo-one/benchmark harness, in a
// package of their own so that the project's build and tests do not pull the
// harness in: `make bench` runs them (`swift package benchmark` here).
let package = Package(
    name: "mtcp-swift-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "HotPaths",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "MTCP", package: project),
                .product(name: "MTCPHTTP", package: project),
            ],
            path: "Benchmarks/HotPaths",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
