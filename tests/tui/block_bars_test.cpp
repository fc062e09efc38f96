// The run page's block bars: one glyph per block, heights against the largest norm, a dot for
// a block without modules, and the halves of each family.
#include <gtest/gtest.h>

#include <map>

#include "lora/lora_blocks.h"
#include "tui/block_bars.h"

namespace lathe::tui {
namespace {

LoRABlockNorms norms(ModelFamily family, const std::map<int, double>& values) {
  LoRABlockNorms n;
  n.family = family;
  for (std::size_t i = 0; i < unet_block_count(family); ++i) {
    BlockNorm b;
    b.index = static_cast<int>(i);
    b.label = unet_block_label(family, b.index);
    if (auto it = values.find(b.index); it != values.end()) {
      b.modules = 1;
      b.norm = it->second;
    }
    n.blocks.push_back(b);
  }
  return n;
}

std::string joined(const std::vector<BarPiece>& pieces) {
  std::string s;
  for (const auto& p : pieces) s += p.text;
  return s;
}

TEST(BlockBars, OneGlyphPerBlockScaledToTheLargest) {
  auto n = norms(ModelFamily::SD1, {{1, 1.0}, {2, 0.5}, {12, 0.1}, {24, 0.0}});
  EXPECT_EQ(joined(block_bar_line(n, false)), "IN  #-          MID _ OUT            _");
  EXPECT_EQ(joined(block_bar_line(n, true)), "IN ·█▄········· MID ▁ OUT ···········▁");
  EXPECT_EQ(strongest_block(n), "IN01");
  auto pieces = block_bar_line(n, true);
  EXPECT_EQ(pieces[2].role, Role::Best);  // IN01
}

TEST(BlockBars, SDXLShowsItsNineThreeNine) {
  auto n = norms(ModelFamily::SDXL, {{5, 2.0}, {11, 2.0}, {13, 1.0}});
  EXPECT_EQ(joined(block_bar_line(n, true)), "IN ····█···· MID ·█· OUT ▄········");
  EXPECT_EQ(strongest_block(norms(ModelFamily::SDXL, {})), "");
}

}  // namespace
}  // namespace lathe::tui
