import Foundation
import Testing
@testable import NeuralNet

/// Checks a layer's backward pass against central finite differences of
/// L(x, params) = sum_i r_i f(x)_i, for the input and for every parameter.
func checkGradients(_ layer: Layer, input: Tensor, seed: UInt64 = 9, epsilon: Float = 1e-2, tolerance: Double = 2e-2,
                    sourceLocation: SourceLocation = #_sourceLocation) {
    let y = layer.forward(input, training: true)
    let r = Tensor(shape: y.shape, storage: randomArray(y.count, seed: seed))
    let dx = layer.backward(r, inputGradient: true)!
    let paramGrads = layer.parameters.filter { !$0.isBuffer }.map(\.grad)

    func loss(_ x: Tensor) -> Double {
        let out = layer.forward(x, training: true)
        return zip(out.storage, r.storage).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }
    func compare(_ analytic: Float, _ numeric: Double, _ what: String) {
        let scale = max(1, abs(numeric), abs(Double(analytic)))
        #expect(abs(Double(analytic) - numeric) / scale <= tolerance, "\(layer.summary) \(what): analytic \(analytic), numeric \(numeric)",
                sourceLocation: sourceLocation)
    }
    var x = input
    for i in 0..<x.count {
        let v = x.storage[i]
        x.storage[i] = v + epsilon
        let plus = loss(x)
        x.storage[i] = v - epsilon
        let minus = loss(x)
        x.storage[i] = v
        compare(dx.storage[i], (plus - minus) / Double(2 * epsilon), "dx[\(i)]")
    }
    for (p, grad) in zip(layer.parameters.filter { !$0.isBuffer }, paramGrads) {
        for i in 0..<p.count {
            let v = p.value[i]
            p.value[i] = v + epsilon
            let plus = loss(input)
            p.value[i] = v - epsilon
            let minus = loss(input)
            p.value[i] = v
            compare(grad[i], (plus - minus) / Double(2 * epsilon), "d\(p.name)[\(i)]")
        }
    }
}

/// Values spaced at least `gap` apart (so max-pooling and ReLU kinks are never crossed by a
/// finite-difference step), in a seeded order, none near zero.
func spacedInput(_ shape: [Int], seed: UInt64, gap: Float = 0.05) -> Tensor {
    let n = shape.reduce(1, *)
    var rng = SplitMix64(seed: seed)
    let order = rng.permutation(n)
    let values = order.map { Float($0 - n / 2) * gap + gap / 2 }
    return Tensor(shape: shape, storage: values)
}

@Suite struct GradientTests {
    @Test func dense() {
        var rng = SplitMix64(seed: 1)
        checkGradients(Dense(5, 3, rng: &rng), input: Tensor(shape: [4, 5], storage: randomArray(20, seed: 2)))
    }

    @Test func convolutionStridePaddingAndFusedReLU() {
        var rng = SplitMix64(seed: 3)
        checkGradients(Conv2D(2, 3, kernel: 3, stride: 1, padding: 1, rng: &rng), input: Tensor(shape: [2, 5, 4, 2], storage: randomArray(80, seed: 4)))
        checkGradients(Conv2D(3, 4, kernel: 3, stride: 2, padding: 0, rng: &rng), input: Tensor(shape: [1, 7, 6, 3], storage: randomArray(126, seed: 5)))
        checkGradients(Conv2D(2, 2, kernel: 1, stride: 2, padding: 0, bias: false, rng: &rng), input: Tensor(shape: [2, 4, 4, 2], storage: randomArray(64, seed: 6)))
        // More images than one chunk, so the chunked weight gradient is summed across chunks.
        let relu = Conv2D(1, 2, kernel: 3, stride: 1, padding: 1, relu: true, rng: &rng)
        checkGradients(relu, input: spacedInput([9, 3, 3, 1], seed: 7, gap: 0.11), epsilon: 1e-3, tolerance: 5e-2)
    }

    @Test func pooling() {
        checkGradients(MaxPool2D(2), input: spacedInput([2, 4, 6, 3], seed: 8))
        checkGradients(MaxPool2D(2), input: spacedInput([1, 5, 5, 2], seed: 9))          // odd: last row/column unused
        checkGradients(MaxPool2D(3, stride: 2), input: spacedInput([2, 7, 5, 2], seed: 10)) // overlapping windows
        checkGradients(AvgPool2D(2), input: Tensor(shape: [2, 4, 4, 3], storage: randomArray(96, seed: 11)))
        checkGradients(GlobalAvgPool(), input: Tensor(shape: [2, 3, 3, 4], storage: randomArray(72, seed: 12)))
    }

    @Test func maxPoolTakesWindowMaxima() {
        let x = spacedInput([3, 6, 4, 9], seed: 13)
        let pair = MaxPool2D(2)
        #expect(pair.isPair)
        let y = pair.forward(x, training: true)
        for b in 0..<3 { for oy in 0..<3 { for ox in 0..<2 { for c in 0..<9 {
            var m = -Float.infinity
            for ky in 0..<2 { for kx in 0..<2 { m = max(m, x.storage[((b * 6 + 2 * oy + ky) * 4 + 2 * ox + kx) * 9 + c]) } }
            #expect(y.storage[((b * 3 + oy) * 2 + ox) * 9 + c] == m)
        } } } }
    }

    @Test func reluBatchNormFlatten() {
        checkGradients(ReLU(), input: spacedInput([3, 7], seed: 14))
        checkGradients(BatchNorm(3), input: Tensor(shape: [4, 2, 2, 3], storage: randomArray(48, seed: 15)), epsilon: 1e-2, tolerance: 3e-2)
        checkGradients(BatchNorm(5), input: Tensor(shape: [6, 5], storage: randomArray(30, seed: 16)), epsilon: 1e-2, tolerance: 3e-2)
        checkGradients(Flatten(), input: Tensor(shape: [2, 2, 2, 2], storage: randomArray(16, seed: 17)))
    }

    /// A block with ReLUs after batch normalisation has kinks near almost any point, so it is
    /// checked along random directions, one per tensor (a residual block whose shortcut or sum were wrong
    /// would be off by the size of that term): (L(x + hv) - L(x - hv)) / 2h against <grad, v>, for
    /// the input and all parameters moved together.
    @Test func residualBlocks() {
        var rng = SplitMix64(seed: 18)
        for (block, seed) in [(ResidualBlock(2, 2, stride: 1, rng: &rng), UInt64(19)), (ResidualBlock(2, 3, stride: 2, rng: &rng), 20)] {
            let x = Tensor(shape: [3, 4, 4, 2], storage: randomArray(96, seed: seed))
            let y = block.forward(x, training: true)
            let r = randomArray(y.count, seed: seed + 100)
            let dx = block.backward(Tensor(shape: y.shape, storage: r), inputGradient: true)!
            let params = block.parameters.filter { !$0.isBuffer }
            let grads = params.map(\.grad)
            let values = params.map(\.value)
            // One direction in the input, then one in each parameter in turn.
            for part in -1..<params.count {
                let vx = part == -1 ? randomArray(x.count, seed: seed * 10) : [Float](repeating: 0, count: x.count)
                let vp = params.enumerated().map {
                    $0.offset == part ? randomArray($0.element.count, seed: seed * 1000 + UInt64($0.offset)) : [Float](repeating: 0, count: $0.element.count)
                }
                var analytic = zip(dx.storage, vx).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                for (g, v) in zip(grads, vp) { analytic += zip(g, v).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
                func loss(_ h: Float) -> Double {
                    for (i, p) in params.enumerated() { p.value = zip(values[i], vp[i]).map { $0 + h * $1 } }
                    let out = block.forward(Tensor(shape: x.shape, storage: zip(x.storage, vx).map { $0 + h * $1 }), training: true)
                    return zip(out.storage, r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                }
                // A kink between x - hv and x + hv spoils one step size, not all of them; a wrong
                // gradient is wrong at every step size.
                let errors = [2e-3, 1e-3, 5e-4].map { (h: Double) -> Double in
                    let numeric = (loss(Float(h)) - loss(Float(-h))) / (2 * h)
                    return abs(numeric - analytic) / max(1, abs(analytic))
                }
                _ = loss(0)
                #expect(errors.min()! < 2e-3, "\(block.summary) direction \(part): relative errors \(errors)")
            }
        }
    }

    @Test func dropoutScalesKeptValuesAndRoutesGradientThroughTheSameMask() {
        let d = Dropout(0.5, seed: 3)
        let x = Tensor(shape: [4, 50], storage: randomArray(200, seed: 21, range: 1...2))
        let y = d.forward(x, training: true)
        let g = Tensor(shape: [4, 50], storage: randomArray(200, seed: 22))
        let dx = d.backward(g, inputGradient: true)!
        var dropped = 0
        for i in 0..<200 {
            if y.storage[i] == 0 {
                dropped += 1
                #expect(dx.storage[i] == 0)
            } else {
                #expect(abs(y.storage[i] - 2 * x.storage[i]) < 1e-6)
                #expect(abs(dx.storage[i] - 2 * g.storage[i]) < 1e-6)
            }
        }
        #expect(dropped > 60 && dropped < 140)
        #expect(d.forward(x, training: false) == x)
    }

    @Test func weightedSoftmaxCrossEntropy() {
        let logits = Tensor(shape: [3, 4], storage: randomArray(12, seed: 23, range: -2...2))
        let labels = [2, 0, 3], weights: [Float] = [1, 0.5, 2]
        let out = SoftmaxCrossEntropy.weightedMean(logits: logits, labels: labels, weights: weights)
        // By hand from the definition: sum w_i (logsumexp_i - z_{i,y_i}) / sum w_i.
        var expected = 0.0
        for i in 0..<3 {
            let row = (0..<4).map { Double(logits.storage[i * 4 + $0]) }
            let lse = log(row.map { exp($0) }.reduce(0, +))
            expected += Double(weights[i]) * (lse - row[labels[i]])
        }
        expected /= 3.5
        #expect(abs(Double(out.loss) - expected) < 1e-5)
        var x = logits
        for i in 0..<12 {
            let v = x.storage[i]
            x.storage[i] = v + 1e-2
            let plus = SoftmaxCrossEntropy.weightedMean(logits: x, labels: labels, weights: weights).loss
            x.storage[i] = v - 1e-2
            let minus = SoftmaxCrossEntropy.weightedMean(logits: x, labels: labels, weights: weights).loss
            x.storage[i] = v
            #expect(abs(out.gradient.storage[i] - (plus - minus) / 2e-2) < 1e-3)
        }
    }
}

@Test("backward adding a gradient at a layer's input equals finite differences of the two-term loss")
func backwardAddingAnExtraGradient() {
    var rng = SplitMix64(seed: 31)
    let net = Sequential([Dense(5, 4, rng: &rng), Dense(4, 3, rng: &rng), Dense(3, 2, rng: &rng)])
    let x = Tensor(shape: [3, 5], storage: randomArray(15, seed: 32))
    let r = randomArray(6, seed: 33), s = randomArray(9, seed: 34)
    // L = sum r . y + sum s . h, h the input of layer 2.
    let (y, _) = net.forward(x, training: true, keepingInputOf: 2)
    _ = y
    let dx = net.backward(Tensor(shape: [3, 2], storage: r), inputGradient: true, adding: (Tensor(shape: [3, 3], storage: s), 2))!
    let grads = net.parameters.map(\.grad)
    func loss() -> Double {
        let (out, h) = net.forward(x, training: false, keepingInputOf: 2)
        return zip(out.storage, r).reduce(0.0) { $0 + Double($1.0 * $1.1) } + zip(h.storage, s).reduce(0.0) { $0 + Double($1.0 * $1.1) }
    }
    for (p, g) in zip(net.parameters, grads) {
        for i in 0..<p.count {
            let v = p.value[i]
            p.value[i] = v + 1e-2; let plus = loss()
            p.value[i] = v - 1e-2; let minus = loss()
            p.value[i] = v
            let numeric = (plus - minus) / 2e-2
            #expect(abs(Double(g[i]) - numeric) <= 1e-2 * max(1, abs(numeric)), "\(p.name)[\(i)]")
        }
    }
    #expect(dx.shape == x.shape)
}

