// The dataset part of a profile: `[dataset]` (path, caption_extension, recursive) and the
// optional `[[concepts]]` list (path, repeats, activation_tag, caption_extension,
// is_regularization, loss_weight). Relative paths resolve against dataset.path, else against
// the profile's folder. Also the one entry point the CLI and TUI use to get a Dataset from a
// path that is either a dataset folder or a profile.
#pragma once

#include <filesystem>
#include <vector>

#include "dataset/dataset.h"

namespace lathe {

class Profile;

struct ProfileDataset {
  std::filesystem::path root;         // dataset.path resolved, or the profile's folder
  bool has_dataset_path = false;      // [dataset] path was given
  std::vector<ConceptSpec> concepts;  // empty: scan `root` as a kohya folder
  ScanOptions options;                // caption_extension and recursive from [dataset]
};

// Reads and validates [dataset] and [[concepts]]. Throws lathe::Error naming the file, line
// and key ("p.toml:7: key concepts[2].repeats: must be at least 1, got 0"). Keys it does not
// know are left to the full profile schema. `defaults` supplies what the profile leaves out.
ProfileDataset read_profile_dataset(const Profile& profile, const ScanOptions& defaults = {});

// Scans what a profile describes: its [[concepts]], or the kohya folder at dataset.path.
Dataset scan_profile_dataset(const ProfileDataset& spec, const ScanOptions& options);

// A dataset folder or a profile .toml -> the scanned Dataset. `options` carries deep/threads
// (and the defaults for a folder); a profile's [dataset] keys override caption_extension and
// recursive. Throws lathe::Error when the path is neither, or the profile is invalid.
Dataset load_dataset(const std::filesystem::path& path, const ScanOptions& options);

}  // namespace lathe
