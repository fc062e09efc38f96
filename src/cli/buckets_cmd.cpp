// `lathe buckets DIR|PROFILE`: the aspect-ratio bucket plan kohya-ss sd-scripts would make for
// a dataset, and what batch size B and the remainder policy do to each bucket: a table of
// buckets and the images never or rarely trained, or with --json every image's bucket.
#include <fmt/format.h>

#include <iostream>

#include "cli/command.h"
#include "common/error.h"
#include "dataset/bucket_plan.h"
#include "dataset/bucket_plan_report.h"
#include "dataset/profile_concepts.h"

namespace lathe::cli {
namespace {

int int_flag(const Args& args, const std::string& name, int fallback, int lo, int hi) {
  long long v = args.int_or(name, fallback);
  if (v < lo || v > hi)
    throw UsageError(fmt::format("lathe buckets: --{} must be {}..{}, got {}", name, lo, hi, v));
  return static_cast<int>(v);
}

BucketSettings bucket_settings(const Args& args) {
  BucketSettings s;
  try {
    if (auto r = args.value("resolution")) parse_bucket_resolution(*r, s);
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(fmt::format("lathe buckets: --resolution: {}", e.what()));
  }
  s.no_upscale = args.has("no-upscale");
  s.min_bucket_reso = int_flag(args, "min-bucket-reso", s.min_bucket_reso, 1, 65536);
  s.max_bucket_reso = int_flag(args, "max-bucket-reso", s.max_bucket_reso, 1, 65536);
  s.bucket_reso_steps = int_flag(args, "bucket-reso-steps", s.bucket_reso_steps, 1, 4096);
  try {
    validate_bucket_settings(s);
  } catch (const Error& e) {
    throw UsageError(fmt::format("lathe buckets: {}", e.what()));
  }
  return s;
}

RemainderPolicy policy_of(const Args& args) {
  std::string name = args.value_or("policy", "partial");
  auto p = parse_remainder_policy(name);
  if (!p)
    throw UsageError(
        fmt::format("lathe buckets: --policy must be partial, drop or pad, got '{}'", name));
  return *p;
}

int run_buckets_command(const Args& args) {
  BucketSettings settings = bucket_settings(args);
  int batch = int_flag(args, "batch-size", 1, 1, 4096);
  RemainderPolicy policy = policy_of(args);
  PlanOptions plan_options;
  plan_options.rare_fraction = args.double_or("rare-fraction", plan_options.rare_fraction);
  if (!(plan_options.rare_fraction >= 0.0 && plan_options.rare_fraction <= 1.0))
    throw UsageError(fmt::format("lathe buckets: --rare-fraction must be 0..1, got {}",
                                 plan_options.rare_fraction));
  ScanOptions scan;
  scan.recursive = args.has("recursive");
  Dataset dataset = load_dataset(args.positional(0), scan);
  BucketPlan plan = plan_buckets(dataset, settings, batch, policy, plan_options);
  if (args.has("json")) {
    std::cout << format_bucket_plan_json(plan, dataset);
  } else {
    BucketTextOptions text;
    if (args.has("all")) text.max_listed = 0;
    std::cout << format_bucket_plan_text(plan, dataset, text);
  }
  std::cout.flush();
  return kExitOk;
}

CommandSpec buckets_command() {
  CommandSpec spec;
  spec.name = "buckets";
  spec.summary = "Aspect-ratio bucket plan (kohya's) and what batch size and policy lose";
  spec.usage = "DIR|PROFILE [options]";
  spec.details =
      "Assigns every image to a bucket exactly as kohya-ss sd-scripts does\n"
      "(make_bucket_resolutions, select_bucket), counts each bucket's images x repeats, and\n"
      "shows what batch size B does to each bucket's last batch under the policy:\n"
      "  partial  kohya: a smaller last batch, nothing lost\n"
      "  drop     OneTrainer: the remainder is not trained; a bucket below B never is\n"
      "  pad      ai-toolkit: duplicates from the bucket fill the last batch\n"
      "Resolution, batch size and bucket settings come from the flags (a profile supplies\n"
      "only its dataset). Exit code: 0 plan printed, 1 the dataset cannot be read, 2 usage.";
  spec.options = {
      {"resolution", "N|WxH",
       "training resolution: 512, 1024 or WxH such as 768x512 (default 512)"},
      {"batch-size", "N", "batch size (default 1)"},
      {"policy", "P", "remainder policy: partial, drop or pad (default partial)"},
      {"no-upscale", "", "kohya's --bucket_no_upscale: buckets from each image's own size"},
      {"min-bucket-reso", "N", "smallest bucket side (default 256)"},
      {"max-bucket-reso", "N", "largest bucket side (default 1024; 2048 for SDXL)"},
      {"bucket-reso-steps", "N", "bucket sides are multiples of N (default 64)"},
      {"rare-fraction", "F",
       "an image trained less than F of its repeats per epoch is 'rarely trained' (default 0.75)"},
      {"recursive", "", "also look for images in subfolders of each concept"},
      {"all", "", "list every never/rarely trained image, not the first 20"},
      {"json", "", "print the plan as JSON (schema lathe.buckets, version 1): every image"},
  };
  spec.min_positionals = 1;
  spec.max_positionals = 1;
  spec.run = run_buckets_command;
  return spec;
}

}  // namespace

LATHE_REGISTER_COMMAND(buckets_command)

}  // namespace lathe::cli
