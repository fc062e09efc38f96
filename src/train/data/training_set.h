// What a run trains and validates on, decided once at the start: the scanned dataset, the
// validation images (a seeded held-out split of the training images, or a validation concept
// folder), every remaining image as a TrainingExample with its bucket assignment, and the
// bucket plan over them (batch size and remainder policy from the profile). Built from the
// TrainConfig alone, so a resumed run rebuilds exactly the same set.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "dataset/bucket_plan.h"
#include "dataset/dataset.h"

namespace lathe {

struct TrainConfig;

struct TrainingExample {
  std::filesystem::path image_path;
  std::string caption;            // the caption file's text, trimmed; "" when it has none
  std::size_t concept_index = 0;  // into TrainingSet::concept_names
  double loss_weight = 1.0;       // the concept's loss_weight (regularization weight)
  bool is_regularization = false;
  int image_width = 0;            // as the header says (EXIF orientation applied)
  int image_height = 0;
  BucketAssignment assignment;    // bucket, resize and centre-crop for this image
};

struct TrainingSet {
  Dataset dataset;                          // the training images only (validation removed)
  BucketPlan plan;                          // over `dataset`
  std::vector<TrainingExample> train;       // train[i] is plan.images[i]
  std::vector<TrainingExample> validation;  // bucketed with the same settings, batch 1
  std::vector<std::string> concept_names;   // training concepts, then validation concept(s)
  // kohya's ss_tag_frequency: concept folder name -> lower-cased tag -> times it occurs in the
  // training captions (kohya counts a tag repeated in one caption twice).
  std::map<std::string, std::map<std::string, int>> tag_frequency;
  // Images left out (dataset.on_bad_image = "skip"; under "stop" building the set throws) or
  // captions that could not be read: the trainer logs them; a set with no trainable image is
  // an error.
  std::vector<std::string> warnings;
};

// Scans config.dataset, splits off validation (config.validation.split of the training images,
// chosen with config.validation.seed, at least one image when split > 0; or the images of
// config.validation.concept), assigns buckets (config.data bucket keys, training resolution)
// and plans the epoch (batch size, remainder policy). Throws lathe::Error naming the dataset
// path when nothing is left to train, and naming the images when some cannot be used and
// dataset.on_bad_image is "stop" (unreadable, cut short, corrupt header, over the decode limit).
TrainingSet build_training_set(const TrainConfig& config);

// BucketSettings from the profile ([dataset] bucket keys, [training] resolution). With
// bucketing off, the only bucket is the resolution itself (every image resized to cover it
// and cropped).
BucketSettings bucket_settings(const TrainConfig& config);

}  // namespace lathe
