#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transcripts/aws_transcribe_reader.h"
#include "transcripts/contact_lens_reader.h"
#include "transcripts/harper_valley_reader.h"
#include "transcripts/jsonl_reader.h"
#include "transcripts/reader.h"
#include "transcripts/srt_reader.h"
#include "transcripts/webvtt_reader.h"

namespace coach::transcripts {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

TEST(Jsonl, GroupsSegmentsByCallAndAppliesDefaults) {
  auto calls = ParseJsonl(
      "calls.jsonl",
      R"({"call_id":"c1","agent_id":"a1","speaker":"agent","text":"Hello","start_ms":100,"end_ms":900}

{"call_id":"c2","speaker":"customer","text":"Hi","is_final":false,"stability":0.5}
{"call_id":"c1","segment_id":"x","speaker":"customer","text":"Hey","words":[{"start_ms":5,"end_ms":9}],"unknown_field":1}
)");
  ASSERT_TRUE(calls.ok()) << calls.status();
  ASSERT_THAT(*calls, SizeIs(2));
  const RecordedCall& c1 = (*calls)[0];
  EXPECT_EQ(c1.call_id, "c1");
  EXPECT_EQ(c1.agent_id, "a1");
  ASSERT_THAT(c1.segments, SizeIs(2));
  EXPECT_EQ(c1.segments[0].segment_id, "1");
  EXPECT_EQ(c1.segments[0].speaker, engine::Speaker::kAgent);
  EXPECT_TRUE(c1.segments[0].is_final);
  EXPECT_EQ(c1.segments[0].start_ms, 100);
  EXPECT_EQ(c1.segments[0].end_ms, 900);
  EXPECT_EQ(c1.segments[1].segment_id, "x");
  ASSERT_THAT(c1.segments[1].words, SizeIs(1));
  EXPECT_EQ(c1.segments[1].words[0].end_ms, 9);
  const RecordedCall& c2 = (*calls)[1];
  EXPECT_FALSE(c2.segments[0].is_final);
  EXPECT_FLOAT_EQ(*c2.segments[0].stability, 0.5f);
}

TEST(Jsonl, ErrorsNameFileLineAndField) {
  auto bad_speaker = ParseJsonl("f.jsonl",
                                "{\"call_id\":\"c\",\"speaker\":\"agent\"}\n"
                                "{\"call_id\":\"c\",\"speaker\":\"robot\"}\n");
  EXPECT_EQ(bad_speaker.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_speaker.status().message(), HasSubstr("f.jsonl:2: speaker must be"));
  auto no_call = ParseJsonl("f.jsonl", "{\"speaker\":\"agent\"}\n");
  EXPECT_THAT(no_call.status().message(), HasSubstr("f.jsonl:1: call_id is missing"));
  auto not_json = ParseJsonl("f.jsonl", "{oops\n");
  EXPECT_THAT(not_json.status().message(), HasSubstr("f.jsonl:1: not a JSON transcript line"));
}

TEST(Jsonl, MissingFileIsNotFound) {
  EXPECT_EQ(ReadJsonlFile("/nonexistent.jsonl").status().code(), absl::StatusCode::kNotFound);
}

const std::string kHarperValleyCall =
    std::string(COACHD_SOURCE_DIR) + "/tests/data/harper_valley/transcript/0002f70f7386445b.json";

TEST(HarperValley, ReadsSegmentsWithRolesTimesAndWordTimings) {
  auto call = ReadHarperValleyFile(kHarperValleyCall);
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_EQ(call->call_id, "0002f70f7386445b");
  ASSERT_THAT(call->segments, SizeIs(18));
  const engine::Segment& first = call->segments[0];
  EXPECT_EQ(first.segment_id, "1");
  EXPECT_EQ(first.speaker, engine::Speaker::kAgent);
  EXPECT_EQ(first.text, "hello mr harper valley national bank");
  EXPECT_EQ(first.start_ms, 1669);
  EXPECT_EQ(first.end_ms, 1669 + 2670);
  ASSERT_THAT(first.words, SizeIs(6));
  EXPECT_EQ(first.words[1].start_ms, 1669 + 690);
  EXPECT_EQ(first.words[1].end_ms, 1669 + 690 + 270);
}

TEST(HarperValley, CanReadTheHumanCorrection) {
  auto call = ReadHarperValleyFile(kHarperValleyCall, HarperValleyText::kHuman);
  ASSERT_TRUE(call.ok());
  EXPECT_EQ(call->segments[0].text, "hello this is harper valley national bank");
}

TEST(HarperValley, RejectsMalformedFiles) {
  EXPECT_EQ(
      ParseHarperValley("x.json", "{\"not\":\"an array\"}").status().message(),
      "x.json: $: not a Harper Valley transcript: expected a JSON array of segments, found object");
  EXPECT_EQ(
      ParseHarperValley("x.json", "[{\"index\":3,\"speaker_role\":\"bot\"}]").status().message(),
      "x.json: $[0].speaker_role: segment 3: speaker_role must be agent or caller, not \"bot\"");
  EXPECT_EQ(ParseHarperValley("x.json", "[{\"speaker_role\":\"agent\",\"start_ms\":\"soon\"}]")
                .status()
                .message(),
            "x.json: $[0].start_ms: expected an integer, found \"soon\"");
  EXPECT_EQ(ParseHarperValley("x.json", "[{\"speaker_role\":\"agent\",\"word_offsets_ms\":[0,-5]}]")
                .status()
                .message(),
            "x.json: $[0].word_offsets_ms[1]: expected an integer in [0, 1099511627776], found -5");
  EXPECT_THAT(ParseHarperValley("x.json", "[\n  {\"index\": 1,\n  \"speaker_role\": \"agent\"")
                  .status()
                  .message(),
              HasSubstr("x.json:3:"));
}

TEST(HarperValley, KeepsProtobufJsonLeniency) {
  // Integers as strings, missing fields and nulls are accepted as before.
  auto call = ParseHarperValley(
      "dir/c9.json",
      R"([{"index":"4","speaker_role":"caller","transcript":null,"start_ms":"100","duration_ms":50.0}])");
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_EQ(call->call_id, "c9");
  ASSERT_THAT(call->segments, SizeIs(1));
  EXPECT_EQ(call->segments[0].segment_id, "4");
  EXPECT_EQ(call->segments[0].speaker, engine::Speaker::kCustomer);
  EXPECT_EQ(call->segments[0].text, "");
  EXPECT_EQ(call->segments[0].start_ms, 100);
  EXPECT_EQ(call->segments[0].end_ms, 150);
}

// ---------------------------------------------------------------------------
// reader.h: formats, detection and the per-format readers on fixtures in
// tests/data/formats/.

const std::string kFormats = std::string(COACHD_SOURCE_DIR) + "/tests/data/formats/";
const std::string kJsonlCall =
    std::string(COACHD_SOURCE_DIR) + "/tests/data/calls/escalated_call.jsonl";

std::string FileContent(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// "id|role|start-end|text" per segment, for whole-call comparisons.
std::vector<std::string> Describe(const RecordedCall& call) {
  std::vector<std::string> out;
  for (const engine::Segment& s : call.segments) {
    out.push_back(absl::StrCat(s.segment_id, "|", engine::SpeakerName(s.speaker), "|", s.start_ms,
                               "-", s.end_ms, "|", s.text));
  }
  return out;
}

ReadOptions Forced(Format format) {
  ReadOptions options;
  options.format = format;
  return options;
}

RecordedCall ReadOne(const std::string& name, const ReadOptions& options = {}) {
  auto calls = ReadTranscriptFile(kFormats + name, options);
  EXPECT_TRUE(calls.ok()) << calls.status();
  if (!calls.ok() || calls->size() != 1) {
    ADD_FAILURE() << name << ": expected exactly one call";
    return {};
  }
  return std::move((*calls)[0]);
}

// The error reading a fixture, with the fixture directory removed.
std::string ReadError(const std::string& name, const ReadOptions& options = {}) {
  auto calls = ReadTranscriptFile(kFormats + name, options);
  EXPECT_FALSE(calls.ok()) << name << " was read without error";
  if (calls.ok()) return "";
  EXPECT_EQ(calls.status().code(), absl::StatusCode::kInvalidArgument) << calls.status();
  std::string message(calls.status().message());
  EXPECT_THAT(message, StartsWith(kFormats));
  return message.substr(std::min(message.size(), kFormats.size()));
}

TEST(ReaderApi, ParsesFormatNamesAndRejectsOthersNamingTheFlag) {
  for (Format format : {Format::kAuto, Format::kJsonl, Format::kWebVtt, Format::kSrt,
                        Format::kAwsTranscribe, Format::kContactLens, Format::kHarperValley}) {
    auto parsed = ParseFormat(FormatName(format));
    ASSERT_TRUE(parsed.ok()) << FormatName(format);
    EXPECT_EQ(*parsed, format);
  }
  EXPECT_EQ(FormatName(Format::kWebVtt), "vtt");
  EXPECT_EQ(FormatName(Format::kAwsTranscribe), "aws");
  EXPECT_EQ(*ParseFormat("WebVTT"), Format::kWebVtt);
  const auto bad = ParseFormat("docx");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "--format: unknown format \"docx\"; expected one of auto, jsonl, vtt, srt, aws, "
            "contact_lens, harper_valley");
  EXPECT_EQ(*ParseTextSource("asr"), TextSource::kAsr);
  EXPECT_EQ(*ParseTextSource("Human"), TextSource::kHuman);
  EXPECT_EQ(ParseTextSource("both").status().message(),
            "--text: unknown text source \"both\"; expected asr or human");
}

TEST(ReaderApi, ParsesSpeakerMaps) {
  ReadOptions options;
  ASSERT_TRUE(
      ParseSpeakerMap(" Dana Whitfield = agent, Sam=Customer,,spk_1=caller ", &options).ok());
  EXPECT_THAT(
      options.speakers,
      ElementsAre(
          std::pair<const std::string, engine::Speaker>("Dana Whitfield", engine::Speaker::kAgent),
          std::pair<const std::string, engine::Speaker>("Sam", engine::Speaker::kCustomer),
          std::pair<const std::string, engine::Speaker>("spk_1", engine::Speaker::kCustomer)));
  // A later flag replaces an entry for the same name in any case.
  ASSERT_TRUE(ParseSpeakerMap("SAM=agent", &options).ok());
  EXPECT_EQ(options.speakers.count("Sam"), 0u);
  EXPECT_EQ(options.speakers.at("SAM"), engine::Speaker::kAgent);

  EXPECT_EQ(ParseSpeakerMap("Alice", &options).message(),
            "--speakers: \"Alice\" is not NAME=agent or NAME=customer");
  EXPECT_EQ(ParseSpeakerMap("Alice=boss", &options).message(),
            "--speakers: \"Alice=boss\": role must be agent or customer, not \"boss\"");
  EXPECT_EQ(ParseSpeakerMap("=agent", &options).message(),
            "--speakers: \"=agent\" has no name before '='");
  EXPECT_EQ(ParseSpeakerMap(" , ", &options).message(),
            "--speakers: expected NAME=agent|customer[,NAME=agent|customer...]");
}

TEST(ReaderApi, MissingFileIsNotFound) {
  EXPECT_EQ(ReadTranscriptFile(kFormats + "nonexistent.vtt").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(WebVtt, ReadsVoicesTimesIdsAndJoinsLines) {
  const RecordedCall call = ReadOne("card_dispute.vtt");
  EXPECT_EQ(call.call_id, "card_dispute");
  EXPECT_EQ(call.agent_id, "");
  EXPECT_THAT(
      Describe(call),
      ElementsAre("greeting|agent|640-4200|Thank you for calling Harper Valley Bank, this is Dana.",
                  "2|customer|4900-9350|I want to dispute a charge & I'm really upset.",
                  "3.1|agent|72000-75500|I understand how frustrating that is.",
                  "3.2|customer|72000-75500|Thanks.",
                  "4|customer|76000-78250|I've been a customer for ten years."));
  EXPECT_TRUE(call.segments[0].is_final);
}

TEST(WebVtt, FlagMappingOverridesTheNoteAndOptionsSetIds) {
  ReadOptions options;
  ASSERT_TRUE(ParseSpeakerMap("dana whitfield=customer", &options).ok());
  options.call_id = "call-77";
  options.agent_id = "agent-9";
  const RecordedCall call = ReadOne("card_dispute.vtt", options);
  EXPECT_EQ(call.call_id, "call-77");
  EXPECT_EQ(call.agent_id, "agent-9");
  ASSERT_THAT(call.segments, SizeIs(4));  // 3.1 and 3.2 are now one customer turn
  EXPECT_EQ(call.segments[0].speaker, engine::Speaker::kCustomer);
  EXPECT_EQ(call.segments[2].segment_id, "3");
  EXPECT_EQ(call.segments[2].text, "I understand how frustrating that is. Thanks.");
}

TEST(WebVtt, ErrorsNameFileAndLine) {
  EXPECT_EQ(ReadError("bad_timestamp.vtt"),
            "bad_timestamp.vtt:6: bad end time \"00:00:6x.000\"; expected \"00:00:01.000 --> "
            "00:00:02.500\"");
  EXPECT_EQ(
      ReadError("unknown_speaker.vtt"),
      "unknown_speaker.vtt:9: speaker \"Carol\" is not mapped to agent or customer; map it with "
      "--speakers \"Carol=agent\" (or =customer)");
  EXPECT_EQ(ReadError("not_webvtt.vtt"),
            "not_webvtt.vtt:1: not a WebVTT file: the first line must be \"WEBVTT\"");
  ReadOptions carol;
  ASSERT_TRUE(ParseSpeakerMap("Carol=customer", &carol).ok());
  EXPECT_THAT(Describe(ReadOne("unknown_speaker.vtt", carol)),
              ElementsAre("1|agent|1000-2000|Hello.", "2|customer|3000-4000|Who is this?"));

  const ReadOptions vtt = Forced(Format::kWebVtt);
  EXPECT_EQ(ParseTranscript("t.vtt", "WEBVTT\n\n00:01.000 --> 00:02.000\nHello.\n", vtt)
                .status()
                .message(),
            "t.vtt:4: no speaker for this text; tag the cue with a voice, e.g. \"<v Alice>\"");
  EXPECT_EQ(ParseTranscript("t.vtt", "WEBVTT\n\nNOTE speakers: Al=boss\n", vtt).status().message(),
            "t.vtt:3: NOTE speakers: \"Al=boss\": role must be agent or customer, not \"boss\"");
  EXPECT_EQ(ParseTranscript("t.vtt", "WEBVTT\n\nintro\n<v Agent>Hi\n", vtt).status().message(),
            "t.vtt:4: not a cue timing line; expected \"00:00:01.000 --> 00:00:02.500\"");
  EXPECT_EQ(ParseTranscript("t.vtt", "WEBVTT\n\n00:02.000 --> 00:01.000\n<v Agent>Hi\n", vtt)
                .status()
                .message(),
            "t.vtt:3: the cue ends (00:01.000) before it starts (00:02.000)");
}

TEST(Srt, ReadsSpeakerPrefixesTimesAndNumbers) {
  const RecordedCall call = ReadOne("card_dispute.srt");
  EXPECT_EQ(call.call_id, "card_dispute");
  EXPECT_THAT(
      Describe(call),
      ElementsAre("1|agent|640-4200|Thank you for calling Harper Valley Bank, this is Dana.",
                  "2|customer|4900-9350|I want to dispute a charge.",
                  "3.1|agent|72000-75500|I understand how frustrating that is.",
                  "3.2|customer|72000-75500|Thanks.",
                  // "So I checked:" is not a name: the customer goes on.
                  "4|customer|76000-78250|So I checked: the charge is pending."));
}

TEST(Srt, NamedSpeakersNeedAMappingAndCrLfIsFine) {
  EXPECT_EQ(
      ReadError("named_speakers_crlf.srt"),
      "named_speakers_crlf.srt:3: speaker \"Alice\" is not mapped to agent or customer; map it "
      "with --speakers \"Alice=agent\" (or =customer)");
  ReadOptions options;
  ASSERT_TRUE(ParseSpeakerMap("alice=agent,BOB=customer", &options).ok());
  EXPECT_THAT(Describe(ReadOne("named_speakers_crlf.srt", options)),
              ElementsAre("1|agent|1000-2000|Hello there.", "2|customer|2500-3000|Hi."));
}

TEST(Srt, ErrorsNameFileAndLine) {
  EXPECT_EQ(ReadError("bad_timestamp.srt"),
            "bad_timestamp.srt:6: the cue ends (00:00:03,000) before it starts (00:00:05,000)");
  EXPECT_EQ(
      ReadError("unknown_speaker.srt"),
      "unknown_speaker.srt:7: speaker \"Supervisor\" is not mapped to agent or customer; map it "
      "with --speakers \"Supervisor=agent\" (or =customer)");
  EXPECT_EQ(
      ReadError("no_speaker.srt"),
      "no_speaker.srt:3: no speaker for this text; start the cue with the speaker's name, e.g. "
      "\"Agent: \"");
  const ReadOptions srt = Forced(Format::kSrt);
  EXPECT_EQ(ParseTranscript("t.srt", "1\n00:00:01,000 -> 00:00:02,000\nAgent: Hi\n", srt)
                .status()
                .message(),
            "t.srt:2: expected a cue (a number, then \"00:00:01,000 --> 00:00:02,500\"), found "
            "\"00:00:01,000 -> 00:00:02,000\"");
  EXPECT_EQ(ParseTranscript("t.srt", "1\n00:00:01,000 --> 00:61:02,000\nAgent: Hi\n", srt)
                .status()
                .message(),
            "t.srt:2: bad end time \"00:61:02,000\"; expected \"00:00:01,000 --> 00:00:02,500\"");
}

TEST(Srt, RejectsTextThatIsNotUtf8) {
  // "café" in Windows-1252, as older subtitle tools write it.
  EXPECT_EQ(ParseTranscript("t.srt", "1\n00:00:01,000 --> 00:00:02,000\nAgent: caf\xE9\n",
                            Forced(Format::kSrt))
                .status()
                .message(),
            "t.srt:3: not valid UTF-8 (convert the file, e.g. iconv -f cp1252 -t utf-8)");
}

TEST(AwsTranscribe, GroupsWordsIntoTurnsUsingSpeakerLabelSegments) {
  const RecordedCall call = ReadOne("aws_speaker_labels.json");
  EXPECT_EQ(call.call_id, "aws_speaker_labels");
  EXPECT_THAT(Describe(call), ElementsAre("1|agent|640-1900|Thank you for calling.",
                                          "2|customer|2500-4750|Hi, I want to dispute a charge.",
                                          "3|agent|5200-6015|I understand."));
  ASSERT_THAT(call.segments[1].words, SizeIs(7));
  EXPECT_EQ(call.segments[1].words[0].start_ms, 2500);
  EXPECT_EQ(call.segments[1].words[0].end_ms, 2800);
  EXPECT_EQ(call.segments[1].words[6].start_ms, 3900);
}

TEST(AwsTranscribe, ReadsItemSpeakerLabels) {
  EXPECT_THAT(Describe(ReadOne("aws_item_labels.json")),
              ElementsAre("1|agent|100-500|Hello.", "2|customer|1000-1900|I need a refund."));
}

TEST(AwsTranscribe, MergesChannelsByTimeAndMapsThemByFlag) {
  EXPECT_THAT(Describe(ReadOne("aws_channels.json")),
              ElementsAre("1|agent|200-1300|Thanks for calling.",
                          "2|customer|1800-3100|My card was declined.",
                          "3|agent|4000-4900|Sorry to hear that."));
  ReadOptions swapped;
  ASSERT_TRUE(ParseSpeakerMap("ch_0=customer,ch_1=agent", &swapped).ok());
  EXPECT_THAT(Describe(ReadOne("aws_channels.json", swapped)),
              ElementsAre("1|customer|200-1300|Thanks for calling.",
                          "2|agent|1800-3100|My card was declined.",
                          "3|customer|4000-4900|Sorry to hear that."));
}

TEST(AwsTranscribe, ErrorsNameFileAndJsonPath) {
  EXPECT_THAT(ReadError("aws_truncated.json"),
              StartsWith("aws_truncated.json:1:701: invalid JSON: syntax error"));
  EXPECT_EQ(
      ReadError("aws_bad_timestamp.json"),
      "aws_bad_timestamp.json: $.results.items[3].start_time: bad time \"1.1s\": expected seconds "
      "such as \"12.345\"");
  EXPECT_EQ(
      ReadError("aws_unknown_speaker.json"),
      "aws_unknown_speaker.json: $.results.items[5].speaker_label: speaker label \"spk_2\" is not "
      "mapped to agent or customer; map it with --speakers \"spk_2=agent\" (or =customer)");
  const ReadOptions aws = Forced(Format::kAwsTranscribe);
  EXPECT_EQ(
      ParseTranscript("a.json",
                      R"({"results":{"items":[{"type":"pronunciation","start_time":"1",)"
                      R"("end_time":"2","alternatives":[{"content":"hi"}]}]}})",
                      aws)
          .status()
          .message(),
      "a.json: $.results.items[0]: no speaker: the item has no speaker_label or channel_label and "
      "no results.speaker_labels segment covers it (transcribe with speaker diarization or channel "
      "identification)");
  EXPECT_EQ(ParseTranscript("a.json",
                            R"({"results":{"items":[{"start_time":"1","alternatives":[]}]}})", aws)
                .status()
                .message(),
            "a.json: $.results.items[0].alternatives: is empty");
  EXPECT_EQ(ParseTranscript("a.json", R"({"jobName":"x"})", aws).status().message(),
            "a.json: $.results: is missing");
  EXPECT_EQ(ParseTranscript("a.json", R"([1,2])", aws).status().message(),
            "a.json: $: expected an AWS Transcribe output object, found array");
}

TEST(ContactLens, ReadsRolesFromParticipantsAndTheContactId) {
  const RecordedCall call = ReadOne("contact_lens.json");
  EXPECT_EQ(call.call_id, "f4d7c1a2-5b8e-4c2a-9d11-3e0b6a7c9f10");
  EXPECT_THAT(Describe(call), ElementsAre("2f0a6d8e-1c1b-4d5e-a9c3-7f6e5d4c3b2a|agent|640-4200|"
                                          "Thank you for calling, this is Dana.",
                                          "8b3c2d1e-4f5a-4b6c-8d7e-9f0a1b2c3d4e|customer|4900-9350|"
                                          "I want to dispute a charge and I'm really upset.",
                                          "c9d8e7f6-a5b4-4c3d-9e2f-1a0b9c8d7e6f|agent|72000-75500|"
                                          "I understand how frustrating that is."));
  ReadOptions options;
  options.call_id = "override";
  EXPECT_EQ(ReadOne("contact_lens.json", options).call_id, "override");
}

TEST(ContactLens, ErrorsNameFileAndJsonPath) {
  EXPECT_EQ(ReadError("contact_lens_missing_content.json"),
            "contact_lens_missing_content.json: $.Transcript[1].Content: is missing");
  EXPECT_EQ(ReadError("contact_lens_unknown_participant.json"),
            "contact_lens_unknown_participant.json: $.Transcript[2].ParticipantId: participant "
            "\"SUPERVISOR\" has no ParticipantRole and is not listed in $.Participants");
  EXPECT_EQ(
      ReadError("contact_lens_bad_offset.json"),
      "contact_lens_bad_offset.json: $.Transcript[0].BeginOffsetMillis: expected an integer, found "
      "\"soon\"");
  EXPECT_THAT(ReadError("contact_lens_truncated.json"),
              StartsWith("contact_lens_truncated.json:22:7: invalid JSON: syntax error while "
                         "parsing object key - invalid string: missing closing quote"));
  const ReadOptions lens = Forced(Format::kContactLens);
  EXPECT_EQ(ParseTranscript("c.json",
                            R"({"Transcript":[{"ParticipantRole":"SYSTEM","Content":"Hi",)"
                            R"("BeginOffsetMillis":0,"EndOffsetMillis":5}]})",
                            lens)
                .status()
                .message(),
            "c.json: $.Transcript[0]: role \"SYSTEM\" is neither AGENT nor CUSTOMER; map it with "
            "--speakers \"SYSTEM=agent\" (or =customer)");
  ReadOptions system = lens;
  ASSERT_TRUE(ParseSpeakerMap("SYSTEM=agent", &system).ok());
  auto mapped = ParseTranscript("c.json",
                                R"({"Transcript":[{"ParticipantRole":"SYSTEM","Content":"Hi",)"
                                R"("BeginOffsetMillis":0,"EndOffsetMillis":5}]})",
                                system);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_THAT(Describe((*mapped)[0]), ElementsAre("1|agent|0-5|Hi"));
  EXPECT_EQ(ParseTranscript("c.json",
                            R"({"Transcript":[{"ParticipantRole":"AGENT","Content":"Hi",)"
                            R"("BeginOffsetMillis":9,"EndOffsetMillis":5}]})",
                            lens)
                .status()
                .message(),
            "c.json: $.Transcript[0].EndOffsetMillis: is before BeginOffsetMillis");
}

TEST(HarperValley, TextSourceChoosesAsrOrHumanThroughReadTranscriptFile) {
  ReadOptions options;  // default: human
  auto human = ReadTranscriptFile(kHarperValleyCall, options);
  ASSERT_TRUE(human.ok()) << human.status();
  EXPECT_EQ((*human)[0].call_id, "0002f70f7386445b");
  EXPECT_EQ((*human)[0].segments[0].text, "hello this is harper valley national bank");
  options.text = TextSource::kAsr;
  options.agent_id = "hv-agent";
  auto asr = ReadTranscriptFile(kHarperValleyCall, options);
  ASSERT_TRUE(asr.ok());
  EXPECT_EQ((*asr)[0].segments[0].text, "hello mr harper valley national bank");
  EXPECT_EQ((*asr)[0].agent_id, "hv-agent");
}

TEST(Jsonl, ReadTranscriptFileKeepsManyCallsAndFillsAgentId) {
  ReadOptions options;
  options.agent_id = "fallback";
  auto calls = ReadTranscriptFile(kJsonlCall, options);
  ASSERT_TRUE(calls.ok()) << calls.status();
  ASSERT_THAT(*calls, SizeIs(1));
  EXPECT_EQ((*calls)[0].call_id, "demo-escalated-001");
  EXPECT_EQ((*calls)[0].agent_id, "agent-042");  // the file's own wins
}

struct DetectionCase {
  std::string path;
  Format format;
};

std::vector<DetectionCase> GoodFixtures() {
  return {{kJsonlCall, Format::kJsonl},
          {kFormats + "card_dispute.vtt", Format::kWebVtt},
          {kFormats + "card_dispute.srt", Format::kSrt},
          {kFormats + "aws_speaker_labels.json", Format::kAwsTranscribe},
          {kFormats + "aws_item_labels.json", Format::kAwsTranscribe},
          {kFormats + "aws_channels.json", Format::kAwsTranscribe},
          {kFormats + "contact_lens.json", Format::kContactLens},
          {kHarperValleyCall, Format::kHarperValley}};
}

TEST(Detection, ByExtensionAndByContentAlone) {
  for (const DetectionCase& c : GoodFixtures()) {
    SCOPED_TRACE(c.path);
    const std::string content = FileContent(c.path);
    auto by_name = DetectFormat(c.path, content);
    ASSERT_TRUE(by_name.ok()) << by_name.status();
    EXPECT_EQ(FormatName(*by_name), FormatName(c.format));
    // Renamed without an extension: the content alone decides.
    auto by_content = DetectFormat("upload", content);
    ASSERT_TRUE(by_content.ok()) << by_content.status();
    EXPECT_EQ(FormatName(*by_content), FormatName(c.format));
    // Auto-detected reading equals forced reading.
    auto detected = ParseTranscript("upload", content, {});
    ReadOptions forced;
    forced.format = c.format;
    auto read = ParseTranscript("upload", content, forced);
    ASSERT_TRUE(detected.ok()) << detected.status();
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_EQ(detected->size(), read->size());
    EXPECT_EQ(Describe(detected->front()), Describe(read->front()));
  }
}

TEST(Detection, TruncatedJsonIsStillDetectedSoTheReaderCanSayWhere) {
  EXPECT_EQ(*DetectFormat("x.json", FileContent(kFormats + "contact_lens_truncated.json")),
            Format::kContactLens);
  EXPECT_EQ(*DetectFormat("x.json", FileContent(kFormats + "aws_truncated.json")),
            Format::kAwsTranscribe);
}

TEST(Detection, UnknownContentNamesTheFlag) {
  EXPECT_EQ(DetectFormat("notes.txt", "hello world\n").status().message(),
            "notes.txt: cannot tell the transcript format from the name or content; pass --format "
            "(auto, jsonl, vtt, srt, aws, contact_lens, harper_valley)");
  EXPECT_EQ(DetectFormat("x.json", "{\n \"foo\": 1\n}").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadTranscriptFile(kFormats + "../calls").status().message(),
            absl::StrCat("transcript '", kFormats, "../calls' is a directory"));
}

// Every reader, forced or detected, on truncated prefixes, mutated copies and
// random bytes of the fixtures: a result or an error naming the file, never a
// crash, hang or exception (run under ASan/UBSan too).
TEST(Robustness, NoInputCrashesAnyReader) {
  std::vector<std::string> fixtures;
  for (const auto& entry : std::filesystem::directory_iterator(kFormats)) {
    fixtures.push_back(FileContent(entry.path().string()));
  }
  fixtures.push_back(FileContent(kJsonlCall));
  fixtures.push_back(FileContent(kHarperValleyCall));
  std::sort(fixtures.begin(), fixtures.end());  // directory order is not fixed
  std::mt19937 rng(20240302);
  const Format formats[] = {Format::kAuto,        Format::kJsonl,         Format::kWebVtt,
                            Format::kSrt,         Format::kAwsTranscribe, Format::kContactLens,
                            Format::kHarperValley};
  int inputs = 0;
  int accepted = 0;
  auto feed = [&](const std::string& content) {
    ++inputs;
    for (Format format : formats) {
      ReadOptions options;
      options.format = format;
      auto calls = ParseTranscript("fuzz.in", content, options);
      if (calls.ok()) {
        ++accepted;
        for (const RecordedCall& call : *calls) {
          for (const engine::Segment& s : call.segments) {
            ASSERT_FALSE(s.segment_id.empty());
            ASSERT_GE(s.start_ms, 0);
            ASSERT_LE(s.end_ms, engine::kMaxCallTimeMs);
          }
        }
      } else {
        ASSERT_THAT(std::string(calls.status().message()), StartsWith("fuzz.in")) << calls.status();
      }
    }
  };
  for (const std::string& fixture : fixtures) {
    const size_t step = std::max<size_t>(1, fixture.size() / 60);
    for (size_t n = 0; n < fixture.size(); n += step) feed(fixture.substr(0, n));
    for (int round = 0; round < 40; ++round) {
      std::string mutated = fixture;
      const int edits = 1 + static_cast<int>(rng() % 8);
      for (int e = 0; e < edits && !mutated.empty(); ++e) {
        const size_t at = rng() % mutated.size();
        switch (rng() % 4) {
          case 0:
            mutated[at] = static_cast<char>(rng());
            break;
          case 1:
            mutated.insert(at, 1, "{}[]\":,<>-\n\\0"[rng() % 14]);
            break;
          case 2:
            mutated.erase(at, 1 + rng() % 16);
            break;
          default:
            mutated.insert(at, mutated.substr(rng() % mutated.size(), rng() % 64));
            break;
        }
      }
      feed(mutated);
    }
  }
  for (int round = 0; round < 100; ++round) {
    std::string noise(rng() % 512, '\0');
    for (char& c : noise) c = static_cast<char>(rng());
    feed(noise);
  }
  feed(std::string(100000, '['));  // deep nesting
  feed(std::string(100000, '{'));
  feed("WEBVTT\n\n" + std::string(50000, '<'));
  std::cout << inputs << " inputs x " << std::size(formats) << " formats, " << accepted
            << " parses accepted\n";
}

}  // namespace
}  // namespace coach::transcripts
