// The epoch grid (see epoch_grid.h): one model load, one LoRA attached per row, the same
// requests in every row, one sheet written at the end.
#include "sample/epoch_grid.h"

#include <fmt/format.h>

#include <torch/torch.h>

#include <chrono>

#include "common/error.h"
#include "io/atomic_file.h"
#include "lora/lora_network.h"
#include "sample/contact_sheet.h"
#include "sample/png_parameters.h"
#include "sample/png_text.h"
#include "sample/sample_embeddings.h"
#include "train/model/base_model.h"
#include "train/model/compute_device.h"
#include "train/model/precision.h"

namespace lathe {

namespace {

void check_files(const EpochGridJob& job) {
  if (job.rows.empty()) throw Error("epoch grid: no epoch files to render");
  std::error_code ec;
  for (const GridRow& row : job.rows)
    if (!std::filesystem::is_regular_file(row.lora, ec))
      throw Error(fmt::format("epoch grid: {}: no such file", row.lora.string()));
  for (const LoRAChoice& l : job.sampling.loras)
    if (!std::filesystem::is_regular_file(l.path, ec))
      throw Error(fmt::format("--lora {}: no such file", l.path.string()));
}

}  // namespace

std::string grid_column_label(const ImageRequest& request) {
  std::string label = request.prompt;
  for (char& c : label)
    if (c == '\n' || c == '\r') c = ' ';
  return label;
}

std::vector<ImageRequest> run_epoch_grid(const EpochGridJob& job, const SampleCallbacks& callbacks) {
  auto note = [&](const std::string& text) {
    if (callbacks.on_note) callbacks.on_note(text);
  };
  check_files(job);
  SampleJob columns_job = job.sampling;
  columns_job.count = 1;  // one image per prompt and row: the grid's columns
  const torch::Device device = resolve_device(job.sampling.device);
  const WeightDType dtype = sample_compute_dtype(job.sampling.dtype, device);
  BaseModel model = load_sample_model(job.sampling, device, dtype);
  const std::vector<ImageRequest> requests = expand_requests(columns_job, native_image_side(model));
  note(fmt::format("model {} ({}, {} on {}); {} epochs x {} prompts", job.sampling.model,
                   family_name(model.family), weight_dtype_name(dtype), device.str(), job.rows.size(),
                   requests.size()));

  // LoRAs asked for with --lora stay under every row.
  std::vector<LoRANetwork> shared;
  for (const LoRAChoice& l : job.sampling.loras) {
    shared.emplace_back(model.unet, model.text_encoders, model.family, l.path, l.scale);
    shared.back()->eval();
  }
  install_sample_embeddings(model, job.sampling.embeddings, job.sampling.loras, note);

  RenderOptions options;
  options.device = device;
  options.dtype = torch_dtype_of(dtype);
  options.tiled_decode = job.sampling.tiled_decode;
  SampleProgress progress;
  progress.images = static_cast<int64_t>(job.rows.size() * requests.size());
  for (const ImageRequest& r : requests) progress.total_steps += r.steps * static_cast<int64_t>(job.rows.size());

  ContactSheetInput sheet;
  for (const ImageRequest& r : requests) sheet.column_labels.push_back(grid_column_label(r));
  for (const GridRow& row : job.rows) {
    sheet.row_labels.push_back(row.label);
    // Attached for this row only: the network detaches its adapters when it goes out of scope.
    LoRANetwork epoch(model.unet, model.text_encoders, model.family, row.lora, 1.0);
    epoch->eval();
    use_bundled_embeddings(model, row.lora, note);
    for (const ImageRequest& request : requests) {
      const auto started = std::chrono::steady_clock::now();
      options.on_step = [&](int64_t step, int64_t steps, const torch::Tensor&) {
        progress.step = step + 1;
        progress.steps = steps;
        ++progress.done_steps;
        return !callbacks.on_step || callbacks.on_step(progress);
      };
      torch::Tensor image = decode_image(model, render_latents(model, request, options), options);
      sheet.cells.push_back(image_mat(image).clone());
      if (callbacks.on_image)
        callbacks.on_image(row.lora, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      ++progress.image;
    }
  }

  // A1111 writes a grid's first image's parameters into the grid; so does Lathe (with the
  // first row's LoRA), so PNG-info readers show how the cells were made.
  std::vector<LoRAIdentity> first_loras;
  for (const LoRAChoice& l : job.sampling.loras) first_loras.push_back(lora_identity(l.path, l.scale));
  first_loras.push_back(lora_identity(job.rows.front().lora, 1.0));
  const std::string parameters =
      a1111_parameters(requests.front(), model_identity(job.sampling.model), first_loras);
  cv::Mat composed = compose_contact_sheet(sheet);
  write_file_atomic(job.out, encode_png(composed, {{"parameters", parameters}}));
  return requests;
}

}  // namespace lathe
