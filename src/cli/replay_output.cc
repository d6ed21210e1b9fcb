#include "cli/replay_output.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"

namespace coach::cli {
namespace {

// The kinds a nudge can have, in table order, with their column titles.
struct KindColumn {
  v1::RuleKind kind;
  const char* title;
};
constexpr KindColumn kKindColumns[] = {
    {v1::RULE_KIND_CORRECTIVE, "CORR"},  {v1::RULE_KIND_REINFORCEMENT, "REINF"},
    {v1::RULE_KIND_ESCALATION, "ESCAL"}, {v1::RULE_KIND_CUE, "CUE"},
    {v1::RULE_KIND_TRACKED, "TRACK"},
};

}  // namespace

std::string JsonLine(const v1::CoachEvent& event) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(event, &json, options).ok()) return "{}";
  return json;
}

void WriteJsonLines(const ReplayedCall& call, std::ostream& out) {
  if (!call.ok()) return;
  for (const v1::CoachEvent& event : call.events) out << JsonLine(event) << "\n";
}

std::string KindName(v1::RuleKind kind) {
  return absl::AsciiStrToLower(absl::StripPrefix(v1::RuleKind_Name(kind), "RULE_KIND_"));
}

std::map<std::string, int> StandingNudgesByKind(const ReplayedCall& call) {
  std::set<int64_t> retracted;
  for (const v1::CoachEvent& event : call.events) {
    if (event.has_retraction()) retracted.insert(event.retraction().retracted_seq());
  }
  std::map<std::string, int> counts;
  for (const v1::CoachEvent& event : call.events) {
    if (event.has_nudge() && retracted.count(event.seq()) == 0) {
      ++counts[KindName(event.nudge().kind())];
    }
  }
  return counts;
}

std::string ReplaySummary::Header() {
  std::string header = absl::StrFormat("%5s %5s", "SCORE", "SEGS");
  for (const KindColumn& column : kKindColumns)
    absl::StrAppendFormat(&header, " %5s", column.title);
  absl::StrAppendFormat(&header, " %6s %6s %6s  %s\n", "REMIND", "MISSED", "COMMIT", "CALL");
  return header;
}

std::string ReplaySummary::Add(const ReplayedCall& call) {
  ++calls_;
  if (!call.ok()) {
    ++failed_;
    return absl::StrFormat("%5s %5s  %s: FAILED (%s)\n", "-", "-", call.call.call_id, call.error);
  }
  const v1::CallReport& report = call.report();
  score_sum_ += report.score();
  segments_ += report.segments();
  reminders_ += report.reminders();
  missed_ += report.missed_expectations_size();
  commitments_ += report.commitments_size();
  const std::map<std::string, int> by_kind = StandingNudgesByKind(call);
  std::string row = absl::StrFormat("%5d %5d", report.score(), report.segments());
  for (const KindColumn& column : kKindColumns) {
    const auto it = by_kind.find(KindName(column.kind));
    const int count = it == by_kind.end() ? 0 : it->second;
    nudges_by_kind_[KindName(column.kind)] += count;
    absl::StrAppendFormat(&row, " %5d", count);
  }
  absl::StrAppendFormat(&row, " %6d %6d %6d  %s\n", report.reminders(),
                        report.missed_expectations_size(), report.commitments_size(),
                        call.call.call_id);
  for (const v1::CategoryCount& count : report.category_counts()) {
    auto& totals = categories_[count.category()];
    totals.first += count.agent();
    totals.second += count.customer();
  }
  return row;
}

std::string ReplaySummary::Aggregate() const {
  const int scored = calls_ - failed_;
  std::string out =
      absl::StrFormat("\n%d calls (%d failed), %d segments", calls_, failed_, segments_);
  if (scored > 0) {
    absl::StrAppendFormat(&out, ", mean score %.1f",
                          static_cast<double>(score_sum_) / static_cast<double>(scored));
  }
  absl::StrAppend(&out, "\nnudges:");
  for (const KindColumn& column : kKindColumns) {
    const std::string kind = KindName(column.kind);
    const auto it = nudges_by_kind_.find(kind);
    absl::StrAppend(&out, " ", kind, " ", it == nudges_by_kind_.end() ? 0 : it->second);
  }
  absl::StrAppendFormat(&out, "\nreminders %d, missed expectations %d, commitments %d\n",
                        reminders_, missed_, commitments_);
  if (!categories_.empty()) {
    absl::StrAppendFormat(&out, "%-28s %7s %9s\n", "CATEGORY", "AGENT", "CUSTOMER");
    for (const auto& [category, totals] : categories_) {
      absl::StrAppendFormat(&out, "%-28s %7d %9d\n", category, totals.first, totals.second);
    }
  }
  return out;
}

}  // namespace coach::cli
