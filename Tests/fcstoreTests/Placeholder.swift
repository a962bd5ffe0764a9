import XCTest
final class fcstoreTestsPlaceholder: XCTestCase { func testBuilds() { XCTAssertTrue(true) } }
