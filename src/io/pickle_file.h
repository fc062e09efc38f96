// Telling PyTorch pickles from safetensors files before reading them: Lathe never loads a
// pickle (loading one can run arbitrary code), and each reader refuses it with a conversion
// that fits what it reads (checkpoints, embeddings).
#pragma once

#include <filesystem>

namespace lathe {

// .ckpt, .pt, .pth, .bin or .pkl, in any letter case.
bool has_pickle_extension(const std::filesystem::path& path);

// A file (whatever its name) whose first bytes are a torch zip or a raw pickle rather than a
// safetensors header. A safetensors file is told by what it must be (an 8-byte little-endian
// header length that fits the file, then `{`), not by its first byte: writers pad the header,
// so one length in 256 starts with 0x80, a pickle's protocol byte.
bool is_disguised_pickle(const std::filesystem::path& path);

}  // namespace lathe
