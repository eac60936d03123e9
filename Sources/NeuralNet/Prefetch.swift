/// Software prefetch for the trainer's kernels: LLVM's prefetch intrinsic, declared directly
/// (Swift has no prefetch of its own). It becomes one instruction wherever it is inlined. A C
/// `static inline` wrapper, the earlier way, was left as a call inside generic specialisations,
/// and a call clobbers every vector register: a kernel that prefetched in its inner loop then
/// spilled and reloaded all its accumulators around each prefetch.
@usableFromInline @_silgen_name("llvm.prefetch.p0")
func llvmPrefetch(_ address: UnsafeRawPointer, _ write: Int32, _ locality: Int32, _ cache: Int32)

public enum Prefetch {
    /// Into every cache level (L1 and below): for data needed within a few hundred cycles.
    @inlinable @inline(__always)
    public static func l1(_ address: UnsafeRawPointer) { llvmPrefetch(address, 0, 3, 1) }

    /// Into L2 and below, not L1: for data needed a few microseconds later, too much for L1.
    @inlinable @inline(__always)
    public static func l2(_ address: UnsafeRawPointer) { llvmPrefetch(address, 0, 2, 1) }
}
