// Tensor handles: creation from JS buffers, reading back, metadata, disposal.
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>

#include "common.h"

namespace kestrel {
namespace {

// Handles are plain JS numbers indexing a per-thread slot table (index + generation), not napi
// objects: creating or disposing one allocates nothing on the JS side and needs no native
// finalizer (Node defers those to the event loop, so a synchronous loop would pile them up).
// A stale handle fails its generation check instead of reaching a reused slot.
struct Slot {
  at::Tensor t;
  int64_t reported = 0;  // bytes told to V8 through AdjustExternalMemory
  uint32_t gen = 0;
};

constexpr double kIndexSpan = 67108864.0;  // 2^26 slots; generations wrap at 2^26 too
// Handles live in [2^52, 2^53): no integer a caller passes as a scalar or a dim can alias one.
constexpr double kHandleBase = 4503599627370496.0;
constexpr uint32_t kGenMask = (1u << 26) - 1;
thread_local std::vector<Slot> slots;
thread_local std::vector<uint32_t> freeSlots;
thread_local int64_t liveHandles = 0;
thread_local int64_t liveBytes = 0;

int64_t sizeOf(const at::Tensor& t) {
  return t.defined() ? static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size()) : 0;
}

// The slot a handle names, or nullptr when the handle is stale, disposed or not a handle.
Slot* slotOf(Napi::Value v) {
  if (!v.IsNumber()) return nullptr;
  double d = v.As<Napi::Number>().DoubleValue() - kHandleBase;
  if (!(d >= 0) || d >= kHandleBase || d != std::floor(d)) return nullptr;
  auto index = static_cast<size_t>(std::fmod(d, kIndexSpan));
  auto gen = static_cast<uint32_t>(std::floor(d / kIndexSpan));
  if (index >= slots.size() || slots[index].gen != gen || !slots[index].t.defined()) return nullptr;
  return &slots[index];
}

void release(Napi::Env env, Slot* slot) {
  Napi::MemoryManagement::AdjustExternalMemory(env, -slot->reported);
  liveBytes -= slot->reported;
  slot->reported = 0;
  slot->t.reset();
  slot->gen = (slot->gen + 1) & kGenMask;
  --liveHandles;
  freeSlots.push_back(static_cast<uint32_t>(slot - slots.data()));
}

std::vector<int64_t> shapeFrom(Napi::Value v) {
  auto arr = v.As<Napi::Array>();
  std::vector<int64_t> shape(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) shape[i] = arr.Get(i).As<Napi::Number>().Int64Value();
  return shape;
}

void checkBytes(Napi::Env env, size_t have, const std::vector<int64_t>& shape, at::ScalarType dtype) {
  size_t want = c10::elementSize(dtype);
  for (int64_t d : shape) want *= static_cast<size_t>(d);
  if (have != want) {
    throw Napi::RangeError::New(env, "data has " + std::to_string(have) + " bytes but shape " + c10::str(c10::IntArrayRef(shape)) +
                                         " of " + c10::toString(dtype) + " needs " + std::to_string(want));
  }
}

// fromBuffer(typedArray, shape, dtype): copies the bytes into a new CPU tensor.
KESTREL_FN(fromBuffer) {
  auto env = info.Env();
  auto view = info[0].As<Napi::TypedArray>();
  auto shape = shapeFrom(info[1]);
  auto dtype = static_cast<at::ScalarType>(info[2].As<Napi::Number>().Int32Value());
  checkBytes(env, view.ByteLength(), shape, dtype);
  auto t = torch::empty(shape, torch::TensorOptions().dtype(dtype));
  auto want = view.ByteLength();
  // The element pointer straight from the view: ArrayBuffer() would refuse a SharedArrayBuffer.
  void* src = nullptr;
  napi_get_typedarray_info(env, view, nullptr, nullptr, &src, nullptr, nullptr);
  if (want > 0) std::memcpy(t.data_ptr(), src, want);
  return wrapTensor(env, t);
}

// A typed array lent to a tensor by adoptBuffer: the reference that keeps it alive, released
// when libtorch frees the tensor's storage. Only the JS thread that made the reference may
// release it; a storage freed on another thread queues it for that thread's next adoptBuffer.
struct Lent {
  napi_env env;
  napi_ref ref;
  std::thread::id thread;
  bool recycle;
};
std::mutex lentMutex;
std::vector<Lent*> lentPending;
thread_local bool envAlive = false;
// Arrays lent with `recycle` whose storage libtorch has freed, still referenced, until
// takeReturned hands them back to JS for reuse (the data loader's next batches). At most
// kMaxReturned are kept; older ones are let go.
thread_local std::vector<Lent*> returned;
constexpr size_t kMaxReturned = 16;

void release(Lent* lent) {
  if (envAlive) napi_delete_reference(lent->env, lent->ref);  // after env teardown V8 frees it anyway
  delete lent;
}

void unlend(Lent* lent) {
  if (!(lent->recycle && envAlive)) return release(lent);
  returned.push_back(lent);
  if (returned.size() > kMaxReturned) {
    release(returned.front());
    returned.erase(returned.begin());
  }
}

void unlendPending(napi_env env) {
  std::vector<Lent*> mine;
  {
    std::lock_guard<std::mutex> lock(lentMutex);
    for (auto it = lentPending.begin(); it != lentPending.end();) {
      if ((*it)->env == env) {
        mine.push_back(*it);
        it = lentPending.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (Lent* lent : mine) unlend(lent);
}

void watchEnv(napi_env env) {
  if (envAlive) return;
  envAlive = true;
  napi_add_env_cleanup_hook(env, [](void*) { envAlive = false; }, nullptr);
}

// adoptBuffer(typedArray, shape, dtype, recycle): a CPU tensor over the typed array's own memory,
// without a copy (the data loader's batches). The tensor keeps the array alive; the caller must not
// detach or transfer its buffer while the tensor lives. With `recycle`, takeReturned gives the
// array back once libtorch is done with it.
KESTREL_FN(adoptBuffer) {
  auto env = info.Env();
  watchEnv(env);
  unlendPending(env);
  bool recycle = info.Length() > 3 && info[3].ToBoolean().Value();
  auto view = info[0].As<Napi::TypedArray>();
  auto shape = shapeFrom(info[1]);
  auto dtype = static_cast<at::ScalarType>(info[2].As<Napi::Number>().Int32Value());
  checkBytes(env, view.ByteLength(), shape, dtype);
  void* data = nullptr;
  napi_get_typedarray_info(env, view, nullptr, nullptr, &data, nullptr, nullptr);
  napi_ref ref = nullptr;
  if (napi_create_reference(env, view, 1, &ref) != napi_ok) throw Napi::Error::New(env, "cannot reference the array");
  auto* lent = new Lent{env, ref, std::this_thread::get_id(), recycle};
  auto t = torch::from_blob(data, shape, [lent](void*) {
    if (std::this_thread::get_id() == lent->thread) {
      unlend(lent);
    } else {
      std::lock_guard<std::mutex> lock(lentMutex);
      lentPending.push_back(lent);
    }
  }, torch::TensorOptions().dtype(dtype));
  return wrapTensor(env, t);
}

// takeReturned(): the recycled arrays (see adoptBuffer) no tensor uses any more, oldest first.
KESTREL_FN(takeReturned) {
  auto env = info.Env();
  watchEnv(env);
  unlendPending(env);
  auto out = Napi::Array::New(env, returned.size());
  uint32_t i = 0;
  for (Lent* lent : returned) {
    napi_value v = nullptr;
    napi_get_reference_value(env, lent->ref, &v);
    if (v != nullptr) out.Set(i++, Napi::Value(env, v));
    release(lent);
  }
  returned.clear();
  return out;
}

// toBuffer(t): a copy of the elements as an ArrayBuffer (CPU, contiguous, row-major).
KESTREL_FN(toBuffer) {
  auto env = info.Env();
  auto t = unwrapTensor(env, info[0]).detach().to(at::kCPU).contiguous();
  auto bytes = static_cast<size_t>(sizeOf(t));
  auto buf = Napi::ArrayBuffer::New(env, bytes);
  if (bytes > 0) std::memcpy(buf.Data(), t.data_ptr(), bytes);
  return buf;
}

KESTREL_FN(item) {
  auto env = info.Env();
  auto& t = unwrapTensor(env, info[0]);
  auto s = t.item();
  if (s.isBoolean()) return Napi::Boolean::New(env, s.toBool());
  if (s.isIntegral(false)) return Napi::Number::New(env, static_cast<double>(s.toLong()));
  return Napi::Number::New(env, s.toDouble());
}

KESTREL_FN(shape) {
  auto env = info.Env();
  auto sizes = unwrapTensor(env, info[0]).sizes();
  auto out = Napi::Array::New(env, sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) out.Set(static_cast<uint32_t>(i), static_cast<double>(sizes[i]));
  return out;
}

KESTREL_FN(strides) {
  auto env = info.Env();
  auto st = unwrapTensor(env, info[0]).strides();
  auto out = Napi::Array::New(env, st.size());
  for (size_t i = 0; i < st.size(); ++i) out.Set(static_cast<uint32_t>(i), static_cast<double>(st[i]));
  return out;
}

KESTREL_FN(dtype) {
  return Napi::Number::New(info.Env(), static_cast<int>(unwrapTensor(info.Env(), info[0]).scalar_type()));
}

KESTREL_FN(device) {
  return Napi::String::New(info.Env(), unwrapTensor(info.Env(), info[0]).device().str());
}

KESTREL_FN(numel) {
  return Napi::Number::New(info.Env(), static_cast<double>(unwrapTensor(info.Env(), info[0]).numel()));
}

KESTREL_FN(isContiguous) {
  return Napi::Boolean::New(info.Env(), unwrapTensor(info.Env(), info[0]).is_contiguous());
}

// sameStorage(a, b): whether two handles view the same memory (used to keep in-place results cheap).
KESTREL_FN(sameTensor) {
  auto env = info.Env();
  return Napi::Boolean::New(env, unwrapTensor(env, info[0]).is_same(unwrapTensor(env, info[1])));
}

// dispose(handle): frees the tensor; a second dispose of the same handle does nothing.
KESTREL_FN(dispose) {
  auto env = info.Env();
  if (Slot* slot = slotOf(info[0])) release(env, slot);
  return env.Undefined();
}

KESTREL_FN(isDisposed) {
  return Napi::Boolean::New(info.Env(), slotOf(info[0]) == nullptr);
}

KESTREL_FN(memoryStats) {
  auto env = info.Env();
  auto out = Napi::Object::New(env);
  out.Set("handles", static_cast<double>(liveHandles));
  out.Set("bytes", static_cast<double>(liveBytes));
  return out;
}

}  // namespace

Napi::Value wrapTensor(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  uint32_t index;
  if (freeSlots.empty()) {
    if (slots.size() >= static_cast<size_t>(kIndexSpan)) throw std::runtime_error("too many live tensors");
    index = static_cast<uint32_t>(slots.size());
    slots.emplace_back();
  } else {
    index = freeSlots.back();
    freeSlots.pop_back();
  }
  Slot& slot = slots[index];
  slot.t = std::move(t);
  slot.reported = sizeOf(slot.t);
  ++liveHandles;
  liveBytes += slot.reported;
  Napi::MemoryManagement::AdjustExternalMemory(env, slot.reported);
  return Napi::Number::New(env, kHandleBase + static_cast<double>(slot.gen) * kIndexSpan + index);
}

bool isTensor(Napi::Env env, Napi::Value v) {
  return slotOf(v) != nullptr;
}

at::Tensor& unwrapTensor(Napi::Env env, Napi::Value v) {
  Slot* slot = slotOf(v);
  if (slot == nullptr) {
    throw Napi::TypeError::New(env, v.IsNumber() ? "tensor was disposed" : "expected a tensor");
  }
  return slot->t;
}

void initTensor(Napi::Env env, Napi::Object exports) {
  exports.Set("fromBuffer", Napi::Function::New(env, fromBuffer));
  exports.Set("adoptBuffer", Napi::Function::New(env, adoptBuffer));
  exports.Set("takeReturned", Napi::Function::New(env, takeReturned));
  exports.Set("toBuffer", Napi::Function::New(env, toBuffer));
  exports.Set("item", Napi::Function::New(env, item));
  exports.Set("shape", Napi::Function::New(env, shape));
  exports.Set("strides", Napi::Function::New(env, strides));
  exports.Set("dtype", Napi::Function::New(env, dtype));
  exports.Set("device", Napi::Function::New(env, device));
  exports.Set("numel", Napi::Function::New(env, numel));
  exports.Set("isContiguous", Napi::Function::New(env, isContiguous));
  exports.Set("sameTensor", Napi::Function::New(env, sameTensor));
  exports.Set("dispose", Napi::Function::New(env, dispose));
  exports.Set("isDisposed", Napi::Function::New(env, isDisposed));
  exports.Set("memoryStats", Napi::Function::New(env, memoryStats));
}

}  // namespace kestrel
