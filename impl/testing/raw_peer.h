// RawPeer: the far end of a simulated connection driven frame by frame, to check exactly what
// drpc-cpp puts on the wire and how it reacts to hand-made (also hostile) frames (testonly).
//
//   auto [ours, theirs] = sim.network().Pipe("raw");
//   RawPeer peer(env, std::move(theirs));
//   peer.Write({F(Kind::kInvoke, 1, 1, "/interop.Echo/Unary"), F(Kind::kMessage, 1, 2, "hi")});
//   absl::StatusOr<RawFrame> f = peer.ReadFrame(Duration::Millis(100));
//
// RecordingTransport wraps a Transport and keeps every Write's bytes, so tests can assert which
// packets went out together in one write.
#ifndef DRPC_IMPL_TESTING_RAW_PEER_H_
#define DRPC_IMPL_TESTING_RAW_PEER_H_

#include <deque>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "impl/env.h"
#include "impl/sync.h"
#include "proto/frame.h"

namespace drpc::testing {

struct RawFrame {
  PacketId id;
  Kind kind = Kind::kMessage;
  bool done = true;
  bool control = false;
  std::string data;
  std::string ToString() const;  // "Message(1,2) done \"hi\""
  friend bool operator==(const RawFrame&, const RawFrame&) = default;
};

// A done frame without the control bit.
RawFrame F(Kind kind, uint64_t stream, uint64_t message, std::string data = "");
std::string Encode(std::initializer_list<RawFrame> frames);
std::string Encode(const std::vector<RawFrame>& frames);
// Parses a whole byte string into frames (the test fails through the status otherwise).
absl::StatusOr<std::vector<RawFrame>> Decode(absl::string_view bytes);

class RawPeer {
 public:
  RawPeer(Env& env, std::unique_ptr<Transport> transport);
  ~RawPeer();  // closes the transport and joins the reader

  absl::Status Write(std::initializer_list<RawFrame> frames);
  absl::Status WriteBytes(absl::string_view bytes);

  // The next frame the other side sent; kDeadlineExceeded after `timeout` of virtual time; the
  // transport's error (EOF, reset) once the other side closed and every frame was read.
  absl::StatusOr<RawFrame> ReadFrame(Duration timeout = Duration::Seconds(1));
  // Reads frames until the other side closes (returns them) or `timeout` passes (kDeadlineExceeded).
  absl::StatusOr<std::vector<RawFrame>> ReadUntilClosed(Duration timeout = Duration::Seconds(1));
  // True if nothing arrives within `timeout`.
  bool Silent(Duration timeout);
  // The transport error that ended the stream of frames (OK while it lives).
  absl::Status end() const { return end_; }

  // Stops reading from the transport (after the read in progress), so the other side's writes
  // back up once the network buffer is full; ResumeReading undoes it.
  void PauseReading() { paused_ = true; }
  void ResumeReading();

  // Half close: the other side reads EOF after what was written; reading here goes on.
  absl::Status CloseWrite() { return transport_->CloseWrite(); }

  void Close();

 private:
  void ReadLoop();
  Env* env_;
  std::unique_ptr<Transport> transport_;
  std::deque<RawFrame> frames_;
  WaitList arrived_;
  absl::Status end_;
  bool paused_ = false;
  WaitList resume_;
  Signal reader_done_;
};

class RecordingTransport final : public Transport {
 public:
  explicit RecordingTransport(std::unique_ptr<Transport> inner) : inner_(std::move(inner)) {}
  absl::StatusOr<size_t> Read(char* buf, size_t size) override { return inner_->Read(buf, size); }
  absl::Status Write(absl::string_view data) override {
    writes_->emplace_back(data);
    return inner_->Write(data);
  }
  absl::Status CloseWrite() override { return inner_->CloseWrite(); }
  void Close() override { inner_->Close(); }
  // Shared, so the test can read it after the transport was handed to a Conn and destroyed.
  std::shared_ptr<std::vector<std::string>> writes() const { return writes_; }

 private:
  std::unique_ptr<Transport> inner_;
  std::shared_ptr<std::vector<std::string>> writes_ = std::make_shared<std::vector<std::string>>();
};

}  // namespace drpc::testing

#endif  // DRPC_IMPL_TESTING_RAW_PEER_H_
