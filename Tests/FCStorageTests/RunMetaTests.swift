import Foundation
import XCTest
@testable import FCStorage
import FCSQLite

/// Tags, notes, renames and the events trail at the store level: one writer,
/// one event per real change, outside the digests, kept after `rm`.
final class RunMetaTests: StoreTestCase {
    private func fields(_ store: Store, _ runID: String) throws -> [[String?]] {
        try store.events(runID: runID).map { [$0.field, $0.oldValue, $0.newValue] }
    }

    func testStatusChangesFromSetStatusAndClaimRunAreEvents() throws {
        let store = try Store(path: path())
        let run = try store.createRun(name: nil, config: "{}", seed: 1, owner: "host:1:1")
        try store.setStatus(runID: run.id, .interrupted)
        XCTAssertTrue(try store.claimRun(runID: run.id, expectedOwner: nil, newOwner: "host:2:2"))
        // A claim that fails changes nothing; a status set to itself records nothing.
        XCTAssertFalse(try store.claimRun(runID: run.id, expectedOwner: "someone", newOwner: "host:3:3"))
        try store.setStatus(runID: run.id, .running, owner: "host:2:2")
        try store.setStatus(runID: run.id, .completed)
        XCTAssertEqual(try fields(store, run.id), [
            ["status", "running", "interrupted"], ["status", "interrupted", "running"], ["status", "running", "completed"],
        ])
        let events = try store.events(runID: run.id)
        XCTAssertTrue(events.allSatisfy { $0.host == EventActor.current.host && $0.user == EventActor.current.user })
        XCTAssertEqual(events.map(\.changedAt), events.map(\.changedAt).sorted())
        XCTAssertEqual(try store.run(id: run.id).owner, nil)
        if case .noSuchRun? = storeError({ try store.setStatus(runID: "00000000-0000-4000-8000-000000000000", .completed) }) {} else { XCTFail("noSuchRun") }
    }

    func testTagsNotesAndNamesAreOutsideTheDigestAndTheirTrailOutlivesTheRun() throws {
        let store = try Store(path: path())
        let run = try store.createRun(name: "a", config: "{}", seed: 1)
        let other = try store.createRun(name: "b", config: "{}", seed: 2)
        XCTAssertEqual(try store.setTags(runID: run.id, set: ["k": "1", "e": ""]), [.tag("e"), .tag("k")])
        XCTAssertEqual(try store.setTags(runID: run.id, set: ["k": "1"], remove: ["missing"]), [], "nothing changed")
        XCTAssertTrue(try store.setNote(runID: run.id, "n"))
        XCTAssertTrue(try store.rename(runID: run.id, to: "c"))
        XCTAssertFalse(try store.rename(runID: run.id, to: "c"))
        if case .nameTaken("b")? = storeError({ try store.rename(runID: run.id, to: "b") }) {} else { XCTFail("nameTaken") }
        if case .invalidInput? = storeError({ try store.setTags(runID: run.id, set: ["a=b": "1"]) }) {} else { XCTFail("key") }
        if case .invalidInput? = storeError({ try store.setNote(runID: run.id, "bell\u{07}") }) {} else { XCTFail("note") }
        XCTAssertEqual(try store.tags(runID: run.id), ["k": "1", "e": ""])
        XCTAssertEqual(try store.note(runID: run.id), "n")
        XCTAssertEqual(try store.verify(), [])
        let listed = try XCTUnwrap(try store.runs().first { $0.run.id == run.id })
        XCTAssertEqual(listed.tags, ["k": "1", "e": ""])
        XCTAssertEqual(listed.note, "n")
        XCTAssertEqual(listed.run.name, "c")
        XCTAssertEqual(try store.runs().first { $0.run.id == other.id }?.tags, [:])

        _ = try store.removeRun(runID: run.id, force: false)
        let db = try raw(path())
        XCTAssertEqual(try int(db, "SELECT count(*) FROM run_tags"), 0, "deleted with the run")
        XCTAssertEqual(try int(db, "SELECT count(*) FROM run_notes"), 0)
        XCTAssertEqual(try fields(store, run.id), [
            ["tag.e", nil, ""], ["tag.k", nil, "1"], ["note", nil, "n"], ["name", "a", "c"],
        ], "the trail stays")
        XCTAssertEqual(try store.verify(), [])
    }
}
