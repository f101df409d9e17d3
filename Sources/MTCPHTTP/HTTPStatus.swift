/// The HTTP status codes the appliance sends or checks (RFC 9110 §15).
public struct HTTPStatus: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let ok = HTTPStatus(rawValue: 200)
    public static let badRequest = HTTPStatus(rawValue: 400)
    public static let notFound = HTTPStatus(rawValue: 404)
    public static let badGateway = HTTPStatus(rawValue: 502)
}
