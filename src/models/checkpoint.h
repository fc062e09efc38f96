// A base model on disk, opened for loading: a single-file checkpoint in the original LDM key
// layout (`model.diffusion_model.*`, `cond_stage_model.*`, `first_stage_model.*`, SDXL
// `conditioner.embedders.*`) or a diffusers folder (unet/, text_encoder/, text_encoder_2/,
// vae/, tokenizer/, scheduler/). Opening maps the files, detects the family and layout from
// the keys, and sorts every tensor into a component; component_tensors() then gives each
// component's tensors under Lathe's canonical module names (see key_maps.h), as lazy views
// into the mapped files, so a network loads one tensor at a time. Torch-free.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "models/model_family.h"

namespace lathe {

enum class CheckpointLayout { SingleFile, Diffusers };
enum class Component { UNet, TextEncoder, TextEncoder2, VAE };

const char* layout_name(CheckpointLayout l);  // "single-file", "diffusers"
const char* component_name(Component c);      // "unet", "text_encoder", "text_encoder_2", "vae"

// How a component's stored names relate to the canonical ones.
enum class KeyNaming { LDM, DiffusersUNet, DiffusersVAE, HFClip, OpenCLIP };

// One canonical tensor: where its bytes are and how to shape them.
struct TensorRef {
  const SafetensorsFile* file = nullptr;
  std::string source_key;             // the name in `file`
  TensorView view;                    // the stored tensor
  std::vector<std::int64_t> shape;    // canonical shape, after the steps below
  int qkv_part = -1;                  // 0/1/2: that third of dim 0 (fused OpenCLIP q/k/v)
  bool transpose = false;             // stored transposed (OpenCLIP text_projection)
};

struct ComponentSource {
  Component component = Component::UNet;
  const SafetensorsFile* file = nullptr;
  std::string prefix;                 // stripped from the keys ("" in a diffusers folder)
  KeyNaming naming = KeyNaming::LDM;
  std::vector<std::string> keys;      // full source keys, sorted
  std::filesystem::path config;       // diffusers/HF config.json, when there is one
};

struct CheckpointOptions {
  std::optional<PredictionType> prediction;  // the user's statement wins over any guess
  // The UNet from the EMA copy a non-pruned single file carries (`model_ema.*`, model.use_ema)
  // instead of its trained weights; open_checkpoint throws when the file has none.
  bool use_ema = false;
};

struct Checkpoint {
  std::filesystem::path path;
  CheckpointLayout layout = CheckpointLayout::SingleFile;
  ModelFamily family = ModelFamily::SD1;
  std::string family_evidence;        // why: "conditioner.embedders.1.model.* (OpenCLIP bigG)"
  PredictionType prediction = PredictionType::Epsilon;
  std::string prediction_source;      // "stated", "scheduler/scheduler_config.json", ...
  std::vector<std::filesystem::path> tokenizers;  // diffusers tokenizer folders found
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::vector<ComponentSource> components;
  std::vector<std::string> ignored_keys;  // EMA copies, schedule buffers, position_ids, ...
  std::size_t ema_tensors = 0;  // model_ema.* weight copies (0: a pruned file, or none kept)
  bool use_ema = false;         // component_tensors(UNet) reads the EMA copy (CheckpointOptions)

  const ComponentSource* find(Component c) const;
};

// Opens a single .safetensors file or a diffusers folder. Throws lathe::Error naming the path
// and the problem: pickles (.ckpt/.pt/.bin, with how to convert), other model types (LoRA,
// standalone VAE, SDXL refiner, SD3, Flux), keys that belong to no component.
Checkpoint open_checkpoint(const std::filesystem::path& path, const CheckpointOptions& options = {});

// The component's tensors by canonical name. Throws lathe::Error when the checkpoint has no
// such component or a stored key has no canonical name (listing the first few and the count).
std::map<std::string, TensorRef> component_tensors(const Checkpoint& ckpt, Component c);

// Canonical shapes of a component (for config detection, e.g. detect_unet_config).
std::map<std::string, std::vector<std::int64_t>> component_shapes(const Checkpoint& ckpt, Component c);

// Compares a component's tensors with the names a module expects; throws lathe::Error listing
// missing and unexpected keys (first few of each and the counts) and naming the family.
void check_component_keys(const Checkpoint& ckpt, Component c,
                          const std::map<std::string, TensorRef>& tensors,
                          const std::vector<std::string>& expected);

// "a, b, c and 12 more": the first few of a list, for error messages.
std::string list_some(const std::vector<std::string>& items, std::size_t shown = 5);

}  // namespace lathe
