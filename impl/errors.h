// The error vocabulary of drpc-cpp, as absl::Status values callers can classify.
//
//   absl::StatusOr<std::string> r = stream.Recv();
//   if (IsEof(r.status())) { ... the peer finished sending ... }
//   if (absl::IsCancelled(r.status())) { ... our call was cancelled ... }
//   if (auto code = RemoteErrorCode(r.status())) { ... the handler failed with *code ... }
//
// | what                          | absl code           | message                               |
// |-------------------------------|---------------------|---------------------------------------|
// | end of stream (Go's io.EOF)   | kOutOfRange         | "EOF"                                 |
// | cancelled call                | kCancelled          | "context canceled"                    |
// | deadline passed               | kDeadlineExceeded   | "context deadline exceeded"           |
// | connection or stream closed   | kUnavailable        | "closed: <detail>"                    |
// | protocol error (bad peer)     | kInternal           | "protocol error: <detail>"            |
// | remote Error packet           | code if 1..16, else kUnknown | the remote text, exactly     |
// | refused (too many streams)    | kResourceExhausted  | the remote text                       |
// | refused (server-wide budget)  | kResourceExhausted  | "server busy: <detail>"               |
// | receive stall (app not reading)| kResourceExhausted | "receive queue full for <d>: ..."     |
// | peer broke the flow window    | kResourceExhausted  | "flow control violation: ..."         |
// | message over packet_max_bytes | kResourceExhausted  | "message too large: ..." (mux)        |
// A remote error keeps its DRPC code (an application-defined uint64) in a payload:
// RemoteErrorCode() returns it. ToWireError() picks (code, text) for an outgoing Error packet.
#ifndef DRPC_IMPL_ERRORS_H_
#define DRPC_IMPL_ERRORS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace drpc {

// Returns the status `make` builds, built once per call site (a lambda type) and copied after
// that: a copy shares the message instead of allocating it. For constant statuses on hot paths.
//   absl::Status Done() { return OnceStatus([] { return absl::CancelledError("done"); }); }
template <typename Make>
absl::Status OnceStatus(Make make) {
  static const absl::Status* const status = new absl::Status(make());
  return *status;
}

absl::Status EofError();
bool IsEof(const absl::Status& status);

absl::Status CanceledError();
absl::Status DeadlineError();

// "closed: <detail>"; `cause`, if not OK, is appended ("closed: connection closed: transport: EOF").
absl::Status ClosedError(absl::string_view detail, const absl::Status& cause = absl::OkStatus());
bool IsClosed(const absl::Status& status);

absl::Status ProtocolError(absl::string_view detail);
bool IsProtocolError(const absl::Status& status);

// The text mux servers send when refusing a stream over MaxStreams (the cockroachdb fork's words).
inline constexpr absl::string_view kRefusedPrefix = "too many concurrent streams: refused";
absl::Status RefusedError(uint64_t streams_max_count);
// A call a server refuses because a server-wide budget is spent (calls, fibers).
absl::Status ServerBusyError(absl::string_view detail);

// A status for an Error packet received from the peer: message == text exactly.
absl::Status RemoteErrorStatus(uint64_t code, absl::string_view text);
// The DRPC code of a status made by RemoteErrorStatus (or given one with WithRemoteErrorCode).
std::optional<uint64_t> RemoteErrorCode(const absl::Status& status);
// Attaches an explicit DRPC code to a handler's error (otherwise its absl code number is sent).
absl::Status WithRemoteErrorCode(absl::Status status, uint64_t code);

// The (code, text) of the Error packet that reports `status` to the peer: an explicit DRPC code
// if attached, else the absl code number (so absl::NotFoundError("x") travels as code 5, "x");
// the text is the status message.
std::pair<uint64_t, std::string> ToWireError(const absl::Status& status);

}  // namespace drpc

#endif  // DRPC_IMPL_ERRORS_H_
