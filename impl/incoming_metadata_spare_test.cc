// Manager::GiveBackIncomingMetadata's bounds: a finished call's decoded metadata map is kept as
// the spare for the next InvokeMetadata's decode only if it is not empty, no spare is kept yet,
// it has at most tunables::kIncomingMetadataSpareMaxCount entries and its keys' and values'
// string capacities add up to at most kIncomingMetadataSpareMaxBytes; and the decode that takes
// the spare yields exactly the decoded entries. On a bare server Manager over a RawPeer.
#include <cstddef>
#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/errors.h"
#include "impl/manager.h"
#include "impl/testing/raw_peer.h"
#include "impl/tunables.h"
#include "proto/metadata.h"
#include "sim/testing/expect.h"
#include "sim/testing/harness.h"
#include "sim/testing/wire_harness.h"

namespace drpc {
namespace {

using testing::ExpectOk;
using testing::F;
using testing::ManagerSide;

// The sum of the string capacities of `md`'s keys and values: what the byte bound counts.
size_t CapacityBytes(const Metadata& md) {
  size_t bytes = 0;
  for (const auto& [key, value] : md) bytes += key.capacity() + value.capacity();
  return bytes;
}

// `count` entries with short keys ("k0", "k1", ...) and `value_bytes`-byte values.
Metadata Entries(size_t count, size_t value_bytes) {
  Metadata md;
  for (size_t i = 0; i < count; ++i) md[absl::StrCat("k", i)] = std::string(value_bytes, 'v');
  return md;
}

// kIncomingMetadataSpareMaxCount entries: short keys, 100-byte values but the last, of
// `last_bytes` bytes.
Metadata EntriesEndingWith(size_t last_bytes) {
  Metadata md = Entries(tunables::kIncomingMetadataSpareMaxCount - 1, 100);
  md[absl::StrCat("k", tunables::kIncomingMetadataSpareMaxCount - 1)] =
      std::string(last_bytes, 'v');
  return md;
}

// The longest last value for which EntriesEndingWith stays within the byte bound: its
// capacities then add up to the bound or just under it, and one byte more goes over (capacities
// are whatever the standard library gives, never assumed).
size_t LastBytesAtTheByteBound() {
  size_t last_bytes = 0;
  while (CapacityBytes(EntriesEndingWith(last_bytes + 1)) <=
         tunables::kIncomingMetadataSpareMaxBytes) {
    ++last_bytes;
  }
  return last_bytes;
}

// Runs `body` on an upstream server Manager (the spare lives in the base Manager; the mode only
// changes which decode takes it: DecodeTakesTheSpareAndLeavesNothingOfIt).
void OnServer(std::function<void(ManagerSide&)> body, const Options& options = Options{}) {
  ExpectOk(testing::RunManager(options, Manager::Role::kServer, std::move(body)));
}

void ExpectSpareCount(ManagerSide& m, size_t want, absl::string_view what) {
  const size_t got = m.manager.incoming_metadata_spare_count();
  m.sim.Check(got == want, absl::StrCat(what, ": spare holds ", got, " entries, want ", want));
}

// Sends stream `id`'s InvokeMetadata carrying `md` and its Invoke, and accepts the stream.
IncomingStream InvokeWith(ManagerSide& m, uint64_t id, const Metadata& md) {
  m.sim.Check(m.peer.Write({F(Kind::kInvokeMetadata, id, 1, EncodeMetadata(md)),
                            F(Kind::kInvoke, id, 2, "/t.T/M")})
                  .ok(),
              "write");
  absl::StatusOr<IncomingStream> in = m.manager.AcceptStream(m.sim.now() + Duration::Millis(5));
  m.sim.Check(in.ok(), absl::StrCat("accept: ", in.status().ToString()));
  return *std::move(in);
}

TEST(IncomingMetadataSpareTest, NothingIsKeptAtFirst) {
  OnServer([](ManagerSide& m) { ExpectSpareCount(m, 0, "a new manager"); });
}

// The next call's decode reuses the kept map's node and its value's buffer.
TEST(IncomingMetadataSpareTest, AFinishedCallsMetadataIsKeptForTheNextDecode) {
  OnServer([](ManagerSide& m) {
    Metadata md = {{"key", std::string(100, 'a')}};
    const void* node = &*md.begin();
    const char* value_bytes = md.begin()->second.data();
    m.manager.GiveBackIncomingMetadata(std::move(md));
    ExpectSpareCount(m, 1, "after giving back one entry");

    IncomingStream in = InvokeWith(m, 1, {{"key", std::string(90, 'b')}});
    ExpectSpareCount(m, 0, "after the next decode");
    m.sim.Check(in.metadata == Metadata{{"key", std::string(90, 'b')}}, "decoded metadata");
    m.sim.Check(&*in.metadata.begin() == node, "the decode did not reuse the kept node");
    m.sim.Check(in.metadata.begin()->second.data() == value_bytes,
                "the decode did not reuse the kept value's buffer");
    in.stream->Cancel(CanceledError());
  });
}

// Small entries, far under the byte bound: only the entry bound refuses them.
TEST(IncomingMetadataSpareTest, AMapOverTheEntryBoundIsNotKept) {
  OnServer([](ManagerSide& m) {
    Metadata md = Entries(tunables::kIncomingMetadataSpareMaxCount + 1, 1);
    m.sim.Check(CapacityBytes(md) <= tunables::kIncomingMetadataSpareMaxBytes,
                absl::StrCat("the map is over the byte bound too: ", CapacityBytes(md)));
    m.manager.GiveBackIncomingMetadata(std::move(md));
    ExpectSpareCount(m, 0, "after giving back one entry too many");
  });
}

// One entry, far under the entry bound: only the byte bound refuses it.
TEST(IncomingMetadataSpareTest, AMapOverTheByteBoundIsNotKept) {
  OnServer([](ManagerSide& m) {
    m.manager.GiveBackIncomingMetadata(
        {{"key", std::string(2 * tunables::kIncomingMetadataSpareMaxBytes, 'v')}});
    ExpectSpareCount(m, 0, "after giving back a 2 KiB value");
  });
}

TEST(IncomingMetadataSpareTest, AMapAtBothBoundsIsKept) {
  OnServer([](ManagerSide& m) {
    Metadata md = EntriesEndingWith(LastBytesAtTheByteBound());
    const size_t bytes = CapacityBytes(md);
    m.sim.Check(bytes <= tunables::kIncomingMetadataSpareMaxBytes &&
                    bytes + 16 > tunables::kIncomingMetadataSpareMaxBytes,
                absl::StrCat("capacities add up to ", bytes, ", not at the byte bound"));
    m.manager.GiveBackIncomingMetadata(std::move(md));
    ExpectSpareCount(m, tunables::kIncomingMetadataSpareMaxCount,
                     absl::StrCat("after giving back the map at both bounds (", bytes, " bytes)"));
  });
}

// The same map with a last value one byte longer: the least capacity over the byte bound.
TEST(IncomingMetadataSpareTest, AMapJustOverTheByteBoundIsNotKept) {
  OnServer([](ManagerSide& m) {
    Metadata md = EntriesEndingWith(LastBytesAtTheByteBound() + 1);
    const size_t bytes = CapacityBytes(md);
    m.sim.Check(bytes > tunables::kIncomingMetadataSpareMaxBytes,
                absl::StrCat("capacities add up to ", bytes, ", not over the byte bound"));
    m.manager.GiveBackIncomingMetadata(std::move(md));
    ExpectSpareCount(m, 0, absl::StrCat("after giving back ", bytes, " bytes of capacity"));
  });
}

// A second give-back while a spare is held is dropped: the first map stays.
TEST(IncomingMetadataSpareTest, OnlyOneSpareIsKept) {
  OnServer([](ManagerSide& m) {
    m.manager.GiveBackIncomingMetadata(Entries(2, 10));
    m.manager.GiveBackIncomingMetadata(Entries(3, 10));
    ExpectSpareCount(m, 2, "after two give-backs");
  });
}

// Nothing to keep; the slot stays free for the next call's map.
TEST(IncomingMetadataSpareTest, AnEmptyMapIsNotKept) {
  OnServer([](ManagerSide& m) {
    m.manager.GiveBackIncomingMetadata(Metadata{});
    ExpectSpareCount(m, 0, "after giving back an empty map");
    m.manager.GiveBackIncomingMetadata(Entries(1, 10));
    ExpectSpareCount(m, 1, "after giving back one entry");
  });
}

// In both modes a decode into an empty map takes the spare and yields exactly the decoded
// entries, whether its keys begin like the spare's (the spare's later nodes are left over) or not
// (its nodes are reused for other keys): none of the spare's other keys remains.
TEST(IncomingMetadataSpareTest, DecodeTakesTheSpareAndLeavesNothingOfIt) {
  const Metadata prefix = {{"a", "one"}, {"c", "three"}};
  const Metadata others = {{"b", "two"}, {"e", "five"}};
  for (const Options& options : {testing::UpstreamOptions(), testing::MuxOptions()}) {
    for (const Metadata& sent : {prefix, others}) {
      SCOPED_TRACE(absl::StrCat(options.mux ? "mux" : "upstream", ", first key ",
                                sent.begin()->first));
      OnServer([&sent](ManagerSide& m) {
        m.manager.GiveBackIncomingMetadata({{"a", "1"}, {"c", "3"}, {"e", "5"}, {"g", "7"}});
        ExpectSpareCount(m, 4, "after giving back four entries");
        IncomingStream in = InvokeWith(m, 1, sent);
        ExpectSpareCount(m, 0, "after the decode");
        m.sim.Check(in.metadata == sent,
                    absl::StrCat("decoded ", in.metadata.size(), " entries, want ", sent.size()));
        in.stream->Cancel(CanceledError());
      }, options);
    }
  }
}

}  // namespace
}  // namespace drpc
