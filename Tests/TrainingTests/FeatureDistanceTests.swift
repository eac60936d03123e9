import Foundation
import NeuralNet
import Testing
@testable import Training

@Suite("Zhang et al.'s feature-distance penalty")
struct FeatureDistanceTests {
    /// Fine-tunes a copy of a network on a task of random labels with the penalty's `weight`;
    /// returns the mean squared distance of its features (the head's input) from the original's.
    func drift(weight: Float?) -> Double {
        let spec = ModelSpec(name: .mlp, height: 4, width: 4, channels: 1, classes: 3)
        let reference = spec.build(seed: 1), net = spec.build(seed: 1)
        var rng = SplitMix64(seed: 2)
        let x = Tensor(shape: [64, 4, 4, 1], storage: (0..<(64 * 16)).map { _ in rng.uniform(-1, 1) })
        let labels = (0..<64).map { _ in Int(rng.uniform(0, 3)) % 3 }
        var recipe = TrainingRecipe()
        recipe.epochs = 30
        recipe.batchSize = 16
        recipe.learningRate = 0.1
        var loop = FitLoop(recipe: recipe)
        if let weight { loop.anchor = (reference, weight) }
        _ = loop.fit(net, count: 64, epochs: recipe.epochs, input: { idx, _ in x.gather(idx) },
                     labels: labels, weights: [Float](repeating: 1, count: 64))
        let f = net.features(x, upTo: net.headIndex), f0 = reference.features(x, upTo: reference.headIndex)
        return zip(f.storage, f0.storage).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / 64
    }

    @Test("the penalty keeps fine-tuned features near the pretrained ones, the more the heavier; weight 0 is plain fine-tuning")
    func penaltyKeepsFeaturesNear() {
        let free = drift(weight: nil), zero = drift(weight: 0), light = drift(weight: 0.1), heavy = drift(weight: 1)
        #expect(zero == free)
        #expect(free > 1 && light < free / 2 && heavy < light && heavy < free / 10, "drift: none \(free), 0.1 \(light), 1 \(heavy)")
    }
}
