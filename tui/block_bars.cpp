// Per-block bars (see block_bars.h).
#include "tui/block_bars.h"

#include <algorithm>
#include <cmath>

#include "lora/lora_blocks.h"

namespace lathe::tui {

std::vector<BarPiece> block_bar_line(const LoRABlockNorms& n, bool unicode) {
  static const char* kUnicode[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  static const char* kAscii[] = {"_", ".", ":", "-", "=", "+", "*", "#"};
  double top = 0;
  for (const auto& b : n.blocks) top = std::max(top, b.norm);
  const bool xl = n.family == ModelFamily::SDXL;
  // SDXL's BASE (0) and OUT (22) never hold modules: the halves are 1-9, 10-12, 13-21.
  const int first = xl ? 1 : 0, half = static_cast<int>(unet_half_block_count(n.family));
  const int mid = static_cast<int>(unet_mid_block_count(n.family));
  std::vector<BarPiece> out;
  auto add_range = [&](const char* label, int from, int count) {
    out.push_back({std::string(out.empty() ? "" : " ") + label + " ", Role::Dim});
    for (int i = from; i < from + count && i < static_cast<int>(n.blocks.size()); ++i) {
      const BlockNorm& b = n.blocks[static_cast<std::size_t>(i)];
      if (b.modules == 0) {
        out.push_back({unicode ? "·" : " ", Role::Dim});
        continue;
      }
      const int level = top > 0 ? std::clamp(static_cast<int>(std::ceil(8 * b.norm / top)) - 1, 0, 7) : 0;
      out.push_back({unicode ? kUnicode[level] : kAscii[level], b.norm == top && top > 0 ? Role::Best : Role::Info});
    }
  };
  add_range("IN", first, half);
  add_range("MID", first + half, mid);
  add_range("OUT", first + half + mid, half);
  return out;
}

std::string strongest_block(const LoRABlockNorms& n) {
  const BlockNorm* best = nullptr;
  for (const auto& b : n.blocks)
    if (b.modules > 0 && (!best || b.norm > best->norm)) best = &b;
  return best ? best->label : "";
}

}  // namespace lathe::tui
