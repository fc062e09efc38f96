// Text and JSON views of a BucketPlan (see bucket_plan_report.h). The text is for a person
// deciding batch size and policy: one row per bucket, then the images that lose training.
#include "dataset/bucket_plan_report.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "dataset/audit_context.h"

namespace lathe {
namespace {

using nlohmann::json;

std::string size_text(BucketSize b) {
  return fmt::format("{}x{}", b.width, b.height);
}

std::string remainder_text(const BucketSummary& b, const BucketPlan& plan) {
  switch (plan.policy) {
    case RemainderPolicy::Partial:
      return b.batches > 0 && b.last_batch < plan.batch_size
                 ? fmt::format("last batch {}/{}", b.last_batch, plan.batch_size)
                 : "-";
    case RemainderPolicy::Drop:
      return b.dropped > 0 ? fmt::format("{} dropped", b.dropped) : "-";
    case RemainderPolicy::Pad:
      return b.padded > 0 ? fmt::format("{} duplicated", b.padded) : "-";
  }
  return "-";
}

std::string fate_text(const BucketSummary& b) {
  if (b.fate != TrainFate::Rarely) return train_fate_name(b.fate);
  return fmt::format("rarely ({:.0f}%)", 100.0 * b.trained_entries / b.entries);
}

const char* policy_story(RemainderPolicy p) {
  switch (p) {
    case RemainderPolicy::Partial:
      return "kohya: a smaller last batch, nothing lost";
    case RemainderPolicy::Drop:
      return "OneTrainer: the remainder is not trained";
    case RemainderPolicy::Pad:
      return "ai-toolkit: duplicates fill the last batch";
  }
  return "";
}

std::string settings_text(const BucketPlan& p) {
  const BucketSettings& s = p.settings;
  std::string buckets =
      s.no_upscale ? fmt::format("no upscale, step {}", s.bucket_reso_steps)
                   : fmt::format("{} buckets, sides {}..{} step {}", p.resolutions.size(),
                                 s.min_bucket_reso, s.max_bucket_reso, s.bucket_reso_steps);
  return fmt::format("resolution {}x{} ({}), batch size {}, policy {} ({})", s.width, s.height,
                     buckets, p.batch_size, remainder_policy_name(p.policy),
                     policy_story(p.policy));
}

void append_image_list(std::string& out, const BucketPlan& plan, const Dataset& ds, TrainFate fate,
                       const char* title, std::size_t max_listed) {
  std::vector<const PlannedImage*> hits;
  for (const auto& im : plan.images)
    if (im.fate == fate) hits.push_back(&im);
  if (hits.empty()) return;
  out += fmt::format("\n{} ({} image{}):\n", title, hits.size(), hits.size() == 1 ? "" : "s");
  std::size_t shown = max_listed == 0 ? hits.size() : std::min(hits.size(), max_listed);
  for (std::size_t i = 0; i < shown; ++i) {
    const PlannedImage& im = *hits[i];
    out += fmt::format("  {} ({}x{}, bucket {}): {}\n", relative_to_root(ds.root, im.path),
                       im.width, im.height, size_text(im.assignment.bucket), im.why);
  }
  if (shown < hits.size())
    out += fmt::format("  ... and {} more (--all lists every one, --json gives all)\n",
                       hits.size() - shown);
}

}  // namespace

std::string format_bucket_plan_text(const BucketPlan& plan, const Dataset& ds,
                                    const BucketTextOptions& options) {
  std::string out = fmt::format(
      "Bucket plan for {}: {} image{} in {} concept{}\n", ds.root.string(), plan.images.size(),
      plan.images.size() == 1 ? "" : "s", ds.concepts.size(), ds.concepts.size() == 1 ? "" : "s");
  out += settings_text(plan) + "\n\n";
  out += fmt::format("{:<11} {:>6} {:>7} {:>13} {:>8}  {:<18} {}\n", "bucket", "aspect", "images",
                     "with repeats", "batches", "remainder", "fate");
  for (const auto& b : plan.buckets)
    out += fmt::format("{:<11} {:>6.2f} {:>7} {:>13} {:>8}  {:<18} {}\n", size_text(b.size),
                       b.size.aspect(), b.images, b.entries, b.batches, remainder_text(b, plan),
                       fate_text(b));
  std::string total_remainder =
      plan.policy == RemainderPolicy::Drop  ? fmt::format("{} dropped", plan.total_dropped)
      : plan.policy == RemainderPolicy::Pad ? fmt::format("{} duplicated", plan.total_padded)
                                            : "";
  std::string total =
      fmt::format("{:<11} {:>6} {:>7} {:>13} {:>8}  {}", "total", "", plan.images.size(),
                  plan.total_entries, plan.total_batches, total_remainder);
  while (!total.empty() && total.back() == ' ') total.pop_back();
  out += total + "\n";
  out +=
      fmt::format("\n{} steps per epoch at batch size {}.\n", plan.total_batches, plan.batch_size);

  std::size_t upscaled = 0, degenerate = 0;
  for (const auto& im : plan.images) {
    upscaled += im.assignment.upscaled;
    degenerate += im.assignment.degenerate;
  }
  if (upscaled > 0)
    out += fmt::format("{} image{} smaller than {} bucket and enlarged to fill it.\n", upscaled,
                       upscaled == 1 ? " is" : "s are", upscaled == 1 ? "its" : "their");
  if (degenerate > 0)
    out += fmt::format(
        "{} image{} a side below one bucket step ({} px): kohya's no-upscale mode fails on "
        "{}; planned with Lathe's rule (short side raised to one step).\n",
        degenerate, degenerate == 1 ? " has" : "s have", plan.settings.bucket_reso_steps,
        degenerate == 1 ? "it" : "them");

  append_image_list(out, plan, ds, TrainFate::Never, "Never trained", options.max_listed);
  append_image_list(out, plan, ds, TrainFate::Rarely, "Rarely trained", options.max_listed);
  if (!plan.skipped.empty()) {
    out += fmt::format("\nNot planned ({} image{} without a readable size):\n", plan.skipped.size(),
                       plan.skipped.size() == 1 ? "" : "s");
    for (const auto& s : plan.skipped)
      out += fmt::format("  {}: {}\n", relative_to_root(ds.root, s.path), s.reason);
  }
  return out;
}

std::string format_bucket_plan_json(const BucketPlan& plan, const Dataset& ds) {
  const BucketSettings& s = plan.settings;
  json resolutions = json::array();
  for (const auto& r : plan.resolutions) resolutions.push_back({r.width, r.height});

  json buckets = json::array();
  for (const auto& b : plan.buckets)
    buckets.push_back({{"bucket", {b.size.width, b.size.height}},
                       {"aspect", b.size.aspect()},
                       {"images", b.images},
                       {"entries", b.entries},
                       {"batches", b.batches},
                       {"trained_entries", b.trained_entries},
                       {"dropped", b.dropped},
                       {"padded", b.padded},
                       {"last_batch", b.last_batch},
                       {"fate", train_fate_name(b.fate)}});

  json images = json::array();
  std::size_t never = 0, rarely = 0;
  for (const auto& im : plan.images) {
    never += im.fate == TrainFate::Never;
    rarely += im.fate == TrainFate::Rarely;
    const BucketAssignment& a = im.assignment;
    json j = {{"path", relative_to_root(ds.root, im.path)},
              {"concept", ds.concepts[im.concept_index].name},
              {"size", {im.width, im.height}},
              {"repeats", im.repeats},
              {"bucket", {a.bucket.width, a.bucket.height}},
              {"resized", {a.resized_width, a.resized_height}},
              {"crop", {a.crop_left, a.crop_top}},
              {"crop_ltrb", {a.ltrb.left, a.ltrb.top, a.ltrb.right, a.ltrb.bottom}},
              {"aspect_error", a.aspect_error},
              {"upscaled", a.upscaled},
              {"degenerate", a.degenerate},
              {"views_per_epoch", im.views_per_epoch},
              {"fate", train_fate_name(im.fate)}};
    if (!im.why.empty()) j["why"] = im.why;
    images.push_back(std::move(j));
  }

  json skipped = json::array();
  for (const auto& sk : plan.skipped)
    skipped.push_back({{"path", relative_to_root(ds.root, sk.path)}, {"reason", sk.reason}});

  json doc = {
      {"schema", "lathe.buckets"},
      {"version", kBucketsJsonVersion},
      {"root", ds.root.generic_string()},
      {"settings",
       {{"resolution", {s.width, s.height}},
        {"min_bucket_reso", s.min_bucket_reso},
        {"max_bucket_reso", s.max_bucket_reso},
        {"bucket_reso_steps", s.bucket_reso_steps},
        {"no_upscale", s.no_upscale}}},
      {"batch_size", plan.batch_size},
      {"policy", remainder_policy_name(plan.policy)},
      {"rare_fraction", plan.rare_fraction},
      {"resolutions", std::move(resolutions)},
      {"totals",
       {{"images", plan.images.size()},
        {"skipped", plan.skipped.size()},
        {"buckets", plan.buckets.size()},
        {"entries", plan.total_entries},
        {"batches", plan.total_batches},
        {"dropped", plan.total_dropped},
        {"padded", plan.total_padded},
        {"never_trained", never},
        {"rarely_trained", rarely}}},
      {"buckets", std::move(buckets)},
      {"images", std::move(images)},
      {"skipped", std::move(skipped)},
  };
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace lathe
