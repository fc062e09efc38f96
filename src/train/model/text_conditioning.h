// What the UNet is conditioned on for a batch of captions: the cross-attention context and,
// for SDXL, the added vector (pooled text embeds of encoder 2 plus the six size/crop time ids).
// SD 1.x: the hidden state clip_skip layers from the end, through the final layer norm. SD 2.x:
// the same, counted so clip_skip 1 is the penultimate layer of a 24-layer single-file OpenCLIP
// (the 23-layer diffusers export already ends there). SDXL: the penultimate states of both
// encoders, un-normed, concatenated, as kohya and diffusers do.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "train/model/base_model.h"

namespace lathe {

struct Conditioning {
  torch::Tensor context;      // [B, 77, cross_attention_dim]
  torch::Tensor text_embeds;  // SDXL: [B, P] pooled projection of encoder 2; else undefined
};

// Runs the text encoder(s) on `captions` on `device` (grad mode is the caller's choice: on when
// text-encoder LoRA trains).
Conditioning encode_captions(BaseModel& model, const std::vector<std::string>& captions,
                             int clip_skip, torch::Device device);

// SDXL size conditioning of one image: original size (h, w), crop top-left, target size (h, w).
struct SizeConditioning {
  double original_height = 0, original_width = 0;
  double crop_top = 0, crop_left = 0;
  double target_height = 0, target_width = 0;
};

// The UNet's `y` for SDXL ([B, adm_in_channels]); undefined for other families.
torch::Tensor added_vector(BaseModel& model, const Conditioning& cond,
                           const std::vector<SizeConditioning>& sizes, torch::Device device);

}  // namespace lathe
