// Computes per-epoch image counts per concept and the repeats that would balance them.
#include "dataset/repeats_balance.h"

#include <algorithm>
#include <cmath>

namespace lathe {

RepeatsBalance compute_repeats_balance(const Dataset& dataset, double threshold) {
  RepeatsBalance b;
  b.threshold = threshold;
  std::size_t largest = 0, smallest = 0;
  for (const Concept& c : dataset.concepts) {
    ConceptBalance cb;
    cb.concept = c.name;
    cb.folder = c.folder_name;
    cb.repeats = std::max(1, c.repeats);
    cb.regularization = c.is_regularization;
    for (const Item& item : c.items)
      if (!item.image_path.empty()) ++cb.images;
    cb.per_epoch = cb.images * static_cast<std::size_t>(cb.repeats);
    if (!cb.regularization && cb.images > 0) {
      b.per_epoch_total += cb.per_epoch;
      largest = std::max(largest, cb.per_epoch);
      smallest = smallest == 0 ? cb.per_epoch : std::min(smallest, cb.per_epoch);
    }
    b.concepts.push_back(std::move(cb));
  }
  if (smallest > 0) b.ratio = static_cast<double>(largest) / static_cast<double>(smallest);
  b.imbalanced = b.ratio > threshold;
  for (ConceptBalance& cb : b.concepts) {
    if (!cb.regularization && b.per_epoch_total > 0)
      cb.share = 100.0 * static_cast<double>(cb.per_epoch) / static_cast<double>(b.per_epoch_total);
    cb.suggested_repeats = cb.repeats;
    if (!cb.regularization && cb.images > 0 && b.imbalanced) {
      double ideal = static_cast<double>(largest) / static_cast<double>(cb.images);
      cb.suggested_repeats = std::max(1, static_cast<int>(std::lround(ideal)));
    }
    cb.suggested_per_epoch = cb.images * static_cast<std::size_t>(cb.suggested_repeats);
  }
  return b;
}

}  // namespace lathe
