// A model of one stream's state machine, written from the spec (§7) and impl/stream.h's table,
// for the stateful property tests (stream_model_test.cc, conn_model_test.cc): what every
// application operation returns, what Recv returns or whether it blocks, what the stream sends, and
// how remote packets and the end of the connection change it.
//
//   StreamModel m;
//   m.RemoteMessage("hi");
//   EXPECT_EQ(m.Send("x"), absl::OkStatus());          // sends a Message
//   m.RemoteCloseSend();
//   m.Recv();                                          // "hi", then EOF
//
// The model is five one-shot outcomes — what Send returns, what Recv returns once its queue is
// drained, the termination, the local cancel, and a queue — and the table's rules:
//   | after          | Send returns                         | Recv returns                        |
//   | local Close    | "stream terminated by sending close" | the same                            |
//   | local SendError| EOF                                  | "stream terminated by sending error"|
//   | local CloseSend| "send closed"                        | still works                         |
//   | local Cancel(e)| EOF                                  | e, at once (queued messages dropped)|
//   | remote Close   | "closed: remote closed the stream"   | EOF after queued messages           |
//   | remote Error   | EOF                                  | the remote error after queued ones  |
//   | remote CloseSend| still works                         | EOF after queued messages           |
//   | remote Cancel  | EOF                                  | Canceled after queued messages      |
//   | connection end | the connection's error               | the same, after queued messages     |
// Whichever comes first wins (a later event changes nothing already decided); local Close,
// SendError and Cancel drop queued messages, remote endings and the connection's end do not; both
// sides half-closed terminates the stream ("stream terminated by both issuing close send"); a
// terminated stream ignores every packet and every local ending; a server's handler returning
// stops receiving (later messages are dropped).
#ifndef DRPC_PROPERTIES_STREAM_MODEL_H_
#define DRPC_PROPERTIES_STREAM_MODEL_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/frame.h"

namespace drpc::properties {

class StreamModel {
 public:
  struct Packet {
    Kind kind;
    std::string data;
    friend bool operator==(const Packet&, const Packet&) = default;
  };

  // --- Application operations: the expected result; what they send goes to sent(). ---------------
  absl::Status Send(const std::string& message);
  absl::Status SendLast(const std::string& message);
  absl::Status CloseSend();
  absl::Status Close();
  absl::Status SendError(uint64_t code, const std::string& text);
  bool Cancel(const absl::Status& reason);  // false: the stream had already ended
  // What Recv returns now, or nullopt if it blocks. A returned message is taken off the queue.
  std::optional<absl::StatusOr<std::string>> Recv();
  // Whether Recv would return now (without taking anything).
  bool RecvReady() const;

  // --- Remote packets and the connection -----------------------------------------------------------
  void RemoteMessage(const std::string& message);
  void RemoteCloseSend();
  void RemoteClose();
  void RemoteError(uint64_t code, const std::string& text);
  void RemoteCancel();
  // An Invoke (or an unknown kind without the control bit) for the stream: a protocol error while
  // it lives, ignored once it ended.
  bool RemoteInvokeFailsTheConnection() const { return !term_.has_value(); }
  void ConnectionEnded(const absl::Status& error);
  void StopReceiving();  // server: the handler returned

  // --- State ----------------------------------------------------------------------------------------
  bool terminated() const { return term_.has_value(); }
  absl::Status termination_error() const { return term_.value_or(absl::OkStatus()); }
  bool peer_send_closed() const;
  size_t queued() const { return queue_.size(); }
  const std::vector<Packet>& sent() const { return sent_; }

 private:
  enum class How { kAbortive, kGraceful };
  static void SetOnce(std::optional<absl::Status>& slot, const absl::Status& s) {
    if (!slot.has_value()) slot = s;
  }
  void Terminate(const absl::Status& error, How how);

  std::optional<absl::Status> send_, recv_, term_, local_cancel_;
  std::deque<std::string> queue_;
  std::vector<Packet> sent_;
};

}  // namespace drpc::properties

#endif  // DRPC_PROPERTIES_STREAM_MODEL_H_
