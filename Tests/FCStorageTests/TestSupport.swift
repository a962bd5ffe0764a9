import FCCore
import Foundation
import XCTest
@testable import FCStorage
import FCSQLite
// SplitMix64 and the process runner, for every file of this target.
@_exported import FCTestSupport

/// A temporary folder per test, removed afterwards.
class StoreTestCase: XCTestCase {
    /// XCTest makes a new instance for every test, so every test has its own folder.
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fcstore-tests-\(UUID().uuidString)")
    /// The backend `openStore`, `location` and `connection` use (BackendFixture.swift);
    /// a PostgreSQL twin of a suite overrides it.
    class var backend: TestBackend { .sqlite }
    /// PostgreSQL: the URI of each store name, and the databases to drop afterwards.
    var databases: [String: String] = [:]
    var createdDatabases: [String] = []

    override func setUpWithError() throws {
        try requireBackend()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
        dropDatabases()
    }

    func path(_ name: String = "store.db") -> String {
        folder.appendingPathComponent(name).path
    }

    func bytes(of path: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path))
    }

    func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? -1
    }

    /// A raw connection for tampering and inspection, bypassing the store.
    func raw(_ path: String) throws -> Database {
        try Database(path: path, readOnly: false, busyTimeoutMilliseconds: 5000)
    }

    func int(_ db: Database, _ sql: String) throws -> Int64 {
        try XCTUnwrap(db.scalar(sql)?.int64, sql)
    }

    /// Runs `body` and returns the `StoreError` it throws, failing the test if it does not.
    func storeError<T>(_ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> StoreError? {
        do {
            _ = try body()
            XCTFail("expected a StoreError, got success", file: file, line: line)
        } catch let error as StoreError {
            return error
        } catch {
            XCTFail("expected a StoreError, got \(error)", file: file, line: line)
        }
        return nil
    }
}

/// Random tensors for a small network `sizes` (e.g. [4, 3, 2]): weight and bias per layer.
func randomTensors(_ sizes: [Int], generator: inout SplitMix64, extraSlots: Bool = false) throws -> [CheckpointTensor] {
    var tensors: [CheckpointTensor] = []
    for layer in 1..<sizes.count {
        let rows = sizes[layer], columns = sizes[layer - 1]
        let weight = (0..<(rows * columns)).map { _ in Float.random(in: -1...1, using: &generator) }
        let bias = (0..<rows).map { _ in Float.random(in: -1...1, using: &generator) }
        tensors.append(CheckpointTensor(layer: layer, role: "weight", value: try TensorValue(shape: [rows, columns], values: weight)))
        tensors.append(CheckpointTensor(layer: layer, role: "bias", value: try TensorValue(shape: [rows], values: bias)))
        if extraSlots {
            tensors.append(CheckpointTensor(layer: layer, role: "weight.m",
                                            value: try TensorValue(shape: [rows, columns], values: [Float](repeating: 0, count: rows * columns))))
        }
    }
    return tensors
}

func checkpointInput(epoch: Int, sizes: [Int] = [4, 3, 2], generator: inout SplitMix64,
                     metrics: [String: Double]? = nil) throws -> CheckpointInput {
    CheckpointInput(epoch: epoch, tensors: try randomTensors(sizes, generator: &generator),
                    metrics: metrics ?? ["train_loss": 1.0 / Double(epoch + 1), "val_loss": 2.0 / Double(epoch + 1)],
                    optimizerState: #"{"step":\#(epoch)}"#, rngState: [UInt8](repeating: UInt8(epoch & 0xFF), count: 16))
}

extension TensorValue {
    var bitPatterns: [UInt32] { values.map(\.bitPattern) }
}

/// Turns a store or bundle of the latest schema into what version 1
/// wrote: migration 0002's index dropped, 0003's views replaced by 0001's,
/// 0004's and 0005's tables and columns dropped, 0006's tables dropped, and only migration 1 recorded.
func downgradeToVersion1SQL() throws -> String {
    let initial = try XCTUnwrap(Migrations.embedded.first?.sql)
    let views = try XCTUnwrap(initial.range(of: "CREATE VIEW run_checkpoints"))
    return """
        \(dropVersion6SQL)
        DROP INDEX metrics_val_loss;
        DROP TABLE segments; ALTER TABLE runs DROP COLUMN lease_expires_at;
        DROP TABLE run_heads; DROP TABLE prunes; ALTER TABLE checkpoints DROP COLUMN origin_run_id;
        DROP VIEW run_summary; DROP VIEW checkpoint_tensors; DROP VIEW blob_usage;
        DROP VIEW epoch_summary; DROP VIEW epoch_metrics; DROP VIEW run_checkpoints;
        \(initial[views.lowerBound...])
        DELETE FROM schema_migrations WHERE version > 1; PRAGMA user_version = 1;
        """
}

/// Drops what migration 0006 creates (tags, notes, events), for tests that make older stores.
let dropVersion6SQL = "DROP TABLE events; DROP TABLE run_notes; DROP TABLE run_tags;"
