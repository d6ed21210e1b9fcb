#include "engine/dfa_cost.h"

#include <algorithm>
#include <bitset>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace coach::engine {
namespace {

using ByteSet = std::bitset<256>;

// Repetitions are expanded into copies; past this many positions the
// pattern is too costly whatever the DFA does (RE2's own program-size limit
// on rules is far below it).
constexpr int kMaxPositions = 200000;

struct Node {
  enum class Type { kEmpty, kBytes, kConcat, kAlternate, kRepeat };
  Type type = Type::kEmpty;
  ByteSet bytes;                                // kBytes
  std::vector<std::unique_ptr<Node>> children;  // kConcat, kAlternate, kRepeat (one)
  int min = 0;                                  // kRepeat
  int max = -1;                                 // kRepeat; -1 = unbounded
};

std::unique_ptr<Node> MakeBytes(const ByteSet& bytes) {
  auto node = std::make_unique<Node>();
  node->type = Node::Type::kBytes;
  node->bytes = bytes;
  return node;
}

ByteSet Range(int low, int high) {
  ByteSet set;
  for (int b = low; b <= high; ++b) set.set(b);
  return set;
}

ByteSet HighBytes() { return Range(0x80, 0xFF); }

ByteSet PerlClass(char letter) {
  ByteSet set;
  switch (absl::ascii_tolower(static_cast<unsigned char>(letter))) {
    case 'd':
      set = Range('0', '9');
      break;
    case 'w':
      set = Range('0', '9') | Range('a', 'z') | Range('A', 'Z');
      set.set('_');
      break;
    case 's':
      for (char c : {'\t', '\n', '\f', '\r', ' '}) set.set(static_cast<unsigned char>(c));
      break;
  }
  if (absl::ascii_isupper(static_cast<unsigned char>(letter))) set = ~set;
  return set;
}

ByteSet PosixClass(absl::string_view name) {
  ByteSet set;
  if (name == "alpha" || name == "alnum" || name == "word") {
    set = Range('a', 'z') | Range('A', 'Z');
  }
  if (name == "digit" || name == "alnum" || name == "word" || name == "xdigit") {
    set |= Range('0', '9');
  }
  if (name == "xdigit") set |= Range('a', 'f') | Range('A', 'F');
  if (name == "word") set.set('_');
  if (name == "upper") set = Range('A', 'Z');
  if (name == "lower") set = Range('a', 'z');
  if (name == "space") set = PerlClass('s') | Range(0x0B, 0x0B);
  if (name == "blank") set.set(' ').set('\t');
  if (name == "punct") {
    set = Range('!', '/') | Range(':', '@') | Range('[', '`') | Range('{', '~');
  }
  if (name == "print" || name == "graph") set = Range(name == "print" ? ' ' : '!', '~');
  if (name == "cntrl") set = Range(0, 0x1F) | Range(0x7F, 0x7F);
  if (name == "ascii") set = Range(0, 0x7F);
  return set;
}

// Unicode classes (\pL, \p{Greek}, ...) by their ASCII members plus the
// non-ASCII bytes: enough to give the DFA the right shape.
ByteSet UnicodeClass(absl::string_view name, bool negated) {
  ByteSet set = HighBytes();
  if (name == "N" || name == "Nd") {
    set |= Range('0', '9');
  } else if (name == "L" || name == "Latin" || name == "Ll" || name == "Lu" || name == "Any") {
    set |= Range('a', 'z') | Range('A', 'Z');
  }
  if (name == "Any") set = ~ByteSet();
  return negated ? ~set | HighBytes() : set;
}

void FoldCase(ByteSet* set) {
  for (int b = 'a'; b <= 'z'; ++b) {
    if (set->test(b) || set->test(b - 'a' + 'A')) {
      set->set(b);
      set->set(b - 'a' + 'A');
    }
  }
}

struct Flags {
  bool fold_case = false;
  bool dot_newline = false;
};

// A lenient reader of RE2 syntax: RE2 has already accepted the pattern, so
// nothing is refused here; an escape it does not know is read as the literal
// character, and an unbalanced ')' as a plain separator.
class Reader {
 public:
  explicit Reader(absl::string_view pattern) : text_(pattern) {}

  // After Read(): groups nested deeper than kMaxPatternNesting were found
  // and the rest of the pattern was not read.
  bool too_deep() const { return too_deep_; }

  std::unique_ptr<Node> Read() {
    Flags flags;
    std::unique_ptr<Node> node = Alternation(&flags);
    // A stray ')' cannot happen in a valid pattern; read on regardless.
    while (pos_ < text_.size()) {
      ++pos_;
      auto rest = std::make_unique<Node>();
      rest->type = Node::Type::kConcat;
      rest->children.push_back(std::move(node));
      rest->children.push_back(Alternation(&flags));
      node = std::move(rest);
    }
    return node;
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }
  bool Consume(char c) {
    if (AtEnd() || Peek() != c) return false;
    ++pos_;
    return true;
  }

  std::unique_ptr<Node> Alternation(Flags* flags) {
    auto alternation = std::make_unique<Node>();
    alternation->type = Node::Type::kAlternate;
    alternation->children.push_back(Concatenation(flags));
    while (Consume('|')) alternation->children.push_back(Concatenation(flags));
    // Like RE2, single-character branches become one class: "a|b" is "[ab]".
    std::vector<std::unique_ptr<Node>> branches;
    Node* merged = nullptr;
    for (auto& branch : alternation->children) {
      if (branch->type != Node::Type::kBytes) {
        branches.push_back(std::move(branch));
      } else if (merged == nullptr) {
        merged = branch.get();
        branches.push_back(std::move(branch));
      } else {
        merged->bytes |= branch->bytes;
      }
    }
    alternation->children = std::move(branches);
    if (alternation->children.size() == 1) return std::move(alternation->children.front());
    return alternation;
  }

  std::unique_ptr<Node> Concatenation(Flags* flags) {
    auto concatenation = std::make_unique<Node>();
    concatenation->type = Node::Type::kConcat;
    while (!AtEnd() && Peek() != '|' && Peek() != ')') {
      std::unique_ptr<Node> atom = Atom(flags);
      if (atom == nullptr) continue;  // a flag group such as (?i)
      concatenation->children.push_back(Repetitions(std::move(atom)));
    }
    if (concatenation->children.size() == 1) return std::move(concatenation->children.front());
    return concatenation;
  }

  std::unique_ptr<Node> Repetitions(std::unique_ptr<Node> atom) {
    while (!AtEnd()) {
      int min = 0;
      int max = -1;
      const char c = Peek();
      if (c == '*') {
        ++pos_;
      } else if (c == '+') {
        ++pos_;
        min = 1;
      } else if (c == '?') {
        ++pos_;
        max = 1;
      } else if (c != '{' || !CountedRepetition(&min, &max)) {
        break;
      }
      Consume('?');  // non-greedy: same DFA
      auto repeat = std::make_unique<Node>();
      repeat->type = Node::Type::kRepeat;
      repeat->min = min;
      repeat->max = max;
      repeat->children.push_back(std::move(atom));
      atom = std::move(repeat);
    }
    return atom;
  }

  // "{n}", "{n,}" or "{n,m}" at pos_; otherwise '{' is a literal.
  bool CountedRepetition(int* min, int* max) {
    size_t p = pos_ + 1;
    auto number = [&](int* out) {
      const size_t start = p;
      int64_t value = 0;
      while (p < text_.size() && absl::ascii_isdigit(static_cast<unsigned char>(text_[p]))) {
        value = std::min<int64_t>(value * 10 + (text_[p] - '0'), kMaxPositions);
        ++p;
      }
      *out = static_cast<int>(value);
      return p > start;
    };
    if (!number(min)) return false;
    *max = *min;
    if (p < text_.size() && text_[p] == ',') {
      ++p;
      if (!number(max)) *max = -1;
    }
    if (p >= text_.size() || text_[p] != '}') return false;
    pos_ = p + 1;
    return true;
  }

  std::unique_ptr<Node> Atom(Flags* flags) {
    const char c = Peek();
    ++pos_;
    switch (c) {
      case '(':
        return Group(flags);
      case '[':
        return Class(*flags);
      case '.': {
        ByteSet any = ~ByteSet();
        if (!flags->dot_newline) any.reset('\n');
        return MakeBytes(any);
      }
      case '^':
      case '$':
        return std::make_unique<Node>();
      case '\\':
        return Escape(*flags);
      default:
        --pos_;
        return Literal(*flags);
    }
  }

  // A literal character; a non-ASCII one is its UTF-8 bytes in sequence.
  std::unique_ptr<Node> Literal(const Flags& flags) {
    const auto lead = static_cast<unsigned char>(Peek());
    ++pos_;
    ByteSet set;
    set.set(lead);
    if (flags.fold_case) FoldCase(&set);
    if (lead < 0x80) return MakeBytes(set);
    auto sequence = std::make_unique<Node>();
    sequence->type = Node::Type::kConcat;
    sequence->children.push_back(MakeBytes(set));
    while (!AtEnd() && (static_cast<unsigned char>(Peek()) & 0xC0) == 0x80) {
      ByteSet continuation;
      continuation.set(static_cast<unsigned char>(Peek()));
      sequence->children.push_back(MakeBytes(continuation));
      ++pos_;
    }
    return sequence;
  }

  // After '(' : a group, a named group, or flags.
  std::unique_ptr<Node> Group(Flags* flags) {
    if (++depth_ > kMaxPatternNesting) {
      too_deep_ = true;
      pos_ = text_.size();
      return std::make_unique<Node>();
    }
    struct Leave {
      int* depth;
      ~Leave() { --*depth; }
    } leave{&depth_};
    Flags inner = *flags;
    if (Consume('?')) {
      if (Consume('P') || (!AtEnd() && Peek() == '<')) {
        while (!AtEnd() && Peek() != '>') ++pos_;  // (?P<name> or (?<name>
        Consume('>');
      } else {
        bool negate = false;
        while (!AtEnd() && Peek() != ':' && Peek() != ')') {
          const char flag = Peek();
          ++pos_;
          if (flag == '-') negate = true;
          if (flag == 'i') inner.fold_case = !negate;
          if (flag == 's') inner.dot_newline = !negate;
        }
        if (Consume(')')) {  // (?i): applies to the rest of the enclosing group
          *flags = inner;
          return nullptr;
        }
        Consume(':');
      }
    }
    std::unique_ptr<Node> node = Alternation(&inner);
    Consume(')');
    return node;
  }

  std::unique_ptr<Node> Escape(const Flags& flags) {
    if (AtEnd()) return MakeBytes(ByteSet().set('\\'));
    const char c = Peek();
    ++pos_;
    switch (c) {
      case 'A':
      case 'z':
      case 'b':
      case 'B':
        return std::make_unique<Node>();
      case 'C':
        return MakeBytes(~ByteSet());
      case 'd':
      case 'D':
      case 'w':
      case 'W':
      case 's':
      case 'S':
        return MakeBytes(PerlClass(c));
      case 'p':
      case 'P':
        return MakeBytes(UnicodeClass(UnicodeName(), c == 'P'));
      case 'Q': {
        auto quoted = std::make_unique<Node>();
        quoted->type = Node::Type::kConcat;
        while (!AtEnd() && !absl::StartsWith(text_.substr(pos_), "\\E")) {
          quoted->children.push_back(Literal(flags));
        }
        if (!AtEnd()) pos_ += 2;
        return quoted;
      }
      default: {
        --pos_;
        ByteSet set = EscapedCharacter();
        if (flags.fold_case) FoldCase(&set);
        return MakeBytes(set);
      }
    }
  }

  // After \p or \P: "L" or "{Greek}" (a leading '^' negates, handled as P).
  std::string UnicodeName() {
    if (!Consume('{')) {
      if (AtEnd()) return "";
      return std::string(1, text_[pos_++]);
    }
    std::string name;
    while (!AtEnd() && Peek() != '}') {
      if (Peek() != '^') name.push_back(Peek());
      ++pos_;
    }
    Consume('}');
    return name;
  }

  // The character of an escape such as \n, \x41, \x{263a}, \101 or \.
  ByteSet EscapedCharacter() {
    const char c = Peek();
    ++pos_;
    ByteSet set;
    auto hex_digit = [](char h) { return absl::ascii_isxdigit(static_cast<unsigned char>(h)); };
    switch (c) {
      case 'n':
        return set.set('\n');
      case 't':
        return set.set('\t');
      case 'r':
        return set.set('\r');
      case 'f':
        return set.set('\f');
      case 'v':
        return set.set('\v');
      case 'a':
        return set.set('\a');
      case 'x': {
        int value = 0;
        if (Consume('{')) {
          while (!AtEnd() && Peek() != '}') {
            value = std::min(value * 16 + HexValue(Peek()), 0x10FFFF);
            ++pos_;
          }
          Consume('}');
        } else {
          for (int i = 0; i < 2 && !AtEnd() && hex_digit(Peek()); ++i, ++pos_) {
            value = value * 16 + HexValue(Peek());
          }
        }
        return value < 0x80 ? set.set(value) : HighBytes();
      }
      default:
        if (c >= '0' && c <= '7') {
          int value = c - '0';
          for (int i = 0; i < 2 && !AtEnd() && Peek() >= '0' && Peek() <= '7'; ++i, ++pos_) {
            value = value * 8 + (Peek() - '0');
          }
          return value < 0x80 ? set.set(value) : HighBytes();
        }
        return set.set(static_cast<unsigned char>(c));
    }
  }

  // Past the rest of a multi-byte UTF-8 character whose lead byte was read.
  void SkipUtf8Continuation() {
    while (!AtEnd() && (static_cast<unsigned char>(Peek()) & 0xC0) == 0x80) ++pos_;
  }

  static int HexValue(char h) {
    if (h >= '0' && h <= '9') return h - '0';
    return absl::ascii_tolower(static_cast<unsigned char>(h)) - 'a' + 10;
  }

  // After '[': a class such as [^a-z\d[:punct:]].
  std::unique_ptr<Node> Class(const Flags& flags) {
    const bool negated = Consume('^');
    ByteSet set;
    bool first = true;
    while (!AtEnd() && (first || Peek() != ']')) {
      first = false;
      if (absl::StartsWith(text_.substr(pos_), "[:")) {
        const size_t end = text_.find(":]", pos_ + 2);
        if (end != absl::string_view::npos) {
          absl::string_view name = text_.substr(pos_ + 2, end - pos_ - 2);
          const bool negated_posix = !name.empty() && name.front() == '^';
          if (negated_posix) name.remove_prefix(1);
          set |= negated_posix ? ~PosixClass(name) : PosixClass(name);
          pos_ = end + 2;
          continue;
        }
      }
      int low = -1;  // -1: not a single character
      if (Peek() == '\\' && pos_ + 1 < text_.size()) {
        ++pos_;
        const char c = Peek();
        if (absl::string_view("dDwWsS").find(c) != absl::string_view::npos) {
          ++pos_;
          set |= PerlClass(c);
        } else if (c == 'p' || c == 'P') {
          ++pos_;
          set |= UnicodeClass(UnicodeName(), c == 'P');
        } else {
          const ByteSet one = EscapedCharacter();
          if (one.count() == 1) {
            for (int b = 0; b < 256; ++b) {
              if (one.test(b)) low = b;
            }
          } else {
            set |= one;
          }
        }
      } else {
        low = static_cast<unsigned char>(Peek());
        ++pos_;
        if (low >= 0x80) {
          SkipUtf8Continuation();
          low = 0x80;
        }
      }
      if (low < 0) continue;
      int high = low;
      if (pos_ + 1 < text_.size() && Peek() == '-' && text_[pos_ + 1] != ']') {
        ++pos_;
        if (Peek() == '\\') {
          ++pos_;
          const ByteSet one = EscapedCharacter();
          for (int b = 0; b < 256; ++b) {
            if (one.test(b)) high = b;
          }
        } else {
          high = static_cast<unsigned char>(Peek());
          ++pos_;
          if (high >= 0x80) {
            SkipUtf8Continuation();
            high = 0xFF;
          }
        }
      }
      if (low < 0x80) set |= Range(low, std::min(std::max(high, low), 0x7F));
      if (std::max(low, high) >= 0x80) set |= HighBytes();
    }
    Consume(']');
    if (flags.fold_case) FoldCase(&set);
    if (negated) set = ~set | HighBytes();
    return MakeBytes(set);
  }

  absl::string_view text_;
  size_t pos_ = 0;
  int depth_ = 0;
  bool too_deep_ = false;
};

// The position (Glushkov) automaton: one position per byte-set leaf, copies
// made for repetitions the way RE2 expands them.
class PositionAutomaton {
 public:
  struct Fragment {
    bool nullable = true;
    std::vector<int> first;
    std::vector<int> last;
  };

  // `budget` bounds the entries written to first/last/follow lists, which
  // can grow quadratically (a long chain of optional items).
  explicit PositionAutomaton(int64_t budget) : budget_(budget) {}

  // False when the expansion passes kMaxPositions or the budget.
  bool Build(const Node& root) {
    start_ = Emit(root);
    if (overflow_) return false;
    for (std::vector<int>& follow : follow_) {
      std::sort(follow.begin(), follow.end());
      follow.erase(std::unique(follow.begin(), follow.end()), follow.end());
    }
    return true;
  }

  const std::vector<ByteSet>& bytes() const { return bytes_; }
  const std::vector<int>& first() const { return start_.first; }
  const std::vector<int>& follow(int position) const { return follow_[position]; }

 private:
  void Append(std::vector<int>* to, const std::vector<int>& from) {
    budget_ -= static_cast<int64_t>(from.size());
    if (budget_ < 0) {
      overflow_ = true;
      return;
    }
    to->insert(to->end(), from.begin(), from.end());
  }

  void Link(const std::vector<int>& from, const std::vector<int>& to) {
    for (int p : from) Append(&follow_[p], to);
  }

  Fragment Concat(Fragment a, Fragment b) {
    Link(a.last, b.first);
    Fragment out;
    out.nullable = a.nullable && b.nullable;
    out.first = std::move(a.first);
    if (a.nullable) Append(&out.first, b.first);
    out.last = std::move(b.last);
    if (b.nullable) Append(&out.last, a.last);
    return out;
  }

  Fragment Star(Fragment a, bool nullable) {
    Link(a.last, a.first);
    a.nullable = a.nullable || nullable;
    return a;
  }

  static Fragment Optional(Fragment a) {
    a.nullable = true;
    return a;
  }

  Fragment Emit(const Node& node) {
    if (overflow_) return Fragment();
    switch (node.type) {
      case Node::Type::kEmpty:
        return Fragment();
      case Node::Type::kBytes: {
        if (static_cast<int>(bytes_.size()) >= kMaxPositions) {
          overflow_ = true;
          return Fragment();
        }
        const int p = static_cast<int>(bytes_.size());
        bytes_.push_back(node.bytes);
        follow_.emplace_back();
        Fragment out;
        out.nullable = false;
        out.first = {p};
        out.last = {p};
        return out;
      }
      case Node::Type::kConcat: {
        Fragment out;
        for (const auto& child : node.children) out = Concat(std::move(out), Emit(*child));
        return out;
      }
      case Node::Type::kAlternate: {
        Fragment out;
        out.nullable = false;
        for (const auto& child : node.children) {
          Fragment branch = Emit(*child);
          out.nullable = out.nullable || branch.nullable;
          Append(&out.first, branch.first);
          Append(&out.last, branch.last);
        }
        return out;
      }
      case Node::Type::kRepeat:
        return EmitRepeat(*node.children.front(), node.min, node.max);
    }
    return Fragment();
  }

  // x{n,m}: n copies, then m-n nested optional copies (x(x(x)?)?)?; x{n,}:
  // n-1 copies then x+ (x* when n is 0).
  Fragment EmitRepeat(const Node& child, int min, int max) {
    Fragment out;
    if (max < 0) {
      for (int i = 1; i < min; ++i) out = Concat(std::move(out), Emit(child));
      return Concat(std::move(out), Star(Emit(child), min == 0));
    }
    for (int i = 0; i < min; ++i) out = Concat(std::move(out), Emit(child));
    if (max > min) out = Concat(std::move(out), NestedOptional(child, max - min));
    return out;
  }

  Fragment NestedOptional(const Node& child, int copies) {
    if (overflow_) return Fragment();
    Fragment head = Emit(child);
    if (copies > 1) head = Concat(std::move(head), NestedOptional(child, copies - 1));
    return Optional(std::move(head));
  }

  std::vector<ByteSet> bytes_;
  std::vector<std::vector<int>> follow_;
  Fragment start_;
  int64_t budget_;
  bool overflow_ = false;
};

// Bytes that no position tells apart share a class; one representative each.
std::vector<int> ByteClassRepresentatives(const std::vector<ByteSet>& sets) {
  std::vector<int> class_of(256, 0);
  int classes = 1;
  std::vector<ByteSet> distinct;
  for (const ByteSet& set : sets) {
    if (std::find(distinct.begin(), distinct.end(), set) != distinct.end()) continue;
    distinct.push_back(set);
    absl::flat_hash_map<std::pair<int, bool>, int> split;
    for (int b = 0; b < 256; ++b) {
      auto [it, inserted] = split.try_emplace({class_of[b], set.test(b)}, 0);
      if (inserted) it->second = static_cast<int>(split.size()) - 1;
      class_of[b] = it->second;
    }
    classes = static_cast<int>(split.size());
  }
  std::vector<int> representatives(classes, -1);
  for (int b = 0; b < 256; ++b) {
    if (representatives[class_of[b]] < 0) representatives[class_of[b]] = b;
  }
  return representatives;
}

}  // namespace

DfaCost EstimateDfaCost(absl::string_view pattern, int64_t limit) {
  DfaCost cost;
  Reader reader(pattern);
  std::unique_ptr<Node> root = reader.Read();
  if (reader.too_deep()) {
    cost.too_deep = true;
    return cost;
  }
  // Steps for building and exploring: generous next to `limit` (a state's
  // successors are filtered once per byte class), so only patterns far past
  // the limit run out of them first.
  const int64_t steps =
      64 * std::max<int64_t>(limit, 1) + 64 * static_cast<int64_t>(pattern.size());
  PositionAutomaton automaton(steps);
  if (!automaton.Build(*root)) {
    cost.over_limit = true;
    cost.work = limit + 1;
    return cost;
  }
  int64_t steps_left = steps;
  const std::vector<ByteSet>& bytes = automaton.bytes();
  const std::vector<int> representatives = ByteClassRepresentatives(bytes);

  // An unanchored search may start a match at every byte, so every state
  // can also step into the first positions.
  absl::flat_hash_map<std::vector<int>, int> seen;
  std::deque<std::vector<int>> pending;
  auto discover = [&](std::vector<int> state) {
    if (cost.over_limit || seen.contains(state)) return;
    cost.states += 1;
    cost.work += std::max<int64_t>(1, static_cast<int64_t>(state.size()));
    if (cost.work > limit) {
      cost.over_limit = true;
      return;
    }
    seen.emplace(state, 0);
    pending.push_back(std::move(state));
  };
  discover({});
  std::vector<char> marked(bytes.size(), 0);
  std::vector<int> candidates;
  while (!pending.empty() && !cost.over_limit) {
    const std::vector<int> state = std::move(pending.front());
    pending.pop_front();
    candidates.clear();
    auto add = [&](const std::vector<int>& positions) {
      steps_left -= static_cast<int64_t>(positions.size());
      for (int p : positions) {
        if (!marked[p]) {
          marked[p] = 1;
          candidates.push_back(p);
        }
      }
    };
    add(automaton.first());
    for (int p : state) add(automaton.follow(p));
    std::sort(candidates.begin(), candidates.end());
    for (int p : candidates) marked[p] = 0;
    steps_left -= static_cast<int64_t>(candidates.size() * (representatives.size() + 1));
    if (steps_left < 0) {  // too costly to even estimate: past the limit
      cost.over_limit = true;
      cost.work = std::max(cost.work, limit + 1);
      break;
    }
    for (int byte : representatives) {
      std::vector<int> next;
      for (int p : candidates) {
        if (bytes[p].test(byte)) next.push_back(p);
      }
      discover(std::move(next));
      if (cost.over_limit) break;
    }
  }
  return cost;
}

}  // namespace coach::engine
