// `lathe audit DIR|PROFILE`: scans a dataset (a kohya folder or a profile's concepts), runs every
// audit rule and prints the human report or, with --json, the versioned JSON document. Exit code
// 1 when the dataset has errors, 0 when it has only warnings or info, 2 on usage errors.
#include <fmt/format.h>

#include <iostream>

#include "cli/command.h"
#include "common/error.h"
#include "dataset/audit.h"
#include "dataset/audit_report.h"
#include "dataset/bucket_plan.h"
#include "dataset/profile_concepts.h"
#include "text/vocab_locator.h"

namespace lathe::cli {

namespace {

// "512" -> 512x512; "768x512" or "768,512" -> width 768, height 512 (kohya's --resolution).
void parse_resolution(const std::string& text, BucketSettings& s) {
  std::size_t sep = text.find_first_of("x,");
  auto to_int = [&](const std::string& part) {
    std::size_t used = 0;
    int v = 0;
    try {
      v = std::stoi(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != part.size() || part.empty() || v < 64 || v > 8192)
      throw UsageError(fmt::format(
          "lathe audit: --resolution expects N or WxH with sides 64..8192, got '{}'", text));
    return v;
  };
  if (sep == std::string::npos) {
    s.width = s.height = to_int(text);
  } else {
    s.width = to_int(text.substr(0, sep));
    s.height = to_int(text.substr(sep + 1));
  }
}

AuditOptions audit_options(const Args& args) {
  AuditOptions o;
  if (auto r = args.value("resolution")) parse_resolution(*r, o.buckets);
  o.buckets.no_upscale = args.has("no-upscale");
  long long batch = args.int_or("batch-size", 1);
  if (batch < 1 || batch > 4096)
    throw UsageError(fmt::format("lathe audit: --batch-size must be 1..4096, got {}", batch));
  o.batch_size = static_cast<int>(batch);
  std::string policy = args.value_or("policy", "partial");
  auto p = parse_remainder_policy(policy);
  if (!p)
    throw UsageError(fmt::format(
        "lathe audit: --policy must be partial, drop or pad, got '{}'", policy));
  o.policy = *p;
  o.prune_threshold = args.double_or("prune-threshold", 80.0);
  if (!(o.prune_threshold > 0.0 && o.prune_threshold <= 100.0))
    throw UsageError(fmt::format("lathe audit: --prune-threshold is a percentage in (0, 100], "
                                 "got {}",
                                 o.prune_threshold));
  if (auto vocab = text::locate_clip_vocab(args.value("vocab"))) o.clip_vocab = vocab->string();
  long long max_tokens = args.int_or("max-token-length", 75);
  if (max_tokens != 75 && max_tokens != 150 && max_tokens != 225)
    throw UsageError(fmt::format("lathe audit: --max-token-length must be 75, 150 or 225, got {}",
                                 max_tokens));
  o.max_token_length = static_cast<int>(max_tokens);
  long long keep = args.int_or("keep-tokens", 0);
  if (keep < 0 || keep > 75)
    throw UsageError(fmt::format("lathe audit: --keep-tokens must be 0..75, got {}", keep));
  o.keep_tokens = static_cast<int>(keep);
  try {
    validate_bucket_settings(o.buckets);
  } catch (const Error& e) {
    throw UsageError(fmt::format("lathe audit: {}", e.what()));
  }
  return o;
}

ScanOptions scan_options(const Args& args) {
  ScanOptions s;
  if (auto ext = args.value("caption-ext")) {
    if (ext->empty() || ext->find('/') != std::string::npos)
      throw UsageError(fmt::format("lathe audit: --caption-ext expects an extension such as "
                                   "txt or .caption, got '{}'",
                                   *ext));
    s.caption_extension = (*ext)[0] == '.' ? *ext : "." + *ext;
  }
  s.recursive = args.has("recursive");
  s.deep = args.has("deep");
  return s;
}

int run_audit_command(const Args& args) {
  AuditOptions options = audit_options(args);
  ScanOptions scan = scan_options(args);
  long long max_examples = args.int_or("max-examples", 5);
  if (max_examples < 0)
    throw UsageError(fmt::format("lathe audit: --max-examples must be 0 or more, got {}",
                                 max_examples));
  Dataset dataset = load_dataset(args.positional(0), scan);
  AuditReport report = run_audit(dataset, options, scan.deep);
  if (args.has("json")) {
    std::cout << format_audit_json(report);
  } else {
    TextReportOptions text;
    text.max_examples = static_cast<std::size_t>(max_examples);
    std::cout << format_audit_text(report, text);
  }
  std::cout.flush();
  return report.has_errors() ? kExitInputErrors : kExitOk;
}

CommandSpec audit_command() {
  CommandSpec spec;
  spec.name = "audit";
  spec.summary = "Audit a dataset: captions, tags, activation tags, images, repeats, buckets";
  spec.usage = "DIR|PROFILE [options]";
  spec.details =
      "DIR is a kohya-style dataset root (concept folders named N_name, N = repeats) or a\n"
      "single concept folder; PROFILE is a .toml profile whose [dataset]/[[concepts]] are\n"
      "scanned. Image sizes come from file headers; --deep also decodes every image.\n"
      "Exit code: 0 no errors (warnings and info allowed), 1 the dataset has errors or\n"
      "cannot be read, 2 usage error.";
  spec.options = {
      {"json", "", "print the JSON report (schema lathe.audit, version 1) instead of text"},
      {"deep", "", "also decode every image to catch corrupt pixel data (slower; files cut short are found without it)"},
      {"caption-ext", "EXT", "caption file extension (default .txt)"},
      {"recursive", "", "also look for images in subfolders of each concept"},
      {"resolution", "N|WxH", "training resolution for the bucket plan (default 512)"},
      {"no-upscale", "", "plan buckets as kohya's --bucket_no_upscale"},
      {"batch-size", "N", "batch size for the bucket plan (default 1)"},
      {"policy", "P", "bucket remainder policy: partial (kohya), drop, pad (default partial)"},
      {"prune-threshold", "PCT",
       "report tags on at least PCT% of a concept's captions as prune candidates (default 80)"},
      {"max-examples", "N", "examples shown per finding code in the text report (default 5)"},
      {"vocab", "PATH",
       "CLIP vocabulary for the token checks (default $LATHE_CLIP_VOCAB, else the one installed "
       "with Lathe): a diffusers model or tokenizer/ folder, or bpe_simple_vocab_16e6.txt.gz"},
      {"max-token-length", "N", "kohya's max_token_length for the truncation check: 75, 150, 225"},
      {"keep-tokens", "N", "kohya's keep_tokens (shuffle_caption): check it against the "
       "leading activation tags"},
  };
  spec.min_positionals = 1;
  spec.max_positionals = 1;
  spec.run = run_audit_command;
  return spec;
}

}  // namespace

LATHE_REGISTER_COMMAND(audit_command)

}  // namespace lathe::cli
