// The dataset model: concepts (kohya `N_name` folders or profile [[concepts]]), their items
// (an image and its caption file), and the files that belong to no item. Scanning fills it;
// the audit, the tag statistics, the bucket planner and the trainer all read it.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dataset/caption.h"
#include "dataset/image_header.h"

namespace lathe {

struct Item {
  std::filesystem::path image_path;               // empty for a caption without an image
  std::optional<std::filesystem::path> caption_path;  // absent when the image has none
  ImageInfo image;
  std::optional<CaptionText> caption;             // parsed when the caption file was readable
  std::string caption_problem;                    // unreadable / too large / ... (empty when fine)
  std::string deep_problem;                       // --deep decode failure (empty when fine)
};

struct Concept {
  std::string name;              // folder name without the repeats prefix ("jinx girl")
  std::string folder_name;       // as on disk ("10_jinx girl")
  std::filesystem::path path;
  int repeats = 1;
  std::string caption_extension = ".txt";
  std::optional<std::string> activation_tag;  // from the profile; inferred later when absent
  bool is_regularization = false;             // prior-preservation images
  double loss_weight = 1.0;
  std::vector<Item> items;                    // images (with or without caption), sorted by path
  std::vector<std::filesystem::path> orphan_captions;  // caption files with no image
  // Files that are neither a supported image nor a caption (.gif, .json, .npz, ...), sorted;
  // training ignores them, the audit may point out the ones that look like images.
  std::vector<std::filesystem::path> other_files;
  // Subfolders not scanned because ScanOptions::recursive is off (kohya does not read them
  // either): their images are not trained, which the audit may warn about.
  std::vector<std::filesystem::path> skipped_subfolders;
  std::vector<std::string> scan_problems;     // permission denied, symlink loop, ... per concept
};

struct Dataset {
  std::filesystem::path root;
  std::vector<Concept> concepts;
  std::vector<std::string> scan_problems;  // problems not tied to one concept
  std::size_t image_count() const;
};

struct ScanOptions {
  std::string caption_extension = ".txt";
  bool recursive = false;  // descend into subfolders of a concept (kohya: off)
  bool deep = false;       // decode every image with OpenCV
  int threads = 0;         // 0: hardware concurrency
};

// Scans a kohya-style dataset root: every subfolder is a concept (`10_name` = 10 repeats).
// A root that holds images directly is one concept of 1 repeat. Throws lathe::Error when the
// root is missing or not a folder; problems below it become scan_problems, never throws.
Dataset scan_dataset(const std::filesystem::path& root, const ScanOptions& options);

// Scans the concepts a profile lists explicitly (see profile_concepts.h).
struct ConceptSpec {
  std::filesystem::path path;
  int repeats = 1;
  std::optional<std::string> activation_tag;
  std::string caption_extension = ".txt";
  bool is_regularization = false;
  double loss_weight = 1.0;
};
Dataset scan_concepts(const std::filesystem::path& root, const std::vector<ConceptSpec>& specs,
                      const ScanOptions& options);

// Splits a kohya folder name: "10_jinx girl" -> {10, "jinx girl"}; "jinx" -> {1, "jinx"}.
// A prefix of more than 6 digits is not read as repeats; "0_x" gives 0 (the audit flags it).
std::pair<int, std::string> parse_concept_folder_name(const std::string& folder_name);

// Caption files larger than this are not read: no tag list is that long, so the file is
// something else under a caption's name. The item gets a caption_problem instead.
constexpr std::size_t kMaxCaptionBytes = std::size_t(1) << 20;

}  // namespace lathe
