// File: e2e/call_events.h
//
// CallEvents as an end-to-end test sends them to the real coachd: `start`,
// a final segment two seconds long, `end`. Header-only; needs the generated
// coach.v1 messages.
//
//   std::vector<coach::v1::CallEvent> call = {
//       coach::e2e::Start("c1", "agent-1"),
//       coach::e2e::Segment("s1", coach::v1::SPEAKER_CUSTOMER, "This is ridiculous", 0),
//       coach::e2e::End()};

#ifndef COACHD_TESTS_E2E_CALL_EVENTS_H_
#define COACHD_TESTS_E2E_CALL_EVENTS_H_

#include <cstdint>
#include <string>

#include "coach/v1/coach.pb.h"

namespace coach::e2e {

inline v1::CallEvent Start(const std::string& call_id, const std::string& agent_id) {
  v1::CallEvent event;
  event.mutable_start()->set_call_id(call_id);
  event.mutable_start()->set_agent_id(agent_id);
  return event;
}

inline v1::CallEvent Segment(const std::string& id, v1::Speaker speaker, const std::string& text,
                             int64_t start_ms) {
  v1::CallEvent event;
  v1::TranscriptSegment* segment = event.mutable_segment();
  segment->set_segment_id(id);
  segment->set_speaker(speaker);
  segment->set_text(text);
  segment->set_is_final(true);
  segment->set_start_ms(start_ms);
  segment->set_end_ms(start_ms + 2000);
  return event;
}

inline v1::CallEvent End() {
  v1::CallEvent event;
  event.mutable_end();
  return event;
}

}  // namespace coach::e2e

#endif  // COACHD_TESTS_E2E_CALL_EVENTS_H_
