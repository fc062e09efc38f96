// Builds datasets in memory for the audit rule tests: concepts and items with image sizes and
// caption bytes, no files on disk. Also small queries over an AuditReport's findings.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "dataset/audit.h"
#include "dataset/caption.h"
#include "dataset/dataset.h"

namespace lathe::test {

struct DatasetBuilder {
  Dataset dataset;

  DatasetBuilder() { dataset.root = "/data/set"; }

  Concept& concept(const std::string& folder) {
    Concept c;
    c.folder_name = folder;
    auto [repeats, name] = parse_concept_folder_name(folder);
    c.repeats = repeats;
    c.name = name;
    c.path = dataset.root / folder;
    dataset.concepts.push_back(std::move(c));
    return dataset.concepts.back();
  }

  // An image of `w`x`h` named `stem`.png; `caption` bytes, or no caption file when nullopt.
  static Item& image(Concept& c, const std::string& stem, int w, int h,
                     std::optional<std::string> caption) {
    Item item;
    item.image_path = c.path / (stem + ".png");
    item.image.format = ImageFormat::Png;
    item.image.width = w;
    item.image.height = h;
    item.image.file_size = 1000;
    item.image.ok = true;
    if (caption) {
      item.caption_path = c.path / (stem + c.caption_extension);
      item.caption = parse_caption(*caption);
    }
    c.items.push_back(std::move(item));
    return c.items.back();
  }
};

inline std::vector<Finding> with_code(const AuditReport& r, const std::string& code) {
  std::vector<Finding> out;
  for (const Finding& f : r.findings.all())
    if (f.code == code) out.push_back(f);
  return out;
}

inline bool has_finding(const AuditReport& r, const std::string& code, const std::string& file_end) {
  for (const Finding& f : r.findings.all()) {
    std::string file = f.file.generic_string();
    if (f.code == code && file.size() >= file_end.size() &&
        file.compare(file.size() - file_end.size(), file_end.size(), file_end) == 0)
      return true;
  }
  return false;
}

inline AuditReport audit(const Dataset& d, AuditOptions o = {}) { return run_audit(d, o); }

}  // namespace lathe::test
