// File: tests/tsan/absl_sync_tsan.cc
//
// ThreadSanitizer builds only: makes every absl::Mutex a lock that TSan can see.
//
// Debian's libabsl_synchronization, libgpr and libgrpc are not built with
// -fsanitize=thread, so absl::Mutex (ours, and gRPC's: gpr_mu and grpc_core::Mutex
// are absl::Mutex) synchronizes with atomics and futexes TSan never sees. TSan then
// misses the happens-before edge of every unlock -> lock and reports false races on
// anything our instrumented code touches under such a mutex from two threads.
//
// An absl built with TSan annotates its Mutex for TSan itself
// (absl/base/internal/tsan_mutex_interface.h). This file adds the equivalent
// happens-before edges from the outside: it defines the exported absl::Mutex / absl::CondVar /
// absl::Notification entry points in the test executable, so the dynamic linker
// binds every caller to them -- our code, and libgrpc, libgrpc++, libgpr and
// libabsl_synchronization itself, which all call these symbols through their PLT
// (checked with objdump: gpr_mu_lock is a tail call to Mutex::Lock()@plt, libgrpc
// imports Mutex::Lock/Unlock/TryLock and CondVar::Wait*/Signal*). Each definition
// forwards to the real function (dlsym RTLD_NEXT) between the annotations.
//
// Only leaf entry points are wrapped: the *WithTimeout variants are not, because
// the real ones tail-call the *WithDeadline ones through the PLT, which land here
// (wrapping both would annotate twice). Internal helpers (LockSlow, UnlockSlow,
// AwaitCommon, WaitCommon, ...) are not wrapped either: the public entry points
// above them are, and the library calls them only from those.
//
// This object is compiled without -fsanitize=thread: its own loads of the mutex
// word must not be seen as accesses.
#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "real_function.h"

#define COACHD_TSAN_STR2(x) #x
#define COACHD_TSAN_STR(x) COACHD_TSAN_STR2(x)

namespace {

// The mangled name of absl::<suffix> in Debian's inline namespace absl::debian3:
// "_ZN4absl7debian3" + suffix, "_ZNK..." for a const member function.
std::string AbslName(const char* suffix) {
  const std::string ns = COACHD_TSAN_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const bool is_const = suffix[0] == 'K';
  return std::string(is_const ? "_ZNK" : "_ZN") + "4absl" + std::to_string(ns.size()) + ns +
         (is_const ? suffix + 1 : suffix);
}

#define REAL(type, suffix)                                                     \
  ([]() {                                                                      \
    static std::atomic<void*> slot{nullptr};                                   \
    return coach::tsan::RealFunction<type>(slot, [] { return AbslName(suffix); }); \
  }())

// How a lock is modelled. Not with TSan's __tsan_mutex_* annotations: those also
// record an atomic access to the mutex word, which TSan then reports against the
// allocation of every gRPC object that embeds a mutex and is handed to another
// thread through gRPC's lock-free internals. Plain acquire/release on the mutex's
// address carries exactly the happens-before of a reader/writer lock, as TSan's
// own mutex model does: a writer's unlock releases on `mu`, a reader's on
// `mu + 1` (TSan keys sync objects by exact address; both lie inside the mutex
// word); a writer's lock acquires both, a reader's only `mu`.
// (What it gives up: TSan's lock-order-inversion check and the "mutexes held"
// lines in reports for absl::Mutex.)
extern "C" void AnnotateIgnoreReadsBegin(const char* file, int line);
extern "C" void AnnotateIgnoreReadsEnd(const char* file, int line);
extern "C" void AnnotateIgnoreWritesBegin(const char* file, int line);
extern "C" void AnnotateIgnoreWritesEnd(const char* file, int line);

void* WriterSync(const absl::Mutex* mu) { return const_cast<absl::Mutex*>(mu); }
void* ReaderSync(const absl::Mutex* mu) {
  static_assert(sizeof(absl::Mutex) == sizeof(intptr_t), "absl::Mutex layout changed");
  return reinterpret_cast<char*>(const_cast<absl::Mutex*>(mu)) + 1;
}

void AcquireWriter(const absl::Mutex* mu) {
  __tsan_acquire(WriterSync(mu));
  __tsan_acquire(ReaderSync(mu));
}
void AcquireReader(const absl::Mutex* mu) { __tsan_acquire(WriterSync(mu)); }
void ReleaseWriter(const absl::Mutex* mu) { __tsan_release(WriterSync(mu)); }
void ReleaseReader(const absl::Mutex* mu) { __tsan_release(ReaderSync(mu)); }

// absl evaluates a Condition (instrumented code of ours reading guarded state)
// inside Lock/Unlock/Await, on the waiting thread or on the unlocking one, while
// the mutex is held. Those reads are not ordered by the edges above, so they are
// ignored, as absl's own TSan annotations do.
struct IgnoreAccesses {
  IgnoreAccesses() {
    AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
    AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
  }
  ~IgnoreAccesses() {
    AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
    AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
  }
};

// absl::Mutex's word is one intptr_t; kMuWriter (mutex.cc) is set while it is held
// exclusively. Await and CondVar::Wait release and retake the mutex in the mode
// it is held in.
constexpr intptr_t kMuWriter = 0x0008;
bool HeldAsWriter(const absl::Mutex* mu) {
  const intptr_t word =
      reinterpret_cast<const std::atomic<intptr_t>*>(mu)->load(std::memory_order_relaxed);
  return (word & kMuWriter) != 0;
}

// Await / CondVar::Wait: an unlock and a lock around the real call.
template <typename F>
auto UnlockRelock(const absl::Mutex* mu, F&& wait) {
  const bool writer = HeldAsWriter(mu);
  writer ? ReleaseWriter(mu) : ReleaseReader(mu);
  auto result = [&] {
    IgnoreAccesses ignore;
    return wait();
  }();
  writer ? AcquireWriter(mu) : AcquireReader(mu);
  return result;
}

// absl::Notification { mutable Mutex mutex_; std::atomic<bool> notified_yet_; }.
// HasBeenNotified() is inline, so in our code it is an instrumented acquire load of
// notified_yet_, but the release store is in libabsl: Notify() releases on that
// address first. The WaitForNotification* fast paths load it in libabsl: they
// acquire on it when they return true.
void* NotifiedFlag(const absl::Notification* n) {
  static_assert(sizeof(absl::Notification) == 2 * sizeof(intptr_t),
                "absl::Notification layout changed");
  return const_cast<char*>(reinterpret_cast<const char*>(n) + sizeof(absl::Mutex));
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  {
    IgnoreAccesses ignore;
    REAL(void (*)(Mutex*), "5Mutex4LockEv")(this);
  }
  AcquireWriter(this);
}

void Mutex::ReaderLock() {
  {
    IgnoreAccesses ignore;
    REAL(void (*)(Mutex*), "5Mutex10ReaderLockEv")(this);
  }
  AcquireReader(this);
}

bool Mutex::TryLock() {
  const bool locked = REAL(bool (*)(Mutex*), "5Mutex7TryLockEv")(this);
  if (locked) AcquireWriter(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  const bool locked = REAL(bool (*)(Mutex*), "5Mutex13ReaderTryLockEv")(this);
  if (locked) AcquireReader(this);
  return locked;
}

void Mutex::Unlock() {
  ReleaseWriter(this);
  IgnoreAccesses ignore;  // Unlock may evaluate waiters' Conditions
  REAL(void (*)(Mutex*), "5Mutex6UnlockEv")(this);
}

void Mutex::ReaderUnlock() {
  ReleaseReader(this);
  IgnoreAccesses ignore;
  REAL(void (*)(Mutex*), "5Mutex12ReaderUnlockEv")(this);
}

void Mutex::LockWhen(const Condition& cond) {
  {
    IgnoreAccesses ignore;
    REAL(void (*)(Mutex*, const Condition&), "5Mutex8LockWhenERKNS0_9ConditionE")(this, cond);
  }
  AcquireWriter(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  {
    IgnoreAccesses ignore;
    REAL(void (*)(Mutex*, const Condition&), "5Mutex14ReaderLockWhenERKNS0_9ConditionE")(this,
                                                                                          cond);
  }
  AcquireReader(this);
}

// LockWhenWithTimeout tail-calls this through the PLT.
bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  bool met;
  {
    IgnoreAccesses ignore;
    met = REAL(bool (*)(Mutex*, const Condition&, absl::Time),
               "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE")(this, cond, deadline);
  }
  AcquireWriter(this);
  return met;
}

// ReaderLockWhenWithTimeout tail-calls this through the PLT.
bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  bool met;
  {
    IgnoreAccesses ignore;
    met = REAL(bool (*)(Mutex*, const Condition&, absl::Time),
               "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE")(this, cond,
                                                                                  deadline);
  }
  AcquireReader(this);
  return met;
}

void Mutex::Await(const Condition& cond) {
  UnlockRelock(this, [&] {
    REAL(void (*)(Mutex*, const Condition&), "5Mutex5AwaitERKNS0_9ConditionE")(this, cond);
    return 0;
  });
}

// AwaitWithTimeout tail-calls this through the PLT.
bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  return UnlockRelock(this, [&] {
    return REAL(bool (*)(Mutex*, const Condition&, absl::Time),
                "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE")(this, cond, deadline);
  });
}

Mutex::~Mutex() {
  REAL(void (*)(Mutex*), "5MutexD1Ev")(this);
}

void CondVar::Wait(Mutex* mu) {
  UnlockRelock(mu, [&] {
    REAL(void (*)(CondVar*, Mutex*), "7CondVar4WaitEPNS0_5MutexE")(this, mu);
    return 0;
  });
}

// WaitWithTimeout tail-calls this through the PLT; gpr_cv_wait calls it directly.
bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  return UnlockRelock(mu, [&] {
    return REAL(bool (*)(CondVar*, Mutex*, absl::Time),
                "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE")(this, mu, deadline);
  });
}

void Notification::Notify() {
  __tsan_release(NotifiedFlag(this));
  REAL(void (*)(Notification*), "12Notification6NotifyEv")(this);
}

void Notification::WaitForNotification() const {
  REAL(void (*)(const Notification*), "K12Notification19WaitForNotificationEv")(this);
  __tsan_acquire(NotifiedFlag(this));
}

bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) const {
  const bool notified = REAL(bool (*)(const Notification*, absl::Duration),
                             "K12Notification30WaitForNotificationWithTimeoutENS0_8DurationE")(
      this, timeout);
  if (notified) __tsan_acquire(NotifiedFlag(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  const bool notified = REAL(bool (*)(const Notification*, absl::Time),
                             "K12Notification31WaitForNotificationWithDeadlineENS0_4TimeE")(
      this, deadline);
  if (notified) __tsan_acquire(NotifiedFlag(this));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl

// TSan reads this before the environment's TSAN_OPTIONS, which can override it:
// the project's suppressions (each one justified there), and stop at the first
// report so that ctest fails on it.
extern "C" const char* __tsan_default_options() {
  return "suppressions=" COACHD_TSAN_SUPPRESSIONS ":halt_on_error=1:second_deadlock_stack=1";
}
