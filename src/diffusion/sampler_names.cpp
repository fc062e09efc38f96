// Sampler names: Lathe's own (profiles, --sampler), kohya's sample-prompt spellings (--ss in a
// prompts file) and A1111's (the `Sampler:` field of a PNG's parameters), all read through one
// table so the three never drift apart.
#include "diffusion/sampler.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "common/error.h"

namespace lathe {

namespace {

struct SamplerName {
  SamplerKind kind;
  const char* lathe;
  const char* a1111;
  std::array<const char*, 2> aliases;  // kohya's spellings and other common ones; may be null
};

constexpr std::array<SamplerName, 6> kSamplerNames = {{
    {SamplerKind::DDIM, "ddim", "DDIM", {nullptr, nullptr}},
    {SamplerKind::Euler, "euler", "Euler", {"k_euler", nullptr}},
    {SamplerKind::EulerAncestral, "euler_a", "Euler a", {"k_euler_a", "euler_ancestral"}},
    {SamplerKind::DPMPP2M, "dpmpp_2m", "DPM++ 2M", {"dpmsolver++", "k_dpmpp_2m"}},
    {SamplerKind::DPMPP2MKarras, "dpmpp_2m_karras", "DPM++ 2M Karras", {"k_dpmpp_2m_karras", nullptr}},
    {SamplerKind::DDPM, "ddpm", "DDPM", {nullptr, nullptr}},
}};

// kohya's other sample-prompt samplers: named so the error says "not supported" rather than
// "unknown" to someone pasting a kohya prompts file.
constexpr std::array<const char*, 10> kKohyaUnsupported = {
    "pndm", "lms", "k_lms", "heun", "dpm_2", "k_dpm_2", "dpm_2_a", "k_dpm_2_a", "dpmsolver", "dpmsingle"};

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool same_name(const std::string& lowered, const char* name) {
  return name != nullptr && lowered == lowercase(name);
}

const SamplerName& entry(SamplerKind kind) {
  for (const auto& e : kSamplerNames)
    if (e.kind == kind) return e;
  return kSamplerNames.front();  // unreachable: the table lists every kind
}

std::string accepted_names() {
  std::string names;
  for (const auto& e : kSamplerNames) names += (names.empty() ? "" : ", ") + std::string(e.lathe);
  return names;
}

}  // namespace

SamplerKind sampler_from_string(const std::string& text, const std::string& key) {
  const auto lowered = lowercase(text);
  for (const auto& e : kSamplerNames) {
    if (same_name(lowered, e.lathe) || same_name(lowered, e.a1111) ||
        same_name(lowered, e.aliases[0]) || same_name(lowered, e.aliases[1]))
      return e.kind;
  }
  for (const char* name : kKohyaUnsupported) {
    if (same_name(lowered, name))
      throw Error(fmt::format("{}: sampler \"{}\" is not one Lathe has; use one of {}", key, text,
                              accepted_names()));
  }
  throw Error(fmt::format(
      "{}: unknown sampler \"{}\"; use one of {} (kohya's k_euler, k_euler_a, dpmsolver++ and "
      "A1111's names such as \"Euler a\" are accepted too)",
      key, text, accepted_names()));
}

std::string to_string(SamplerKind kind) { return entry(kind).lathe; }

std::string a1111_name(SamplerKind kind) { return entry(kind).a1111; }

bool draws_step_noise(SamplerKind kind) {
  return kind == SamplerKind::EulerAncestral || kind == SamplerKind::DDPM;
}

}  // namespace lathe
