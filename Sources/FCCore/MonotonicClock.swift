#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `CLOCK_MONOTONIC`: the same clock in every process, so one program can place another's
/// timestamps on its own time line (`FCSTORE_TIMINGS` lines, `fcstore-bench resume`).
public enum MonotonicClock {
    /// Nanoseconds of `CLOCK_MONOTONIC`.
    public static func nanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
