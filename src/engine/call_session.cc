#include "engine/call_session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace coach::engine {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Start offsets of the whitespace-separated words of `text`.
void WordStarts(absl::string_view text, std::vector<uint32_t>* starts) {
  starts->clear();
  bool in_word = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool space = IsSpace(text[i]);
    if (!space && !in_word) starts->push_back(static_cast<uint32_t>(i));
    in_word = !space;
  }
}

bool Contains(const std::vector<std::string>& list, absl::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

int SeverityPenalty(Severity severity) {
  switch (severity) {
    case Severity::kInfo:
      return 1;
    case Severity::kLow:
      return 3;
    case Severity::kMedium:
      return 6;
    case Severity::kHigh:
      return 10;
    case Severity::kCritical:
      return 15;
  }
  return 6;
}

CallSession::CallSession(std::shared_ptr<const RuleSet> rules, SessionOptions options)
    : rules_(std::move(rules)), options_(std::move(options)) {
  options_.carry_words = std::clamp(options_.carry_words, 0, SessionOptions::kMaxCarryWords);
  report_.rule_set_version = rules_->version();
  report_.asap = {{"acknowledge", false, -1},
                  {"sympathize", false, -1},
                  {"accept_responsibility", false, -1},
                  {"prepare_to_help", false, -1}};
}

Event CallSession::NewEvent(EventType type) {
  Event event;
  event.seq = next_seq_++;
  event.type = type;
  return event;
}

bool CallSession::IsRecentFinal(Speaker speaker, absl::string_view segment_id) const {
  return std::any_of(recent_final_ids_.begin(), recent_final_ids_.end(),
                     [&](const std::pair<Speaker, std::string>& final_id) {
                       return final_id.first == speaker && final_id.second == segment_id;
                     });
}

absl::Status CallSession::ValidateSegment(const Segment& segment, const SessionOptions& options) {
  if (segment.segment_id.empty()) {
    return absl::InvalidArgumentError("segment_id is empty");
  }
  const int speaker_index = static_cast<int>(segment.speaker);
  if (speaker_index < 0 || speaker_index >= kSpeakerCount) {
    return absl::InvalidArgumentError("speaker must be agent or customer");
  }
  if (segment.text.size() > options.max_segment_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("text is ", segment.text.size(),
                                                   " bytes; the limit is ",
                                                   options.max_segment_bytes));
  }
  auto in_range = [](int64_t ms) { return ms >= 0 && ms <= kMaxCallTimeMs; };
  auto out_of_range = [](absl::string_view prefix, absl::string_view field, int64_t ms) {
    return absl::InvalidArgumentError(absl::StrCat(prefix, field, " is ", ms,
                                                   "; call times must be in [0, ",
                                                   kMaxCallTimeMs, "] ms"));
  };
  if (!in_range(segment.start_ms)) return out_of_range("", "start_ms", segment.start_ms);
  if (!in_range(segment.end_ms)) return out_of_range("", "end_ms", segment.end_ms);
  // Per word, the field name is built only for an error.
  for (size_t i = 0; i < segment.words.size(); ++i) {
    const WordTiming& word = segment.words[i];
    if (!in_range(word.start_ms)) {
      return out_of_range(absl::StrCat("words[", i, "]."), "start_ms", word.start_ms);
    }
    if (!in_range(word.end_ms)) {
      return out_of_range(absl::StrCat("words[", i, "]."), "end_ms", word.end_ms);
    }
  }
  return absl::OkStatus();
}

absl::Status CallSession::ProcessSegment(const Segment& segment, std::vector<Event>* events) {
  if (finished_) {
    return absl::FailedPreconditionError("the call has ended; no segment may follow its end");
  }
  if (absl::Status status = ValidateSegment(segment, options_); !status.ok()) return status;
  const int speaker_index = static_cast<int>(segment.speaker);
  if (IsRecentFinal(segment.speaker, segment.segment_id)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "segment_id '", segment.segment_id, "' is already final; a final segment cannot be revised"));
  }
  SpeakerState& state = speakers_[speaker_index];
  if (state.open && state.open_segment.segment_id != segment.segment_id) {
    if (absl::Status status = FinalizeOpen(segment.speaker, events); !status.ok()) return status;
  }
  if (segment.is_final) return ProcessFinal(segment, events);

  if (!state.open) {
    state.open = true;
    state.open_order = next_open_order_++;
  }
  state.open_segment = segment;
  if (options_.interim_policy == InterimPolicy::kFinalOnly) return absl::OkStatus();
  if (segment.stability.has_value() && *segment.stability < options_.min_interim_stability) {
    return absl::OkStatus();
  }
  if (absl::Status status = Match(segment); !status.ok()) return status;
  // Deadlines pass on interims too: the first words of a late reply show that
  // the allowed time is over.
  CheckTimeDeadlines(segment.start_ms, events);
  for (const Occurrence& occurrence : occurrences_) {
    const bool already_fired =
        std::any_of(state.fired.begin(), state.fired.end(), [&](const FiredNudge& fired) {
          return fired.rule == occurrence.rule && fired.nth == occurrence.nth;
        });
    if (already_fired) continue;
    Evidence evidence = MakeEvidence(segment.speaker, occurrence.span);
    RuleState before;
    if (auto it = rule_states_.find(occurrence.rule); it != rule_states_.end()) before = it->second;
    const int64_t seq = TryNudge(occurrence.rule, evidence, /*interim=*/true, events);
    if (seq > 0) {
      state.fired.push_back(
          FiredNudge{occurrence.rule, occurrence.nth, seq, std::move(evidence), before});
    }
  }
  return absl::OkStatus();
}

absl::Status CallSession::FinalizeOpen(Speaker speaker, std::vector<Event>* events) {
  SpeakerState& state = speakers_[static_cast<int>(speaker)];
  Segment segment = std::move(state.open_segment);
  segment.is_final = true;
  return ProcessFinal(segment, events);
}

absl::Status CallSession::ProcessFinal(const Segment& segment, std::vector<Event>* events) {
  const Speaker speaker = segment.speaker;
  SpeakerState& state = speakers_[static_cast<int>(speaker)];
  if (absl::Status status = Match(segment); !status.ok()) return status;

  // From here on the segment is accepted; nothing below fails.
  ++report_.segments;
  CheckTimeDeadlines(segment.start_ms, events);
  // A final with no words (silence, noise) is not a turn.
  const bool said_something = !normalized_.tokens.empty();
  if (said_something) StartOfTurn(speaker, events);

  for (const FiredNudge& fired : state.fired) {
    const bool still_there =
        std::any_of(occurrences_.begin(), occurrences_.end(), [&](const Occurrence& o) {
          return o.rule == fired.rule && o.nth == fired.nth;
        });
    if (still_there) continue;
    const CompiledRule& rule = rules_->rules()[fired.rule];
    Event event = NewEvent(EventType::kRetraction);
    event.rule_id = rule.spec.id;
    event.category = rule.spec.category;
    event.kind = rule.spec.kind;
    event.severity = rule.spec.severity;
    event.title = rule.spec.title;
    event.message = rule.spec.message;
    event.suggestion = rule.spec.suggestion;
    event.evidence = fired.evidence;
    event.retracts_seq = fired.seq;
    if (auto it = rule_states_.find(fired.rule); it != rule_states_.end()) {
      RuleState& rule_state = it->second;
      --rule_state.nudges;
      if (rule_state.last_nudge_seq == fired.seq) {
        rule_state.has_last = fired.before.has_last;
        rule_state.last_nudge_ms = fired.before.last_nudge_ms;
        rule_state.last_nudge_seq = fired.before.last_nudge_seq;
      }
    }
    ++report_.retractions;
    --report_.nudges;
    events->push_back(std::move(event));
  }

  for (const Occurrence& occurrence : occurrences_) {
    const Evidence evidence = MakeEvidence(speaker, occurrence.span);
    const bool fired_on_interim =
        std::any_of(state.fired.begin(), state.fired.end(), [&](const FiredNudge& fired) {
          return fired.rule == occurrence.rule && fired.nth == occurrence.nth;
        });
    if (!fired_on_interim) TryNudge(occurrence.rule, evidence, /*interim=*/false, events);
    RecordDetection(occurrence.rule, evidence, events);
  }

  UpdateCarry(speaker, segment);
  state.open = false;
  state.fired.clear();
  recent_final_ids_.emplace_back(speaker, segment.segment_id);
  while (static_cast<int>(recent_final_ids_.size()) > options_.remembered_final_ids) {
    recent_final_ids_.pop_front();
  }
  if (said_something) last_final_speaker_ = speaker;
  last_time_ms_ = std::max({last_time_ms_, segment.start_ms, segment.end_ms});
  return absl::OkStatus();
}

absl::Status CallSession::Match(const Segment& segment) {
  const Speaker speaker = segment.speaker;
  const SpeakerState& state = speakers_[static_cast<int>(speaker)];
  Normalize(segment.text, &normalized_);

  // Window = carried tail + current words, sharing the space between them. A
  // pause longer than carry_max_gap_ms ends the carry-over.
  const bool carry = !state.carry_tokens.empty() &&
                     segment.start_ms <= state.carry_end_ms + options_.carry_max_gap_ms;
  if (carry) {
    window_text_.assign(state.carry_text);
  } else {
    window_text_.assign(" ");
  }
  window_carry_end_ = carry ? static_cast<uint32_t>(state.carry_text.size() - 1) : 0;
  window_has_carry_ = carry;
  const auto base = static_cast<uint32_t>(window_text_.size() - 1);
  window_text_.append(normalized_.text, 1, std::string::npos);
  window_tokens_.clear();
  window_pieces_.clear();
  if (carry) {
    window_tokens_.assign(state.carry_tokens.begin(), state.carry_tokens.end());
    for (const Piece& piece : state.carry_pieces) {
      window_pieces_.push_back(PieceRef{piece.segment_id, piece.text});
    }
  }
  const auto current_piece = static_cast<uint32_t>(window_pieces_.size());
  window_pieces_.push_back(PieceRef{segment.segment_id, segment.text});

  // Time each word by its own timing when there is one per spoken word.
  std::vector<uint32_t>& word_starts = word_starts_;
  WordStarts(segment.text, &word_starts);
  const bool timed = !segment.words.empty() && segment.words.size() == word_starts.size();
  size_t word = 0;
  for (const NormalizedToken& token : normalized_.tokens) {
    WindowToken t;
    t.norm_begin = base + token.norm_begin;
    t.norm_end = base + token.norm_end;
    t.piece = current_piece;
    t.source_begin = token.source_begin;
    t.source_end = token.source_end;
    t.offset_ms = segment.start_ms;
    if (timed) {
      while (word + 1 < word_starts.size() && word_starts[word + 1] <= token.source_begin) ++word;
      t.offset_ms = segment.words[word].start_ms;
    }
    window_tokens_.push_back(t);
  }

  occurrences_.clear();
  if (normalized_.tokens.empty()) return absl::OkStatus();

  // Candidates: the window Set over carry + segment, and the Set of anchored
  // patterns over the segment alone.
  candidates_.clear();
  for (const RulePart part : {RulePart::kWindow, RulePart::kSegment}) {
    const RE2::Set* set = rules_->set_for(speaker, part);
    if (set == nullptr) continue;
    const std::vector<int>& set_rules = rules_->set_rules(speaker, part);
    const absl::string_view text =
        part == RulePart::kWindow ? absl::string_view(window_text_) : normalized_.text;
    set_hits_.clear();
    RE2::Set::ErrorInfo error_info;
    const bool matched =
        set->Match(re2::StringPiece(text.data(), text.size()), &set_hits_, &error_info);
    bool fell_back = false;
    if (absl::Status status = CandidatesFromSetMatch(matched, error_info, set_rules.size(),
                                                     &set_hits_, &fell_back);
        !status.ok()) {
      return status;
    }
    // Each RE2 falls back to its NFA on its own, so per-rule matching is exact.
    if (fell_back) ++report_.set_out_of_memory_fallbacks;
    for (int hit : set_hits_) candidates_.emplace_back(set_rules[hit], part);
  }
  std::sort(candidates_.begin(), candidates_.end());

  for (size_t i = 0; i < candidates_.size();) {
    const int rule = candidates_[i].first;
    spans_.clear();
    size_t window_spans = 0;
    for (; i < candidates_.size() && candidates_[i].first == rule; ++i) {
      if (candidates_[i].second == RulePart::kWindow) {
        rules_->FindOccurrences(rule, window_text_, window_carry_end_, &spans_);
        window_spans = spans_.size();
        continue;
      }
      // Anchored patterns see the current segment alone; shift their spans
      // into the window. One overlapping a phrase match is the same occurrence.
      const size_t from = spans_.size();
      rules_->FindOccurrences(rule, normalized_.text, 0, &spans_, RulePart::kSegment);
      auto kept = spans_.begin() + static_cast<std::ptrdiff_t>(from);
      for (auto it = kept; it != spans_.end(); ++it) {
        const MatchSpan shifted{it->begin + base, it->end + base};
        const bool same = std::any_of(
            spans_.begin(), spans_.begin() + static_cast<std::ptrdiff_t>(window_spans),
            [&](const MatchSpan& other) {
              return other.begin < shifted.end && shifted.begin < other.end;
            });
        if (!same) *kept++ = shifted;
      }
      spans_.erase(kept, spans_.end());
      std::sort(spans_.begin(), spans_.end(),
                [](const MatchSpan& a, const MatchSpan& b) { return a.begin < b.begin; });
    }
    uint32_t nth = 0;
    for (const MatchSpan& span : spans_) {
      // The same occurrence as one reported on an earlier final, now longer
      // because an optional word followed in this segment.
      const bool reported =
          carry && std::any_of(state.carry_reported.begin(), state.carry_reported.end(),
                               [&](const ReportedSpan& old) {
                                 return old.rule == rule && old.span.begin < span.end &&
                                        span.begin < old.span.end;
                               });
      if (!reported) occurrences_.push_back(Occurrence{rule, nth++, span});
    }
  }
  // Report in the order things were said; ties by rule order.
  std::stable_sort(occurrences_.begin(), occurrences_.end(),
                   [](const Occurrence& a, const Occurrence& b) {
                     return a.span.begin < b.span.begin;
                   });
  return absl::OkStatus();
}

Evidence CallSession::MakeEvidence(Speaker speaker, const MatchSpan& span) const {
  // The token holding the span's first byte (raw patterns may start mid-word),
  // and the first token that reaches its end.
  auto first = std::upper_bound(
      window_tokens_.begin(), window_tokens_.end(), span.begin,
      [](uint32_t begin, const WindowToken& t) { return begin < t.norm_begin; });
  if (first != window_tokens_.begin()) --first;
  auto last = std::lower_bound(window_tokens_.begin(), window_tokens_.end(), span.end,
                               [](const WindowToken& t, uint32_t end) { return t.norm_end < end; });
  Evidence evidence;
  evidence.speaker = speaker;
  if (first == window_tokens_.end() || last == window_tokens_.end() || last < first) {
    return evidence;  // unreachable for spans produced by FindOccurrences
  }
  const PieceRef& last_piece = window_pieces_[last->piece];
  evidence.segment_id = std::string(last_piece.segment_id);
  if (first->piece != last->piece) {
    evidence.first_segment_id = std::string(window_pieces_[first->piece].segment_id);
  }
  evidence.offset_ms = first->offset_ms;
  evidence.span_end = last->source_end;
  // Join the spoken text piece by piece.
  std::vector<absl::string_view> parts;
  for (auto it = first; it <= last;) {
    auto piece_end = it;
    while (piece_end + 1 <= last && (piece_end + 1)->piece == it->piece) ++piece_end;
    const PieceRef& piece = window_pieces_[it->piece];
    parts.push_back(piece.text.substr(it->source_begin, piece_end->source_end - it->source_begin));
    if (it->piece == last->piece) evidence.span_begin = it->source_begin;
    it = piece_end + 1;
  }
  evidence.matched_text = ValidUtf8(absl::StrJoin(parts, " "));
  return evidence;
}

void CallSession::UpdateCarry(Speaker speaker, const Segment& segment) {
  SpeakerState& state = speakers_[static_cast<int>(speaker)];
  if (normalized_.tokens.empty()) return;  // nothing said: keep the old tail
  const size_t keep = std::min(window_tokens_.size(), static_cast<size_t>(options_.carry_words));
  const size_t from = window_tokens_.size() - keep;
  std::string text = " ";
  std::vector<WindowToken> tokens;
  std::vector<Piece> pieces;
  // Old piece index -> new index, and where its kept text begins.
  std::vector<int> remap(window_pieces_.size(), -1);
  std::vector<uint32_t> trim(window_pieces_.size(), 0);
  for (size_t i = from; i < window_tokens_.size(); ++i) {
    const WindowToken& t = window_tokens_[i];
    if (remap[t.piece] < 0) {
      remap[t.piece] = static_cast<int>(pieces.size());
      trim[t.piece] = t.source_begin;
      const PieceRef& ref = window_pieces_[t.piece];
      pieces.push_back(Piece{std::string(ref.segment_id), std::string(ref.text.substr(t.source_begin))});
    }
    WindowToken kept = t;
    kept.piece = static_cast<uint32_t>(remap[t.piece]);
    kept.source_begin -= trim[t.piece];
    kept.source_end -= trim[t.piece];
    kept.norm_begin = static_cast<uint32_t>(text.size());
    text.append(window_text_, t.norm_begin, t.norm_end - t.norm_begin);
    kept.norm_end = static_cast<uint32_t>(text.size());
    text.push_back(' ');
    tokens.push_back(kept);
  }
  // Occurrences that reach into the kept tail, moved to the new coordinates.
  std::vector<ReportedSpan> reported;
  auto keep_reported = [&](int rule, const MatchSpan& span) {
    const WindowToken& first_kept = window_tokens_[from];
    if (span.end <= first_kept.norm_begin) return;  // wholly before the tail
    MatchSpan moved{tokens.front().norm_begin, tokens.back().norm_end};
    for (size_t i = from; i < window_tokens_.size(); ++i) {
      const WindowToken& old = window_tokens_[i];
      const WindowToken& kept = tokens[i - from];
      if (span.begin >= old.norm_begin && span.begin < old.norm_end + 1) {
        moved.begin = kept.norm_begin + std::min(span.begin - old.norm_begin,
                                                 kept.norm_end - kept.norm_begin);
      }
      if (span.end > old.norm_begin && span.end <= old.norm_end + 1) {
        moved.end = kept.norm_begin + std::min(span.end - old.norm_begin,
                                               kept.norm_end - kept.norm_begin);
        break;
      }
    }
    reported.push_back(ReportedSpan{rule, moved});
  };
  if (window_has_carry_) {
    for (const ReportedSpan& old : state.carry_reported) keep_reported(old.rule, old.span);
  }
  for (const Occurrence& occurrence : occurrences_) {
    keep_reported(occurrence.rule, occurrence.span);
  }
  state.carry_text = std::move(text);
  state.carry_tokens = std::move(tokens);
  state.carry_pieces = std::move(pieces);
  state.carry_reported = std::move(reported);
  state.carry_end_ms = std::max(segment.start_ms, segment.end_ms);
}

int64_t CallSession::TryNudge(int rule_index, const Evidence& evidence, bool interim,
                              std::vector<Event>* events) {
  const RuleSpec& rule = rules_->rules()[rule_index].spec;
  // Only a rule with a limit needs state: the map grows with the limited rules
  // that fired in this call, not with the rule count.
  RuleState* state = nullptr;
  if (rule.max_per_call > 0 || rule.cooldown_ms > 0) {
    state = &rule_states_[rule_index];
    if (rule.max_per_call > 0 && state->nudges >= rule.max_per_call) return 0;
    if (rule.cooldown_ms > 0 && state->has_last &&
        evidence.offset_ms < state->last_nudge_ms + rule.cooldown_ms) {
      return 0;
    }
    ++state->nudges;
    state->has_last = true;
    state->last_nudge_ms = evidence.offset_ms;
  }
  Event event = NewEvent(EventType::kNudge);
  if (state != nullptr) state->last_nudge_seq = event.seq;
  event.rule_id = rule.id;
  event.category = rule.category;
  event.kind = rule.kind;
  event.severity = rule.severity;
  event.title = rule.title;
  event.message = rule.message;
  event.suggestion = rule.suggestion;
  event.evidence = evidence;
  event.interim = interim;
  ++report_.nudges;
  events->push_back(std::move(event));
  return events->back().seq;
}

void CallSession::RecordDetection(int rule_index, const Evidence& evidence,
                                  std::vector<Event>* events) {
  const CompiledRule& compiled = rules_->rules()[rule_index];
  const RuleSpec& rule = compiled.spec;
  const Speaker speaker = evidence.speaker;
  const ReportCategories& categories = options_.categories;
  ++report_.category_counts[rule.category][speaker];

  ReportItem item{rule.id, rule.category, rule.kind, evidence};
  if (speaker == Speaker::kCustomer &&
      (rule.kind == RuleKind::kEscalation || rule.kind == RuleKind::kCue)) {
    if (report_.first_cue_offset_ms < 0) report_.first_cue_offset_ms = evidence.offset_ms;
    report_.escalation_cues.push_back(item);
  }
  if (speaker == Speaker::kAgent) {
    if (rule.kind == RuleKind::kCorrective) conduct_points_ += SeverityPenalty(rule.severity);
    if (rule.category == categories.empathy && report_.first_cue_offset_ms >= 0 &&
        report_.first_empathy_after_cue_offset_ms < 0 &&
        evidence.offset_ms >= report_.first_cue_offset_ms) {
      report_.first_empathy_after_cue_offset_ms = evidence.offset_ms;
      report_.empathy_latency_ms = evidence.offset_ms - report_.first_cue_offset_ms;
    }
    const bool steps[] = {rule.category == categories.empathy,
                          rule.category == categories.apology,
                          rule.category == categories.ownership,
                          Contains(categories.prepare_to_help, rule.category)};
    for (size_t i = 0; i < report_.asap.size(); ++i) {
      if (steps[i] && !report_.asap[i].done) {
        report_.asap[i].done = true;
        report_.asap[i].first_offset_ms = evidence.offset_ms;
      }
    }
    if (rule.category == categories.confirm_understanding) report_.understanding_confirmed = true;
    if (rule.category == categories.commitment) report_.commitments.push_back(item);
    for (int expectation : compiled.satisfies_expectations) {
      open_expectations_.erase(
          std::remove_if(open_expectations_.begin(), open_expectations_.end(),
                         [&](const OpenExpectation& open) { return open.expectation == expectation; }),
          open_expectations_.end());
    }
  }
  for (int expectation : compiled.opens_expectations) {
    const bool already_open =
        std::any_of(open_expectations_.begin(), open_expectations_.end(),
                    [&](const OpenExpectation& open) { return open.expectation == expectation; });
    if (already_open) continue;
    // A trigger inside the agent's own turn counts that turn as the first.
    open_expectations_.push_back(OpenExpectation{
        expectation, evidence.offset_ms, speaker == Speaker::kAgent ? 1 : 0, item});
  }
}

void CallSession::ReportMissed(size_t open_index, MissedReason reason, int64_t due_ms,
                               std::vector<Event>* events) {
  const OpenExpectation& open = open_expectations_[open_index];
  const ExpectationSpec& spec = rules_->expectations()[open.expectation];
  Event event = NewEvent(EventType::kReminder);
  event.rule_id = spec.id;
  event.category = spec.category;
  event.kind = RuleKind::kReminder;
  event.severity = spec.severity;
  event.title = spec.title;
  event.message = spec.message;
  event.suggestion = spec.suggestion;
  event.evidence = open.trigger.evidence;
  event.trigger_rule_id = open.trigger.rule_id;
  event.trigger_category = open.trigger.category;
  event.trigger_kind = open.trigger.kind;
  event.missed_reason = reason;
  event.due_ms = due_ms;
  report_.missed_expectations.push_back(MissedExpectation{
      spec.id, spec.category, open.trigger.category, open.trigger.kind,
      open.trigger.evidence.offset_ms, reason, event.seq});
  ++report_.reminders;
  events->push_back(std::move(event));
}

void CallSession::CheckTimeDeadlines(int64_t now_ms, std::vector<Event>* events) {
  for (size_t i = 0; i < open_expectations_.size();) {
    const OpenExpectation& open = open_expectations_[i];
    const int64_t within = rules_->expectations()[open.expectation].within_ms;
    if (within > 0 && now_ms > open.trigger_ms + within) {
      ReportMissed(i, MissedReason::kTime, open.trigger_ms + within, events);
      open_expectations_.erase(open_expectations_.begin() + static_cast<long>(i));
    } else {
      ++i;
    }
  }
}

void CallSession::StartOfTurn(Speaker speaker, std::vector<Event>* events) {
  const bool new_turn = !last_final_speaker_.has_value() || *last_final_speaker_ != speaker;
  if (!new_turn) return;
  for (size_t i = 0; i < open_expectations_.size();) {
    OpenExpectation& open = open_expectations_[i];
    const int turns = rules_->expectations()[open.expectation].within_agent_turns;
    if (speaker == Speaker::kAgent) {
      ++open.agent_turns;
    } else if (turns > 0 && open.agent_turns >= turns) {
      // The customer speaks again after the agent's last allowed turn.
      ReportMissed(i, MissedReason::kTurns, last_time_ms_, events);
      open_expectations_.erase(open_expectations_.begin() + static_cast<long>(i));
      continue;
    }
    ++i;
  }
}

absl::StatusOr<CallReport> CallSession::Finish(std::vector<Event>* events) {
  if (finished_) return absl::FailedPreconditionError("the call has already ended");
  // Finalize hypotheses still open, in the order they were opened.
  std::vector<Speaker> open_speakers;
  for (int s = 0; s < kSpeakerCount; ++s) {
    if (speakers_[s].open) open_speakers.push_back(static_cast<Speaker>(s));
  }
  std::sort(open_speakers.begin(), open_speakers.end(), [this](Speaker a, Speaker b) {
    return speakers_[static_cast<int>(a)].open_order < speakers_[static_cast<int>(b)].open_order;
  });
  for (Speaker speaker : open_speakers) {
    if (absl::Status status = FinalizeOpen(speaker, events); !status.ok()) return status;
  }
  // Deadlines that passed before the last word count as missed in time.
  CheckTimeDeadlines(last_time_ms_, events);
  while (!open_expectations_.empty()) {
    ReportMissed(0, MissedReason::kEndOfCall, last_time_ms_, events);
    open_expectations_.erase(open_expectations_.begin());
  }
  int unmet = 0;
  for (const ExpectationSpec& spec : rules_->expectations()) {
    if (!spec.when.empty()) continue;
    CallExpectationResult result;
    result.expectation_id = spec.id;
    result.category = spec.category;
    result.title = spec.title;
    result.required = spec.at_least;
    for (const std::string& category : spec.expect) {
      auto it = report_.category_counts.find(category);
      if (it == report_.category_counts.end()) continue;
      auto agent = it->second.find(Speaker::kAgent);
      if (agent != it->second.end()) result.count += agent->second;
    }
    result.met = result.count >= result.required;
    if (!result.met) ++unmet;
    report_.call_expectations.push_back(std::move(result));
  }
  ScoreBreakdown& score = report_.score;
  score.conduct_penalty = std::min(50, conduct_points_);
  score.missed_expectation_penalty =
      std::min(30, 10 * (static_cast<int>(report_.missed_expectations.size()) + unmet));
  score.asap_penalty = 0;
  if (report_.first_cue_offset_ms >= 0) {
    for (const ChecklistStep& step : report_.asap) {
      if (!step.done) score.asap_penalty += 5;
    }
  }
  score.score = std::max(
      0, 100 - score.conduct_penalty - score.missed_expectation_penalty - score.asap_penalty);
  report_.seq = next_seq_++;
  finished_ = true;
  return report_;
}

}  // namespace coach::engine
