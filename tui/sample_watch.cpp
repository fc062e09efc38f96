// Samples folder watching (see sample_watch.h).
#include "tui/sample_watch.h"

namespace lathe::tui {

bool SampleWatch::refresh() {
  FileStamp now = stamp_of(run_dir_ / "samples");
  if (now == stamp_) return false;
  stamp_ = now;
  table_ = make_sample_table(list_samples(run_dir_));
  prompts_ = column_prompts(table_);
  return true;
}

}  // namespace lathe::tui
