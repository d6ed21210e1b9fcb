#include "engine/normalizer.h"

#include <array>
#include <initializer_list>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace coach::engine {
namespace {

using Expansion = std::vector<std::string>;

const absl::flat_hash_set<absl::string_view>& Fillers() {
  static const auto* fillers = new absl::flat_hash_set<absl::string_view>{
      "um", "umm", "uh", "uhh", "uhm", "er", "erm", "ah", "hmm", "hm", "mm", "mmm"};
  return *fillers;
}

// Whole-word replacements: irregular contractions, apostrophe-less STT spellings
// and number words. Regular contractions are handled by suffix below.
const absl::flat_hash_map<std::string, Expansion>& WordTable() {
  static const auto* table = [] {
    auto* t = new absl::flat_hash_map<std::string, Expansion>();
    auto add = [t](absl::string_view word, absl::string_view expansion) {
      (*t)[std::string(word)] = absl::StrSplit(expansion, ' ');
    };
    add("can't", "can not");
    add("cannot", "can not");
    add("cant", "can not");
    add("won't", "will not");
    add("shan't", "shall not");
    add("ain't", "is not");
    add("let's", "let us");
    add("y'all", "you all");
    add("gonna", "going to");
    add("wanna", "want to");
    add("gotta", "got to");
    // STT engines often drop the apostrophe. Only spellings that are not
    // ordinary words are listed ("its", "ill", "well", "were" are left alone).
    for (absl::string_view stem : {"do", "did", "does", "is", "are", "was", "were", "could",
                                   "should", "would", "have", "has", "had", "must", "need"}) {
      add(std::string(stem) + "nt", std::string(stem) + " not");
    }
    add("im", "i am");
    add("ive", "i have");
    add("youre", "you are");
    add("youve", "you have");
    add("youll", "you will");
    add("youd", "you would");
    add("theyre", "they are");
    add("theyve", "they have");
    add("thats", "that is");
    add("theres", "there is");
    add("whats", "what is");
    add("heres", "here is");
    add("weve", "we have");
    static constexpr std::array<absl::string_view, 20> kSmall = {
        "zero",    "one",     "two",       "three",    "four",     "five",    "six",
        "seven",   "eight",   "nine",      "ten",      "eleven",   "twelve",  "thirteen",
        "fourteen", "fifteen", "sixteen",  "seventeen", "eighteen", "nineteen"};
    for (size_t i = 0; i < kSmall.size(); ++i) add(kSmall[i], std::to_string(i));
    static constexpr std::array<absl::string_view, 8> kTens = {
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"};
    for (size_t i = 0; i < kTens.size(); ++i) add(kTens[i], std::to_string((i + 2) * 10));
    add("hundred", "100");
    add("thousand", "1000");
    return t;
  }();
  return *table;
}

// Words whose "'s" means "is" rather than a possessive.
const absl::flat_hash_set<absl::string_view>& IsContractionStems() {
  static const auto* stems = new absl::flat_hash_set<absl::string_view>{
      "it", "that", "there", "what", "he", "she", "here", "who", "where", "how", "this"};
  return *stems;
}

struct Suffix {
  absl::string_view suffix;
  absl::string_view expansion;
};
constexpr std::array<Suffix, 6> kSuffixes = {{
    {"n't", "not"},
    {"'re", "are"},
    {"'ve", "have"},
    {"'ll", "will"},
    {"'d", "would"},
    {"'m", "am"},
}};

class Builder {
 public:
  explicit Builder(NormalizedText* out) : out_(out) {
    out_->text.assign(" ");
    out_->tokens.clear();
  }

  void Emit(absl::string_view word, uint32_t source_begin, uint32_t source_end) {
    if (word.empty()) return;
    NormalizedToken token;
    token.norm_begin = static_cast<uint32_t>(out_->text.size());
    out_->text.append(word.data(), word.size());
    token.norm_end = static_cast<uint32_t>(out_->text.size());
    out_->text.push_back(' ');
    token.source_begin = source_begin;
    token.source_end = source_end;
    out_->tokens.push_back(token);
  }

  // Expands one raw lower-case word (apostrophes as "'").
  void EmitWord(absl::string_view raw, uint32_t source_begin, uint32_t source_end) {
    while (absl::ConsumePrefix(&raw, "'")) {
    }
    while (absl::ConsumeSuffix(&raw, "'")) {
    }
    if (raw.empty() || Fillers().contains(raw)) return;
    const auto& table = WordTable();
    if (auto it = table.find(raw); it != table.end()) {
      for (const std::string& word : it->second) Emit(word, source_begin, source_end);
      return;
    }
    if (raw.find('\'') != absl::string_view::npos) {
      for (const Suffix& s : kSuffixes) {
        if (absl::EndsWith(raw, s.suffix) && raw.size() > s.suffix.size()) {
          Emit(raw.substr(0, raw.size() - s.suffix.size()), source_begin, source_end);
          Emit(s.expansion, source_begin, source_end);
          return;
        }
      }
      if (absl::EndsWith(raw, "'s") &&
          IsContractionStems().contains(raw.substr(0, raw.size() - 2))) {
        Emit(raw.substr(0, raw.size() - 2), source_begin, source_end);
        Emit("is", source_begin, source_end);
        return;
      }
    }
    Emit(raw, source_begin, source_end);
  }

 private:
  NormalizedText* out_;
};

enum class CharClass { kWord, kApostrophe, kBreak };

// Decodes one UTF-8 character at `pos`, returning its class, its length and, for
// word characters, the bytes to append (lower-cased where we know how).
CharClass Classify(absl::string_view s, size_t pos, size_t* length, char lowered[4]) {
  const auto c = static_cast<unsigned char>(s[pos]);
  *length = 1;
  if (c < 0x80) {
    if (c >= 'A' && c <= 'Z') {
      lowered[0] = static_cast<char>(c - 'A' + 'a');
      return CharClass::kWord;
    }
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      lowered[0] = static_cast<char>(c);
      return CharClass::kWord;
    }
    if (c == '\'' || c == '`') return CharClass::kApostrophe;
    return CharClass::kBreak;
  }
  size_t n = 0;
  uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return CharClass::kBreak;  // stray continuation or invalid lead byte
  }
  if (pos + n > s.size()) return CharClass::kBreak;
  for (size_t i = 1; i < n; ++i) {
    const auto cc = static_cast<unsigned char>(s[pos + i]);
    if ((cc & 0xC0) != 0x80) return CharClass::kBreak;
    cp = (cp << 6) | (cc & 0x3F);
  }
  // Reject overlong encodings and surrogates so the output is valid UTF-8.
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
      (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
    return CharClass::kBreak;
  }
  *length = n;
  if (cp == 0x2018 || cp == 0x2019 || cp == 0x02BC || cp == 0x2032) {
    return CharClass::kApostrophe;
  }
  if ((cp >= 0x80 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 ||
      (cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x3000 && cp <= 0x303F) ||
      (cp >= 0xFF01 && cp <= 0xFF0F) || cp == 0xFEFF) {
    return CharClass::kBreak;
  }
  for (size_t i = 0; i < n; ++i) lowered[i] = s[pos + i];
  if (cp >= 0xC0 && cp <= 0xDE) lowered[1] = static_cast<char>(lowered[1] + 0x20);
  return CharClass::kWord;
}

}  // namespace

void Normalize(absl::string_view source, NormalizedText* out) {
  Builder builder(out);
  std::string raw;
  uint32_t word_begin = 0;
  size_t pos = 0;
  char lowered[4];
  while (pos < source.size()) {
    size_t length = 1;
    const CharClass cls = Classify(source, pos, &length, lowered);
    if (cls == CharClass::kBreak) {
      if (!raw.empty()) {
        builder.EmitWord(raw, word_begin, static_cast<uint32_t>(pos));
        raw.clear();
      }
    } else {
      if (raw.empty()) word_begin = static_cast<uint32_t>(pos);
      if (cls == CharClass::kApostrophe) {
        raw.push_back('\'');
      } else {
        raw.append(lowered, length);
      }
    }
    pos += length;
  }
  if (!raw.empty()) builder.EmitWord(raw, word_begin, static_cast<uint32_t>(pos));
}

std::string NormalizeToString(absl::string_view source) {
  NormalizedText normalized;
  Normalize(source, &normalized);
  absl::string_view text = normalized.text;
  absl::ConsumePrefix(&text, " ");
  absl::ConsumeSuffix(&text, " ");
  return std::string(text);
}

}  // namespace coach::engine
