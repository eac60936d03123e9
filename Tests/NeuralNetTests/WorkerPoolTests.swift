@testable import NeuralNet
import Dispatch
import Foundation
import Synchronization
import Testing

@Suite("The trainer's worker threads")
struct WorkerPoolTests {
    /// Runs `count` tasks through `run` and returns how many times each index ran.
    func tally(_ count: Int, _ run: (Int, (Int) -> Void) -> Void) -> [Int] {
        let hits = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: count)
        for i in 0..<count { (hits + i).initialize(to: Atomic(0)) }
        defer { hits.deinitialize(count: count); hits.deallocate() }
        nonisolated(unsafe) let h = hits
        run(count) { i in h[i].add(1, ordering: .relaxed) }
        return (0..<count).map { hits[$0].load(ordering: .relaxed) }
    }

    @Test("every task of every job runs exactly once, on a private pool of two workers and on the shared one")
    func eachTaskOnce() {
        let pool = WorkerPool(workers: 2)
        defer { pool.stop() }
        for count in [1, 2, 3, 7, 64, 1000] {
            for _ in 0..<50 {
                var ran = false
                let hits = tally(count) { n, body in ran = pool.run(n, body) }
                #expect(ran)
                #expect(hits == [Int](repeating: 1, count: count))
            }
        }
        // Asleep between jobs (a pause longer than the workers stay awake), then woken again.
        for _ in 0..<3 {
            usleep(2 * UInt32(WorkerPool.spinNanoseconds / 1000))
            #expect(tally(100) { n, body in _ = pool.run(n, body) } == [Int](repeating: 1, count: 100))
        }
        #expect(tally(37) { n, body in Parallel.forEach(n, body) } == [Int](repeating: 1, count: 37))
    }

    @Test("a job started inside a job, or while another thread's runs, is refused and runs another way")
    func nestedAndConcurrent() {
        let pool = WorkerPool(workers: 1)
        defer { pool.stop() }
        nonisolated(unsafe) var innerRan = [Bool](repeating: true, count: 8)
        let outer = tally(8) { n, body in
            _ = pool.run(n) { i in
                body(i)
                // The pool is busy with the outer job: the inner one is refused, not deadlocked.
                innerRan[i] = pool.run(4) { _ in }
            }
        }
        #expect(outer == [Int](repeating: 1, count: 8))
        #expect(innerRan == [Bool](repeating: false, count: 8))
        // Many threads at once through Parallel.forEach: whichever gets the pool, the rest fall
        // back to Dispatch, and every task still runs once.
        let results = UnsafeMutablePointer<Bool>.allocate(capacity: 16)
        defer { results.deallocate() }
        nonisolated(unsafe) let r = results
        DispatchQueue.concurrentPerform(iterations: 16) { t in
            r[t] = self.tally(50 + t) { n, body in Parallel.forEach(n, body) } == [Int](repeating: 1, count: 50 + t)
        }
        #expect((0..<16).allSatisfy { results[$0] })
    }
}
