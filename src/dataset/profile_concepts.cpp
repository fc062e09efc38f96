// [dataset] and [[concepts]] of a profile -> ConceptSpecs and scan options, validated with
// messages that name the line and key; and load_dataset, which accepts a folder or a profile.
#include "dataset/profile_concepts.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cmath>

#include "common/error.h"
#include "dataset/caption.h"
#include "io/profile.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;

fs::path resolve(const fs::path& base, const std::string& p) {
  fs::path path(p);
  return path.is_absolute() ? path : base / path;
}

std::string read_caption_extension(const ProfileTable& t) {
  std::string ext = *t.get_string("caption_extension");
  if (ext.size() < 2 || ext[0] != '.' || ext.find('/') != std::string::npos)
    t.fail(
        "caption_extension",
        fmt::format("\"{}\" is not a file extension; write it with its dot, like \".txt\"", ext));
  return ext;
}

std::string read_path(const ProfileTable& t) {
  std::string p = *t.get_string("path");
  if (p.empty()) t.fail("path", "is empty; give a folder");
  return p;
}

ConceptSpec read_concept(const ProfileTable& t, const fs::path& base, const ScanOptions& options) {
  ConceptSpec spec;
  if (!t.has("path")) t.fail("path", "missing; every [[concepts]] entry needs path = \"folder\"");
  spec.path = resolve(base, read_path(t));
  spec.caption_extension = options.caption_extension;
  if (auto r = t.get_int("repeats")) {
    if (*r < 1 || *r > 100000) t.fail("repeats", fmt::format("must be 1 to 100000, got {}", *r));
    spec.repeats = static_cast<int>(*r);
  } else {
    // As kohya would read the folder: "10_name" means 10 repeats.
    spec.repeats = std::max(1, parse_concept_folder_name(spec.path.filename().string()).first);
  }
  if (auto tag = t.get_string("activation_tag")) {
    std::string trimmed(trim_ascii(*tag));
    if (trimmed.empty()) t.fail("activation_tag", "is empty; give the tag or remove the key");
    if (trimmed.find(',') != std::string::npos)
      t.fail("activation_tag",
             fmt::format("\"{}\" holds a comma; an activation tag is one tag", trimmed));
    spec.activation_tag = trimmed;
  }
  if (t.has("caption_extension")) spec.caption_extension = read_caption_extension(t);
  if (auto reg = t.get_bool("is_regularization")) spec.is_regularization = *reg;
  if (auto w = t.get_float("loss_weight")) {
    if (!std::isfinite(*w) || *w <= 0)
      t.fail("loss_weight", fmt::format("must be above 0, got {}", *w));
    spec.loss_weight = *w;
  }
  return spec;
}

}  // namespace

ProfileDataset read_profile_dataset(const Profile& profile, const ScanOptions& defaults) {
  ProfileDataset out;
  out.options = defaults;
  fs::path profile_dir = profile.path().parent_path();
  if (profile_dir.empty()) profile_dir = ".";
  out.root = profile_dir;

  ProfileTable root = ProfileTable::root(profile);
  if (auto ds = root.get_table("dataset")) {
    if (ds->has("path")) {
      out.root = resolve(profile_dir, read_path(*ds));
      out.has_dataset_path = true;
    }
    if (ds->has("caption_extension")) out.options.caption_extension = read_caption_extension(*ds);
    if (auto r = ds->get_bool("recursive")) out.options.recursive = *r;
  }
  for (const ProfileTable& t : root.get_table_array("concepts"))
    out.concepts.push_back(read_concept(t, out.root, out.options));

  if (!out.has_dataset_path && out.concepts.empty())
    throw Error(
        fmt::format("{}: the profile names no dataset; add [dataset] path = \"folder\" "
                    "or [[concepts]] entries with a path",
                    profile.path().string()));
  return out;
}

Dataset scan_profile_dataset(const ProfileDataset& spec, const ScanOptions& options) {
  ScanOptions merged = options;
  merged.caption_extension = spec.options.caption_extension;
  merged.recursive = spec.options.recursive;
  if (spec.concepts.empty()) return scan_dataset(spec.root, merged);
  return scan_concepts(spec.root, spec.concepts, merged);
}

Dataset load_dataset(const fs::path& path, const ScanOptions& options) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw Error(
        fmt::format("{} does not exist; give a dataset folder or a profile .toml", path.string()));
  if (S_ISDIR(st.st_mode)) return scan_dataset(path, options);
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (S_ISREG(st.st_mode) && ext == ".toml") {
    Profile profile = load_profile(path);
    return scan_profile_dataset(read_profile_dataset(profile, options), options);
  }
  throw Error(fmt::format("{} is neither a dataset folder nor a profile .toml", path.string()));
}

}  // namespace lathe
