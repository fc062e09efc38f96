// The sample images of one run for the run page and the samples view: rereads the samples/
// folder (runs/sample_table.h groups it) only when the folder's time or size changed, so a
// poll twice a second costs one stat call. The trainer adds images by renaming them in, which
// changes the folder's time.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "runs/sample_table.h"
#include "tui/run_watch.h"

namespace lathe::tui {

class SampleWatch {
 public:
  explicit SampleWatch(std::filesystem::path run_dir) : run_dir_(std::move(run_dir)) {}
  // Rereads when the folder changed; true when the table may differ.
  bool refresh();
  const SampleTable& table() const { return table_; }
  // Each column's prompt, read from its newest image when the folder changed ("" unknown).
  const std::vector<std::string>& prompts() const { return prompts_; }

 private:
  std::filesystem::path run_dir_;
  FileStamp stamp_;
  SampleTable table_;
  std::vector<std::string> prompts_;
};

}  // namespace lathe::tui
