// A1111's parameters text and the PNG that carries it (see png_parameters.h). The field order
// is create_infotext's: Steps, Sampler, CFG scale, Seed, Size, Model hash, Model, Clip skip,
// then the extra parameters (Lora hashes). The reader mirrors parse_generation_parameters
// (the last line holds the fields when it has at least three; lines before "Negative prompt:"
// are the prompt).
#include "sample/png_parameters.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <regex>

#include "common/error.h"
#include "common/sha256.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "lora/lora_file_info.h"
#include "sample/png_text.h"

namespace lathe {
namespace {

// A1111's re_param: `key: value` or `key: "json string"`, comma separated.
const std::regex& param_regex() {
  static const std::regex re(R"(\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$))");
  return re;
}

std::vector<std::pair<std::string, std::string>> param_pairs(const std::string& line) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::sregex_iterator it(line.begin(), line.end(), param_regex()), end; it != end; ++it) {
    std::string value = (*it)[2];
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      try {
        value = nlohmann::json::parse(value).get<std::string>();
      } catch (const std::exception&) {
        // A1111 keeps a value that is not valid JSON as written.
      }
    }
    out.emplace_back((*it)[1], value);
  }
  return out;
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

bool is_hex_digest(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
}

}  // namespace

ModelIdentity model_identity(const std::string& model_path) {
  ModelIdentity id;
  const std::filesystem::path path(model_path);
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) {
    id.name = path.stem().string();
    id.hash = sha256_file_hex(path).substr(0, 10);
  } else if (std::filesystem::is_directory(path, ec)) {
    id.name = path.filename().empty() ? path.parent_path().filename().string() : path.filename().string();
  } else {
    id.name = model_path;  // tiny-random:sd15
  }
  return id;
}

LoRAIdentity lora_identity(const std::filesystem::path& path, double scale) {
  LoRAIdentity id;
  id.name = path.stem().string();
  id.scale = scale;
  SafetensorsFile file(path);
  auto it = file.metadata().find("sshs_model_hash");
  const std::string full = it != file.metadata().end() && is_hex_digest(it->second) ? it->second
                                                                                    : lora_tensor_sha256(file);
  id.hash = full.substr(0, 12);
  return id;
}

std::string a1111_quote(const std::string& text) {
  if (text.find_first_of(",:\n") == std::string::npos) return text;
  return nlohmann::json(text).dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

std::string a1111_parameters(const ImageRequest& request, const ModelIdentity& model,
                             const std::vector<LoRAIdentity>& loras) {
  std::string prompt = request.prompt;
  for (const auto& l : loras) prompt += fmt::format(" <lora:{}:{:g}>", l.name, l.scale);
  std::vector<std::pair<std::string, std::string>> fields = {
      {"Steps", std::to_string(request.steps)},
      {"Sampler", a1111_name(request.sampler)},
      {"CFG scale", fmt::format("{:g}", request.cfg)},
      {"Seed", std::to_string(request.seed)},
      {"Size", fmt::format("{}x{}", request.width, request.height)},
  };
  if (!model.hash.empty()) fields.emplace_back("Model hash", model.hash);
  if (!model.name.empty()) fields.emplace_back("Model", model.name);
  if (request.clip_skip > 1) fields.emplace_back("Clip skip", std::to_string(request.clip_skip));
  std::string lora_hashes;
  for (const auto& l : loras) {
    if (l.hash.empty()) continue;
    // A1111 drops ':' and ',' from the alias so the list stays parseable.
    std::string alias;
    for (char c : l.name)
      if (c != ':' && c != ',') alias += c;
    lora_hashes += fmt::format("{}{}: {}", lora_hashes.empty() ? "" : ", ", alias, l.hash);
  }
  if (!lora_hashes.empty()) fields.emplace_back("Lora hashes", lora_hashes);

  std::string params;
  for (const auto& [key, value] : fields) params += fmt::format("{}{}: {}", params.empty() ? "" : ", ", key, a1111_quote(value));
  std::string negative = request.negative.empty() ? "" : "\nNegative prompt: " + request.negative;
  return trim(prompt + negative + "\n" + params);
}

std::string a1111_field(const std::string& parameters, const std::string& key) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  const std::string text = trim(parameters);
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  std::string last = lines.back();
  auto pairs = param_pairs(last);
  if (pairs.size() < 3) pairs.clear();
  else lines.pop_back();
  std::string prompt, negative;
  bool in_negative = false;
  for (auto line : lines) {
    line = trim(line);
    if (line.rfind("Negative prompt:", 0) == 0) {
      in_negative = true;
      line = trim(line.substr(16));
    }
    std::string& target = in_negative ? negative : prompt;
    target += (target.empty() ? "" : "\n") + line;
  }
  if (key == "Prompt") return prompt;
  if (key == "Negative prompt") return negative;
  for (const auto& [k, v] : pairs)
    if (k == key) return v;
  return "";
}

cv::Mat image_mat(const torch::Tensor& image) {
  if (image.dim() != 3 || image.size(2) != 3 || image.scalar_type() != torch::kUInt8 || !image.device().is_cpu())
    throw Error("writing an image: expected an 8-bit RGB tensor [H, W, 3] on the CPU");
  torch::Tensor c = image.contiguous();
  return cv::Mat(static_cast<int>(c.size(0)), static_cast<int>(c.size(1)), CV_8UC3, c.data_ptr<std::uint8_t>()).clone();
}

void write_parameters_png(const std::filesystem::path& path, const torch::Tensor& image,
                          const std::string& parameters) {
  std::string png;
  try {
    png = encode_png(image_mat(image), {{"parameters", parameters}});
  } catch (const Error& e) {
    throw Error(fmt::format("writing {}: {}", path.string(), e.what()));
  }
  write_file_atomic(path, png);  // names the path itself
}

}  // namespace lathe
