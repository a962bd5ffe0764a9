import FCSQLite
import Foundation
import XCTest

/// Tags, notes, renames, the events trail (`show --history`) and finding runs
/// (`runs --where/--sort/--columns`), through the real binary and store file.
final class RunMetaCLITests: XCTestCase {
    /// `show --json`'s history as (field, old, new).
    private func history(_ workspace: Workspace, _ ref: String) throws -> [[String?]] {
        let events = try XCTUnwrap(try workspace.show(ref)["history"] as? [[String: Any]])
        return events.map { event in ["field", "old", "new"].map { event[$0] as? String } }
    }

    /// The lowest val_loss among a run's own epochs, from `show --json`'s epochs (not from `runs`).
    private func bestValidationLoss(_ workspace: Workspace, _ id: String) throws -> Double {
        let epochs = try XCTUnwrap(try workspace.show(id)["epochs"] as? [[String: Any]])
        let losses = epochs.filter { $0["inherited"] as? Bool == false }.compactMap { ($0["metrics"] as? [String: Any])?["val_loss"] as? Double }
        return try XCTUnwrap(losses.min())
    }

    func testWhereLearningRateSortedByBestValidationLossReturnsExactlyTheExpectedRunsInOrder() throws {
        let workspace = try Workspace()
        var rates: [String: Double] = [:]
        for rate in [0.2, 0.01, 0.04, 0.05, 0.02, 0.1, 0.03] {
            let id = try workspace.train(["--learning-rate", String(rate), "--validation-split", "0.2"], data: CLI.iris, layers: "6,3", epochs: 3)
            rates[id] = rate
        }
        // A model imported from a file has no learning rate: it never matches.
        let exported = workspace.path("model.safetensors")
        try workspace.ok(["export", try XCTUnwrap(rates.keys.first), "--format", "safetensors", "--output", exported])
        try workspace.ok(["import", exported, "--name", "imported"])

        let listed = try XCTUnwrap(try workspace.json(["runs", "--where", "learning_rate<0.05", "--sort", "-best_val_loss"])["runs"] as? [[String: Any]])
        let ids = try listed.map { try XCTUnwrap($0["id"] as? String) }
        // Expected: the runs trained below 0.05, highest best val_loss first, computed from show's epochs.
        let expectedRuns = rates.filter { $0.value < 0.05 }.map(\.key)
        var best: [String: Double] = [:]
        for id in expectedRuns { best[id] = try bestValidationLoss(workspace, id) }
        XCTAssertEqual(Set(best.values).count, 4, "distinct losses, so the order is meaningful")
        XCTAssertEqual(ids, expectedRuns.sorted { best[$0]! > best[$1]! })
        XCTAssertEqual(ids.count, 4)
        for run in listed {
            XCTAssertEqual(run["best_val_loss"] as? Double, best[run["id"] as? String ?? ""], "the listed value is the run's best")
            XCTAssertNotNil(run["tags"] as? [String: Any], "runs --json keeps its keys and adds tags")
        }
        // Two conditions hold together; ascending sort; the same runs in the text table.
        let both = try workspace.json(["runs", "--where", "learning_rate >= 0.02", "--where", "learning_rate<=0.04", "--sort", "learning_rate",
                                       "--columns", "id,learning_rate"])
        let rows = try XCTUnwrap(both["runs"] as? [[String: Any]])
        XCTAssertEqual(rows.compactMap { $0["learning_rate"] as? Double }, [0.02, 0.03, 0.04])
        XCTAssertEqual(Set(rows.first?.keys.map { $0 } ?? []), ["id", "learning_rate"])
        let text = try workspace.ok(["runs", "--where", "status=imported", "--columns", "name,status,learning_rate"]).stdout
        XCTAssertEqual(text, "NAME      STATUS    LEARNING_RATE\nimported  imported  -\n")
    }

    func testEveryChangeOfNameTagsNoteAndStatusIsRecordedInOrder() throws {
        let workspace = try Workspace()
        let id = try workspace.train(["--name", "first"], data: CLI.iris, layers: "4,3", epochs: 1)
        try workspace.ok(["rename", "first", "second"])
        XCTAssertEqual(try workspace.ok(["tag", "second", "team=vision", "stage=try"]).stdout, "run \(id.prefix(8)): set stage=try, team=vision\n")
        try workspace.ok(["tag", "second", "stage=final", "--remove", "team"])
        try workspace.ok(["note", "second", "first note"])
        try workspace.ok(["note", "second", "line 1\nline 2"])
        try workspace.ok(["resume", "second", "--epochs", "2"])
        try workspace.ok(["tag", "second", "stage=final"])  // unchanged: no event

        XCTAssertEqual(try history(workspace, "second"), [
            ["status", "running", "completed"],
            ["name", "first", "second"],
            ["tag.stage", nil, "try"], ["tag.team", nil, "vision"],
            ["tag.stage", "try", "final"], ["tag.team", "vision", nil],
            ["note", nil, "first note"], ["note", "first note", "line 1\nline 2"],
            ["status", "completed", "running"], ["status", "running", "completed"],
        ])
        let show = try workspace.show(id)
        XCTAssertEqual(show["name"] as? String, "second")
        XCTAssertEqual(show["tags"] as? [String: String], ["stage": "final"])
        XCTAssertEqual(show["note"] as? String, "line 1\nline 2")
        let events = try XCTUnwrap(show["history"] as? [[String: Any]])
        let times = events.compactMap { $0["time"] as? String }
        XCTAssertEqual(times, times.sorted())
        XCTAssertTrue(events.allSatisfy { !($0["host"] as? String ?? "").isEmpty && !($0["user"] as? String ?? "").isEmpty })

        let text = try workspace.ok(["show", "second"]).stdout
        XCTAssertTrue(text.contains("\ntags       stage=final\nnote       line 1\n           line 2\n"), text)
        let historyText = try workspace.ok(["show", "second", "--history"]).stdout
        XCTAssertTrue(historyText.contains("tag.team   vision"), historyText)
        XCTAssertFalse(historyText.contains("EPOCH"), "the history replaces the epoch table")
        // The digest does not cover them: verify finds nothing, and runs shows the tags.
        try workspace.ok(["verify"])
        XCTAssertTrue(try workspace.ok(["runs"]).stdout.contains("stage=final"))
        XCTAssertEqual(try workspace.run(id: id)["note"] as? String, "line 1\nline 2")
    }

    func testTagsNotesAndHistorySurviveABundleRoundTrip() throws {
        let source = try Workspace(), target = try Workspace()
        let id = try source.train(["--name", "shared"], data: CLI.iris, layers: "4,3", epochs: 1)
        try source.ok(["tag", "shared", "team=vision", "owner=ana"])
        try source.ok(["note", "shared", "baseline\nfor the paper"])
        let bundle = source.path("shared.fcbundle")
        try source.ok(["export", "shared", "--format", "bundle", "--output", bundle])
        // The target has a run of the same name: the import renames, and records it.
        _ = try target.train(["--name", "shared"], data: CLI.iris, layers: "3,3", epochs: 0)
        try target.ok(["import", bundle])
        let imported = try target.show(id)
        XCTAssertEqual(imported["tags"] as? [String: String], ["team": "vision", "owner": "ana"])
        XCTAssertEqual(imported["note"] as? String, "baseline\nfor the paper")
        let sourceHistory = try history(source, id)
        XCTAssertEqual(try history(target, id), sourceHistory + [["name", "shared", "shared-2"]])
        // Importing again changes nothing.
        try target.ok(["import", bundle])
        XCTAssertEqual(try history(target, id).count, sourceHistory.count + 1)
        // A later change at the source travels; a tag changed only here is kept.
        try source.ok(["tag", "shared", "team=audio"])
        try target.ok(["tag", id, "owner=ben"])
        try source.ok(["export", "shared", "--format", "bundle", "--output", bundle, "--force"])
        try target.ok(["import", bundle])
        XCTAssertEqual(try target.show(id)["tags"] as? [String: String], ["team": "audio", "owner": "ben"])
        XCTAssertEqual(try history(target, id).last, ["tag.team", "vision", "audio"])
        try target.ok(["verify"])
    }

    func testBadKeysValuesNotesAndNamesGetOneLine() throws {
        // Names with letters that are not hex digits: "a" and "b" were also a prefix of
        // the other run's random id one time in sixteen, and ambiguous.
        let workspace = try Workspace()
        _ = try workspace.train(["--name", "owl"], data: CLI.iris, layers: "4,3", epochs: 0)
        _ = try workspace.train(["--name", "yak"], data: CLI.iris, layers: "4,3", epochs: 0)
        let before = try workspace.show("owl")["history"] as? [[String: Any]]
        assertError(try workspace.run(["tag", "owl", "bad key=1"]),
                    "The tag key \"bad key\" may hold only ASCII letters, digits, '_', '-', '.', '/' and ':'. Run 'fcstore tag --help' for usage.", status: 64)
        assertError(try workspace.run(["tag", "owl", "novalue"]),
                    "\"novalue\" is not key=value; write a tag as KEY=VALUE (an empty value is KEY=). Run 'fcstore tag --help' for usage.", status: 64)
        assertError(try workspace.run(["tag", "owl", "k=red\u{1b}[31m"]),
                    "The value of tag k contains a control character or line break. Run 'fcstore tag --help' for usage.", status: 64)
        assertError(try workspace.run(["tag", "owl", "k=" + String(repeating: "x", count: 1001)]),
                    "The value of tag k is longer than 1000 characters. Run 'fcstore tag --help' for usage.", status: 64)
        assertError(try workspace.run(["note", "owl", ""]), "The note is empty. Run 'fcstore note --help' for usage.", status: 64)
        assertError(try workspace.run(["rename", "owl", "yak"]), "A run named \"yak\" already exists. Choose another name.", status: 1)
        assertError(try workspace.run(["rename", "owl", "deadbeef"]),
                    "The run name \"deadbeef\" looks like a run id (8 or more hex digits); choose another name. Run 'fcstore rename --help' for usage.", status: 64)
        let unknown = try workspace.run(["runs", "--where", "lerning_rate<0.1"])
        XCTAssertEqual(unknown.status, 64)
        XCTAssertEqual(unknown.stderrLines.count, 1)
        XCTAssertTrue(unknown.stderr.hasPrefix("error: Unknown key \"lerning_rate\"; the keys are id, "), unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("learning_rate, "), unknown.stderr)
        assertError(try workspace.run(["runs", "--where", "learning_rate"]),
                    "--where \"learning_rate\" is not KEY OP VALUE with OP one of = != < <= > >= (e.g. --where 'learning_rate<0.05'). Run 'fcstore runs --help' for usage.", status: 64)
        XCTAssertEqual(try workspace.show("owl")["history"] as? [[String: Any]] as NSArray?, before as NSArray?, "nothing was written")
        XCTAssertEqual(try workspace.show("owl")["name"] as? String, "owl")
    }

    func testHostileTagAndNoteTextIsEscapedOnTheTerminal() throws {
        let workspace = try Workspace()
        let id = try workspace.train(["--name", "a"], data: CLI.iris, layers: "4,3", epochs: 0)
        // Written behind fcstore's back, as a hand-edited store or another tool could.
        let evil = "x\u{1b}]0;owned\u{07}\n\u{9b}2J"
        let database = try Database(path: workspace.store, readOnly: false, busyTimeoutMilliseconds: 1000)
        try database.execute("INSERT INTO run_tags (run_id, key, value, updated_at) VALUES (?, 'k', ?, '2026-01-01T00:00:00.000Z')", [.text(id), .text(evil)])
        try database.execute("INSERT INTO run_notes (run_id, note, updated_at) VALUES (?, ?, '2026-01-01T00:00:00.000Z')", [.text(id), .text(evil)])
        try database.execute("""
            INSERT INTO events (run_id, changed_at, host, user_name, field, old_value, new_value)
            VALUES (?, '2026-01-01T00:00:00.000Z', ?, 'u', 'tag.k', NULL, ?)
            """, [.text(id), .text(evil), .text(evil)])
        for arguments in [["runs"], ["show", "a"], ["show", "a", "--history"], ["tag", "a"], ["note", "a"], ["runs", "--columns", "name,tag.k,note"]] {
            let output = try workspace.ok(arguments).stdout
            XCTAssertFalse(output.unicodeScalars.contains { $0 == "\u{1b}" || $0 == "\u{07}" || $0 == "\u{9b}" }, "\(arguments): \(output)")
            XCTAssertTrue(output.contains("x\\u{1b}]0;owned\\u{7}"), "\(arguments): \(output)")
        }
        let json = try workspace.ok(["show", "a", "--json"]).stdout
        XCTAssertTrue(json.contains("\\u001b]0;owned\\u0007\\n\\u009b2J"), json)
        XCTAssertEqual(try workspace.show("a")["tags"] as? [String: String], ["k": evil])

        // A bundle carrying such a tag is refused in one line, and nothing is imported.
        let bundle = workspace.path("evil.fcbundle")
        try workspace.ok(["export", "a", "--format", "bundle", "--output", bundle])
        let other = try Workspace()
        _ = try other.train(["--name", "mine"], data: CLI.iris, layers: "4,3", epochs: 0)
        let refused = try other.run(["import", bundle])
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stderrLines.count, 1)
        XCTAssertTrue(refused.stderr.contains("has a tag k whose value contains a control character or line break"), refused.stderr)
        XCTAssertEqual(try other.runs().count, 1)
    }
}
