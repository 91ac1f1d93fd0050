#include "examples/kv/store.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "proto/base/check.h"

namespace kv {

Store::Store(drpc::Env& env, Limits limits) : limits_(limits), changed_(env) {
  DRPC_CHECK(limits_.history_max_count > 0);
}

absl::StatusOr<std::optional<Entry>> Store::Get(absl::string_view key) const {
  if (key.size() > limits_.key_max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("key of ", key.size(), " bytes exceeds ", limits_.key_max_bytes));
  }
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::optional<Entry>();
  return std::optional<Entry>(it->second);
}

absl::StatusOr<int64_t> Store::Put(absl::string_view key, absl::string_view value) {
  if (key.empty()) return absl::InvalidArgumentError("empty key");
  if (key.size() > limits_.key_max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("key of ", key.size(), " bytes exceeds ", limits_.key_max_bytes));
  }
  if (value.size() > limits_.value_max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("value of ", value.size(), " bytes exceeds ", limits_.value_max_bytes));
  }
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= limits_.keys_max_count) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the store holds its maximum of ", limits_.keys_max_count, " keys"));
    }
    it = entries_.emplace(std::string(key), Entry()).first;
    it->second.set_key(std::string(key));
  }
  it->second.set_value(std::string(value));
  it->second.set_revision(revision_ + 1);
  Record(Event::PUT, it->second);
  return revision_;
}

absl::StatusOr<std::optional<int64_t>> Store::Delete(absl::string_view key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::optional<int64_t>();
  Entry tombstone;
  tombstone.set_key(it->first);
  tombstone.set_revision(revision_ + 1);
  entries_.erase(it);
  Record(Event::DELETE, tombstone);
  return std::optional<int64_t>(revision_);
}

void Store::Record(Event::Type type, const Entry& entry) {
  ++revision_;
  DRPC_DCHECK(entry.revision() == revision_);
  Event event;
  event.set_type(type);
  *event.mutable_entry() = entry;
  history_.push_back(std::move(event));
  while (history_.size() > limits_.history_max_count) history_.pop_front();
  changed_.WakeAll();
}

absl::Status Store::ChangesSince(int64_t from, absl::string_view prefix,
                                 std::vector<Event>* out) const {
  if (from > revision_) return absl::OkStatus();
  const int64_t oldest = history_.empty() ? revision_ + 1 : history_.front().entry().revision();
  if (from < oldest) {
    return absl::OutOfRangeError(absl::StrCat(
        "revision ", from, " is no longer in the history (it keeps the last ",
        limits_.history_max_count, " changes, from revision ", oldest, ")"));
  }
  // The history holds consecutive revisions: `from` is at index from - oldest.
  for (size_t i = static_cast<size_t>(from - oldest); i < history_.size(); ++i) {
    if (absl::StartsWith(history_[i].entry().key(), prefix)) out->push_back(history_[i]);
  }
  return absl::OkStatus();
}

absl::Status Store::WaitForChange(drpc::CallContext& ctx, int64_t after) {
  const drpc::Signal::CallbackId wake =
      ctx.done_signal().OnSet([this](const absl::Status&) { changed_.WakeAll(); });
  while (revision_ <= after && !ctx.done()) changed_.Wait("kv: waiting for a change");
  ctx.done_signal().RemoveCallback(wake);
  return revision_ > after ? absl::OkStatus() : ctx.err();
}

}  // namespace kv
