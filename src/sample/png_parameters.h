// A generated image's PNG file with its generation parameters in a `parameters` text chunk,
// in the text A1111 writes (modules/processing.py create_infotext), so A1111's PNG Info tab,
// ComfyUI's and civitai's readers show the prompt, sampler, seed, model and LoRAs:
//
//   photo of a woman <lora:mylora:0.8>
//   Negative prompt: blurry
//   Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Model hash: 6ce0161689,
//   Model: v1-5-pruned-emaonly, Lora hashes: "mylora: 1a2b3c4d5e6f"
//
// (the parameters are one line). Values holding ',', ':' or a newline are JSON-quoted, as
// A1111's quote() does; LoRAs also appear as <lora:name:scale> in the prompt so "send to
// txt2img" applies them again.
#pragma once

#include <opencv2/core.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "sample/text_to_image.h"

namespace lathe {

// The model an image came from, as A1111 names it.
struct ModelIdentity {
  std::string name;  // the checkpoint's file name without extension ("v1-5-pruned-emaonly")
  std::string hash;  // A1111's short hash: the first 10 hex digits of the file's SHA-256; "" unknown
};

// A LoRA applied to the image.
struct LoRAIdentity {
  std::string name;  // file name without extension
  std::string hash;  // A1111's short hash: first 12 hex digits of sshs_model_hash / the tensor SHA-256
  double scale = 1.0;
};

// The identity of a base model path: a file's stem and SHA-256 short hash (reads the whole
// file), a diffusers folder's name without a hash, "tiny-random:sd15" as is without a hash.
ModelIdentity model_identity(const std::string& model_path);

// The identity of a kohya LoRA file at `scale` (its sshs_model_hash when present, else the
// SHA-256 of its tensor bytes, as A1111 computes it). Throws lathe::Error naming the file.
LoRAIdentity lora_identity(const std::filesystem::path& path, double scale);

// A1111's quote(): the text itself, or JSON-quoted when it holds ',', ':' or a newline.
std::string a1111_quote(const std::string& text);

// The `parameters` text of one image.
std::string a1111_parameters(const ImageRequest& request, const ModelIdentity& model,
                             const std::vector<LoRAIdentity>& loras);

// One field of a parameters text, read as A1111's parse_generation_parameters does ("Seed" ->
// "1"); "Prompt" and "Negative prompt" give the prompt lines. "" when absent.
std::string a1111_field(const std::string& parameters, const std::string& key);

// Writes `image` (8-bit RGB, [H, W, 3] uint8 tensor on the CPU, as decode_image returns) as a
// PNG with a `parameters` chunk, atomically. Throws lathe::Error naming the file.
void write_parameters_png(const std::filesystem::path& path, const torch::Tensor& image,
                          const std::string& parameters);

// The image tensor as a cv::Mat sharing its memory (RGB order).
cv::Mat image_mat(const torch::Tensor& image);

}  // namespace lathe
