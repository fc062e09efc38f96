// Scanning a dataset: list each concept folder once with readdir (no per-file stat unless the
// entry is a symlink or the file system does not say its type), pair images with captions by
// stem, then read image headers and captions on a small thread pool. Bad entries (permission
// denied, broken symlinks, symlink loops, huge captions) become scan or caption problems; the
// scan itself only throws when the root is unusable.
#include <dirent.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <set>
#include <thread>

#include "common/error.h"
#include "dataset/dataset.h"
#include "io/atomic_file.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;

enum class EntryKind { File, Folder, Problem };

struct Entry {
  std::string name;
  EntryKind kind = EntryKind::File;
  std::string problem;  // for EntryKind::Problem
};

struct Listing {
  std::vector<Entry> entries;  // sorted by name, dotfiles left out
  dev_t dev = 0;
  ino_t ino = 0;
  std::string error;  // the folder itself could not be read
};

std::string os_error(int err) {
  return std::strerror(err);
}

// Resolves an entry whose type readdir did not give (symlinks, some file systems).
Entry classify_by_stat(const fs::path& dir, std::string name) {
  Entry e{std::move(name), EntryKind::File, {}};
  const fs::path full = dir / e.name;
  struct stat st {};
  if (::stat(full.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      e.kind = EntryKind::Folder;
    else if (S_ISREG(st.st_mode))
      e.kind = EntryKind::File;
    else {
      e.kind = EntryKind::Problem;
      e.problem = fmt::format("{} is not a regular file or folder; skipped", full.string());
    }
    return e;
  }
  const int err = errno;
  e.kind = EntryKind::Problem;
  if (err == ELOOP) {
    e.problem = fmt::format("{} is a symlink loop; skipped", full.string());
  } else if (err == ENOENT) {
    char target[4096];
    ssize_t n = ::readlink(full.c_str(), target, sizeof(target) - 1);
    std::string to = n > 0 ? std::string(target, static_cast<std::size_t>(n)) : "?";
    e.problem =
        fmt::format("{} is a broken symlink (points to {}); fix or remove it", full.string(), to);
  } else {
    e.problem = fmt::format("cannot read {}: {}", full.string(), os_error(err));
  }
  return e;
}

Listing list_folder(const fs::path& dir) {
  Listing out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    out.error = fmt::format("cannot read folder {}: {}", dir.string(), os_error(errno));
    return out;
  }
  struct stat st {};
  if (::fstat(::dirfd(d), &st) == 0) {
    out.dev = st.st_dev;
    out.ino = st.st_ino;
  }
  while (true) {
    errno = 0;
    const dirent* de = ::readdir(d);
    if (!de) {
      if (errno != 0)
        out.error = fmt::format("error reading folder {}: {}", dir.string(), os_error(errno));
      break;
    }
    if (de->d_name[0] == '.') continue;  // ".", "..", hidden files and Lathe's own .lathe
    if (de->d_type == DT_REG)
      out.entries.push_back({de->d_name, EntryKind::File, {}});
    else if (de->d_type == DT_DIR)
      out.entries.push_back({de->d_name, EntryKind::Folder, {}});
    else if (de->d_type == DT_LNK || de->d_type == DT_UNKNOWN)
      out.entries.push_back(classify_by_stat(dir, de->d_name));
    else
      out.entries.push_back({de->d_name, EntryKind::Problem,
                             fmt::format("{} is not a regular file or folder; skipped",
                                         (dir / de->d_name).string())});
  }
  ::closedir(d);
  std::sort(out.entries.begin(), out.entries.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct FolderScan {
  const std::string& caption_extension;
  bool recursive;
  Concept& concept;
  std::set<std::pair<dev_t, ino_t>> visited;  // folders already scanned: symlink loops end here
};

constexpr int kMaxDepth = 64;

// Adds the items, orphan captions and other files of one folder (and its subfolders when
// recursive) to the concept. `subfolders_are_concepts` is set for a dataset root, whose
// subfolders are scanned as concepts of their own.
void scan_folder(FolderScan& scan, const fs::path& dir, int depth, bool subfolders_are_concepts) {
  Concept& c = scan.concept;
  Listing listing = list_folder(dir);
  if (!listing.error.empty()) {
    c.scan_problems.push_back(listing.error);
    if (listing.entries.empty()) return;
  }
  if (!scan.visited.insert({listing.dev, listing.ino}).second) {
    c.scan_problems.push_back(fmt::format(
        "{} leads back to a folder already scanned (a symlink loop); skipped", dir.string()));
    return;
  }

  // Entries are sorted, so the captions collected in order are too: lookups are binary
  // searches, cheaper than hashing every name on 100k-file folders.
  std::vector<const std::string*> captions;
  for (const Entry& e : listing.entries)
    if (e.kind == EntryKind::File && ends_with(e.name, scan.caption_extension))
      captions.push_back(&e.name);
  std::vector<bool> caption_used(captions.size(), false);
  auto find_caption = [&](const std::string& name) -> std::ptrdiff_t {
    auto it = std::lower_bound(captions.begin(), captions.end(), name,
                               [](const std::string* a, const std::string& b) { return *a < b; });
    return it != captions.end() && **it == name ? it - captions.begin() : -1;
  };
  std::string caption_name;

  for (const Entry& e : listing.entries) {
    if (e.kind == EntryKind::Problem) {
      c.scan_problems.push_back(e.problem);
      continue;
    }
    if (e.kind == EntryKind::Folder) {
      if (subfolders_are_concepts) continue;
      if (!scan.recursive) {
        c.skipped_subfolders.push_back(dir / e.name);
      } else if (depth + 1 >= kMaxDepth) {
        c.scan_problems.push_back(fmt::format("{} is nested more than {} folders deep; skipped",
                                              (dir / e.name).string(), kMaxDepth));
      } else {
        scan_folder(scan, dir / e.name, depth + 1, false);
      }
      continue;
    }
    if (is_image_extension(e.name)) {
      Item item;
      item.image_path = dir / e.name;
      caption_name.assign(e.name, 0, e.name.rfind('.'));
      caption_name += scan.caption_extension;
      std::ptrdiff_t k = find_caption(caption_name);
      if (k >= 0) {
        item.caption_path = dir / caption_name;
        caption_used[static_cast<std::size_t>(k)] = true;
      }
      c.items.push_back(std::move(item));
    } else if (find_caption(e.name) < 0) {
      c.other_files.push_back(dir / e.name);
    }
  }
  for (std::size_t k = 0; k < captions.size(); ++k)
    if (!caption_used[k]) c.orphan_captions.push_back(dir / *captions[k]);
}

void sort_concept(Concept& c) {
  std::sort(c.items.begin(), c.items.end(), [](const Item& a, const Item& b) {
    return a.image_path.native() < b.image_path.native();
  });
  auto by_text = [](const fs::path& a, const fs::path& b) { return a.native() < b.native(); };
  std::sort(c.orphan_captions.begin(), c.orphan_captions.end(), by_text);
  std::sort(c.other_files.begin(), c.other_files.end(), by_text);
}

std::string caption_read_problem(const fs::path& path, const Error& e) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && static_cast<std::size_t>(st.st_size) > kMaxCaptionBytes) {
    return fmt::format(
        "caption file is {:.1f} MiB; Lathe reads captions up to {} KiB, so it was not read: it "
        "is probably not a tag list (check what it holds) or should be cut down to its tags",
        st.st_size / 1048576.0, kMaxCaptionBytes / 1024);
  }
  return e.what();
}

void read_item(Item& item, bool deep) {
  item.image = read_image_header(item.image_path);
  if (deep && item.image.ok) item.deep_problem = decode_check(item.image_path);
  if (!item.caption_path) return;
  try {
    item.caption = parse_caption(read_file(*item.caption_path, kMaxCaptionBytes));
  } catch (const Error& e) {
    item.caption_problem = caption_read_problem(*item.caption_path, e);
  }
}

// Reads headers and captions of every item, a chunk of items at a time per thread, so a
// 100k-image folder keeps both cores busy on open/read/close.
void read_items(std::vector<Concept>& concepts, const ScanOptions& options) {
  std::vector<Item*> items;
  for (Concept& c : concepts)
    for (Item& item : c.items) items.push_back(&item);
  auto work = [&](std::size_t i) {
    try {
      read_item(*items[i], options.deep);
    } catch (const std::exception& e) {  // bad_alloc and the like: keep the scan going
      items[i]->image.ok = false;
      items[i]->image.problem = fmt::format("cannot read: {}", e.what());
    }
  };
  unsigned threads = options.threads > 0 ? static_cast<unsigned>(options.threads)
                                         : std::max(1u, std::thread::hardware_concurrency());
  constexpr std::size_t kChunk = 64;
  if (threads <= 1 || items.size() < 2 * kChunk) {
    for (std::size_t i = 0; i < items.size(); ++i) work(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    while (true) {
      std::size_t begin = next.fetch_add(kChunk);
      if (begin >= items.size()) return;
      for (std::size_t i = begin; i < std::min(begin + kChunk, items.size()); ++i) work(i);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
}

Concept make_concept(const fs::path& path, const std::string& folder_name) {
  Concept c;
  c.path = path;
  c.folder_name = folder_name;
  auto [repeats, name] = parse_concept_folder_name(folder_name);
  c.repeats = repeats;
  c.name = name.empty() ? folder_name : name;
  return c;
}

void check_caption_extension(const std::string& ext) {
  if (ext.size() < 2 || ext[0] != '.' || ext.find('/') != std::string::npos)
    throw Error(
        fmt::format("caption extension \"{}\" must be a dot and a name, like \".txt\"", ext));
}

// The name a root is known by: "." or "data/" has no last component of its own.
std::string folder_display_name(const fs::path& root) {
  fs::path p = root;
  if (p.filename().empty() || p.filename() == "." || p.filename() == "..") {
    std::error_code ec;
    fs::path abs = fs::weakly_canonical(root, ec);
    if (!ec) p = abs;
  }
  std::string name = p.filename().string();
  return name.empty() ? p.string() : name;
}

}  // namespace

Dataset scan_dataset(const fs::path& root, const ScanOptions& options) {
  check_caption_extension(options.caption_extension);
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0)
    throw Error(
        fmt::format("dataset folder {} does not exist ({})", root.string(), os_error(errno)));
  if (!S_ISDIR(st.st_mode))
    throw Error(
        fmt::format("{} is not a folder; give a dataset folder or a profile .toml", root.string()));
  Listing top = list_folder(root);
  if (!top.error.empty() && top.entries.empty())
    throw Error(top.error + "; check the folder's permissions");

  Dataset ds;
  ds.root = root;
  if (!top.error.empty()) ds.scan_problems.push_back(top.error);

  // Files directly in the root form one concept named after the root.
  bool root_images = false, root_captions = false, has_subfolders = false;
  for (const Entry& e : top.entries) {
    if (e.kind == EntryKind::Folder)
      has_subfolders = true;
    else if (e.kind == EntryKind::File && is_image_extension(e.name))
      root_images = true;
    else if (e.kind == EntryKind::File && ends_with(e.name, options.caption_extension))
      root_captions = true;
  }
  if (root_images || (root_captions && !has_subfolders)) {
    Concept c = make_concept(root, folder_display_name(root));
    FolderScan scan{options.caption_extension, false, c, {}};
    scan_folder(scan, root, 0, true);
    ds.concepts.push_back(std::move(c));
  } else {
    for (const Entry& e : top.entries) {
      if (e.kind == EntryKind::Problem)
        ds.scan_problems.push_back(e.problem);
      else if (e.kind == EntryKind::File && ends_with(e.name, options.caption_extension))
        ds.scan_problems.push_back(fmt::format(
            "{} is a caption in the dataset root, but the root holds no images; move it next to "
            "its image",
            (root / e.name).string()));
    }
  }

  for (const Entry& e : top.entries) {
    if (e.kind != EntryKind::Folder) continue;
    Concept c = make_concept(root / e.name, e.name);
    c.caption_extension = options.caption_extension;
    FolderScan scan{options.caption_extension, options.recursive, c, {}};
    scan_folder(scan, c.path, 0, false);
    ds.concepts.push_back(std::move(c));
  }
  for (Concept& c : ds.concepts) {
    c.caption_extension = options.caption_extension;
    sort_concept(c);
  }
  read_items(ds.concepts, options);
  return ds;
}

Dataset scan_concepts(const fs::path& root, const std::vector<ConceptSpec>& specs,
                      const ScanOptions& options) {
  Dataset ds;
  ds.root = root;
  for (const ConceptSpec& spec : specs) {
    check_caption_extension(spec.caption_extension);
    Concept c = make_concept(spec.path, folder_display_name(spec.path));
    c.repeats = spec.repeats;
    c.caption_extension = spec.caption_extension;
    c.activation_tag = spec.activation_tag;
    c.is_regularization = spec.is_regularization;
    c.loss_weight = spec.loss_weight;
    struct stat st {};
    if (::stat(spec.path.c_str(), &st) != 0) {
      c.scan_problems.push_back(fmt::format("concept folder {} does not exist ({})",
                                            spec.path.string(), os_error(errno)));
    } else if (!S_ISDIR(st.st_mode)) {
      c.scan_problems.push_back(fmt::format("concept path {} is not a folder", spec.path.string()));
    } else {
      FolderScan scan{c.caption_extension, options.recursive, c, {}};
      scan_folder(scan, spec.path, 0, false);
      sort_concept(c);
    }
    ds.concepts.push_back(std::move(c));
  }
  read_items(ds.concepts, options);
  return ds;
}

}  // namespace lathe
