import XCTest
final class FCStorageTestsPlaceholder: XCTestCase { func testBuilds() { XCTAssertTrue(true) } }
