#include "sim/drpc/workload_plan.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace drpc::sim {
namespace {

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t Key(uint64_t rpc, PayloadDirection d, uint64_t index) {
  return Mix(Mix(rpc) ^ Mix(static_cast<uint64_t>(d) << 56 | index));
}

size_t SizeOf(uint64_t rpc, PayloadDirection d, uint32_t index, uint32_t max) {
  if (index == 0 || max == 0) return max;
  return static_cast<size_t>(Key(rpc, d, index) % (uint64_t{max} + 1));
}

std::string Tag(uint64_t rpc, PayloadDirection d, uint64_t index) {
  return absl::StrCat("<", rpc, ".", std::string(1, static_cast<char>(d)), ".", index, ">");
}

}  // namespace

absl::string_view RpcTypeName(RpcType type) {
  switch (type) {
    case RpcType::kUnary: return "unary";
    case RpcType::kClientStream: return "client-stream";
    case RpcType::kServerStream: return "server-stream";
    case RpcType::kBidi: return "bidi";
  }
  return "?";
}

absl::string_view RpcMethod(RpcType type) {
  switch (type) {
    case RpcType::kUnary: return "/sim.Load/Unary";
    case RpcType::kClientStream: return "/sim.Load/ClientStream";
    case RpcType::kServerStream: return "/sim.Load/ServerStream";
    case RpcType::kBidi: return "/sim.Load/Bidi";
  }
  return "/sim.Load/Unknown";
}

size_t RpcPlan::RequestSize(uint32_t index) const {
  return SizeOf(id, PayloadDirection::kRequest, index, request_size_max);
}

size_t RpcPlan::ResponseSize(uint32_t index) const {
  return SizeOf(id, PayloadDirection::kResponse, index, response_size_max);
}

std::string RpcPlan::ErrorText() const { return absl::StrCat("planned failure of rpc ", id); }

std::string EncodePlan(const RpcPlan& p) {
  return absl::StrCat("id=", p.id, ";t=", static_cast<int>(p.type), ";q=", p.requests,
                      ";r=", p.responses, ";qs=", p.request_size_max, ";rs=", p.response_size_max,
                      ";end=", static_cast<int>(p.ending), ";after=", p.error_after,
                      ";code=", p.error_code, ";think=", p.handler_think_us);
}

absl::StatusOr<RpcPlan> DecodePlan(absl::string_view text) {
  RpcPlan p;
  int fields = 0;
  for (absl::string_view item : absl::StrSplit(text, ';')) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    uint64_t v = 0;
    if (!absl::SimpleAtoi(kv.second, &v)) {
      return absl::InvalidArgumentError(absl::StrCat("plan field \"", item, "\" in \"", text, "\""));
    }
    const absl::string_view k = kv.first;
    if (k == "id") p.id = v;
    else if (k == "t" && v <= 3) p.type = static_cast<RpcType>(v);
    else if (k == "q") p.requests = static_cast<uint32_t>(v);
    else if (k == "r") p.responses = static_cast<uint32_t>(v);
    else if (k == "qs") p.request_size_max = static_cast<uint32_t>(v);
    else if (k == "rs") p.response_size_max = static_cast<uint32_t>(v);
    else if (k == "end" && v <= 3) p.ending = static_cast<Ending>(v);
    else if (k == "after") p.error_after = static_cast<uint32_t>(v);
    else if (k == "code") p.error_code = v;
    else if (k == "think") p.handler_think_us = static_cast<uint32_t>(v);
    else return absl::InvalidArgumentError(absl::StrCat("plan field \"", item, "\" in \"", text, "\""));
    ++fields;
  }
  if (fields != 10) return absl::InvalidArgumentError(absl::StrCat("incomplete plan \"", text, "\""));
  return p;
}

std::string MakePayload(uint64_t rpc, PayloadDirection d, uint64_t index, size_t size) {
  std::string out;
  out.reserve(size);
  const std::string tag = Tag(rpc, d, index);
  if (tag.size() <= size) out = tag;
  uint64_t state = Key(rpc, d, index);
  while (out.size() < size) {
    state = Mix(state);
    for (int i = 0; i < 8 && out.size() < size; ++i) {
      out.push_back(static_cast<char>(state >> (8 * i)));
    }
  }
  return out;
}

std::string CheckPayload(absl::string_view data, uint64_t rpc, PayloadDirection d, uint64_t index,
                         size_t size) {
  const std::string expected = MakePayload(rpc, d, index, size);
  if (data == expected) return "";
  std::string why = absl::StrCat("expected ", Tag(rpc, d, index), " of ", size, " bytes, got ",
                                 data.size(), " bytes");
  if (!data.empty() && data.front() == '<') {
    const size_t end = data.find('>');
    if (end != absl::string_view::npos && end < 40) {
      absl::StrAppend(&why, " tagged ", data.substr(0, end + 1));
    }
  }
  if (data.size() == expected.size()) {
    size_t at = 0;
    while (at < data.size() && data[at] == expected[at]) ++at;
    absl::StrAppend(&why, ", first difference at byte ", at);
  }
  return why;
}

}  // namespace drpc::sim
