import Foundation
import Testing
import NeuralNet
@testable import Training

@Suite struct RobustLossTests {
    /// One batch by hand: groups 0 and 1 start at q = (1/2, 1/2); weighted group losses
    /// L0 = (1*1 + 3*2)/4 = 1.75, L1 = 0.5; q <- q exp(0.1 L), normalised.
    @Test func groupDROExponentiatedGradientStep() {
        var dro = GroupDRO(groups: 2)
        let c = dro.step(losses: [1, 2, 0.5], groups: [0, 0, 1], weights: [1, 3, 2], eta: 0.1)
        #expect(abs(dro.q[0] - 0.5312094) < 1e-6 && abs(dro.q[1] - 0.4687906) < 1e-6)
        let expected: [Float] = [0.1328023, 0.3984070, 0.4687906]
        #expect(zip(c, expected).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func groupDROIgnoresAbsentGroups() {
        var dro = GroupDRO(groups: 3)
        _ = dro.step(losses: [2], groups: [1], weights: [1], eta: 1)
        // Only group 1 grew: q = (1, e^2, 1) / (2 + e^2).
        let z = Float(2 + exp(2.0))
        #expect(abs(dro.q[0] - 1 / z) < 1e-6 && abs(dro.q[1] - Float(exp(2.0)) / z) < 1e-6)
    }

    @Test func jttUpweightsTheMisclassified() {
        let (w, errors) = jttWeights([1, 2, 1, 0.5], predictions: [0, 1, 1, 0], labels: [0, 0, 1, 1], lambda: 6)
        #expect(w == [1, 12, 1, 3] && errors == 2)
    }
}
