import XCTest
final class FCNetTestsPlaceholder: XCTestCase { func testBuilds() { XCTAssertTrue(true) } }
