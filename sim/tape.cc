#include "sim/tape.h"

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace drpc::sim {

void SeededDecisions::Record(absl::string_view site, uint64_t n, uint64_t v) {
  tape_.decisions.push_back({std::string(site), n, v});
}

void TapeDecisions::NoteDivergence(uint64_t index, absl::string_view site, uint64_t n) {
  if (divergences_++ == 0) {
    const Decision& d = tape_.decisions[index];
    first_divergence_ = absl::StrCat("decision ", index, ": tape has ", d.site, "/", d.n,
                                     ", run asked ", site, "/", n);
  }
}

uint64_t ByteDecisions::Choose(absl::string_view, uint64_t n) {
  if (n <= 1) return 0;
  ++count_;
  // As many little-endian bytes as n needs; a short read at the end uses what is there.
  uint64_t v = 0;
  int shift = 0;
  for (uint64_t range = n - 1; range > 0 && pos_ < bytes_.size(); range >>= 8, shift += 8) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(bytes_[pos_++])) << shift;
  }
  return v % n;
}

std::string Tape::Serialize() const {
  std::string out = "# drpc-sim tape v1\n";
  if (!header.empty()) {
    out += "#";
    for (const auto& [k, v] : header) absl::StrAppend(&out, " ", k, "=", v);
    out += "\n";
  }
  for (const Decision& d : decisions) absl::StrAppend(&out, d.site, " ", d.n, " ", d.value, "\n");
  return out;
}

absl::StatusOr<Tape> Tape::Parse(absl::string_view text) {
  Tape tape;
  int line_no = 0;
  bool saw_magic = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (line == "# drpc-sim tape v1") {
        saw_magic = true;
        continue;
      }
      for (absl::string_view kv : absl::StrSplit(line.substr(1), ' ', absl::SkipEmpty())) {
        std::pair<absl::string_view, absl::string_view> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
        if (!p.second.empty()) tape.header[std::string(p.first)] = std::string(p.second);
      }
      continue;
    }
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    Decision d;
    if (f.size() != 3 || !absl::SimpleAtoi(f[1], &d.n) || !absl::SimpleAtoi(f[2], &d.value) ||
        d.n < 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("tape line ", line_no, ": expected \"<site> <n> <value>\" with n >= 2, got \"",
                       line, "\""));
    }
    d.site = std::string(f[0]);
    tape.decisions.push_back(std::move(d));
  }
  if (!saw_magic) return absl::InvalidArgumentError("not a drpc-sim tape (missing header line)");
  return tape;
}

absl::Status Tape::SaveToFile(const std::string& path) const {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write tape file ", path));
  out << Serialize();
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("error writing tape file ", path));
  return absl::OkStatus();
}

absl::StatusOr<Tape> Tape::LoadFromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open tape file ", path));
  std::stringstream s;
  s << in.rdbuf();
  absl::StatusOr<Tape> tape = Parse(s.str());
  if (!tape.ok()) {
    return absl::Status(tape.status().code(), absl::StrCat(path, ": ", tape.status().message()));
  }
  return tape;
}

}  // namespace drpc::sim
