import Dispatch
import Foundation

/// How the trainer's kernels use the cores. Work is always split so that each output value
/// is computed by exactly one task in a fixed order: results are bit-identical whatever
/// `threads` is.
public enum Parallel {
    nonisolated(unsafe) public static var threads: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body(task)` for task in 0..<count, over up to `threads` cores: on the trainer's own
    /// workers when they are free (see `WorkerPool`), else through Dispatch.
    @inline(__always)
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        if count <= 1 || threads <= 1 {
            for i in 0..<count { body(i) }
        } else if !WorkerPool.shared.run(count, body) {
            DispatchQueue.concurrentPerform(iterations: count, execute: body)
        }
    }

    /// Splits 0..<n into `threads` contiguous, nearly equal ranges (or fewer when the work is
    /// small: at least `grain` items each) and runs them in parallel.
    @inline(__always)
    public static func ranges(_ n: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        let parts = max(1, min(threads, n / max(1, grain)))
        if parts == 1 {
            if n > 0 { body(0..<n) }
            return
        }
        forEach(parts) { t in
            let lo = n * t / parts, hi = n * (t + 1) / parts
            if lo < hi { body(lo..<hi) }
        }
    }
}

#if os(Linux)
/// glibc's mallopt (malloc.h is not part of the Glibc module).
@_silgen_name("mallopt") private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32

extension Parallel {
    /// Keeps large freed buffers in the heap instead of returning them to the kernel: the
    /// trainer allocates the same tensor sizes every batch, and fresh pages each time cost
    /// page faults and zeroing.
    public static func retainLargeAllocations() {
        _ = glibcMallopt(-3, 1 << 30)       // M_MMAP_THRESHOLD
        _ = glibcMallopt(-1, Int32.max)     // M_TRIM_THRESHOLD
    }
}
#else
extension Parallel {
    public static func retainLargeAllocations() {}
}
#endif
