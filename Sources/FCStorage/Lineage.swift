/// A stretch of epochs `lower...upper` that a run sees in `ownerRunID`'s rows.
struct LineageSegment: Equatable {
    var ownerRunID: String
    var lower: Int
    var upper: Int
}

/// The history a run sees: its own epochs after its fork point, its parent's up
/// to the fork point (and after the parent's own fork point), and so on. The one
/// walk up the parent chain; the store (`Store.lineage`), the verifier
/// (`StoreSnapshot.lineage`) and a bundle's import check all use it.
struct Lineage {
    /// Why the walk stopped before a run without a parent.
    enum Break: Equatable {
        /// `childID`'s parent run is not there.
        case missingParent(childID: String, parent: CheckpointLocation)
        /// A run came up a second time: the chain of parents never ends. The
        /// one cycle rule: no run may appear twice in a lineage.
        case cycle
    }

    /// The segments found, the run's own first.
    var segments: [LineageSegment]
    /// Nil when the walk reached a run without a parent.
    var broken: Break?

    /// Walks up from `runID`, whose parent is `parent`; `lookup` gives the
    /// parent of another run (nil for none), or `.none` when that run is missing.
    init(runID: String, parent: CheckpointLocation?, lookup: (String) throws -> CheckpointLocation??) rethrows {
        segments = []
        broken = nil
        var current = (id: runID, parent: parent)
        var upper = Int.max
        var seen: Set<String> = [runID]
        while true {
            let lower = current.parent.map { $0.epoch + 1 } ?? 0
            if lower <= upper { segments.append(LineageSegment(ownerRunID: current.id, lower: lower, upper: upper)) }
            guard let parent = current.parent else { return }
            upper = min(upper, parent.epoch)
            guard let grandparent = try lookup(parent.runID) else {
                broken = .missingParent(childID: current.id, parent: parent)
                return
            }
            guard seen.insert(parent.runID).inserted else {
                broken = .cycle
                return
            }
            current = (parent.runID, grandparent)
        }
    }
}

extension Store {
    /// The segments of history `runID` sees, its own first (see `Lineage`).
    /// - Throws: `StoreError.noSuchRun`, `.corrupt` for a missing parent or a cycle.
    func lineage(of runID: String, runs: [String: RunRecord]? = nil) throws -> [LineageSegment] {
        let start = try runs?[runID] ?? requireRun(runID)
        let lineage = Lineage(runID: runID, parent: start.parent) { id in
            guard let run = runs?[id] ?? (try? requireRun(id)) else { return .none }
            return .some(run.parent)
        }
        switch lineage.broken {
        case nil:
            return lineage.segments
        case let .missingParent(childID, parent):
            throw StoreError.corrupt(runID: childID, epoch: parent.epoch, detail: "its parent run \(parent.runID) is missing")
        case .cycle:
            throw StoreError.corrupt(runID: runID, epoch: 0, detail: "its chain of parent runs does not end")
        }
    }
}

extension StoreSnapshot {
    /// The stretches of history `runID` sees, its own first (as `Store.lineage`).
    /// - Returns: nil and a problem when an ancestor is missing or the parents form a cycle.
    func lineage(of runID: String) -> (segments: [LineageSegment], problem: String?) {
        guard let start = runs[runID] else { return ([], "the run is missing") }
        let lineage = Lineage(runID: runID, parent: start.parent) { id in runs[id].map { .some($0.parent) } ?? .none }
        switch lineage.broken {
        case nil:
            return (lineage.segments, nil)
        case let .missingParent(childID, parent):
            return (lineage.segments, "its parent run \(parent.runID.prefix(8)) (fork point of \(childID.prefix(8))) is missing")
        case .cycle:
            return (lineage.segments, "its chain of parent runs forms a cycle")
        }
    }
}
