import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The trainer's worker threads: one fewer than the cores, each spinning (yielding its core to
/// anything else runnable) for a while after a job before it sleeps.
///
/// The trainer runs a parallel region every layer of every batch, with a few microseconds of
/// serial work between them. Dispatch parks its workers at once, and waking one took about 50 us
/// on the 2-core Zen 5 VM here (two 100 us tasks after 10 us of serial work: 150 to 155 us, the
/// median of 3,000), a fifth of a linear probe's pass over a batch, so the second core joined
/// each region late. These workers are still awake when the next region starts (the same two
/// tasks: 100.6 us).
///
/// One job at a time: a caller that finds the pool busy (a nested region, or another thread's)
/// gets `false` and runs its job some other way. Tasks are claimed from a shared counter, so
/// which thread runs a task never changes what it computes.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool(workers: max(0, ProcessInfo.processInfo.activeProcessorCount - 1))

    /// How long a worker stays awake after its last job.
    static let spinNanoseconds: UInt64 = 200_000

    private let workers: Int
    private let busy = Atomic<Bool>(false)
    /// The current job's number; a worker that sees it change joins the job.
    private let generation = Atomic<Int>(0)
    private let next = Atomic<Int>(0)
    /// Workers inside the current job: when the caller has run out of tasks to claim, any task
    /// still running is an active worker's, so the job is finished when none is active.
    private let active = Atomic<Int>(0)
    // Written under `lock` while no worker is active, read under `lock` when joining.
    private let lock = NSCondition()
    private var body: ((Int) -> Void)?
    private var count = 0
    private var sleepers = 0
    private var started = false
    private var stopping = false

    init(workers: Int) { self.workers = workers }

    /// Runs `body` for 0..<count on this thread and the workers; false (nothing run) when the
    /// pool is busy or has no workers.
    func run(_ count: Int, _ body: (Int) -> Void) -> Bool {
        guard workers > 0, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        defer { busy.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { body in
            lock.lock()
            if !started { startWorkers() }
            self.body = body
            self.count = count
            next.store(0, ordering: .relaxed)
            generation.add(1, ordering: .releasing)
            if sleepers > 0 { lock.broadcast() }
            lock.unlock()
            work(body, count)
            // Every task is claimed; the job is retired once no worker is still in it (running
            // its last task, or holding the closure).
            while true {
                lock.lock()
                if active.load(ordering: .acquiring) == 0 {
                    self.body = nil
                    lock.unlock()
                    break
                }
                lock.unlock()
                spinPause()
            }
        }
        return true
    }

    private func work(_ body: (Int) -> Void, _ count: Int) {
        while true {
            let i = next.add(1, ordering: .relaxed).oldValue
            if i >= count { return }
            body(i)
        }
    }

    private func startWorkers() {
        started = true
        for w in 0..<workers {
            let thread = Thread { self.loop() }
            thread.name = "curate.trainer.\(w)"
            thread.start()
        }
    }

    /// Ends the workers (once they finish what they run now); the pool then runs nothing. The
    /// shared pool is never stopped; a pool made for a test is.
    func stop() {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return }
        lock.lock()
        stopping = true
        generation.add(1, ordering: .releasing)
        lock.broadcast()
        lock.unlock()
    }

    private func loop() {
        var seen = 0
        while true {
            // Awake for a while after the last job, then asleep until the next.
            let start = DispatchTime.now().uptimeNanoseconds
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins &+= 1
                if spins & 63 == 0 && DispatchTime.now().uptimeNanoseconds &- start > Self.spinNanoseconds {
                    lock.lock()
                    sleepers += 1
                    while generation.load(ordering: .acquiring) == seen { lock.wait() }
                    sleepers -= 1
                    lock.unlock()
                    break
                }
                spinPause()
            }
            // Join the job now published, if it is still open.
            switch join(&seen) {
            case .ran: active.subtract(1, ordering: .releasing)
            case .none: continue
            case .stop: return
            }
        }
    }

    private enum Joined { case ran, none, stop }

    /// Takes part in the current job, if there is one, and says whether it did. Not inlined,
    /// so that its copy of the job's closure (the caller's, lent without escaping) is gone when it
    /// returns, before the worker says it has left the job.
    @inline(never)
    private func join(_ seen: inout Int) -> Joined {
        lock.lock()
        seen = generation.load(ordering: .acquiring)
        if stopping { lock.unlock(); return .stop }
        guard let job = body else { lock.unlock(); return .none }
        let count = self.count
        active.add(1, ordering: .acquiring)
        lock.unlock()
        work(job, count)
        return .ran
    }

    /// Gives the core to any other runnable thread, else returns at once.
    @inline(__always)
    private func spinPause() { sched_yield() }
}
