// Building the TrainingSet a run trains on: scan the profile's dataset, hold out the validation
// images (a seeded per-concept split, or a concept folder of their own), plan the buckets of
// what remains (images the scan found unusable stop the run or leave it: dataset.on_bad_image),
// and collect what the trainer needs per image (caption, weight, assignment) and
// for the LoRA metadata (kohya's ss_tag_frequency). Everything is a function of the TrainConfig
// and the files, so a resumed run rebuilds the same set.
#include "train/data/training_set.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/error.h"
#include "common/seeded_rng.h"
#include "train/data/bad_images.h"
#include "train/config/train_config.h"

namespace lathe {
namespace {

constexpr std::uint64_t kSplitTag = 0x73706c6974000000ull;  // "split"

bool has_usable_size(const Item& item) {
  return !item.image_path.empty() && item.image.ok && item.image.width >= 1 &&
         item.image.height >= 1;
}

// The caption as the text encoder gets it: the file's tags (extra lines are more tags, as the
// audit reads them), trimmed and joined with ", ".
std::string caption_of(const Item& item, std::vector<std::string>& warnings) {
  if (!item.caption_problem.empty()) {
    warnings.push_back(
        fmt::format("{}: {}; the image is trained with an empty caption",
                    item.caption_path ? item.caption_path->string() : item.image_path.string(),
                    item.caption_problem));
    return "";
  }
  if (!item.caption) return "";
  if (!item.caption->valid_utf8)
    warnings.push_back(fmt::format("{}: caption is not valid UTF-8; fix its encoding",
                                   item.caption_path->string()));
  std::string out;
  for (const std::string& tag : item.caption->tags) {
    if (!out.empty()) out += ", ";
    out += tag;
  }
  return out;
}

TrainingExample make_example(const Concept& c, const Item& item, std::size_t concept_index,
                             const BucketAssignment& assignment,
                             std::vector<std::string>& warnings) {
  TrainingExample ex;
  ex.image_path = item.image_path;
  ex.caption = caption_of(item, warnings);
  ex.concept_index = concept_index;
  ex.loss_weight = c.loss_weight;
  ex.is_regularization = c.is_regularization;
  ex.image_width = item.image.width;
  ex.image_height = item.image.height;
  ex.assignment = assignment;
  return ex;
}

// A validation image with its bucket, or a warning when its size cannot be bucketed.
void add_validation_example(const Concept& c, const Item& item, std::size_t concept_index,
                            const BucketSelector& selector, TrainingSet& set) {
  if (!has_usable_size(item)) {
    set.warnings.push_back(fmt::format("{}: {}; left out of validation", item.image_path.string(),
                                       item.image.problem));
    return;
  }
  try {
    const BucketAssignment a = selector.select(item.image.width, item.image.height);
    set.validation.push_back(make_example(c, item, concept_index, a, set.warnings));
  } catch (const Error& e) {
    set.warnings.push_back(
        fmt::format("{}: {}; left out of validation", item.image_path.string(), e.what()));
  }
}

// How many of a concept's n usable images are held out: split x n rounded, at least one and
// never all of them; none from a concept of a single image.
std::size_t held_out_count(std::size_t n, double split) {
  if (n < 2 || split <= 0.0) return 0;
  const auto k = static_cast<std::size_t>(std::llround(split * static_cast<double>(n)));
  return std::clamp<std::size_t>(k, 1, n - 1);
}

// Moves the held-out items of every training concept out of `dataset` into validation
// examples. Regularization concepts are never split: they are not what the LoRA learns.
void split_validation(Dataset& dataset, const TrainConfig& config, const BucketSelector& selector,
                      TrainingSet& set) {
  for (std::size_t ci = 0; ci < dataset.concepts.size(); ++ci) {
    Concept& c = dataset.concepts[ci];
    if (c.is_regularization) continue;
    std::vector<std::size_t> usable;
    for (std::size_t i = 0; i < c.items.size(); ++i)
      if (has_usable_size(c.items[i])) usable.push_back(i);
    const std::size_t k = held_out_count(usable.size(), config.validation.split);
    if (k == 0) continue;
    SeededRng rng(mix_seed(config.validation.seed, {kSplitTag, ci}));
    rng.shuffle(usable.begin(), usable.end());
    std::vector<bool> held(c.items.size(), false);
    for (std::size_t j = 0; j < k; ++j) held[usable[j]] = true;
    std::vector<Item> kept;
    for (std::size_t i = 0; i < c.items.size(); ++i) {
      if (!held[i]) {
        kept.push_back(std::move(c.items[i]));
        continue;
      }
      add_validation_example(c, c.items[i], ci, selector, set);
    }
    c.items = std::move(kept);
  }
}

// The validation concept folder, scanned as one more concept (1 repeat, weight 1).
void add_validation_concept(const TrainConfig& config, const BucketSelector& selector,
                            TrainingSet& set) {
  const std::filesystem::path& folder = *config.validation.concept;
  ConceptSpec spec;
  spec.path = folder;
  spec.caption_extension = config.dataset.options.caption_extension;
  Dataset scanned = scan_concepts(folder.parent_path(), {spec}, config.dataset.options);
  for (std::string& w : remove_bad_images(scanned, config.data.on_bad_image))
    set.warnings.push_back(std::move(w));
  const Concept& c = scanned.concepts.at(0);
  if (!c.scan_problems.empty())
    throw Error(fmt::format("validation.concept {}: {}", folder.string(), c.scan_problems[0]));
  std::string name = c.folder_name;
  if (std::find(set.concept_names.begin(), set.concept_names.end(), name) !=
      set.concept_names.end())
    name += " (validation)";
  const std::size_t ci = set.concept_names.size();
  set.concept_names.push_back(name);
  for (const Item& item : c.items)
    if (!item.image_path.empty()) add_validation_example(c, item, ci, selector, set);
  if (set.validation.empty())
    throw Error(
        fmt::format("validation.concept {}: the folder holds no usable image; add "
                    "images or remove the key",
                    folder.string()));
}

// kohya's ss_tag_frequency (train_util.BaseDataset.set_tag_frequency): per concept folder,
// every comma-separated tag lower-cased, counted once per occurrence.
void count_tags(const Dataset& dataset, TrainingSet& set) {
  for (const Concept& c : dataset.concepts) {
    auto& counts = set.tag_frequency[c.folder_name];
    for (const Item& item : c.items) {
      if (item.image_path.empty() || !item.caption) continue;
      for (std::string tag : item.caption->tags) {
        for (char& ch : tag) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        counts[tag] += 1;
      }
    }
  }
}

void collect_scan_warnings(const Dataset& dataset, std::vector<std::string>& warnings) {
  for (const std::string& p : dataset.scan_problems) warnings.push_back(p);
  for (const Concept& c : dataset.concepts)
    for (const std::string& p : c.scan_problems) warnings.push_back(p);
}

[[noreturn]] void fail_nothing_to_train(const TrainConfig& config, const BucketPlan& plan) {
  std::string why;
  if (plan.images.empty())
    why = plan.skipped.empty()
              ? "it holds no images"
              : fmt::format("none of its {} images has a readable size (first: {}: {})",
                            plan.skipped.size(), plan.skipped[0].path.string(),
                            plan.skipped[0].reason);
  else
    why = fmt::format(
        "with batch size {} and remainder policy {} no bucket fills a batch; lower "
        "training.batch_size or use remainder_policy = \"partial\"",
        plan.batch_size, remainder_policy_name(plan.policy));
  throw Error(fmt::format("dataset {}: nothing to train: {}", config.dataset.root.string(), why));
}

}  // namespace

BucketSettings bucket_settings(const TrainConfig& config) {
  BucketSettings s;
  s.width = config.training.width;
  s.height = config.training.height;
  s.min_bucket_reso = config.data.min_bucket_reso;
  s.max_bucket_reso = config.data.max_bucket_reso;
  s.bucket_reso_steps = config.data.bucket_reso_steps;
  s.no_upscale = config.data.bucket_no_upscale;
  s.single_bucket = !config.data.bucketing;
  return s;
}

TrainingSet build_training_set(const TrainConfig& config) {
  TrainingSet set;
  const BucketSettings settings = bucket_settings(config);
  const BucketSelector selector(settings);
  Dataset dataset = scan_profile_dataset(config.dataset, config.dataset.options);
  collect_scan_warnings(dataset, set.warnings);
  // Images that cannot be used stop the run here, before the model loads, or leave it.
  for (std::string& w : remove_bad_images(dataset, config.data.on_bad_image))
    set.warnings.push_back(std::move(w));
  for (const Concept& c : dataset.concepts) set.concept_names.push_back(c.folder_name);

  if (config.validation.split > 0.0) split_validation(dataset, config, selector, set);
  if (config.validation.concept) add_validation_concept(config, selector, set);

  set.plan = plan_buckets(dataset, settings, static_cast<int>(config.training.batch_size),
                          config.data.remainder_policy);
  for (const SkippedImage& s : set.plan.skipped)
    set.warnings.push_back(fmt::format("{}: {}; not trained", s.path.string(), s.reason));
  if (set.plan.total_batches == 0) fail_nothing_to_train(config, set.plan);

  set.train.reserve(set.plan.images.size());
  for (const PlannedImage& im : set.plan.images) {
    const Concept& c = dataset.concepts[im.concept_index];
    set.train.push_back(
        make_example(c, c.items[im.item_index], im.concept_index, im.assignment, set.warnings));
  }
  count_tags(dataset, set);
  set.dataset = std::move(dataset);
  return set;
}

}  // namespace lathe
