#include "sim/drpc/workload_plan.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/strip.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

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

// Little-endian words, so the payload's bytes do not depend on the host's order.
void StoreLittleEndian64(uint64_t word, char* out) {
  if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
  std::memcpy(out, &word, sizeof word);
}
uint64_t LoadLittleEndian64(const char* p) {
  uint64_t word;
  std::memcpy(&word, p, sizeof word);
  if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
  return word;
}

// "00" "01" ... "99": two digits per division.
constexpr char kTwoDigits[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

// Decimal digits of `v` (at least one).
int DecimalDigits(uint64_t v) {
  int n = 1;
  for (; v >= 100; v /= 100) n += 2;
  return n + (v >= 10 ? 1 : 0);
}

// `v` >= 100 in decimal at `out`; returns the end.
char* WriteDecimalTens(uint64_t v, char* out) {
  char* const end = out + DecimalDigits(v);
  char* p = end;
  for (; v >= 100; v /= 100) {
    p -= 2;
    std::memcpy(p, &kTwoDigits[2 * (v % 100)], 2);
  }
  if (v >= 10) {
    std::memcpy(p - 2, &kTwoDigits[2 * v], 2);
  } else {
    p[-1] = static_cast<char>('0' + v);
  }
  return end;
}

// `v` in decimal at `out`; returns the end (what StrCat writes for an unsigned integer). Most
// values here have one or two digits, written inline without a call or a division; up to four
// take one division.
inline char* WriteDecimal(uint64_t v, char* out) {
  if (v < 10) {
    *out = static_cast<char>('0' + v);
    return out + 1;
  }
  if (v < 100) {
    std::memcpy(out, &kTwoDigits[2 * v], 2);
    return out + 2;
  }
  if (v < 10'000) {  // call IDs of most runs: one division
    const uint64_t high = v / 100;
    const uint64_t low = v % 100;
    if (high < 10) {
      *out = static_cast<char>('0' + high);
      std::memcpy(out + 1, &kTwoDigits[2 * low], 2);
      return out + 3;
    }
    std::memcpy(out, &kTwoDigits[2 * high], 2);
    std::memcpy(out + 2, &kTwoDigits[2 * low], 2);
    return out + 4;
  }
  return WriteDecimalTens(v, out);
}

template <size_t kSize>
char* WriteLiteral(const char (&text)[kSize], char* out) {
  std::memcpy(out, text, kSize - 1);
  return out + kSize - 1;
}

std::string Tag(uint64_t rpc, PayloadDirection d, uint64_t index) {
  return absl::StrCat("<", rpc, ".", std::string(1, static_cast<char>(d)), ".", index, ">");
}

// A payload of at least kHeaderBytes starts with a header naming its message: the RPC's ID, then
// the index's low 32 bits, the direction and the size's low 24 bits in one word, each word XORed
// with a constant so that small numbers do not leave runs of zero bytes (a message's bytes should
// not compress: a compressing stream's wire size then does not depend on what a call carries).
// The rest is a Weyl sequence (one addition per word) from a key mixed from the whole header, so
// a message of another call, direction, index or size differs in every word. Little-endian words,
// so the bytes do not depend on the host's order.
constexpr size_t kHeaderBytes = 16;
constexpr uint64_t kHeaderMask0 = 0x6a09e667f3bcc908ull;
constexpr uint64_t kHeaderMask1 = 0xbb67ae8584caa73bull;
constexpr uint64_t kWeylStep = 0x9e3779b97f4a7c15ull;

struct Header {
  uint64_t rpc_word;
  uint64_t rest_word;
};

Header MakeHeader(uint64_t rpc, PayloadDirection d, uint64_t index, size_t size) {
  const uint64_t rest = (index & 0xffff'ffffull) | uint64_t{static_cast<uint8_t>(d)} << 32 |
                        (uint64_t{size} & 0xff'ffffull) << 40;
  return Header{rpc ^ kHeaderMask0, rest ^ kHeaderMask1};
}

inline uint64_t StreamKey(const Header& h) { return Mix(h.rpc_word ^ Mix(h.rest_word)); }

// The sequence two words at a time (one 128-bit addition and one 16-byte store or compare per
// pair where the host has them: the GCC/Clang vector extension picks the instructions). Its
// words are stored as the host holds them, so only a little-endian host takes this path.
using WordPair = uint64_t __attribute__((vector_size(16)));
constexpr bool kWordPairs = std::endian::native == std::endian::little;
constexpr WordPair kPairStep = {2 * kWeylStep, 2 * kWeylStep};
// The pair that follows word `state`.
inline WordPair FirstPair(uint64_t state) {
  return WordPair{state + kWeylStep, state + 2 * kWeylStep};
}

// The message `data`'s header names, as a tag ("<rpc.d.index>"), if it has a well-formed one.
std::optional<std::string> HeaderTag(absl::string_view data) {
  if (data.size() < kHeaderBytes) return std::nullopt;
  const uint64_t rpc = LoadLittleEndian64(data.data()) ^ kHeaderMask0;
  const uint64_t rest = LoadLittleEndian64(data.data() + 8) ^ kHeaderMask1;
  const auto d = static_cast<PayloadDirection>(static_cast<char>(rest >> 32 & 0xff));
  if (d != PayloadDirection::kRequest && d != PayloadDirection::kResponse) return std::nullopt;
  return Tag(rpc, d, rest & 0xffff'ffffull);
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

size_t RpcPlan::DrawnRequestSize(uint32_t index) const {
  return SizeOf(id, PayloadDirection::kRequest, index, request_size_max);
}

size_t RpcPlan::DrawnResponseSize(uint32_t index) const {
  return SizeOf(id, PayloadDirection::kResponse, index, response_size_max);
}

std::string RpcPlan::ErrorText() const { return absl::StrCat("planned failure of rpc ", id); }

namespace {

// "id=<id>" at `out`; returns the end.
char* WritePlanId(uint64_t id, char* out) { return WriteDecimal(id, WriteLiteral("id=", out)); }
constexpr size_t kPlanIdMaxBytes = 3 + 20;  // "id=" and the widest uint64_t

// The plan's text after its ID (";t=...;think=...") at `out`; returns the end.
char* WritePlanRest(const RpcPlan& p, char* out) {
  out = WriteDecimal(static_cast<uint8_t>(p.type), WriteLiteral(";t=", out));
  out = WriteDecimal(p.requests, WriteLiteral(";q=", out));
  out = WriteDecimal(p.responses, WriteLiteral(";r=", out));
  out = WriteDecimal(p.request_size_max, WriteLiteral(";qs=", out));
  out = WriteDecimal(p.response_size_max, WriteLiteral(";rs=", out));
  out = WriteDecimal(static_cast<uint8_t>(p.ending), WriteLiteral(";end=", out));
  out = WriteDecimal(p.error_after, WriteLiteral(";after=", out));
  out = WriteDecimal(p.error_code, WriteLiteral(";code=", out));
  return WriteDecimal(p.handler_think_us, WriteLiteral(";think=", out));
}

// Every field but the ID, as WritePlanRest writes them: a field added to RpcPlan must be added
// here too, or the encoder would reuse a stale text (the size check fails to remind).
static_assert(sizeof(RpcPlan) == 56, "a field was added to RpcPlan: compare it in SameButId");
bool SameButId(const RpcPlan& a, const RpcPlan& b) {
  return a.type == b.type && a.requests == b.requests && a.responses == b.responses &&
         a.request_size_max == b.request_size_max && a.response_size_max == b.response_size_max &&
         a.ending == b.ending && a.error_after == b.error_after && a.error_code == b.error_code &&
         a.handler_think_us == b.handler_think_us;
}

}  // namespace

absl::string_view EncodePlanInto(const RpcPlan& p, char (&buf)[kPlanTextMaxBytes]) {
  // Every field at its widest: 45 bytes of names and separators, 106 of digits (type and ending
  // are written as the int they are, up to 3 digits).
  static_assert(45 + 106 <= kPlanTextMaxBytes);
  char* const out = WritePlanRest(p, WritePlanId(p.id, buf));
  return absl::string_view(buf, static_cast<size_t>(out - buf));
}

absl::string_view PlanTextEncoder::Encode(const RpcPlan& p, char (&buf)[kPlanTextMaxBytes]) {
  char* const rest = WritePlanId(p.id, buf);
  if (!has_last_ || !SameButId(p, last_)) {
    std::memset(rest_, 0, sizeof rest_);
    rest_bytes_ = static_cast<size_t>(WritePlanRest(p, rest_) - rest_);
    last_ = p;
    has_last_ = true;
  }
  // Most rests fit one 64-byte block, which is copied without a call (the bytes after the text
  // are zeros and stay unread); every text fits `buf` (EncodePlanInto's bound).
  constexpr size_t kBlockBytes = 64;
  static_assert(kPlanIdMaxBytes + kBlockBytes <= kPlanTextMaxBytes);
  if (rest_bytes_ <= kBlockBytes) {
    std::memcpy(rest, rest_, kBlockBytes);
  } else {
    std::memcpy(rest, rest_, rest_bytes_);
  }
  return absl::string_view(buf, static_cast<size_t>(rest - buf) + rest_bytes_);
}

uint64_t PlanTextId(absl::string_view text) {
  if (!absl::ConsumePrefix(&text, "id=")) return 0;
  // The digits up to the first ';' (or the end), read by hand: SimpleAtoi's generality costs more
  // than the rest of the handler's plan check. Up to 19 digits cannot overflow; a 20th is
  // checked.
  constexpr size_t kSafeDigits = 19;
  const size_t n = std::min(text.size(), kSafeDigits);
  uint64_t id = 0;
  size_t i = 0;
  for (; i < n; ++i) {
    const unsigned digit = static_cast<unsigned char>(text[i]) - unsigned{'0'};
    if (digit > 9) break;
    id = id * 10 + digit;
  }
  if (i == kSafeDigits && i < text.size() && text[i] != ';') {
    const unsigned digit = static_cast<unsigned char>(text[i]) - unsigned{'0'};
    if (digit > 9 || __builtin_mul_overflow(id, 10, &id) ||
        __builtin_add_overflow(id, digit, &id)) {
      return 0;
    }
    ++i;
  }
  const bool ends = i == text.size() || text[i] == ';';
  return i == 0 || !ends ? 0 : id;
}

std::string EncodePlan(const RpcPlan& p) {
  char buf[kPlanTextMaxBytes];
  return std::string(EncodePlanInto(p, buf));
}

absl::StatusOr<RpcPlan> DecodePlan(absl::string_view text) {
  RpcPlan p;
  int fields = 0;
  // Split by hand: every call decodes its plan, and StrSplit would allocate.
  for (absl::string_view rest = text;;) {
    const size_t semicolon = rest.find(';');
    const absl::string_view item = rest.substr(0, semicolon);
    const size_t equals = item.find('=');
    const absl::string_view k = item.substr(0, equals);
    const absl::string_view value =
        equals == absl::string_view::npos ? absl::string_view() : item.substr(equals + 1);
    uint64_t v = 0;
    if (!absl::SimpleAtoi(value, &v)) {
      return absl::InvalidArgumentError(absl::StrCat("plan field \"", item, "\" in \"", text, "\""));
    }
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
    if (semicolon == absl::string_view::npos) break;
    rest.remove_prefix(semicolon + 1);
  }
  if (fields != 10) return absl::InvalidArgumentError(absl::StrCat("incomplete plan \"", text, "\""));
  return p;
}

void FillPayload(uint64_t rpc, PayloadDirection d, uint64_t index, size_t size, char* out) {
  const Header h = MakeHeader(rpc, d, index, size);
  size_t at = 0;
  if (size >= kHeaderBytes) {
    StoreLittleEndian64(h.rpc_word, out);
    StoreLittleEndian64(h.rest_word, out + 8);
    at = kHeaderBytes;
  }
  uint64_t state = StreamKey(h);
  if constexpr (kWordPairs) {
    WordPair pair = FirstPair(state);
    for (; at + sizeof pair <= size; at += sizeof pair) {
      std::memcpy(out + at, &pair, sizeof pair);
      pair += kPairStep;
    }
    state = pair[0] - kWeylStep;  // the last word written
  }
  for (; at + 8 <= size; at += 8) {
    state += kWeylStep;
    StoreLittleEndian64(state, out + at);
  }
  if (at == size) return;
  state += kWeylStep;
  if (size < 8) {
    for (; at < size; ++at, state >>= 8) out[at] = static_cast<char>(state & 0xff);
    return;
  }
  // The last 1..7 bytes in one store of the payload's last eight: the bytes before `at` in it
  // are already written and kept.
  const int kept_bits = 64 - 8 * static_cast<int>(size - at);
  const uint64_t kept = LoadLittleEndian64(out + size - 8) & ((uint64_t{1} << kept_bits) - 1);
  StoreLittleEndian64(kept | state << kept_bits, out + size - 8);
}

char* PayloadBuffer::Grow(size_t size) {
  heap_.resize(size);
  return heap_.data();
}

bool PayloadMatches(absl::string_view data, uint64_t rpc, PayloadDirection d, uint64_t index,
                    size_t size) {
  if (data.size() != size) return false;
  const Header h = MakeHeader(rpc, d, index, size);
  size_t at = 0;
  if (size >= kHeaderBytes) {
    if (LoadLittleEndian64(data.data()) != h.rpc_word ||
        LoadLittleEndian64(data.data() + 8) != h.rest_word) {
      return false;
    }
    at = kHeaderBytes;
  }
  uint64_t state = StreamKey(h);
  // Every word is compared (no branch per word): a mismatch is rare, and costs only its report.
  uint64_t differ = 0;
  if constexpr (kWordPairs) {
    WordPair pair = FirstPair(state);
    WordPair pair_differ = {0, 0};
    for (; at + sizeof pair <= size; at += sizeof pair) {
      WordPair got;
      std::memcpy(&got, data.data() + at, sizeof got);
      pair_differ |= got ^ pair;
      pair += kPairStep;
    }
    differ = pair_differ[0] | pair_differ[1];
    state = pair[0] - kWeylStep;  // the last word compared
  }
  for (; at + 8 <= size; at += 8) {
    state += kWeylStep;
    differ |= LoadLittleEndian64(data.data() + at) ^ state;
  }
  if (differ != 0) return false;
  if (at == size) return true;
  state += kWeylStep;
  if (size < 8) {
    for (; at < size; ++at, state >>= 8) {
      if (data[at] != static_cast<char>(state & 0xff)) return false;
    }
    return true;
  }
  // The last 1..7 bytes from one load of the payload's last eight (the bytes before `at` in it
  // matched already).
  const int tail_bits = 8 * static_cast<int>(size - at);
  return LoadLittleEndian64(data.data() + size - 8) >> (64 - tail_bits) ==
         (state & ((uint64_t{1} << tail_bits) - 1));
}

std::string DescribePayloadMismatch(absl::string_view data, uint64_t rpc, PayloadDirection d,
                                    uint64_t index, size_t size) {
  const std::string expected = MakePayload(rpc, d, index, size);
  std::string why = absl::StrCat("expected ", Tag(rpc, d, index), " of ", size, " bytes, got ",
                                 data.size(), " bytes");
  if (std::optional<std::string> tag = HeaderTag(data); tag.has_value()) {
    absl::StrAppend(&why, " tagged ", *tag);
  }
  if (data.size() == expected.size()) {
    size_t at = 0;
    while (at < data.size() && data[at] == expected[at]) ++at;
    absl::StrAppend(&why, ", first difference at byte ", at);
  }
  return why;
}

}  // namespace drpc::sim
