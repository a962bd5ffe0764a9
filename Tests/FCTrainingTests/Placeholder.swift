import XCTest
final class FCTrainingPlaceholder: XCTestCase { func testBuilds() { XCTAssertTrue(true) } }
