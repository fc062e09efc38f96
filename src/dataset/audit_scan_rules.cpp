// Scan-level findings: folders the scan could not read (permission denied, symlink loops...),
// concepts without images, and a dataset with no images at all.
#include <fmt/format.h>

#include "dataset/audit_rules.h"

namespace lathe {

void audit_scan_rules(const AuditContext& ctx, Findings& out) {
  const Dataset& d = ctx.dataset;
  for (const std::string& problem : d.scan_problems)
    out.add(Severity::Error, "scan.problem", "", d.root, problem,
            "fix the permissions or remove the broken entry, then audit again; files the scan "
            "cannot read are missing from training");
  std::size_t images = 0;
  for (const Concept& c : d.concepts) {
    for (const std::string& problem : c.scan_problems)
      out.add(Severity::Error, "scan.problem", c.name, c.path, problem,
              "fix the permissions or remove the broken entry, then audit again; files the scan "
              "cannot read are missing from training");
    std::size_t concept_images = 0;
    for (const Item& item : c.items)
      if (!item.image_path.empty()) ++concept_images;
    images += concept_images;
    if (concept_images == 0)
      out.add(Severity::Warning, "concept.empty", c.name, c.path,
              fmt::format("concept folder {} holds no images", ctx.show(c.path)),
              "add images (.png .jpg .jpeg .webp .bmp) or remove the folder");
  }
  if (images == 0)
    out.add(Severity::Error, "dataset.empty", "", d.root,
            fmt::format("no images found under {}", d.root.string()),
            "a dataset root holds concept folders such as 10_name/ with images and .txt captions "
            "(use --recursive if images sit in subfolders)");
}

}  // namespace lathe
