// Caption style: tag lists and natural-language sentences (BLIP / LLM captions) are told apart
// per caption and per concept; sentences draw no tag-level findings (a sentence is not a
// singleton tag), tags still do; the style is in the text report and the JSON.
#include "dataset/caption_style.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "audit_test_support.h"
#include "dataset/audit_report.h"

namespace lathe::test {
namespace {

CaptionStyle style_of(const std::string& text) { return caption_style(parse_caption(text)); }

TEST(CaptionStyle, TellsSentencesFromTags) {
  EXPECT_EQ(style_of("a painting of a steam punk skull with a gas mask , by darius kawasaki"),
            CaptionStyle::Sentences);
  EXPECT_EQ(style_of("a woman with long red hair standing in a field of flowers"),
            CaptionStyle::Sentences);
  EXPECT_EQ(style_of("The image shows a cat sleeping on a sofa. The room is bright."),
            CaptionStyle::Sentences);
  EXPECT_EQ(style_of("1girl, solo, long hair, looking at viewer, hand on own chest, smile"),
            CaptionStyle::Tags);
  EXPECT_EQ(style_of("lathecat, orange fur, sitting, indoors"), CaptionStyle::Tags);
  EXPECT_EQ(style_of("cat"), CaptionStyle::Tags);
  EXPECT_EQ(style_of(""), CaptionStyle::None);
  EXPECT_TRUE(is_prose("a photo of a dog on the beach"));
  EXPECT_FALSE(is_prose("looking at viewer"));
  EXPECT_FALSE(is_prose("hand on own chest"));
}

TEST(CaptionStyle, ConceptStyleNeedsNinetyPercent) {
  CaptionStyleCount c;
  EXPECT_EQ(c.style(), CaptionStyle::None);
  for (int i = 0; i < 9; ++i) c.add(CaptionStyle::Sentences);
  c.add(CaptionStyle::Tags);
  EXPECT_EQ(c.style(), CaptionStyle::Sentences);
  c.add(CaptionStyle::Tags);
  EXPECT_EQ(c.style(), CaptionStyle::Mixed);
}

const char* kSentences[] = {
    "a painting of a steam punk skull with a gas mask , by darius kawasaki",
    "a photograph of an old man sitting on a bench in the park",
    "a drawing of a castle on a hill under a starry night sky",
    "a close up of a cat with green eyes looking at the camera",
};

AuditReport sentences_and_tags() {
  DatasetBuilder b;
  Concept& prose = b.concept("1_blip");
  for (int i = 0; i < 4; ++i)
    DatasetBuilder::image(prose, "s" + std::to_string(i), 512, 512, std::string(kSentences[i]));
  Concept& tags = b.concept("1_booru");
  DatasetBuilder::image(tags, "t0", 512, 512, std::string("lathecat, orange fur, sitting"));
  DatasetBuilder::image(tags, "t1", 512, 512, std::string("lathecat, orange fur, rare hat"));
  return audit(b.dataset);
}

TEST(AuditCaptionStyle, SentencesAreNotSingletonTags) {
  const AuditReport r = sentences_and_tags();
  for (const Finding& f : with_code(r, "tags.singleton")) {
    EXPECT_EQ(f.file.parent_path().filename(), "1_booru") << f.message;
  }
  // The tag captions still get theirs: 'sitting' and 'rare hat' are used once.
  EXPECT_EQ(with_code(r, "tags.singleton").size(), 2u);
}

TEST(AuditCaptionStyle, StyleShownPerConceptInTextAndJson) {
  const AuditReport r = sentences_and_tags();
  ASSERT_EQ(r.concepts.size(), 2u);
  EXPECT_EQ(r.concepts[0].caption_styles.style(), CaptionStyle::Sentences);
  EXPECT_EQ(r.concepts[1].caption_styles.style(), CaptionStyle::Tags);
  const std::string text = format_audit_text(r);
  EXPECT_NE(text.find("captions"), std::string::npos) << text;
  const auto line_of = [&](const std::string& folder) {
    const std::size_t at = text.find("  " + folder + " ");
    return at == std::string::npos ? std::string() : text.substr(at, text.find('\n', at) - at);
  };
  EXPECT_NE(line_of("1_blip").find("sentences"), std::string::npos) << text;
  EXPECT_NE(line_of("1_booru").find("tags"), std::string::npos) << text;
  const nlohmann::json j = nlohmann::json::parse(format_audit_json(r));
  EXPECT_EQ(j["concepts"][0]["caption_style"]["style"], "sentences");
  EXPECT_EQ(j["concepts"][0]["caption_style"]["sentences"], 4);
  EXPECT_EQ(j["concepts"][1]["caption_style"]["style"], "tags");
  EXPECT_EQ(j["concepts"][1]["caption_style"]["tags"], 2);
}

}  // namespace
}  // namespace lathe::test
