/// Content types by file-name extension, for the `Content-Type` of static files.
///
/// Looked up once per file when the cache is built, never per request (a linear
/// scan of a small table is fine there). Text types carry `charset=utf-8` so browsers do not sniff.
public enum MIMEType {
    /// The type used for unknown extensions: opaque bytes, never rendered (RFC 2046 §4.5.1).
    public static let defaultType: StaticString = "application/octet-stream"

    /// The content type of a file named by `path` (only the last segment's extension
    /// counts, compared ignoring case).
    public static func forPath(_ path: UnsafeRawBufferPointer) -> StaticString {
        var dot = path.count
        while dot > 0, path[dot - 1] != ASCII.dot, path[dot - 1] != ASCII.slash { dot -= 1 }
        guard dot > 0, path[dot - 1] == ASCII.dot else { return defaultType }
        return forExtension(UnsafeRawBufferPointer(rebasing: path[dot...]))
    }

    /// The content type for an extension given without its dot.
    public static func forExtension(_ ext: UnsafeRawBufferPointer) -> StaticString {
        for (name, type) in table where ASCII.equalsIgnoringCase(ext, name) { return type }
        return defaultType
    }

    private static let table: [(StaticString, StaticString)] = [
        ("html", "text/html; charset=utf-8"),
        ("htm", "text/html; charset=utf-8"),
        ("css", "text/css; charset=utf-8"),
        ("js", "text/javascript; charset=utf-8"),  // RFC 9239
        ("mjs", "text/javascript; charset=utf-8"),
        ("json", "application/json"),
        ("map", "application/json"),
        ("txt", "text/plain; charset=utf-8"),
        ("md", "text/markdown; charset=utf-8"),
        ("csv", "text/csv; charset=utf-8"),
        ("xml", "application/xml"),
        ("png", "image/png"),
        ("jpg", "image/jpeg"),
        ("jpeg", "image/jpeg"),
        ("gif", "image/gif"),
        ("webp", "image/webp"),
        ("avif", "image/avif"),
        ("svg", "image/svg+xml"),
        ("ico", "image/vnd.microsoft.icon"),
        ("woff", "font/woff"),
        ("woff2", "font/woff2"),
        ("wasm", "application/wasm"),
        ("pdf", "application/pdf"),
        ("zip", "application/zip"),
        ("gz", "application/gzip"),
        ("mp4", "video/mp4"),
        ("webm", "video/webm"),
        ("mp3", "audio/mpeg"),
        ("bin", "application/octet-stream"),
    ]
}
