import Glibc

/// A file of the document root on its way into the cache: what the builder knows
/// of it, and the pre-built 200 responses (keep-alive and close) it becomes. A
/// precompressed variant (`file.gz` served for `file`) is the same file made into
/// a record a second time, with the base file's type, its coding and `Vary`.
struct PreparedFile {
    var key: [UInt8]
    var realPath: String
    var status: stat
    /// The content when the file is held in memory, else empty.
    var body: [UInt8]
    var memory: Bool
    var contentType: StaticString
    var coding = HTTPContentCoding.identity
    /// Whether the responses carry `Vary: Accept-Encoding` (the file has variants, or is one).
    var varies = false
    /// The configured fields of its path, if a rule matches.
    var rule: StaticHeaderRule?

    init(key: [UInt8], realPath: String, status: stat, body: [UInt8], memory: Bool) {
        self.key = key
        self.realPath = realPath
        self.status = status
        self.body = body
        self.memory = memory
        contentType = key.withUnsafeBytes { MIMEType.forPath($0) }
    }

    /// Appends the file's validators and pre-built responses to `arena` (their Date
    /// offsets to `dates`) and returns the record that points at them.
    func record(date: [UInt8], server: [UInt8], arena: inout [UInt8], dates: inout [DatePatch],
                memoryBytes: inout Int) -> StaticFileRecord {
        let size = Int(status.st_size)
        let modified = Int64(status.st_mtim.tv_sec)
        var etag = [ASCII.quote]
        var lastModified = [UInt8](repeating: 0, count: HTTPDate.length)
        lastModified.withUnsafeMutableBytes { HTTPDate.format(modified, into: $0.baseAddress!) }
        StaticFileCacheBuilder.write(into: &etag) { writer in
            writer.append(hex: UInt64(size))
            writer.append(byte: UInt8(ascii: "-"))
            writer.append(hex: UInt64(max(modified, 0)))
            writer.append(byte: UInt8(ascii: "."))
            writer.append(hex: UInt64(max(status.st_mtim.tv_nsec, 0)))
            // `gzip -k` keeps the source's time: with the coding in it, a variant of
            // the same size still gets a validator of its own (RFC 9110 §8.8.3).
            if coding != .identity {
                writer.append(byte: UInt8(ascii: "-"))
                writer.append(coding.token)
            }
            writer.append(byte: ASCII.quote)
        }
        let etagSlice = StaticFileCacheBuilder.append(etag, to: &arena)
        let lastModifiedSlice = StaticFileCacheBuilder.append(lastModified, to: &arena)
        let keySlice = StaticFileCacheBuilder.append(key, to: &arena)
        let pathSlice = StaticFileCacheBuilder.append(Array(realPath.utf8) + [0], to: &arena)
        let extraFields = rule?.renderedFields ?? []
        let extraSlice = StaticFileCacheBuilder.append(extraFields, to: &arena)
        let slices = etag.withUnsafeBytes { etagBytes in
            lastModified.withUnsafeBytes { lastModifiedBytes in
                extraFields.withUnsafeBytes { extraBytes in
                StaticFileCacheBuilder.prebuild(.ok, body: body, date: date, server: server,
                                                expiresSeconds: rule?.expiresSeconds, arena: &arena,
                                                dates: &dates) { fields in
                    fields.contentType = UnsafeRawBufferPointer(start: contentType.utf8Start,
                                                                count: contentType.utf8CodeUnitCount)
                    fields.contentEncoding = coding == .identity ? nil : coding.token
                    fields.contentLength = size
                    fields.lastModified = lastModifiedBytes
                    fields.etag = etagBytes
                    fields.varyAcceptEncoding = varies
                    fields.acceptRanges = true
                    fields.extraFields = extraBytes.isEmpty ? nil : extraBytes
                }
                }
            }
        }
        if memory { memoryBytes += slices.reduce(0) { $0 + Int($1.1) + body.count } }
        return StaticFileRecord(
            kind: memory ? .memory : .stream, key: keySlice,
            keepAlive: slices[0].0, keepAliveHeadLength: slices[0].1,
            close: slices[1].0, closeHeadLength: slices[1].1,
            size: size, modified: modified, etag: etagSlice, lastModified: lastModifiedSlice,
            contentType: contentType, path: pathSlice, extraFields: extraSlice,
            expiresSeconds: Int32(rule?.expiresSeconds ?? -1), coding: coding, varies: varies)
    }
}
