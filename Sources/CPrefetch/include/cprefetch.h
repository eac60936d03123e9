#ifndef CURATE_CPREFETCH_H
#define CURATE_CPREFETCH_H
/* Software prefetch for the trainer's kernels (Swift has no prefetch intrinsic). Static
   inline, so the optimizer inlines it into the kernels as one instruction. */
static inline void curate_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }
/* Into L2 and below, not L1: for data needed a few microseconds later, too much for L1. */
static inline void curate_prefetch_l2(const void *address) { __builtin_prefetch(address, 0, 2); }
#endif
