#include "sim/timeline_marks.h"

#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"

namespace drpc::sim::timeline_internal {

std::string Escape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control bytes are not allowed in XML; payload bytes never reach here, names might.
        out += static_cast<unsigned char>(c) < 0x20 && c != '\n' ? '?' : c;
    }
  }
  return out;
}

std::string Shorten(absl::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  return absl::StrCat(s.substr(0, max - 1), "…");
}

std::string FormatTime(Instant t) { return (t - Instant()).ToString(); }

const char* KindColor(Kind k) {
  switch (k) {
    case Kind::kInvoke: return "#1f5fbf";
    case Kind::kInvokeMetadata: return "#6fa8ff";
    case Kind::kMessage: return "#2e9e44";
    case Kind::kError: return "#d62728";
    case Kind::kCancel: return "#9467bd";
    case Kind::kClose: return "#333333";
    case Kind::kCloseSend: return "#ff9f1c";
    case Kind::kWindowUpdate: return "#17becf";
  }
  return "#bbbbbb";
}

std::vector<Item> Condense(const std::deque<RunEvent>& events) {
  std::vector<Item> items;
  std::map<std::tuple<uint64_t, int, bool, uint64_t, uint64_t>, size_t> open_packets;
  std::map<uint64_t, size_t> parked;  // fiber -> its park's item
  for (const RunEvent& e : events) {
    if (e.type == RunEventType::kFrame) {
      const auto key = std::make_tuple(e.subject, e.end, e.sent, e.id.stream, e.id.message);
      auto it = open_packets.find(key);
      if (it != open_packets.end() && items[it->second].e->kind == e.kind) {
        Item& packet = items[it->second];
        ++packet.count;
        packet.bytes += e.size;
        if (e.done) open_packets.erase(it);
        continue;
      }
      items.push_back({&e, 1, e.size});
      if (e.done) {
        open_packets.erase(key);
      } else {
        open_packets[key] = items.size() - 1;
      }
      continue;
    }
    if (e.type == RunEventType::kPark) parked[e.subject] = items.size();
    if (e.type == RunEventType::kUnpark || e.type == RunEventType::kExit) {
      auto it = parked.find(e.subject);
      if (it != parked.end()) {
        const bool instant = items[it->second].e->time == e.time;
        if (instant && e.type == RunEventType::kUnpark) items[it->second].hidden = true;
        parked.erase(it);
        if (instant && e.type == RunEventType::kUnpark) continue;
      }
    }
    if (e.type == RunEventType::kTimer) {
      size_t last = items.size();
      while (last > 0 && items[last - 1].hidden) --last;
      if (last > 0 && items[last - 1].e->type == RunEventType::kTimer && items[last - 1].e->time == e.time) {
        ++items[last - 1].count;
        continue;
      }
    }
    items.push_back({&e});
  }
  std::erase_if(items, [](const Item& i) { return i.hidden; });
  return items;
}

}  // namespace drpc::sim::timeline_internal
