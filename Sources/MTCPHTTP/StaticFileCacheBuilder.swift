import Glibc

/// Builds one generation of a `StaticFileCache`: walks the root, decides what goes
/// in memory, pre-builds every response and freezes it all into raw memory. Runs at
/// start-up and on reload only, so it uses arrays and strings freely.
struct StaticFileCacheBuilder {
    let configuration: StaticFileCacheConfiguration
    let now: Int64

    /// A regular file found under the root.
    private struct FoundFile {
        var key: [UInt8]        // URL path: "/" + path relative to the root
        var realPath: String    // symlinks resolved
    }

    /// A directory found under the root (its URL path ends with "/"; the root is "/").
    private var directories: [[UInt8]] = []
    private var files: [FoundFile] = []
    private var rootPath = ""

    init(configuration: StaticFileCacheConfiguration, now: Int64) {
        self.configuration = configuration
        self.now = now
    }

    consuming func build() throws(StaticFileCacheError) -> StaticFileStorage {
        guard let root = Self.realPath(configuration.documentRoot) else {
            throw StaticFileCacheError(description: "document root \(configuration.documentRoot): \(Self.lastError())")
        }
        rootPath = root
        directories.append(Array("/".utf8))
        try walk(directory: root, key: Array("/".utf8))
        return try freeze()
    }

    // MARK: Walking

    private mutating func walk(directory: String, key: [UInt8]) throws(StaticFileCacheError) {
        guard let stream = opendir(directory) else {
            throw StaticFileCacheError(description: "\(directory): \(Self.lastError())")
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            // Dot files (.git, .htpasswd, editors' swap files) are not content;
            // .well-known is (RFC 8615).
            if name.hasPrefix("."), name != ".well-known" { continue }
            names.append(name)
        }
        for name in names.sorted() {
            let path = directory + "/" + name
            var status = stat()
            guard lstat(path, &status) == 0 else { continue }  // vanished meanwhile
            let childKey = key + Array(name.utf8)
            switch status.st_mode & S_IFMT {
            case S_IFDIR:
                directories.append(childKey + [ASCII.slash])
                try walk(directory: path, key: childKey + [ASCII.slash])
            case S_IFREG, S_IFLNK:
                // realpath for plain files too: it costs little at load, and the
                // check is then the same for every file whatever the path went through.
                guard let real = Self.realPath(path), real.hasPrefix(rootPath + "/") else { continue }
                var target = stat()
                guard stat(real, &target) == 0, target.st_mode & S_IFMT == S_IFREG else { continue }
                files.append(FoundFile(key: childKey, realPath: real))
            default:
                continue  // sockets, devices, FIFOs: never content
            }
        }
    }

    // MARK: Building responses

    private mutating func freeze() throws(StaticFileCacheError) -> StaticFileStorage {
        var arena: [UInt8] = []
        var dates: [DatePatch] = []
        var records: [StaticFileRecord] = []
        var memoryBytes = 0
        var date = [UInt8](repeating: 0, count: HTTPDate.length)
        date.withUnsafeMutableBytes { HTTPDate.format(now, into: $0.baseAddress!) }
        let server = Array(configuration.serverName.utf8)
        let serverSlice = Self.append(server, to: &arena)

        // Open and measure every file first, then fill memory smallest first.
        var opened: [(file: FoundFile, descriptor: Int32, status: stat)] = []
        defer { for entry in opened { close(entry.descriptor) } }
        for file in files {
            let descriptor = open(file.realPath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard descriptor >= 0 else { continue }
            var status = stat()
            guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
                close(descriptor)
                continue
            }
            opened.append((file, descriptor, status))
        }
        // Precompressed variants: `file.gz` / `file.br` beside a served `file`.
        let keys = Set(opened.map(\.file.key))
        let variantOf = opened.map { Self.variant($0.file.key, among: keys) }
        let varied = Set(variantOf.compactMap { $0?.base })
        var budget = configuration.maxMemoryBytes
        var inMemory = Set<Int>()
        for index in opened.indices.sorted(by: { opened[$0].status.st_size < opened[$1].status.st_size }) {
            // Two copies of the body and of a head of at most ~512 bytes; twice that
            // for a variant, which is also served under its own name: so a file
            // that does not fit (a variant) does not end the filling, as a plain
            // file a little larger may still fit after it.
            let cost = (variantOf[index] == nil ? 2 : 4) * (Int(opened[index].status.st_size) + 512)
            guard Int(opened[index].status.st_size) <= configuration.maxFileBytes else { break }
            guard cost <= budget else { continue }
            budget -= cost
            inMemory.insert(index)
        }

        var byKey: [[UInt8]: StaticFileRecord] = [:]
        var variants: [(base: [UInt8], coding: HTTPContentCoding, record: StaticFileRecord)] = []
        for (index, entry) in opened.enumerated() {
            var body: [UInt8] = []
            let memory = inMemory.contains(index)
            if memory {
                guard let content = Self.readAll(entry.descriptor, size: Int(entry.status.st_size)) else {
                    throw StaticFileCacheError(description: "\(entry.file.realPath): \(Self.lastError())")
                }
                body = content
            }
            var file = PreparedFile(key: entry.file.key, realPath: entry.file.realPath, status: entry.status,
                                    body: body, memory: memory)
            file.varies = varied.contains(entry.file.key)
            file.rule = StaticHeaderRule.matching(entry.file.key, in: configuration.headerRules)
            byKey[entry.file.key] = file.record(date: date, server: server, arena: &arena, dates: &dates,
                                                memoryBytes: &memoryBytes)
            if let (base, coding) = variantOf[index] {
                file.coding = coding
                file.varies = true
                file.contentType = base.withUnsafeBytes { MIMEType.forPath($0) }
                file.rule = StaticHeaderRule.matching(base, in: configuration.headerRules)
                variants.append((base, coding, file.record(date: date, server: server, arena: &arena, dates: &dates,
                                                           memoryBytes: &memoryBytes)))
            }
        }
        for (position, variant) in variants.enumerated() {
            switch variant.coding {
            case .gzip: byKey[variant.base]?.gzip = UInt32(position + 1)
            case .brotli: byKey[variant.base]?.brotli = UInt32(position + 1)
            case .identity: break
            }
        }
        records.append(contentsOf: byKey.values)

        // Directories: "/dir/" serves its index.html, "/dir" redirects to "/dir/".
        for directory in directories {
            guard var index = byKey[directory + Array("index.html".utf8)] else { continue }
            index.key = Self.append(directory, to: &arena)
            records.append(index)
            guard directory.count > 1 else { continue }
            let withoutSlash = Array(directory.dropLast())
            records.append(Self.redirect(from: withoutSlash, to: directory, date: date, server: server,
                                         arena: &arena, dates: &dates))
        }

        let errorPages = try errorPageRecords(byKey, date: date, server: server, arena: &arena, dates: &dates)
        let storage = Self.storage(arena: arena, records: records, variants: variants.map(\.record),
                                   errorPages: errorPages, dates: dates, serverName: serverSlice,
                                   memoryBytes: memoryBytes)
        date.withUnsafeBytes { storage.refreshDates(second: now, date: $0) }  // the Expires values
        return storage
    }

    /// The configured error pages as complete responses: the page's type and bytes
    /// under the error's status line. A page must be a file of the root held in
    /// memory (a small file), so that answering with it is one write like any error.
    private func errorPageRecords(_ files: [[UInt8]: StaticFileRecord], date: [UInt8], server: [UInt8],
                                  arena: inout [UInt8], dates: inout [DatePatch]) throws(StaticFileCacheError)
        -> [ErrorPageRecord] {
        var pages: [ErrorPageRecord] = []
        for (code, path) in configuration.errorPages.sorted(by: { $0.key < $1.key }) {
            guard let file = files[Array(path.utf8)] else {
                throw StaticFileCacheError(errorPage: code, "\(path) is not a file of the document root "
                    + "\(configuration.documentRoot) (dot files and paths leaving the root never are)")
            }
            guard file.kind == .memory else {
                throw StaticFileCacheError(errorPage: code, "\(path) is larger than the cache holds in memory "
                    + "(cache.max_file_bytes, cache.max_bytes)")
            }
            let full = arena[Int(file.keepAlive.offset)..<Int(file.keepAlive.offset + file.keepAlive.count)]
            let body = Array(full.dropFirst(Int(file.keepAliveHeadLength)))
            let status = HTTPStatus(rawValue: code)
            let slices = Self.prebuild(status, body: body, date: date, server: server, arena: &arena,
                                       dates: &dates) { fields in
                fields.contentType = UnsafeRawBufferPointer(start: file.contentType.utf8Start,
                                                            count: file.contentType.utf8CodeUnitCount)
                fields.contentLength = body.count
                if status == .methodNotAllowed { fields.allow = HTTPErrorResponses.allowedMethods }
            }
            pages.append(ErrorPageRecord(status: code, keepAlive: slices[0].0, close: slices[1].0))
        }
        return pages
    }

    /// The served file that `key` is a precompressed variant of, and its coding.
    private static func variant(_ key: [UInt8], among keys: Set<[UInt8]>) -> (base: [UInt8], coding: HTTPContentCoding)? {
        let suffixes: [(suffix: [UInt8], coding: HTTPContentCoding)] = [(Array(".gz".utf8), .gzip),
                                                                         (Array(".br".utf8), .brotli)]
        for (suffix, coding) in suffixes where key.count > suffix.count && key.suffix(suffix.count).elementsEqual(suffix) {
            let base = Array(key.dropLast(suffix.count))
            if keys.contains(base) { return (base, coding) }
        }
        return nil
    }

    /// A 301 to the directory's URL with a slash, so that relative links in its index
    /// resolve against the directory.
    private static func redirect(from key: [UInt8], to directory: [UInt8], date: [UInt8], server: [UInt8],
                                 arena: inout [UInt8], dates: inout [DatePatch]) -> StaticFileRecord {
        let location = percentEncoded(directory)
        let slices = location.withUnsafeBytes { locationBytes in
            prebuild(.movedPermanently, date: date, server: server, arena: &arena, dates: &dates) { fields in
                fields.contentLength = 0
                fields.location = locationBytes
            }
        }
        let none = ArenaSlice(offset: 0, count: 0)
        return StaticFileRecord(kind: .redirect, key: append(key, to: &arena),
                                keepAlive: slices[0].0, keepAliveHeadLength: slices[0].1,
                                close: slices[1].0, closeHeadLength: slices[1].1,
                                size: 0, modified: 0, etag: none, lastModified: none,
                                contentType: MIMEType.defaultType, path: none, extraFields: none,
                                expiresSeconds: -1, coding: .identity, varies: false)
    }

    /// The keep-alive and the close form of a response, appended to `arena` (their
    /// Date, and Expires `expiresSeconds` ahead, to `dates`) as (slice, head length):
    /// `configure` sets the fields beyond status, dates, Server and Connection, and
    /// `body` follows the head.
    static func prebuild(_ status: HTTPStatus, body: [UInt8] = [], date: [UInt8], server: [UInt8],
                         expiresSeconds: Int? = nil, arena: inout [UInt8], dates: inout [DatePatch],
                         _ configure: (inout HTTPResponseHead) -> Void) -> [(ArenaSlice, UInt32)] {
        var slices: [(ArenaSlice, UInt32)] = []
        for keepAlive in [true, false] {
            var head = [UInt8]()
            var dateOffset = 0
            date.withUnsafeBytes { dateBytes in
                server.withUnsafeBytes { serverBytes in
                    var fields = HTTPResponseHead(status: status, date: dateBytes, server: serverBytes, keepAlive: keepAlive)
                    if expiresSeconds != nil { fields.expires = dateBytes }  // a placeholder until patched
                    configure(&fields)
                    write(into: &head) { dateOffset = fields.write(into: &$0) }
                }
            }
            let slice = append(head + body, to: &arena)
            dates.append(DatePatch(offset: slice.offset + UInt32(dateOffset), ahead: 0))
            if let expiresSeconds {
                dates.append(DatePatch(offset: slice.offset + UInt32(dateOffset + HTTPResponseHead.expiresOffset),
                                       ahead: Int32(expiresSeconds)))
            }
            slices.append((slice, UInt32(head.count)))
        }
        return slices
    }

    /// A path as a URI path: unreserved characters, "/" and sub-delimiters stay, the
    /// rest is percent-encoded (RFC 3986 §2).
    private static func percentEncoded(_ path: [UInt8]) -> [UInt8] {
        var encoded: [UInt8] = []
        for byte in path {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: "~"), UInt8(ascii: "/"), UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"),
                 UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"),
                 UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: ":"), UInt8(ascii: "@"):
                encoded.append(byte)
            default:
                let digits = Array("0123456789ABCDEF".utf8)
                encoded += [ASCII.percent, digits[Int(byte >> 4)], digits[Int(byte & 0xf)]]
            }
        }
        return encoded
    }

    /// Copies the arrays into raw memory owned by the storage and builds the table.
    private static func storage(arena: [UInt8], records: [StaticFileRecord], variants: [StaticFileRecord],
                                errorPages: [ErrorPageRecord], dates: [DatePatch], serverName: ArenaSlice, memoryBytes: Int) -> StaticFileStorage {
        let rawArena = UnsafeMutableRawBufferPointer.allocate(byteCount: max(arena.count, 1), alignment: 16)
        arena.withUnsafeBytes { rawArena.copyMemory(from: $0) }
        let rawRecords = UnsafeMutableBufferPointer<StaticFileRecord>.allocate(capacity: records.count)
        _ = rawRecords.initialize(from: records)
        let rawVariants = UnsafeMutableBufferPointer<StaticFileRecord>.allocate(capacity: variants.count)
        _ = rawVariants.initialize(from: variants)
        let rawErrorPages = UnsafeMutableBufferPointer<ErrorPageRecord>.allocate(capacity: errorPages.count)
        _ = rawErrorPages.initialize(from: errorPages)
        let rawDates = UnsafeMutableBufferPointer<DatePatch>.allocate(capacity: dates.count)
        _ = rawDates.initialize(from: dates)
        var capacity = 16
        while capacity < 2 * records.count { capacity *= 2 }
        let table = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: capacity)
        table.initialize(repeating: 0)
        var storage = StaticFileStorage(arena: rawArena, records: rawRecords, variants: rawVariants, table: table,
                                        errorPages: rawErrorPages, dates: rawDates, serverName: serverName, memoryBytes: memoryBytes)
        for (index, record) in records.enumerated() {
            var slot = Int(truncatingIfNeeded: StaticFileStorage.hash(storage.bytes(record.key))) & (capacity - 1)
            while table[slot] != 0 { slot = (slot + 1) & (capacity - 1) }
            table[slot] = UInt32(index + 1)
        }
        storage.table = table
        return storage
    }

    // MARK: Helpers

    static func append(_ bytes: [UInt8], to arena: inout [UInt8]) -> ArenaSlice {
        let slice = ArenaSlice(offset: UInt32(arena.count), count: UInt32(bytes.count))
        arena += bytes
        return slice
    }

    /// Runs `body` with a writer over a 2 KiB buffer and appends what it wrote.
    static func write(into bytes: inout [UInt8], _ body: (inout HTTPByteWriter) -> Void) {
        var scratch = [UInt8](repeating: 0, count: 2048)
        let written = scratch.withUnsafeMutableBytes { raw in
            var writer = HTTPByteWriter(raw)
            body(&writer)
            precondition(!writer.overflowed, "a pre-built head exceeded 2 KiB")
            return writer.count
        }
        bytes += scratch[0..<written]
    }

    private static func readAll(_ descriptor: Int32, size: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, size - done, off_t(done)) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return nil }  // error, or the file shrank after fstat
            done += count
        }
        return bytes
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
