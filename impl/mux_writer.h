// MuxWriter: the shared writer of a mux connection. Streams queue packets; one writer fiber
// gathers frames of ready streams into batches and writes them to the transport.
//
//   * Fairness: ready streams take turns, one frame (at most split_bytes) per turn, so a large
//     message never blocks other streams (spec §11.5: no head-of-line blocking).
//   * Order: each stream's packets leave in the order they were queued, except terminal packets
//     (Close, Error, Cancel), which drop the stream's queued packets (their senders get the
//     `dropped` error) and go first. A partially written message is simply abandoned: the peer's
//     per-stream assembler discards it when the terminal packet's higher message ID arrives.
//   * Flow control: Message frames of a flow-controlled stream never exceed its send credit
//     (charge: data bytes, plus one for the frame that completes a message); AddCredit adds the
//     peer's WindowUpdates. Other packets are not flow controlled.
//   * Control frames (WindowUpdate) bypass the stream queues and go out first, so a stream
//     waiting for credit can never hold back the credit its peer is waiting for.
//   * Writes complete (Write returns) only after the batch holding their last frame was written
//     to the transport. Stop() fails everything queued at once and makes later writes fail.
//
// The connection's fiber runs Run(); every other method is non-blocking except Write/WriteGroup,
// which wait for completion. Single-scheduler, like everything in impl/.
#ifndef DRPC_IMPL_MUX_WRITER_H_
#define DRPC_IMPL_MUX_WRITER_H_

#include <cstdint>
#include <deque>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "impl/env.h"
#include "impl/sync.h"
#include "proto/frame.h"

namespace drpc {

class MuxWriter {
 public:
  struct Options {
    size_t split_bytes;
    size_t batch_bytes;
  };
  // One packet to queue. `data` is borrowed for blocking writes (the caller waits) and copied for
  // asynchronous ones.
  struct Packet {
    PacketId id;
    Kind kind;
    absl::string_view data;
    bool control = false;
  };

  MuxWriter(Env& env, Transport& transport, Options options,
            absl::AnyInvocable<void(const absl::Status&)> on_write_error);
  ~MuxWriter();

  // The writer fiber's body: returns after Stop() or a transport write error (which it reports
  // through on_write_error before returning).
  void Run();

  // Registers a stream. `send_credit` is ignored unless `flow_controlled`.
  void AddStream(uint64_t stream, bool flow_controlled, uint64_t send_credit);
  // The stream is finished: its state goes once its queue has drained.
  void RemoveStream(uint64_t stream);
  // A WindowUpdate arrived: `delta` more bytes may be sent. Unknown streams are ignored.
  void AddCredit(uint64_t stream, uint64_t delta);

  // Queues `packets` for `stream` back to back (no other packet of the stream in between) and
  // waits until all are written. Fails with the writer's error after Stop(), or with the
  // terminal packet's `dropped` error if one dropped them first.
  absl::Status Write(uint64_t stream, std::initializer_list<Packet> packets);
  // Queues without waiting (data copied): used where the caller must not block.
  void WriteAsync(uint64_t stream, std::initializer_list<Packet> packets);
  // A terminal packet: drops the stream's queued packets (their senders get `dropped`), then goes
  // first; waits until written.
  absl::Status WriteTerminal(uint64_t stream, Packet packet, const absl::Status& dropped);
  // The same without waiting (data copied), for callers that must not block.
  void WriteTerminalAsync(uint64_t stream, Packet packet, const absl::Status& dropped);
  // The peer ended the stream (Error, Cancel or Close): its queued non-terminal packets are
  // dropped (their senders get `dropped`) and a partly written one is abandoned, since the peer
  // discards them anyway. Queued terminal packets still go out. Unknown streams are ignored.
  void DiscardQueued(uint64_t stream, const absl::Status& dropped);
  // A frame outside any stream queue (WindowUpdate), written before the next stream frames.
  void WriteControl(std::string frame);

  // Non-blocking; the first error wins. Everything queued fails with `error`.
  void Stop(const absl::Status& error);
  bool stopped() const { return stopped_; }

  // Observability for tests and the simulator's leak checks.
  size_t streams() const { return queues_.size(); }
  size_t queued_packets(uint64_t stream) const;
  uint64_t send_credit(uint64_t stream) const;

 private:
  struct Completion;
  struct Pending {
    PacketId id;
    Kind kind;
    absl::string_view data;  // into `owned` for async packets, else the caller's buffer
    std::string owned;
    bool control;
    size_t offset = 0;       // data bytes already emitted
    Completion* completion;  // nullptr for async packets
    // A packet of a group (metadata + Invoke): the group goes out in one turn, so no other
    // stream's frame comes between its packets on the wire.
    bool in_group = false;
    bool last_of_group = false;
  };
  struct StreamQueue {
    std::deque<Pending> packets;
    bool flow_controlled = false;
    uint64_t credit = 0;
    bool in_ready = false;
    bool removed = false;
  };

  void Enqueue(StreamQueue& q, Packet packet, Completion* completion, bool owned,
               size_t index_in_group = 0, size_t group_size = 1);
  // Fails and drops the queue's non-terminal packets; terminal ones stay, in order.
  void DropNonTerminal(StreamQueue& q, const absl::Status& dropped);
  // Drops the stream's non-terminal packets and queues `packet` behind its terminal ones.
  absl::Status QueueTerminal(uint64_t stream, Packet packet, const absl::Status& dropped,
                             Completion* completion);
  // Data bytes the next frame of `p` may carry under the stream's credit; *last if it completes
  // the packet. Returns false if no frame can be sent now.
  bool NextFrame(const StreamQueue& q, const Pending& p, size_t* bytes, bool* last) const;
  bool Sendable(const StreamQueue& q) const;
  void MarkReady(uint64_t stream, StreamQueue& q);
  // Appends one frame of the stream's first packet to the batch. Returns true if the stream's
  // turn continues (the frame belongs to a group that is not finished).
  bool EmitFrame(StreamQueue& q, std::string& batch, std::vector<Completion*>& done);
  void Fail(Pending& p, const absl::Status& error);
  absl::Status WaitFor(Completion& c);
  void Complete(Completion* c, const absl::Status& status);

  Env* env_;
  Transport* transport_;
  Options options_;
  absl::AnyInvocable<void(const absl::Status&)> on_write_error_;
  // By stream ID; ready_ holds the turn order.
  std::map<uint64_t, StreamQueue> queues_;
  std::deque<uint64_t> ready_;
  std::deque<std::string> control_;
  WaitList wake_;
  bool stopped_ = false;
  absl::Status error_;
};

}  // namespace drpc

#endif  // DRPC_IMPL_MUX_WRITER_H_
