// Process-wide settings and facts: threads, seeds, RNG state, CUDA, build information, and the
// C heap (glibc's malloc statistics).
#include <dlfcn.h>
#include <torch/version.h>

#include "common.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace kestrel {
namespace {

// A function of the OpenBLAS libtorch links (Debian's, through libblas.so.3), or null without one.
void* openblasSymbol(const char* name) {
  for (const char* lib : {"libopenblas.so.0", "libblas.so.3"}) {
    void* handle = dlopen(lib, RTLD_LAZY | RTLD_NOLOAD);
    void* sym = handle != nullptr ? dlsym(handle, name) : nullptr;
    if (handle != nullptr) dlclose(handle);
    if (sym != nullptr) return sym;
  }
  return dlsym(RTLD_DEFAULT, name);
}

// at::set_num_threads sizes OpenMP (and MKL), not OpenBLAS's own thread pool, which would stay at
// one thread per core: a process asked for fewer threads sets OpenBLAS's too.
KESTREL_FN(setNumThreads) {
  int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) throw std::invalid_argument("thread count must be at least 1");
  at::set_num_threads(n);
  static auto* openblasThreads = reinterpret_cast<void (*)(int)>(openblasSymbol("openblas_set_num_threads"));
  if (openblasThreads != nullptr) openblasThreads(n);
  return info.Env().Undefined();
}

// {library, config, core, threads} of the OpenBLAS in the process (openblas_get_config, the
// kernels it chose: openblas_get_corename, its thread pool's size), or null.
KESTREL_FN(blasInfo) {
  auto env = info.Env();
  auto* config = reinterpret_cast<char* (*)()>(openblasSymbol("openblas_get_config"));
  auto* core = reinterpret_cast<char* (*)()>(openblasSymbol("openblas_get_corename"));
  auto* threads = reinterpret_cast<int (*)()>(openblasSymbol("openblas_get_num_threads"));
  if (config == nullptr || core == nullptr || threads == nullptr) return env.Null();
  auto out = Napi::Object::New(env);
  out.Set("library", "OpenBLAS");
  out.Set("config", std::string(config()));
  out.Set("core", std::string(core()));
  out.Set("threads", threads());
  return out;
}

KESTREL_FN(getNumThreads) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

KESTREL_FN(manualSeed) {
  torch::manual_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
  return info.Env().Undefined();
}

// The CPU generator's state as a uint8 tensor, for exact resume.
KESTREL_FN(getRngState) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return wrapTensor(info.Env(), gen.get_state());
}

KESTREL_FN(setRngState) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(unwrapTensor(info.Env(), info[0]));
  return info.Env().Undefined();
}

KESTREL_FN(cudaDeviceCount) {
  return Napi::Number::New(info.Env(), torch::cuda::is_available() ? static_cast<double>(torch::cuda::device_count()) : 0);
}

KESTREL_FN(buildInfo) {
  auto env = info.Env();
  auto out = Napi::Object::New(env);
  out.Set("version", TORCH_VERSION);
  out.Set("cudaAvailable", torch::cuda::is_available());
  out.Set("cudnnAvailable", torch::cuda::cudnn_is_available());
  out.Set("mkldnn", at::hasMKLDNN());
  out.Set("openmp", at::hasOpenMP());
  out.Set("parallelInfo", at::get_parallel_info());
  out.Set("config", at::show_config());
  return out;
}

// glibc's malloc: bytes in use and free-but-kept in its heaps (mallinfo2, every arena), and
// bytes in mmapped chunks; null elsewhere.
KESTREL_FN(heapStats) {
  auto env = info.Env();
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 m = mallinfo2();
  auto out = Napi::Object::New(env);
  out.Set("inUse", static_cast<double>(m.uordblks));
  out.Set("free", static_cast<double>(m.fordblks));
  out.Set("mmapped", static_cast<double>(m.hblkhd));
  out.Set("arena", static_cast<double>(m.arena));
  return out;
#else
  return env.Null();
#endif
}

// glibc's malloc_trim(0): free pages anywhere in malloc's heaps go back to the system (not only
// the top of the main heap, as free() does). True when memory was released.
KESTREL_FN(trimHeap) {
#if defined(__GLIBC__)
  return Napi::Boolean::New(info.Env(), malloc_trim(0) == 1);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

}  // namespace

void initRuntime(Napi::Env env, Napi::Object exports) {
  exports.Set("setNumThreads", Napi::Function::New(env, setNumThreads));
  exports.Set("getNumThreads", Napi::Function::New(env, getNumThreads));
  exports.Set("manualSeed", Napi::Function::New(env, manualSeed));
  exports.Set("getRngState", Napi::Function::New(env, getRngState));
  exports.Set("setRngState", Napi::Function::New(env, setRngState));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, cudaDeviceCount));
  exports.Set("buildInfo", Napi::Function::New(env, buildInfo));
  exports.Set("blasInfo", Napi::Function::New(env, blasInfo));
  exports.Set("heapStats", Napi::Function::New(env, heapStats));
  exports.Set("trimHeap", Napi::Function::New(env, trimHeap));
}

}  // namespace kestrel
