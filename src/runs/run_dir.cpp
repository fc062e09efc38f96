// Run directory naming, creation and lookup (see run_dir.h).
#include "runs/run_dir.h"

#include <algorithm>
#include <ctime>
#include <fmt/format.h>

#include "common/display_width.h"
#include "common/error.h"

namespace fs = std::filesystem;

namespace lathe {

namespace {

constexpr std::size_t kMaxNameChars = 48;

// Letters, digits and marks of any script stay in a run id (a folder name); what a shell, a
// terminal or a file system treats specially becomes '-': ASCII punctuation and spaces, C1
// controls, Unicode spaces, zero-width and bidirectional formatting characters (they hide or
// reorder what is shown), noncharacters.
bool keep_in_run_id(char32_t c) {
  if (c < 0x80)
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
  if (c <= 0xA0 || c == 0xAD || c == 0x1680 || c == 0x180E || c == 0x3000 || c == 0xFEFF)
    return false;
  if ((c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) ||
      (c >= 0x205F && c <= 0x206F) || (c >= 0xFFF0 && c <= 0xFFFF) || (c >= 0xFDD0 && c <= 0xFDEF) ||
      (c >= 0xE0000 && c <= 0xE0FFF) || (c & 0xFFFE) == 0xFFFE)
    return false;
  return true;
}

}  // namespace

std::string sanitize_run_name(const std::string& name) {
  std::string out;
  std::size_t chars = 0;
  for (std::size_t i = 0; i < name.size() && chars < kMaxNameChars; ++chars) {
    const Utf8Char ch = next_utf8_char(name, i);
    if (ch.valid && keep_in_run_id(ch.code_point))
      out.append(name, i, ch.length);
    else
      out += '-';
    i += ch.length;
  }
  while (!out.empty() && (out.front() == '.' || out.front() == '-')) out.erase(out.begin());
  return out.empty() ? "run" : out;
}

std::string make_run_id(const std::string& name, long long unix_time) {
  std::time_t t = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  return fmt::format("{}-{}", stamp, sanitize_run_name(name));
}

RunPaths create_run_dir(const fs::path& runs_root, const std::string& name, long long unix_time) {
  std::error_code ec;
  fs::create_directories(runs_root, ec);
  if (ec)
    throw Error(fmt::format("cannot create runs folder {}: {}", runs_root.string(), ec.message()));
  std::string id = make_run_id(name, unix_time);
  fs::path dir = runs_root / id;
  for (int n = 2; fs::exists(dir); ++n) dir = runs_root / fmt::format("{}-{}", id, n);
  RunPaths paths{dir};
  for (const fs::path& p : {paths.dir, paths.epochs(), paths.checkpoints(), paths.samples()}) {
    fs::create_directories(p, ec);
    if (ec) throw Error(fmt::format("cannot create run folder {}: {}", p.string(), ec.message()));
  }
  return paths;
}

std::vector<RunPaths> list_runs(const fs::path& runs_root) {
  std::vector<RunPaths> runs;
  std::error_code ec;
  for (fs::directory_iterator it(runs_root, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec) && fs::exists(it->path() / "status.json", ec))
      runs.push_back(RunPaths{it->path()});
  }
  std::sort(runs.begin(), runs.end(),
            [](const RunPaths& a, const RunPaths& b) { return a.run_id() < b.run_id(); });
  return runs;
}

RunPaths find_run(const fs::path& runs_root, const std::string& query) {
  std::error_code ec;
  if (fs::exists(fs::path(query) / "status.json", ec)) return RunPaths{fs::path(query)};
  std::vector<RunPaths> matches, inside;
  for (const RunPaths& r : list_runs(runs_root)) {
    const std::string id = r.run_id();
    if (id == query) return r;
    bool prefix = id.rfind(query, 0) == 0;
    bool suffix = id.size() >= query.size() && id.compare(id.size() - query.size(), query.size(),
                                                          query) == 0;
    if (prefix || suffix) matches.push_back(r);
    else if (!query.empty() && id.find(query) != std::string::npos) inside.push_back(r);
  }
  // The start time alone ("082935") sits inside the id: accepted when nothing matches better.
  if (matches.empty()) matches = inside;
  if (matches.size() == 1) return matches[0];
  if (matches.empty())
    throw Error(fmt::format("no run '{}' in {} (list them with 'lathe runs list --runs-dir {}')",
                            query, runs_root.string(), runs_root.string()));
  std::string names;
  for (const auto& m : matches) names += "\n  " + m.run_id();
  throw Error(fmt::format("'{}' matches {} runs; give more of the id:{}", query, matches.size(),
                          names));
}

}  // namespace lathe
