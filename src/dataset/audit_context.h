// What every audit rule reads: the scanned dataset, the user's options, and the tables computed
// once before the rules run (tag statistics, activation tags, repeats balance, bucket plan).
// A rule is a plain function `void(const AuditContext&, Findings&)`; audit_rules.h lists them.
#pragma once

#include <filesystem>
#include <string>
#include <unordered_set>
#include <vector>

#include "dataset/activation_tag.h"
#include "dataset/caption_style.h"
#include "dataset/bucket_plan.h"
#include "dataset/dataset.h"
#include "dataset/finding.h"
#include "dataset/repeats_balance.h"
#include "dataset/tag_stats.h"

namespace lathe {

struct AuditOptions {
  double prune_threshold = 80.0;  // percent of a concept's captioned images (--prune-threshold)
  double imbalance_ratio = 1.5;   // largest / smallest images x repeats before flagging
  BucketSettings buckets;         // resolution (--resolution) and kohya's bucket defaults
  int batch_size = 1;             // (--batch-size)
  RemainderPolicy policy = RemainderPolicy::Partial;  // (--policy)
  // Token-level checks (audit_token_rules.cpp); skipped, with an info finding, when empty.
  std::string clip_vocab;    // CLIP vocabulary path (--vocab, else text/vocab_locator.h)
  int max_token_length = 75; // kohya's max_token_length: 75, 150 or 225 (--max-token-length)
  int keep_tokens = 0;       // kohya's keep_tokens for caption shuffling, 0 = off (--keep-tokens)
};

// `p` relative to `root` when inside it (a prefix test: reports may name 100k files), else `p`.
std::string relative_to_root(const std::filesystem::path& root, const std::filesystem::path& p);

struct AuditContext {
  const Dataset& dataset;
  const AuditOptions& options;
  TagStats tags;
  std::vector<ActivationTag> activation;  // parallel to dataset.concepts
  RepeatsBalance balance;
  BucketPlan buckets;
  std::vector<CaptionStyleCount> caption_styles;  // parallel to dataset.concepts
  // Caption files written as sentences (native path strings): tag-level rules skip them.
  std::unordered_set<std::string> sentence_captions;

  bool is_sentence_caption(const std::filesystem::path& caption) const {
    return sentence_captions.count(caption.native()) > 0;
  }

  // Throws lathe::Error when the bucket settings or batch size are invalid.
  AuditContext(const Dataset& d, const AuditOptions& o);

  // A path as reports show it: relative to the dataset root when inside it.
  std::string show(const std::filesystem::path& p) const { return relative_to_root(dataset.root, p); }
};

}  // namespace lathe
