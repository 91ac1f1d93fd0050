// Counts calls of the global operator new, for the allocations-per-call and per-message columns
// of tools/bench. Linked into the bench binary only (//tools:bench_alloc_counter replaces the
// global operator new of whatever links it); bench_lib reads the count through a function
// pointer, so other binaries that use bench_lib keep the ordinary allocator.
//
//   SetAllocationCounter(&CountedAllocations);   // in bench's main
//   const uint64_t before = AllocationCount();   // 0 without a counter
//   ... measured work ...
//   const double per_call = (AllocationCount() - before) / double(calls);
#ifndef DRPC_TOOLS_BENCH_ALLOC_COUNTER_H_
#define DRPC_TOOLS_BENCH_ALLOC_COUNTER_H_

#include <cstdint>

namespace drpc::bench {

// operator new calls so far, all threads (defined by //tools:bench_alloc_counter only).
uint64_t CountedAllocations();

// The counter bench_lib's measurements read; none (the default) makes every count 0 and
// HasAllocationCounter() false.
void SetAllocationCounter(uint64_t (*counter)());
bool HasAllocationCounter();
uint64_t AllocationCount();

}  // namespace drpc::bench

#endif  // DRPC_TOOLS_BENCH_ALLOC_COUNTER_H_
