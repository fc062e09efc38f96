// One audit finding (severity, stable code, concept, file, message, hint) and the collection the
// audit rules fill. Codes are stable strings ("caption.missing") that scripts, tests and the
// JSON report key on; messages and hints are for people and may be reworded.
#pragma once

#include <array>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace lathe {

enum class Severity { Error, Warning, Info };

const char* severity_name(Severity s);  // "error", "warning", "info"

struct Finding {
  Severity severity = Severity::Info;
  std::string code;     // stable id: "caption.missing", "image.corrupt", ...
  std::string concept;  // concept name, empty for dataset-wide findings
  std::filesystem::path file;  // the file or folder concerned (may be empty)
  std::string message;  // names the file and the problem
  std::string hint;     // what to do about it
  // Every file the finding is about when it is about a group (a bucket's images): the text
  // report names the first few (its example limit), the JSON report all of them.
  std::vector<std::filesystem::path> files;
};

class Findings {
 public:
  void add(Finding f);
  void add(Severity severity, std::string code, std::string concept, std::filesystem::path file,
           std::string message, std::string hint);

  const std::vector<Finding>& all() const { return items_; }
  std::size_t size() const { return items_.size(); }
  std::size_t count(Severity s) const { return counts_[static_cast<std::size_t>(s)]; }
  std::size_t count(std::string_view code) const;
  bool has_errors() const { return count(Severity::Error) > 0; }

  // Errors first, then warnings, then info; within a severity by code, then in the order the
  // rules found them (which follows concept and file order), so reports are stable.
  void sort();

 private:
  std::vector<Finding> items_;
  std::array<std::size_t, 3> counts_{};
};

}  // namespace lathe
