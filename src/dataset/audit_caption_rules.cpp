// Caption findings, file by file: images without a caption and captions without an image,
// unreadable, too large, empty or non-UTF-8 captions, NUL bytes, file conventions that change
// what the trainer reads (BOM, extra lines, CRLF, stray whitespace), empty tags and a tag
// written twice.
#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "dataset/audit_rules.h"

namespace lathe {

namespace {

std::string caption_name(const Item& item, const Concept& c) {
  std::filesystem::path p = item.image_path;
  return p.replace_extension(c.caption_extension).filename().string();
}

void check_duplicates(const AuditContext& ctx, const Concept& c, const Item& item,
                      Findings& out) {
  // Exact repeats and spelling variants ("blue_hair, blue hair") both reach the encoder twice.
  std::unordered_map<std::string, const std::string*> seen;
  for (const std::string& tag : item.caption->tags) {
    auto [it, inserted] = seen.emplace(tag_key(tag), &tag);
    if (inserted) continue;
    std::string what = *it->second == tag ? fmt::format("'{}' twice", tag)
                                          : fmt::format("'{}' and '{}'", *it->second, tag);
    out.add(Severity::Warning, "caption.duplicate_tag", c.name, *item.caption_path,
            fmt::format("{} has the tag {}", ctx.show(*item.caption_path), what),
            "remove the repeated tag; it only doubles the tag's weight in the prompt");
  }
}

// Over the scan's limit (kMaxCaptionBytes), so it was not read: no permission problem.
bool too_large(const std::filesystem::path& file) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  return !ec && size > kMaxCaptionBytes;
}

// NUL bytes end the caption for C strings and make it binary to text tools; kohya reads them
// into the prompt. Named by offset only: the bytes themselves never reach the report.
void check_nul_bytes(const AuditContext& ctx, const Concept& c, const std::filesystem::path& file,
                     const CaptionText& cap, Findings& out) {
  const std::size_t first = cap.raw.find('\0');
  if (first == std::string::npos) return;
  const auto count = static_cast<std::size_t>(std::count(cap.raw.begin(), cap.raw.end(), '\0'));
  out.add(Severity::Error, "caption.nul_byte", c.name, file,
          fmt::format("{} holds {} NUL byte{} (the first at byte offset {})", ctx.show(file),
                      count, count == 1 ? "" : "s", first),
          "the file is binary or damaged: rewrite the caption as plain text, or strip the NUL "
          "bytes (tr -d '\\000' < FILE > FILE.new, then rename FILE.new to FILE)");
}

void check_caption(const AuditContext& ctx, const Concept& c, const Item& item, Findings& out) {
  const std::filesystem::path& file = *item.caption_path;
  const std::string shown = ctx.show(file);
  if (!item.caption_problem.empty() || !item.caption) {
    out.add(Severity::Error, "caption.unreadable", c.name, file,
            fmt::format("{} cannot be read: {}", shown,
                        item.caption_problem.empty() ? "no content" : item.caption_problem),
            too_large(file) ? "the file is too large to be a caption: check what it holds (a "
                              "log, a dump, another file saved under this name) and replace it "
                              "with the image's tags"
                            : "fix the file's permissions or replace it with a short plain-text "
                              "caption");
    return;
  }
  const CaptionText& cap = *item.caption;
  check_nul_bytes(ctx, c, file, cap, out);
  if (!cap.valid_utf8)
    out.add(Severity::Error, "caption.invalid_utf8", c.name, file,
            fmt::format("{} is not valid UTF-8", shown),
            "re-save it as UTF-8 (e.g. iconv -f latin1 -t utf-8); kohya stops on such a file");
  if (cap.empty()) {
    out.add(Severity::Warning, "caption.empty", c.name, file,
            fmt::format("{} is empty{}", shown, cap.raw.empty() ? " (0 bytes)" : " (no tags)"),
            cap.raw.empty() ? "write the caption, or delete the file to train the image with the "
                              "folder's class tokens; kohya stops on a 0-byte caption file"
                            : "write the caption; an empty caption trains the image unconditioned");
  }
  if (cap.has_bom)
    out.add(Severity::Warning, "caption.bom", c.name, file,
            fmt::format("{} starts with a UTF-8 byte-order mark", shown),
            "remove the BOM; kohya reads it as part of the first tag, so the activation tag no "
            "longer matches");
  if (cap.multiple_lines)
    out.add(Severity::Warning, "caption.multiple_lines", c.name, file,
            fmt::format("{} has more than one line of text", shown),
            "join the lines with commas; kohya reads only the first line unless wildcards are on");
  if (cap.has_crlf)
    out.add(Severity::Info, "caption.crlf", c.name, file,
            fmt::format("{} uses Windows (CRLF) line endings", shown),
            "harmless for training; convert with dos2unix for consistent files");
  if (cap.stray_whitespace)
    out.add(Severity::Info, "caption.whitespace", c.name, file,
            fmt::format("{} has stray whitespace (leading/trailing blanks, tabs or doubled spaces)",
                        shown),
            "trim it; doubled spaces inside a tag make it a different tag for tag statistics");
  if (cap.empty_tags > 0)
    out.add(Severity::Warning, "caption.empty_tag", c.name, file,
            fmt::format("{} has {} empty tag{} (',,' or a trailing comma)", shown, cap.empty_tags,
                        cap.empty_tags == 1 ? "" : "s"),
            "remove the extra commas");
  check_duplicates(ctx, c, item, out);
}

}  // namespace

void audit_caption_rules(const AuditContext& ctx, Findings& out) {
  for (const Concept& c : ctx.dataset.concepts) {
    for (const Item& item : c.items) {
      if (item.image_path.empty()) continue;
      if (!item.caption_path) {
        out.add(Severity::Warning, "caption.missing", c.name, item.image_path,
                fmt::format("{} has no caption file ({})", ctx.show(item.image_path),
                            caption_name(item, c)),
                fmt::format("write {}; without it kohya trains the image with the folder's class "
                            "tokens '{}' as its whole caption",
                            caption_name(item, c), c.name));
        continue;
      }
      check_caption(ctx, c, item, out);
    }
    for (const Item& item : c.items)
      if (item.image_path.empty() && item.caption_path)
        out.add(Severity::Warning, "caption.orphan", c.name, *item.caption_path,
                fmt::format("{} has no image with the same name", ctx.show(*item.caption_path)),
                "rename it to match its image or delete it; it is never trained");
    for (const std::filesystem::path& orphan : c.orphan_captions)
      out.add(Severity::Warning, "caption.orphan", c.name, orphan,
              fmt::format("{} has no image with the same name", ctx.show(orphan)),
              "rename it to match its image or delete it; it is never trained");
  }
}

}  // namespace lathe
