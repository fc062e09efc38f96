// The token-level audit rule family: loads the CLIP vocabulary the options name and reports
// truncated captions, activation-tag pieces, pieces shared across concepts (bleeding), activation
// tags that are known words, and keep_tokens mismatches. Without a vocabulary it says which
// checks it skipped and how to turn them on.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>

#include "common/error.h"
#include "dataset/audit_rules.h"
#include "dataset/token_checks.h"
#include "text/embedding_name.h"
#include "text/vocab_locator.h"

namespace lathe {
namespace {

const char* kTokenChecks =
    "caption length in CLIP tokens (truncation), activation-tag pieces and bleeding, activation "
    "tags that are known words, keep_tokens";

std::string join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string quoted_list(const std::vector<std::string>& items, std::size_t max_items) {
  std::vector<std::string> shown;
  for (std::size_t i = 0; i < items.size() && i < max_items; ++i) shown.push_back("'" + items[i] + "'");
  std::string out = join(shown);
  if (items.size() > max_items) out += fmt::format(" and {} more", items.size() - max_items);
  return out;
}

// The tag as an embedding name: itself when it is one, else its runs of letters and digits
// joined with '_' ("blue eyes" -> "blue_eyes"), or "" when nothing usable is left.
std::string embedding_name_for(const std::string& tag) {
  if (text::embedding_name_problem(tag).empty()) return tag;
  std::string name;
  bool gap = false;
  for (char c : tag) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!keep) {
      gap = !name.empty();
      continue;
    }
    if (gap) name += '_';
    name += c;
    gap = false;
  }
  return text::embedding_name_problem(name).empty() ? name : "";
}

// The profile keys that give an activation tag tokens of its own (README "Embeddings"): an
// embedding trained alone (textual inversion) or beside the LoRA (pivotal tuning). One vector
// per piece the tag splits into, up to 8, is the usual start.
std::string embedding_keys(const std::string& tag, std::size_t pieces) {
  const std::string name = embedding_name_for(tag);
  const std::size_t vectors = std::min<std::size_t>(std::max<std::size_t>(pieces, 1), 8);
  std::string keys = fmt::format("[[embeddings]] name = \"{}\", vectors = {}, init_word = \"<its class word, "
                                 "e.g. woman>\"",
                                 name.empty() ? "<one word>" : name, vectors);
  if (name != tag)
    keys += fmt::format(" (and write '{}' in the captions in place of '{}')",
                        name.empty() ? "that word" : name, tag);
  return keys;
}

std::string embedding_hint(const std::string& tag, std::size_t pieces) {
  return fmt::format("to give '{}' tokens of its own, train an embedding: textual inversion ([network] "
                     "type = \"embedding\") or pivotal tuning (your LoRA's [network] type plus the "
                     "embedding), with {}",
                     tag, embedding_keys(tag, pieces));
}

void check_truncation(const AuditContext& ctx, text::ClipTokenizer& tok, Findings& out) {
  const std::size_t limit = static_cast<std::size_t>(ctx.options.max_token_length);
  std::size_t affected = 0, captions = 0;
  for (const Concept& c : ctx.dataset.concepts) {
    for (const Item& item : c.items) {
      if (!item.caption || item.caption->tags.empty()) continue;
      ++captions;
      CaptionTruncation t = check_caption_length(tok, item.caption->tags, limit);
      if (!t.truncated()) continue;
      ++affected;
      out.add(Severity::Warning, "tokens.caption_truncated", c.name,
              item.caption_path.value_or(item.image_path),
              fmt::format("{}: caption is {} CLIP tokens, the text encoder sees {}; cut off: {}{}",
                          ctx.show(item.caption_path.value_or(item.image_path)), t.tokens, limit,
                          quoted_list(t.cut_tags, 8),
                          t.first_cut_partial ? fmt::format(" ('{}' partly)", t.cut_tags.front())
                                              : ""),
              limit < 225 ? "shorten the caption (drop tags the model should not learn), move "
                            "important tags to the front, or train with --max-token-length 150/225"
                          : "shorten the caption or move important tags to the front");
    }
  }
  if (affected > 0)
    out.add(Severity::Info, "tokens.truncation_summary", "", ctx.dataset.root,
            fmt::format("{} of {} captions are longer than {} CLIP tokens and get cut", affected,
                        captions, limit),
            "see the tokens.caption_truncated findings for which tags are lost");
}

struct ConceptActivation {
  const Concept* concept;
  ActivationPieces pieces;
};

void check_activation_tags(const AuditContext& ctx, text::ClipTokenizer& tok,
                           std::vector<ConceptActivation>& acts, Findings& out) {
  for (std::size_t i = 0; i < ctx.dataset.concepts.size() && i < ctx.activation.size(); ++i) {
    const Concept& c = ctx.dataset.concepts[i];
    const ActivationTag& a = ctx.activation[i];
    if (a.tag.empty() || c.is_regularization) continue;
    ActivationPieces p = activation_pieces(tok, a.tag);
    // Several pieces: the concept is learned through pieces other words use too.
    out.add(Severity::Info, "tokens.activation_pieces", c.name, c.path,
            fmt::format("activation tag '{}' is {} CLIP token{}: {}", a.tag, p.tokens.size(),
                        p.tokens.size() == 1 ? "" : "s", describe_pieces(p.tokens)),
            p.tokens.size() > 1 ? embedding_hint(a.tag, p.tokens.size()) : "");
    if (p.single_known_word())
      out.add(Severity::Warning, "tokens.activation_known_word", c.name, c.path,
              fmt::format("activation tag '{}' is a single common word of the CLIP vocabulary "
                          "(token {}): training modifies the concept the model already has for it "
                          "(modified concept)",
                          a.tag, p.tokens[0].id),
              "if that is not intended, use a rarer tag that splits into uncommon pieces (check "
              "with 'lathe tokenize')");
    acts.push_back({&c, std::move(p)});
  }
}

void check_shared_pieces(const std::vector<ConceptActivation>& acts, Findings& out) {
  for (std::size_t i = 0; i < acts.size(); ++i) {
    for (std::size_t j = i + 1; j < acts.size(); ++j) {
      const auto& a = acts[i];
      const auto& b = acts[j];
      if (a.pieces.tag == b.pieces.tag) continue;  // the same tag is another rule's finding
      auto shared = shared_pieces(a.pieces, b.pieces);
      if (shared.empty()) continue;
      std::vector<std::string> named;
      for (const auto& s : shared) named.push_back("'" + s + "'");
      out.add(Severity::Warning, "tokens.activation_shared_pieces", a.concept->name,
              a.concept->path,
              fmt::format("activation tags '{}' ({}) and '{}' ({}) share the CLIP piece{} {}: "
                          "training one concept also trains the other (concept bleeding)",
                          a.pieces.tag, a.concept->name, b.pieces.tag, b.concept->name,
                          shared.size() == 1 ? "" : "s", join(named)),
              fmt::format("give the concepts activation tags with no piece in common (check with "
                          "'lathe tokenize'), or keep the tags and give each tokens of its own with "
                          "an embedding (textual inversion: [network] type = \"embedding\"; or "
                          "pivotal tuning: your LoRA plus the embeddings): {}; {}",
                          embedding_keys(a.pieces.tag, a.pieces.tokens.size()),
                          embedding_keys(b.pieces.tag, b.pieces.tokens.size())));
    }
  }
}

void check_keep_tokens(const AuditContext& ctx, Findings& out) {
  const int keep = ctx.options.keep_tokens;
  if (keep <= 0) return;
  std::vector<std::string> activation_tags;
  for (const auto& a : ctx.activation)
    if (!a.tag.empty()) activation_tags.push_back(a.tag);
  for (const Concept& c : ctx.dataset.concepts) {
    std::map<std::size_t, std::size_t> leading_counts;  // leading activation tags -> captions
    for (const Item& item : c.items)
      if (item.caption && !item.caption->tags.empty())
        ++leading_counts[leading_activation_tags(item.caption->tags, activation_tags)];
    if (leading_counts.empty()) continue;
    std::size_t captions = 0;
    for (const auto& kv : leading_counts) captions += kv.second;
    auto typical = std::max_element(leading_counts.begin(), leading_counts.end(),
                                     [](auto& x, auto& y) { return x.second < y.second; });
    std::size_t lead = typical->first;
    if (lead == static_cast<std::size_t>(keep)) continue;
    std::string effect =
        static_cast<std::size_t>(keep) < lead
            ? "some activation tags get shuffled away from the front"
            : fmt::format("{} ordinary tag{} pinned to the front as well",
                          keep - static_cast<int>(lead),
                          keep - static_cast<int>(lead) == 1 ? " stays" : "s stay");
    out.add(Severity::Warning, "tokens.keep_tokens_mismatch", c.name, c.path,
            fmt::format("concept '{}': keep_tokens is {} but {} of {} captions start with {} "
                        "activation tag{}: {}",
                        c.folder_name, keep, typical->second, captions, lead, lead == 1 ? "" : "s", effect),
            fmt::format("set keep_tokens to {} or put the activation tags first in every caption",
                        lead));
  }
}

}  // namespace

void audit_token_rules(const AuditContext& ctx, Findings& out) {
  if (ctx.options.clip_vocab.empty()) {
    out.add(Severity::Info, "tokens.skipped", "", ctx.dataset.root,
            fmt::format("token-level checks skipped ({}): no CLIP vocabulary found",
                        kTokenChecks),
            text::clip_vocab_missing_message());
    return;
  }
  std::optional<text::ClipTokenizer> tok;
  try {
    tok.emplace(text::ClipTokenizer::load(ctx.options.clip_vocab));
  } catch (const Error& e) {
    out.add(Severity::Error, "tokens.vocab_unreadable", "", ctx.options.clip_vocab,
            fmt::format("token-level checks not run: {}", e.what()),
            "fix the --vocab / LATHE_CLIP_VOCAB path");
    return;
  }
  check_truncation(ctx, *tok, out);
  std::vector<ConceptActivation> acts;
  check_activation_tags(ctx, *tok, acts, out);
  check_shared_pieces(acts, out);
  check_keep_tokens(ctx, out);
}

}  // namespace lathe
