// Samples grouped by step and prompt (see sample_table.h).
#include "runs/sample_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <regex>

#include "common/error.h"
#include "io/atomic_file.h"
#include "sample/png_parameters.h"
#include "sample/png_text.h"

namespace lathe {

const SampleFile* SampleTable::at(int row, int column) const {
  if (row < 0 || row >= static_cast<int>(rows.size()) || column < 0) return nullptr;
  const SampleRow& r = rows[static_cast<std::size_t>(row)];
  if (column >= static_cast<int>(r.cells.size())) return nullptr;
  const auto& cell = r.cells[static_cast<std::size_t>(column)];
  return cell ? &*cell : nullptr;
}

SampleTable make_sample_table(const std::vector<SampleFile>& samples) {
  SampleTable table;
  for (const SampleFile& s : samples) table.columns = std::max(table.columns, s.prompt_index + 1);
  std::vector<SampleFile> sorted = samples;
  std::stable_sort(sorted.begin(), sorted.end(), [](const SampleFile& a, const SampleFile& b) {
    return a.step != b.step ? a.step < b.step : a.seed < b.seed;
  });
  for (const SampleFile& s : sorted) {
    if (table.rows.empty() || table.rows.back().step != s.step) {
      SampleRow row;
      row.step = s.step;
      row.epoch = s.epoch;
      row.cells.resize(static_cast<std::size_t>(table.columns));
      table.rows.push_back(std::move(row));
    }
    auto& cell = table.rows.back().cells[static_cast<std::size_t>(s.prompt_index)];
    if (!cell) cell = s;  // seeds ascend within a step: the first is the lowest
  }
  return table;
}

std::vector<SampleFile> newest_samples(const SampleTable& table) {
  std::vector<SampleFile> out;
  if (table.rows.empty()) return out;
  for (const auto& cell : table.rows.back().cells)
    if (cell) out.push_back(*cell);
  return out;
}

std::string sample_row_label(const SampleRow& row) {
  if (row.step == 0) return "start";
  return fmt::format("epoch {}, step {}", row.epoch, row.step);
}

std::string sample_prompt(const std::filesystem::path& png) {
  try {
    for (const auto& [keyword, text] : read_png_texts(read_file(png, 64u << 20), png.string())) {
      if (keyword != "parameters") continue;
      static const std::regex lora_tag(R"(\s*<lora:[^>]*>)");
      std::string prompt = std::regex_replace(a1111_field(text, "Prompt"), lora_tag, "");
      std::replace(prompt.begin(), prompt.end(), '\n', ' ');
      return prompt;
    }
  } catch (const Error&) {
    // An unreadable or damaged image has no prompt to show; the view says "prompt N".
  }
  return "";
}

std::vector<std::string> column_prompts(const SampleTable& table) {
  std::vector<std::string> prompts(static_cast<std::size_t>(table.columns));
  for (int c = 0; c < table.columns; ++c)
    for (int r = static_cast<int>(table.rows.size()) - 1; r >= 0; --r)
      if (const SampleFile* s = table.at(r, c)) {
        prompts[static_cast<std::size_t>(c)] = sample_prompt(s->path);
        break;
      }
  return prompts;
}

std::optional<double> smoothed_loss_at(const RunMetrics& metrics, std::int64_t step) {
  std::optional<double> loss;
  for (const StepMetric& m : metrics.steps) {
    if (m.step > step) break;  // records are in step order
    loss = m.loss_smoothed != 0 ? m.loss_smoothed : m.loss;
  }
  return loss;
}

}  // namespace lathe
