// Shared pieces of the addon: the guard that turns C++ exceptions into JS errors, and tensor handles.
#pragma once
#include <napi.h>
#include <torch/torch.h>

namespace kestrel {

// Every exported function body runs inside guard(): libtorch's c10::Error (and anything else thrown)
// becomes a JS Error carrying libtorch's message, never an abort.
template <typename F>
Napi::Value guard(const Napi::CallbackInfo& info, F&& body) {
  Napi::Env env = info.Env();
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::IndexError& e) {
    throw Napi::RangeError::New(env, e.what_without_backtrace());
  } catch (const c10::TypeError& e) {
    throw Napi::TypeError::New(env, e.what_without_backtrace());
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, e.what_without_backtrace());
  } catch (const std::invalid_argument& e) {  // argument conversion at the boundary
    throw Napi::TypeError::New(env, e.what());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  } catch (...) {
    throw Napi::Error::New(env, "unknown native error");
  }
}

#define KESTREL_FN(name) \
  Napi::Value name##_impl(const Napi::CallbackInfo& info); \
  Napi::Value name(const Napi::CallbackInfo& info) { return guard(info, [&] { return name##_impl(info); }); } \
  Napi::Value name##_impl(const Napi::CallbackInfo& info)

// A tensor handle is a type-tagged napi External owning one at::Tensor reference.
Napi::Value wrapTensor(Napi::Env env, at::Tensor t);
at::Tensor& unwrapTensor(Napi::Env env, Napi::Value v);
bool isTensor(Napi::Env env, Napi::Value v);

void initTensor(Napi::Env env, Napi::Object exports);
void initOps(Napi::Env env, Napi::Object exports);
void initAutograd(Napi::Env env, Napi::Object exports);
void initRuntime(Napi::Env env, Napi::Object exports);
void initAllocator(Napi::Env env, Napi::Object exports);
void initOptim(Napi::Env env, Napi::Object exports);
void initAttention(Napi::Env env, Napi::Object exports);

}  // namespace kestrel
