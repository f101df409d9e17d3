/// The bounds a request must stay within, and so the memory a connection can make the
/// server hold. Each limit maps to the status RFC 9110 gives for exceeding it.
public struct HTTPLimits: Hashable, Sendable {
    /// Longest request line, CRLF excluded (414 URI Too Long beyond it). Leading empty
    /// lines are not counted.
    public var maxRequestLineLength: Int
    /// Most header field lines in a head (431 beyond it).
    public var maxHeaderCount: Int
    /// Most bytes of the header section: field lines and the empty line that ends them,
    /// line terminators included (431 beyond it). Also bounds a chunked body's trailers.
    public var maxHeaderBytes: Int
    /// Largest request body, by Content-Length or summed chunk sizes (413 beyond it).
    public var maxBodyBytes: Int
    /// Longest chunk-size line of a chunked body (size and extensions, CRLF excluded):
    /// extensions are skipped, never stored, so this only stops a peer making us scan
    /// without progress (400 beyond it).
    public var maxChunkLineLength: Int
    /// Whether POST and PUT must announce their body (Content-Length or chunked);
    /// without either the request is answered 411 (RFC 9110 §15.5.12). When false
    /// such a request simply has no body (RFC 9112 §6.3 rule 7).
    public var lengthRequired: Bool

    /// Limits close to nginx's defaults (8 KiB lines, 1 MiB bodies).
    public init(maxRequestLineLength: Int = 8192, maxHeaderCount: Int = 100, maxHeaderBytes: Int = 16384,
                maxBodyBytes: Int = 1 << 20, maxChunkLineLength: Int = 1024, lengthRequired: Bool = true) {
        self.maxRequestLineLength = maxRequestLineLength
        self.maxHeaderCount = maxHeaderCount
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
        self.maxChunkLineLength = maxChunkLineLength
        self.lengthRequired = lengthRequired
    }

    /// The longest head a request within these limits can have: the size a connection's
    /// receive buffer needs so that any acceptable head fits in it whole (the parser
    /// works on the caller's contiguous bytes and never copies).
    public var maxHeadLength: Int {
        2 /* one tolerated leading empty line */ + maxRequestLineLength + 2 + maxHeaderBytes
    }
}
