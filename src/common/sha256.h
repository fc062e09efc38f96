// SHA-256 (FIPS 180-4), for the hashes the WebUIs and kohya's scripts put on model files
// (sshs_model_hash, ss_new_sd_model_hash, ...). Lathe links no crypto library; this is the
// plain reference algorithm, streamed so a multi-GB checkpoint is hashed in fixed memory.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace lathe {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  // The digest; the object must not be updated afterwards.
  std::array<std::uint8_t, 32> finish();
  // finish() as 64 lower-case hex digits, as Python's hexdigest() spells it.
  std::string finish_hex();

 private:
  void blocks(const std::uint8_t* p, std::size_t count);  // CPU SHA extensions when present
  void block(const std::uint8_t* p);                       // the portable rounds
  std::array<std::uint32_t, 8> h_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_ = 0;  // bytes seen
};

namespace detail {
// Tests set this to check the portable rounds on a CPU that has the SHA extensions.
extern bool sha256_portable_only;
}  // namespace detail

// The hex digest of `bytes`.
std::string sha256_hex(std::string_view bytes);

// The hex digest of a whole file, read in 1 MiB chunks. Throws lathe::Error naming the file.
std::string sha256_file_hex(const std::filesystem::path& path);

}  // namespace lathe
