#include "engine/phrase_compiler.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/normalizer.h"
#include "re2/re2.h"

namespace coach::engine {
namespace {

struct Node {
  enum class Type { kWords, kOptional, kAlternatives, kAnyWord, kUpToThree, kSequence };
  Type type = Type::kSequence;
  std::vector<std::string> words;
  std::vector<Node> children;
};

bool IsSpecial(char c) {
  return c == '[' || c == ']' || c == '(' || c == ')' || c == '|' || c == '*';
}

class Parser {
 public:
  explicit Parser(absl::string_view phrase) : phrase_(phrase) {}

  absl::StatusOr<Node> ParsePhrase() {
    Node root;
    if (auto status = ParseSequence(&root); !status.ok()) return status;
    if (pos_ < phrase_.size()) {
      const char c = phrase_[pos_];
      if (c == '|') {
        return Error(pos_, "'|' outside parentheses; write alternatives as (a|b)");
      }
      return Error(pos_, absl::StrCat("'", std::string(1, c), "' has no matching opening bracket"));
    }
    return root;
  }

 private:
  bool AtEllipsis() const { return phrase_.substr(pos_, 3) == "..."; }

  // Parses items until a closing bracket, '|' or the end.
  absl::Status ParseSequence(Node* sequence) {
    sequence->type = Node::Type::kSequence;
    while (pos_ < phrase_.size()) {
      const char c = phrase_[pos_];
      if (c == ']' || c == ')' || c == '|') return absl::OkStatus();
      if (c == '[' || c == '(') {
        // Parsing, and every later pass over the tree, recurses once per
        // level: a bound keeps a hostile phrase from exhausting the stack.
        if (depth_ == kMaxNesting) {
          return Error(pos_, absl::StrCat("groups nested more than ", kMaxNesting,
                                          " deep; simplify the phrase"));
        }
        const size_t open = pos_++;
        ++depth_;
        Node alternatives;
        alternatives.type = Node::Type::kAlternatives;
        const char close = c == '[' ? ']' : ')';
        while (true) {
          Node branch;
          if (auto status = ParseSequence(&branch); !status.ok()) return status;
          if (branch.children.empty()) {
            return Error(open, absl::StrCat("empty alternative in the group opened by '",
                                            std::string(1, c),
                                            "' (fillers and punctuation do not count as words)"));
          }
          alternatives.children.push_back(std::move(branch));
          if (pos_ >= phrase_.size()) {
            return Error(open, absl::StrCat("'", std::string(1, c), "' is never closed"));
          }
          if (phrase_[pos_] == '|') {
            ++pos_;
            continue;
          }
          if (phrase_[pos_] != close) {
            return Error(pos_, absl::StrCat("expected '", std::string(1, close), "' to close the '",
                                            std::string(1, c), "' at column ", open + 1));
          }
          ++pos_;
          break;
        }
        --depth_;
        if (c == '[') {
          Node optional;
          optional.type = Node::Type::kOptional;
          optional.children.push_back(std::move(alternatives));
          sequence->children.push_back(std::move(optional));
        } else {
          sequence->children.push_back(std::move(alternatives));
        }
        continue;
      }
      if (c == '*') {
        ++pos_;
        Node any;
        any.type = Node::Type::kAnyWord;
        sequence->children.push_back(std::move(any));
        continue;
      }
      if (AtEllipsis()) {
        pos_ += 3;
        Node gap;
        gap.type = Node::Type::kUpToThree;
        sequence->children.push_back(std::move(gap));
        continue;
      }
      // A run of plain text up to the next special character or ellipsis.
      const size_t begin = pos_;
      while (pos_ < phrase_.size() && !IsSpecial(phrase_[pos_]) && !AtEllipsis()) ++pos_;
      NormalizedText normalized;
      Normalize(phrase_.substr(begin, pos_ - begin), &normalized);
      if (normalized.tokens.empty()) continue;
      Node words;
      words.type = Node::Type::kWords;
      for (const NormalizedToken& token : normalized.tokens) {
        words.words.emplace_back(normalized.text.substr(token.norm_begin,
                                                        token.norm_end - token.norm_begin));
      }
      sequence->children.push_back(std::move(words));
    }
    return absl::OkStatus();
  }

  absl::Status Error(size_t at, absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat("column ", at + 1, ": ", message));
  }

  static constexpr int kMaxNesting = 32;

  absl::string_view phrase_;
  size_t pos_ = 0;
  int depth_ = 0;  // groups open at pos_
};

int MinWords(const Node& node) {
  switch (node.type) {
    case Node::Type::kWords:
      return static_cast<int>(node.words.size());
    case Node::Type::kAnyWord:
      return 1;
    case Node::Type::kUpToThree:
    case Node::Type::kOptional:
      return 0;
    case Node::Type::kAlternatives: {
      // Each child once: visiting the first twice doubled the work at every
      // level of nesting.
      int fewest = std::numeric_limits<int>::max();
      for (const Node& child : node.children) fewest = std::min(fewest, MinWords(child));
      return fewest;
    }
    case Node::Type::kSequence: {
      int total = 0;
      for (const Node& child : node.children) total += MinWords(child);
      return total;
    }
  }
  return 0;
}

// Whether every match contains at least one fixed word.
bool HasFixedWord(const Node& node) {
  switch (node.type) {
    case Node::Type::kWords:
      return true;
    case Node::Type::kAlternatives:
      return std::all_of(node.children.begin(), node.children.end(), HasFixedWord);
    case Node::Type::kSequence:
      return std::any_of(node.children.begin(), node.children.end(), HasFixedWord);
    default:
      return false;
  }
}

// Skippable words ("like", "you know") allowed between any two words.
std::string SkippableGap() {
  std::vector<std::string> quoted;
  for (absl::string_view words : kSkippableWords) {
    quoted.push_back(RE2::QuoteMeta(re2::StringPiece(words.data(), words.size())));
  }
  return absl::StrCat("(?:(?:", absl::StrJoin(quoted, "|"), ") )*");
}

std::string Emit(const Node& node, const std::string& gap) {
  switch (node.type) {
    case Node::Type::kWords: {
      std::vector<std::string> parts;
      for (const std::string& word : node.words) parts.push_back(RE2::QuoteMeta(word) + " ");
      return absl::StrJoin(parts, gap);
    }
    case Node::Type::kAnyWord:
      return "[^ ]+ ";
    case Node::Type::kUpToThree:
      return "(?:[^ ]+ ){0,3}";
    case Node::Type::kOptional:
      return absl::StrCat("(?:", Emit(node.children.front(), gap), ")?");
    case Node::Type::kAlternatives: {
      std::vector<std::string> parts;
      for (const Node& child : node.children) parts.push_back(Emit(child, gap));
      return absl::StrCat("(?:", absl::StrJoin(parts, "|"), ")");
    }
    case Node::Type::kSequence: {
      std::vector<std::string> parts;
      for (const Node& child : node.children) parts.push_back(Emit(child, gap));
      return absl::StrJoin(parts, gap);
    }
  }
  return "";
}

}  // namespace

absl::StatusOr<CompiledPhrase> CompilePhrase(absl::string_view phrase) {
  Parser parser(phrase);
  absl::StatusOr<Node> root = parser.ParsePhrase();
  if (!root.ok()) return root.status();
  if (root->children.empty()) {
    return absl::InvalidArgumentError(
        "phrase has no words (fillers and punctuation do not count as words)");
  }
  if (root->children.front().type == Node::Type::kUpToThree ||
      root->children.back().type == Node::Type::kUpToThree) {
    return absl::InvalidArgumentError("'...' cannot start or end a phrase");
  }
  CompiledPhrase compiled;
  compiled.min_words = MinWords(*root);
  if (compiled.min_words == 0) {
    return absl::InvalidArgumentError(
        "phrase can match nothing: at least one word must not be optional");
  }
  if (!HasFixedWord(*root)) {
    return absl::InvalidArgumentError(
        "phrase needs at least one fixed word; '*' and '...' alone match anything");
  }
  static const std::string* gap = new std::string(SkippableGap());
  compiled.regex = absl::StrCat(" ", Emit(*root, *gap));
  return compiled;
}

}  // namespace coach::engine
