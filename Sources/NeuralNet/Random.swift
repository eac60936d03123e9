import Foundation

/// Seeded random numbers. Every random choice in training (initial weights, shuffles,
/// dropout masks, augmentation) comes from a generator derived from the run's seed, so the
/// same seed gives the same bytes whatever the number of threads.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// The SplitMix64 finaliser: a good 64-bit hash, used for counter-based streams.
    @inline(__always)
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A generator for a named sub-stream of `seed` (for example the shuffle of epoch 3), so
    /// that streams do not depend on how many numbers other streams drew.
    public init(seed: UInt64, stream: UInt64, _ index: UInt64 = 0) {
        state = SplitMix64.mix(seed ^ SplitMix64.mix(stream &* 0x9E37_79B9_7F4A_7C15 &+ index))
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [low, high).
    public mutating func uniform(_ low: Float, _ high: Float) -> Float {
        low + (high - low) * nextFloat()
    }

    /// Standard normal (Box-Muller).
    public mutating func normal() -> Float {
        let u1 = max(Double(next() >> 11) * 0x1p-53, 1e-300)
        let u2 = Double(next() >> 11) * 0x1p-53
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// A uniform integer in 0..<bound without modulo bias.
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        let b = UInt64(bound)
        let threshold = (0 &- b) % b
        while true {
            let r = next()
            let (hi, lo) = r.multipliedFullWidth(by: b)
            if lo >= threshold { return Int(hi) }
        }
    }

    /// A seeded Fisher-Yates permutation of 0..<n.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) {
                p.swapAt(i, below(i + 1))
            }
        }
        return p
    }
}

