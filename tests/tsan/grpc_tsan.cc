// File: tests/tsan/grpc_tsan.cc
//
// ThreadSanitizer builds only: gRPC's own ordering guarantees, made visible to
// TSan: starting an operation happens before its completion is delivered
// (grpc_call_start_batch / request_call -> grpc_cq_end_op -> the thread taking
// the event from the completion queue), and scheduling a closure on gRPC's
// executor happens before it runs (grpc_core::Executor::Run).
//
// gRPC guarantees that everything a thread did before grpc_call_start_batch(tag)
// (or grpc_server_request_*call(tag)) happens before the completion of `tag` is
// delivered (a completion-queue event, or the callback API's functor). Inside
// Debian's uninstrumented libgrpc that hand-off goes through chttp2's lock-free
// combiner and atomics, which TSan cannot see. grpc_cq_end_op() is the single
// function through which every completion is posted, whichever thread runs it;
// from there to the application (pluck/next under the completion queue's mutex,
// the callback executor's mutex, or the same thread) TSan sees the edge through
// the absl::Mutex annotations of absl_sync_tsan.cc.
//
// So: release on `tag` when an operation is started, acquire on `tag` when its
// completion is posted. The tag is a distinct object per outstanding operation
// (a CallOpSet / CallbackWithSuccessTag / request tag), so this adds only the
// edges gRPC's API contract promises.
//
// All three functions are exported by libgrpc and reached through the PLT: the
// start functions from libgrpc++ (grpc::Server/Channel::PerformOpsOnCall, the
// callback request matcher), grpc_cq_end_op from inside libgrpc itself (checked
// with objdump: 11 call sites through grpc_cq_end_op@plt).
#include <grpc/grpc.h>
#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "real_function.h"

struct grpc_cq_completion;

#define REAL(type, name)                                                               \
  ([]() {                                                                              \
    static std::atomic<void*> slot{nullptr};                                           \
    return coach::tsan::RealFunction<type>(slot, [] { return std::string(name); });   \
  }())

extern "C" grpc_call_error grpc_call_start_batch(grpc_call* call, const grpc_op* ops, size_t nops,
                                                 void* tag, void* reserved) {
  __tsan_release(tag);
  return REAL(grpc_call_error (*)(grpc_call*, const grpc_op*, size_t, void*, void*),
              "grpc_call_start_batch")(call, ops, nops, tag, reserved);
}

extern "C" grpc_call_error grpc_server_request_call(grpc_server* server, grpc_call** call,
                                                    grpc_call_details* details,
                                                    grpc_metadata_array* request_metadata,
                                                    grpc_completion_queue* cq_bound_to_call,
                                                    grpc_completion_queue* cq_for_notification,
                                                    void* tag_new) {
  __tsan_release(tag_new);
  return REAL(grpc_call_error (*)(grpc_server*, grpc_call**, grpc_call_details*,
                                  grpc_metadata_array*, grpc_completion_queue*,
                                  grpc_completion_queue*, void*),
              "grpc_server_request_call")(server, call, details, request_metadata,
                                          cq_bound_to_call, cq_for_notification, tag_new);
}

extern "C" grpc_call_error grpc_server_request_registered_call(
    grpc_server* server, void* registered_method, grpc_call** call, gpr_timespec* deadline,
    grpc_metadata_array* request_metadata, grpc_byte_buffer** optional_payload,
    grpc_completion_queue* cq_bound_to_call, grpc_completion_queue* cq_for_notification,
    void* tag_new) {
  __tsan_release(tag_new);
  return REAL(grpc_call_error (*)(grpc_server*, void*, grpc_call**, gpr_timespec*,
                                  grpc_metadata_array*, grpc_byte_buffer**,
                                  grpc_completion_queue*, grpc_completion_queue*, void*),
              "grpc_server_request_registered_call")(server, registered_method, call, deadline,
                                                     request_metadata, optional_payload,
                                                     cq_bound_to_call, cq_for_notification,
                                                     tag_new);
}

// src/core/lib/surface/completion_queue.h (C++ linkage):
// _Z14grpc_cq_end_opP21grpc_completion_queuePvN4absl7debian36StatusEPFvS1_P18grpc_cq_completionES1_S6_b
void grpc_cq_end_op(grpc_completion_queue* cq, void* tag, absl::Status error,
                    void (*done)(void* done_arg, grpc_cq_completion* storage), void* done_arg,
                    grpc_cq_completion* storage, bool internal) {
  // The thread posting the completion saw what the starter did, and what it
  // did itself (filling a received message) goes to whoever takes the event.
  __tsan_acquire(tag);
  __tsan_release(tag);
  REAL(void (*)(grpc_completion_queue*, void*, absl::Status,
                void (*)(void*, grpc_cq_completion*), void*, grpc_cq_completion*, bool),
       "_Z14grpc_cq_end_opP21grpc_completion_queuePvN4absl7debian36StatusEPFvS1_P18grpc_cq_"
       "completionES1_S6_b")(cq, tag, std::move(error), done, done_arg, storage, internal);
}

// Taking an event off a completion queue: the queue is lock-free inside
// libgrpc, so the edge from grpc_cq_end_op to the taker is added here. The
// callback API's "alternative" completion queue in libgrpc++ runs every
// reactor callback from a thread that loops on grpc_completion_queue_next.
extern "C" grpc_event grpc_completion_queue_next(grpc_completion_queue* cq, gpr_timespec deadline,
                                                 void* reserved) {
  const grpc_event event =
      REAL(grpc_event (*)(grpc_completion_queue*, gpr_timespec, void*),
           "grpc_completion_queue_next")(cq, deadline, reserved);
  if (event.type == GRPC_OP_COMPLETE) __tsan_acquire(event.tag);
  return event;
}

extern "C" grpc_event grpc_completion_queue_pluck(grpc_completion_queue* cq, void* tag,
                                                  gpr_timespec deadline, void* reserved) {
  const grpc_event event =
      REAL(grpc_event (*)(grpc_completion_queue*, void*, gpr_timespec, void*),
           "grpc_completion_queue_pluck")(cq, tag, deadline, reserved);
  if (event.type == GRPC_OP_COMPLETE) __tsan_acquire(event.tag);
  return event;
}

// grpc_core::Executor::Run(closure, error, type, job_type): how libgrpc++
// hands a reactor's OnDone() (and other closures) to another thread. The
// closure is rerouted through a trampoline that acquires what the scheduling
// thread released. Only the head of grpc_closure is touched; its layout
// (next, cb, cb_arg) is the same in debug and release builds of gRPC.
struct grpc_closure;
namespace grpc_core {
enum class ExecutorType { DEFAULT = 0, RESOLVER, NUM_EXECUTORS };
enum class ExecutorJobType { SHORT = 0, LONG, NUM_JOB_TYPES };
class Executor {
 public:
  static void Run(grpc_closure* closure, absl::Status error, ExecutorType executor_type,
                  ExecutorJobType job_type);
};
}  // namespace grpc_core

namespace {

using ClosureCallback = void (*)(void* arg, absl::Status error);
struct ClosureHead {
  void* next;
  ClosureCallback cb;
  void* cb_arg;
};
struct Hop {
  ClosureHead* closure;
  ClosureCallback cb;
  void* cb_arg;
};

// Puts the closure back as it was (closures are rescheduled) and runs it.
void HopTrampoline(void* arg, absl::Status error) {
  Hop* hop = static_cast<Hop*>(arg);
  __tsan_acquire(hop);
  const Hop original = *hop;
  delete hop;
  original.closure->cb = original.cb;
  original.closure->cb_arg = original.cb_arg;
  original.cb(original.cb_arg, std::move(error));
}

}  // namespace

void grpc_core::Executor::Run(grpc_closure* closure, absl::Status error,
                              ExecutorType executor_type, ExecutorJobType job_type) {
  auto* head = reinterpret_cast<ClosureHead*>(closure);
  if (closure != nullptr && head->cb != nullptr) {
    Hop* hop = new Hop{head, head->cb, head->cb_arg};
    __tsan_release(hop);
    head->cb = HopTrampoline;
    head->cb_arg = hop;
  }
  REAL(void (*)(grpc_closure*, absl::Status, ExecutorType, ExecutorJobType),
       "_ZN9grpc_core8Executor3RunEP12grpc_closureN4absl7debian36StatusENS_12ExecutorTypeENS_"
       "15ExecutorJobTypeE")(closure, std::move(error), executor_type, job_type);
}
