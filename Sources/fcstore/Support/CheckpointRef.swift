import ArgumentParser

/// A checkpoint reference as the CLI accepts it: `RUN` (its latest epoch),
/// `RUN@EPOCH`, or `RUN@best` (best validation loss, else best train loss).
/// RUN is an id prefix or a unique run name; the store resolves it.
struct CheckpointRef: ExpressibleByArgument, Equatable, CustomStringConvertible {
    enum Epoch: Equatable {
        case latest
        case best
        case number(Int)
    }

    var run: String
    var epoch: Epoch

    init(run: String, epoch: Epoch) {
        self.run = run
        self.epoch = epoch
    }

    /// The sentence every error about a malformed reference ends with.
    static let syntax = "A reference is RUN, RUN@EPOCH or RUN@best (RUN is a run name or id prefix, EPOCH a number)."

    /// The texts this process refused as references, so that the parser's
    /// "invalid value" error can be completed with the syntax (the parser
    /// reports the value, not why it was refused). Parsing is single-threaded.
    nonisolated(unsafe) private static var rejected: [String] = []

    /// The syntax sentence when `message` (a parser error) refuses a text
    /// that failed to parse as a reference, else nil.
    static func rejection(in message: String) -> String? {
        rejected.contains { message.hasPrefix("The value '\($0)' is invalid") } ? syntax : nil
    }

    /// Parses `RUN`, `RUN@EPOCH` or `RUN@best`; nil for anything else.
    init?(argument: String) {
        guard let parsed = CheckpointRef(parsing: argument) else {
            CheckpointRef.rejected.append(argument)
            return nil
        }
        self = parsed
    }

    private init?(parsing argument: String) {
        let parts = argument.split(separator: "@", omittingEmptySubsequences: false)
        guard let name = parts.first, !name.isEmpty, parts.count <= 2 else { return nil }
        run = String(name)
        guard parts.count == 2 else {
            epoch = .latest
            return
        }
        let suffix = parts[1]
        if suffix.lowercased() == "best" {
            epoch = .best
        } else if let number = Int(suffix), number >= 0 {
            epoch = .number(number)
        } else if suffix.lowercased() == "latest" {
            epoch = .latest
        } else {
            return nil
        }
    }

    var description: String {
        switch epoch {
        case .latest: return run
        case .best: return "\(run)@best"
        case .number(let number): return "\(run)@\(number)"
        }
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

import FCTraining

extension CheckpointRef {
    /// The epoch part as the workflow takes it.
    var selector: EpochSelector {
        switch epoch {
        case .latest: return .latest
        case .best: return .best
        case .number(let number): return .number(number)
        }
    }
}
