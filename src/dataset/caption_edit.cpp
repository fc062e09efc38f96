// Caption edits on a CaptionDoc (see caption_edit.h). Each tag keeps the bytes that led up to
// it, so removing or renaming one tag leaves every other byte of the file as it was; only new
// joins use the file's detected separator.
#include "dataset/caption_edit.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_set>

#include "common/error.h"
#include "dataset/caption.h"

namespace lathe {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

bool is_separator_byte(char c) {
  return c == ' ' || c == '\t' || c == ',' || c == '\r' || c == '\n';
}

// ", " when most joins in the file put a space after the comma, "," when most do not.
std::string detect_separator(const std::vector<TagSlot>& slots) {
  int spaced = 0, compact = 0;
  for (std::size_t i = 1; i < slots.size(); ++i) {
    const std::string& b = slots[i].before;
    if (b.find(", ") != std::string::npos) ++spaced;
    else if (b.find(',') != std::string::npos) ++compact;
  }
  return compact > spaced ? "," : ", ";
}

std::string collapse_blanks(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    bool blank = c == ' ' || c == '\t';
    if (blank) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::size_t find_tag(const CaptionDoc& doc, const std::string& tag, std::size_t from = 0) {
  for (std::size_t i = from; i < doc.slots.size(); ++i)
    if (doc.slots[i].text == tag) return i;
  return doc.slots.size();
}

void erase_slot(CaptionDoc& doc, std::size_t i) {
  // The first tag's "before" is the file's leading bytes; hand them to the new first tag.
  if (i == 0 && doc.slots.size() > 1) doc.slots[1].before = doc.slots[0].before;
  // A tag that opened a line takes its line break with it unless the next tag inherits it.
  if (i > 0 && i + 1 < doc.slots.size() && doc.slots[i].before.find('\n') != std::string::npos &&
      doc.slots[i + 1].before.find('\n') == std::string::npos)
    doc.slots[i + 1].before = doc.slots[i].before;
  doc.slots.erase(doc.slots.begin() + static_cast<long>(i));
}

void insert_slot(CaptionDoc& doc, std::size_t i, const std::string& tag) {
  TagSlot slot{doc.separator, tag};
  if (i == 0) {
    slot.before = doc.slots.empty() ? std::string() : doc.slots[0].before;
    if (!doc.slots.empty()) doc.slots[0].before = doc.separator;
  }
  doc.slots.insert(doc.slots.begin() + static_cast<long>(i), std::move(slot));
}

// Drops every later copy of `tag` after its first occurrence.
void drop_later_copies(CaptionDoc& doc, const std::string& tag) {
  std::size_t first = find_tag(doc, tag);
  for (std::size_t i = doc.slots.size(); i-- > first + 1;)
    if (doc.slots[i].text == tag) erase_slot(doc, i);
}

void check_tag_argument(const std::string& tag, const char* what) {
  if (tag.empty()) throw Error(fmt::format("the {} is empty; give a tag such as \"solo\"", what));
  if (tag.find_first_of(",\n\r") != std::string::npos)
    throw Error(fmt::format("the {} \"{}\" holds a comma or line break; give one tag at a time",
                            what, tag));
  if (trim_ascii(tag) != tag)
    throw Error(fmt::format("the {} \"{}\" starts or ends with blanks; give it trimmed", what, tag));
}

}  // namespace

std::vector<std::string> CaptionDoc::tags() const {
  std::vector<std::string> out;
  out.reserve(slots.size());
  for (const auto& s : slots) out.push_back(s.text);
  return out;
}

CaptionDoc parse_caption_doc(std::string_view raw) {
  CaptionDoc doc;
  std::string_view text = raw;
  if (text.substr(0, kBom.size()) == kBom) {
    doc.bom = true;
    text.remove_prefix(kBom.size());
  }
  doc.eol = text.find("\r\n") != std::string_view::npos ? "\r\n" : "\n";
  doc.trailing_newline = !text.empty() && text.back() == '\n';
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (true) {
    std::size_t sep_start = i;
    while (i < n && is_separator_byte(text[i])) ++i;
    if (i == n) {
      doc.tail = std::string(text.substr(sep_start));
      break;
    }
    std::size_t tag_start = i;
    while (i < n && text[i] != ',' && text[i] != '\n') ++i;
    std::size_t tag_end = i;
    while (tag_end > tag_start &&
           (text[tag_end - 1] == ' ' || text[tag_end - 1] == '\t' || text[tag_end - 1] == '\r'))
      --tag_end;
    doc.slots.push_back({std::string(text.substr(sep_start, tag_start - sep_start)),
                         std::string(text.substr(tag_start, tag_end - tag_start))});
    i = tag_end;
  }
  doc.separator = detect_separator(doc.slots);
  return doc;
}

std::string render_caption_doc(const CaptionDoc& doc) {
  std::string out;
  if (doc.bom) out += kBom;
  for (const auto& s : doc.slots) {
    out += s.before;
    out += s.text;
  }
  out += doc.tail;
  return out;
}

std::string EditOp::name() const {
  switch (kind) {
    case Kind::Add: return "add";
    case Kind::Remove: return "remove";
    case Kind::Rename: return "rename";
    case Kind::MoveFirst: return "move-first";
    case Kind::Normalize: return "normalize";
    case Kind::Set: return "set";
  }
  return "edit";
}

std::string EditOp::describe() const {
  switch (kind) {
    case Kind::Add:
      if (where == AddWhere::Front) return fmt::format("add \"{}\" at the front", tag);
      if (where == AddWhere::After) return fmt::format("add \"{}\" after \"{}\"", tag, anchor);
      return fmt::format("add \"{}\"", tag);
    case Kind::Remove: return fmt::format("remove \"{}\"", tag);
    case Kind::Rename: return fmt::format("rename \"{}\" to \"{}\"", tag, new_tag);
    case Kind::MoveFirst: return fmt::format("move \"{}\" to the front", tag);
    case Kind::Normalize: {
      std::string extra;
      if (normalize.underscores_to_spaces) extra += ", underscores to spaces";
      if (normalize.lowercase) extra += ", lowercase";
      return "normalize" + extra;
    }
    case Kind::Set: {
      std::string shown = text.size() > 60 ? text.substr(0, 57) + "..." : text;
      return fmt::format("set text \"{}\"", shown);
    }
  }
  return "edit";
}

void validate_edit_op(const EditOp& op) {
  using K = EditOp::Kind;
  if (op.kind == K::Add || op.kind == K::Remove || op.kind == K::Rename || op.kind == K::MoveFirst)
    check_tag_argument(op.tag, "tag");
  if (op.kind == K::Rename) check_tag_argument(op.new_tag, "new tag");
  if (op.kind == K::Add && op.where == AddWhere::After) check_tag_argument(op.anchor, "--after tag");
}

void add_tag(CaptionDoc& doc, const std::string& tag, AddWhere where, const std::string& anchor) {
  if (find_tag(doc, tag) != doc.slots.size()) return;  // already there: adding is a no-op
  std::size_t at = doc.slots.size();
  if (where == AddWhere::Front) at = 0;
  if (where == AddWhere::After) {
    std::size_t a = find_tag(doc, anchor);
    if (a != doc.slots.size()) at = a + 1;
  }
  insert_slot(doc, at, tag);
}

void remove_tag(CaptionDoc& doc, const std::string& tag) {
  for (std::size_t i = doc.slots.size(); i-- > 0;)
    if (doc.slots[i].text == tag) erase_slot(doc, i);
}

void rename_tag(CaptionDoc& doc, const std::string& from, const std::string& to) {
  if (from == to) return;
  bool renamed = false;
  for (auto& s : doc.slots)
    if (s.text == from) s.text = to, renamed = true;
  if (renamed) drop_later_copies(doc, to);
}

void move_tag_first(CaptionDoc& doc, const std::string& tag) {
  std::size_t first = find_tag(doc, tag);
  if (first == doc.slots.size()) return;
  if (first == 0 && find_tag(doc, tag, 1) == doc.slots.size()) return;
  remove_tag(doc, tag);
  insert_slot(doc, 0, tag);
}

void normalize_tags(CaptionDoc& doc, const NormalizeOptions& options) {
  std::vector<TagSlot> out;
  std::unordered_set<std::string> seen;
  for (const auto& s : doc.slots) {
    std::string t = collapse_blanks(trim_ascii(s.text));
    // Short tags with underscores are emoticons ("^_^", "o_o"), not word separators.
    if (options.underscores_to_spaces && t.size() > 3) {
      std::replace(t.begin(), t.end(), '_', ' ');
      t = collapse_blanks(trim_ascii(t));
    }
    if (options.lowercase)
      for (char& c : t)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (t.empty() || !seen.insert(t).second) continue;
    out.push_back({out.empty() ? std::string() : doc.separator, std::move(t)});
  }
  doc.slots = std::move(out);
  doc.tail = doc.trailing_newline ? doc.eol : std::string();
}

void set_caption_text(CaptionDoc& doc, std::string_view text) {
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  std::string body;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    if (text[i] == '\n') body += doc.eol;
    else body += text[i];
  }
  CaptionDoc parsed = parse_caption_doc(body);
  doc.slots = std::move(parsed.slots);
  doc.tail = parsed.tail + (doc.trailing_newline ? doc.eol : std::string());
}

namespace {

void dispatch(const EditOp& op, CaptionDoc& doc) {
  using K = EditOp::Kind;
  switch (op.kind) {
    case K::Add: add_tag(doc, op.tag, op.where, op.anchor); break;
    case K::Remove: remove_tag(doc, op.tag); break;
    case K::Rename: rename_tag(doc, op.tag, op.new_tag); break;
    case K::MoveFirst: move_tag_first(doc, op.tag); break;
    case K::Normalize: normalize_tags(doc, op.normalize); break;
    case K::Set: set_caption_text(doc, op.text); break;
  }
}

}  // namespace

bool apply_edit_op(const EditOp& op, CaptionDoc& doc) {
  const std::string before = render_caption_doc(doc);
  dispatch(op, doc);
  return render_caption_doc(doc) != before;
}

std::optional<std::string> edit_caption_bytes(const EditOp& op, std::string_view raw) {
  using K = EditOp::Kind;
  // Most captions of a big dataset lack the tag: skip parsing them.
  if ((op.kind == K::Remove || op.kind == K::Rename || op.kind == K::MoveFirst) &&
      raw.find(op.tag) == std::string_view::npos)
    return std::nullopt;
  CaptionDoc doc = parse_caption_doc(raw);
  dispatch(op, doc);
  std::string out = render_caption_doc(doc);
  if (out == raw) return std::nullopt;
  return out;
}

}  // namespace lathe
