// The Buckets screen: the aspect-ratio bucket plan (kohya's rules, dataset/bucket_plan.h)
// for a chosen resolution (`r`), batch size (`b`) and remainder policy (`p`): per bucket the
// images, entries (images x repeats), batches and the size of the last batch; below, the
// images of the selected bucket that are rarely or never trained, and the buckets whose
// entries never fill one batch.
#pragma once

#include <optional>
#include <string>

#include "dataset/bucket_plan.h"
#include "tui/list_cursor.h"
#include "tui/screen.h"

namespace lathe::tui {

class Workspace;

class BucketsScreen : public Screen {
 public:
  explicit BucketsScreen(Workspace& ws) : ws_(ws) {}
  std::string title() const override { return "Buckets"; }
  const BindingTable& bindings() const override { return binding_table(); }
  static const BindingTable& binding_table();
  void draw(Canvas& canvas, const Rect& body) override;
  Reaction on_action(int action) override;

 private:
  void replan();

  Workspace& ws_;
  BucketSettings settings_;
  std::string resolution_ = "512";
  int batch_size_ = 1;
  RemainderPolicy policy_ = RemainderPolicy::Partial;
  std::optional<BucketPlan> plan_;
  int built_generation_ = -1;
  ListCursor cursor_;
  int visible_ = 10;
};

}  // namespace lathe::tui
