// Bucket findings from the bucket plan: images that are never or rarely trained under the
// chosen batch size and remainder policy, and buckets whose last batch is not full.
#include <fmt/format.h>

#include "dataset/audit_rules.h"

namespace lathe {

namespace {

std::string bucket_name(const BucketSize& b) { return fmt::format("{}x{}", b.width, b.height); }

std::string remainder_text(const BucketSummary& b, const BucketPlan& plan) {
  switch (plan.policy) {
    case RemainderPolicy::Partial:
      return fmt::format("its last batch holds {} of {}", b.last_batch, plan.batch_size);
    case RemainderPolicy::Drop:
      return fmt::format("{} of its {} entries are left out each epoch", b.dropped, b.entries);
    case RemainderPolicy::Pad:
      return fmt::format("its last batch is filled with {} duplicate{}", b.padded,
                         b.padded == 1 ? "" : "s");
  }
  return {};
}

}  // namespace

void audit_bucket_rules(const AuditContext& ctx, Findings& out) {
  const BucketPlan& plan = ctx.buckets;
  const char* policy = remainder_policy_name(plan.policy);
  for (const PlannedImage& img : plan.images) {
    if (img.fate == TrainFate::Trained) continue;
    const Concept& c = ctx.dataset.concepts[img.concept_index];
    const BucketSummary& b = plan.buckets[img.bucket_index];
    bool never = img.fate == TrainFate::Never;
    out.add(never ? Severity::Warning : Severity::Info,
            never ? "bucket.never_trained" : "bucket.rarely_trained", c.name, img.path,
            fmt::format("{} ({}x{}, bucket {}) is {} trained with batch size {} and policy {}: "
                        "{:.2f} views per epoch for {} repeats{}{}",
                        ctx.show(img.path), img.width, img.height, bucket_name(b.size),
                        never ? "never" : "rarely", plan.batch_size, policy, img.views_per_epoch,
                        img.repeats, img.why.empty() ? "" : "; ", img.why),
            never ? "add images of a similar aspect ratio to its bucket, lower --batch-size, or "
                    "use --policy partial or pad"
                  : "add images of a similar aspect ratio to its bucket, or raise its concept's "
                    "repeats");
  }
  if (plan.batch_size <= 1) return;
  for (const BucketSummary& b : plan.buckets) {
    if (b.entries % plan.batch_size == 0) continue;
    const PlannedImage& first = plan.images[b.image_indices.front()];
    // A bucket too small to fill even one batch is a handful of odd-shaped images: name them,
    // so the user can see which ones to crop, pair up or remove.
    const bool too_small = b.entries < static_cast<long long>(plan.batch_size);
    Finding f;
    f.severity = Severity::Info;
    f.code = "bucket.remainder";
    f.file = first.path;  // a bucket mixes concepts, so the finding names no concept
    f.message = fmt::format(
        "bucket {} has {} entries ({} image{} x repeats), {} {}: {} under policy {}{}",
        bucket_name(b.size), b.entries, b.images, b.images == 1 ? "" : "s",
        too_small ? "too few to fill one batch of" : "not a multiple of batch size",
        plan.batch_size, remainder_text(b, plan), policy, too_small ? "; its images:" : "");
    f.hint = too_small ? "add images of this aspect ratio, or crop these to a common one"
                       : "harmless when small; to fill it, add or remove images of this aspect "
                         "ratio";
    if (too_small)
      for (std::size_t i : b.image_indices) f.files.push_back(plan.images[i].path);
    out.add(std::move(f));
  }
}

}  // namespace lathe
