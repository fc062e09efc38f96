// Stop or skip on images training cannot use (see bad_images.h).
#include "train/data/bad_images.h"

#include <fmt/format.h>

#include "common/error.h"
#include "dataset/dataset.h"
#include "dataset/decode_limit.h"
#include "train/config/train_config.h"

namespace lathe {
namespace {

constexpr std::size_t kListed = 5;  // bad images named in the stop error before "and N more"

const char* kWhatToDo =
    "re-export or delete the image (`lathe audit DATASET` lists every such file), or set "
    "dataset.on_bad_image = \"skip\" to train without it";

// Why training cannot use an item's image, from what the scan read; empty when it can.
std::string scanned_problem(const Item& item) {
  if (!item.image.ok) return item.image.problem;
  return decode_size_problem(item.image);
}

}  // namespace

BadImages::BadImages(BadImagePolicy policy, Warn warn) : policy_(policy), warn_(std::move(warn)) {}

std::string bad_image_stop_message(const std::string& what) {
  return fmt::format("{}; training stops (dataset.on_bad_image = \"stop\"): {}", what, kWhatToDo);
}

void BadImages::handle(const BadImageError& e) {
  if (policy_ == BadImagePolicy::Stop) throw Error(bad_image_stop_message(e.what()));
  if (!left_out_.insert(e.path()).second) return;
  if (warn_)
    warn_(fmt::format("{}; left out of training from here on (dataset.on_bad_image = \"skip\")",
                      e.what()));
}

std::vector<std::string> remove_bad_images(Dataset& dataset, BadImagePolicy policy) {
  std::vector<std::string> bad;
  for (Concept& c : dataset.concepts) {
    std::vector<Item> kept;
    kept.reserve(c.items.size());
    for (Item& item : c.items) {
      std::string problem = item.image_path.empty() ? std::string() : scanned_problem(item);
      if (!problem.empty()) {
        bad.push_back(fmt::format("{}: {}", item.image_path.string(), problem));
        if (policy == BadImagePolicy::Skip) continue;
      }
      kept.push_back(std::move(item));
    }
    c.items = std::move(kept);
  }
  if (bad.empty() || policy == BadImagePolicy::Skip) {
    for (std::string& b : bad) b += "; not trained (dataset.on_bad_image = \"skip\")";
    return bad;
  }
  std::string list;
  for (std::size_t i = 0; i < bad.size() && i < kListed; ++i) list += "\n  " + bad[i];
  if (bad.size() > kListed) list += fmt::format("\n  ... and {} more", bad.size() - kListed);
  throw Error(fmt::format("{} image{} training cannot use:{}\nTraining does not start "
                          "(dataset.on_bad_image = \"stop\"): {}",
                          bad.size(), bad.size() == 1 ? "" : "s", list, kWhatToDo));
}

}  // namespace lathe
