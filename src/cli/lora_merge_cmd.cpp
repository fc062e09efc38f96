// `lathe lora merge BASE LORA --out FILE [--scale S]`: bakes a kohya-format LoRA / LoCon into a
// single-file checkpoint (see lora/lora_merge.h), so tools without LoRA support, or a further
// training run, start from the merged weights.
#include <fmt/format.h>

#include <iostream>

#include "cli/command.h"
#include "common/error.h"
#include "lora/lora_merge.h"

namespace lathe::cli {
namespace {

CommandSpec lora_merge_spec() {
  CommandSpec s;
  s.name = "lora merge";
  s.summary = "bake a kohya-format LoRA into a checkpoint: W += scale * alpha/rank * up @ down";
  s.usage = "BASE LORA --out FILE [--scale S]";
  s.details =
      "BASE is a single-file .safetensors checkpoint (SD 1.x, SD 2.x or SDXL); LORA a kohya LoRA or LoCon\n"
      "file made for that family. Every LoRA module must find its base tensor (the command refuses a\n"
      "LoRA of another family and lists the modules that do not match). Changed tensors keep the base\n"
      "dtype; every other tensor and the metadata are copied unchanged. The output is written atomically.";
  s.options = {{"out", "FILE", "the merged checkpoint to write (required; not BASE)"},
               {"scale", "S", "LoRA strength (default 1; 0 copies the base)"}};
  s.min_positionals = 2;
  s.max_positionals = 2;
  s.run = [](const Args& args) {
    auto out = args.value("out");
    if (!out || out->empty()) throw UsageError("lora merge: --out FILE is required");
    const double scale = args.double_or("scale", 1.0);
    auto r = merge_lora(args.positional(0), args.positional(1), *out, scale);
    std::string parts;
    for (const auto& [part, n] : r.parts) parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", part, n);
    std::cout << fmt::format("merged {} LoRA modules ({}) into {} ({}) at scale {:g}\n", r.modules, parts,
                             args.positional(0), r.family, scale);
    std::cout << fmt::format("{} tensors changed, {} copied unchanged -> {}\n", r.tensors_changed, r.tensors_copied,
                             *out);
    return kExitOk;
  };
  return s;
}

}  // namespace

LATHE_REGISTER_COMMAND(lora_merge_spec)

}  // namespace lathe::cli
