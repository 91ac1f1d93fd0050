#include "tools/determinism_guard.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "tools/source_scan.h"

namespace drpc::guard {
namespace {

constexpr absl::string_view kUseEnv =
    "code on the Env seam (proto/, impl/, services simulated with sim/world) reaches time, "
    "scheduling, randomness and I/O only through impl/env.h";

constexpr absl::string_view kOrderedReason =
    "hash containers iterate in an unspecified (std::) or per-process randomised (absl::) order, "
    "and simulated code must iterate deterministically; use std::map/std::set or "
    "absl::btree_map/btree_set";

struct IncludeRule {
  absl::string_view prefix;  // matched against the include target; a trailing '/' means a folder
  absl::string_view reason;
};

// Hash containers: rejected wherever determinism needs ordered iteration (Scope::ordered_iteration).
constexpr IncludeRule kOrderedIncludeRules[] = {
    {"unordered_map", "hash containers"},
    {"unordered_set", "hash containers"},
    {"absl/container/flat_hash_map.h", "hash containers"},
    {"absl/container/flat_hash_set.h", "hash containers"},
    {"absl/container/node_hash_map.h", "hash containers"},
    {"absl/container/node_hash_set.h", "hash containers"},
};

// Their names, rejected wherever they appear as a name (qualified or not; members are fine).
constexpr absl::string_view kOrderedForbidden[] = {
    "unordered_map", "unordered_set", "unordered_multimap", "unordered_multiset",
    "flat_hash_map", "flat_hash_set", "node_hash_map", "node_hash_set",
};

constexpr IncludeRule kIncludeRules[] = {
    {"thread", "threads"},
    {"mutex", "locks (use impl/sync.h)"},
    {"shared_mutex", "locks (use impl/sync.h)"},
    {"condition_variable", "locks (use impl/sync.h)"},
    {"future", "threads"},
    {"semaphore", "locks (use impl/sync.h)"},
    {"latch", "locks (use impl/sync.h)"},
    {"barrier", "locks (use impl/sync.h)"},
    {"stop_token", "threads"},
    {"random", "randomness"},
    {"ctime", "wall-clock time"},
    {"time.h", "wall-clock time"},
    {"sys/time.h", "wall-clock time"},
    {"sys/times.h", "wall-clock time"},
    {"sys/random.h", "randomness"},
    {"unistd.h", "sleeps and process state"},
    {"pthread.h", "threads"},
    {"signal.h", "signals"},
    {"csignal", "signals"},
    {"sys/socket.h", "sockets (use a Transport)"},
    {"sys/epoll.h", "real I/O polling"},
    {"sys/select.h", "real I/O polling"},
    {"poll.h", "real I/O polling"},
    {"netdb.h", "sockets (use a Transport)"},
    {"netinet/", "sockets (use a Transport)"},
    {"arpa/", "sockets (use a Transport)"},
    {"fcntl.h", "file descriptors"},
    {"fstream", "file I/O"},
    {"absl/time/clock.h", "the real clock (use Clock from impl/env.h)"},
    {"absl/random/", "randomness"},
    {"absl/synchronization/", "locks (use impl/sync.h)"},
};

// Identifiers forbidden wherever they appear as a name.
constexpr absl::string_view kAlwaysForbidden[] = {
    "system_clock", "steady_clock", "high_resolution_clock", "utc_clock", "tai_clock", "gps_clock",
    "this_thread", "random_device", "mt19937", "mt19937_64", "minstd_rand", "minstd_rand0",
    "default_random_engine", "ranlux24", "ranlux48", "knuth_b", "uniform_int_distribution",
    "uniform_real_distribution", "bernoulli_distribution", "normal_distribution",
    "discrete_distribution", "BitGen", "InsecureBitGen", "BitGenRef",
    "GetCurrentTimeNanos", "gettimeofday", "clock_gettime", "nanosleep", "usleep", "getenv",
    "secure_getenv", "srand", "drand48", "lrand48", "arc4random", "getrandom", "pthread_create",
    "pthread_mutex_lock", "__rdtsc", "rdtsc",
};

// Forbidden when qualified with std:: (an unqualified `thread` is just a variable name).
constexpr absl::string_view kStdQualified[] = {
    "thread", "jthread", "mutex", "recursive_mutex", "timed_mutex", "shared_mutex",
    "condition_variable", "condition_variable_any", "async", "future", "promise",
    "counting_semaphore", "binary_semaphore", "latch", "barrier", "stop_token",
};

// Forbidden when qualified with absl::.
constexpr absl::string_view kAbslQualified[] = {
    "Now", "SleepFor", "Mutex", "MutexLock", "CondVar", "Notification", "Barrier", "BlockingCounter",
};

// Forbidden as free-function calls: unqualified, `::name(` or `std::name(`; member calls and
// declarations (`Clock& clock() const`) are fine.
constexpr absl::string_view kFreeCalls[] = {
    "rand", "random", "time", "clock", "sleep", "getpid", "fork",
};

template <size_t N>
bool Contains(const absl::string_view (&set)[N], absl::string_view name) {
  return std::find(std::begin(set), std::end(set), name) != std::end(set);
}

struct Token {
  std::string text;
  int line;
};

std::vector<Token> Tokenize(absl::string_view code) {
  std::vector<Token> tokens;
  int line = 1;
  size_t i = 0;
  bool line_start = true;
  while (i < code.size()) {
    const char c = code[i];
    if (c == '\n') {
      ++line;
      ++i;
      line_start = true;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (line_start && c == '#') {
      // Preprocessor lines are checked as includes, not as code; skip to the end of the line.
      while (i < code.size() && code[i] != '\n') ++i;
      continue;
    }
    line_start = false;
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t k = i;
      while (k < code.size() &&
             (std::isalnum(static_cast<unsigned char>(code[k])) || code[k] == '_')) {
        ++k;
      }
      tokens.push_back({std::string(code.substr(i, k - i)), line});
      i = k;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      while (i < code.size() &&
             (std::isalnum(static_cast<unsigned char>(code[i])) || code[i] == '.' ||
              code[i] == '\'')) {
        ++i;
      }
    } else if (code.substr(i, 2) == "::" || code.substr(i, 2) == "->") {
      tokens.push_back({std::string(code.substr(i, 2)), line});
      i += 2;
    } else {
      tokens.push_back({std::string(1, c), line});
      ++i;
    }
  }
  return tokens;
}

bool IsIdentifier(const std::string& t) {
  return !t.empty() && (std::isalpha(static_cast<unsigned char>(t[0])) || t[0] == '_');
}

// The first rule of `rules` that `target` matches, or nullptr.
template <size_t N>
const IncludeRule* MatchInclude(const IncludeRule (&rules)[N], absl::string_view target) {
  for (const IncludeRule& rule : rules) {
    const bool folder = absl::EndsWith(rule.prefix, "/");
    if (folder ? absl::StartsWith(target, rule.prefix) : target == rule.prefix) return &rule;
  }
  return nullptr;
}

void CheckIncludes(absl::string_view path, Scope scope, absl::string_view contents,
                   std::vector<Violation>& out) {
  for (const scan::Include& inc : scan::FindIncludes(contents)) {
    if (const IncludeRule* rule = MatchInclude(kIncludeRules, inc.target);
        rule != nullptr && scope.env_doorway) {
      out.push_back(
          {std::string(path), inc.line, inc.spelled, absl::StrCat(rule->reason, "; ", kUseEnv)});
    } else if (MatchInclude(kOrderedIncludeRules, inc.target) != nullptr &&
               scope.ordered_iteration) {
      out.push_back({std::string(path), inc.line, inc.spelled, std::string(kOrderedReason)});
    }
  }
}

void CheckTokens(absl::string_view path, Scope scope, const std::vector<Token>& tokens,
                 std::vector<Violation>& out) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& name = tokens[i].text;
    if (!IsIdentifier(name)) continue;
    const std::string prev = i > 0 ? tokens[i - 1].text : "";
    const bool member = prev == "." || prev == "->";
    std::string qualifier;  // "" unqualified, "::" global, else the namespace before "::"
    if (prev == "::") {
      qualifier = (i >= 2 && IsIdentifier(tokens[i - 2].text)) ? tokens[i - 2].text : "::";
    }
    const bool called = i + 1 < tokens.size() && tokens[i + 1].text == "(";
    // `Type name(` or `Type& name(` declares a function of that name; it does not call one.
    static constexpr absl::string_view kExpressionKeywords[] = {"return", "co_return", "throw",
                                                                "case", "else", "do"};
    const bool declared = prev == "&" || prev == "*" || prev == ">" ||
                          (IsIdentifier(prev) && !Contains(kExpressionKeywords, prev));
    const int line = tokens[i].line;
    if (scope.ordered_iteration && Contains(kOrderedForbidden, name) && !member) {
      const bool named_qualifier = !qualifier.empty() && qualifier != "::";
      out.push_back({std::string(path), line,
                     named_qualifier ? absl::StrCat(qualifier, "::", name) : name,
                     std::string(kOrderedReason)});
      continue;
    }
    if (!scope.env_doorway) continue;
    if (name == "namespace" && prev == "using" && i + 1 < tokens.size() &&
        tokens[i + 1].text == "std") {
      out.push_back({std::string(path), line, "using namespace std",
                     "hides std:: qualification from this guard; qualify names instead"});
    } else if (Contains(kAlwaysForbidden, name) && !member) {
      out.push_back({std::string(path), line, name, std::string(kUseEnv)});
    } else if (qualifier == "std" && Contains(kStdQualified, name)) {
      out.push_back({std::string(path), line, absl::StrCat("std::", name),
                     absl::StrCat("threads and locks; ", kUseEnv)});
    } else if (qualifier == "absl" && Contains(kAbslQualified, name)) {
      out.push_back({std::string(path), line, absl::StrCat("absl::", name), std::string(kUseEnv)});
    } else if (called && !member && !declared && Contains(kFreeCalls, name) &&
               (qualifier.empty() || qualifier == "::" || qualifier == "std")) {
      out.push_back({std::string(path), line, absl::StrCat(name, "()"), std::string(kUseEnv)});
    }
  }
}

}  // namespace

Scope ScopeOf(absl::string_view path) {
  if (!scan::IsCxxSource(path)) return {};
  if (absl::StartsWith(path, "impl/runtime/")) return {};  // the production runtime
  if (absl::StartsWith(path, "proto/") || absl::StartsWith(path, "impl/")) {
    return {.env_doorway = true, .ordered_iteration = true};
  }
  if (absl::StartsWith(path, "sim/")) return {.env_doorway = false, .ordered_iteration = true};
  return {};
}

bool IsGuardedPath(absl::string_view path) {
  const Scope scope = ScopeOf(path);
  return scope.env_doorway || scope.ordered_iteration;
}

std::vector<Violation> ScanSource(absl::string_view path, absl::string_view contents) {
  return ScanSource(path, contents, ScopeOf(path));
}

std::vector<Violation> ScanSource(absl::string_view path, absl::string_view contents, Scope scope) {
  std::vector<Violation> out;
  CheckIncludes(path, scope, contents, out);
  const std::string code = scan::StripComments(contents, /*strip_literals=*/true);
  CheckTokens(path, scope, Tokenize(code), out);
  std::stable_sort(out.begin(), out.end(),
                   [](const Violation& a, const Violation& b) { return a.line < b.line; });
  return out;
}

std::string FormatViolation(const Violation& v) {
  return absl::StrCat(v.path, ":", v.line, ": forbidden ", v.what, ": ", v.reason);
}

std::vector<Violation> ScanFiles(const std::vector<std::string>& files, Scope scope,
                                 int* files_scanned) {
  std::vector<Violation> out;
  int scanned = 0;
  for (const std::string& path : files) {
    if (!scan::IsCxxSource(path)) continue;
    ++scanned;
    std::string contents;
    if (!scan::ReadSource(".", path, &contents)) {
      out.push_back({path, 0, "unreadable file", "the guard must read every file it is given"});
      continue;
    }
    std::vector<Violation> v = ScanSource(path, contents, scope);
    out.insert(out.end(), v.begin(), v.end());
  }
  if (files_scanned != nullptr) *files_scanned = scanned;
  return out;
}

std::vector<Violation> ScanFolders(const std::string& root, const std::vector<std::string>& folders,
                                   Scope scope, int* files_scanned) {
  std::vector<Violation> out;
  int scanned = 0;
  for (const std::string& rel : scan::ListCxxSources(root, folders)) {
    ++scanned;
    std::string contents;
    if (!scan::ReadSource(root, rel, &contents)) {
      out.push_back({rel, 0, "unreadable file", "the guard must read every guarded file"});
      continue;
    }
    std::vector<Violation> v = ScanSource(rel, contents, scope);
    out.insert(out.end(), v.begin(), v.end());
  }
  if (files_scanned != nullptr) *files_scanned = scanned;
  return out;
}

std::vector<Violation> ScanTree(const std::string& root, int* files_scanned) {
  std::vector<std::string> files;
  for (std::string& rel : scan::ListCxxSources(root, {"proto", "impl", "sim"})) {
    if (IsGuardedPath(rel)) files.push_back(std::move(rel));
  }
  std::vector<Violation> out;
  for (const std::string& rel : files) {
    std::string contents;
    if (!scan::ReadSource(root, rel, &contents)) {
      out.push_back({rel, 0, "unreadable file", "the guard must read every guarded file"});
      continue;
    }
    std::vector<Violation> v = ScanSource(rel, contents);
    out.insert(out.end(), v.begin(), v.end());
  }
  if (files_scanned != nullptr) *files_scanned = static_cast<int>(files.size());
  return out;
}

}  // namespace drpc::guard
