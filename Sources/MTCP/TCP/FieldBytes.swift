/// Where a stored field lies in its struct, in bytes: for `ConnectionPool`,
/// which resets a released control block by copying around the loss state's
/// inline arrays (`TCPConnection.inlineArrayBytes`).
extension MemoryLayout {
    /// The bytes `field`, a stored property of `T`, occupies in a `T`.
    static func bytes<Field>(of field: KeyPath<T, Field>) -> Range<Int> {
        let offset = offset(of: field)!
        return offset..<offset + MemoryLayout<Field>.size
    }

    /// `range`, bytes of the stored property `field`, as bytes of a `T`.
    static func bytes<Field>(_ range: Range<Int>, within field: KeyPath<T, Field>) -> Range<Int> {
        let offset = offset(of: field)!
        return range.lowerBound + offset..<range.upperBound + offset
    }
}
