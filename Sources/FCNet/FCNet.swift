// The training engine (placeholder until the engine issue lands).
public enum FCNetInfo {
    public static let name = "FCNet"
}
