// Token-level checks: pure functions; audit_token_rules.cpp turns their results into findings.
#include "dataset/token_checks.h"

#include <algorithm>

#include "text/byte_unicode.h"

namespace lathe {
namespace {

std::string join_tags(const std::vector<std::string>& tags, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count && i < tags.size(); ++i) {
    if (i) out += ", ";
    out += tags[i];
  }
  return out;
}

std::string piece_text(const std::string& piece) {
  std::string s = text::symbols_to_bytes(piece);
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

CaptionTruncation check_caption_length(text::ClipTokenizer& tok,
                                       const std::vector<std::string>& tags, std::size_t limit) {
  CaptionTruncation r;
  r.limit = limit;
  r.tokens = tok.encode(join_tags(tags, tags.size())).size();
  if (!r.truncated()) return r;
  // Smallest prefix length k whose tokens exceed the limit: tag k-1 is the first one cut.
  std::size_t lo = 1, hi = tags.size();
  while (lo < hi) {
    std::size_t mid = (lo + hi) / 2;
    if (tok.encode(join_tags(tags, mid)).size() > limit) hi = mid;
    else lo = mid + 1;
  }
  r.first_cut_tag = lo - 1;
  std::size_t before = lo > 1 ? tok.encode(join_tags(tags, lo - 1)).size() : 0;
  // The ", " before the tag costs one token; the tag keeps tokens when more than that fits.
  r.first_cut_partial = before + 1 < limit;
  r.cut_tags.assign(tags.begin() + static_cast<std::ptrdiff_t>(r.first_cut_tag), tags.end());
  return r;
}

bool ActivationPieces::single_known_word() const {
  if (tokens.size() != 1) return false;
  const std::string& p = tokens[0].piece;
  return p.size() > 4 && p.compare(p.size() - 4, 4, "</w>") == 0;
}

ActivationPieces activation_pieces(text::ClipTokenizer& tok, const std::string& tag) {
  return {tag, tok.tokenize(tag)};
}

std::vector<std::string> shared_pieces(const ActivationPieces& a, const ActivationPieces& b) {
  std::vector<std::string> out;
  for (const auto& ta : a.tokens) {
    bool in_b = std::any_of(b.tokens.begin(), b.tokens.end(),
                            [&](const text::ClipToken& tb) { return tb.id == ta.id; });
    bool seen = std::find(out.begin(), out.end(), ta.piece) != out.end();
    if (in_b && !seen) out.push_back(ta.piece);
  }
  return out;
}

std::size_t leading_activation_tags(const std::vector<std::string>& tags,
                                    const std::vector<std::string>& activation_tags) {
  std::size_t n = 0;
  while (n < tags.size() &&
         std::find(activation_tags.begin(), activation_tags.end(), tags[n]) != activation_tags.end())
    ++n;
  return n;
}

std::string describe_pieces(const std::vector<text::ClipToken>& tokens) {
  std::string out;
  for (const auto& t : tokens) {
    if (!out.empty()) out += " \xC2\xB7 ";  // middle dot
    out += piece_text(t.piece);
  }
  return out;
}

}  // namespace lathe
