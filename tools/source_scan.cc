#include "tools/source_scan.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace drpc::scan {

std::string StripComments(absl::string_view in, bool strip_literals) {
  std::string out(in);
  size_t i = 0;
  const size_t n = in.size();
  auto blank = [&out](size_t from, size_t to) {
    for (size_t k = from; k < to; ++k) {
      if (out[k] != '\n') out[k] = ' ';
    }
  };
  auto is_ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  while (i < n) {
    const char c = in[i];
    if (c == '/' && i + 1 < n && in[i + 1] == '/') {
      size_t end = in.find('\n', i);
      if (end == absl::string_view::npos) end = n;
      blank(i, end);
      i = end;
    } else if (c == '/' && i + 1 < n && in[i + 1] == '*') {
      size_t end = in.find("*/", i + 2);
      end = end == absl::string_view::npos ? n : end + 2;
      blank(i, end);
      i = end;
    } else if (c == '"' && i > 0 && in[i - 1] == 'R' && (i < 2 || !is_ident(in[i - 2]) ||
                                                           in[i - 2] == '8' || in[i - 2] == 'u' ||
                                                           in[i - 2] == 'U' || in[i - 2] == 'L')) {
      // Raw string R"delim( ... )delim".
      size_t open = in.find('(', i + 1);
      if (open == absl::string_view::npos) break;
      std::string close = absl::StrCat(")", in.substr(i + 1, open - i - 1), "\"");
      size_t end = in.find(close, open + 1);
      end = end == absl::string_view::npos ? n : end + close.size();
      if (strip_literals) blank(i + 1, end - 1);
      i = end;
    } else if (c == '"' || (c == '\'' && !(i > 0 && std::isxdigit(static_cast<unsigned char>(
                                                          in[i - 1]))))) {
      // An apostrophe after a hex digit is a digit separator (1'000), not a character literal.
      size_t k = i + 1;
      while (k < n && in[k] != c && in[k] != '\n') k += (in[k] == '\\') ? 2 : 1;
      k = std::min(k, n);
      if (strip_literals) blank(i + 1, k);
      i = k + 1;
    } else {
      ++i;
    }
  }
  return out;
}

std::vector<Include> FindIncludes(absl::string_view contents) {
  std::vector<Include> out;
  int line = 0;
  std::istringstream lines{StripComments(contents, /*strip_literals=*/false)};
  auto skip_space = [](absl::string_view& s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  };
  for (std::string text; std::getline(lines, text);) {
    ++line;
    absl::string_view s = text;
    skip_space(s);
    if (!absl::ConsumePrefix(&s, "#")) continue;
    skip_space(s);
    if (!absl::ConsumePrefix(&s, "include")) continue;
    skip_space(s);
    if (s.empty() || (s.front() != '<' && s.front() != '"')) continue;
    const char close = s.front() == '<' ? '>' : '"';
    const size_t end = s.find(close, 1);
    if (end == absl::string_view::npos) continue;
    out.push_back({line, std::string(s.substr(1, end - 1)), close == '>',
                   std::string(s.substr(0, end + 1))});
  }
  return out;
}

bool IsCxxSource(absl::string_view path) {
  return absl::EndsWith(path, ".h") || absl::EndsWith(path, ".cc") ||
         absl::EndsWith(path, ".hpp") || absl::EndsWith(path, ".cpp") ||
         absl::EndsWith(path, ".inc");
}

std::vector<std::string> ListCxxSources(const std::string& root,
                                        const std::vector<std::string>& tops) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const std::string& top : tops) {
    const fs::path dir = fs::path(root) / top;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      std::string rel = fs::relative(it->path(), root, ec).generic_string();
      if (IsCxxSource(rel)) files.push_back(std::move(rel));
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool ReadSource(const std::string& root, const std::string& rel, std::string* contents) {
  std::ifstream in(std::filesystem::path(root) / rel, std::ios::binary);
  if (!in) return false;
  std::stringstream buffer;
  buffer << in.rdbuf();
  *contents = buffer.str();
  return static_cast<bool>(in) || in.eof();
}

}  // namespace drpc::scan
