// The report formats: text grouped by severity with counts and at most N examples per code
// ("... and N more"); JSON with the documented top-level fields, every finding, tag stats,
// repeats balance and bucket summary, and paths relative to the dataset root.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "audit_test_support.h"
#include "dataset/audit_report.h"

namespace lathe::test {
namespace {

Dataset seven_missing_captions() {
  DatasetBuilder b;
  Concept& c = b.concept("10_cat");
  DatasetBuilder::image(c, "a", 512, 512, std::string("lathecat, ball"));
  DatasetBuilder::image(c, "b", 512, 512, std::string("lathecat, ball, caf\xE9"));
  for (int i = 0; i < 7; ++i) DatasetBuilder::image(c, "m" + std::to_string(i), 512, 512, std::nullopt);
  return b.dataset;
}

TEST(AuditReportText, GroupsBySeverityAndCapsExamples) {
  AuditReport r = audit(seven_missing_captions());
  TextReportOptions o;
  o.max_examples = 3;
  std::string text = format_audit_text(r, o);
  std::size_t errors = text.find("ERRORS (1)");
  std::size_t warnings = text.find("WARNINGS (");
  ASSERT_NE(errors, std::string::npos) << text;
  ASSERT_NE(warnings, std::string::npos) << text;
  EXPECT_LT(errors, warnings);
  EXPECT_NE(text.find("caption.missing (7)"), std::string::npos) << text;
  EXPECT_NE(text.find("... and 4 more"), std::string::npos) << text;
  EXPECT_NE(text.find("10_cat/m0.png has no caption file"), std::string::npos);
  EXPECT_EQ(text.find("10_cat/m3.png has no caption file"), std::string::npos);
  EXPECT_NE(text.find("Result: 1 error;"), std::string::npos);
  EXPECT_NE(text.find("Concepts"), std::string::npos);
  EXPECT_NE(text.find("Buckets (512x512"), std::string::npos);
}

TEST(AuditReportJson, SchemaAndContent) {
  AuditReport r = audit(seven_missing_captions());
  nlohmann::json j = nlohmann::json::parse(format_audit_json(r));
  EXPECT_EQ(j["schema"], "lathe.audit");
  EXPECT_EQ(j["version"], kAuditJsonVersion);
  for (const char* key : {"root", "options", "summary", "concepts", "findings", "tag_stats",
                          "repeats_balance", "buckets"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["summary"]["errors"], 1);
  EXPECT_EQ(j["summary"]["images"], 9);
  EXPECT_EQ(j["summary"]["by_code"]["caption.missing"], 7);
  ASSERT_EQ(j["findings"].size(), r.findings.size());
  for (const auto& f : j["findings"]) {
    for (const char* key : {"severity", "code", "concept", "file", "message", "hint"})
      EXPECT_TRUE(f.contains(key)) << key;
    EXPECT_TRUE(f["severity"] == "error" || f["severity"] == "warning" || f["severity"] == "info");
  }
  EXPECT_EQ(j["findings"][0]["code"], "caption.invalid_utf8");
  EXPECT_EQ(j["findings"][0]["file"], "10_cat/b.txt");  // relative to the root
  EXPECT_EQ(j["concepts"][0]["activation_tag"]["tag"], "lathecat");
  EXPECT_EQ(j["concepts"][0]["activation_tag"]["source"], "inferred");
  EXPECT_EQ(j["tag_stats"]["concepts"][0]["tags"][0]["tag"], "ball");
  EXPECT_EQ(j["tag_stats"]["concepts"][0]["tags"][0]["percent"], 100.0);
  EXPECT_EQ(j["repeats_balance"]["concepts"][0]["per_epoch"], 90);
  EXPECT_EQ(j["buckets"]["buckets"][0]["width"], 512);
  EXPECT_EQ(j["buckets"]["total_entries"], 90);
  EXPECT_EQ(j["options"]["policy"], "partial");
}

TEST(AuditFindings, CountsAndOrder) {
  Findings f;
  f.add(Severity::Info, "b.x", "", "", "m", "h");
  f.add(Severity::Error, "z.y", "", "", "m", "h");
  f.add(Severity::Warning, "a.a", "", "", "m", "h");
  f.add(Severity::Error, "a.b", "", "", "m", "h");
  EXPECT_EQ(f.count(Severity::Error), 2u);
  EXPECT_EQ(f.count(Severity::Info), 1u);
  EXPECT_EQ(f.count("z.y"), 1u);
  EXPECT_TRUE(f.has_errors());
  f.sort();
  EXPECT_EQ(f.all()[0].code, "a.b");
  EXPECT_EQ(f.all()[1].code, "z.y");
  EXPECT_EQ(f.all()[2].severity, Severity::Warning);
  EXPECT_EQ(f.all()[3].severity, Severity::Info);
}

}  // namespace
}  // namespace lathe::test
