// A caching CPU allocator for libtorch, in the way PyTorch's CUDA caching allocator works.
//
// A training loop allocates the same large buffers (activations, gradients, optimizer scratch)
// every step and frees them again. Through glibc's malloc those blocks land in heaps whose free
// space fragments as the interleaving of frees changes, and the process's resident size creeps up
// over epochs; blocks above malloc's mmap threshold are instead mapped and unmapped each step and
// every page faults in again. This allocator keeps freed large blocks, keyed by size class, and
// hands them out again: steady-state steps reuse warm pages and RSS stays flat. Blocks beyond the
// cache limit are unmapped, least recently freed first, so memory goes back to the system. The
// limit is set by setCacheLimit, or else follows the workload: twice the most bytes ever in use at
// once (at least 256 MiB). One step's blocks, summed over size classes, come to more than its
// peak (1.2x for mobilenet_v2), so a limit of just the peak would unmap blocks every step.
//
// It is installed when the addon loads, before any tensor exists (a block must be freed by the
// allocator that made it; libtorch's DataPtr carries our deleter, and oneDNN's raw_deallocate asks
// the current allocator). KESTREL_CPU_CACHE=0 leaves libtorch's malloc-based allocator in place.
//
// Small requests go to malloc as before. Every block carries a 64-byte header in front of the data
// (keeping libtorch's 64-byte alignment) that says where it came from, so one deleter frees both.
//
// Those small blocks, autograd's nodes and the JS side's buffers still churn through malloc. glibc
// gives every thread that allocates an arena of its own (up to 8 per core), and each arena's free
// space fragments on its own: with libtorch's intra-op threads, loader workers and libuv's pool
// each in a different arena, free-but-kept malloc memory grew from 20 to 58 MB over 10 MNIST
// epochs, and from 19 to 32 MB with two arenas. So when the addon loads, before those
// threads start, the arenas are capped at one per core (at least 2), unless the user's environment
// already sets MALLOC_ARENA_MAX or glibc.malloc.arena_max. KESTREL_MALLOC_ARENAS=N picks the cap;
// 0 leaves glibc's default.
#include <sys/mman.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include <c10/core/CPUAllocator.h>

#include "common.h"

namespace kestrel {
namespace {

constexpr size_t kHeader = 64;           // libtorch's CPU alignment
constexpr size_t kPage = 4096;
constexpr size_t kLarge = 16 * 1024;     // requests from here on are mapped and cached
constexpr size_t kHugePage = 2 * 1024 * 1024;
constexpr size_t kMinLimit = size_t{256} << 20;

struct Header {
  size_t size;   // bytes mapped (header included); 0 for a malloc'ed block
  uint64_t stamp;
};

// Size classes: page multiples, then 8 classes per power of two (at most 12.5 % slack), so shapes
// that differ a little (the last batch of an epoch) still share blocks.
size_t sizeClass(size_t bytes) {
  size_t n = (bytes + kPage - 1) / kPage * kPage;
  if (n <= 64 * kPage) return n;
  size_t top = size_t{1} << (63 - __builtin_clzll(n));
  size_t step = top / 8;
  return (n + step - 1) / step * step;
}

class CachingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) const override {
    if (n == 0) return {nullptr, nullptr, &release, c10::Device(c10::DeviceType::CPU)};
    void* base = n + kHeader < kLarge ? mallocBlock(n + kHeader) : takeLarge(sizeClass(n + kHeader));
    void* data = static_cast<char*>(base) + kHeader;
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  static CachingCpuAllocator& instance() {
    static CachingCpuAllocator* a = new CachingCpuAllocator();  // lives as long as the process
    return *a;
  }

  struct Stats {
    size_t mapped, cached, peak, hits, misses, limit;
  };
  Stats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {mapped_, cached_, peak_, hits_, misses_, limitLocked()};
  }
  // A fixed limit in bytes, or the automatic one when `automatic`.
  void setLimit(size_t bytes, bool automatic) {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_ = bytes;
    automatic_ = automatic;
    evictLocked();
  }
  void emptyCache() {
    std::lock_guard<std::mutex> lock(mutex_);
    evictAllLocked();
  }

 private:
  static void* mallocBlock(size_t bytes) {
    void* p = nullptr;
    TORCH_CHECK(posix_memalign(&p, kHeader, bytes) == 0, "CPU allocator: not enough memory: you tried to allocate ", bytes, " bytes");
    static_cast<Header*>(p)->size = 0;
    return p;
  }

  void* takeLarge(size_t bytes) const {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(bytes);
      if (it != free_.end()) {
        void* p = it->second;
        free_.erase(it);
        cached_ -= bytes;
        hits_++;
        peak_ = std::max(peak_, mapped_ - cached_);
        return p;
      }
      misses_++;
      mapped_ += bytes;
      peak_ = std::max(peak_, mapped_ - cached_);
    }
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      std::lock_guard<std::mutex> lock(mutex_);
      mapped_ -= bytes;
      evictAllLocked();
      p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      TORCH_CHECK(p != MAP_FAILED, "CPU allocator: not enough memory: you tried to allocate ", bytes, " bytes");
      mapped_ += bytes;
    }
#ifdef MADV_HUGEPAGE
    if (bytes >= kHugePage) madvise(p, bytes, MADV_HUGEPAGE);
#endif
    static_cast<Header*>(p)->size = bytes;
    return p;
  }

  static void release(void* data) {
    if (data == nullptr) return;
    void* base = static_cast<char*>(data) - kHeader;
    auto* h = static_cast<Header*>(base);
    if (h->size == 0) {
      std::free(base);
      return;
    }
    instance().giveBack(base, h->size);
  }

  void giveBack(void* base, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    static_cast<Header*>(base)->stamp = ++clock_;
    free_.emplace(bytes, base);
    cached_ += bytes;
    evictLocked();
  }

  size_t limitLocked() const { return automatic_ ? std::max(kMinLimit, 2 * peak_) : limit_; }

  // Unmaps the least recently freed blocks until the cache holds at most the limit.
  void evictLocked() {
    size_t limit = limitLocked();
    while (cached_ > limit && !free_.empty()) {
      auto oldest = std::min_element(free_.begin(), free_.end(), [](const auto& a, const auto& b) {
        return static_cast<Header*>(a.second)->stamp < static_cast<Header*>(b.second)->stamp;
      });
      unmapLocked(oldest);
    }
  }
  void evictAllLocked() const {
    while (!free_.empty()) unmapLocked(free_.begin());
  }
  void unmapLocked(std::multimap<size_t, void*>::iterator it) const {
    munmap(it->second, it->first);
    cached_ -= it->first;
    mapped_ -= it->first;
    free_.erase(it);
  }

  // allocate() is const in c10::Allocator, so the cache's state is mutable.
  mutable std::mutex mutex_;
  mutable std::multimap<size_t, void*> free_;  // size class -> cached block
  mutable size_t cached_ = 0, mapped_ = 0, peak_ = 0, hits_ = 0, misses_ = 0;
  size_t limit_ = 0;
  bool automatic_ = true;
  uint64_t clock_ = 0;
};

bool installed = false;
int arenaCap = 0;  // the cap set on glibc's malloc arenas; 0: none set here

int capArenas() {
#if defined(__GLIBC__)
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr || (tunables != nullptr && std::strstr(tunables, "arena_max") != nullptr)) return 0;
  const char* flag = std::getenv("KESTREL_MALLOC_ARENAS");
  int n = flag != nullptr ? std::atoi(flag) : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  if (n > 0 && mallopt(M_ARENA_MAX, n) == 1) return n;
#endif
  return 0;
}

KESTREL_FN(allocatorStats) {
  auto s = CachingCpuAllocator::instance().stats();
  auto out = Napi::Object::New(info.Env());
  out.Set("enabled", installed);
  out.Set("arenas", arenaCap);
  out.Set("peak", static_cast<double>(s.peak));
  out.Set("mapped", static_cast<double>(s.mapped));
  out.Set("cached", static_cast<double>(s.cached));
  out.Set("hits", static_cast<double>(s.hits));
  out.Set("misses", static_cast<double>(s.misses));
  out.Set("limit", static_cast<double>(s.limit));
  return out;
}

// setCacheLimit(bytes) fixes the limit; setCacheLimit(null) returns to the automatic one.
KESTREL_FN(setCacheLimit) {
  if (info[0].IsNull() || info[0].IsUndefined()) {
    CachingCpuAllocator::instance().setLimit(0, true);
    return info.Env().Undefined();
  }
  double bytes = info[0].As<Napi::Number>().DoubleValue();
  if (!(bytes >= 0) || !std::isfinite(bytes)) throw std::invalid_argument("cache limit must be a finite number of bytes >= 0");
  CachingCpuAllocator::instance().setLimit(static_cast<size_t>(bytes), false);
  return info.Env().Undefined();
}

KESTREL_FN(emptyCache) {
  CachingCpuAllocator::instance().emptyCache();
  return info.Env().Undefined();
}

}  // namespace

void initAllocator(Napi::Env env, Napi::Object exports) {
  static bool once = false;
  const char* flag = std::getenv("KESTREL_CPU_CACHE");
  if (!once && !(flag != nullptr && std::string(flag) == "0")) {
    c10::SetCPUAllocator(&CachingCpuAllocator::instance(), /*priority=*/10);
    installed = true;
  }
  if (!once) arenaCap = capArenas();
  once = true;
  exports.Set("allocatorStats", Napi::Function::New(env, allocatorStats));
  exports.Set("setCacheLimit", Napi::Function::New(env, setCacheLimit));
  exports.Set("emptyCache", Napi::Function::New(env, emptyCache));
}

}  // namespace kestrel
