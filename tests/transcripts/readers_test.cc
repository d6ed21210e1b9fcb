#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transcripts/harper_valley_reader.h"
#include "transcripts/jsonl_reader.h"

namespace coach::transcripts {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

TEST(Jsonl, GroupsSegmentsByCallAndAppliesDefaults) {
  auto calls = ParseJsonl("calls.jsonl",
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
  auto bad_speaker = ParseJsonl("f.jsonl", "{\"call_id\":\"c\",\"speaker\":\"agent\"}\n"
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

const std::string kHarperValleyCall = std::string(COACHD_SOURCE_DIR) +
                                      "/tests/data/harper_valley/transcript/0002f70f7386445b.json";

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
  EXPECT_THAT(ParseHarperValley("x.json", "{\"not\":\"an array\"}").status().message(),
              HasSubstr("x.json: not a Harper Valley transcript"));
  EXPECT_THAT(ParseHarperValley("x.json", "[{\"index\":3,\"speaker_role\":\"bot\"}]").status().message(),
              HasSubstr("x.json: segment 3: speaker_role must be agent or caller"));
}

}  // namespace
}  // namespace coach::transcripts
