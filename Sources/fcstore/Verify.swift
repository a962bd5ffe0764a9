import ArgumentParser
import FCStorage
import FCTraining
import Foundation

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the integrity of the whole store or of one run.",
        discussion: """
            Runs SQLite's integrity and foreign-key checks, re-hashes every tensor, and \
            recomputes every checkpoint's digest and the hash chain that links each epoch to \
            the one before it (and a fork to its parent), each run's head (its last epoch, so \
            deleted epochs show), the pruning records, and every schema object against the \
            migrations. --trusted-keys FILE also checks each head's Ed25519 signature and reports \
            unsigned, unknown-key and bad-signature heads. Prints one line per problem and exits \
            with status 2 when there are any. --replay RUN@K re-trains epoch K from epoch K-1 \
            and compares the result with the stored epoch bit for bit.
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var output: JSONOption

    @Argument(help: ArgumentHelp("Only this run and the history it inherits.", valueName: "run"))
    var runName: String?

    @Option(help: ArgumentHelp("Re-run epoch K of RUN from epoch K-1 and compare it with the stored epoch.", valueName: "run@k"))
    var replay: CheckpointRef?

    @Option(help: ArgumentHelp("Also check each run head's Ed25519 signature against the public keys in FILE (one ed25519:<hex> per line).",
                               valueName: "file"))
    var trustedKeys: String?

    struct VerifyJSON: Encodable {
        var ok: Bool
        var findings: [String]
        var replay: ReplayJSON?
    }

    struct ReplayJSON: Encodable {
        var checkpoint: String
        var identical: Bool
        var differences: [String]
        /// The engine settings that differ from the epoch's recorded ones and could not be
        /// restored for the replay (`OpenBLAS core SkylakeX recorded, Haswell now`).
        var changedSettings: [String]
        enum CodingKeys: String, CodingKey {
            case checkpoint, identical, differences
            case changedSettings = "changed_settings"
        }
    }

    func validate() throws {
        if let replay, case .number(let epoch) = replay.epoch, epoch < 1 {
            throw ValidationError("--replay needs an epoch of at least 1 (epoch 0 is the initial state).")
        }
        if let replay, replay.epoch == .best {
            throw ValidationError("--replay takes RUN@EPOCH or RUN (its latest epoch).")
        }
    }

    func run() throws {
        let keys = try trustedKeys.map { try PublicKey.readTrusted(path: $0) }
        let store = try self.store.openExisting()
        let runID = try runName.map { try store.resolveRun($0).id }
        let findings = try store.verify(runID: runID, trustedKeys: keys).map(\.description)
        var replayResult: ReplayJSON?
        if let replay {
            let result = try Replay.run(store, run: replay.run, epoch: replay.selector, host: Owner.hostName)
            replayResult = ReplayJSON(checkpoint: result.checkpoint, identical: result.differences.isEmpty,
                                      differences: result.differences,
                                      changedSettings: result.changedSettings.map(\.description))
        }
        let ok = findings.isEmpty && (replayResult?.identical ?? true)
        if output.json {
            try Console.json(VerifyJSON(ok: ok, findings: findings, replay: replayResult))
        } else {
            let scope = runName.map { "run \($0)" } ?? "the store"
            if findings.isEmpty {
                // PostgreSQL has no file to check: SQLite's integrity and schema checks are skipped there.
                let checks = store.isPostgres ? "tensor hashes" : "integrity, schema, tensor hashes"
                Console.out("ok: \(scope) verified (\(checks), digest chains, run heads\(keys == nil ? "" : ", signatures"))")
            } else {
                for finding in findings { Console.out(finding) }
                Console.err("\(findings.count) problem\(findings.count == 1 ? "" : "s") found in \(scope)")
            }
            if let replayResult {
                if replayResult.identical {
                    Console.out("ok: replaying \(replayResult.checkpoint) reproduced every stored tensor bit for bit")
                } else {
                    for difference in replayResult.differences { Console.out("replay \(replayResult.checkpoint): \(difference)") }
                }
            }
        }
        if !ok { throw ExitCode(ExitStatus.findings) }
    }
}
