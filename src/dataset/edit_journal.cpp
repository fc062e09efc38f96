// The caption edit journal (see edit_journal.h for the layout and the recovery rule).
// Write order for every batch: batch file (durable) -> state.json names it pending (durable)
// -> captions -> state.json commits it. A crash anywhere leaves either no pending batch
// (nothing or everything happened) or a pending one that recover() rolls back.
#include "dataset/edit_journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/stopwatch.h"
#include "dataset/edit_conflict.h"
#include "io/atomic_batch.h"
#include "io/atomic_file.h"
#include "io/file_owner.h"
#include "io/file_stamp.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kMagic = "LATHE-EDIT-BATCH 1";

json header_to_json(const BatchHeader& h) {
  return json{{"id", h.id},     {"op", h.op},     {"summary", h.summary},
              {"scope", h.scope}, {"time", h.time_unix}, {"files", h.files}};
}

BatchHeader header_from_json(const json& j) {
  BatchHeader h;
  h.id = j.at("id").get<int>();
  h.op = j.at("op").get<std::string>();
  h.summary = j.at("summary").get<std::string>();
  h.scope = j.value("scope", std::string());
  h.time_unix = j.at("time").get<std::int64_t>();
  h.files = j.at("files").get<std::size_t>();
  return h;
}

std::string serialize_batch(const BatchHeader& header, const std::vector<JournalRecord>& records) {
  std::size_t total = 256;
  for (const auto& r : records) total += 48 + r.rel_path.size() + r.before.size() + r.after.size();
  std::string out;
  out.reserve(total);
  out += kMagic;
  out += '\n';
  out += header_to_json(header).dump();
  out += '\n';
  std::size_t body_start = out.size();
  for (const auto& r : records) {
    out += fmt::format("R {} {} {}\n", r.rel_path.size(), r.before.size(), r.after.size());
    out += r.rel_path;
    out += r.before;
    out += r.after;
  }
  std::uint64_t hash = content_hash(std::string_view(out).substr(body_start));
  out += fmt::format("END {} {:016x}\n", records.size(), hash);
  return out;
}

[[noreturn]] void damaged(const fs::path& file, const std::string& what) {
  throw Error(fmt::format("the edit journal file {} is damaged ({}); move the folder {} away to "
                          "continue editing (its undo history is then lost)",
                          file.string(), what, file.parent_path().string()));
}

std::size_t parse_size(std::string_view s, const fs::path& file) {
  std::size_t v = 0;
  if (s.empty()) damaged(file, "a record length is missing");
  for (char c : s) {
    if (c < '0' || c > '9') damaged(file, "a record length is not a number");
    v = v * 10 + static_cast<std::size_t>(c - '0');
  }
  return v;
}

std::string_view take_line(std::string_view data, std::size_t& pos, const fs::path& file) {
  std::size_t nl = data.find('\n', pos);
  if (nl == std::string_view::npos) damaged(file, "it ends in the middle of a line");
  std::string_view line = data.substr(pos, nl - pos);
  pos = nl + 1;
  return line;
}

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= line.size()) {
    std::size_t sp = line.find(' ', start);
    if (sp == std::string_view::npos) sp = line.size();
    out.push_back(line.substr(start, sp - start));
    start = sp + 1;
  }
  return out;
}

json ids_json(const std::vector<int>& ids) { return json(ids); }

std::vector<int> ids_from(const json& j, const char* key) {
  std::vector<int> out;
  if (j.contains(key)) out = j.at(key).get<std::vector<int>>();
  return out;
}

// Reads a caption for recovery / undo checks, with the stamp of the file read when asked;
// nullopt when it is missing or unreadable.
std::optional<std::string> try_read(const fs::path& path, FileStamp* stamp = nullptr) {
  try {
    FileStamp read;
    std::string bytes = read_file_stamped(path, std::size_t(1) << 34, read);
    if (stamp) *stamp = read;
    return bytes;
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::string list_left_alone(const std::vector<std::string>& files) {
  std::string list;
  for (std::size_t i = 0; i < files.size() && i < 5; ++i) list += " " + files[i];
  if (files.size() > 5) list += " ...";
  return list;
}

std::string temp_tag_for(int id) { return fmt::format("lathe-b{}", id); }

}  // namespace

std::string to_string(BatchStatus status) {
  switch (status) {
    case BatchStatus::Applied: return "applied";
    case BatchStatus::Undone: return "undone";
    case BatchStatus::RolledBack: return "rolled back";
    case BatchStatus::Discarded: return "discarded";
  }
  return "?";
}

std::string RecoveryReport::message() const {
  if (!happened) return {};
  std::string out = fmt::format(
      "recovered from an interrupted {} of batch #{} ({}): rolled back, {} caption(s) restored "
      "to their bytes from before that command",
      action, batch, summary, restored);
  if (!left_alone.empty()) {
    out += fmt::format("; {} caption(s) had been changed by another program since and were left "
                       "as found:",
                       left_alone.size());
    for (std::size_t i = 0; i < left_alone.size() && i < 10; ++i) out += " " + left_alone[i];
    if (left_alone.size() > 10) out += " ...";
  }
  return out;
}

EditJournal::EditJournal(const fs::path& dataset_root, bool create)
    : root_(dataset_root), dir_(dataset_root / ".lathe" / "journal"), owner_(owner_of(root_)) {
  std::error_code ec;
  present_ = fs::is_directory(dir_, ec);
  if (!present_ && !create) return;
  if (!present_) {
    fs::create_directories(dir_, ec);
    if (ec)
      throw Error(fmt::format("cannot create the edit journal {}: {} (the dataset folder must be "
                              "writable)",
                              dir_.string(), ec.message()));
    present_ = true;
  }
  // Run as root (sudo), the journal stays the dataset owner's, so their own undo still works.
  if (owner_) {
    give_path_to(root_ / ".lathe", *owner_);
    give_path_to(dir_, *owner_);
  }
  const fs::path lock = dir_ / "lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0)
    throw Error(fmt::format("cannot open {}: {}", lock.string(), std::strerror(errno)));
  try {
    if (owner_) give_fd_to(lock_fd_, *owner_, lock);
  } catch (const Error&) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw;
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw Error(fmt::format("another lathe command is editing the captions of {} right now; wait "
                            "for it to finish and run this again",
                            root_.string()));
  }
  load_state();
  recover();
}

EditJournal::~EditJournal() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // closing releases the flock
}

fs::path EditJournal::batch_path(int id) const {
  return dir_ / fmt::format("batch-{:06d}.lj", id);
}

void EditJournal::load_state() {
  const fs::path file = dir_ / "state.json";
  std::error_code ec;
  if (!fs::exists(file, ec)) return;
  try {
    json j = json::parse(read_file(file));
    state_.applied = ids_from(j, "applied");
    state_.undone = ids_from(j, "undone");
    state_.rolled_back = ids_from(j, "rolled_back");
    state_.discarded = ids_from(j, "discarded");
    if (j.contains("pending") && !j.at("pending").is_null()) {
      state_.pending_batch = j.at("pending").at("batch").get<int>();
      state_.pending_action = j.at("pending").at("action").get<std::string>();
    }
  } catch (const json::exception& e) {
    damaged(file, e.what());
  }
}

void EditJournal::save_state() const {
  json j{{"version", 1},
         {"applied", ids_json(state_.applied)},
         {"undone", ids_json(state_.undone)},
         {"rolled_back", ids_json(state_.rolled_back)},
         {"discarded", ids_json(state_.discarded)},
         {"pending", nullptr}};
  if (state_.pending_batch != 0)
    j["pending"] = json{{"batch", state_.pending_batch}, {"action", state_.pending_action}};
  write_owned(dir_ / "state.json", j.dump(1) + "\n");
}

void EditJournal::write_owned(const fs::path& path, const std::string& bytes) const {
  if (owner_) write_file_atomic_owned(path, bytes, *owner_);
  else write_file_atomic(path, bytes);
}

int EditJournal::next_id() const {
  int max_id = state_.pending_batch;
  for (const auto* ids : {&state_.applied, &state_.undone, &state_.rolled_back, &state_.discarded})
    for (int id : *ids) max_id = std::max(max_id, id);
  return max_id + 1;
}

std::vector<JournalRecord> EditJournal::load_records(int id, BatchHeader* header) const {
  const fs::path file = batch_path(id);
  std::string data;
  try {
    data = read_file(file);
  } catch (const Error& e) {
    damaged(file, e.what());
  }
  std::string_view v = data;
  std::size_t pos = 0;
  if (take_line(v, pos, file) != kMagic) damaged(file, "it does not start with the journal magic");
  std::string_view header_line = take_line(v, pos, file);
  if (header) {
    try {
      *header = header_from_json(json::parse(header_line));
    } catch (const json::exception& e) {
      damaged(file, e.what());
    }
  }
  std::vector<JournalRecord> records;
  const std::size_t body_start = pos;
  while (true) {
    const std::size_t line_start = pos;
    auto parts = split_spaces(take_line(v, pos, file));
    if (parts.size() == 3 && parts[0] == "END") {
      if (parse_size(parts[1], file) != records.size()) damaged(file, "the record count is wrong");
      std::uint64_t hash = content_hash(v.substr(body_start, line_start - body_start));
      if (fmt::format("{:016x}", hash) != parts[2]) damaged(file, "the checksum does not match");
      return records;
    }
    if (parts.size() != 4 || parts[0] != "R") damaged(file, "a record header is malformed");
    std::size_t n_path = parse_size(parts[1], file), n_before = parse_size(parts[2], file),
                n_after = parse_size(parts[3], file);
    if (v.size() - pos < n_path + n_before + n_after) damaged(file, "a record is cut short");
    JournalRecord r;
    r.rel_path = std::string(v.substr(pos, n_path));
    r.before = std::string(v.substr(pos + n_path, n_before));
    r.after = std::string(v.substr(pos + n_path + n_before, n_after));
    pos += n_path + n_before + n_after;
    records.push_back(std::move(r));
  }
}

std::size_t EditJournal::roll_back(int id, const std::vector<JournalRecord>& records, Side target,
                                   std::vector<std::string>* left_alone) {
  std::vector<AtomicBatchEntry> writes;
  for (const auto& r : records) {
    const fs::path path = root_ / r.rel_path;
    ::unlink(batch_temp_path(path, temp_tag_for(id)).c_str());  // a crashed batch's leftovers
    const std::string& want = target == Side::Before ? r.before : r.after;
    const std::string& other = target == Side::Before ? r.after : r.before;
    auto current = try_read(path);
    if (current && *current == want) continue;
    if (current && *current == other) {
      writes.push_back({path, want});
      continue;
    }
    if (left_alone) left_alone->push_back(r.rel_path);
  }
  write_files_atomic(writes, temp_tag_for(id) + "r");
  return writes.size();
}

void EditJournal::recover() {
  if (state_.pending_batch == 0) return;
  const int id = state_.pending_batch;
  BatchHeader header;
  auto records = load_records(id, &header);
  // Rolling back: an interrupted apply or redo returns to `before`, an interrupted undo to
  // `after`, i.e. to the state the interrupted command started from.
  const Side target = state_.pending_action == "undo" ? Side::After : Side::Before;
  recovery_.happened = true;
  recovery_.batch = id;
  recovery_.action = state_.pending_action;
  recovery_.summary = header.summary;
  recovery_.restored = roll_back(id, records, target, &recovery_.left_alone);
  if (state_.pending_action == "apply") state_.rolled_back.push_back(id);
  state_.pending_batch = 0;
  state_.pending_action.clear();
  save_state();
}

std::vector<AtomicBatchSkip> EditJournal::move_batch(int id, const BatchHeader& header,
                                                   const std::vector<JournalRecord>& records,
                                                   Side from, Side to, const std::string& action,
                                                   const AfterWriteHook& hook,
                                                   EditTimings* timings) {
  // What the batch writer compares each caption with right before replacing it: the stamps of
  // the command's own check for an apply, of the check below for undo / redo.
  std::vector<FileStamp> stamps(records.size());
  if (action == "apply") {
    for (std::size_t i = 0; i < records.size(); ++i) stamps[i] = records[i].checked;
  } else {
    // Undo/redo must find every caption as the batch left it, or it would clobber a later
    // change made outside this journal.
    std::vector<std::string> changed;
    for (std::size_t i = 0; i < records.size(); ++i) {
      const auto& r = records[i];
      auto current = try_read(root_ / r.rel_path, &stamps[i]);
      if (!current || *current != (from == Side::Before ? r.before : r.after))
        changed.push_back(r.rel_path);
    }
    if (!changed.empty()) {
      throw Error(fmt::format(
          "cannot {} batch #{} ({}): {} caption file(s) changed since it was {}:{}; nothing was "
          "written. Put those files back as they were (or remove them from the dataset) and run "
          "{} again",
          action, id, header.summary, changed.size(), action == "undo" ? "applied" : "undone",
          list_left_alone(changed), action));
    }
  }
  Stopwatch pending_watch;
  state_.pending_batch = id;
  state_.pending_action = action;
  save_state();
  if (timings) timings->journal_s += pending_watch.seconds();

  std::vector<AtomicBatchEntry> writes;
  writes.reserve(records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    writes.push_back({root_ / r.rel_path, to == Side::Before ? r.before : r.after, 0u, &stamps[i],
                      from == Side::Before ? r.before : r.after});
  }
  std::vector<AtomicBatchSkip> skipped;
  try {
    skipped = write_files_atomic(writes, temp_tag_for(id), [&](std::size_t i) {
      if (hook) hook(i + 1);
    }, timings ? &timings->writes : nullptr, before_write_check_);
    // An undo or redo is all or nothing: half a batch undone would leave the history lying.
    if (!skipped.empty() && action != "apply") {
      std::vector<std::string> changed;
      for (const auto& sk : skipped) changed.push_back(records[sk.index].rel_path);
      throw Error(fmt::format("cannot {} batch #{} ({}): {} caption file(s) changed on disk while "
                              "it was being written ({}):{}",
                              action, id, header.summary, changed.size(), skipped[0].change,
                              list_left_alone(changed)));
    }
  } catch (const Error& e) {
    std::size_t restored = roll_back(id, records, from, nullptr);
    if (action == "apply") state_.rolled_back.push_back(id);
    state_.pending_batch = 0;
    state_.pending_action.clear();
    save_state();
    throw Error(fmt::format("{}; the {} caption(s) already written were restored, so nothing "
                            "changed",
                            e.what(), restored));
  }
  return skipped;
}

int EditJournal::apply(BatchHeader header, const std::vector<JournalRecord>& records,
                       const AfterWriteHook& hook, EditTimings* timings,
                       std::vector<LeftAlone>* left_alone) {
  if (!present_) throw Error("internal: the edit journal was opened read-only");
  Stopwatch watch;
  header.id = next_id();
  header.files = records.size();
  if (header.time_unix == 0) header.time_unix = static_cast<std::int64_t>(std::time(nullptr));
  write_owned(batch_path(header.id), serialize_batch(header, records));
  if (timings) timings->journal_s = watch.lap();
  const auto skipped =
      move_batch(header.id, header, records, Side::Before, Side::After, "apply", hook, timings);
  watch.lap();
  if (!skipped.empty() && !keep_written_only(header, records, skipped, left_alone)) return 0;
  state_.applied.push_back(header.id);
  // A new edit ends the redo chain, as in any editor; the batch files stay for history.
  state_.discarded.insert(state_.discarded.end(), state_.undone.begin(), state_.undone.end());
  state_.undone.clear();
  state_.pending_batch = 0;
  state_.pending_action.clear();
  save_state();
  if (timings) timings->commit_s = watch.lap();
  return header.id;
}

bool EditJournal::keep_written_only(BatchHeader& header, const std::vector<JournalRecord>& records,
                                    const std::vector<AtomicBatchSkip>& skipped,
                                    std::vector<LeftAlone>* left_alone) {
  std::vector<char> was_skipped(records.size(), 0);
  for (const auto& sk : skipped) {
    was_skipped[sk.index] = 1;
    if (left_alone) left_alone->push_back({records[sk.index].rel_path, sk.change});
  }
  std::vector<JournalRecord> written;
  for (std::size_t i = 0; i < records.size(); ++i)
    if (!was_skipped[i]) written.push_back(records[i]);
  try {
    if (!written.empty()) {
      header.files = written.size();
      write_owned(batch_path(header.id), serialize_batch(header, written));
      return true;
    }
  } catch (const Error& e) {
    const std::size_t restored = roll_back(header.id, written, Side::Before, nullptr);
    state_.rolled_back.push_back(header.id);
    state_.pending_batch = 0;
    state_.pending_action.clear();
    save_state();
    throw Error(fmt::format("{}; the {} caption(s) written were restored, so nothing changed",
                            e.what(), restored));
  }
  // Every caption changed under the batch: nothing was written, the batch never happened.
  state_.rolled_back.push_back(header.id);
  state_.pending_batch = 0;
  state_.pending_action.clear();
  save_state();
  return false;
}

std::optional<BatchHeader> EditJournal::undo(const AfterWriteHook& hook) {
  if (state_.applied.empty()) return std::nullopt;
  const int id = state_.applied.back();
  BatchHeader header;
  const auto records = load_records(id, &header);
  move_batch(id, header, records, Side::After, Side::Before, "undo", hook);
  state_.applied.pop_back();
  state_.undone.push_back(id);
  state_.pending_batch = 0;
  state_.pending_action.clear();
  save_state();
  return header;
}

std::optional<BatchHeader> EditJournal::redo(const AfterWriteHook& hook) {
  if (state_.undone.empty()) return std::nullopt;
  const int id = state_.undone.back();
  BatchHeader header;
  const auto records = load_records(id, &header);
  move_batch(id, header, records, Side::Before, Side::After, "redo", hook);
  state_.undone.pop_back();
  state_.applied.push_back(id);
  state_.pending_batch = 0;
  state_.pending_action.clear();
  save_state();
  return header;
}

std::vector<HistoryEntry> EditJournal::history() const {
  std::vector<HistoryEntry> out;
  auto add = [&](const std::vector<int>& ids, BatchStatus status) {
    for (int id : ids) {
      HistoryEntry e;
      e.status = status;
      std::ifstream in(batch_path(id), std::ios::binary);
      std::string magic, line;
      if (!std::getline(in, magic) || magic != kMagic || !std::getline(in, line))
        damaged(batch_path(id), "its header cannot be read");
      try {
        e.header = header_from_json(json::parse(line));
      } catch (const json::exception& ex) {
        damaged(batch_path(id), ex.what());
      }
      out.push_back(std::move(e));
    }
  };
  add(state_.applied, BatchStatus::Applied);
  add(state_.undone, BatchStatus::Undone);
  add(state_.rolled_back, BatchStatus::RolledBack);
  add(state_.discarded, BatchStatus::Discarded);
  std::sort(out.begin(), out.end(),
            [](const HistoryEntry& a, const HistoryEntry& b) { return a.header.id < b.header.id; });
  return out;
}

}  // namespace lathe
