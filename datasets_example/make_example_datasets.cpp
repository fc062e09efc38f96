// Writes Lathe's example datasets: datasets_example/clean (two concepts that audit without
// errors or warnings; the demo training set) and datasets_example/messy (the same subjects with
// one planted problem of every kind the audit reports, listed in messy/PLANTED.json and
// PLANTED.md). Images are drawn with OpenCV (gradients, shapes, text) at bucket-friendly sizes,
// so the output is deterministic and small. Usage: make_example_datasets [OUTPUT_DIR]
// (default: datasets_example beside this file). It replaces clean/ and messy/ in OUTPUT_DIR.
#include <fmt/format.h>

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "io/atomic_file.h"

namespace fs = std::filesystem;

namespace {

// A tiny deterministic generator, so the images do not change between library versions.
struct Lcg {
  std::uint32_t state;
  std::uint32_t next() { return state = state * 1664525u + 1013904223u; }
  int range(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<std::uint32_t>(hi - lo + 1)); }
  cv::Scalar colour() { return cv::Scalar(range(30, 230), range(30, 230), range(30, 230)); }
};

cv::Mat gradient(int w, int h, cv::Scalar a, cv::Scalar b, bool vertical) {
  cv::Mat img(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      double t = vertical ? double(y) / (h - 1) : double(x) / (w - 1);
      img.at<cv::Vec3b>(y, x) = cv::Vec3b(cv::saturate_cast<uchar>(a[0] + t * (b[0] - a[0])),
                                          cv::saturate_cast<uchar>(a[1] + t * (b[1] - a[1])),
                                          cv::saturate_cast<uchar>(a[2] + t * (b[2] - a[2])));
    }
  return img;
}

void draw_label(cv::Mat& img, const std::string& text) {
  double scale = std::max(0.4, img.cols / 400.0);
  cv::putText(img, text, cv::Point(8, img.rows - 12), cv::FONT_HERSHEY_SIMPLEX, scale,
              cv::Scalar(255, 255, 255), 2, cv::LINE_AA);
}

// A cat: round head, triangle ears, eyes; fur colour and background vary.
cv::Mat draw_cat(int w, int h, Lcg& rng, cv::Scalar fur) {
  cv::Mat img = gradient(w, h, rng.colour(), rng.colour(), rng.next() % 2);
  cv::Point c(w / 2, h / 2 + h / 12);
  int r = std::min(w, h) / 4;
  std::vector<cv::Point> left = {{c.x - r, c.y - r / 3}, {c.x - r / 2, c.y - r - r / 2}, {c.x - r / 6, c.y - r}};
  std::vector<cv::Point> right = {{c.x + r, c.y - r / 3}, {c.x + r / 2, c.y - r - r / 2}, {c.x + r / 6, c.y - r}};
  cv::fillPoly(img, std::vector<std::vector<cv::Point>>{left, right}, fur, cv::LINE_AA);
  cv::circle(img, c, r, fur, cv::FILLED, cv::LINE_AA);
  cv::circle(img, {c.x - r / 3, c.y - r / 5}, r / 8, cv::Scalar(40, 160, 40), cv::FILLED, cv::LINE_AA);
  cv::circle(img, {c.x + r / 3, c.y - r / 5}, r / 8, cv::Scalar(40, 160, 40), cv::FILLED, cv::LINE_AA);
  cv::ellipse(img, {c.x, c.y + r / 4}, {r / 6, r / 10}, 0, 0, 180, cv::Scalar(60, 60, 200), 3, cv::LINE_AA);
  draw_label(img, "lathecat");
  return img;
}

// A robot: box body, square head, antenna, round eyes.
cv::Mat draw_bot(int w, int h, Lcg& rng, cv::Scalar metal) {
  cv::Mat img = gradient(w, h, rng.colour(), rng.colour(), rng.next() % 2);
  int s = std::min(w, h);
  cv::Point c(w / 2, h / 2);
  cv::rectangle(img, {c.x - s / 5, c.y - s / 10}, {c.x + s / 5, c.y + s / 3}, metal, cv::FILLED);
  cv::rectangle(img, {c.x - s / 7, c.y - s / 3}, {c.x + s / 7, c.y - s / 8}, metal, cv::FILLED);
  cv::line(img, {c.x, c.y - s / 3}, {c.x, c.y - s / 3 - s / 10}, metal, 4, cv::LINE_AA);
  cv::circle(img, {c.x, c.y - s / 3 - s / 10}, s / 40 + 2, cv::Scalar(0, 0, 230), cv::FILLED, cv::LINE_AA);
  cv::circle(img, {c.x - s / 16, c.y - s / 4}, s / 30 + 2, cv::Scalar(255, 230, 0), cv::FILLED, cv::LINE_AA);
  cv::circle(img, {c.x + s / 16, c.y - s / 4}, s / 30 + 2, cv::Scalar(255, 230, 0), cv::FILLED, cv::LINE_AA);
  draw_label(img, "lathebot");
  return img;
}

std::vector<unsigned char> encode(const cv::Mat& img, const std::string& ext) {
  std::vector<unsigned char> bytes;
  std::vector<int> params;
  if (ext == ".jpg") params = {cv::IMWRITE_JPEG_QUALITY, 70};
  if (ext == ".webp") params = {cv::IMWRITE_WEBP_QUALITY, 60};
  if (ext == ".png") params = {cv::IMWRITE_PNG_COMPRESSION, 9};
  if (!cv::imencode(ext, img, bytes, params)) throw std::runtime_error("cannot encode " + ext);
  return bytes;
}

void write(const fs::path& p, std::string_view bytes) {
  fs::create_directories(p.parent_path());
  lathe::write_file_atomic(p, bytes);
}
void write(const fs::path& p, const std::vector<unsigned char>& bytes) {
  write(p, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

struct Subject {
  const char* kind;  // "cat" or "bot"
  cv::Scalar colour;
  const char* colour_tag;
};

const Subject kCats[] = {{"cat", {40, 120, 230}, "orange fur"}, {"cat", {60, 60, 60}, "black fur"},
                         {"cat", {200, 200, 200}, "white fur"}, {"cat", {90, 140, 180}, "tabby"}};
const Subject kBots[] = {{"bot", {180, 180, 190}, "silver metal"}, {"bot", {50, 90, 200}, "rusty metal"},
                         {"bot", {200, 120, 40}, "blue paint"}};

// Exact bucket sizes of kohya's 512 list (no crop, no enlargement), in several aspect ratios.
struct Size {
  int w, h;
};
const Size kSquare{512, 512}, kPortrait{448, 576}, kLandscape{576, 448}, kTall{384, 640},
    kWide{640, 384};

std::vector<unsigned char> image_for(const Subject& s, Size size, Lcg& rng, const std::string& ext) {
  cv::Mat img = std::string(s.kind) == "cat" ? draw_cat(size.w, size.h, rng, s.colour)
                                             : draw_bot(size.w, size.h, rng, s.colour);
  return encode(img, ext);
}

std::string orientation(Size s) {
  return s.w == s.h ? "square" : s.w > s.h ? "landscape" : "portrait";
}

// One good item: image + caption that starts with the activation tag.
void good_item(const fs::path& dir, const std::string& stem, const std::string& trigger,
               const Subject& s, Size size, const std::string& ext, const std::string& extra,
               Lcg& rng) {
  write(dir / (stem + ext), image_for(s, size, rng, ext));
  std::string caption = fmt::format("{}, {}, {}, gradient background, {}{}\n", trigger,
                                    s.kind == std::string("cat") ? "cat" : "robot", s.colour_tag,
                                    orientation(size), extra.empty() ? "" : ", " + extra);
  write(dir / (stem + ".txt"), caption);
}

void make_clean(const fs::path& root) {
  Lcg rng{7};
  // 6 cats x 10 repeats = 60 = 10 robots x 6 repeats: balanced. Every bucket's entries are
  // even (repeats 10 and 6), so batch size 2 leaves no remainder anywhere.
  const fs::path cats = root / "10_lathecat";
  const Size cat_sizes[] = {kSquare, kSquare, kPortrait, kLandscape, kTall, kWide};
  const char* cat_ext[] = {".jpg", ".png", ".jpg", ".webp", ".jpg", ".jpg"};
  const char* cat_extra[] = {"sitting", "looking at viewer", "sitting", "smile", "looking at viewer", "smile"};
  for (int i = 0; i < 6; ++i)
    good_item(cats, fmt::format("cat_{:02}", i + 1), "lathecat", kCats[i % 4], cat_sizes[i],
              cat_ext[i], cat_extra[i], rng);
  const fs::path bots = root / "6_lathebot";
  const Size bot_sizes[] = {kSquare, kSquare, kSquare, kPortrait, kPortrait, kLandscape,
                            kLandscape, kTall, kWide, kWide};
  const char* bot_extra[] = {"standing", "antenna", "standing", "antenna", "standing",
                             "antenna", "standing", "antenna", "standing", "antenna"};
  for (int i = 0; i < 10; ++i)
    good_item(bots, fmt::format("bot_{:02}", i + 1), "lathebot", kBots[i % 3], bot_sizes[i],
              i % 4 == 3 ? ".webp" : ".jpg", bot_extra[i], rng);
}

struct Planted {
  std::string code, file, note;
};

void make_messy(const fs::path& root, std::vector<Planted>& planted) {
  Lcg rng{11};
  const fs::path cats = root / "10_lathecat";
  auto plant = [&](std::string code, std::string file, std::string note) {
    planted.push_back({std::move(code), std::move(file), std::move(note)});
  };
  // Good items first: they set the inferred activation tag and must draw no error or warning.
  const Size good_sizes[] = {kSquare, kSquare, kPortrait, kLandscape, kTall, kWide, kSquare, kPortrait};
  for (int i = 0; i < 8; ++i)
    good_item(cats, fmt::format("good_cat_{:02}", i + 1), "lathecat", kCats[i % 4], good_sizes[i],
              i % 3 == 0 ? ".png" : ".jpg", i < 2 ? "blue hair" : "", rng);
  // A name with spaces and non-ASCII characters is fine and draws nothing.
  good_item(cats, "good café photo", "lathecat", kCats[0], kSquare, ".jpg", "", rng);

  auto cat_image = [&](const std::string& name, Size size = kSquare) {
    std::string ext = fs::path(name).extension().string();
    write(cats / name, image_for(kCats[rng.range(0, 3)], size, rng, ext));
  };
  auto caption = [&](const std::string& name, const std::string& bytes) { write(cats / name, bytes); };
  const std::string ok = "lathecat, cat, orange fur, square\n";

  cat_image("missing_caption.jpg");
  plant("caption.missing", "10_lathecat/missing_caption.jpg", "image without a caption file");
  caption("orphan_caption.txt", ok);
  plant("caption.orphan", "10_lathecat/orphan_caption.txt", "caption without an image");
  cat_image("empty_caption.jpg");
  caption("empty_caption.txt", "");
  plant("caption.empty", "10_lathecat/empty_caption.txt", "0-byte caption");
  cat_image("invalid_utf8.jpg");
  caption("invalid_utf8.txt", "lathecat, cat, caf\xE9 au lait\n");
  plant("caption.invalid_utf8", "10_lathecat/invalid_utf8.txt", "Latin-1 byte 0xE9");
  cat_image("bom.jpg");
  caption("bom.txt", "\xEF\xBB\xBF" + ok);
  plant("caption.bom", "10_lathecat/bom.txt", "UTF-8 byte-order mark");
  cat_image("crlf.jpg");
  caption("crlf.txt", "lathecat, cat, orange fur, square\r\n");
  plant("caption.crlf", "10_lathecat/crlf.txt", "CRLF line ending");
  cat_image("stray_whitespace.jpg");
  caption("stray_whitespace.txt", "  lathecat, cat,  orange  fur , square \n");
  plant("caption.whitespace", "10_lathecat/stray_whitespace.txt", "leading, trailing and doubled spaces");
  cat_image("multiple_lines.jpg");
  caption("multiple_lines.txt", "lathecat, cat, orange fur\nsquare, sitting\n");
  plant("caption.multiple_lines", "10_lathecat/multiple_lines.txt", "two lines of tags");
  cat_image("empty_tags.jpg");
  caption("empty_tags.txt", "lathecat, cat,, orange fur, square,\n");
  plant("caption.empty_tag", "10_lathecat/empty_tags.txt", "',,' and a trailing comma");
  cat_image("duplicate_tag.jpg");
  caption("duplicate_tag.txt", "lathecat, cat, orange fur, cat, square\n");
  plant("caption.duplicate_tag", "10_lathecat/duplicate_tag.txt", "'cat' twice");
  cat_image("near_duplicate_underscore.jpg");
  caption("near_duplicate_underscore.txt", "lathecat, cat, blue_hair, square\n");
  cat_image("near_duplicate_case.jpg");
  caption("near_duplicate_case.txt", "lathecat, cat, Blue Hair, square\n");
  plant("tags.near_duplicate", "10_lathecat/near_duplicate_underscore.txt",
        "'blue_hair' / 'Blue Hair' / 'blue hair' (on two good images)");
  cat_image("singleton_tag.jpg");
  caption("singleton_tag.txt", "lathecat, cat, orange fur, square, zzz_one_off_tag\n");
  plant("tags.singleton", "10_lathecat/singleton_tag.txt", "'zzz_one_off_tag' on one image only");
  cat_image("activation_missing.jpg");
  caption("activation_missing.txt", "cat, orange fur, square\n");
  plant("activation.missing", "10_lathecat/activation_missing.txt", "no 'lathecat'");
  cat_image("activation_not_first.jpg");
  caption("activation_not_first.txt", "cat, lathecat, orange fur, square\n");
  plant("activation.not_first", "10_lathecat/activation_not_first.txt", "'lathecat' second");
  plant("activation.inferred", "10_lathecat", "no profile: the activation tag is inferred");
  plant("tags.prune_candidate", "10_lathecat", "'cat' is on almost every caption");

  write(cats / "zero_byte.png", std::string_view());
  caption("zero_byte.txt", ok);
  plant("image.zero_byte", "10_lathecat/zero_byte.png", "0-byte image");
  {
    std::vector<unsigned char> jpg = image_for(kCats[1], kSquare, rng, ".jpg");
    jpg.resize(jpg.size() / 2);
    write(cats / "truncated.jpg", jpg);
    caption("truncated.txt", ok);
    plant("image.corrupt", "10_lathecat/truncated.jpg", "JPEG cut in half (found with --deep)");
  }
  {
    std::vector<unsigned char> png = image_for(kCats[2], kSquare, rng, ".png");
    for (int i = 12; i < 16; ++i) png[static_cast<std::size_t>(i)] = 'X';  // IHDR -> XXXX
    write(cats / "corrupt_header.png", png);
    caption("corrupt_header.txt", ok);
    plant("image.corrupt", "10_lathecat/corrupt_header.png", "PNG whose first chunk is not IHDR");
  }
  caption("not_an_image.png", "this is a text file named like an image\n");
  caption("not_an_image.txt", ok);
  plant("image.unreadable", "10_lathecat/not_an_image.png", "text content with a .png name");
  write(cats / "jpeg_named_png.png", image_for(kCats[3], kSquare, rng, ".jpg"));
  caption("jpeg_named_png.txt", ok);
  plant("image.extension_mismatch", "10_lathecat/jpeg_named_png.png", "JPEG bytes, .png name");
  cat_image("too_small_96x64.jpg", Size{96, 64});
  caption("too_small_96x64.txt", "lathecat, cat, orange fur, landscape\n");
  plant("image.too_small", "10_lathecat/too_small_96x64.jpg", "96x64: below the smallest 512 bucket");

  // Robots: 2 repeats x 6 images = 12 against the cats' 10 x 30-odd: imbalanced. Buckets hold
  // 2 robots each (4 entries), so batch size 4 with drop leaves none of them out.
  const fs::path bots = root / "2_lathebot";
  const Size bot_sizes[] = {kSquare, kSquare, kPortrait, kPortrait, kWide, kWide};
  for (int i = 0; i < 5; ++i)
    good_item(bots, fmt::format("good_bot_{:02}", i + 1), "lathebot", kBots[i % 3], bot_sizes[i],
              i % 2 ? ".webp" : ".jpg", "", rng);
  write(bots / "has_lathecat_tag.jpg", image_for(kBots[0], kWide, rng, ".jpg"));
  write(bots / "has_lathecat_tag.txt", std::string("lathebot, robot, lathecat, silver metal\n"));
  plant("activation.in_other_concept", "2_lathebot/has_lathecat_tag.txt", "'lathecat' in a robot caption");
  plant("repeats.imbalance", ".", "10_lathecat gets far more images x repeats than 2_lathebot");

  // kohya's trap: the folder says "jinx girl", the captions never say "girl".
  const fs::path jinx = root / "3_jinx girl";
  write(jinx / "class_token_trap_1.jpg", image_for(kCats[1], kSquare, rng, ".jpg"));
  write(jinx / "class_token_trap_1.txt", std::string("jinx, cat, black fur, square\n"));
  write(jinx / "class_token_trap_2.jpg", image_for(kCats[1], kSquare, rng, ".jpg"));
  write(jinx / "class_token_trap_2.txt", std::string("jinx, cat, black fur, square\n"));
  plant("concept.class_tokens", "3_jinx girl", "captions lack the folder's 'girl'");
  // One image alone in the 4:1 bucket: 3 entries, below batch size 4, dropped every epoch.
  write(jinx / "lonely_bucket_1024x256.jpg", image_for(kCats[1], Size{1024, 256}, rng, ".jpg"));
  write(jinx / "lonely_bucket_1024x256.txt", std::string("jinx, cat, black fur, landscape\n"));
  plant("bucket.never_trained", "3_jinx girl/lonely_bucket_1024x256.jpg",
        "alone in bucket 1024x256 (with --batch-size 4 --policy drop)");

  write(root / "1_empty_concept" / "README.md",
        std::string("This concept folder holds no images (planted: concept.empty).\n"));
  plant("concept.empty", "1_empty_concept", "a concept folder without images");
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '"' ? std::string("\\\"") : c == '\\' ? std::string("\\\\") : std::string(1, c);
  return out;
}

void write_manifest(const fs::path& root, const std::vector<Planted>& planted) {
  std::string json = "{\n  \"audit_args\": \"--deep --batch-size 4 --policy drop\",\n  \"planted\": [\n";
  std::string md =
      "# Planted problems\n\nEvery problem the audit reports, planted on purpose (made by "
      "`make_example_datasets`).\nAudit with `lathe audit datasets_example/messy --deep "
      "--batch-size 4 --policy drop`.\nFiles named `good_*` are clean and must draw no error or "
      "warning.\n\n| code | file or folder | what |\n|---|---|---|\n";
  for (std::size_t i = 0; i < planted.size(); ++i) {
    const Planted& p = planted[i];
    json += fmt::format("    {{\"code\": \"{}\", \"file\": \"{}\", \"note\": \"{}\"}}{}\n", p.code,
                        json_escape(p.file), json_escape(p.note), i + 1 < planted.size() ? "," : "");
    md += fmt::format("| `{}` | `{}` | {} |\n", p.code, p.file, p.note);
  }
  json += "  ]\n}\n";
  write(root / "PLANTED.json", json);
  write(root / "PLANTED.md", md);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    fs::path out = argc > 1 ? fs::path(argv[1]) : fs::path(LATHE_SOURCE_DIR) / "datasets_example";
    fs::remove_all(out / "clean");
    fs::remove_all(out / "messy");
    make_clean(out / "clean");
    std::vector<Planted> planted;
    make_messy(out / "messy", planted);
    write_manifest(out / "messy", planted);
    std::cout << fmt::format("wrote {} and {} ({} planted problems)\n", (out / "clean").string(),
                             (out / "messy").string(), planted.size());
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "make_example_datasets: " << e.what() << "\n";
    return 1;
  }
}
