import Foundation
import XCTest

/// Argument parsing, help and usage errors, as exact text from the built binary.
final class CLIParsingTests: XCTestCase {
    static let refSyntax = "A reference is RUN, RUN@EPOCH or RUN@best (RUN is a run name or id prefix, EPOCH a number)."

    func testAMistypedSubcommandGetsASuggestion() throws {
        let workspace = try Workspace()
        for (typed, meant) in [("trian", "train"), ("rnus", "runs"), ("shwo", "show"), ("evalute", "evaluate"), ("expor", "export")] {
            assertError(try workspace.run([typed]),
                        "Unknown command '\(typed)'. Did you mean '\(meant)'? Run 'fcstore --help' for the list of commands.", status: 64)
            // Also after a leading --store, and with the subcommand's own arguments.
            assertError(try workspace.run(["--store", "x.db", typed, "--data", "d.csv"]),
                        "Unknown command '\(typed)'. Did you mean '\(meant)'? Run 'fcstore --help' for the list of commands.", status: 64)
        }
        assertError(try workspace.run(["zzzzzz"]), "Unknown command 'zzzzzz'. Run 'fcstore --help' for the list of commands.", status: 64)
        XCTAssertFalse(FileManager.default.fileExists(atPath: workspace.path("x.db")))
    }

    func testUnknownOptionSuggestionEndsInOneQuestionMark() throws {
        let workspace = try Workspace()
        assertError(try workspace.run(["runs", "--storee"]),
                    "Unknown option '--storee'. Did you mean '--store'? Run 'fcstore runs --help' for usage.", status: 64)
    }

    func testABadReferenceRepeatsTheSyntax() throws {
        let workspace = try Workspace()
        for (command, value, name) in [(["show"], "long@bset", "<ref>"), (["show"], "a@b@c", "<ref>"), (["show"], "@3", "<ref>"),
                                       (["resume"], "long@-1", "<ref>"), (["diff", "a"], "b@x", "<ref-b>"),
                                       (["export", "--format", "json", "--output", "m.json"], "r@1.5", "<ref>")] {
            assertError(try workspace.run(command + [value]),
                        "The value '\(value)' is invalid for '\(name)'. \(Self.refSyntax) Run 'fcstore \(command[0]) --help' for usage.",
                        status: 64)
        }
        assertError(try workspace.run(["train", "--data", "d.csv", "--init", "m@last"]),
                    "The value 'm@last' is invalid for '--init <ref>'. \(Self.refSyntax) Run 'fcstore train --help' for usage.", status: 64)
        // A value that is not a reference gets no such sentence.
        assertError(try workspace.run(["train", "--data", "d.csv", "--layers", "3", "--optimizer", "sdg"]),
                    "The value 'sdg' is invalid for '--optimizer <name>'. Please provide one of 'sgd', 'momentum' or 'adam'. Run 'fcstore train --help' for usage.",
                    status: 64)
    }

    /// Negative numbers are values, not options: they reach validation, which refuses
    /// the ones that make no sense with the option's own sentence.
    func testNegativeNumbersAreOptionValues() throws {
        let workspace = try Workspace()
        let train = ["train", "--data", CLI.iris, "--layers", "3"]
        let cases: [([String], String)] = [
            (train + ["--learning-rate", "-1"], "--learning-rate must be a positive number (got -1)."),
            (train + ["--learning-rate", "-0.5e-3"], "--learning-rate must be a positive number (got -0.0005)."),
            (train + ["--momentum", "-0.5"], "--momentum must be at least 0 and below 1 (got -0.5)."),
            (train + ["--batch-size", "-3"], "--batch-size must be at least 1 (got -3)."),
            (train + ["--epochs", "-1"], "--epochs cannot be negative (got -1)."),
            (train + ["--seed", "-1"], "--seed takes a whole number from 0 to 18446744073709551615 (got -1)."),
            (train + ["--validation-split", "-0.2"], "--validation-split must be between 0 and 1 (got -0.2)."),
            (["resume", "r", "--epochs", "-4"], "--epochs must be at least 1 (got -4)."),
            (["diff", "a", "b", "--top", "-2"], "--top cannot be negative (got -2)."),
            (["prune", "r", "--keep-last", "-1"], "--keep-last cannot be negative (got -1)."),
            (["prune", "r", "--keep-last", "1", "--keep-every", "-5"], "--keep-every must be at least 1 (got -5)."),
        ]
        for (arguments, message) in cases {
            assertError(try workspace.run(arguments), "\(message) Run 'fcstore \(arguments[0]) --help' for usage.", status: 64)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: workspace.store))
    }

    /// Help lists only the values an option accepts; the lists are pinned here.
    func testTrainHelpListsTheAcceptedValues() throws {
        let help = try Workspace().run(["train", "--help"])
        XCTAssertEqual(help.status, 0)
        let expected = """
              --activation <name>     Hidden activation (default sigmoid). (values:
                                      sigmoid, tanh, relu, leaky-relu, identity)
              --output-activation <name>
                                      Output activation (default: softmax for several
                                      classes, sigmoid for one output, identity for mse;
                                      another needs --loss mse). (values: sigmoid, tanh,
                                      relu, leaky-relu, identity, softmax)
              --loss <name>           Loss (default: to suit the output). (values: mse,
                                      cross-entropy, binary-cross-entropy)
              --optimizer <name>      The optimizer (default sgd). (values: sgd, momentum,
                                      adam)
            """
        XCTAssertTrue(help.stdout.contains(expected + "\n"), help.stdout)
        XCTAssertTrue(help.stdout.contains("""
              --normalize <kind>      Input normalisation (default standard, or the --init
                                      model's own). (values: none, minmax, standard)
            """), help.stdout)
        // softmax is listed once: for the output layer only.
        XCTAssertEqual(help.stdout.components(separatedBy: "softmax").count - 1, 2, "the default's text and the output's values")
        // softmax as a hidden activation is refused with a pointer to the right option.
        assertError(try Workspace().run(["train", "--data", CLI.iris, "--layers", "3", "--activation", "softmax"]),
                    "softmax is an output activation; use --output-activation softmax. Run 'fcstore train --help' for usage.", status: 64)
        assertError(try Workspace().run(["train", "--data", CLI.iris, "--layers", "3", "--activation", "soft"]),
                    "The value 'soft' is invalid for '--activation <name>'. Please provide one of 'sigmoid', 'tanh', 'relu', 'leaky-relu' or 'identity'. Run 'fcstore train --help' for usage.",
                    status: 64)
    }

    func testVersionCountsThreadsInTheRightNumber() throws {
        let workspace = try Workspace()
        let one = try CLI.run(["--version"], in: workspace.directory, environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertTrue(one.stdout.hasSuffix(", 1 thread)\n"), one.stdout)
        let two = try CLI.run(["--version"], in: workspace.directory, environment: ["OPENBLAS_NUM_THREADS": "2"])
        XCTAssertTrue(two.stdout.hasSuffix(", 2 threads)\n"), two.stdout)
    }

    /// A training line for one batch per epoch says "1 batch"; the store's counts agree in number.
    func testTrainingCountsInTheRightNumber() throws {
        let workspace = try Workspace()
        let result = try workspace.ok(["train", "--data", CLI.iris, "--layers", "3", "--epochs", "1", "--full-batch"])
        XCTAssertTrue(result.stderrLines.first?.hasSuffix(" to epoch 1 on 150 samples, 1 batch per epoch") ?? false, result.stderr)
    }
}
