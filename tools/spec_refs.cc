#include "tools/spec_refs.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace drpc::spec_refs {
namespace {

constexpr absl::string_view kSectionSign = "\xC2\xA7";  // §, UTF-8
constexpr absl::string_view kEnDash = "\xE2\x80\x93";   // –, UTF-8
// A range of items or sections wider than this is a typo, not something to expand.
constexpr uint64_t kRangeMaxCount = 1000;
// Larger files are data, not text with references.
constexpr uintmax_t kFileMaxBytes = 4 << 20;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool At(absl::string_view s, size_t pos, absl::string_view what) {
  return s.substr(std::min(pos, s.size())).substr(0, what.size()) == what;
}

// Reads a section number "N" or "N.M..." at s[*pos]; a '.' not followed by a digit ends it.
bool ReadSectionNumber(absl::string_view s, size_t* pos, std::string* out) {
  size_t p = *pos;
  if (p >= s.size() || !IsDigit(s[p])) return false;
  for (;;) {
    while (p < s.size() && IsDigit(s[p])) ++p;
    if (p + 1 < s.size() && s[p] == '.' && IsDigit(s[p + 1])) {
      ++p;
      continue;
    }
    break;
  }
  *out = std::string(s.substr(*pos, p - *pos));
  *pos = p;
  return true;
}

// Reads a plain decimal number (at most 18 digits, so it fits) at s[*pos].
bool ReadInteger(absl::string_view s, size_t* pos, uint64_t* out) {
  size_t p = *pos;
  uint64_t v = 0;
  while (p < s.size() && IsDigit(s[p]) && p - *pos < 18) v = v * 10 + (s[p++] - '0');
  if (p == *pos || (p < s.size() && IsDigit(s[p]))) return false;
  *out = v;
  *pos = p;
  return true;
}

bool ConsumeDash(absl::string_view s, size_t* pos) {
  if (At(s, *pos, kEnDash)) {
    *pos += kEnDash.size();
    return true;
  }
  if (At(s, *pos, "-")) {
    ++*pos;
    return true;
  }
  return false;
}

void SkipSpaces(absl::string_view s, size_t* pos) {
  while (*pos < s.size() && (s[*pos] == ' ' || s[*pos] == '\t')) ++*pos;
}

// Skips blanks, also across one line break followed by a comment leader ("//", "#", "*"), so a
// reference wrapped in a comment ("§13\n// items 2 and 3") reads as one.
void SkipGap(absl::string_view s, size_t* pos) {
  SkipSpaces(s, pos);
  if (*pos < s.size() && s[*pos] == '\n') {
    size_t p = *pos + 1;
    SkipSpaces(s, &p);
    for (absl::string_view leader : {"//", "#", "*"}) {
      if (At(s, p, leader)) {
        p += leader.size();
        break;
      }
    }
    SkipSpaces(s, &p);
    *pos = p;
  }
}

// One item or item range at s[*pos]: "4", "1–3", "E4", "E4–E12" (`prefix` is "" or "E").
bool ReadItem(absl::string_view s, size_t* pos, absl::string_view prefix,
              std::vector<std::string>* items) {
  size_t p = *pos;
  uint64_t lo = 0;
  if (!At(s, p, prefix)) return false;
  p += prefix.size();
  if (!ReadInteger(s, &p, &lo)) return false;
  uint64_t hi = lo;
  size_t q = p;
  if (ConsumeDash(s, &q)) {
    if (At(s, q, prefix)) q += prefix.size();
    uint64_t end = 0;
    if (ReadInteger(s, &q, &end) && end >= lo && end - lo < kRangeMaxCount) {
      hi = end;
      p = q;
    }
  }
  for (uint64_t k = lo; k <= hi; ++k) items->push_back(absl::StrCat(prefix, k));
  *pos = p;
  return true;
}

// A separator between two items: ", ", ", and ", " and ", "/". Only consumed if an item follows.
bool ReadSeparatedItem(absl::string_view s, size_t* pos, absl::string_view prefix,
                       std::vector<std::string>* items) {
  size_t p = *pos;
  SkipSpaces(s, &p);
  if (At(s, p, ",")) {
    ++p;
    SkipGap(s, &p);
    if (At(s, p, "and ")) {
      p += 4;
      SkipGap(s, &p);
    }
  } else if (At(s, p, "/")) {
    ++p;
    SkipSpaces(s, &p);
  } else if (At(s, p, "and ")) {
    p += 4;
    SkipGap(s, &p);
  } else {
    return false;
  }
  if (!ReadItem(s, &p, prefix, items)) return false;
  *pos = p;
  return true;
}

// Items named after a section number that ends at s[pos]: "items 2 and 3", "step 3",
// "E4–E12, E13". Returns where they end (`pos` if there are none).
size_t ReadItems(absl::string_view s, size_t pos, std::vector<std::string>* items) {
  size_t p = pos;
  SkipGap(s, &p);
  absl::string_view prefix;
  bool keyword = false;
  for (absl::string_view word : {"items", "item", "steps", "step", "rules", "rule"}) {
    if (At(s, p, word) && p + word.size() < s.size() &&
        (s[p + word.size()] == ' ' || s[p + word.size()] == '\n')) {
      p += word.size();
      SkipGap(s, &p);
      keyword = true;
      break;
    }
  }
  if (!keyword) {
    if (!(At(s, p, "E") && p + 1 < s.size() && IsDigit(s[p + 1]))) return pos;
    prefix = "E";
  }
  if (!ReadItem(s, &p, prefix, items)) return pos;
  while (ReadSeparatedItem(s, &p, prefix, items)) {
  }
  return p;
}

// For "§A–§B" with top-level A and B (A's number ends at s[pos]): the sections strictly between
// them; *range_end is set to where "§B" ends.
std::vector<std::string> RangeInterior(absl::string_view s, size_t pos, absl::string_view first,
                                       size_t* range_end) {
  std::vector<std::string> out;
  uint64_t a = 0;
  size_t p = 0;
  if (!ReadInteger(first, &p, &a) || p != first.size()) return out;
  if (!ConsumeDash(s, &pos) || !At(s, pos, kSectionSign)) return out;
  pos += kSectionSign.size();
  uint64_t b = 0;
  size_t end = pos;
  std::string last;
  if (!ReadSectionNumber(s, &end, &last) || last.find('.') != std::string::npos) return out;
  p = 0;
  if (!ReadInteger(last, &p, &b) || b <= a || b - a > kRangeMaxCount) return out;
  for (uint64_t k = a + 1; k < b; ++k) out.push_back(absl::StrCat(k));
  *range_end = end;
  return out;
}

// "7", "7.4" or "" for a heading line ("## 7. Title", "### 7.4 Title", "# Title").
std::string HeadingSection(absl::string_view line, bool* is_heading) {
  size_t hashes = 0;
  while (hashes < line.size() && line[hashes] == '#') ++hashes;
  *is_heading = hashes > 0 && hashes < line.size() && line[hashes] == ' ';
  if (!*is_heading || hashes < 2 || hashes > 4) return "";
  size_t pos = hashes + 1;
  std::string number;
  if (!ReadSectionNumber(line, &pos, &number)) return "";
  if (At(line, pos, ".")) ++pos;
  if (pos < line.size() && line[pos] != ' ') return "";
  return number;
}

// The item a line defines inside a section: "K" for "K. text", "EK" for a table row "| EK | ...".
std::string LineItem(absl::string_view line) {
  size_t pos = 0;
  uint64_t k = 0;
  if (ReadInteger(line, &pos, &k) && At(line, pos, ". ")) return absl::StrCat(k);
  if (!absl::StartsWith(line, "|")) return "";
  std::vector<absl::string_view> cells = absl::StrSplit(line.substr(1), '|');
  if (cells.empty()) return "";
  absl::string_view cell = absl::StripAsciiWhitespace(cells[0]);
  size_t letters = 0;
  while (letters < cell.size() && absl::ascii_isupper(cell[letters])) ++letters;
  size_t digits = letters;
  while (digits < cell.size() && IsDigit(cell[digits])) ++digits;
  if (letters == 0 || digits == letters || digits != cell.size()) return "";
  return std::string(cell);
}

std::string ParentOf(const std::string& section) {
  const size_t dot = section.rfind('.');
  return dot == std::string::npos ? "" : section.substr(0, dot);
}

std::string ReadFile(const std::filesystem::path& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool IsTextFileName(const std::filesystem::path& path) {
  static constexpr absl::string_view kExtensions[] = {".cc", ".h",    ".md",   ".py",
                                                      ".sh", ".bzl",  ".bazel", ".txt",
                                                      ".dict", ".options", ".json"};
  const std::string name = path.filename().string();
  if (name == "BUILD" || name == "WORKSPACE") return true;
  const std::string ext = path.extension().string();
  return std::find(std::begin(kExtensions), std::end(kExtensions), ext) != std::end(kExtensions);
}

bool IsSkippedDirectory(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  return name == ".git" || name == "fuzz-out" || absl::StartsWith(name, "bazel-");
}

}  // namespace

Outline ParseOutline(absl::string_view markdown, std::vector<std::string>* problems) {
  Outline outline;
  std::string current;
  bool in_fence = false;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(markdown, '\n')) {
    ++line_number;
    if (absl::StartsWith(line, "```")) in_fence = !in_fence;
    if (in_fence || absl::StartsWith(line, "```")) continue;
    bool is_heading = false;
    const std::string section = HeadingSection(line, &is_heading);
    if (is_heading) {
      current = section;
      if (section.empty()) continue;
      const std::string where = absl::StrCat(kDocumentPath, ":", line_number, ": ");
      if (!outline.sections.insert(section).second) {
        problems->push_back(absl::StrCat(where, "section ", section, " is defined twice"));
      }
      const std::string parent = ParentOf(section);
      if (!parent.empty() && !outline.sections.contains(parent)) {
        problems->push_back(absl::StrCat(where, "section ", section, " comes before (or without) section ", parent));
      }
      continue;
    }
    if (current.empty()) continue;
    if (std::string item = LineItem(line); !item.empty()) outline.items[current].insert(item);
  }
  return outline;
}

std::vector<Reference> FindReferences(absl::string_view contents) {
  std::vector<Reference> refs;
  int line = 1;
  size_t counted = 0;  // the newlines before offset `counted` are counted in `line`
  for (size_t pos = contents.find(kSectionSign); pos != absl::string_view::npos;
       pos = contents.find(kSectionSign, pos + kSectionSign.size())) {
    size_t p = pos + kSectionSign.size();
    std::string section;
    if (!ReadSectionNumber(contents, &p, &section)) continue;
    line += static_cast<int>(std::count(contents.begin() + counted, contents.begin() + pos, '\n'));
    counted = pos;
    std::vector<std::string> items;
    const size_t end = ReadItems(contents, p, &items);
    // The reference as written, on one line (a wrapped item list is joined).
    std::string text;
    for (absl::string_view part : absl::StrSplit(contents.substr(pos, end - pos), '\n')) {
      absl::string_view piece = absl::StripAsciiWhitespace(part);
      if (!text.empty()) {
        for (absl::string_view leader : {"//", "#", "*"}) {
          if (absl::ConsumePrefix(&piece, leader)) break;
        }
        piece = absl::StripAsciiWhitespace(piece);
        text += ' ';
      }
      absl::StrAppend(&text, piece);
    }
    size_t range_end = p;
    for (std::string& inner : RangeInterior(contents, p, section, &range_end)) {
      refs.push_back(
          Reference{line, std::string(contents.substr(pos, range_end - pos)), std::move(inner), {}});
    }
    refs.push_back(Reference{line, std::move(text), std::move(section), std::move(items)});
  }
  return refs;
}

std::vector<Violation> CheckReferences(const Outline& outline, absl::string_view path,
                                       absl::string_view contents) {
  std::vector<Violation> out;
  for (const Reference& ref : FindReferences(contents)) {
    const std::string quoted = absl::StrCat("\"", ref.text, "\"");
    if (!outline.sections.contains(ref.section)) {
      out.push_back({std::string(path), ref.line,
                     absl::StrCat(quoted, ": ", kDocumentPath, " has no section ", ref.section)});
      continue;
    }
    auto items = outline.items.find(ref.section);
    for (const std::string& item : ref.items) {
      if (items == outline.items.end() || !items->second.contains(item)) {
        out.push_back({std::string(path), ref.line,
                       absl::StrCat(quoted, ": ", kDocumentPath, " \xC2\xA7", ref.section,
                                    " has no item ", item)});
      }
    }
  }
  return out;
}

std::string FormatViolation(const Violation& violation) {
  return absl::StrCat(violation.path, ":", violation.line, ": ", violation.message);
}

std::vector<Violation> CheckTree(const std::string& root, const Outline& outline,
                                 int* files_scanned, int* references_found) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_symlink(ec)) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory(ec)) {
      if (IsSkippedDirectory(it->path())) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec) || !IsTextFileName(it->path())) continue;
    if (it->file_size(ec) > kFileMaxBytes) continue;
    std::string rel = fs::relative(it->path(), root, ec).generic_string();
    if (std::find(std::begin(kFixturePaths), std::end(kFixturePaths), rel) != std::end(kFixturePaths)) {
      continue;
    }
    files.push_back(std::move(rel));
  }
  std::sort(files.begin(), files.end());
  std::vector<Violation> out;
  int scanned = 0;
  int references = 0;
  for (const std::string& rel : files) {
    bool ok = false;
    const std::string contents = ReadFile(fs::path(root) / rel, &ok);
    if (!ok) {
      out.push_back({rel, 0, "unreadable file (the checker must read every text file)"});
      continue;
    }
    if (contents.find('\0') != std::string::npos) continue;  // binary data with a text name
    ++scanned;
    references += static_cast<int>(FindReferences(contents).size());
    std::vector<Violation> v = CheckReferences(outline, rel, contents);
    out.insert(out.end(), v.begin(), v.end());
  }
  if (files_scanned != nullptr) *files_scanned = scanned;
  if (references_found != nullptr) *references_found = references;
  return out;
}

}  // namespace drpc::spec_refs
