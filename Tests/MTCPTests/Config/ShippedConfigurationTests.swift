import Foundation
import Testing
import MTCP
@testable import MTCPConfig

/// The repository's `conf/` directory, found from this file's path
/// (Tests/MTCPTests/Config/ShippedConfigurationTests.swift).
private let confDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
    .appendingPathComponent("conf").path

/// A fresh directory for files a test writes; removed by the caller.
private func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("mtcp-config-tests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    return path
}

private func write(_ text: String, to path: String) throws {
    try text.write(toFile: path, atomically: false, encoding: .utf8)
}

@Suite struct ShippedConfigurationTests {
    @Test func applianceConfiguration() throws {
        let configuration = try StackConfiguration.load(path: "\(confDirectory)/mtcp.conf")
        #expect(configuration.address == IPv4Network("198.18.0.1/24"))
        #expect(configuration.ports == ["dpdk0"])
        #expect(configuration.vdevs == ["net_af_xdp0,iface=mtcp-a0,start_queue=0,queue_count=1"])
        #expect(configuration.numCores == 1)
        #expect(!configuration.hugepages)
        #expect(configuration.memoryMB == 512)
        #expect(configuration.filePrefix == "mtcp-httpd")
        #expect(configuration.ealArguments(programName: "mtcp-httpd", pid: 1) == [
            "mtcp-httpd", "-l", "0", "--no-pci", "--no-huge", "-m", "512",
            "--file-prefix", "mtcp-httpd", "--vdev", "net_af_xdp0,iface=mtcp-a0,start_queue=0,queue_count=1",
        ])
        #expect(try configuration.loadStaticARPTable().entries.isEmpty)
        #expect(try configuration.loadStaticRouteTable().routes == [
            StaticRoute(network: IPv4Network("198.18.0.0/24")!, port: "dpdk0"),
        ])
    }

    @Test func loadgenConfiguration() throws {
        let configuration = try StackConfiguration.load(path: "\(confDirectory)/loadgen.conf")
        #expect(configuration.address == IPv4Network("198.18.0.3/24"))
        #expect(configuration.ports == ["dpdk0"])
        #expect(configuration.vdevs == ["net_af_xdp1,iface=mtcp-l0,start_queue=0,queue_count=1"])
        #expect(configuration.filePrefix == "mtcp-loadgen")
        #expect(!configuration.hugepages)
        _ = try configuration.loadStaticRouteTable()
    }

    /// Two engines pinned to one core take turns at the scheduler's pace (issue 26:
    /// the README's loadgen run against `make run` did a quarter of its rate).
    @Test func theLoadgenAndTheAppliancePollOnDifferentCores() throws {
        let appliance = try StackConfiguration.load(path: "\(confDirectory)/mtcp.conf")
        let loadgen = try StackConfiguration.load(path: "\(confDirectory)/loadgen.conf")
        #expect(Set(appliance.cores).isDisjoint(with: loadgen.cores))
    }

    @Test func shippedTables() throws {
        #expect(try StaticARPTable.load(path: "\(confDirectory)/arp.conf").entries.isEmpty)
        #expect(try StaticRouteTable.load(path: "\(confDirectory)/route.conf").routes.count == 1)
    }

    @Test func missingOrUnreadableFiles() throws {
        let missing = "\(confDirectory)/no-such.conf"
        #expect(throws: ConfigurationError(file: missing, message: "cannot read: No such file or directory")) {
            try StackConfiguration.load(path: missing)
        }
        #expect(throws: ConfigurationError(file: confDirectory, message: "cannot read: Is a directory")) {
            try StaticARPTable.load(path: confDirectory)
        }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let binary = "\(directory)/binary.conf"
        try Data([0x52, 0x4F, 0xFF, 0xFE]).write(to: URL(fileURLWithPath: binary))
        #expect(throws: ConfigurationError(file: binary, message: "cannot read: not valid UTF-8 text")) {
            try StaticRouteTable.load(path: binary)
        }
    }

    @Test func missingDefaultTablesMeanNoEntries() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try write("ip_addr = 198.18.0.1/24\nport = dpdk0\n", to: "\(directory)/mtcp.conf")
        let configuration = try StackConfiguration.load(path: "\(directory)/mtcp.conf")
        #expect(try configuration.loadStaticARPTable().entries.isEmpty)
        #expect(try configuration.loadStaticRouteTable().routes.isEmpty)
    }

    @Test func missingNamedTableIsAnErrorOnItsLine() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = "\(directory)/mtcp.conf"
        try write("ip_addr = 198.18.0.1/24\nport = dpdk0\narp_conf = static-arp.conf\nroute_conf = routes.conf\n", to: file)
        let configuration = try StackConfiguration.load(path: file)
        #expect(throws: ConfigurationError(file: file, line: 3, key: "arp_conf",
                                           message: "cannot read '\(directory)/static-arp.conf': No such file or directory")) {
            try configuration.loadStaticARPTable()
        }
        #expect(throws: ConfigurationError(file: file, line: 4, key: "route_conf",
                                           message: "cannot read '\(directory)/routes.conf': No such file or directory")) {
            try configuration.loadStaticRouteTable()
        }
        // Once present, the named files are read relative to mtcp.conf, and routes are validated.
        try write("ARP_ENTRY 1\n198.18.0.2/32 02:00:00:00:00:02\n", to: "\(directory)/static-arp.conf")
        try write("ROUTES 1\n10.0.0.0/8 dpdk3\n", to: "\(directory)/routes.conf")
        #expect(try configuration.loadStaticARPTable().entries.map(\.address) == [IPv4Address(198, 18, 0, 2)])
        #expect(throws: ConfigurationError(file: "\(directory)/routes.conf", line: 2,
                                           message: "port 'dpdk3' is not configured (port = dpdk0)")) {
            try configuration.loadStaticRouteTable()
        }
    }
}
