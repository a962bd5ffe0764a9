import FCNet
import FCStorage
import FCTraining
import Foundation
import XCTest

/// The workflow tells an injected observer its phases and data loading; it prints nothing.
final class TrainingObserverTests: XCTestCase {
    final class Recorder: TrainingObserver {
        var phases: [TrainingPhase] = []
        var loading: [LoadingProgress.Report] = []
        func phaseEnded(_ phase: TrainingPhase) { phases.append(phase) }
        func dataLoading(_ report: LoadingProgress.Report) { loading.append(report) }
    }

    func testStartReportsDataLoadingAndResumeReportsItsPhasesInOrder() throws {
        let fixture = try TrainingFixture()
        let recorder = Recorder()
        let trainer = try Workflow.startRun(fixture.store, fixture.request(epochs: 2), owner: "test", observer: recorder)
        XCTAssertEqual(try trainer.train(), .completed(lastEpoch: 2))
        // iris.csv: 150 rows, one file: a first report at 0 rows and a last one at 150.
        XCTAssertEqual(recorder.loading.first?.rows, 0)
        XCTAssertEqual(recorder.loading.last?.rows, 150)
        XCTAssertEqual(recorder.loading.last?.finished, true)
        XCTAssertEqual(Set(recorder.loading.map(\.file)), ["iris.csv"])
        XCTAssertEqual(recorder.phases, [])

        let resumer = Recorder()
        let plan = try Workflow.resume(fixture.store, run: trainer.run.id, epoch: .latest, epochs: 3, overrides: Workflow.Overrides(),
                                       fork: false, dataPath: nil, owner: "test", isAlive: { _ in false }, observer: resumer)
        XCTAssertEqual(resumer.phases, [.checkpointLoaded, .dataBegin, .dataEnd, .trainerReady, .runClaimed])
        XCTAssertEqual(resumer.loading.last?.rows, 150)
        XCTAssertEqual(try plan.trainer.train(), .completed(lastEpoch: 3))
        // The loaders' hook is restored once the workflow has loaded its data.
        XCTAssertNil(LoadingProgress.observer)
    }
}
