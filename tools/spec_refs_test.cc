#include "tools/spec_refs.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drpc::spec_refs {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

std::string Runfile(const std::string& rel) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return std::string(srcdir ? srcdir : ".") + "/" + (workspace ? workspace : "drpc_cpp") + "/" +
         rel;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Outline ProtocolOutline() {
  std::vector<std::string> problems;
  Outline outline = ParseOutline(ReadFile(Runfile(std::string(kDocumentPath))), &problems);
  for (const std::string& p : problems) ADD_FAILURE() << p;
  return outline;
}

std::vector<std::pair<int, std::string>> LinesAndMessages(const std::vector<Violation>& v) {
  std::vector<std::pair<int, std::string>> out;
  for (const Violation& x : v) out.emplace_back(x.line, x.message);
  return out;
}

// What one reference names: its section and items.
std::vector<std::pair<std::string, std::vector<std::string>>> Named(absl::string_view text) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const Reference& r : FindReferences(text)) out.emplace_back(r.section, r.items);
  return out;
}

using Items = std::vector<std::string>;

TEST(SpecRefsTest, EveryReferenceFormInTheTreeIsRecognised) {
  EXPECT_THAT(Named("spec \xC2\xA7" "4.2 and docs/protocol.md \xC2\xA7" "7.4."),
              ElementsAre(Pair("4.2", Items{}), Pair("7.4", Items{})));
  EXPECT_THAT(Named("(\xC2\xA7" "13 items 2 and 3: x) \xC2\xA7" "13 items 2,3) \xC2\xA7" "13 items 12/13"),
              ElementsAre(Pair("13", Items{"2", "3"}), Pair("13", Items{"2", "3"}),
                          Pair("13", Items{"12", "13"})));
  EXPECT_THAT(Named("\xC2\xA7" "13 item 19 / \xC2\xA7" "13 item 1; \xC2\xA7" "13 items 1\xE2\x80\x93" "4)"),
              ElementsAre(Pair("13", Items{"19"}), Pair("13", Items{"1"}),
                          Pair("13", Items{"1", "2", "3", "4"})));
  EXPECT_THAT(Named("\xC2\xA7" "12.7 E1\xE2\x80\x93" "E3, E13, \xC2\xA7" "13 items 4, 11)"),
              ElementsAre(Pair("12.7", Items{"E1", "E2", "E3", "E13"}),
                          Pair("13", Items{"4", "11"})));
  EXPECT_THAT(Named("\xC2\xA7" "8.2 step 3, \xC2\xA7" "1\xE2\x80\x93\xC2\xA7" "3"),
              ElementsAre(Pair("8.2", Items{"3"}), Pair("2", Items{}), Pair("1", Items{}),
                          Pair("3", Items{})));
}

TEST(SpecRefsTest, AWrappedItemListIsReadAcrossTheCommentLeader) {
  const std::vector<Reference> refs =
      FindReferences("x\n// (spec \xC2\xA7" "13\n// items 2 and 3: y)\n# \xC2\xA7" "5\n");
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0].line, 2);
  EXPECT_EQ(refs[0].text, "\xC2\xA7" "13 items 2 and 3");
  EXPECT_THAT(refs[0].items, ElementsAre("2", "3"));
  EXPECT_EQ(refs[1].line, 4);
}

TEST(SpecRefsTest, SignsWithoutANumberAreNotReferences) {
  EXPECT_THAT(FindReferences("\xC2\xA7N, \xC2\xA7" "13 item K, \xC2\xA7" "12.7 EK, \xC2\xA7 5"),
              ::testing::SizeIs(2));  // only "§13" and "§12.7", without items
  EXPECT_THAT(Named("\xC2\xA7" "13 item K"), ElementsAre(Pair("13", Items{})));
}

TEST(SpecRefsTest, OutlineHasSectionsAndItemsFromHeadingsListsAndLabelledRows) {
  std::vector<std::string> problems;
  const Outline o = ParseOutline(
      "# Title\n1. not an item (no section)\n## 1. One\n1. first\n  2. nested, not an item\n"
      "### 1.1 Sub\n| # | what |\n|---|---|\n| E1 | x |\n| MUST | y |\n```\n## 9. fenced\n```\n"
      "## 2 Two\n10. tenth\n",
      &problems);
  EXPECT_THAT(problems, IsEmpty());
  EXPECT_THAT(o.sections, ElementsAre("1", "1.1", "2"));
  EXPECT_THAT(o.items.at("1"), ElementsAre("1"));
  EXPECT_THAT(o.items.at("1.1"), ElementsAre("E1"));
  EXPECT_THAT(o.items.at("2"), ElementsAre("10"));
}

TEST(SpecRefsTest, DuplicateAndOrphanSectionsAreProblemsOfTheDocument) {
  std::vector<std::string> problems;
  ParseOutline("## 1. One\n## 1. Again\n### 3.1 Orphan\n", &problems);
  EXPECT_THAT(problems,
              ElementsAre("docs/protocol.md:2: section 1 is defined twice",
                          "docs/protocol.md:3: section 3.1 comes before (or without) section 3"));
}

// The checker fires: every bad reference of the fixture is reported with its line, and none of
// the good ones.
TEST(SpecRefsTest, BadFixtureIsRejectedWithFileAndLine) {
  const std::string fixture = ReadFile(Runfile("tools/testdata/spec_refs_bad_fixture.txt"));
  ASSERT_FALSE(fixture.empty());
  const std::vector<Violation> v = CheckReferences(ProtocolOutline(), "fixture.txt", fixture);
  const std::string doc = "docs/protocol.md";
  EXPECT_THAT(
      LinesAndMessages(v),
      ElementsAre(
          Pair(8, "\"\xC2\xA7" "99\": " + doc + " has no section 99"),
          Pair(9, "\"\xC2\xA7" "7.9\": " + doc + " has no section 7.9"),
          Pair(10, "\"\xC2\xA7" "13 item 21\": " + doc + " \xC2\xA7" "13 has no item 21"),
          Pair(10, "\"\xC2\xA7" "13 items 19\xE2\x80\x93" "22\": " + doc + " \xC2\xA7" "13 has no item 21"),
          Pair(10, "\"\xC2\xA7" "13 items 19\xE2\x80\x93" "22\": " + doc + " \xC2\xA7" "13 has no item 22"),
          Pair(11, "\"\xC2\xA7" "12.7 E17\": " + doc + " \xC2\xA7" "12.7 has no item E17"),
          Pair(12, "\"\xC2\xA7" "20\xE2\x80\x93\xC2\xA7" "24\": " + doc + " has no section 23"),
          Pair(12, "\"\xC2\xA7" "24\": " + doc + " has no section 24"),
          Pair(13, "\"\xC2\xA7" "13 items 2 and 30\": " + doc + " \xC2\xA7" "13 has no item 30")));
  for (const Violation& x : v) EXPECT_EQ(x.path, "fixture.txt");
  ASSERT_FALSE(v.empty());
  EXPECT_EQ(FormatViolation(v[0]), "fixture.txt:8: \"\xC2\xA7" "99\": " + doc + " has no section 99");
}

// The document keeps the numbering the code cites: §1–§13 with their subsections, the 20 items of
// §13 and the 16 rows of §12.7.
TEST(SpecRefsTest, ProtocolDocumentKeepsTheCitedNumbering) {
  const Outline o = ProtocolOutline();
  for (int s = 1; s <= 22; ++s) EXPECT_TRUE(o.sections.contains(std::to_string(s))) << s;
  for (const char* s : {"2.5", "4.3", "5.2", "6.3", "7.8", "8.5", "9.3", "11.7", "12.8"}) {
    EXPECT_TRUE(o.sections.contains(s)) << s;
  }
  ASSERT_TRUE(o.items.contains("13"));
  EXPECT_EQ(o.items.at("13").size(), 20u);
  for (int k = 1; k <= 20; ++k) EXPECT_TRUE(o.items.at("13").contains(std::to_string(k))) << k;
  ASSERT_TRUE(o.items.contains("12.7"));
  for (int k = 1; k <= 16; ++k) EXPECT_TRUE(o.items.at("12.7").contains("E" + std::to_string(k)));
  EXPECT_TRUE(o.items.at("8.2").contains("3"));
}

// The real tree: every reference in the workspace must resolve. The workspace root is found
// through the runfile symlink of WORKSPACE (the test is tagged "external", so never cached).
TEST(SpecRefsTest, WorkspaceReferencesAllResolve) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path workspace = fs::canonical(Runfile("WORKSPACE"), ec);
  ASSERT_FALSE(ec) << "cannot resolve the WORKSPACE runfile: " << ec.message();
  const fs::path root = workspace.parent_path();
  ASSERT_TRUE(fs::is_regular_file(root / std::string(kDocumentPath), ec))
      << root << " is not the source tree";
  int files = 0;
  int references = 0;
  const std::vector<Violation> violations =
      CheckTree(root.string(), ProtocolOutline(), &files, &references);
  EXPECT_GT(files, 50) << "too few files found under " << root;
  EXPECT_GT(references, 100) << "too few references found under " << root;
  for (const Violation& v : violations) ADD_FAILURE() << FormatViolation(v);
}

}  // namespace
}  // namespace drpc::spec_refs
