// DRPC_FUZZ_NO_COVERAGE: keeps a harness's own checking code out of libFuzzer's coverage feedback.
//
//   DRPC_FUZZ_NO_COVERAGE extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {...}
//
// The feedback that steers a campaign should come from the code under test (proto/, impl/), which
// stays instrumented whatever calls it. A harness's oracle — record keeping, comparisons with a
// reference, its loops over frames — adds edges and comparison traces on every execution that
// say nothing new about the decoder: with them, libFuzzer spends a share of each run tracing and
// collecting them, and an input can enter the corpus for exercising the oracle alone. Functions
// marked with this attribute are compiled without the coverage instrumentation (clang's
// no_sanitize("coverage")); AddressSanitizer and UndefinedBehaviorSanitizer still check them.
#ifndef DRPC_FUZZ_NO_COVERAGE_H_
#define DRPC_FUZZ_NO_COVERAGE_H_

#if defined(__clang__)
#define DRPC_FUZZ_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define DRPC_FUZZ_NO_COVERAGE
#endif

#endif  // DRPC_FUZZ_NO_COVERAGE_H_
