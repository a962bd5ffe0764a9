import FCNet
import Foundation

/// `FCSTORE_KERNELS=avx512|avx2|portable`: every command's element-wise kernels take that
/// path (`Kernels.force`). All paths give the same bits, so it changes speed only; unset or
/// empty, the kernels take the best path the CPU runs. The engine itself reads no environment.
enum KernelSetting {
    static let variable = "FCSTORE_KERNELS"

    /// - Throws: `CLIError` for a value that names no path, or a path this CPU cannot run.
    static func apply(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let value = environment[variable], !value.isEmpty else { return }
        guard let isa = Kernels.ISA(rawValue: value) else {
            let names = Kernels.ISA.allCases.map(\.rawValue).joined(separator: ", ")
            throw CLIError("\(variable) must be one of \(names) (got '\(Untrusted.escape(value))').")
        }
        guard isa.isSupported else { throw CLIError("\(variable)=\(value): this CPU cannot run the \(value) kernels.") }
        try Kernels.force(isa)
    }
}
