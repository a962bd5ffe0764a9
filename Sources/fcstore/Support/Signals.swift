#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Turns SIGINT and SIGTERM into a flag that the training loop polls, so an
/// interrupted run finishes or drops its current epoch cleanly instead of dying
/// between two writes.
enum Interruption {
    private static let received = Atomic<Int32>(0)

    /// The signal that arrived (SIGINT or SIGTERM), or nil.
    static var caughtSignal: Int32? {
        let value = received.load(ordering: .relaxed)
        return value == 0 ? nil : value
    }

    static var requested: Bool { caughtSignal != nil }

    /// Installs the handlers. A second signal of the same kind ends the process
    /// at once, for a user who does not want to wait for the epoch to finish.
    ///
    /// Plain handlers (`signal`, which on glibc and Darwin restarts interrupted system calls)
    /// that only store into an atomic, both async-signal-safe: a signal that arrives any time
    /// after this call is seen. (A Dispatch signal source registers asynchronously; with the
    /// signal ignored until then, a Ctrl-C in the first moments of training was lost.)
    static func install() {
        for number in [SIGINT, SIGTERM] {
            _ = signal(number) { number in
                let (exchanged, _) = Interruption.received.compareExchange(expected: 0, desired: number, ordering: .relaxed)
                if !exchanged {
                    _ = signal(number, SIG_DFL)
                    _ = raise(number)
                }
            }
        }
    }
}
