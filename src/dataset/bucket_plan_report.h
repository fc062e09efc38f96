// The bucket plan as text (a table of buckets and the images never or rarely trained) and as
// the versioned JSON document of `lathe buckets --json` (schema "lathe.buckets"). Field names
// and meanings are a contract: change them only with a version bump and a README note.
#pragma once

#include <cstddef>
#include <string>

#include "dataset/bucket_plan.h"

namespace lathe {

constexpr int kBucketsJsonVersion = 1;

struct BucketTextOptions {
  std::size_t max_listed = 20;  // images listed per fate; 0 lists every one
};

std::string format_bucket_plan_text(const BucketPlan& plan, const Dataset& dataset,
                                    const BucketTextOptions& options = {});

// Paths are relative to the dataset root when inside it.
std::string format_bucket_plan_json(const BucketPlan& plan, const Dataset& dataset);

}  // namespace lathe
