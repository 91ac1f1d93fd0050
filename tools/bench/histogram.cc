#include "tools/bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace drpc::bench {

size_t Histogram::BucketOf(uint64_t value) {
  if (value < kSubBucketCount) return static_cast<size_t>(value);
  // exponent >= kSubBucketBits; the top kSubBucketBits+1 bits select the bucket in that octave.
  const size_t exponent = static_cast<size_t>(std::bit_width(value)) - 1;
  const size_t shift = exponent - kSubBucketBits;
  const size_t mantissa = static_cast<size_t>(value >> shift);  // in [64, 128)
  return (shift + 1) * kSubBucketCount + (mantissa - kSubBucketCount);
}

uint64_t Histogram::BucketLow(size_t bucket) {
  if (bucket < kSubBucketCount) return bucket;
  const size_t shift = bucket / kSubBucketCount - 1;
  const uint64_t mantissa = bucket % kSubBucketCount + kSubBucketCount;
  return mantissa << shift;
}

uint64_t Histogram::BucketHigh(size_t bucket) {
  if (bucket < kSubBucketCount) return bucket;
  const size_t shift = bucket / kSubBucketCount - 1;
  return BucketLow(bucket) + ((uint64_t{1} << shift) - 1);
}

void Histogram::Record(uint64_t value) {
  ++counts_[BucketOf(value)];
  ++count_;
  sum_ += value;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void Histogram::Merge(const Histogram& other) {
  for (size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

uint64_t Histogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * count_)));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const uint64_t low = BucketLow(i);
      const uint64_t mid = low + (BucketHigh(i) - low) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

}  // namespace drpc::bench
