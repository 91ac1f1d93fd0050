#include "proto/base/check.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace drpc {
namespace {

// Set at start-up by the simulator or a test; read only when a check fails.
CheckFailureHook g_check_failure_hook = nullptr;

}  // namespace

CheckFailureHook SetCheckFailureHook(CheckFailureHook hook) {
  CheckFailureHook previous = g_check_failure_hook;
  g_check_failure_hook = hook;
  return previous;
}

namespace check_internal {

CheckFailure::CheckFailure(const char* file, int line, const char* condition)
    : file_(file), line_(line), condition_(condition) {}

CheckFailure::CheckFailure(const char* file, int line, const char* condition,
                           std::string values)
    : file_(file), line_(line), condition_(condition), values_(std::move(values)) {}

CheckFailure::~CheckFailure() {
  std::string message = "CHECK failed: ";
  message += file_;
  message += ":";
  message += std::to_string(line_);
  message += ": ";
  message += condition_;
  if (!values_.empty()) {
    message += " (";
    message += values_;
    message += ")";
  }
  const std::string detail = detail_.str();
  if (!detail.empty()) {
    message += " ";
    message += detail;
  }
  // The hook runs first so that a simulator can print its replay line even if stderr is captured.
  if (CheckFailureHook hook = g_check_failure_hook; hook != nullptr) {
    g_check_failure_hook = nullptr;  // A check failing inside the hook must not recurse.
    hook(message);
  }
  std::fprintf(stderr, "%s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
}

std::string FormatStatus(const absl::Status& status) { return status.ToString(); }

}  // namespace check_internal
}  // namespace drpc
