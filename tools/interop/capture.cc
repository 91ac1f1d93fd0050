#include "tools/interop/capture.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "impl/sync.h"
#include "proto/base/check.h"

namespace drpc::interop {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::StatusOr<std::vector<TimelineEvent>> ParseTimeline(const std::string& text) {
  std::vector<TimelineEvent> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 2) continue;
    double seconds = 0;
    if (!absl::SimpleAtod(f[0], &seconds)) continue;
    const Duration at = Duration::Nanos(static_cast<int64_t>(seconds * 1e9));
    const bool client = f[1] == "c2s";
    if (!client && f[1] != "s2c") continue;  // "open", "closed"
    TimelineEvent e{client ? TimelineEvent::Type::kClientBytes : TimelineEvent::Type::kServerBytes, at};
    if (f.size() >= 5 && f[3] == "bytes" && f[4].size() > 1 && f[4][0] == '@' &&
        absl::SimpleAtoi(f[2], &e.size) && absl::SimpleAtoi(f[4].substr(1), &e.offset)) {
      out.push_back(e);
    } else {
      // "EOF" or "read error": that side ended its stream.
      e.type = client ? TimelineEvent::Type::kClientEnd : TimelineEvent::Type::kServerEnd;
      out.push_back(e);
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> ListCases(const std::string& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    if (entry.is_directory()) out.push_back(entry.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<int> ListConnections(const std::string& root, const std::string& name) {
  std::vector<int> out;
  for (int conn = 1; conn < 100; ++conn) {
    if (!std::filesystem::exists(absl::StrFormat("%s/%s/conn%03d.c2s.bin", root, name, conn))) break;
    out.push_back(conn);
  }
  return out;
}

absl::StatusOr<Capture> LoadCapture(const std::string& root, const std::string& name, int conn) {
  const std::string prefix = absl::StrFormat("%s/%s/conn%03d", root, name, conn);
  Capture c;
  c.name = absl::StrFormat("%s/conn%03d", name, conn);
  absl::StatusOr<std::string> c2s = ReadFile(prefix + ".c2s.bin");
  absl::StatusOr<std::string> s2c = ReadFile(prefix + ".s2c.bin");
  absl::StatusOr<std::string> timeline = ReadFile(prefix + ".timeline.txt");
  if (!c2s.ok()) return c2s.status();
  if (!s2c.ok()) return s2c.status();
  if (!timeline.ok()) return timeline.status();
  c.c2s = *std::move(c2s);
  c.s2c = *std::move(s2c);
  absl::StatusOr<std::vector<TimelineEvent>> events = ParseTimeline(*timeline);
  if (!events.ok()) return events.status();
  c.timeline = *std::move(events);
  return c;
}

ReplayResult ReplayClient(Env& env, Transport& transport, const Capture& capture,
                          Duration patience) {
  ReplayResult result;
  WaitList arrived(env);
  Signal reader_done(env);
  DRPC_CHECK_OK(env.scheduler().Spawn("replay reader", [&] {
    char buf[65536];
    for (;;) {
      absl::StatusOr<size_t> n = transport.Read(buf, sizeof(buf));
      if (!n.ok()) break;
      result.server_bytes.append(buf, *n);
      arrived.WakeAll();
    }
    result.server_closed = true;
    arrived.WakeAll();
    reader_done.Set();
  }));
  const Instant start = env.clock().Now();
  for (const TimelineEvent& e : capture.timeline) {
    if (!result.error.ok()) break;
    switch (e.type) {
      case TimelineEvent::Type::kClientBytes:
        if (env.clock().Now() < start + e.at) SleepFor(env, start + e.at - env.clock().Now());
        if (absl::Status s = transport.Write(absl::string_view(capture.c2s).substr(e.offset, e.size));
            !s.ok()) {
          // The server may already have closed (as Go's did in the raw_* cases): not our error.
          if (!result.server_closed) result.error = s;
        }
        break;
      case TimelineEvent::Type::kServerBytes: {
        const Instant deadline = env.clock().Now() + patience;
        while (result.server_bytes.size() < e.offset + e.size && !result.server_closed) {
          if (!arrived.Wait("replay: waiting for server bytes", deadline)) break;
        }
        if (result.server_bytes.size() < e.offset + e.size) {
          result.error = absl::DeadlineExceededError(absl::StrCat(
              capture.name, ": server sent ", result.server_bytes.size(), " bytes, the recording has ",
              e.offset + e.size, " by this point"));
        }
        break;
      }
      case TimelineEvent::Type::kClientEnd:
        transport.CloseWrite().IgnoreError();
        break;
      case TimelineEvent::Type::kServerEnd: {
        const Instant deadline = env.clock().Now() + patience;
        while (!result.server_closed) {
          if (!arrived.Wait("replay: waiting for the server to close", deadline)) break;
        }
        break;
      }
    }
  }
  transport.Close();
  reader_done.Wait("replay: joining the reader");
  return result;
}

}  // namespace drpc::interop
