// Engine benchmarks on real Harper Valley segments with the bundled packs.
//
//   build/tests/bench/engine_bench [--benchmark_filter=...]
//
// Per-segment cost includes everything a live call pays: normalization, the
// per-speaker RE2::Set pass, per-rule RE2 for candidates, evidence, limits,
// expectations, and (amortized) session creation and the report.

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "benchmark/benchmark.h"
#include "engine/call_session.h"
#include "phrase_lists/loader.h"
#include "transcripts/harper_valley_reader.h"
#include "streamed_segments.h"

namespace coach {
namespace {

const std::string kSourceDir = COACHD_SOURCE_DIR;

std::shared_ptr<const engine::RuleSet> DefaultRules() {
  static auto* rules = [] {
    auto loaded = phrase_lists::LoadRuleSet({kSourceDir + "/phrase_lists"});
    if (!loaded.ok()) {
      fprintf(stderr, "cannot load packs: %s\n", std::string(loaded.status().message()).c_str());
      std::abort();
    }
    return new std::shared_ptr<const engine::RuleSet>(*loaded);
  }();
  return *rules;
}

const std::vector<transcripts::RecordedCall>& Calls() {
  static auto* calls = [] {
    auto* out = new std::vector<transcripts::RecordedCall>();
    std::vector<std::string> files;
    for (const auto& entry :
         std::filesystem::directory_iterator(kSourceDir + "/tests/data/harper_valley/transcript")) {
      files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    for (const std::string& file : files) {
      auto call = transcripts::ReadHarperValleyFile(file);
      if (!call.ok()) std::abort();
      out->push_back(*std::move(call));
    }
    return out;
  }();
  return *calls;
}

using bench::AsStreamed;

void PlayCalls(benchmark::State& state, bool streamed) {
  auto rules = DefaultRules();
  std::vector<std::vector<engine::Segment>> calls;
  int64_t finals = 0;
  int64_t messages = 0;
  int64_t bytes = 0;
  for (const auto& call : Calls()) {
    calls.push_back(streamed ? AsStreamed(call.segments) : call.segments);
    finals += static_cast<int64_t>(call.segments.size());
    messages += static_cast<int64_t>(calls.back().size());
    for (const auto& s : calls.back()) bytes += static_cast<int64_t>(s.text.size());
  }
  std::vector<engine::Event> events;
  int64_t event_count = 0;
  for (auto _ : state) {
    for (const auto& call : calls) {
      engine::CallSession session(rules);
      events.clear();
      for (const auto& segment : call) {
        if (!session.ProcessSegment(segment, &events).ok()) std::abort();
      }
      auto report = session.Finish(&events);
      benchmark::DoNotOptimize(report);
      event_count += static_cast<int64_t>(events.size());
    }
  }
  const double iterations = static_cast<double>(state.iterations());
  state.counters["ns_per_final_segment"] = benchmark::Counter(
      static_cast<double>(finals) * iterations, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["ns_per_message"] = benchmark::Counter(
      static_cast<double>(messages) * iterations, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["events_per_call"] =
      static_cast<double>(event_count) / (iterations * static_cast<double>(calls.size()));
  state.SetBytesProcessed(static_cast<int64_t>(bytes * iterations));
  state.SetItemsProcessed(static_cast<int64_t>(finals * iterations));
}

void BM_EngineFinalSegments(benchmark::State& state) { PlayCalls(state, /*streamed=*/false); }
BENCHMARK(BM_EngineFinalSegments)->Unit(benchmark::kMillisecond);

void BM_EngineInterimsThenFinals(benchmark::State& state) { PlayCalls(state, /*streamed=*/true); }
BENCHMARK(BM_EngineInterimsThenFinals)->Unit(benchmark::kMillisecond);

// Distribution of single ProcessSegment calls (final segments), reported as
// p50/p99 counters in nanoseconds.
void BM_EngineSegmentLatency(benchmark::State& state) {
  auto rules = DefaultRules();
  std::vector<double> samples;
  std::vector<engine::Event> events;
  for (auto _ : state) {
    for (const auto& call : Calls()) {
      engine::CallSession session(rules);
      for (const auto& segment : call.segments) {
        events.clear();
        const auto start = std::chrono::steady_clock::now();
        const absl::Status status = session.ProcessSegment(segment, &events);
        const auto stop = std::chrono::steady_clock::now();
        benchmark::DoNotOptimize(status);
        samples.push_back(std::chrono::duration<double, std::nano>(stop - start).count());
      }
    }
  }
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) { return samples[static_cast<size_t>(q * (samples.size() - 1))]; };
  state.counters["p50_ns"] = at(0.50);
  state.counters["p99_ns"] = at(0.99);
  state.counters["max_ns"] = samples.back();
  state.counters["samples"] = static_cast<double>(samples.size());
}
BENCHMARK(BM_EngineSegmentLatency)->Unit(benchmark::kMillisecond);

void BM_CompileDefaultPacks(benchmark::State& state) {
  auto specs = phrase_lists::LoadSpecs({kSourceDir + "/phrase_lists"}, nullptr);
  if (!specs.ok()) std::abort();
  for (auto _ : state) {
    auto rules = engine::RuleSet::Compile(*specs);
    if (!rules.ok()) std::abort();
    benchmark::DoNotOptimize(rules);
  }
  state.counters["rules"] = static_cast<double>(specs->rules.size());
}
BENCHMARK(BM_CompileDefaultPacks)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace coach

BENCHMARK_MAIN();
