// Captions to UNet conditioning (see the header for each family's recipe).
#include "train/model/text_conditioning.h"

namespace lathe {
namespace {

torch::Tensor token_ids(BaseModel& model, const std::vector<std::string>& captions, int encoder,
                        torch::Device device) {
  std::vector<long> flat;
  for (const auto& caption : captions) {
    std::vector<long> ids = model.tokenizer->encode(caption, encoder);
    flat.insert(flat.end(), ids.begin(), ids.end());
  }
  const auto b = static_cast<std::int64_t>(captions.size());
  return torch::tensor(std::vector<std::int64_t>(flat.begin(), flat.end()), torch::kLong)
      .reshape({b, -1})
      .to(device);
}

}  // namespace

Conditioning encode_captions(BaseModel& model, const std::vector<std::string>& captions,
                             int clip_skip, torch::Device device) {
  Conditioning c;
  if (model.family == ModelFamily::SDXL) {
    CLIPTextOutput out1 = model.text_encoders[0]->forward(token_ids(model, captions, 0, device));
    CLIPTextOutput out2 = model.text_encoders[1]->forward(token_ids(model, captions, 1, device));
    c.context = torch::cat({model.text_encoders[0]->skip_hidden_state(out1, 2, false),
                            model.text_encoders[1]->skip_hidden_state(out2, 2, false)},
                           -1);
    c.text_embeds = out2.text_embeds;
    return c;
  }
  CLIPTextModel& te = model.text_encoders[0];
  // SD 2.x conditions on the penultimate layer; a 24-layer (single-file) tower still has it.
  const int skip = clip_skip + (model.family == ModelFamily::SD2 && te->config().layers == 24 ? 1 : 0);
  CLIPTextOutput out = te->forward(token_ids(model, captions, 0, device));
  c.context = te->skip_hidden_state(out, skip, true);
  return c;
}

torch::Tensor added_vector(BaseModel& model, const Conditioning& cond,
                           const std::vector<SizeConditioning>& sizes, torch::Device device) {
  if (model.family != ModelFamily::SDXL) return {};
  std::vector<float> ids;
  for (const auto& s : sizes)
    for (double v : {s.original_height, s.original_width, s.crop_top, s.crop_left, s.target_height,
                     s.target_width})
      ids.push_back(static_cast<float>(v));
  auto time_ids = torch::tensor(ids).reshape({static_cast<std::int64_t>(sizes.size()), 6}).to(device);
  return model.unet->sdxl_vector(cond.text_embeds, time_ids);
}

}  // namespace lathe
