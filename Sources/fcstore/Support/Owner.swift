import Foundation

/// Who is training a run: `host:pid:start`, where start is the process start time
/// in clock ticks since boot (from /proc), so a recycled pid is not mistaken for
/// the original process.
enum Owner {
    static var current: String {
        "\(hostName):\(getpid()):\(startTime(of: getpid()) ?? 0)"
    }

    /// True when `owner` names a process on this host that still runs.
    /// An owner on another host is assumed alive (we cannot tell).
    static func isAlive(_ owner: String) -> Bool {
        let parts = owner.split(separator: ":")
        guard parts.count >= 3, let pid = Int32(parts[parts.count - 2]), let start = UInt64(parts[parts.count - 1]) else {
            return false
        }
        let host = parts.dropLast(2).joined(separator: ":")
        guard host == hostName else { return true }
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let actual = startTime(of: pid) else { return false }
        return start == 0 || actual == start
    }

    /// This machine's name in owners and segments: `$FCSTORE_HOST` when set (tests stand
    /// in for a second machine with it), else the system's host name.
    static var hostName: String {
        if let host = ProcessInfo.processInfo.environment["FCSTORE_HOST"], !host.isEmpty { return host }
        return ProcessInfo.processInfo.hostName
    }

    /// Field 22 of /proc/PID/stat (after the parenthesised command name).
    private static func startTime(of pid: Int32) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3), so field 22 is fields[19].
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }
}
