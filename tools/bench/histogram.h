// A latency histogram for tools/bench: fixed memory, ~1.6 % relative precision, exact below 64.
//
//   Histogram h;
//   h.Record(elapsed_ns);
//   h.Percentile(0.99);   // the 99th percentile, in the recorded unit
//
// Log-linear buckets: values below 64 have one bucket each; above, every power of two is split
// into 64 equal buckets, so a percentile is off by at most 1/64 of its value. 3776 counters cover
// the whole uint64 range, whatever the number of samples (no per-sample storage).
#ifndef DRPC_TOOLS_BENCH_HISTOGRAM_H_
#define DRPC_TOOLS_BENCH_HISTOGRAM_H_

#include <array>
#include <cstddef>
#include <cstdint>

namespace drpc::bench {

class Histogram {
 public:
  static constexpr size_t kSubBucketBits = 6;
  static constexpr size_t kSubBucketCount = size_t{1} << kSubBucketBits;  // 64
  static constexpr size_t kBucketCount = (64 - kSubBucketBits + 1) * kSubBucketCount;

  void Record(uint64_t value);
  // Adds every sample of `other`.
  void Merge(const Histogram& other);
  void Clear() { *this = Histogram(); }

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0 : static_cast<double>(sum_) / count_; }

  // The value at quantile q in [0, 1] (0.5 = median): the midpoint of the bucket holding the
  // ceil(q * count)-th smallest sample, clamped to [min, max]. 0 when empty.
  uint64_t Percentile(double q) const;

  // Bucket arithmetic, exposed for tests.
  static size_t BucketOf(uint64_t value);
  static uint64_t BucketLow(size_t bucket);   // smallest value in the bucket
  static uint64_t BucketHigh(size_t bucket);  // largest value in the bucket

 private:
  std::array<uint64_t, kBucketCount> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace drpc::bench

#endif  // DRPC_TOOLS_BENCH_HISTOGRAM_H_
