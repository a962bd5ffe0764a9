import Foundation
import XCTest
@testable import FCStorage
import FCSQLite

/// `Connection.insertBlobs`, the write of a push's blob batch: one binary COPY on
/// PostgreSQL, and, when a blob of the batch arrived meanwhile, the fallback to
/// one `INSERT ... ON CONFLICT DO NOTHING` each, in the same transaction.
class BlobBatchTests: StoreTestCase {
    func testABatchWithABlobAlreadyThereStoresEachOnce() throws {
        try requireBackend()
        let store = try openStore()
        let blobs = (0..<3).map { index -> (hash: [UInt8], bytes: [UInt8]) in
            let bytes = (0..<(1000 + index)).map { UInt8(truncatingIfNeeded: $0 &* (index + 3)) }
            return (SHA256Hasher.hash(bytes), bytes)
        }
        try store.db.writeTransaction { try store.db.insertBlobs([blobs[0], blobs[1]]) }
        // blobs[1] is there already: the batch still stores blobs[2], and nothing twice.
        try store.db.writeTransaction { try store.db.insertBlobs([blobs[1], blobs[2]]) }
        XCTAssertEqual(try store.db.scalar("SELECT count(*) AS n FROM blobs")?.int64, 3)
        for blob in blobs {
            XCTAssertEqual(try store.db.scalar("SELECT data FROM blobs WHERE hash = ?", [.blob(blob.hash)])?.bytes, blob.bytes)
            XCTAssertEqual(try store.db.scalar("SELECT size FROM blobs WHERE hash = ?", [.blob(blob.hash)])?.int64,
                           Int64(blob.bytes.count))
        }
    }
}

final class BlobBatchPostgresTests: BlobBatchTests {
    override class var backend: TestBackend { .postgres }
    override func testABatchWithABlobAlreadyThereStoresEachOnce() throws { try super.testABatchWithABlobAlreadyThereStoresEachOnce() }
}
