#include "impl/time.h"

#include <cstdio>
#include <string>

namespace drpc {
namespace {

std::string FormatScaled(int64_t nanos, int64_t unit, const char* suffix) {
  char buf[48];
  if (nanos % unit == 0) {
    std::snprintf(buf, sizeof(buf), "%lld%s", static_cast<long long>(nanos / unit), suffix);
  } else {
    std::snprintf(buf, sizeof(buf), "%.3g%s", static_cast<double>(nanos) / static_cast<double>(unit),
                  suffix);
  }
  return buf;
}

}  // namespace

std::string Duration::ToString() const {
  if (is_infinite()) return "inf";
  if (nanos_ == 0) return "0";
  const int64_t mag = nanos_ < 0 ? -nanos_ : nanos_;
  if (mag < 1000) return FormatScaled(nanos_, 1, "ns");
  if (mag < 1000 * 1000) return FormatScaled(nanos_, 1000, "us");
  if (mag < 1000 * 1000 * 1000) return FormatScaled(nanos_, 1000 * 1000, "ms");
  return FormatScaled(nanos_, 1000 * 1000 * 1000, "s");
}

std::string Instant::ToString() const {
  if (is_infinite()) return "inf";
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%lld.%06llds", static_cast<long long>(nanos_ / 1000000000),
                static_cast<long long>((nanos_ % 1000000000) / 1000));
  return buf;
}

}  // namespace drpc
