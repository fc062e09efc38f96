// The part of ftfy's fix_text (ftfy 6.x, default settings) that the CLIP reference tokenizer
// runs on every caption, reimplemented: HTML entities, UTF-8 mojibake read as Latin-1 or
// Windows-1252, C1 controls, Latin ligatures, fullwidth/halfwidth forms, curly quotes, line
// breaks, terminal escapes, control characters, NFC; repeated per line until nothing changes.
//
// Not reproduced (see README "Tokenizer"): ftfy's statistical "badness" score (replaced by
// "the text holds a UTF-8 sequence spelled in Latin-1/Windows-1252 and the whole line decodes"),
// mojibake through the other code pages ftfy tries (Windows-1250/1251, ISO-8859-2, MacRoman,
// cp437), restore_byte_a0, replace_lossy_sequences, decode_inconsistent_utf8 (mojibake mixed
// with correct non-Latin text in one line) and the utf-8-variants decoder.
#pragma once

#include <string>

namespace lathe::text {

std::u32string ftfy_fix_text(const std::u32string& text);

// The individual fixers, exposed for tests.
std::u32string ftfy_fix_encoding(const std::u32string& text);
std::u32string ftfy_fix_c1_controls(const std::u32string& text);

}  // namespace lathe::text
