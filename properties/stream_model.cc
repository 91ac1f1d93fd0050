#include "properties/stream_model.h"

#include "impl/errors.h"
#include "proto/error_codec.h"

namespace drpc::properties {
namespace {

absl::Status SendClosed() { return absl::FailedPreconditionError("send closed"); }
absl::Status TerminatedByClose() {
  return absl::FailedPreconditionError("stream terminated by sending close");
}
absl::Status TerminatedByError() {
  return absl::FailedPreconditionError("stream terminated by sending error");
}
absl::Status BothClosed() {
  return absl::FailedPreconditionError("stream terminated by both issuing close send");
}

}  // namespace

void StreamModel::Terminate(const absl::Status& error, How how) {
  SetOnce(send_, error);
  SetOnce(recv_, error);
  if (how == How::kAbortive) queue_.clear();
  SetOnce(term_, error);
}

absl::Status StreamModel::Send(const std::string& message) {
  if (send_.has_value()) return *send_;
  sent_.push_back({Kind::kMessage, message});
  return absl::OkStatus();
}

absl::Status StreamModel::SendLast(const std::string& message) {
  if (send_.has_value()) return *send_;
  sent_.push_back({Kind::kMessage, message});
  return CloseSend();
}

absl::Status StreamModel::CloseSend() {
  if (send_.has_value() || term_.has_value()) return absl::OkStatus();
  send_ = SendClosed();
  sent_.push_back({Kind::kCloseSend, ""});
  if (recv_.has_value()) Terminate(BothClosed(), How::kGraceful);
  return absl::OkStatus();
}

absl::Status StreamModel::Close() {
  if (term_.has_value()) return absl::OkStatus();
  Terminate(TerminatedByClose(), How::kAbortive);
  sent_.push_back({Kind::kClose, ""});
  return absl::OkStatus();
}

absl::Status StreamModel::SendError(uint64_t code, const std::string& text) {
  if (term_.has_value()) return absl::OkStatus();
  SetOnce(send_, EofError());
  Terminate(TerminatedByError(), How::kAbortive);
  sent_.push_back({Kind::kError, EncodeError(code, text)});
  return absl::OkStatus();
}

bool StreamModel::Cancel(const absl::Status& reason) {
  if (term_.has_value()) return false;
  local_cancel_ = reason;
  SetOnce(send_, EofError());
  Terminate(reason, How::kAbortive);
  return true;
}

bool StreamModel::RecvReady() const {
  return local_cancel_.has_value() || !queue_.empty() || recv_.has_value();
}

std::optional<absl::StatusOr<std::string>> StreamModel::Recv() {
  if (local_cancel_.has_value()) return absl::StatusOr<std::string>(*local_cancel_);
  if (!queue_.empty()) {
    std::string m = std::move(queue_.front());
    queue_.pop_front();
    return absl::StatusOr<std::string>(std::move(m));
  }
  if (recv_.has_value()) return absl::StatusOr<std::string>(*recv_);
  return std::nullopt;
}

void StreamModel::RemoteMessage(const std::string& message) {
  if (term_.has_value() || recv_.has_value()) return;  // ended, or nothing more can arrive
  queue_.push_back(message);
}

void StreamModel::RemoteCloseSend() {
  if (term_.has_value()) return;
  SetOnce(recv_, EofError());
  if (send_.has_value()) Terminate(BothClosed(), How::kGraceful);
}

void StreamModel::RemoteClose() {
  if (term_.has_value()) return;
  SetOnce(recv_, EofError());
  Terminate(ClosedError("remote closed the stream"), How::kGraceful);
}

void StreamModel::RemoteError(uint64_t code, const std::string& text) {
  if (term_.has_value()) return;
  SetOnce(send_, EofError());
  Terminate(RemoteErrorStatus(code, text), How::kGraceful);
}

void StreamModel::RemoteCancel() {
  if (term_.has_value()) return;
  SetOnce(send_, EofError());
  Terminate(CanceledError(), How::kGraceful);
}

void StreamModel::ConnectionEnded(const absl::Status& error) { Terminate(error, How::kGraceful); }

void StreamModel::StopReceiving() {
  SetOnce(recv_, ClosedError("handler returned"));
  queue_.clear();
}

bool StreamModel::peer_send_closed() const { return recv_.has_value() && IsEof(*recv_); }

}  // namespace drpc::properties
