import Foundation
import NeuralNet
import Testing
@testable import Training

/// Attacks on a model's input: the gradient they follow, the budgets they keep, and the closed
/// form of FGSM on a linear model.
@Suite("Adversarial attacks")
struct AttackTests {
    func images(_ n: Int, _ h: Int, _ w: Int, _ c: Int, seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        // Pixel levels 0...255 normalised as ImageData does, some at the range's ends.
        return Tensor(shape: [n, h, w, c], storage: (0..<(n * h * w * c)).map { _ in
            Float(Int(rng.uniform(0, 256)).clamped(0, 255)) / 127.5 - 1
        })
    }

    func summedLoss(_ net: Sequential, _ x: Tensor, _ labels: [Int]) -> Double {
        let (losses, _) = SoftmaxCrossEntropy.evaluate(logits: net.forward(x, training: false), labels: labels)
        return losses.reduce(0.0) { $0 + Double($1) }
    }

    @Test("the input gradient is the evaluated model's: central differences through Conv2D, BatchNorm on running statistics, Dropout and Dense")
    func inputGradientMatchesFiniteDifferences() {
        var rng = SplitMix64(seed: 5)
        let bn = BatchNorm(3)
        bn.runningMean.value = [0.2, -0.1, 0.05]
        bn.runningVar.value = [0.5, 2.0, 1.3]
        bn.gamma.value = [1.5, -0.7, 0.9]
        bn.beta.value = [0.1, 0.2, -0.3]
        let net = Sequential([Conv2D(1, 3, kernel: 3, padding: 1, rng: &rng), bn, Dropout(0.5, seed: 1), Flatten(), Dense(3 * 5 * 5, 4, rng: &rng)])
        let x = images(2, 5, 5, 1, seed: 6), labels = [1, 3]
        let g = net.inputGradient(x, labels: labels).gradient
        #expect(bn.runningMean.value == [0.2, -0.1, 0.05] && bn.runningVar.value == [0.5, 2.0, 1.3])
        var probe = x
        let h: Float = 1e-2
        for i in 0..<x.count {
            let v = probe.storage[i]
            probe.storage[i] = v + h
            let plus = summedLoss(net, probe, labels)
            probe.storage[i] = v - h
            let minus = summedLoss(net, probe, labels)
            probe.storage[i] = v
            let numeric = (plus - minus) / Double(2 * h)
            #expect(abs(Double(g.storage[i]) - numeric) <= 2e-2 * max(1, abs(numeric)), "dx[\(i)]: \(g.storage[i]) against \(numeric)")
        }
    }

    @Test("a frozen-feature model is differentiated down to its input")
    func frozenLayersAreDifferentiated() {
        let net = ModelSpec(name: .mlp, height: 4, width: 4, channels: 1, classes: 3).build(seed: 2)
        let x = images(3, 4, 4, 1, seed: 3), labels = [0, 2, 1]
        let whole = net.inputGradient(x, labels: labels).gradient
        net.trainableFrom = 3
        let frozen = net.inputGradient(x, labels: labels).gradient
        #expect(net.trainableFrom == 3)
        #expect(frozen.shape == x.shape && frozen.storage == whole.storage)
    }

    @Test("FGSM on a linear model is x + epsilon sign(W (p - onehot)), clipped to the pixel range")
    func fgsmOnALinearModelIsItsClosedForm() {
        let (h, w, c, k) = (3, 3, 2, 4)
        let net = ModelSpec(name: .linear, height: h, width: w, channels: c, classes: k).build(seed: 4)
        let dense = net.layers[1] as! Dense
        let x = images(5, h, w, c, seed: 8), labels = [0, 1, 2, 3, 1], d = h * w * c
        let epsilon: Float = 8 / 255
        let adversarial = Attack(.fgsm, epsilon: epsilon).perturb(net, x, labels: labels)
        for i in 0..<5 {
            // Logits, softmax and dL/dx in Double.
            let logits = (0..<k).map { cl in (0..<d).reduce(Double(dense.bias.value[cl])) { $0 + Double(x.storage[i * d + $1]) * Double(dense.weight.value[$1 * k + cl]) } }
            let top = logits.max()!, exps = logits.map { exp($0 - top) }, total = exps.reduce(0, +)
            let residual = (0..<k).map { exps[$0] / total - ($0 == labels[i] ? 1 : 0) }
            for j in 0..<d {
                let grad = (0..<k).reduce(0.0) { $0 + residual[$1] * Double(dense.weight.value[j * k + $1]) }
                let original = x.storage[i * d + j]
                let want = min(max(original + 2 * epsilon * Float(grad > 0 ? 1 : grad < 0 ? -1 : 0), -1), 1)
                #expect(abs(adversarial.storage[i * d + j] - want) <= 1e-6, "image \(i) value \(j)")
            }
        }
    }

    @Test("PGD never leaves the budget's ball or the pixel range", arguments: Attack.Norm.allCases)
    func pgdKeepsItsBudget(_ norm: Attack.Norm) {
        let net = ModelSpec(name: .cnnSmall, height: 8, width: 8, channels: 1, classes: 3).build(seed: 11)
        for trial in 0..<4 {
            let x = images(6, 8, 8, 1, seed: 20 + UInt64(trial))
            let labels = (0..<6).map { ($0 + trial) % 3 }
            let epsilon: Float = norm == .linf ? [1, 4, 8, 16][trial] / 255 : [0.1, 0.25, 0.5, 1][trial]
            let attack = Attack(.pgd, norm: norm, epsilon: epsilon, steps: 5, randomStart: trial % 2 == 0, seed: UInt64(trial))
            let a = attack.perturb(net, x, labels: labels)
            let per = x.itemCount
            for i in 0..<6 {
                let deltas = (0..<per).map { a.storage[i * per + $0] - x.storage[i * per + $0] }
                let size = norm == .linf ? deltas.map { abs($0) }.max()! : deltas.reduce(0) { $0 + $1 * $1 }.squareRoot()
                #expect(size <= 2 * epsilon * (1 + 1e-5) + 1e-6, "trial \(trial) image \(i): \(size) beyond \(2 * epsilon)")
                #expect(size > 0, "trial \(trial) image \(i): not moved")
            }
            #expect(a.storage.allSatisfy { $0 >= -1 && $0 <= 1 })
        }
    }

    @Test("PGD raises the loss, more than FGSM's one step does, and the same seed gives the same images")
    func pgdRaisesTheLoss() {
        let net = ModelSpec(name: .mlp, height: 6, width: 6, channels: 1, classes: 4).build(seed: 13)
        let x = images(16, 6, 6, 1, seed: 14), labels = (0..<16).map { $0 % 4 }
        let fgsm = Attack(.fgsm, epsilon: 4 / 255).perturb(net, x, labels: labels)
        let pgd = Attack(.pgd, epsilon: 4 / 255, steps: 10, seed: 3)
        let once = pgd.perturb(net, x, labels: labels), again = pgd.perturb(net, x, labels: labels)
        #expect(once.storage == again.storage)
        let (clean, one, many) = (summedLoss(net, x, labels), summedLoss(net, fgsm, labels), summedLoss(net, once, labels))
        #expect(one > clean && many >= one, "losses: clean \(clean), FGSM \(one), PGD \(many)")
    }

    @Test("at epsilon 0 every attack returns the images unchanged", arguments: [Attack.Method.fgsm, .pgd])
    func zeroBudgetChangesNothing(_ method: Attack.Method) {
        let net = ModelSpec(name: .cnnSmall, height: 8, width: 8, channels: 1, classes: 3).build(seed: 17)
        let x = images(4, 8, 8, 1, seed: 18)
        for norm in Attack.Norm.allCases {
            let a = Attack(method, norm: norm, epsilon: 0, steps: 3).perturb(net, x, labels: [0, 1, 2, 0])
            #expect(a.storage == x.storage)
        }
    }
}

extension Comparable {
    func clamped(_ low: Self, _ high: Self) -> Self { min(max(self, low), high) }
}
