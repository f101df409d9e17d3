/// One line a second at most for an event a peer can repeat at will (failed
/// TLS handshakes, malformed requests): a flood of them must not become a
/// flood of lines. Those not shown are counted and the next line says how
/// many (each is counted in the statistics all the same). Per core, per kind
/// of event; no allocation.
public struct EventRateLimit {
    private var lastSecond: Int64 = -1
    private var unreported = 0

    public init() {}

    /// Whether an event of `second` (any monotonic second count) may be logged;
    /// if so, how many were held back since the last one shown, else nil.
    public mutating func admit(second: Int64) -> Int? {
        guard second != lastSecond else {
            unreported += 1
            return nil
        }
        lastSecond = second
        defer { unreported = 0 }
        return unreported
    }

    /// " (N more not shown)", or nothing.
    public static func suffix(_ heldBack: Int, what: String) -> String {
        heldBack > 0 ? " (\(heldBack) more \(what) not shown)" : ""
    }
}
