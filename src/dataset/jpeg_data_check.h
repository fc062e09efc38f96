// Does libjpeg decode a JPEG's compressed data without complaint? A JPEG can be complete (its
// segments and EOI in place, so the container walk accepts it) and still hold damaged
// entropy-coded data: libjpeg then only warns ("Corrupt JPEG data: bad Huffman code",
// "premature end of data segment") on stderr, with no file name, and fills the damaged blocks
// with grey, which OpenCV hands back as a valid image. Training and the audit's --deep run
// this check first, so such a file becomes one message naming it instead of garbage pixels.
#pragma once

#include <cstddef>
#include <string>

namespace lathe {

// Empty when libjpeg decodes `bytes` with neither an error nor a warning; otherwise what it
// said, in Lathe's words ("libjpeg reports damaged data: Corrupt JPEG data: bad Huffman
// code"). Decodes at 1/8 scale: every bit of the entropy-coded data is still read (where the
// warnings come from) while the inverse transforms stay cheap. Prints nothing.
std::string jpeg_data_problem(const unsigned char* bytes, std::size_t size);

}  // namespace lathe
