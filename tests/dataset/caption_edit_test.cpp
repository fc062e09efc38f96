// Caption edits: each operation's tag semantics, and that rendering keeps the file's bytes
// (BOM, CRLF, trailing newline, separator style, stray whitespace of untouched tags).
#include <gtest/gtest.h>

#include "common/error.h"
#include "dataset/caption.h"
#include "dataset/caption_edit.h"

using namespace lathe;

namespace {

EditOp op_of(EditOp::Kind kind, std::string tag = {}, std::string new_tag = {}) {
  EditOp op;
  op.kind = kind;
  op.tag = std::move(tag);
  op.new_tag = std::move(new_tag);
  return op;
}

// The edited bytes, or the input when nothing changed.
std::string edit(const EditOp& op, const std::string& raw) {
  auto out = edit_caption_bytes(op, raw);
  return out ? *out : raw;
}

using K = EditOp::Kind;

}  // namespace

TEST(CaptionDoc, RoundTripsExactBytes) {
  for (std::string raw :
       {"", "\n", "a", "a, b, c\n", "a,b,c", "\xEF\xBB\xBF" "a, b\r\n", "  a ,  b,,c,\n\n",
        "a, b\nc, d\n", "\t x \t", ",,,", "long  hair, a\tb\r\n", "a\r\nb\r\n", "\xff\xfe, x"}) {
    EXPECT_EQ(render_caption_doc(parse_caption_doc(raw)), raw) << raw;
  }
}

TEST(CaptionDoc, TagsMatchParseCaption) {
  for (std::string raw : {"a, b, c\n", "  a ,  b,,c,\n\n", "a, b\nc, d\n", "\xEF\xBB\xBF" "x,y\r\n",
                          "long  hair, a\tb\r\n", ", ,", "one"}) {
    EXPECT_EQ(parse_caption_doc(raw).tags(), parse_caption(raw).tags) << raw;
  }
}

TEST(CaptionDoc, DetectsConventions) {
  auto d = parse_caption_doc("\xEF\xBB\xBF" "a,b,c\r\n");
  EXPECT_TRUE(d.bom);
  EXPECT_EQ(d.eol, "\r\n");
  EXPECT_TRUE(d.trailing_newline);
  EXPECT_EQ(d.separator, ",");
  auto e = parse_caption_doc("a, b");
  EXPECT_FALSE(e.bom);
  EXPECT_EQ(e.eol, "\n");
  EXPECT_FALSE(e.trailing_newline);
  EXPECT_EQ(e.separator, ", ");
}

TEST(CaptionEdit, AddFrontBackAfterKeepsStyle) {
  EditOp add = op_of(K::Add, "solo");
  EXPECT_EQ(edit(add, "a, b\n"), "a, b, solo\n");
  EXPECT_EQ(edit(add, "a,b"), "a,b,solo");
  EXPECT_EQ(edit(add, "\xEF\xBB\xBF" "a, b\r\n"), "\xEF\xBB\xBF" "a, b, solo\r\n");
  EXPECT_EQ(edit(add, ""), "solo");
  EXPECT_EQ(edit(add, "\n"), "solo\n");
  add.where = AddWhere::Front;
  EXPECT_EQ(edit(add, "a, b\n"), "solo, a, b\n");
  EXPECT_EQ(edit(add, "a,b\n"), "solo,a,b\n");
  add.where = AddWhere::After;
  add.anchor = "a";
  EXPECT_EQ(edit(add, "a, b\n"), "a, solo, b\n");
  add.anchor = "missing";
  EXPECT_EQ(edit(add, "a, b\n"), "a, b, solo\n");  // no anchor: at the back
  // Already present: no change, no duplicate.
  EXPECT_FALSE(edit_caption_bytes(op_of(K::Add, "b"), "a, b\n").has_value());
}

TEST(CaptionEdit, RemoveKeepsUntouchedBytes) {
  EditOp rm = op_of(K::Remove, "b");
  EXPECT_EQ(edit(rm, "a, b, c\n"), "a, c\n");
  EXPECT_EQ(edit(rm, "b, a\n"), "a\n");
  EXPECT_EQ(edit(rm, "a, b\n"), "a\n");
  EXPECT_EQ(edit(rm, "b\n"), "\n");
  EXPECT_EQ(edit(rm, "a , b ,  c  \r\n"), "a ,  c  \r\n");  // neighbours' stray blanks kept
  EXPECT_EQ(edit(rm, "a, b, b, c"), "a, c");                // every copy
  EXPECT_EQ(edit(rm, "a, b\nc, b\n"), "a\nc\n");
  EXPECT_EQ(edit(rm, "a, c\nb, d\n"), "a, c\nd\n");  // the line break stays
  EXPECT_EQ(edit(rm, "  b  \n"), "  \n");
  EXPECT_FALSE(edit_caption_bytes(rm, "a, bb, c\n").has_value());  // whole tags only
}

TEST(CaptionEdit, RenameMergesDuplicatesItCreates) {
  EXPECT_EQ(edit(op_of(K::Rename, "1girl", "solo"), "1girl, smile\n"), "solo, smile\n");
  EXPECT_EQ(edit(op_of(K::Rename, "girl", "1girl"), "1girl, girl, smile\n"), "1girl, smile\n");
  EXPECT_EQ(edit(op_of(K::Rename, "girl", "1girl"), "girl, smile, 1girl\n"), "1girl, smile\n");
  // Duplicates the rename did not create are left for normalize.
  EXPECT_FALSE(edit_caption_bytes(op_of(K::Rename, "x", "y"), "a, a\n").has_value());
}

TEST(CaptionEdit, MoveFirst) {
  EditOp mv = op_of(K::MoveFirst, "jinx");
  EXPECT_EQ(edit(mv, "1girl, jinx, smile\n"), "jinx, 1girl, smile\n");
  EXPECT_EQ(edit(mv, "1girl,jinx"), "jinx,1girl");
  EXPECT_EQ(edit(mv, "jinx, a, jinx\n"), "jinx, a\n");
  EXPECT_FALSE(edit_caption_bytes(mv, "jinx, a\n").has_value());
  EXPECT_FALSE(edit_caption_bytes(mv, "a, b\n").has_value());
}

TEST(CaptionEdit, Normalize) {
  EditOp n = op_of(K::Normalize);
  EXPECT_EQ(edit(n, "  a ,  long   hair,,b, a,\n"), "a, long hair, b\n");
  EXPECT_EQ(edit(n, "a, b\nc\r\n"), "a, b, c\r\n");
  EXPECT_EQ(edit(n, "\xEF\xBB\xBF" "a,,b"), "\xEF\xBB\xBF" "a,b");
  EXPECT_FALSE(edit_caption_bytes(n, "a, b\n").has_value());
  n.normalize.underscores_to_spaces = true;
  n.normalize.lowercase = true;
  EXPECT_EQ(edit(n, "Long_Hair, ^_^, long hair, Blue_Eyes\n"), "long hair, ^_^, blue eyes\n");
}

TEST(CaptionEdit, SetKeepsConventions) {
  EditOp s;
  s.kind = K::Set;
  s.text = "x, y\n";
  EXPECT_EQ(edit(s, "\xEF\xBB\xBF" "a\r\n"), "\xEF\xBB\xBF" "x, y\r\n");
  EXPECT_EQ(edit(s, "a"), "x, y");
  s.text = "line one\nline two";
  EXPECT_EQ(edit(s, "a\r\n"), "line one\r\nline two\r\n");
}

TEST(CaptionEdit, ValidatesArguments) {
  EXPECT_THROW(validate_edit_op(op_of(K::Add, "")), Error);
  EXPECT_THROW(validate_edit_op(op_of(K::Add, "a, b")), Error);
  EXPECT_THROW(validate_edit_op(op_of(K::Remove, " a")), Error);
  EXPECT_THROW(validate_edit_op(op_of(K::Rename, "a", "b\nc")), Error);
  EXPECT_NO_THROW(validate_edit_op(op_of(K::Normalize)));
  EXPECT_NO_THROW(validate_edit_op(op_of(K::Rename, "a", "b")));
}
