#include "server/call_registry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace coach::server {

namespace {

constexpr char kDrainingMessage[] =
    "coachd is shutting down (draining); retry on another replica";

template <typename T>
void EraseSink(std::vector<std::shared_ptr<EventSink>>* sinks, const T* sink) {
  sinks->erase(std::remove_if(sinks->begin(), sinks->end(),
                              [sink](const auto& s) { return s.get() == sink; }),
               sinks->end());
}

}  // namespace

bool AlertFilter::Matches(const CallIdentity& call) const {
  if (!tenant.empty() && tenant != call.tenant) return false;
  return agent_ids.empty() || agent_ids.contains(call.agent_id);
}

bool CallRecord::ended() const {
  absl::MutexLock lock(&mu_);
  return ended_;
}

CallRegistry::CallRegistry(RegistryOptions options, std::function<absl::Time()> clock)
    : options_(std::move(options)), clock_(clock ? std::move(clock) : absl::Now) {}

absl::StatusOr<std::shared_ptr<CallRecord>> CallRegistry::StartCall(
    CallIdentity identity, std::weak_ptr<LiveCall> live) {
  const absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  if (draining_) return absl::UnavailableError(kDrainingMessage);
  auto existing = calls_.find(Key(identity.tenant, identity.call_id));
  if (existing != calls_.end()) {
    const CallRecord& old = *existing->second;
    absl::MutexLock call_lock(&old.mu_);
    const std::string tenant =
        identity.tenant.empty() ? std::string() : absl::StrCat(" of tenant '", identity.tenant, "'");
    if (!old.ended_) {
      return absl::AlreadyExistsError(absl::StrCat("start.call_id '", identity.call_id, "'",
                                                   tenant, " is already streaming"));
    }
    const absl::Time forgotten = old.ended_at_ + options_.resume_retention;
    if (now < forgotten) {
      return absl::AlreadyExistsError(absl::StrCat(
          "start.call_id '", identity.call_id, "'", tenant,
          " ended recently and its events are retained for WatchAgent resume until ",
          absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", forgotten, absl::UTCTimeZone()),
          " (--resume_retention); use a new call_id"));
    }
  }
  if (live_calls_ >= options_.max_calls) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "start: ", live_calls_, " calls are live, the limit is ", options_.max_calls,
        " (--max_calls)"));
  }
  if (existing != calls_.end()) ForgetLocked(existing->second);
  auto call = std::make_shared<CallRecord>(identity, static_cast<size_t>(options_.resume_buffer),
                                           std::move(live));
  AgentEntry& agent = agents_[Key(identity.tenant, identity.agent_id)];
  {
    absl::MutexLock call_lock(&call->mu_);
    call->subscribers_ = agent.subscribers;
  }
  agent.calls.push_back(call);
  calls_[Key(identity.tenant, identity.call_id)] = call;
  ++live_calls_;
  return call;
}

void CallRegistry::Publish(CallRecord& call, const std::vector<PublishedEvent>& events,
                           std::vector<std::shared_ptr<EventSink>>* to_kick) {
  if (events.empty()) return;
  bool any_alert = false;
  {
    absl::MutexLock lock(&call.mu_);
    for (const PublishedEvent& published : events) {
      call.buffer_.push_back(published.event);
      while (call.buffer_.size() > call.buffer_capacity_) call.buffer_.pop_front();
      any_alert |= published.alert;
    }
    auto& subscribers = call.subscribers_;
    subscribers.erase(std::remove_if(subscribers.begin(), subscribers.end(),
                                     [](const auto& sink) { return sink->closed(); }),
                      subscribers.end());
    for (const auto& sink : subscribers) {
      bool kick = false;
      for (const PublishedEvent& published : events) kick |= sink->Enqueue(published.event);
      if (kick) to_kick->push_back(sink);
    }
    if (!any_alert) return;
    // Under the call's lock, so a call's alerts reach each supervisor in order.
    absl::ReaderMutexLock alerts_lock(&alerts_mu_);
    for (const AlertSubscription& subscription : alerts_) {
      if (!subscription.filter.Matches(call.identity_) || subscription.sink->closed()) continue;
      bool kick = false;
      for (const PublishedEvent& published : events) {
        if (published.alert) kick |= subscription.sink->Enqueue(published.event);
      }
      if (kick) to_kick->push_back(subscription.sink);
    }
  }
}

void CallRegistry::EndCall(CallRecord& call) {
  absl::MutexLock lock(&mu_);
  {
    absl::MutexLock call_lock(&call.mu_);
    if (call.ended_) return;
    call.ended_ = true;
    call.ended_at_ = clock_();
    call.subscribers_.clear();
  }
  --live_calls_;
  if (options_.resume_retention <= absl::ZeroDuration()) {
    auto it = calls_.find(Key(call.identity_.tenant, call.identity_.call_id));
    if (it != calls_.end() && it->second.get() == &call) ForgetLocked(it->second);
  }
}

void CallRegistry::ForgetLocked(const std::shared_ptr<CallRecord>& call) {
  std::shared_ptr<CallRecord> keep = call;  // `call` may point into calls_
  auto agent = agents_.find(Key(keep->identity_.tenant, keep->identity_.agent_id));
  if (agent != agents_.end()) {
    auto& calls = agent->second.calls;
    calls.erase(std::remove(calls.begin(), calls.end(), keep), calls.end());
    if (calls.empty() && agent->second.subscribers.empty()) agents_.erase(agent);
  }
  auto it = calls_.find(Key(keep->identity_.tenant, keep->identity_.call_id));
  if (it != calls_.end() && it->second == keep) calls_.erase(it);
}

absl::Status CallRegistry::SubscribeAgent(
    const std::string& tenant, const std::string& agent_id,
    const absl::flat_hash_map<std::string, int64_t>& resume, std::shared_ptr<EventSink> sink,
    std::vector<std::shared_ptr<EventSink>>* to_kick) {
  const Key key(tenant, agent_id);
  std::vector<std::shared_ptr<CallRecord>> calls;
  {
    absl::MutexLock lock(&mu_);
    if (draining_) return absl::UnavailableError(kDrainingMessage);
    AgentEntry& agent = agents_[key];
    auto& subscribers = agent.subscribers;
    subscribers.erase(std::remove_if(subscribers.begin(), subscribers.end(),
                                     [](const auto& s) { return s->closed(); }),
                      subscribers.end());
    if (static_cast<int>(subscribers.size()) >= options_.max_subscribers_per_agent) {
      const size_t n = subscribers.size();
      if (n == 0 && agent.calls.empty()) agents_.erase(key);
      return absl::ResourceExhaustedError(absl::StrCat(
          "agent_id '", agent_id, "'",
          tenant.empty() ? std::string() : absl::StrCat(" of tenant '", tenant, "'"),
          " already has ", n,
          " WatchAgent subscribers, the limit is ", options_.max_subscribers_per_agent,
          " (--max_subscribers_per_agent)"));
    }
    subscribers.push_back(sink);
    calls = agent.calls;
  }
  bool kick = false;
  for (const auto& call : calls) {
    absl::MutexLock lock(&call->mu_);
    auto point = resume.find(call->identity_.call_id);
    if (point == resume.end() && call->ended_) continue;
    const int64_t after = point == resume.end() ? 0 : point->second;
    for (const EventPtr& event : call->buffer_) {
      if (event->seq() > after) kick |= sink->Replay(event);
    }
    if (!call->ended_) call->subscribers_.push_back(sink);
  }
  if (kick) to_kick->push_back(std::move(sink));
  return absl::OkStatus();
}

void CallRegistry::UnsubscribeAgent(const std::string& tenant, const std::string& agent_id,
                                    const EventSink* sink) {
  absl::MutexLock lock(&mu_);
  auto agent = agents_.find(Key(tenant, agent_id));
  if (agent == agents_.end()) return;
  EraseSink(&agent->second.subscribers, sink);
  for (const auto& call : agent->second.calls) {
    absl::MutexLock call_lock(&call->mu_);
    EraseSink(&call->subscribers_, sink);
  }
  if (agent->second.subscribers.empty() && agent->second.calls.empty()) agents_.erase(agent);
}

absl::Status CallRegistry::SubscribeAlerts(AlertFilter filter, std::shared_ptr<EventSink> sink) {
  if (draining()) return absl::UnavailableError(kDrainingMessage);
  absl::MutexLock lock(&alerts_mu_);
  alerts_.push_back(AlertSubscription{std::move(filter), std::move(sink)});
  return absl::OkStatus();
}

void CallRegistry::UnsubscribeAlerts(const EventSink* sink) {
  absl::MutexLock lock(&alerts_mu_);
  alerts_.erase(std::remove_if(alerts_.begin(), alerts_.end(),
                               [sink](const auto& s) { return s.sink.get() == sink; }),
                alerts_.end());
}

void CallRegistry::TrackOpening(const LiveCall* key, std::weak_ptr<LiveCall> call) {
  absl::MutexLock lock(&mu_);
  opening_[key] = std::move(call);
}

void CallRegistry::ForgetOpening(const LiveCall* key) {
  absl::MutexLock lock(&mu_);
  opening_.erase(key);
}

void CallRegistry::Sweep() {
  const absl::Time now = clock_();
  std::vector<std::shared_ptr<LiveCall>> live;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, weak] : opening_) {
      if (auto l = weak.lock()) live.push_back(std::move(l));
    }
    std::vector<std::shared_ptr<CallRecord>> expired;
    for (const auto& [id, call] : calls_) {
      absl::MutexLock call_lock(&call->mu_);
      if (!call->ended_) {
        if (auto l = call->live_.lock()) live.push_back(std::move(l));
      } else if (now - call->ended_at_ >= options_.resume_retention) {
        expired.push_back(call);
      }
    }
    for (const auto& call : expired) ForgetLocked(call);
  }
  for (const auto& call : live) call->CheckDeadlines(now);
}

void CallRegistry::StartDraining() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
}

bool CallRegistry::draining() const {
  absl::MutexLock lock(&mu_);
  return draining_;
}

bool CallRegistry::WaitForNoLiveCalls(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto none_live = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return live_calls_ == 0; };
  return mu_.AwaitWithTimeout(absl::Condition(&none_live), timeout);
}

std::vector<std::shared_ptr<LiveCall>> CallRegistry::LiveCalls() const {
  std::vector<std::shared_ptr<LiveCall>> live;
  absl::MutexLock lock(&mu_);
  for (const auto& [key, weak] : opening_) {
    if (auto l = weak.lock()) live.push_back(std::move(l));
  }
  for (const auto& [id, call] : calls_) {
    absl::MutexLock call_lock(&call->mu_);
    if (call->ended_) continue;
    if (auto l = call->live_.lock()) live.push_back(std::move(l));
  }
  return live;
}

std::vector<std::shared_ptr<EventSink>> CallRegistry::Subscribers() const {
  std::vector<std::shared_ptr<EventSink>> sinks;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, agent] : agents_) {
      sinks.insert(sinks.end(), agent.subscribers.begin(), agent.subscribers.end());
    }
  }
  absl::MutexLock lock(&alerts_mu_);
  for (const auto& subscription : alerts_) sinks.push_back(subscription.sink);
  return sinks;
}

int CallRegistry::live_calls() const {
  absl::MutexLock lock(&mu_);
  return live_calls_;
}

int CallRegistry::opening_calls() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(opening_.size());
}

int CallRegistry::retained_calls() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(calls_.size());
}

std::vector<uint64_t> CallRegistry::AgentSubscriberDrops(const std::string& tenant,
                                                        const std::string& agent_id) const {
  std::vector<uint64_t> drops;
  absl::MutexLock lock(&mu_);
  auto agent = agents_.find(Key(tenant, agent_id));
  if (agent == agents_.end()) return drops;
  for (const auto& sink : agent->second.subscribers) drops.push_back(sink->dropped());
  return drops;
}

}  // namespace coach::server
