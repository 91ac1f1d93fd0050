#include "impl/testing/raw_peer.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "proto/base/check.h"
#include "proto/limits.h"

namespace drpc::testing {

std::string RawFrame::ToString() const {
  return absl::StrCat(KindName(kind), "(", id.stream, ",", id.message, ")", done ? " done" : "",
                      control ? " control" : "", " \"", absl::CHexEscape(data.substr(0, 40)),
                      data.size() > 40 ? "..." : "", "\"");
}

RawFrame F(Kind kind, uint64_t stream, uint64_t message, std::string data) {
  return RawFrame{PacketId{stream, message}, kind, true, false, std::move(data)};
}

std::string Encode(const std::vector<RawFrame>& frames) {
  std::string out;
  for (const RawFrame& f : frames) {
    AppendFrame(out, Frame{.id = f.id, .kind = f.kind, .done = f.done, .control = f.control, .data = f.data});
  }
  return out;
}

std::string Encode(std::initializer_list<RawFrame> frames) {
  return Encode(std::vector<RawFrame>(frames));
}

absl::StatusOr<std::vector<RawFrame>> Decode(absl::string_view bytes) {
  std::vector<RawFrame> out;
  while (!bytes.empty()) {
    size_t used = 0;
    absl::StatusOr<std::optional<Frame>> f = ParseFrame(bytes, limits::kPacketLimitMaxBytes, &used);
    if (!f.ok()) return f.status();
    if (!f->has_value()) return absl::DataLossError("bytes end inside a frame");
    const Frame& fr = **f;
    out.push_back(RawFrame{fr.id, fr.kind, fr.done, fr.control, std::string(fr.data)});
    bytes.remove_prefix(used);
  }
  return out;
}

RawPeer::RawPeer(Env& env, std::unique_ptr<Transport> transport)
    : env_(&env),
      transport_(std::move(transport)),
      arrived_(env),
      resume_(env),
      reader_done_(env) {
  DRPC_CHECK_OK(env.scheduler().Spawn("raw peer reader", [this] { ReadLoop(); }));
}

RawPeer::~RawPeer() {
  Close();
  reader_done_.Wait("raw peer: joining the reader");
}

void RawPeer::Close() {
  transport_->Close();
  ResumeReading();
}

void RawPeer::ResumeReading() {
  paused_ = false;
  resume_.WakeAll();
}

void RawPeer::ReadLoop() {
  FrameParser parser(FrameParser::Options{.frame_data_max_bytes = limits::kPacketLimitMaxBytes});
  char buf[4096];
  for (;;) {
    while (paused_) resume_.Wait("raw peer: reading paused");
    absl::StatusOr<size_t> n = transport_->Read(buf, sizeof(buf));
    if (!n.ok()) {
      end_ = n.status();
      break;
    }
    parser.Append(absl::string_view(buf, *n));
    for (;;) {
      absl::StatusOr<std::optional<Frame>> f = parser.Next();
      if (!f.ok()) {
        end_ = f.status();
        break;
      }
      if (!f->has_value()) break;
      const Frame& fr = **f;
      frames_.push_back(RawFrame{fr.id, fr.kind, fr.done, fr.control, std::string(fr.data)});
    }
    arrived_.WakeAll();
    if (!end_.ok()) break;
  }
  arrived_.WakeAll();
  reader_done_.Set();
}

absl::Status RawPeer::Write(std::initializer_list<RawFrame> frames) {
  return transport_->Write(Encode(frames));
}

absl::Status RawPeer::WriteBytes(absl::string_view bytes) { return transport_->Write(bytes); }

absl::StatusOr<RawFrame> RawPeer::ReadFrame(Duration timeout) {
  const Instant deadline = env_->clock().Now() + timeout;
  while (frames_.empty() && end_.ok()) {
    if (!arrived_.Wait("raw peer: waiting for a frame", deadline)) break;
  }
  if (!frames_.empty()) {
    RawFrame f = std::move(frames_.front());
    frames_.pop_front();
    return f;
  }
  if (!end_.ok()) return end_;
  return absl::DeadlineExceededError("no frame arrived");
}

absl::StatusOr<std::vector<RawFrame>> RawPeer::ReadUntilClosed(Duration timeout) {
  const Instant deadline = env_->clock().Now() + timeout;
  std::vector<RawFrame> out;
  for (;;) {
    const Duration left = deadline - env_->clock().Now();
    absl::StatusOr<RawFrame> f = ReadFrame(left > Duration::Zero() ? left : Duration::Zero());
    if (f.ok()) {
      out.push_back(*std::move(f));
      continue;
    }
    if (absl::IsDeadlineExceeded(f.status())) return f.status();
    return out;
  }
}

bool RawPeer::Silent(Duration timeout) {
  absl::StatusOr<RawFrame> f = ReadFrame(timeout);
  return absl::IsDeadlineExceeded(f.status());
}

}  // namespace drpc::testing
