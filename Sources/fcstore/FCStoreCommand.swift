import ArgumentParser
import FCNet
import FCStorage
import FCTraining
import Foundation

/// `fcstore`: the root command. Parsing errors and help go through
/// swift-argument-parser; every other error is one line on stderr,
/// `error: <sentence>`, and a non-zero exit (see `ExitStatus`).
@main
struct FCStoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fcstore",
        abstract: "A persistent model store for fully-connected neural networks.",
        usage: "fcstore [--store <path>] <subcommand> [<arguments>]",
        discussion: """
            Every epoch of every run is committed to one store: a SQLite file or a \
            PostgreSQL database (--store PATH or postgresql://URI, else $FCSTORE_DB, else \
            ./fcstore.db). A checkpoint reference REF is RUN (its latest \
            epoch), RUN@EPOCH or RUN@best; RUN is an id prefix or a unique run name.
            """,
        version: FCStoreVersion.current,
        subcommands: [
            Train.self, Runs.self, Show.self, Resume.self, Diff.self, Predict.self, Evaluate.self, Plot.self,
            Export.self, Import.self, Push.self, Pull.self, Verify.self, Prune.self, Remove.self, GC.self, UI.self, Key.self,
            Tag.self, Note.self, Rename.self,
        ]
    )

    static func main() {
        PhaseTimings.start()
        HeapPolicy.keepFreedMemory()
        // Past the file size limit (ulimit -f) a write fails with EFBIG instead of the
        // process being killed mid-commit: the store keeps its committed epochs either way,
        // but only this way does the user get an error line saying why.
        _ = signal(SIGXFSZ, SIG_IGN)
        // $FCSTORE_OPENBLAS: the OpenBLAS to load instead of the system's (read here; the engine reads no environment).
        BLAS.use(library: ProcessInfo.processInfo.environment["FCSTORE_OPENBLAS"])
        let arguments = hoistingStoreOption(Array(CommandLine.arguments.dropFirst()))
        if arguments == ["--version"] || arguments == ["version"] {
            print(versionText)
            return
        }
        if let unknown = unknownSubcommand(arguments) { exitUnknownSubcommand(unknown) }
        var command: ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            exitParsing(error, arguments: arguments)
        }
        PhaseTimings.mark("parsed")
        LoadingReporter.install()
        do {
            try KernelSetting.apply()
            try command.run()
        } catch let error as ExitCode {
            exit(withError: error)
        } catch let error as ValidationError {
            exitParsing(error, arguments: arguments)
        } catch let error as CleanExit {
            exit(withError: error)
        } catch where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
            // `fcstore help` and `--help` parse to a help command whose run() throws the
            // parser's own (internal) help request: let the parser print it.
            exit(withError: error)
        } catch {
            Console.err("error: \(ErrorText.message(for: error))")
            Foundation.exit(ExitStatus.failure)
        }
    }

    /// Help and version go to stdout as the parser prints them; a usage error is
    /// one line on stderr like every other error (the parser would add the usage
    /// block), pointing at the subcommand's help, with the parser's exit status.
    static func exitParsing(_ error: Error, arguments: [String]) -> Never {
        let status = exitCode(for: error)
        var text = message(for: error).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
        guard status != .success, !text.isEmpty else { exit(withError: error) }
        let names = configuration.subcommands.map { $0._commandName }
        let help = arguments.first(where: names.contains).map { "fcstore \($0) --help" } ?? "fcstore --help"
        if let rejected = CheckpointRef.rejection(in: text) { text = "\(sentence(text)) \(rejected)" }
        Console.err("error: \(sentence(text)) Run '\(help)' for usage.")
        Foundation.exit(status.rawValue)
    }

    /// `text` ending in one full stop, question or exclamation mark.
    static func sentence(_ text: String) -> String {
        guard let last = text.last, !".?!".contains(last) else { return text }
        return text + "."
    }

    /// The first argument when it is a word that names no subcommand (`fcstore trian`).
    static func unknownSubcommand(_ arguments: [String]) -> String? {
        guard let first = arguments.first, !first.hasPrefix("-") else { return nil }
        let names = configuration.subcommands.map { $0._commandName } + ["help"]
        return names.contains(first) ? nil : first
    }

    /// Refuses an unknown subcommand on one line, suggesting the nearest name.
    static func exitUnknownSubcommand(_ word: String) -> Never {
        let names = configuration.subcommands.map { $0._commandName }
        var text = "Unknown command '\(word)'."
        if let nearest = Suggestion.nearest(to: word, among: names) { text += " Did you mean '\(nearest)'?" }
        Console.err("error: \(text) Run 'fcstore --help' for the list of commands.")
        Foundation.exit(ExitCode.validationFailure.rawValue)
    }

    /// `fcstore --store PATH COMMAND ...` is the documented form, but the option
    /// belongs to each subcommand: move a leading `--store PATH` (or `--store=PATH`)
    /// behind the subcommand's name.
    static func hoistingStoreOption(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--store", index + 1 < arguments.count {
                leading += [argument, arguments[index + 1]]
                index += 2
            } else if argument.hasPrefix("--store=") {
                leading.append(argument)
                index += 1
            } else {
                break
            }
        }
        guard !leading.isEmpty, index < arguments.count, !arguments[index].hasPrefix("-") else { return arguments }
        return [arguments[index]] + leading + arguments[(index + 1)...]
    }

    /// `fcstore --version`: the version and the libraries in use, including the
    /// OpenBLAS kernel (which decides speed and the bit-exactness of a resume).
    static var versionText: String {
        var blas = "OpenBLAS unavailable"
        if (try? BLAS.load()) != nil {
            let chosen = BLAS.chosenCoreType != nil ? ", chosen by fcstore" : ""
            let version = BLAS.configuration.split(separator: " ").prefix(2).joined(separator: " ")
            blas = "\(version) core \(BLAS.coreName)\(chosen), \(Format.count(BLAS.maxThreads, "thread"))"
        }
        return "fcstore \(FCStoreVersion.current) (SQLite \(Store.sqliteVersion); \(blas))"
    }
}

/// Exit statuses, documented in the README.
enum ExitStatus {
    static let failure: Int32 = 1
    /// `verify` found problems.
    static let findings: Int32 = 2
    /// Training diverged (NaN or infinite loss); the last finite epoch is kept.
    static let diverged: Int32 = 3
    /// Training was interrupted by SIGINT (130) or SIGTERM (143); committed epochs are kept.
    static func interrupted(by signal: Int32) -> Int32 { 128 + signal }
}
