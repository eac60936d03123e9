import Foundation
import Testing
@testable import NeuralNet

@Suite struct ModelTests {
    @Test func twoLayerNetLearnsXOR() {
        var rng = SplitMix64(seed: 42)
        let net = Sequential([Dense(2, 8, rng: &rng), ReLU(), Dense(8, 2, rng: &rng)])
        let x = Tensor(shape: [4, 2], storage: [0, 0, 0, 1, 1, 0, 1, 1])
        let y = [0, 1, 1, 0]
        let opt = Adam()
        for _ in 0..<500 {
            let out = SoftmaxCrossEntropy.weightedMean(logits: net.forward(x, training: true), labels: y)
            _ = net.backward(out.gradient, inputGradient: false)
            opt.step(net.trainableParameters, learningRate: 0.05)
        }
        let logits = net.forward(x, training: false)
        let predictions = (0..<4).map { logits.storage[$0 * 2 + 1] > logits.storage[$0 * 2] ? 1 : 0 }
        #expect(predictions == y)
    }

    @Test(arguments: ModelName.allCases)
    func namedModelsHaveTheirShapes(name: ModelName) {
        let spec = ModelSpec(name: name, height: 32, width: 32, channels: 3, classes: 10)
        let net = spec.build(seed: 1)
        #expect(net.outputShape([32, 32, 3]) == [10])
        let out = net.forward(Tensor(zeros: [2, 32, 32, 3]), training: false)
        #expect(out.shape == [2, 10])
    }

    @Test func cnnSmallIsTheReferenceArchitecture() {
        let net = ModelSpec(name: .cnnSmall, height: 28, width: 28, channels: 1, classes: 10).build(seed: 0)
        let shapes = net.namedParameters.map { $0.1.shape }
        // torch: conv1 32x1x3x3 (+32), conv2 64x32x3x3 (+64), fc1 128x(64*7*7) (+128), fc2 10x128 (+10).
        #expect(shapes == [[9, 32], [32], [288, 64], [64], [3136, 128], [128], [128, 10], [10]])
        let count = net.parameters.reduce(0) { $0 + $1.count }
        #expect(count == 32 * 9 + 32 + 64 * 288 + 64 + 128 * 3136 + 128 + 10 * 128 + 10)
    }

    @Test func initialisationIsPyTorchsUniformBound() {
        let net = ModelSpec(name: .cnnSmall, height: 28, width: 28, channels: 1, classes: 10).build(seed: 3)
        let fc1 = net.namedParameters.first { $0.0 == "5.weight" }!.1
        let bound = 1 / Float(3136).squareRoot()
        #expect(fc1.value.allSatisfy { abs($0) <= bound })
        #expect(fc1.value.map { abs($0) }.max()! > bound * 0.99)
    }

    @Test func sameSeedSameTrainingWhateverTheThreadCount() {
        func train(threads: Int) -> Data {
            let saved = Parallel.threads
            Parallel.threads = threads
            defer { Parallel.threads = saved }
            let spec = ModelSpec(name: .cnnSmall, height: 8, width: 8, channels: 3, classes: 3)
            let net = spec.build(seed: 7)
            let x = Tensor(shape: [20, 8, 8, 3], storage: randomArray(20 * 192, seed: 8))
            let y = (0..<20).map { $0 % 3 }
            let opt = SGD(momentum: 0.9, weightDecay: 5e-4)
            for _ in 0..<3 {
                let out = SoftmaxCrossEntropy.weightedMean(logits: net.forward(x, training: true), labels: y)
                _ = net.backward(out.gradient, inputGradient: false)
                opt.step(net.trainableParameters, learningRate: 0.05)
            }
            return Checkpoint.encode(net, spec: spec, classes: ["a", "b", "c"])
        }
        let one = train(threads: 1)
        #expect(one == train(threads: 2))
        #expect(one == train(threads: 4))
    }

    @Test func frozenLayersKeepTheirWeights() {
        let spec = ModelSpec(name: .mlp, height: 4, width: 4, channels: 1, classes: 2)
        let net = spec.build(seed: 1)
        net.trainableFrom = net.headIndex
        let before = net.parameters.map(\.value)
        let x = Tensor(shape: [4, 4, 4, 1], storage: randomArray(64, seed: 2))
        let out = SoftmaxCrossEntropy.weightedMean(logits: net.forward(x, training: true), labels: [0, 1, 0, 1])
        _ = net.backward(out.gradient, inputGradient: false)
        SGD().step(net.trainableParameters, learningRate: 0.5)
        let after = net.parameters.map(\.value)
        #expect(before[0] == after[0] && before[1] == after[1])
        #expect(before[2] != after[2])
    }
}
