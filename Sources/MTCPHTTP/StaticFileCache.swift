import Glibc

/// How a `StaticFileCache` is built.
public struct StaticFileCacheConfiguration: Hashable, Sendable {
    /// The directory whose files are served; nothing outside it ever is.
    public var documentRoot: String
    /// The Server field of every response.
    public var serverName: String
    /// Bytes of pre-built responses held in memory, in total. Files beyond it are
    /// streamed. Each cached file takes about twice its size (see `StaticFileCache`).
    public var maxMemoryBytes: Int
    /// Largest file held in memory; larger ones are streamed from disk.
    public var maxFileBytes: Int
    /// Cache-Control, Expires and extra fields by path prefix.
    public var headerRules: [StaticHeaderRule]
    /// Error statuses answered with a page of the root instead of the built-in one
    /// (status -> URL path of the page, e.g. 404 -> `/404.html`).
    public var errorPages: [UInt16: String]

    /// A configuration; the defaults hold a site's files of up to 4 MiB in 64 MiB.
    public init(documentRoot: String, serverName: String = "mtcp-httpd", maxMemoryBytes: Int = 64 << 20,
                maxFileBytes: Int = 4 << 20, headerRules: [StaticHeaderRule] = [],
                errorPages: [UInt16: String] = [:]) {
        self.documentRoot = documentRoot
        self.serverName = serverName
        self.maxMemoryBytes = maxMemoryBytes
        self.maxFileBytes = maxFileBytes
        self.headerRules = headerRules
        self.errorPages = errorPages
    }
}

/// Why a cache could not be built (start-up or reload).
public struct StaticFileCacheError: Error, CustomStringConvertible, Sendable {
    /// What failed, naming the path.
    public var description: String
    /// When an `error_pages` entry is at fault: its status, so a configuration
    /// check can point at that key's line.
    public var errorPageStatus: UInt16?

    init(description: String) { self.description = description }

    init(errorPage status: UInt16, _ problem: String) {
        description = "error page for \(status): \(problem)"
        errorPageStatus = status
    }
}

/// A part of a file to send after a response head, for files too large for memory.
public struct StaticFileStream {
    /// The file's real path (NUL-terminated, symlinks resolved at load), valid until
    /// the second `reload()` after the response was obtained.
    public var path: UnsafePointer<CChar>
    /// First byte to send.
    public var offset: Int
    /// Bytes to send.
    public var count: Int
    /// The file's size when it was loaded.
    public var size: Int
    /// The file's modification time when it was loaded (seconds since 1970).
    public var modified: Int64

    /// Opens the file for reading, refusing a final symlink and a file that changed
    /// since it was loaded (its head, with Content-Length and ETag, would be a lie):
    /// returns the descriptor, or -1 (then answer 500 and, ideally, reload).
    public func open() -> Int32 {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { return -1 }
        var status = stat()
        guard fstat(descriptor, &status) == 0, Int(status.st_size) == size, Int64(status.st_mtim.tv_sec) == modified else {
            close(descriptor)
            return -1
        }
        return descriptor
    }
}

/// What to send for a static file request: `head`, then `body`, then `file` if any.
public struct StaticFileResponse {
    /// The status, for the access log and statistics.
    public var status: HTTPStatus
    /// Bytes to write first: the head. For a 200 or 301 it lies in the cache,
    /// for 206/304/416 in the caller's scratch buffer.
    public var head: UnsafeRawBufferPointer
    /// Content from memory to write after `head` (a 200 or 206 from memory),
    /// else empty. A 200's content follows its head in memory: the two can be
    /// written as one buffer.
    public var body: UnsafeRawBufferPointer
    /// The part of a file to stream after `head` and `body`, for files not in memory.
    public var file: StaticFileStream?
    /// Bytes of content sent (the access log's `%b`).
    public var contentLength: Int
}

/// The static files of a document root with their responses pre-built, one per core.
///
/// At start-up (and on `reload()`) the root is walked; every regular file gets an
/// entry under its URL path. A file up to `maxFileBytes`, while the memory budget
/// lasts (smallest files first, so the most requests hit memory), is held as its
/// COMPLETE 200 response, head and body contiguous, so a hit can be one write of
/// one buffer (`response` hands them apart, for a server that sends the content
/// by reference). Two copies are kept, one with `Connection: keep-alive` and one with
/// `Connection: close`: both kinds of connection are hot (benchmarks of short flows
/// close after each request), and a second copy is cheaper than splitting every
/// close response into two writes. A HEAD request gets the same bytes up to the end
/// of the head. Larger files keep only their pre-built heads and are streamed.
///
/// - Directories are served by their `index.html` at `/dir/`; `/dir` is redirected
///   there (301); a directory without one is 404, never listed.
/// - Only what the walk found is served: lookups never touch the file system.
///   Symlinks are followed only to files whose real path is inside the root
///   (checked with `realpath` at load); symlinked directories are not followed (no
///   cycles). Dot files are skipped, except the `.well-known` directory (RFC 8615).
/// - Lookups hash the decoded path into an open-addressing table: no allocation.
/// - The Date of every pre-built response is patched in place by `refreshDate`,
///   once a second, never formatted per request.
/// - `reload()` rebuilds everything from disk into new memory. The previous
///   generation stays allocated until the next reload, so responses still being
///   written when a reload happens stay valid: pointers from `response` are valid
///   until the second reload after they were obtained, and then until
///   `freeDroppedGeneration()`, which the caller calls once it has stopped every
///   use of them.
public struct StaticFileCache: ~Copyable {
    /// How the cache was built.
    public private(set) var configuration: StaticFileCacheConfiguration
    /// Incremented by each `reload()`.
    public private(set) var generation = 0
    private var storage: StaticFileStorage
    /// The previous generation, still valid for responses being written.
    private var retired: StaticFileStorage?
    /// The generation before that, out of service since the last reload and
    /// freed by `freeDroppedGeneration()`.
    private var dropped: StaticFileStorage?

    /// The smallest scratch buffer `response` accepts: room for the longest head it
    /// builds (server names are limited to 64 bytes by the configuration).
    public static let minimumScratchBytes = 1024

    /// Walks the document root and builds the cache. `now` dates the responses.
    public init(configuration: StaticFileCacheConfiguration, now: Int64) throws(StaticFileCacheError) {
        self.configuration = configuration
        storage = try StaticFileCacheBuilder(configuration: configuration, now: now).build()
    }

    deinit {
        storage.free()
        retired?.free()
        dropped?.free()
    }

    /// Rebuilds the cache from disk (a signal handler of the server asks for it),
    /// picking up new, changed and removed files, with `configuration` when a
    /// reloaded configuration gives a new one. On failure the cache is unchanged.
    /// The generation before the previous one goes out of service but keeps its
    /// memory until `freeDroppedGeneration()`: the caller first stops whatever
    /// still reads it (a connection still sending a response from it).
    public mutating func reload(configuration newConfiguration: StaticFileCacheConfiguration? = nil,
                                now: Int64) throws(StaticFileCacheError) {
        let configuration = newConfiguration ?? configuration
        let fresh = try StaticFileCacheBuilder(configuration: configuration, now: now).build()
        self.configuration = configuration
        freeDroppedGeneration()
        dropped = retired
        retired = storage
        storage = fresh
        generation += 1
    }

    /// Frees the generation the last `reload` took out of service. Call it
    /// once nothing reads responses from generations below `generation - 1`.
    public mutating func freeDroppedGeneration() {
        dropped?.free()
        dropped = nil
    }

    /// Number of URL paths served (files, directory indexes and redirects).
    public var entryCount: Int { storage.records.count }
    /// Bytes of pre-built responses held in memory.
    public var memoryBytes: Int { storage.memoryBytes }

    /// Writes the clock's date into every pre-built response; call it when
    /// `HTTPDateClock.update` reports a new second. (A response being written at that
    /// moment may go out with a date mixing two seconds: still a valid date.)
    public func refreshDate(_ clock: HTTPDateClock) {
        clock.withBytes { storage.refreshDates(second: clock.second, date: $0) }
    }

    /// The configured page for an error `status` as a complete response, or nil
    /// when the status has none (`errorPages`). Built with the files, so it stays
    /// valid as long as a file response would (see `reload`).
    public func errorPage(for status: HTTPStatus, keepAlive: Bool) -> UnsafeRawBufferPointer? {
        for page in storage.errorPages where page.status == status.rawValue {
            return storage.bytes(keepAlive ? page.keepAlive : page.close)
        }
        return nil
    }

    /// Whether anything is served at `path` (a normalised path): what OPTIONS asks.
    public func serves(_ path: UnsafeRawBufferPointer) -> Bool {
        storage.find(path) != nil
    }

    /// The response to a GET or HEAD of `path` (a path normalised by
    /// `HTTPTargetPath.normalize`), or nil when nothing is served there (404).
    /// Conditionals and Range of `head` (whose spans point into `request`) are
    /// honoured: If-None-Match, else If-Modified-Since -> 304; then for GET, Range
    /// (subject to If-Range) -> 206 or 416. Heads that depend on the request are
    /// written into `scratch` (at least `minimumScratchBytes`), dated by `clock`.
    /// Mutating only so that `self` comes by address: as a value, the server
    /// copied the whole 297-byte cache to call it, for every request.
    public mutating func response(to head: HTTPRequestHead, in request: UnsafeRawBufferPointer,
                         path: UnsafeRawBufferPointer, clock: HTTPDateClock,
                         scratch: UnsafeMutableRawBufferPointer) -> StaticFileResponse? {
        precondition(scratch.count >= Self.minimumScratchBytes, "scratch buffer too small")
        guard var record = storage.find(path) else { return nil }
        if record.gzip != 0 || record.brotli != 0, let acceptEncoding = head.acceptEncoding {
            switch HTTPContentCoding.negotiate(acceptEncoding.bytes(in: request), gzip: record.gzip != 0,
                                               brotli: record.brotli != 0) {
            case .gzip: record = storage.variants[Int(record.gzip) - 1]
            case .brotli: record = storage.variants[Int(record.brotli) - 1]
            case .identity: break
            }
        }
        let keepAlive = head.keepAlive
        let full = storage.bytes(keepAlive ? record.keepAlive : record.close)
        let headLength = Int(keepAlive ? record.keepAliveHeadLength : record.closeHeadLength)
        if record.kind == .redirect {
            return StaticFileResponse(status: .movedPermanently, head: full, body: .init(start: nil, count: 0),
                                      file: nil, contentLength: 0)
        }
        let etag = storage.bytes(record.etag)
        if let ifNoneMatch = head.ifNoneMatch {
            if HTTPConditional.noneMatch(ifNoneMatch.bytes(in: request), matches: etag) {
                return small(.notModified, record, keepAlive, clock, scratch)
            }
        } else if let since = head.ifModifiedSince,
                  HTTPConditional.notModified(since: since.bytes(in: request), lastModified: record.modified,
                                              now: clock.second) {
            return small(.notModified, record, keepAlive, clock, scratch)
        }
        let isHead = head.method == .head
        if !isHead, let range = head.range,
           head.ifRange.map({ HTTPConditional.ifRange($0.bytes(in: request), etag: etag, lastModified: record.modified,
                                                      now: clock.second) }) ?? true {
            switch HTTPRangeRequest(range.bytes(in: request), length: record.size) {
            case .whole:
                break
            case .unsatisfiable:
                return small(.rangeNotSatisfiable, record, keepAlive, clock, scratch)
            case .satisfiable(let first, let last):
                let partHead = small(.partialContent, record, keepAlive, clock, scratch, range: (first, last))
                let count = last - first + 1
                if record.kind == .memory {
                    let body = UnsafeRawBufferPointer(rebasing: full[(headLength + first)..<(headLength + first + count)])
                    return StaticFileResponse(status: .partialContent, head: partHead.head, body: body, file: nil,
                                              contentLength: count)
                }
                return StaticFileResponse(status: .partialContent, head: partHead.head, body: .init(start: nil, count: 0),
                                          file: stream(record, offset: first, count: count), contentLength: count)
            }
        }
        let headOnly = UnsafeRawBufferPointer(rebasing: full[0..<headLength])
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        if isHead {
            return StaticFileResponse(status: .ok, head: headOnly, body: empty, file: nil, contentLength: 0)
        }
        if record.kind == .memory {
            return StaticFileResponse(status: .ok, head: headOnly, body: UnsafeRawBufferPointer(rebasing: full[headLength...]),
                                      file: nil, contentLength: record.size)
        }
        return StaticFileResponse(status: .ok, head: headOnly, body: empty,
                                  file: stream(record, offset: 0, count: record.size), contentLength: record.size)
    }

    private func stream(_ record: StaticFileRecord, offset: Int, count: Int) -> StaticFileStream {
        let path = storage.arena.baseAddress!.advanced(by: Int(record.path.offset)).assumingMemoryBound(to: CChar.self)
        return StaticFileStream(path: path, offset: offset, count: count, size: record.size, modified: record.modified)
    }

    /// A 304, 416 or the head of a 206, built in `scratch`.
    private func small(_ status: HTTPStatus, _ record: StaticFileRecord, _ keepAlive: Bool, _ clock: HTTPDateClock,
                       _ scratch: UnsafeMutableRawBufferPointer, range: (Int, Int)? = nil) -> StaticFileResponse {
        var writer = HTTPByteWriter(scratch)
        clock.withBytes { date in
            var head = HTTPResponseHead(status: status, date: date, server: storage.bytes(storage.serverName),
                                        keepAlive: keepAlive)
            head.etag = storage.bytes(record.etag)
            head.varyAcceptEncoding = record.varies
            if status != .rangeNotSatisfiable {
                // RFC 9110 §15.4.5: a 304 carries the Cache-Control and Expires a 200 would.
                head.extraFields = record.extraFields.count == 0 ? nil : storage.bytes(record.extraFields)
                head.expires = record.expiresSeconds < 0 ? nil : date  // the date is overwritten below
            }
            switch status {
            case .notModified:
                // RFC 9110 §15.4.5: the validators a 200 would carry, no content fields.
                head.lastModified = storage.bytes(record.lastModified)
            case .rangeNotSatisfiable:
                head.contentLength = 0
                head.unsatisfiedRangeLength = record.size
                head.etag = nil
            default:
                let (first, last) = range!
                head.contentType = UnsafeRawBufferPointer(start: record.contentType.utf8Start,
                                                          count: record.contentType.utf8CodeUnitCount)
                head.contentEncoding = record.coding == .identity ? nil : record.coding.token
                head.contentLength = last - first + 1
                head.contentRange = (first, last, record.size)
                head.lastModified = storage.bytes(record.lastModified)
                head.acceptRanges = true
            }
            let dateOffset = head.write(into: &writer)
            if head.expires != nil, !writer.overflowed {
                HTTPDate.format(clock.second + Int64(record.expiresSeconds),
                                into: scratch.baseAddress! + dateOffset + HTTPResponseHead.expiresOffset)
            }
        }
        precondition(!writer.overflowed, "minimumScratchBytes is too small for this head")
        return StaticFileResponse(status: status, head: writer.written, body: .init(start: nil, count: 0), file: nil,
                                  contentLength: 0)
    }
}

/// An error status's page: its responses with and without keep-alive.
struct ErrorPageRecord {
    var status: UInt16
    var keepAlive: ArenaSlice
    var close: ArenaSlice
}

/// A date in the arena that moves with the clock: a Date (`ahead` 0) or an Expires.
struct DatePatch {
    var offset: UInt32
    var ahead: Int32
}

/// A range of the cache's arena.
struct ArenaSlice {
    var offset: UInt32
    var count: UInt32
}

/// One URL path of the cache. All bytes live in the arena.
struct StaticFileRecord {
    enum Kind: UInt8 { case memory, stream, redirect }
    var kind: Kind
    var key: ArenaSlice
    /// The complete keep-alive response (memory), or its head (stream, redirect).
    var keepAlive: ArenaSlice
    var keepAliveHeadLength: UInt32
    /// The same with `Connection: close`.
    var close: ArenaSlice
    var closeHeadLength: UInt32
    var size: Int
    var modified: Int64
    var etag: ArenaSlice
    var lastModified: ArenaSlice
    var contentType: StaticString
    /// The real path as a C string (stream).
    var path: ArenaSlice
    /// Configured field lines (Cache-Control, extra fields); empty for none.
    var extraFields: ArenaSlice
    /// Expires is Date + this many seconds; -1 for no Expires.
    var expiresSeconds: Int32
    /// The coding of a precompressed variant; identity for the file itself.
    var coding: HTTPContentCoding
    /// Whether its responses say `Vary: Accept-Encoding`.
    var varies: Bool
    /// The gzip and Brotli variants: position + 1 in the storage's `variants`, 0 for none.
    var gzip: UInt32 = 0
    var brotli: UInt32 = 0
}

/// One generation of the cache: raw memory, freed explicitly (the cache is
/// non-copyable, so exactly one owner frees it).
struct StaticFileStorage {
    var arena: UnsafeMutableRawBufferPointer
    var records: UnsafeMutableBufferPointer<StaticFileRecord>
    /// Precompressed variants, reached from their base file's record only (never
    /// looked up by path: `/file.gz` itself is an ordinary record).
    var variants: UnsafeMutableBufferPointer<StaticFileRecord>
    /// Open addressing, linear probing: record index + 1, 0 for empty. At most half full.
    var table: UnsafeMutableBufferPointer<UInt32>
    /// The configured error pages' complete responses.
    var errorPages: UnsafeMutableBufferPointer<ErrorPageRecord>
    /// Every Date and Expires value to patch.
    var dates: UnsafeMutableBufferPointer<DatePatch>
    var serverName: ArenaSlice
    var memoryBytes: Int

    func free() {
        arena.deallocate()
        records.deallocate()
        variants.deallocate()
        errorPages.deallocate()
        table.deallocate()
        dates.deallocate()
    }

    /// Writes `date` (the IMF-fixdate of `second`) into every Date value, and
    /// `second` + N into every Expires value N seconds ahead.
    func refreshDates(second: Int64, date: UnsafeRawBufferPointer) {
        guard let arena = arena.baseAddress else { return }
        for patch in dates {
            if patch.ahead == 0 {
                (arena + Int(patch.offset)).copyMemory(from: date.baseAddress!, byteCount: HTTPDate.length)
            } else {
                HTTPDate.format(second + Int64(patch.ahead), into: arena + Int(patch.offset))
            }
        }
    }

    func bytes(_ slice: ArenaSlice) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: arena[Int(slice.offset)..<Int(slice.offset + slice.count)])
    }

    /// FNV-1a: the table only holds paths found on disk, so a client cannot choose
    /// colliding keys to fill it, and at half load a miss ends after a few probes
    /// whatever it hashes to.
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    func find(_ path: UnsafeRawBufferPointer) -> StaticFileRecord? {
        let mask = table.count - 1
        var slot = Int(truncatingIfNeeded: Self.hash(path)) & mask
        while case let entry = table[slot], entry != 0 {
            let record = records[Int(entry) - 1]
            let key = bytes(record.key)
            if key.count == path.count, key.count == 0 || memcmp(key.baseAddress!, path.baseAddress!, key.count) == 0 {
                return record
            }
            slot = (slot + 1) & mask
        }
        return nil
    }
}
