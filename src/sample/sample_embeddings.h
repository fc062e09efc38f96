// Embeddings for `lathe sample`: each --embedding file, then the embeddings a --lora file
// carries (pivotal tuning's `bundle_emb.<word>.*`, which A1111 loads with the LoRA), installed
// frozen into the sampling model so their words in prompts become their vectors, as in
// training and in the web UIs.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace lathe {

struct BaseModel;
struct LoRAChoice;

// Installs them in that order and returns the installed words. A word installed already (the
// same word in two files) keeps its first source and `note` says which was skipped; an
// embedding that does not fit the model (width, encoder count) throws lathe::Error naming the
// file and the mismatch. Install after the model is on its device.
std::vector<std::string> install_sample_embeddings(BaseModel& model,
                                                   const std::vector<std::filesystem::path>& files,
                                                   const std::vector<LoRAChoice>& loras,
                                                   const std::function<void(const std::string&)>& note);

// The embeddings bundled in one epoch's LoRA file, for that row of the epoch grid: a word
// installed already takes this file's vectors (copied in place, so the row renders with its
// own epoch's tokens), a new word is installed. A word some earlier row brought and this file
// lacks keeps its last vectors (a pivotal run bundles the same words in every epoch).
void use_bundled_embeddings(BaseModel& model, const std::filesystem::path& lora,
                            const std::function<void(const std::string&)>& note);

}  // namespace lathe
