// Is an image file complete? Two checks of the container (no pixels decoded): the full walk
// over the whole file (PNG chunks with CRCs up to IEND, JPEG segments and scans up to EOI, the
// WebP RIFF size, the BMP pixel array) that the audit's --deep and training run before
// decoding, and a cheap end-of-file check from the file's last bytes that every audit runs.
// Decoders return a half-grey image for a file cut short, which then trains as garbage, so
// truncation must be found before any decoder sees the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "dataset/image_header.h"

namespace lathe {

// The whole file in memory: empty when the container is complete, otherwise what is wrong
// ("truncated JPEG: no end-of-image marker (FFD9) ...", "corrupt PNG: CRC mismatch ...").
// Unknown formats get the same wording as the header reader's.
std::string container_problem(const unsigned char* bytes, std::size_t size,
                              ImageFormat by_extension = ImageFormat::Unknown);

// What the end of the file says, from `head` (the first bytes, at least 38 for a BMP) and
// `tail` (the last bytes; up to kEndCheckBytes) of a file of `file_size` bytes:
//   Complete  the file ends as its format must (JPEG: FFD9, then only 00/FF padding; PNG:
//             the IEND chunk; WebP: RIFF size = file size; BMP: the pixel array fits)
//   Broken    it cannot be complete (`problem` says why)
//   Unsure    it ends otherwise (a JPEG with data after its EOI, such as a phone's motion
//             photo or maker trailer; a PNG with bytes after IEND): walk the whole file
enum class EndVerdict { Complete, Broken, Unsure };
struct EndCheck {
  EndVerdict verdict = EndVerdict::Complete;
  std::string problem;
};
EndCheck check_image_end(ImageFormat format, const unsigned char* head, std::size_t head_size,
                         const unsigned char* tail, std::size_t tail_size,
                         std::uint64_t file_size);

// How many trailing bytes check_image_end looks at (a JPEG's padding after EOI fits in them).
constexpr std::size_t kEndCheckBytes = 4096;

}  // namespace lathe
