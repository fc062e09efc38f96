// Activation-tag resolution and rules: profile tag wins, majority first tag is inferred (and
// reported as such), no majority gives no tag, captions missing it or with it later are named,
// and a concept's tag in another concept's captions is reported.
#include <gtest/gtest.h>

#include "audit_test_support.h"
#include "dataset/activation_tag.h"

namespace lathe::test {
namespace {

TEST(ActivationTag, InferredFromMajorityFirstTag) {
  DatasetBuilder b;
  Concept& c = b.concept("10_cat");
  DatasetBuilder::image(c, "a", 512, 512, std::string("zed, ball"));
  DatasetBuilder::image(c, "b", 512, 512, std::string("zed, grass"));
  DatasetBuilder::image(c, "c", 512, 512, std::string("ball, zed"));
  DatasetBuilder::image(c, "d", 512, 512, std::string(""));  // empty: not counted
  ActivationTag a = resolve_activation_tag(c);
  EXPECT_EQ(a.tag, "zed");
  EXPECT_EQ(a.source, ActivationSource::Inferred);
  EXPECT_EQ(a.first_count, 2u);
  EXPECT_EQ(a.captioned, 3u);
}

TEST(ActivationTag, NoMajorityNoTag) {
  DatasetBuilder b;
  Concept& c = b.concept("10_cat");
  DatasetBuilder::image(c, "a", 512, 512, std::string("x, ball"));
  DatasetBuilder::image(c, "b", 512, 512, std::string("y, ball"));
  DatasetBuilder::image(c, "c", 512, 512, std::string("z, ball"));
  DatasetBuilder::image(c, "d", 512, 512, std::string("x, ball"));
  EXPECT_EQ(resolve_activation_tag(c).source, ActivationSource::None);  // 2 of 4: no majority
  AuditReport r = audit(b.dataset);
  EXPECT_EQ(with_code(r, "activation.unknown").size(), 1u);
  EXPECT_TRUE(with_code(r, "activation.missing").empty());
}

TEST(ActivationTag, ProfileTagWins) {
  DatasetBuilder b;
  Concept& c = b.concept("cat");
  c.activation_tag = "sks cat";
  DatasetBuilder::image(c, "a", 512, 512, std::string("ball, sks cat"));
  DatasetBuilder::image(c, "b", 512, 512, std::string("ball, grass"));
  ActivationTag a = resolve_activation_tag(c);
  EXPECT_EQ(a.tag, "sks cat");
  EXPECT_EQ(a.source, ActivationSource::Profile);
  AuditReport r = audit(b.dataset);
  EXPECT_TRUE(has_finding(r, "activation.not_first", "cat/a.txt"));
  EXPECT_TRUE(has_finding(r, "activation.missing", "cat/b.txt"));
  EXPECT_TRUE(with_code(r, "activation.inferred").empty());
}

TEST(AuditActivationRules, MissingAndNotFirst) {
  DatasetBuilder b;
  Concept& c = b.concept("10_cat");
  DatasetBuilder::image(c, "a", 512, 512, std::string("lathecat, ball"));
  DatasetBuilder::image(c, "b", 512, 512, std::string("lathecat, grass"));
  DatasetBuilder::image(c, "c", 512, 512, std::string("grass, lathecat"));
  DatasetBuilder::image(c, "d", 512, 512, std::string("LatheCat, grass"));
  DatasetBuilder::image(c, "e", 512, 512, std::string("lathecat, sky"));
  AuditReport r = audit(b.dataset);
  auto inferred = with_code(r, "activation.inferred");
  ASSERT_EQ(inferred.size(), 1u);
  EXPECT_EQ(inferred[0].severity, Severity::Info);
  EXPECT_NE(inferred[0].message.find("'lathecat'"), std::string::npos);
  auto not_first = with_code(r, "activation.not_first");
  ASSERT_EQ(not_first.size(), 1u);
  EXPECT_TRUE(has_finding(r, "activation.not_first", "10_cat/c.txt"));
  auto missing = with_code(r, "activation.missing");
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_TRUE(has_finding(r, "activation.missing", "10_cat/d.txt"));
  EXPECT_NE(missing[0].message.find("'LatheCat' instead"), std::string::npos) << missing[0].message;
}

TEST(AuditActivationRules, TagInAnotherConcept) {
  DatasetBuilder b;
  Concept& cat = b.concept("10_cat");
  DatasetBuilder::image(cat, "a", 512, 512, std::string("lathecat, ball"));
  DatasetBuilder::image(cat, "b", 512, 512, std::string("lathecat, grass"));
  Concept& bot = b.concept("6_bot");
  DatasetBuilder::image(bot, "a", 512, 512, std::string("lathebot, metal"));
  DatasetBuilder::image(bot, "b", 512, 512, std::string("lathebot, lathecat, metal"));
  AuditReport r = audit(b.dataset);
  auto leak = with_code(r, "activation.in_other_concept");
  ASSERT_EQ(leak.size(), 1u);
  EXPECT_EQ(leak[0].concept, "bot");
  EXPECT_TRUE(has_finding(r, "activation.in_other_concept", "6_bot/b.txt"));
  EXPECT_NE(leak[0].message.find("'lathecat' of concept 'cat'"), std::string::npos);
}

}  // namespace
}  // namespace lathe::test
