import Foundation
import Testing
@testable import NeuralNet

/// Two steps of each optimizer on one weight (value 1; gradients 0.5 then 0.25 or 0.5; lr 0.1),
/// against values worked out by hand from PyTorch's update rules.
@Suite struct OptimizerTests {
    func steps(_ optimizer: Optimizer, gradients: [Float]) -> [Float] {
        let p = Parameter(name: "w", shape: [1], value: [1])
        return gradients.map { g in
            p.grad = [g]
            optimizer.step([p], learningRate: 0.1)
            return p.value[0]
        }
    }

    func close(_ a: [Float], _ b: [Double]) -> Bool {
        zip(a, b).allSatisfy { abs(Double($0) - $1) < 1e-6 }
    }

    @Test func plainSGD() {
        #expect(close(steps(SGD(), gradients: [0.5, 0.25]), [0.95, 0.925]))
    }

    @Test func sgdMomentumAndWeightDecay() {
        // d1 = 0.5 + 0.1*1 = 0.6, buf = 0.6, w = 0.94; d2 = 0.5 + 0.094 = 0.594,
        // buf = 0.9*0.6 + 0.594 = 1.134, w = 0.94 - 0.1134 = 0.8266.
        #expect(close(steps(SGD(momentum: 0.9, weightDecay: 0.1), gradients: [0.5, 0.5]), [0.94, 0.8266]))
    }

    @Test func sgdNesterov() {
        // step 1: buf = 0.6, d = 0.6 + 0.9*0.6 = 1.14, w = 0.886;
        // step 2: d = 0.5886, buf = 1.1286, d = 0.5886 + 0.9*1.1286 = 1.60434, w = 0.725566.
        #expect(close(steps(SGD(momentum: 0.9, nesterov: true, weightDecay: 0.1), gradients: [0.5, 0.5]), [0.886, 0.725566]))
    }

    @Test func adam() {
        // step 1 moves by lr exactly (m-hat / sqrt(v-hat) = 1); step 2: m = 0.07, v = 0.00031225,
        // m-hat = 0.07/0.19, v-hat = 0.00031225/0.001999: w = 0.9 - 0.1*0.368421/0.395225.
        #expect(close(steps(Adam(), gradients: [0.5, 0.25]), [0.9, 0.8067820]))
    }

    @Test func adamWDecaysTheWeightsNotTheGradient() {
        #expect(close(steps(Adam(weightDecay: 0.1, decoupled: true), gradients: [0.5, 0.25]), [0.89, 0.7878820]))
    }

    @Test func buffersAreNeverUpdated() {
        let b = Parameter(name: "running_mean", shape: [1], value: [3], isBuffer: true)
        SGD(momentum: 0.9).step([b], learningRate: 1)
        #expect(b.value == [3])
    }

    @Test func schedules() {
        let step = LearningRateSchedule(base: 1, kind: .step(every: 2, gamma: 0.1), stepsPerEpoch: 10, totalSteps: 60)
        #expect(step.rate(at: 0) == 1 && step.rate(at: 19) == 1)
        #expect(abs(step.rate(at: 20) - 0.1) < 1e-7 && abs(step.rate(at: 45) - 0.01) < 1e-8)
        let cosine = LearningRateSchedule(base: 2, kind: .cosine, stepsPerEpoch: 10, totalSteps: 100)
        #expect(cosine.rate(at: 0) == 2 && abs(cosine.rate(at: 50) - 1) < 1e-6 && abs(cosine.rate(at: 100)) < 1e-6)
        let warm = LearningRateSchedule(base: 1, kind: .cosine, warmupSteps: 4, stepsPerEpoch: 4, totalSteps: 24)
        #expect(warm.rate(at: 0) == 0.25 && warm.rate(at: 3) == 1 && warm.rate(at: 4) == 1)
        #expect(abs(warm.rate(at: 14) - 0.5) < 1e-6)
    }
}
