// swift-tools-version:6.1
import PackageDescription

// Debian's libdpdk.pc is unreadable to SwiftPM (multi-line description) and its
// `-include rte_config.h` would be dropped anyway, so the include paths are given
// here and the shim header includes rte_config.h itself (see ../shared/NOTES.md).
let dpdkIncludes = ["/usr/include/dpdk", "/usr/include/x86_64-linux-gnu/dpdk"]
let dpdkLibraries = ["rte_eal", "rte_ethdev", "rte_mbuf", "rte_mempool", "rte_ring", "rte_net", "rte_bus_vdev"]

/// The engine is generic over its packet device and the application over the
/// engine; without cross-module optimisation the application's calls into
/// MTCP stay unspecialised and look up generic metadata on every call
/// (measured with callgrind: 30% of the appliance's instructions). Every target
/// on that path (the stack, the DPDK device, the runtime, the applications) needs it.
let crossModuleOptimization: [SwiftSetting] = [
    .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release)),
]

/// Swift targets that import CDPDK, or a module that does, need the same include
/// paths for the clang importer. DPDK's headers (rte_memcpy.h) use SSSE3/SSE4
/// intrinsics: Debian builds DPDK for `-march=corei7`, and its headers must be
/// compiled for at least that.
let dpdkMarch = "-march=corei7"
let importsDPDK: [SwiftSetting] = [
    .unsafeFlags(dpdkIncludes.flatMap { ["-Xcc", "-I\($0)"] } + ["-Xcc", dpdkMarch]),
] + crossModuleOptimization

let package = Package(
    name: "mtcp-swift",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mtcp-httpd", targets: ["mtcp-httpd"]),
        .executable(name: "mtcp-loadgen", targets: ["mtcp-loadgen"]),
        .executable(name: "mtcp-impair", targets: ["mtcp-impair"]),
        .executable(name: "mtcp-rssnic", targets: ["mtcp-rssnic"]),
        .library(name: "MTCP", targets: ["MTCP"]),
        .library(name: "MTCPHTTP", targets: ["MTCPHTTP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        // Latency percentiles of mtcp-loadgen (HdrHistogram: bounded relative error, fixed memory).
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", exact: "0.2.0"),
        // The event log's API (the ecosystem's; the handler that writes lines is ours).
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // Header-only `static inline` shims for DPDK macros and mbuf field access.
        .target(
            name: "CDPDK",
            cSettings: [.unsafeFlags(dpdkIncludes.map { "-I\($0)" } + [dpdkMarch])],
            linkerSettings: dpdkLibraries.map { .linkedLibrary($0) }
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // zlib, for the loadgen's HdrHistogram encoding (a deflated payload).
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // ppoll(2) and prctl(2)'s timer slack for mtcp-impair (Glibc's module omits them).
        .systemLibrary(name: "CPreciseWait"),
        // The user-level stack: wire formats, the packet-device seam and the virtual
        // link, IPv4/ARP/ICMP, TCP, engine, sockets. Needs no DPDK headers.
        .target(
            name: "MTCP",
            swiftSettings: crossModuleOptimization
        ),
        // The DPDK packet device and EAL (as SwiftNIO keeps NIOPosix apart from NIOCore).
        .target(
            name: "MTCPDPDK",
            dependencies: ["MTCP", "CDPDK"],
            swiftSettings: importsDPDK
        ),
        // TLS over the stack's sockets: OpenSSL with memory BIOs, one SSL_CTX per core.
        .target(
            name: "MTCPTLS",
            dependencies: ["MTCP", "COpenSSL"],
            swiftSettings: crossModuleOptimization
        ),
        // Parsers for mTCP's configuration files (mtcp.conf, arp.conf, route.conf).
        .target(
            name: "MTCPConfig",
            dependencies: ["MTCP"],
            swiftSettings: crossModuleOptimization
        ),
        // The event log: swift-log's API, one line per event on standard error
        // (journal priorities when it is the journal), a level shared and reloadable.
        .target(
            name: "MTCPEventLog",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        // Start-up shared by the executables: configuration -> EAL -> port -> engine loops.
        .target(
            name: "MTCPRuntime",
            dependencies: ["MTCP", "MTCPConfig", "MTCPDPDK", "CDPDK", "MTCPEventLog",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: importsDPDK
        ),
        // HTTP/1.1 for the appliance and the loadgen: incremental parsers, static
        // file cache, response building. Knows nothing of the stack below it.
        .target(
            name: "MTCPHTTP",
            swiftSettings: crossModuleOptimization
        ),
        // The echo, discard and daytime services: the smallest applications on the socket API.
        .target(
            name: "MTCPServices",
            dependencies: ["MTCP"],
            swiftSettings: crossModuleOptimization
        ),
        // The appliance's HTTP server: one instance per core on the socket API,
        // on the stack alone (the runtime that starts it is the executable's).
        .target(
            name: "MTCPHTTPServer",
            dependencies: ["MTCP", "MTCPConfig", "MTCPHTTP", "MTCPTLS", "MTCPEventLog",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: crossModuleOptimization
        ),
        .executableTarget(
            name: "mtcp-httpd",
            dependencies: [
                "MTCP", "MTCPConfig", "MTCPRuntime", "MTCPHTTP", "MTCPHTTPServer", "MTCPServices", "MTCPTLS",
                "MTCPEventLog", .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: importsDPDK
        ),
        .executableTarget(
            name: "mtcp-loadgen",
            dependencies: [
                "MTCP", "MTCPConfig", "MTCPRuntime", "MTCPHTTP", "MTCPTLS", "COpenSSL", "CZlib",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "loadgen",
            swiftSettings: importsDPDK
        ),
        // Test tool: bridges two interfaces with seeded loss, reordering, duplication
        // and delay (AF_PACKET, no DPDK), since the kernel here has no netem.
        .executableTarget(
            name: "mtcp-impair",
            dependencies: ["CPreciseWait", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Test tool: a multi-queue NIC with RSS, joining a kernel interface to a
        // stack's net_memif queues (there is no RSS NIC on the test machines).
        .executableTarget(
            name: "mtcp-rssnic",
            dependencies: ["MTCP", "MTCPDPDK", "CDPDK", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: importsDPDK
        ),
        // The shared `main` of the fuzz targets: libFuzzer's driver, or a corpus replayer.
        .target(name: "FuzzDriver", path: "Fuzz/Driver"),
        // libFuzzer target for the packet input path (`make fuzz`); a replayer otherwise.
        .executableTarget(
            name: "mtcp-fuzz-packet",
            dependencies: ["MTCP", "FuzzDriver"],
            path: "Fuzz/PacketInput",
            swiftSettings: crossModuleOptimization
        ),
        // libFuzzer target for the HTTP request parser, path normaliser and chunked decoder.
        .executableTarget(
            name: "mtcp-fuzz-http",
            dependencies: ["MTCPHTTP", "FuzzDriver"],
            path: "Fuzz/HTTPParser"
        ),
        .testTarget(
            name: "MTCPImpairTests",
            dependencies: ["mtcp-impair"]
        ),
        .testTarget(
            name: "MTCPRSSNICTests",
            dependencies: ["mtcp-rssnic", "MTCP"],
            swiftSettings: importsDPDK
        ),
        .testTarget(
            name: "MTCPHTTPTests",
            dependencies: ["MTCPHTTP"]
        ),
        // The loadgen's statistics, schedule, error classes and command line.
        .testTarget(
            name: "MTCPLoadgenTests",
            dependencies: ["mtcp-loadgen"],
            swiftSettings: importsDPDK
        ),
        // The HTTP server on a socket context over the virtual link, driven by a
        // client engine sending raw request bytes (no root, explicit time).
        .testTarget(
            name: "MTCPHTTPServerTests",
            dependencies: ["MTCP", "MTCPHTTP", "MTCPHTTPServer", "MTCPTLS", "COpenSSL", "MTCPEventLog",
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "MTCPTests",
            dependencies: ["MTCP", "MTCPConfig", "MTCPRuntime", "MTCPServices", "MTCPEventLog",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: importsDPDK
        ),
    ]
)
