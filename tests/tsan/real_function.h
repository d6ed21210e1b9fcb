// File: tests/tsan/real_function.h
//
// ThreadSanitizer builds only: the library function a wrapper in this
// directory stands in for. The wrappers are defined in the test binary, so
// the dynamic linker binds every caller to them; each forwards to the next
// definition of the same symbol (dlsym RTLD_NEXT), resolved on first use --
// possibly during the static initialization of libgrpc, before any constructor
// of ours has run. A racing double lookup is harmless: both threads store the
// same pointer. A missing symbol aborts: the wrapper would otherwise do
// nothing and hide every edge it exists to add.
#ifndef COACHD_TESTS_TSAN_REAL_FUNCTION_H_
#define COACHD_TESTS_TSAN_REAL_FUNCTION_H_

#include <dlfcn.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace coach::tsan {

inline void* ResolveNext(const std::string& mangled_name) {
  void* fn = dlsym(RTLD_NEXT, mangled_name.c_str());
  if (fn == nullptr) {
    std::fprintf(stderr, "tests/tsan: cannot find %s: %s\n", mangled_name.c_str(), dlerror());
    std::abort();
  }
  return fn;
}

// `slot` caches the address; `name()` gives the mangled name when needed.
template <typename Fn, typename NameFn>
Fn RealFunction(std::atomic<void*>& slot, NameFn name) {
  void* fn = slot.load(std::memory_order_acquire);
  if (fn == nullptr) {
    fn = ResolveNext(name());
    slot.store(fn, std::memory_order_release);
  }
  return reinterpret_cast<Fn>(fn);
}

}  // namespace coach::tsan

#endif  // COACHD_TESTS_TSAN_REAL_FUNCTION_H_
