// Which UNet blocks a LoRA learned most: the Frobenius norm of each module's delta (LoRA / LoCon
// up @ down, LoHa's Hadamard and LoKr's Kronecker products, each with alpha's scale as the loaders
// apply it; a DoRA module's adapter delta before DoRA's rescale) summed per kohya block
// (lora_blocks.h), and
// the text encoders' modules apart. `lathe lora inspect` prints it as a table and the TUI's run
// page draws it as bars for the newest epoch file; both only show what this computes.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "models/model_family.h"

namespace lathe {

class SafetensorsFile;

struct BlockNorm {
  int index = 0;
  std::string label;        // "IN04", "MID", "OUT11" (SDXL "MID01", "OUT08", ...)
  std::size_t modules = 0;
  double norm = 0.0;        // sum of the modules' delta Frobenius norms
};

struct LoRABlockNorms {
  ModelFamily family = ModelFamily::SD1;  // SD1 stands for SD 1.x and 2.x (same numbering)
  std::vector<BlockNorm> blocks;          // every block of the family, in index order
  std::size_t text_encoder_modules = 0;
  double text_encoder_norm = 0.0;
  std::size_t unnumbered_modules = 0;     // UNet modules kohya gives no block (none in kohya's files)
  double unnumbered_norm = 0.0;
  std::size_t skipped_modules = 0;        // Tucker (CP) modules (lora_mid, hada_t*, lokr_t*): not counted
};

// The family a file's UNet numbering follows: SDXL when its UNet names are LDM ones
// (input_blocks / middle_block / output_blocks, as kohya's SDXL networks write) or its
// ss_base_model_version says sdxl; else SD 1.x / 2.x.
ModelFamily lora_block_family(const SafetensorsFile& file);

// Reads every module of the file (and its alpha). Throws lathe::Error naming the file when it is
// not a kohya-format LoRA, or the module when its tensors do not fit together.
LoRABlockNorms lora_block_norms(const SafetensorsFile& file);
LoRABlockNorms lora_block_norms(const std::filesystem::path& path);

}  // namespace lathe
