import FCCore
import FCNet
@testable import FCStorage
@testable import FCTraining
import Foundation
import XCTest

/// Numbers of a stored run configuration and checkpoint are checked where they are read.
final class ConfigLimitsTests: XCTestCase {
    private func config() -> RunConfig {
        let spec = NetworkSpec(inputSize: 4, layerSizes: [3, 3])
        let data = DataSource(kind: .csv, path: "/data/iris.csv", labelColumn: nil, task: .classification, rows: 150, columns: 5)
        return RunConfig(training: TrainingConfig(spec: spec, batchSize: 16, seed: 1), epochs: 5, data: data,
                         validation: .split(fraction: 0.2), normalization: .standard)
    }

    private func failure(_ change: (inout RunConfig) -> Void) -> String? {
        var value = config()
        change(&value)
        do { try value.check(); return nil } catch { return String(describing: error) }
    }

    func testEachNumberOfAConfigurationHasALimit() {
        XCTAssertNil(failure { _ in })
        XCTAssertEqual(failure { $0.epochs = -1 }, "epochs is -1, outside 0...2147483647")
        XCTAssertEqual(failure { $0.epochs = Int.max }, "epochs is 9223372036854775807, outside 0...2147483647")
        XCTAssertEqual(failure { $0.training.batchSize = 0 }, "training.batchSize is 0, outside 1...2147483647")
        XCTAssertEqual(failure { $0.training.batchSize = 1 << 32 }, "training.batchSize is 4294967296, outside 1...2147483647")
        XCTAssertEqual(failure { $0.data?.rows = -1 }, "data.rows is -1, outside 0...4294967296")
        XCTAssertEqual(failure { $0.data?.columns = Int.max }, "data.columns is 9223372036854775807, outside 0...4294967296")
        XCTAssertEqual(failure { $0.validation = .split(fraction: .nan) }, "validation.split.fraction is nan, not between 0 and 1")
        XCTAssertEqual(failure { $0.validation = .split(fraction: .infinity) }, "validation.split.fraction is inf, not between 0 and 1")
        XCTAssertEqual(failure { $0.training.spec.layerSizes = [1 << 32, 3] }, "Layer 1 has 4294967296 neurons, above the limit of 16777216 per layer.")
        XCTAssertEqual(failure { $0.training.optimizer.learningRate = .nan }, "The learning rate must be a positive number (got nan).")
        XCTAssertEqual(failure { $0.blasThreads = -1 }, "blasThreads is -1, outside 0...65536")
        XCTAssertEqual(failure { $0.training.dropout = 1 }, "The dropout probability must be in [0, 1) (got 1.0).")
        XCTAssertEqual(failure { $0.training.optimizer.weightDecay = -1 }, "The weight decay must be a number ≥ 0 (got -1.0).")
        XCTAssertEqual(failure { $0.training.earlyStopping = EarlyStopping(patience: Int.max) },
                       "The patience must be from 0 to 2147483647 epochs (got 9223372036854775807).")
        XCTAssertEqual(failure { $0.training.earlyStopping = EarlyStopping(patience: 2, minDelta: -0.5) },
                       "The least improvement must be a number ≥ 0 (got -0.5).")
    }

    /// A configuration without the regularisation options encodes with none of their keys,
    /// so the text (and the run digest over it) of a run from before them is unchanged; with
    /// them, the keys round-trip.
    func testRegularizationKeysAreAbsentAtTheirDefaults() throws {
        let plain = try config().json()
        for key in ["dropout", "earlyStopping", "weightDecay"] { XCTAssertFalse(plain.contains(key), plain) }
        XCTAssertEqual(try RunConfig.decode(plain, run: "3fa2c1d0").json(), plain)
        var regularized = config()
        regularized.training.dropout = 0.5
        regularized.training.optimizer.weightDecay = 0.01
        regularized.training.earlyStopping = EarlyStopping(monitor: .valAccuracy, patience: 3, minDelta: 0.001)
        let text = try regularized.json()
        XCTAssertTrue(text.contains("\"dropout\":0.5") && text.contains("\"weightDecay\":0.01"), text)
        XCTAssertTrue(text.contains("\"earlyStopping\":{\"minDelta\":0.001,\"monitor\":\"val_accuracy\",\"patience\":3}"), text)
        XCTAssertEqual(try RunConfig.decode(text, run: "3fa2c1d0"), regularized)
    }

    func testAStoredConfigurationOutOfRangeIsOneSentenceNamingTheField() throws {
        var hostile = config()
        hostile.training.spec.layerSizes = [1 << 32, 1 << 32]
        XCTAssertThrowsError(try RunConfig.decode(try hostile.json(), run: "3fa2c1d0")) { error in
            XCTAssertEqual(String(describing: error),
                           "Run 3fa2c1d0's stored configuration cannot be used: Layer 1 has 4294967296 neurons, above the limit of 16777216 per layer.")
        }
        hostile = config()
        hostile.epochs = Int.max
        XCTAssertThrowsError(try RunConfig.decode(try hostile.json(), run: "3fa2c1d0")) { error in
            XCTAssertEqual(error as? TrainingError,
                           .configOutOfRange(run: "3fa2c1d0", reason: "epochs is 9223372036854775807, outside 0...2147483647"))
        }
        let missing = try config().json().replacingOccurrences(of: "\"epochs\":5,", with: "")
        XCTAssertThrowsError(try RunConfig.decode(missing, run: "3fa2c1d0")) { error in
            XCTAssertEqual(String(describing: error), "Run 3fa2c1d0 has a configuration this version of fcstore cannot read (at epochs).")
        }
    }

    /// `tensor(layer:role:)` finds tensors by binary search in the store's (layer, role)
    /// order, and still finds them in an array built in another order.
    func testTensorLookupInOrderAndOutOfOrder() throws {
        let value = try TensorValue(shape: [1], values: [1])
        var tensors: [CheckpointTensor] = []
        for layer in 0...300 {
            for role in ["bias", "weight", "weight.m"] {
                tensors.append(CheckpointTensor(layer: layer, role: role, value: try TensorValue(shape: [1], values: [Float(layer)])))
            }
        }
        var checkpoint = LoadedCheckpoint(runID: "r", ownerRunID: "r", epoch: 0, createdAt: Date(), digest: [], parentDigest: nil,
                                          tensors: tensors, metrics: [:], optimizerState: "", rngState: [])
        for layer in [0, 1, 150, 300] {
            XCTAssertEqual(checkpoint.tensor(layer: layer, role: "weight")?.values, [Float(layer)])
            XCTAssertEqual(checkpoint.tensor(layer: layer, role: "weight.m")?.values, [Float(layer)])
        }
        XCTAssertNil(checkpoint.tensor(layer: 301, role: "weight"))
        XCTAssertNil(checkpoint.tensor(layer: 5, role: "weight.v"))
        checkpoint.tensors.reverse()
        checkpoint.tensors.append(CheckpointTensor(layer: 7, role: "extra", value: value))
        XCTAssertEqual(checkpoint.tensor(layer: 150, role: "bias")?.values, [150])
        XCTAssertEqual(checkpoint.tensor(layer: 7, role: "extra"), value)
    }
}
