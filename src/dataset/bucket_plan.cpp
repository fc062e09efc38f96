// kohya-ss sd-scripts bucketing (library/model_util.py make_bucket_resolutions,
// library/train_util.py BucketManager) and the per-epoch batch plan over a Dataset. The
// arithmetic mirrors Python's step for step in doubles (int(x + 0.5), floor division, the
// numpy argmin tie rule), because one ulp decides some assignments (the ar_near_tie fixtures).
#include "dataset/bucket_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "common/error.h"

namespace lathe {
namespace {

// Python's int(x) for the non-negative doubles bucketing produces.
long long py_int(double x) {
  return static_cast<long long>(x);
}

// Python's int(x + 0.5) as a pixel count, refusing sizes no image can be resized to (a header
// claiming a 2^31-pixel side) instead of overflowing.
int rounded_side(double x, int w, int h) {
  if (!(x + 0.5 < 1073741824.0))
    throw Error(fmt::format("image size {}x{}: resizing it for a bucket needs a side of {:.0f} "
                            "pixels; check the file's header",
                            w, h, x));
  return static_cast<int>(py_int(x + 0.5));
}

long long floor_to(long long x, long long step) {
  return x - x % step;
}

long long ceil_div(long long a, long long b) {
  return (a + b - 1) / b;
}

// Python's float floor division `a // b` (CPython float_floor_div), not floor(a / b): the two
// differ when a / b rounds up onto an integer.
double py_floordiv(double a, double b) {
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1.0;
  if (div == 0) return std::copysign(0.0, a / b);
  double fl = std::floor(div);
  if (div - fl > 0.5) fl += 1.0;
  return fl;
}

}  // namespace

void parse_bucket_resolution(const std::string& text, BucketSettings& s) {
  auto side = [&](const std::string& part) {
    bool digits = !part.empty() && part.size() <= 5 &&
                  part.find_first_not_of("0123456789") == std::string::npos;
    int v = digits ? std::stoi(part) : 0;
    if (v < 1)
      throw Error(fmt::format(
          "resolution '{}': expected N or WxH (e.g. 512, 1024 or 768x512) with positive sides",
          text));
    return v;
  };
  std::size_t sep = text.find_first_of("x,");
  if (sep == std::string::npos) {
    s.width = s.height = side(text);
  } else {
    s.width = side(text.substr(0, sep));
    s.height = side(text.substr(sep + 1));
  }
}

void validate_bucket_settings(const BucketSettings& s) {
  if (s.width < 1 || s.height < 1)
    throw Error(
        fmt::format("bucket resolution {}x{}: both sides must be at least 1", s.width, s.height));
  if (s.single_bucket) return;  // bucketing off: min/max/steps play no part
  if (s.bucket_reso_steps < 1)
    throw Error(fmt::format("bucket_reso_steps {}: must be at least 1 (kohya uses 64)",
                            s.bucket_reso_steps));
  if (s.min_bucket_reso < 1)
    throw Error(
        fmt::format("min_bucket_reso {}: must be at least 1 (kohya uses 256)", s.min_bucket_reso));
  // kohya's BucketManager asserts these three, in both modes.
  if (s.max_bucket_reso < s.width || s.max_bucket_reso < s.height)
    throw Error(fmt::format(
        "max_bucket_reso {} is below the resolution {}x{}: raise max_bucket_reso to at least {}",
        s.max_bucket_reso, s.width, s.height, std::max(s.width, s.height)));
  if (s.max_bucket_reso < s.min_bucket_reso)
    throw Error(fmt::format("max_bucket_reso {} is below min_bucket_reso {}", s.max_bucket_reso,
                            s.min_bucket_reso));
  long long area = static_cast<long long>(s.width) * s.height;
  if (py_int(py_floordiv(std::sqrt(static_cast<double>(area)), s.bucket_reso_steps)) < 1)
    throw Error(fmt::format(
        "bucket resolution {}x{} is smaller than one bucket step ({} px): raise the resolution "
        "or lower bucket_reso_steps",
        s.width, s.height, s.bucket_reso_steps));
}

std::vector<BucketSize> make_bucket_resolutions(const BucketSettings& s) {
  validate_bucket_settings(s);
  if (s.single_bucket) return {{s.width, s.height}};
  if (s.no_upscale) return {};
  const long long step = s.bucket_reso_steps;
  const long long area = static_cast<long long>(s.width) * s.height;
  std::set<BucketSize> resos;
  // int(math.sqrt(max_area) // divisible) * divisible: float floor division, then int.
  int square = static_cast<int>(
      py_int(py_floordiv(std::sqrt(static_cast<double>(area)), static_cast<double>(step))) * step);
  resos.insert({square, square});
  for (long long w = s.min_bucket_reso; w <= s.max_bucket_reso; w += step) {
    long long h = std::min<long long>(s.max_bucket_reso, floor_to(area / w, step));
    if (h >= s.min_bucket_reso) {
      resos.insert({static_cast<int>(w), static_cast<int>(h)});
      resos.insert({static_cast<int>(h), static_cast<int>(w)});
    }
  }
  return {resos.begin(), resos.end()};
}

CropLTRB crop_ltrb(BucketSize bucket, int image_width, int image_height) {
  const double bucket_ar = static_cast<double>(bucket.width) / bucket.height;
  const double image_ar = static_cast<double>(image_width) / image_height;
  double rw, rh;
  if (bucket_ar > image_ar) {
    rw = bucket.height * image_ar;
    rh = bucket.height;
  } else {
    rw = bucket.width;
    rh = bucket.width / image_ar;
  }
  CropLTRB c;
  c.left = py_floordiv(bucket.width - rw, 2);
  c.top = py_floordiv(bucket.height - rh, 2);
  c.right = c.left + rw;
  c.bottom = c.top + rh;
  return c;
}

BucketSelector::BucketSelector(const BucketSettings& settings)
    : settings_(settings), resos_(make_bucket_resolutions(settings)) {
  aspects_.reserve(resos_.size());
  for (const auto& r : resos_) aspects_.push_back(r.aspect());
}

long long BucketSelector::round_to_steps(double x) const {
  long long v = py_int(std::min(x + 0.5, 4.0e18));  // stays defined for absurd headers
  return floor_to(v, settings_.bucket_reso_steps);
}

BucketAssignment BucketSelector::select(int w, int h) const {
  if (w < 1 || h < 1)
    throw Error(fmt::format("image size {}x{}: cannot bucket an image with an empty side", w, h));
  BucketAssignment a = settings_.no_upscale && !settings_.single_bucket ? select_no_upscale(w, h)
                                                                        : select_predefined(w, h);
  a.crop_left = std::max(0, (a.resized_width - a.bucket.width) / 2);
  a.crop_top = std::max(0, (a.resized_height - a.bucket.height) / 2);
  a.ltrb = crop_ltrb(a.bucket, w, h);
  a.aspect_error = a.bucket.aspect() - static_cast<double>(w) / h;
  a.upscaled = a.resized_width > w || a.resized_height > h;
  return a;
}

BucketAssignment BucketSelector::select_predefined(int w, int h) const {
  const double ar = static_cast<double>(w) / h;
  BucketSize reso{w, h};
  if (!std::binary_search(resos_.begin(), resos_.end(), reso)) {
    std::size_t best = 0;  // numpy argmin: the first of equal errors
    for (std::size_t i = 1; i < aspects_.size(); ++i)
      if (std::abs(aspects_[i] - ar) < std::abs(aspects_[best] - ar)) best = i;
    reso = resos_[best];
  }
  const double scale = ar > reso.aspect() ? static_cast<double>(reso.height) / h
                                          : static_cast<double>(reso.width) / w;
  BucketAssignment a;
  a.bucket = reso;
  a.resized_width = rounded_side(w * scale, w, h);
  a.resized_height = rounded_side(h * scale, w, h);
  return a;
}

BucketAssignment BucketSelector::select_no_upscale(int w, int h) const {
  const double ar = static_cast<double>(w) / h;
  const long long max_area = static_cast<long long>(settings_.width) * settings_.height;
  const int step = settings_.bucket_reso_steps;
  int rw = w, rh = h;
  if (static_cast<long long>(w) * h > max_area) {
    // Scale to the area budget, then round one side to steps, derive the other, and keep the
    // rounding whose aspect is closer (kohya's two candidates).
    const double resized_w = std::sqrt(static_cast<double>(max_area) * ar);
    const double resized_h = static_cast<double>(max_area) / resized_w;
    rounded_side(std::max(resized_w, resized_h), w, h);  // throws for an absurd header
    const long long bw_rounded = round_to_steps(resized_w);
    const long long bh_in_wr = round_to_steps(bw_rounded / ar);
    const long long bh_rounded = round_to_steps(resized_h);
    if (bh_in_wr == 0 || bh_rounded == 0) return select_degenerate(w, h);  // kohya: 1/0
    const long long bw_in_hr = round_to_steps(bh_rounded * ar);
    const double ar_w = static_cast<double>(bw_rounded) / bh_in_wr;
    const double ar_h = static_cast<double>(bw_in_hr) / bh_rounded;
    if (std::abs(ar_w - ar) < std::abs(ar_h - ar)) {
      rw = bw_rounded;
      rh = rounded_side(bw_rounded / ar, w, h);
    } else {
      rw = rounded_side(bh_rounded * ar, w, h);
      rh = bh_rounded;
    }
  }
  BucketAssignment a;
  a.bucket = {static_cast<int>(floor_to(rw, step)), static_cast<int>(floor_to(rh, step))};
  if (a.bucket.width == 0 || a.bucket.height == 0) return select_degenerate(w, h);
  a.resized_width = rw;
  a.resized_height = rh;
  return a;
}

BucketAssignment BucketSelector::select_degenerate(int w, int h) const {
  const long long max_area = static_cast<long long>(settings_.width) * settings_.height;
  const long long area = static_cast<long long>(w) * h;
  const int step = settings_.bucket_reso_steps;
  const double s0 = area > max_area ? std::sqrt(static_cast<double>(max_area) / area) : 1.0;
  const double s = std::max(s0, static_cast<double>(step) / std::min(w, h));
  BucketAssignment a;
  a.degenerate = true;
  a.resized_width = std::max(step, rounded_side(w * s, w, h));
  a.resized_height = std::max(step, rounded_side(h * s, w, h));
  int bw = static_cast<int>(floor_to(a.resized_width, step));
  int bh = static_cast<int>(floor_to(a.resized_height, step));
  // Keep the bucket inside the area budget (it is the VRAM budget): crop the long side.
  if (bw >= bh)
    bw = static_cast<int>(
        std::min<long long>(bw, std::max<long long>(step, floor_to(max_area / bh, step))));
  else
    bh = static_cast<int>(
        std::min<long long>(bh, std::max<long long>(step, floor_to(max_area / bw, step))));
  a.bucket = {bw, bh};
  return a;
}

long long smallest_bucket_area(const BucketSettings& s) {
  if (s.no_upscale && !s.single_bucket) {
    validate_bucket_settings(s);
    return static_cast<long long>(s.bucket_reso_steps) * s.bucket_reso_steps;
  }
  long long best = -1;
  for (const auto& r : make_bucket_resolutions(s))
    if (best < 0 || r.area() < best) best = r.area();
  return best;
}

bool below_smallest_bucket(int image_width, int image_height, const BucketSettings& s) {
  if (s.no_upscale && !s.single_bucket)
    return image_width < s.bucket_reso_steps || image_height < s.bucket_reso_steps;
  return static_cast<long long>(image_width) * image_height < smallest_bucket_area(s);
}

const char* remainder_policy_name(RemainderPolicy p) {
  switch (p) {
    case RemainderPolicy::Partial:
      return "partial";
    case RemainderPolicy::Drop:
      return "drop";
    case RemainderPolicy::Pad:
      return "pad";
  }
  return "?";
}

std::optional<RemainderPolicy> parse_remainder_policy(const std::string& name) {
  for (auto p : {RemainderPolicy::Partial, RemainderPolicy::Drop, RemainderPolicy::Pad})
    if (name == remainder_policy_name(p)) return p;
  return std::nullopt;
}

const char* train_fate_name(TrainFate f) {
  switch (f) {
    case TrainFate::Trained:
      return "trained";
    case TrainFate::Rarely:
      return "rarely";
    case TrainFate::Never:
      return "never";
  }
  return "?";
}

namespace {

// Effective repeats of every planned image: the concept's repeats (0 when below 1, which
// kohya ignores), then kohya's regularization balancing.
void assign_repeats(const Dataset& ds, std::vector<PlannedImage>& images) {
  long long num_train = 0;
  std::vector<std::size_t> reg;
  for (std::size_t i = 0; i < images.size(); ++i) {
    const Concept& c = ds.concepts[images[i].concept_index];
    images[i].repeats = c.repeats >= 1 ? c.repeats : 0;
    if (images[i].repeats == 0) {
      images[i].why =
          fmt::format("concept '{}' has {} repeats: kohya ignores concepts with fewer than 1",
                      c.folder_name, c.repeats);
    } else if (c.is_regularization) {
      reg.push_back(i);
    } else {
      num_train += images[i].repeats;
    }
  }
  if (reg.empty()) return;
  // kohya DreamBoothDataset: register reg images (with their repeats) until they reach the
  // training images x repeats, then add one repeat per image per round.
  std::vector<int> base(reg.size());
  for (std::size_t k = 0; k < reg.size(); ++k) base[k] = images[reg[k]].repeats;
  for (std::size_t k : reg) images[k].repeats = 0;
  long long n = 0;
  bool first = true;
  while (n < num_train) {
    for (std::size_t k = 0; k < reg.size() && n < num_train; ++k) {
      images[reg[k]].repeats += first ? base[k] : 1;
      n += first ? base[k] : 1;
    }
    first = false;
  }
  for (std::size_t k : reg)
    if (images[k].repeats == 0)
      images[k].why = fmt::format(
          "regularization image not used: kohya takes regularization images only up to the {} "
          "training images x repeats",
          num_train);
}

void fill_bucket_counts(BucketSummary& b, int batch, RemainderPolicy policy) {
  const long long t = b.entries;
  switch (policy) {
    case RemainderPolicy::Partial:
      b.batches = ceil_div(t, batch);
      b.trained_entries = t;
      b.last_batch = b.batches > 0 ? t - (b.batches - 1) * batch : 0;
      break;
    case RemainderPolicy::Drop:
      b.batches = t / batch;
      b.trained_entries = b.batches * batch;
      b.dropped = t - b.trained_entries;
      b.last_batch = b.batches > 0 ? batch : 0;
      break;
    case RemainderPolicy::Pad:
      b.batches = ceil_div(t, batch);
      b.trained_entries = b.batches * batch;
      b.padded = b.trained_entries - t;
      b.last_batch = b.batches > 0 ? batch : 0;
      break;
  }
}

void judge_image(PlannedImage& im, const BucketSummary& b, int batch, const PlanOptions& opt) {
  if (im.repeats == 0 || b.entries == 0) {
    im.views_per_epoch = 0;
    im.fate = TrainFate::Never;
    return;  // `why` was set when the repeats were assigned
  }
  im.views_per_epoch = static_cast<double>(im.repeats) * b.trained_entries / b.entries;
  const std::string bucket = fmt::format("{}x{}", b.size.width, b.size.height);
  if (b.trained_entries == 0) {
    im.fate = TrainFate::Never;
    im.why = fmt::format(
        "bucket {} holds {} entries (images x repeats), fewer than the batch size {}: the drop "
        "policy never trains it",
        bucket, b.entries, batch);
  } else if (im.views_per_epoch < opt.rare_fraction * im.repeats) {
    im.fate = TrainFate::Rarely;
    im.why = fmt::format(
        "bucket {} drops {} of its {} entries each epoch: this image gets about {:.0f}% of its "
        "{} repeats",
        bucket, b.dropped, b.entries, 100.0 * b.trained_entries / b.entries, im.repeats);
  }
}

TrainFate bucket_fate(const BucketSummary& b, const PlanOptions& opt) {
  if (b.trained_entries == 0) return TrainFate::Never;
  if (b.trained_entries < b.entries &&
      static_cast<double>(b.trained_entries) / b.entries < opt.rare_fraction)
    return TrainFate::Rarely;
  return TrainFate::Trained;
}

}  // namespace

BucketPlan plan_buckets(const Dataset& dataset, const BucketSettings& settings, int batch_size,
                        RemainderPolicy policy, const PlanOptions& options) {
  if (batch_size < 1) throw Error(fmt::format("batch size {}: must be at least 1", batch_size));
  if (!(options.rare_fraction >= 0.0 && options.rare_fraction <= 1.0))
    throw Error(fmt::format("rare fraction {}: must be between 0 and 1", options.rare_fraction));
  BucketSelector selector(settings);
  BucketPlan plan;
  plan.settings = settings;
  plan.batch_size = batch_size;
  plan.policy = policy;
  plan.rare_fraction = options.rare_fraction;
  plan.resolutions = selector.resolutions();

  for (std::size_t ci = 0; ci < dataset.concepts.size(); ++ci) {
    const Concept& c = dataset.concepts[ci];
    for (std::size_t ii = 0; ii < c.items.size(); ++ii) {
      const Item& item = c.items[ii];
      if (item.image_path.empty()) continue;  // a caption without an image
      if (!item.image.ok || item.image.width < 1 || item.image.height < 1) {
        plan.skipped.push_back({item.image_path, item.image.problem.empty()
                                                     ? "no readable image size"
                                                     : item.image.problem});
        continue;
      }
      PlannedImage im;
      im.path = item.image_path;
      im.concept_index = ci;
      im.item_index = ii;
      im.width = item.image.width;
      im.height = item.image.height;
      try {
        im.assignment = selector.select(im.width, im.height);
      } catch (const Error& e) {
        plan.skipped.push_back({item.image_path, e.what()});
        continue;
      }
      plan.images.push_back(std::move(im));
    }
  }
  assign_repeats(dataset, plan.images);

  std::map<BucketSize, std::size_t> index;  // sorted by (width, height), like kohya's sort()
  for (const auto& im : plan.images) index.emplace(im.assignment.bucket, 0);
  for (auto& [size, i] : index) {
    i = plan.buckets.size();
    plan.buckets.emplace_back();
    plan.buckets.back().size = size;
  }
  for (std::size_t k = 0; k < plan.images.size(); ++k) {
    PlannedImage& im = plan.images[k];
    im.bucket_index = index.at(im.assignment.bucket);
    BucketSummary& b = plan.buckets[im.bucket_index];
    b.images += 1;
    b.entries += im.repeats;
    b.image_indices.push_back(k);
  }
  for (auto& b : plan.buckets) {
    fill_bucket_counts(b, batch_size, policy);
    b.fate = bucket_fate(b, options);
    plan.total_entries += b.entries;
    plan.total_batches += b.batches;
    plan.total_dropped += b.dropped;
    plan.total_padded += b.padded;
  }
  for (auto& im : plan.images) judge_image(im, plan.buckets[im.bucket_index], batch_size, options);
  return plan;
}

}  // namespace lathe
