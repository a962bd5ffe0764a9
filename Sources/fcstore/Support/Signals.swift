import Dispatch
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
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    /// The signal that arrived (SIGINT or SIGTERM), or nil.
    static var caughtSignal: Int32? {
        let value = received.load(ordering: .relaxed)
        return value == 0 ? nil : value
    }

    static var requested: Bool { caughtSignal != nil }

    /// Installs the handlers. A second signal of the same kind ends the process
    /// at once, for a user who does not want to wait for the epoch to finish.
    static func install() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let (exchanged, _) = received.compareExchange(expected: 0, desired: number, ordering: .relaxed)
                if !exchanged {
                    signal(number, SIG_DFL)
                    raise(number)
                }
            }
            source.resume()
            sources.append(source)
        }
    }
}
