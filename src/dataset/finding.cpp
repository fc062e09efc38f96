// Findings collection: counting by severity and code, and the stable report order.
#include "dataset/finding.h"

#include <algorithm>

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
  std::stable_sort(items_.begin(), items_.end(), [](const Finding& a, const Finding& b) {
    if (a.severity != b.severity) return a.severity < b.severity;
    return a.code < b.code;
  });
}

}  // namespace lathe
