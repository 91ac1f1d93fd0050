// The pieces of a simulated RPC that both ends must agree on: the call's plan (carried in its
// metadata) and self-describing message payloads.
//
//   RpcPlan plan{.id = 17, .type = RpcType::kBidi, .requests = 3, ...};
//   ctx.metadata()[kPlanMetadataKey] = EncodePlan(plan);       // client
//   absl::StatusOr<RpcPlan> p = DecodePlan(md[kPlanMetadataKey]);  // handler
//   std::string m = MakePayload(plan.id, Direction::kRequest, 2, plan.RequestSize(2));
//   if (std::string why = CheckPayload(...); !why.empty()) ...  // wrong stream, order, bytes
#ifndef DRPC_SIM_DRPC_WORKLOAD_PLAN_H_
#define DRPC_SIM_DRPC_WORKLOAD_PLAN_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace drpc::sim {

enum class RpcType : uint8_t { kUnary = 0, kClientStream = 1, kServerStream = 2, kBidi = 3 };
absl::string_view RpcTypeName(RpcType type);
// "/sim.Load/Unary", ...
inline absl::string_view RpcMethod(RpcType type) {
  static constexpr absl::string_view kMethods[] = {"/sim.Load/Unary", "/sim.Load/ClientStream",
                                                   "/sim.Load/ServerStream", "/sim.Load/Bidi"};
  const auto i = static_cast<size_t>(type);
  return i < std::size(kMethods) ? kMethods[i] : "/sim.Load/Unknown";
}

// How the handler ends the call.
enum class Ending : uint8_t {
  kOk = 0,             // replies as planned, then returns OK (CloseSend)
  kError = 1,          // after `error_after` replies (or at the end of the requests) fails
  kWaitForCancel = 2,  // after its replies, waits for its context and returns its error
  // Client and bidi streams: the handler never reads a request; it waits for its context and
  // returns its error while the caller keeps sending (the receive queue, flow control and the
  // stall timeout are what hold the caller back).
  kNeverReads = 3,
};

inline constexpr char kPlanMetadataKey[] = "sim-plan";

struct RpcPlan {
  uint64_t id = 0;
  RpcType type = RpcType::kUnary;
  uint32_t requests = 1;        // messages the client sends (1 for unary and server streams)
  uint32_t responses = 1;       // server stream: messages the handler sends
  uint32_t request_size_max = 0;
  uint32_t response_size_max = 0;
  Ending ending = Ending::kOk;
  uint32_t error_after = 0;     // kError: replies sent before failing
  uint64_t error_code = 0;      // kError: the DRPC code the handler fails with
  uint32_t handler_think_us = 0;  // the handler pauses up to this before each reply

  // Size of request/response message `index` (the first one always has the maximum size).
  size_t RequestSize(uint32_t index) const {
    return index == 0 || request_size_max == 0 ? request_size_max : DrawnRequestSize(index);
  }
  size_t ResponseSize(uint32_t index) const {
    return index == 0 || response_size_max == 0 ? response_size_max : DrawnResponseSize(index);
  }
  // The text of the planned handler error.
  std::string ErrorText() const;

 private:
  // The sizes of later messages, drawn from the call, direction and index.
  size_t DrawnRequestSize(uint32_t index) const;
  size_t DrawnResponseSize(uint32_t index) const;
};

std::string EncodePlan(const RpcPlan& plan);
// The same text written into `buf` (no allocation): a view of it, valid while `buf` lives.
inline constexpr size_t kPlanTextMaxBytes = 160;
absl::string_view EncodePlanInto(const RpcPlan& plan, char (&buf)[kPlanTextMaxBytes]);
// EncodePlanInto for a run of plans that mostly differ only in their ID (a workload draws the
// other fields from few choices): the text after the ID is kept from the previous plan and
// copied when the next plan's other fields are the same. Gives exactly EncodePlanInto's text.
//   PlanTextEncoder encoder;
//   absl::string_view text = encoder.Encode(plan, buf);
class PlanTextEncoder {
 public:
  absl::string_view Encode(const RpcPlan& plan, char (&buf)[kPlanTextMaxBytes]);

 private:
  RpcPlan last_;         // the plan rest_ was written for (its ID aside)
  bool has_last_ = false;
  // ";t=...;think=..." of last_, zero beyond rest_bytes_ (copied in one fixed-size block when
  // it fits one).
  char rest_[kPlanTextMaxBytes] = {};
  size_t rest_bytes_ = 0;
};
// The call ID a plan's text starts with ("id=17;..."), or 0 if it does not start with one.
uint64_t PlanTextId(absl::string_view text);
absl::StatusOr<RpcPlan> DecodePlan(absl::string_view text);

enum class PayloadDirection : char { kRequest = 'q', kResponse = 's' };

// MakePayload's bytes written to `out` (`size` bytes).
void FillPayload(uint64_t rpc, PayloadDirection direction, uint64_t index, size_t size, char* out);

// Message `index` of `rpc` in `direction`, `size` bytes: a 16-byte header naming the four (when
// it fits) followed by bytes derived from them, so that no two messages of a run are alike.
inline std::string MakePayload(uint64_t rpc, PayloadDirection direction, uint64_t index,
                               size_t size) {
  std::string out(size, '\0');
  FillPayload(rpc, direction, index, size, out.data());
  return out;
}

// MakePayload into a buffer that lives where the message is sent from: a message of up to
// kInlineBytes is made without an allocation, a larger one in a string kept for the next.
//   PayloadBuffer buf;
//   s.Send(buf.Make(plan.id, PayloadDirection::kRequest, i, plan.RequestSize(i)));
class PayloadBuffer {
 public:
  static constexpr size_t kInlineBytes = 256;
  // The message, valid until the next Make or the buffer's end.
  absl::string_view Make(uint64_t rpc, PayloadDirection direction, uint64_t index, size_t size) {
    char* out = size > kInlineBytes ? Grow(size) : inline_;
    FillPayload(rpc, direction, index, size, out);
    return absl::string_view(out, size);
  }

 private:
  // heap_ at `size` bytes.
  char* Grow(size_t size);

  char inline_[kInlineBytes];
  std::string heap_;
};

// Whether `data` is exactly that message, compared a word at a time (nothing is materialised).
bool PayloadMatches(absl::string_view data, uint64_t rpc, PayloadDirection direction,
                    uint64_t index, size_t size);
// Why `data` is not that message (naming the message its header names, "tagged <rpc.d.index>",
// when it has one). Only for a `data` that PayloadMatches refused.
std::string DescribePayloadMismatch(absl::string_view data, uint64_t rpc,
                                    PayloadDirection direction, uint64_t index, size_t size);

// Empty if `data` is exactly that message; otherwise why not (DescribePayloadMismatch). Inline:
// a message that matches builds no string.
inline std::string CheckPayload(absl::string_view data, uint64_t rpc, PayloadDirection direction,
                                uint64_t index, size_t size) {
  if (PayloadMatches(data, rpc, direction, index, size)) return std::string();
  return DescribePayloadMismatch(data, rpc, direction, index, size);
}

}  // namespace drpc::sim

#endif  // DRPC_SIM_DRPC_WORKLOAD_PLAN_H_
