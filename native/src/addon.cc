#include "common.h"

namespace kestrel {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  initTensor(env, exports);
  initOps(env, exports);
  initAutograd(env, exports);
  initRuntime(env, exports);
  initAllocator(env, exports);
  initOptim(env, exports);
  initAttention(env, exports);
  return exports;
}

NODE_API_MODULE(kestrel, Init)

}  // namespace kestrel
