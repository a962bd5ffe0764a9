import Foundation

/// Polls `condition` every `interval` seconds (10 ms by default) for up to `seconds`; returns
/// whether it held (checked once more at the deadline).
public func waitFor(_ seconds: Double, every interval: Double = 0.01, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(useconds_t(interval * 1_000_000))
    }
    return condition()
}
