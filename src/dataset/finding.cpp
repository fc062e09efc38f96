// Findings collection: counting by severity and code, and the stable report order.
#include "dataset/finding.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace lathe {

const char* severity_name(Severity s) {
  switch (s) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Info: return "info";
  }
  return "info";
}

void Findings::add(Finding f) {
  ++counts_[static_cast<std::size_t>(f.severity)];
  items_.push_back(std::move(f));
}

void Findings::add(Severity severity, std::string code, std::string concept,
                   std::filesystem::path file, std::string message, std::string hint) {
  add(Finding{severity, std::move(code), std::move(concept), std::move(file), std::move(message),
              std::move(hint)});
}

std::size_t Findings::count(std::string_view code) const {
  return static_cast<std::size_t>(std::count_if(
      items_.begin(), items_.end(), [&](const Finding& f) { return f.code == code; }));
}

void Findings::sort() {
  // A counting sort on (severity, code): 100k-image audits carry 100k+ findings but only a few
  // dozen distinct codes, so ranking the codes once beats comparing strings n log n times.
  std::unordered_map<std::string_view, std::size_t> key_of;  // code -> index into keys
  std::vector<std::pair<Severity, std::string_view>> keys;
  std::vector<std::size_t> key_index(items_.size());
  for (std::size_t i = 0; i < items_.size(); ++i) {
    // Codes are per severity in practice; the key still includes it so a code used at two
    // severities sorts correctly.
    std::string_view code = items_[i].code;
    auto it = key_of.find(code);
    std::size_t k;
    if (it != key_of.end() && keys[it->second].first == items_[i].severity) {
      k = it->second;
    } else {
      auto same = std::find(keys.begin(), keys.end(), std::make_pair(items_[i].severity, code));
      k = static_cast<std::size_t>(same - keys.begin());
      if (same == keys.end()) keys.emplace_back(items_[i].severity, code);
      key_of[code] = k;
    }
    key_index[i] = k;
  }
  std::vector<std::size_t> order(keys.size());
  for (std::size_t k = 0; k < keys.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return keys[a] < keys[b]; });
  std::vector<std::size_t> rank(keys.size()), start(keys.size() + 1, 0);
  for (std::size_t r = 0; r < order.size(); ++r) rank[order[r]] = r;
  for (std::size_t k : key_index) ++start[rank[k] + 1];
  for (std::size_t r = 1; r < start.size(); ++r) start[r] += start[r - 1];
  std::vector<Finding> sorted(items_.size());
  for (std::size_t i = 0; i < items_.size(); ++i) sorted[start[rank[key_index[i]]]++] = std::move(items_[i]);
  items_ = std::move(sorted);
}

}  // namespace lathe
