// `lathe tags stats DIR`: tag frequencies of the dataset (or one concept) from the tag
// statistics module, most frequent first, as a table or --json. Opening the edit journal
// first means an interrupted edit batch is rolled back before anything is counted.
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/tags_common.h"
#include "common/error.h"
#include "common/terminal_text.h"
#include "dataset/tag_stats.h"

namespace lathe::cli {
namespace {

const TagTable& pick_table(const Dataset& dataset, const TagStats& stats, const Args& args) {
  auto wanted = args.value("concept");
  if (!wanted) return stats.overall;
  for (std::size_t i = 0; i < dataset.concepts.size(); ++i)
    if (dataset.concepts[i].name == *wanted || dataset.concepts[i].folder_name == *wanted)
      return stats.concepts.at(i);
  std::string names;
  for (const auto& c : dataset.concepts) names += (names.empty() ? "" : ", ") + c.folder_name;
  throw Error(fmt::format("no concept \"{}\" in {}; the concepts are: {}", *wanted,
                          dataset.root.string(), names.empty() ? "(none)" : names));
}

int run_stats(const Args& args) {
  const auto root = tags::dataset_root(args, "tags stats");
  long long top = args.int_or("top", 30);
  if (top < 0) throw UsageError("lathe tags stats: --top must be 0 (all) or more");
  {
    EditEngine engine(root, false);  // rolls back an interrupted batch before counting
    tags::report_recovery(engine);
  }
  Dataset dataset = tags::scan_for_tags(root, args, "tags stats");
  TagStats stats = compute_tag_stats(dataset);
  const TagTable& table = pick_table(dataset, stats, args);
  std::size_t shown = top == 0 ? table.tags.size()
                               : std::min(table.tags.size(), static_cast<std::size_t>(top));
  const std::string scope = args.value("concept") ? "concept " + *args.value("concept")
                                                  : std::string("whole dataset");
  if (args.has("json")) {
    nlohmann::json list = nlohmann::json::array();
    for (std::size_t i = 0; i < shown; ++i)
      list.push_back({{"tag", table.tags[i].tag},
                      {"images", table.tags[i].images},
                      {"percent", table.tags[i].percent}});
    nlohmann::json j{{"scope", scope},
                     {"captioned_images", table.images},
                     {"distinct_tags", table.tags.size()},
                     {"tags", list}};
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  // Tags come from caption files: shown with control bytes escaped.
  std::cout << fmt::format("{}: {} captioned image(s), {} distinct tag(s)\n", terminal_safe(scope),
                           table.images, table.tags.size());
  for (std::size_t i = 0; i < shown; ++i)
    std::cout << fmt::format("  {:>6}  {:>5.1f}%  {}\n", table.tags[i].images,
                             table.tags[i].percent, terminal_safe(table.tags[i].tag));
  if (shown < table.tags.size())
    std::cout << fmt::format("  ... {} more (--top 0 shows all)\n", table.tags.size() - shown);
  return kExitOk;
}

CommandSpec tags_stats_command() {
  CommandSpec s;
  s.name = "tags stats";
  s.usage = "DIR [--concept NAME] [--top N] [--json]";
  s.summary = "tag frequencies: how many captioned images carry each tag";
  s.options = {{"concept", "NAME", "only this concept"},
               {"top", "N", "show the N most frequent tags (default 30, 0: all)"},
               {"json", "", "machine-readable output"}};
  for (auto& d : tags::dataset_options()) s.options.push_back(d);
  s.min_positionals = s.max_positionals = 1;
  s.run = run_stats;
  return s;
}

}  // namespace

LATHE_REGISTER_COMMAND(tags_stats_command)

}  // namespace lathe::cli
