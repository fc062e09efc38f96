// Pure edits of one caption: the tag operations of `lathe tags` (add, remove, rename,
// move-first, normalize, set) applied to a CaptionDoc, a caption split into tags that still
// remembers the exact bytes around each tag. Rendering a doc back gives the original bytes
// where nothing was touched, and new text in the file's own style (BOM, CRLF or LF, trailing
// newline or not, ", " or "," between tags), so an edit never reformats a whole dataset.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lathe {

// One tag and the bytes that precede it since the previous tag ("", ", ", " ,\n", ",,").
struct TagSlot {
  std::string before;
  std::string text;
};

struct CaptionDoc {
  bool bom = false;
  std::string eol = "\n";          // "\r\n" when the file uses CRLF
  bool trailing_newline = false;   // the file ends with a line break
  std::string separator = ", ";    // what new tags are joined with: ", " or ","
  std::vector<TagSlot> slots;
  std::string tail;                // bytes after the last tag (newline, stray commas)

  std::vector<std::string> tags() const;
};

// Splits caption bytes into a doc; never throws. Tags match parse_caption(raw).tags.
CaptionDoc parse_caption_doc(std::string_view raw);

// The bytes of a doc: the original file when no slot changed.
std::string render_caption_doc(const CaptionDoc& doc);

enum class AddWhere { Front, Back, After };

struct NormalizeOptions {
  bool underscores_to_spaces = false;  // "long_hair" -> "long hair" (tags of <= 3 bytes kept: ^_^)
  bool lowercase = false;              // ASCII letters only; other scripts are left as written
};

// One operation of `lathe tags`. Tags are matched exactly (case and spelling as written).
struct EditOp {
  enum class Kind { Add, Remove, Rename, MoveFirst, Normalize, Set };
  Kind kind = Kind::Add;
  std::string tag;      // add/remove/rename(from)/move-first
  std::string new_tag;  // rename: the replacement
  AddWhere where = AddWhere::Back;
  std::string anchor;   // add --after: the tag to insert after (falls back to the back)
  NormalizeOptions normalize;
  std::string text;     // set: the caption's new text

  std::string name() const;      // "add", "remove", ... as typed on the command line
  std::string describe() const;  // "remove \"blurry\"", for plans and history
};

// Checks an op's arguments (a tag must be non-empty and hold no comma or line break).
// Throws lathe::Error naming the problem.
void validate_edit_op(const EditOp& op);

// Applies `op` to a doc in place; returns false when the doc's tags did not change
// (the caller then keeps the file as it is).
bool apply_edit_op(const EditOp& op, CaptionDoc& doc);

// Raw bytes in, raw bytes out: nullopt when the caption would be byte-identical.
std::optional<std::string> edit_caption_bytes(const EditOp& op, std::string_view raw);

// Tag-list helpers used by apply_edit_op; exposed for the TUI and the tests.
void add_tag(CaptionDoc& doc, const std::string& tag, AddWhere where, const std::string& anchor);
void remove_tag(CaptionDoc& doc, const std::string& tag);
void rename_tag(CaptionDoc& doc, const std::string& from, const std::string& to);
void move_tag_first(CaptionDoc& doc, const std::string& tag);
void normalize_tags(CaptionDoc& doc, const NormalizeOptions& options);
void set_caption_text(CaptionDoc& doc, std::string_view text);

}  // namespace lathe
