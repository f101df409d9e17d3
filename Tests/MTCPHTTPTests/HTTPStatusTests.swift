import MTCPHTTP
import Testing

@Test func statusCodesAreTheirNumbers() {
    #expect(HTTPStatus.notFound.rawValue == 404)
}
