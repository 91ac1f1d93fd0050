#include "sim/testing/expect.h"

#include "gtest/gtest.h"

namespace drpc::testing {

void ExpectOk(const sim::RunResult& r, absl::string_view label) {
  EXPECT_TRUE(r.ok()) << label << (label.empty() ? "" : " ") << sim::FailureClassName(r.failure)
                      << ": " << r.message << "\n"
                      << r.trace_tail;
}

std::string Describe(const absl::StatusOr<RawFrame>& frame) {
  return frame.ok() ? frame->ToString() : frame.status().ToString();
}

}  // namespace drpc::testing
