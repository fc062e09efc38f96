// Aspect-ratio bucketing as kohya-ss sd-scripts does it (`make_bucket_resolutions`,
// `BucketManager.select_bucket`, `get_crop_ltrb`), and the batch plan built on it: which bucket
// each image lands in, how many batches each bucket gives per epoch, and what the chosen
// remainder policy does to a bucket that does not fill its last batch. The assignment reproduces
// kohya's answers bit for bit (same double arithmetic, same tie-breaking); where kohya itself
// fails (no-upscale mode on images with a side below one bucket step) Lathe applies the rule
// documented at `select_bucket`. Torch-free: the audit, the CLI and the trainer all use it.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "dataset/dataset.h"

namespace lathe {

struct BucketSettings {
  int width = 512;  // the training resolution; its area is the bucket area budget
  int height = 512;
  int min_bucket_reso = 256;   // kohya --min_bucket_reso (ignored with no_upscale, as in kohya)
  int max_bucket_reso = 1024;  // kohya --max_bucket_reso (ignored with no_upscale, as in kohya)
  int bucket_reso_steps = 64;  // every bucket side is a multiple of this
  bool no_upscale = false;     // kohya --bucket_no_upscale
  // Bucketing off (kohya without --enable_bucket): the only bucket is width x height; every
  // image is scaled to cover it and centre-cropped. Ignores the min/max/steps/no_upscale keys.
  bool single_bucket = false;
};

// Reads a training resolution as kohya's --resolution does: "512" (square), "768x512" or
// "768,512" (width, height). Throws lathe::Error quoting the text when it is not that.
void parse_bucket_resolution(const std::string& text, BucketSettings& s);

// Throws lathe::Error naming the setting when kohya would refuse it (steps < 1, min > max,
// max below a side of the resolution, ...).
void validate_bucket_settings(const BucketSettings& s);

struct BucketSize {
  int width = 0;
  int height = 0;
  double aspect() const { return static_cast<double>(width) / height; }
  long long area() const { return static_cast<long long>(width) * height; }
  bool operator==(const BucketSize& o) const { return width == o.width && height == o.height; }
  bool operator!=(const BucketSize& o) const { return !(*this == o); }
  bool operator<(const BucketSize& o) const {
    return width != o.width ? width < o.width : height < o.height;
  }
};

// kohya's predefined bucket list, sorted by (width, height). Empty in no-upscale mode, where
// each image's bucket is computed from its own size.
std::vector<BucketSize> make_bucket_resolutions(const BucketSettings& s);

// kohya's SDXL crop conditioning (`BucketManager.get_crop_ltrb`), as doubles: where the image,
// fitted inside the bucket, would sit. SDXL's crop_top_left is (int(top), int(left)).
struct CropLTRB {
  double left = 0, top = 0, right = 0, bottom = 0;
};
CropLTRB crop_ltrb(BucketSize bucket, int image_width, int image_height);

struct BucketAssignment {
  BucketSize bucket;
  int resized_width = 0;  // the image is resized to this, then cropped to the bucket
  int resized_height = 0;
  int crop_left = 0;  // centred crop: (resized_w - bucket_w) / 2, floored
  int crop_top = 0;
  CropLTRB ltrb;            // SDXL crop conditioning for this image and bucket
  double aspect_error = 0;  // bucket aspect - image aspect (kohya's ar_error)
  bool upscaled = false;    // resized is larger than the image on some side
  // True when kohya itself has no usable answer (no-upscale mode, a side below one step):
  // kohya raises ZeroDivisionError or returns a bucket with a zero side. Lathe's answer then
  // follows the degenerate-size rule at select_bucket.
  bool degenerate = false;
};

// Picks buckets for image sizes under one setting; build once, call per image.
class BucketSelector {
 public:
  explicit BucketSelector(const BucketSettings& settings);  // validates the settings

  // kohya's select_bucket. Normal mode: an image whose exact size is in the list gets it;
  // otherwise the bucket with the smallest |bucket aspect - image aspect| (first on ties); the
  // image is scaled to cover the bucket and centre-cropped. No-upscale mode: images above the
  // area budget are scaled down to it keeping their aspect, rounded to steps as kohya does;
  // the bucket is the resized size floored to steps, so the image is never enlarged.
  //
  // Degenerate-size rule (no-upscale only, exactly where kohya divides by zero or gives a zero
  // side): the image is scaled by max(s0, steps / shorter side), where s0 is 1 for an image
  // within the area budget and sqrt(budget / area) above it, so its short side reaches one
  // step (a slight upscale); the bucket is that resized size floored to steps, with its long
  // side capped so the bucket area stays within the budget; the crop is centred.
  // Throws lathe::Error for a width or height below 1.
  BucketAssignment select(int image_width, int image_height) const;

  const BucketSettings& settings() const { return settings_; }
  const std::vector<BucketSize>& resolutions() const { return resos_; }

 private:
  BucketAssignment select_predefined(int w, int h) const;
  BucketAssignment select_no_upscale(int w, int h) const;
  BucketAssignment select_degenerate(int w, int h) const;
  long long round_to_steps(double x) const;

  BucketSettings settings_;
  std::vector<BucketSize> resos_;
  std::vector<double> aspects_;
};

// The area of the smallest bucket an image can land in: the smallest predefined bucket, or
// one step by one step in no-upscale mode.
long long smallest_bucket_area(const BucketSettings& s);

// "Smaller than the smallest bucket": fewer pixels than smallest_bucket_area in normal mode
// (the image is enlarged whatever its aspect), or a side below one step in no-upscale mode
// (the image cannot fill a bucket side at all). The audit reports these images.
bool below_smallest_bucket(int image_width, int image_height, const BucketSettings& s);

// What happens to a bucket whose entries (images x repeats) do not fill its last batch.
enum class RemainderPolicy {
  Partial,  // kohya: the last batch is smaller; everything is trained
  Drop,     // OneTrainer: the remainder is left out each epoch; a bucket below B is never seen
  Pad,      // ai-toolkit: the last batch is filled with duplicates from the same bucket
};
const char* remainder_policy_name(RemainderPolicy p);  // "partial", "drop", "pad"
std::optional<RemainderPolicy> parse_remainder_policy(const std::string& name);

// How much training an image (or a bucket) gets per epoch under the policy.
enum class TrainFate {
  Trained,  // every entry is trained each epoch (pad may add duplicates)
  Rarely,   // expected views per epoch below PlanOptions::rare_fraction of its repeats
  Never,    // expected views per epoch are zero
};
const char* train_fate_name(TrainFate f);  // "trained", "rarely", "never"

struct PlanOptions {
  double rare_fraction = 0.75;  // below this share of its repeats an image is "rarely trained"
};

struct PlannedImage {
  std::filesystem::path path;
  std::size_t concept_index = 0;  // into Dataset::concepts
  std::size_t item_index = 0;     // into Concept::items
  int width = 0;
  int height = 0;
  int repeats = 0;  // effective repeats per epoch (see plan_buckets)
  BucketAssignment assignment;
  std::size_t bucket_index = 0;  // into BucketPlan::buckets
  double views_per_epoch = 0;    // expected times the image is trained per epoch
  TrainFate fate = TrainFate::Trained;
  std::string why;  // for Rarely / Never: the reason in words
};

struct BucketSummary {
  BucketSize size;
  std::size_t images = 0;         // distinct images
  long long entries = 0;          // images x repeats: what kohya puts in the bucket
  long long batches = 0;          // batches per epoch under the policy
  long long trained_entries = 0;  // entries trained per epoch (drop: batches x B)
  long long dropped = 0;          // drop: entries left out per epoch
  long long padded = 0;           // pad: duplicates added to fill the last batch
  long long last_batch = 0;       // size of the last batch (partial: may be below B)
  TrainFate fate = TrainFate::Trained;
  std::vector<std::size_t> image_indices;  // into BucketPlan::images, in dataset order
};

struct SkippedImage {
  std::filesystem::path path;
  std::string reason;  // the header problem: the image has no size to bucket
};

struct BucketPlan {
  BucketSettings settings;
  int batch_size = 1;
  RemainderPolicy policy = RemainderPolicy::Partial;
  double rare_fraction = 0.75;          // PlanOptions::rare_fraction the plan was made with
  std::vector<BucketSize> resolutions;  // the predefined list (empty in no-upscale mode)
  std::vector<PlannedImage> images;     // every image with a readable size, dataset order
  std::vector<BucketSummary> buckets;   // the non-empty buckets, sorted by (width, height)
  std::vector<SkippedImage> skipped;    // images without a readable size
  long long total_entries = 0;
  long long total_batches = 0;  // steps per epoch (one batch per step)
  long long total_dropped = 0;
  long long total_padded = 0;
};

// Plans one epoch. Entries: kohya puts each image into its bucket `repeats` times, so a
// bucket's remainder is computed on images x repeats, not on images. Concepts with repeats
// below 1 are ignored by kohya (their images are Never trained). Regularization concepts are
// balanced as kohya does: reg images are taken in dataset order, one pass with their repeats,
// then one extra repeat each round, until they match the training images x repeats; reg
// images beyond that get 0 repeats (Never). Drop: after the bucket is shuffled its last
// entries % B are left out, so each image's expected views are repeats x trained / entries.
// Pad: duplicates drawn from the bucket fill the last batch, so expected views are
// repeats x (batches x B) / entries. Throws lathe::Error for batch_size < 1 or bad settings.
BucketPlan plan_buckets(const Dataset& dataset, const BucketSettings& settings, int batch_size,
                        RemainderPolicy policy, const PlanOptions& options = {});

}  // namespace lathe
