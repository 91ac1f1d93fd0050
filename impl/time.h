// Strong time types for drpc-cpp: Duration (signed nanoseconds) and Instant (a point on a Clock's
// monotonic timeline). Both are plain values; only a Clock (impl/env.h) produces the current Instant,
// so the simulator can own time.
//
//   Instant deadline = clock.Now() + Duration::Millis(250);
//   if (clock.Now() >= deadline) ...
//   Duration d = later - earlier;   // d.nanos(), d.ToString() == "250ms"
#ifndef DRPC_IMPL_TIME_H_
#define DRPC_IMPL_TIME_H_

#include <compare>
#include <cstdint>
#include <limits>
#include <string>

namespace drpc {

class Duration {
 public:
  constexpr Duration() = default;
  static constexpr Duration Nanos(int64_t n) { return Duration(n); }
  static constexpr Duration Micros(int64_t n) { return Duration(n * 1000); }
  static constexpr Duration Millis(int64_t n) { return Duration(n * 1000 * 1000); }
  static constexpr Duration Seconds(int64_t n) { return Duration(n * 1000 * 1000 * 1000); }
  static constexpr Duration Zero() { return Duration(0); }
  // Effectively "never": adding it to any Instant saturates instead of overflowing.
  static constexpr Duration Infinite() { return Duration(std::numeric_limits<int64_t>::max()); }

  constexpr int64_t nanos() const { return nanos_; }
  constexpr double seconds() const { return static_cast<double>(nanos_) / 1e9; }
  constexpr bool is_infinite() const { return nanos_ == std::numeric_limits<int64_t>::max(); }

  constexpr Duration operator+(Duration o) const { return Duration(SaturatingAdd(nanos_, o.nanos_)); }
  constexpr Duration operator-(Duration o) const { return Duration(SaturatingAdd(nanos_, -o.nanos_)); }
  constexpr Duration operator*(int64_t k) const { return Duration(nanos_ * k); }
  constexpr Duration operator/(int64_t k) const { return Duration(nanos_ / k); }
  constexpr Duration& operator+=(Duration o) { return *this = *this + o; }
  constexpr Duration& operator-=(Duration o) { return *this = *this - o; }
  friend constexpr auto operator<=>(Duration, Duration) = default;

  // "0", "17ns", "3.2us", "250ms", "1.5s" (for traces and messages).
  std::string ToString() const;

 private:
  friend class Instant;
  constexpr explicit Duration(int64_t n) : nanos_(n) {}
  static constexpr int64_t SaturatingAdd(int64_t a, int64_t b) {
    if (b > 0 && a > std::numeric_limits<int64_t>::max() - b) {
      return std::numeric_limits<int64_t>::max();
    }
    if (b < 0 && a < std::numeric_limits<int64_t>::min() - b) {
      return std::numeric_limits<int64_t>::min();
    }
    return a + b;
  }
  int64_t nanos_ = 0;
};

class Instant {
 public:
  constexpr Instant() = default;
  // Nanoseconds since the clock's origin (the simulator starts at 0).
  static constexpr Instant FromNanos(int64_t n) { return Instant(n); }
  static constexpr Instant Infinite() { return Instant(std::numeric_limits<int64_t>::max()); }

  constexpr int64_t nanos() const { return nanos_; }
  constexpr bool is_infinite() const { return nanos_ == std::numeric_limits<int64_t>::max(); }

  constexpr Instant operator+(Duration d) const {
    return Instant(Duration::SaturatingAdd(nanos_, d.nanos_));
  }
  constexpr Instant operator-(Duration d) const {
    return Instant(Duration::SaturatingAdd(nanos_, -d.nanos_));
  }
  constexpr Duration operator-(Instant o) const {
    return Duration(Duration::SaturatingAdd(nanos_, -o.nanos_));
  }
  friend constexpr auto operator<=>(Instant, Instant) = default;

  // Seconds since the origin with microsecond precision, e.g. "12.000250s".
  std::string ToString() const;

 private:
  constexpr explicit Instant(int64_t n) : nanos_(n) {}
  int64_t nanos_ = 0;
};

}  // namespace drpc

#endif  // DRPC_IMPL_TIME_H_
