// Assertions for drpc-cpp's own invariants.
//
// Three tiers (see guides/style.md):
//   DRPC_CHECK(cond)   always on; use for invariants whose violation means memory or protocol
//                      state is already corrupt.
//   DRPC_DCHECK(cond)  debug builds only (compiled but never evaluated under NDEBUG); use for
//                      costly checks on hot paths.
//   DRPC_CHECK_COLD(cond, detail)
//                      DRPC_CHECK for cheap checks on per-packet paths: the message is built in
//                      a cold function of its own (see below).
//   bytes from a peer  never assert: return absl::Status with detail (see proto/base/status.h).
//
// Each macro accepts a streamed message:
//   DRPC_CHECK(window_bytes <= window_max_bytes) << "stream " << stream_id;
//   DRPC_CHECK_EQ(frames.size(), 1u);
//   DRPC_CHECK_OK(status);
//
// On failure the message "CHECK failed: <file>:<line>: <condition> (<values>) <detail>" goes to
// the installed CheckFailureHook (the simulator prints it with a replay command there and exits
// with its crash code), then to stderr, and the process aborts.
#ifndef DRPC_PROTO_BASE_CHECK_H_
#define DRPC_PROTO_BASE_CHECK_H_

#include <sstream>
#include <string>
#include "absl/strings/string_view.h"
#include <type_traits>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/status/status.h"

namespace drpc {

// Called with the complete failure message before the process aborts. It may end the process
// itself (the simulator calls _exit with its crash exit code); if it returns, the message is
// printed and the process aborts. It must not return control to the failing code otherwise (it may
// throw only if every frame between the check and the catch allows it; drpc-cpp's own code does
// not rely on that). Returns the previously installed hook.
using CheckFailureHook = void (*)(absl::string_view message);
CheckFailureHook SetCheckFailureHook(CheckFailureHook hook);

namespace check_internal {

// Collects the streamed detail; its destructor reports and aborts.
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  CheckFailure(const char* file, int line, const char* condition, std::string values);
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;
  ABSL_ATTRIBUTE_NORETURN ~CheckFailure();

  std::ostream& stream() { return detail_; }

 private:
  const char* file_;
  int line_;
  const char* condition_;
  std::string values_;
  std::ostringstream detail_;
};

// Turns `CheckFailure(...).stream() << ...` into a void expression for the ?: in the macros.
struct Voidify {
  void operator&(std::ostream&) {}
};

template <typename T>
void PrintValue(std::ostream& os, const T& v) {
  if constexpr (std::is_same_v<T, char> || std::is_same_v<T, signed char> ||
                std::is_same_v<T, unsigned char>) {
    os << static_cast<int>(v);
  } else if constexpr (std::is_same_v<T, std::nullptr_t>) {
    os << "nullptr";
  } else {
    os << v;
  }
}

template <typename A, typename B>
std::string FormatValues(const A& a, const B& b) {
  std::ostringstream os;
  PrintValue(os, a);
  os << " vs. ";
  PrintValue(os, b);
  return os.str();
}

std::string FormatStatus(const absl::Status& status);

// DRPC_CHECK_COLD's failure, one function per check site, out of line and cold.
template <typename Detail>
[[noreturn]] ABSL_ATTRIBUTE_NOINLINE ABSL_ATTRIBUTE_COLD void FailCold(const char* file, int line,
                                                                   const char* condition,
                                                                   const Detail& detail) {
  CheckFailure failure(file, line, condition);
  detail(failure.stream());
}  // ~CheckFailure reports and aborts

}  // namespace check_internal
}  // namespace drpc

#define DRPC_CHECK(condition)                                          \
  ABSL_PREDICT_TRUE(condition)                                         \
  ? (void)0                                                            \
  : ::drpc::check_internal::Voidify() &                                \
        ::drpc::check_internal::CheckFailure(__FILE__, __LINE__, #condition).stream()

// For per-packet and per-switch paths: a check whose failure, message included, is built in a cold
// function of its own, so the checking function sets up no frame and saves no register for it
// (DRPC_CHECK streams its message inline). `detail` is called with the message stream:
//   DRPC_CHECK_COLD(id > last_sent_, [&](std::ostream& os) { os << "packet " << id.message; });
#define DRPC_CHECK_COLD(condition, ...)                                                      \
  do {                                                                                       \
    if (ABSL_PREDICT_FALSE(!(condition))) {                                                  \
      ::drpc::check_internal::FailCold(__FILE__, __LINE__, #condition, __VA_ARGS__);         \
    }                                                                                        \
  } while (false)

// Binary comparisons evaluate each operand once and print both values on failure.
#define DRPC_CHECK_OP_(op, a, b)                                                          \
  for (const auto& [drpc_check_a_, drpc_check_b_] = ::std::make_pair((a), (b));           \
       ABSL_PREDICT_FALSE(!(drpc_check_a_ op drpc_check_b_));)                            \
  ::drpc::check_internal::CheckFailure(                                                   \
      __FILE__, __LINE__, #a " " #op " " #b,                                              \
      ::drpc::check_internal::FormatValues(drpc_check_a_, drpc_check_b_))                 \
      .stream()

#define DRPC_CHECK_EQ(a, b) DRPC_CHECK_OP_(==, a, b)
#define DRPC_CHECK_NE(a, b) DRPC_CHECK_OP_(!=, a, b)
#define DRPC_CHECK_LT(a, b) DRPC_CHECK_OP_(<, a, b)
#define DRPC_CHECK_LE(a, b) DRPC_CHECK_OP_(<=, a, b)
#define DRPC_CHECK_GT(a, b) DRPC_CHECK_OP_(>, a, b)
#define DRPC_CHECK_GE(a, b) DRPC_CHECK_OP_(>=, a, b)

#define DRPC_CHECK_OK(expr)                                                        \
  for (const ::absl::Status drpc_check_status_ = (expr);                           \
       ABSL_PREDICT_FALSE(!drpc_check_status_.ok());)                              \
  ::drpc::check_internal::CheckFailure(                                            \
      __FILE__, __LINE__, #expr " is OK",                                          \
      ::drpc::check_internal::FormatStatus(drpc_check_status_))                    \
      .stream()

#ifdef NDEBUG
// Type-checks the condition without evaluating it.
#define DRPC_DCHECK(condition) \
  while (false && (condition)) DRPC_CHECK(condition)
#define DRPC_DCHECK_EQ(a, b) \
  while (false && ((a) == (b))) DRPC_CHECK_EQ(a, b)
#define DRPC_DCHECK_LE(a, b) \
  while (false && ((a) <= (b))) DRPC_CHECK_LE(a, b)
#define DRPC_DCHECK_LT(a, b) \
  while (false && ((a) < (b))) DRPC_CHECK_LT(a, b)
#define DRPC_DCHECK_OK(expr) \
  while (false && (expr).ok()) DRPC_CHECK_OK(expr)
#else
#define DRPC_DCHECK(condition) DRPC_CHECK(condition)
#define DRPC_DCHECK_EQ(a, b) DRPC_CHECK_EQ(a, b)
#define DRPC_DCHECK_LE(a, b) DRPC_CHECK_LE(a, b)
#define DRPC_DCHECK_LT(a, b) DRPC_CHECK_LT(a, b)
#define DRPC_DCHECK_OK(expr) DRPC_CHECK_OK(expr)
#endif

#endif  // DRPC_PROTO_BASE_CHECK_H_
