// Image findings: files that cannot be read, zero-byte, truncated or corrupt files (from the
// header, or from the full decode of --deep), content in another format than the extension
// says, images smaller than the smallest bucket (kohya enlarges them, which blurs), and images
// with an EXIF orientation (Lathe trains them upright, kohya as stored).
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "dataset/audit_rules.h"

namespace lathe {

namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

void header_problem(const AuditContext& ctx, const Concept& c, const Item& item, Findings& out) {
  const std::string shown = ctx.show(item.image_path);
  const ImageInfo& info = item.image;
  if (info.file_size == 0 && info.problem == "zero-byte file") {
    out.add(Severity::Error, "image.zero_byte", c.name, item.image_path,
            fmt::format("{} is a zero-byte file", shown),
            "re-copy or re-export the image, or delete it and its caption");
  } else if (starts_with(info.problem, "truncated") || starts_with(info.problem, "corrupt") ||
             starts_with(info.problem, "absurd")) {
    out.add(Severity::Error, "image.corrupt", c.name, item.image_path,
            fmt::format("{} is damaged: {}", shown, info.problem),
            "re-copy or re-export the image, or delete it and its caption");
  } else {
    out.add(Severity::Error, "image.unreadable", c.name, item.image_path,
            fmt::format("{} cannot be read as an image: {}", shown, info.problem),
            "fix its permissions, convert it to PNG/JPEG/WebP, or delete it and its caption");
  }
}

// What EXIF orientation n asks a viewer to do with the stored pixels.
const char* orientation_text(int n) {
  switch (n) {
    case 2: return "mirrored left-right";
    case 3: return "rotated 180 degrees";
    case 4: return "mirrored top-bottom";
    case 5: return "mirrored and rotated 90 degrees";
    case 6: return "rotated 90 degrees clockwise";
    case 7: return "mirrored and rotated 90 degrees the other way";
    case 8: return "rotated 90 degrees counter-clockwise";
    default: return "as stored";
  }
}

// Lathe orients the pixels as viewers do (training_image.cpp); kohya reads sizes and pixels as
// stored and never applies EXIF, so the same folder trains differently in the two tools.
void exif_orientation(const AuditContext& ctx, const Concept& c, const Item& item,
                      Findings& out) {
  const ImageInfo& info = item.image;
  if (info.exif_orientation <= 1) return;
  const bool swap = info.exif_orientation >= 5;
  out.add(Severity::Info, "image.exif_orientation", c.name, item.image_path,
          fmt::format("{} is stored {}x{} with EXIF orientation {} (to be shown {}, {}x{})",
                      ctx.show(item.image_path), swap ? info.height : info.width,
                      swap ? info.width : info.height, info.exif_orientation,
                      orientation_text(info.exif_orientation), info.width, info.height),
          fmt::format("Lathe buckets and trains it upright, as displayed; kohya buckets and "
                      "trains it as stored{}. To train it the same in both, apply the rotation "
                      "to the pixels and drop the tag (exiftran -ai FILE, or mogrify "
                      "-auto-orient FILE)",
                      swap ? ", sideways" : info.exif_orientation == 3 ? ", upside down" : ", mirrored"));
}

}  // namespace

void audit_image_rules(const AuditContext& ctx, Findings& out) {
  // The plan knows each image's bucket; the message says how much kohya would enlarge it.
  std::map<std::pair<std::size_t, std::size_t>, const PlannedImage*> planned;
  for (const PlannedImage& p : ctx.buckets.images)
    planned.emplace(std::make_pair(p.concept_index, p.item_index), &p);

  const BucketSettings& bs = ctx.options.buckets;
  for (std::size_t ci = 0; ci < ctx.dataset.concepts.size(); ++ci) {
    const Concept& c = ctx.dataset.concepts[ci];
    for (std::size_t ii = 0; ii < c.items.size(); ++ii) {
      const Item& item = c.items[ii];
      if (item.image_path.empty()) continue;
      const std::string shown = ctx.show(item.image_path);
      if (!item.image.ok) {
        header_problem(ctx, c, item, out);
        continue;
      }
      if (!item.deep_problem.empty())
        out.add(Severity::Error, "image.corrupt", c.name, item.image_path,
                fmt::format("{} does not decode: {}", shown, item.deep_problem),
                "re-copy or re-export the image, or delete it and its caption");
      exif_orientation(ctx, c, item, out);
      if (item.image.extension_mismatch)
        out.add(Severity::Warning, "image.extension_mismatch", c.name, item.image_path,
                fmt::format("{}: {}", shown, item.image.problem),
                "rename the file (and its caption) so the extension matches the content");
      if (below_smallest_bucket(item.image.width, item.image.height, bs)) {
        std::string scale;
        auto it = planned.find({ci, ii});
        if (it != planned.end()) {
          const BucketAssignment& a = it->second->assignment;
          double factor = std::max(static_cast<double>(a.resized_width) / item.image.width,
                                   static_cast<double>(a.resized_height) / item.image.height);
          scale = fmt::format("; it is enlarged {:.1f}x to fill bucket {}x{}", factor,
                              a.bucket.width, a.bucket.height);
        }
        out.add(Severity::Warning, "image.too_small", c.name, item.image_path,
                fmt::format("{} is {}x{}, smaller than the smallest bucket at {}x{} ({} pixels){}",
                            shown, item.image.width, item.image.height, bs.width, bs.height,
                            smallest_bucket_area(bs), scale),
                "use a larger source image, or train at a lower --resolution; enlarged images "
                "teach the model blur");
      }
    }
  }
}

}  // namespace lathe
