// The Buckets screen (see buckets_screen.h).
#include "tui/buckets_screen.h"

#include <fmt/format.h>

#include "common/error.h"
#include "dataset/audit_context.h"
#include "tui/canvas.h"
#include "tui/prompt_dialog.h"
#include "tui/workspace.h"

namespace lathe::tui {

namespace {
enum Action { kResolution = 100, kBatch, kPolicy };

Role fate_role(TrainFate f) {
  return f == TrainFate::Never ? Role::Error : f == TrainFate::Rarely ? Role::Warn : Role::Normal;
}
}  // namespace

const BindingTable& BucketsScreen::binding_table() {
  static const BindingTable t = [] {
    BindingTable b = movement_bindings();
    BindingTable own = {
        {{'r'}, "r", "resolution", kResolution},
        {{'b'}, "b", "batch size", kBatch},
        {{'p'}, "p", "remainder policy", kPolicy},
    };
    b.insert(b.end(), own.begin(), own.end());
    return b;
  }();
  return t;
}

void BucketsScreen::replan() {
  BucketSettings s = settings_;
  parse_bucket_resolution(resolution_, s);
  plan_ = plan_buckets(ws_.dataset(), s, batch_size_, policy_);
  built_generation_ = ws_.generation();
}

void BucketsScreen::draw(Canvas& c, const Rect& body) {
  try {
    if (!plan_ || built_generation_ != ws_.generation()) replan();
  } catch (const Error& e) {
    c.text(body.y + 1, body.x + 1, "Cannot plan the buckets:", Role::Error, body.w - 2);
    c.text(body.y + 2, body.x + 1, e.what(), Role::Normal, body.w - 2);
    return;
  }
  const BucketPlan& p = *plan_;
  SplitLayout l = split_rows(body, 0.35, 6);
  c.heading(Rect{l.top.y, l.top.x, 1, l.top.w},
            fmt::format("Resolution {}, batch size {}, policy {}: {} buckets, {} steps per epoch",
                        resolution_, batch_size_, remainder_policy_name(policy_), p.buckets.size(),
                        p.total_batches),
            true);
  c.line(l.top.y + 1, l.top.x,
         fmt::format("  {:>11} {:>7} {:>8} {:>8} {:>10}  {}", "bucket", "images", "entries",
                     "batches", "last batch", "trained"),
         l.top.w, Role::Header);
  visible_ = l.top.h - 2;
  cursor_.clamp(static_cast<int>(p.buckets.size()), visible_);
  for (int row = 0; row < visible_; ++row) {
    int i = cursor_.top + row;
    if (i >= static_cast<int>(p.buckets.size())) break;
    const BucketSummary& b = p.buckets[static_cast<std::size_t>(i)];
    bool sel = i == cursor_.selected;
    bool short_batch = b.entries < p.batch_size;
    std::string text = fmt::format("{} {:>11} {:>7} {:>8} {:>8} {:>10}  {}{}", sel ? ">" : " ",
                                   fmt::format("{}x{}", b.size.width, b.size.height), b.images,
                                   b.entries, b.batches, b.last_batch, train_fate_name(b.fate),
                                   short_batch ? "  (never fills a batch)" : "");
    c.line(l.top.y + 2 + row, l.top.x, text, l.top.w,
           sel           ? Role::Selected
           : short_batch ? Role::Warn
                         : fate_role(b.fate));
  }
  if (p.buckets.empty())
    c.text(l.top.y + 3, l.top.x + 2, "no images with a readable size", Role::Dim);
  // Images of the selected bucket that are not fully trained, else all of them.
  c.heading(Rect{l.bottom.y, l.bottom.x, 1, l.bottom.w}, "Images of the bucket", false);
  if (p.buckets.empty()) return;
  const BucketSummary& b = p.buckets[static_cast<std::size_t>(cursor_.selected)];
  int y = l.bottom.y + 1;
  for (std::size_t idx : b.image_indices) {
    if (y >= l.bottom.bottom()) break;
    const PlannedImage& im = p.images[idx];
    std::string rel = relative_to_root(ws_.dataset().root, im.path);
    std::string text = fmt::format("  {:<40} {}x{} x{} repeats  {:.2f} views/epoch  {}{}", rel,
                                   im.width, im.height, im.repeats, im.views_per_epoch,
                                   train_fate_name(im.fate), im.why.empty() ? "" : ": " + im.why);
    c.line(y++, l.bottom.x, text, l.bottom.w, fate_role(im.fate));
  }
}

Reaction BucketsScreen::on_action(int action) {
  if (cursor_.move(action, plan_ ? static_cast<int>(plan_->buckets.size()) : 0, visible_))
    return Reaction::draw();
  switch (action) {
    case kResolution:
      return Reaction::open(std::make_unique<PromptDialog>(
          "Resolution", "Training resolution (512, 768x512, 1024):", resolution_,
          [this](const std::string& text) {
            BucketSettings s = settings_;
            parse_bucket_resolution(text, s);  // throws with the reason when it is not one
            validate_bucket_settings(s);
            resolution_ = text;
            plan_.reset();
            cursor_ = {};
            return Reaction::draw();
          }));
    case kBatch:
      return Reaction::open(std::make_unique<PromptDialog>(
          "Batch size", "Batch size (1..1024):", std::to_string(batch_size_),
          [this](const std::string& text) {
            int n = 0;
            try {
              std::size_t used = 0;
              n = std::stoi(text, &used);
              if (used != text.size()) n = 0;
            } catch (const std::exception&) {
            }
            if (n < 1 || n > 1024)
              throw Error(fmt::format("batch size must be a whole number 1..1024, got '{}'", text));
            batch_size_ = n;
            plan_.reset();
            return Reaction::draw();
          }));
    case kPolicy:
      policy_ = policy_ == RemainderPolicy::Partial ? RemainderPolicy::Drop
                : policy_ == RemainderPolicy::Drop  ? RemainderPolicy::Pad
                                                    : RemainderPolicy::Partial;
      plan_.reset();
      return Reaction::draw();
  }
  return {};
}

}  // namespace lathe::tui
