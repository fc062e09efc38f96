// One line of bars for a LoRA's per-block delta norms (lora/lora_block_norms.h): "IN" and the
// down blocks, "MID" and the middle, "OUT" and the up blocks, one glyph per block whose height
// is its norm against the largest (8 levels: ▁..█, or _.:-=+*# in ASCII), a dot for a block
// without modules. The run page draws it for the newest epoch file.
#pragma once

#include <string>
#include <vector>

#include "lora/lora_block_norms.h"
#include "tui/theme.h"

namespace lathe::tui {

struct BarPiece {
  std::string text;
  Role role = Role::Normal;
};

// The pieces of the line, left to right; every glyph is one column wide.
std::vector<BarPiece> block_bar_line(const LoRABlockNorms& norms, bool unicode);

// "OUT04" (the block with the largest norm), or "" when no block has modules.
std::string strongest_block(const LoRABlockNorms& norms);

}  // namespace lathe::tui
