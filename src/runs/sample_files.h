// Sample image names in a run's samples/ folder (README "Run directory"): the trainer writes
// `step000250-epoch002-prompt01-seed1235.png`, and everything that shows samples (the TUI's
// samples view, the epoch grid, scripts) lists them through these functions, so the name is
// written and read in one place.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lathe {

struct SampleFile {
  std::int64_t step = 0;       // optimizer steps done when the image was rendered (0: at start)
  int epoch = 0;               // epochs completed at that point (0 before the first ends)
  int prompt_index = 0;        // 0-based index into the profile's [sample] prompt list
  std::uint64_t seed = 0;      // the seed the image was rendered with ([sample] seed + index)
  std::filesystem::path path;  // full path of the PNG (empty from format/parse alone)
};

// "step{step:06}-epoch{epoch:03}-prompt{index:02}-seed{seed}.png"; wider numbers are written
// in full (step 1234567 gives "step1234567").
std::string format_sample_name(std::int64_t step, int epoch, int prompt_index,
                               std::uint64_t seed);

// The fields of a file name written by format_sample_name (a path is accepted; only its file
// name is read, and `path` of the result is set to it). nullopt for any other name, including
// the temporary files of an atomic write.
std::optional<SampleFile> parse_sample_name(const std::filesystem::path& path);

// Every sample image in run_dir/samples/, sorted by step, then prompt index, then seed; files
// with other names are ignored. An absent folder gives an empty list.
std::vector<SampleFile> list_samples(const std::filesystem::path& run_dir);

}  // namespace lathe
