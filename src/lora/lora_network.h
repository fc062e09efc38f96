// A kohya-compatible LoRA network ("LierLa", kohya-ss sd-scripts networks/lora.py, with LoCon's
// conv_dim / conv_alpha): one LoRAModule per targeted Linear / Conv2d of the UNet and,
// optionally, the text encoders, attached through models/module_adapter.h so the base model
// keeps its modules and canonical parameter names untouched. The network is itself a
// torch::nn::Module whose children are registered under kohya's names
// (`lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q`), so its
// named_parameters() / named_buffers() are exactly the keys of a kohya LoRA file
// (`<name>.lora_down.weight`, `<name>.lora_up.weight`, `<name>.alpha`).
//
// Targets (kohya's defaults): every Linear and 1x1 Conv2d inside the UNet's spatial
// transformers (Transformer2DModel: proj_in, proj_out, attn1/attn2 to_q/to_k/to_v/to_out.0,
// ff.net.0.proj, ff.net.2); with conv_rank > 0 also the ResBlocks (ResnetBlock2D: both 3x3
// convs, time-embedding Linear, 1x1 shortcut), down- and upsampler convs; text encoders: the
// Linear layers of every CLIP attention and MLP. Names: SD 1.x / 2.x use diffusers module paths
// (kohya trains a diffusers UNet), SDXL uses the LDM paths (kohya's own SDXL UNet).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lora/lora_blocks.h"
#include "lora/network_module.h"
#include "lora/network_type.h"
#include "models/clip_text.h"
#include "models/model_family.h"
#include "models/unet.h"

namespace lathe {

// Which model a module adapts; its kohya key prefix.
enum class LoRAPart { UNet, TextEncoder, TextEncoder1, TextEncoder2 };
const char* lora_part_prefix(LoRAPart p);  // "lora_unet", "lora_te", "lora_te1", "lora_te2"

struct LoRAOptions {
  NetworkAlgo algo = NetworkAlgo::LoRA;  // LoRA / LoCon, LoHa or LoKr for every module
  bool dora = false;            // DoRA's magnitude (dora_scale) on every module
  std::int64_t lokr_factor = -1;         // LoKr: LyCORIS's factor (-1 = closest to a square)
  bool lokr_decompose_both = false;      // LoKr: w1 a rank product too (LyCORIS decompose_both)
  std::int64_t rank = 4;        // kohya network_dim
  double alpha = 1.0;           // network_alpha; scale = alpha / rank; <= 0 means alpha = rank
  std::int64_t conv_rank = 0;   // LoCon conv_dim for 3x3 convs; 0 = no ResBlock/sampler modules
  double conv_alpha = 1.0;      // conv_alpha (<= 0 means conv_rank)
  double dropout = 0.0;         // on the down projection's output (train mode only)
  double rank_dropout = 0.0;    // per-sample mask over rank channels, rescaled (train only)
  double module_dropout = 0.0;  // probability of skipping a module for a whole forward (train only)
  double multiplier = 1.0;
  bool unet = true;             // adapt the UNet
  bool text_encoders = false;   // adapt the text encoder(s)
  // Per-UNet-block ranks, alphas and lr weights (lora_blocks.h); a block with rank 0 or lr
  // weight 0 gets no modules. Resolved against the family when targets are chosen.
  LoRABlockSettings blocks;
};

// Reference: kohya-ss networks/lora.py LoRAModule. lora_down: Linear(in, r) or Conv2d(in, r,
// the base's kernel/stride/padding); lora_up: Linear(r, out) or 1x1 Conv2d(r, out); no biases.
// Initialised as kohya does (down kaiming_uniform_(a = sqrt(5)) from torch's global generator,
// up zeros), so a fresh network leaves the model's output exactly unchanged. With DoRA
// (LyCORIS's LoCon with weight_decompose) it also holds dora_scale and adds
// dora_delta(base, up @ down * scale) instead.
struct LoRAModuleImpl : NetworkModuleImpl {
  // `base` must be a torch::nn::LinearImpl or Conv2dImpl; throws lathe::Error otherwise.
  LoRAModuleImpl(const torch::nn::Module& base, std::int64_t rank, double alpha, bool dora = false);
  LoRAModuleImpl(const BaseOp& op, std::int64_t rank, double alpha, bool dora = false);

  // base_out + up(down(x)) * multiplier * scale, with the dropouts in train mode.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& base_out) override;
  torch::Tensor delta_weight() const override;  // up @ down * scale, the base weight's shape
  NetworkAlgo algo() const override { return NetworkAlgo::LoRA; }

  torch::nn::AnyModule lora_down, lora_up;     // registered as "lora_down", "lora_up"
};
TORCH_MODULE(LoRAModule);

// One injected module: its kohya name, part, and the canonical path of the module it adapts.
struct LoRATarget {
  std::string name;         // "lora_unet_..._to_q"
  LoRAPart part = LoRAPart::UNet;
  std::string module_path;  // canonical (LDM / HF) path in its model: "input_blocks.1.1.proj_in"
  std::shared_ptr<torch::nn::Module> base;  // the adapted Linear / Conv2d
  std::int64_t rank = 0;    // rank / conv_rank chosen for it
  double alpha = 0;
  int block = -1;           // kohya's UNet block index (lora_blocks.h); -1 for text encoders
  ModuleSpec spec;          // the module's type and shape (rank and alpha above are its own)
  std::shared_ptr<NetworkModuleImpl> module;  // set once a network builds it
};

// The modules a network with these options would adapt (module left empty), in model order:
// UNet first, then text encoders. SD 1.x / 2.x UNet names go through the diffusers key map.
// Throws lathe::Error when a UNet path has no diffusers name.
std::vector<LoRATarget> lora_targets(UNet unet, const std::vector<CLIPTextModel>& text_encoders,
                                     ModelFamily family, const LoRAOptions& options);

// The per-block plan of `options.blocks` for `family` (every block at rank / alpha when no
// block key is set). Throws lathe::Error naming the network.* key (lora_blocks.h).
LoRABlockPlan lora_block_plan(ModelFamily family, const LoRAOptions& options);

// prefix + "_" + path with '.' -> '_' (kohya: "lora_unet" + "down_blocks.0.attentions.0...").
std::string kohya_lora_name(LoRAPart part, const std::string& kohya_path);

// Reference: kohya-ss networks/lora.py LoRANetwork (create_network, apply_to, save_weights,
// load_weights). Injects on construction and detaches its adapters when destroyed.
struct LoRANetworkImpl : torch::nn::Module {
  // text_encoders: none, one (SD 1.x / 2.x: lora_te) or two (SDXL: lora_te1, lora_te2).
  // Builds modules for the parts options.unet / options.text_encoders select, in fp32 on the
  // base modules' device; throws lathe::Error when a part is asked for but absent.
  LoRANetworkImpl(UNet unet, std::vector<CLIPTextModel> text_encoders, ModelFamily family,
                  LoRAOptions options);
  // The network a LoRA file holds, of any type (LoRA / LoCon, LoHa, LoKr, with or without
  // DoRA, mixed; told by each module's keys), with its values loaded: for sampling with a file
  // and merging checks. Throws lathe::Error naming the file when a module has no target in
  // these models or does not fit its base.
  LoRANetworkImpl(UNet unet, std::vector<CLIPTextModel> text_encoders, ModelFamily family,
                  const std::filesystem::path& file, double multiplier = 1.0);
  ~LoRANetworkImpl() override;

  const std::vector<LoRATarget>& targets() const { return targets_; }
  std::vector<LoRATarget> targets(LoRAPart part) const;
  // Trainable tensors of the UNet modules and of the text-encoder modules (kohya's param
  // groups for unet_lr / text_encoder_lr).
  std::vector<torch::Tensor> unet_parameters() const;
  std::vector<torch::Tensor> text_encoder_parameters() const;
  // The UNet's trainable tensors per kohya block index, for one param group per block when
  // the profile sets lr weights (the plan's lr_weights give each group's factor).
  std::map<int, std::vector<torch::Tensor>> unet_parameters_by_block() const;
  const LoRABlockPlan& block_plan() const { return block_plan_; }

  void set_multiplier(double m);  // every module (inference strength; 1 while training)
  // train(bool) (inherited) switches dropout / rank dropout / module dropout on and off.

  ModelFamily family() const { return family_; }
  const LoRAOptions& options() const { return options_; }

  // The state dict: every `<name>.lora_down.weight`, `.lora_up.weight` (or the LoHa / LoKr
  // keys), `.alpha`, `.dora_scale`, sorted,
  // on the CPU in `dtype` (fp32 / fp16 / bf16: kohya's save_precision).
  std::vector<std::pair<std::string, torch::Tensor>> kohya_state(torch::Dtype dtype) const;

  // Writes the kohya file atomically with `metadata` (see lora_metadata.h for the ss_* keys).
  void save(const std::filesystem::path& path, torch::Dtype dtype,
            const std::map<std::string, std::string>& metadata) const;

  // Loads a kohya LoRA file's weights into this network (resume / continue training). Strict:
  // throws lathe::Error listing unknown keys, missing keys and shape (rank) mismatches. Alphas
  // are taken from the file (and the scales follow).
  void load(const std::filesystem::path& path);
  void load_state(const std::map<std::string, torch::Tensor>& state, const std::string& source);

 private:
  void detach_all();
  void build_modules();  // modules for targets_ (their spec set), attached to their bases
  ModelFamily family_;
  LoRAOptions options_;
  UNet unet_{nullptr};
  std::vector<CLIPTextModel> text_encoders_;
  std::vector<LoRATarget> targets_;
  LoRABlockPlan block_plan_;
  std::vector<const torch::nn::Module*> attached_;
};
TORCH_MODULE(LoRANetwork);

}  // namespace lathe
