// Repeats balance: how many image presentations each concept gets per epoch (images x repeats),
// whether one concept dominates, and the repeats that would even them out. Regularization
// concepts are listed but left out of the balance: kohya pairs them with the training images.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "dataset/dataset.h"

namespace lathe {

struct ConceptBalance {
  std::string concept;
  std::string folder;
  std::size_t images = 0;         // items with an image file
  int repeats = 1;
  std::size_t per_epoch = 0;      // images x repeats
  double share = 0.0;             // percent of the balanced concepts' per-epoch total
  int suggested_repeats = 1;      // repeats that bring per_epoch near the largest concept's
  std::size_t suggested_per_epoch = 0;
  bool regularization = false;
};

struct RepeatsBalance {
  std::vector<ConceptBalance> concepts;  // parallel to Dataset::concepts
  std::size_t per_epoch_total = 0;       // training (non-regularization) concepts
  double ratio = 1.0;        // largest / smallest per_epoch among balanced concepts with images
  double threshold = 1.5;    // ratio above which the dataset counts as imbalanced
  bool imbalanced = false;
};

// Suggests, for each training concept, the repeats that bring its images x repeats closest to
// the largest concept's (never below 1), so under-represented concepts are raised and the
// dominant one keeps its repeats.
RepeatsBalance compute_repeats_balance(const Dataset& dataset, double threshold);

}  // namespace lathe
