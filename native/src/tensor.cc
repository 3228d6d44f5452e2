// Tensor handles: creation from JS buffers, reading back, metadata, disposal.
#include <atomic>
#include <cstring>

#include "common.h"

namespace kestrel {
namespace {

struct TensorBox {
  at::Tensor t;
  int64_t reported = 0;  // bytes told to V8 through AdjustExternalMemory
};

constexpr napi_type_tag kTensorTag = {0x6b65737472656c31ULL, 0x74656e736f720001ULL};
std::atomic<int64_t> liveHandles{0};
std::atomic<int64_t> liveBytes{0};

int64_t sizeOf(const at::Tensor& t) {
  return t.defined() ? static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size()) : 0;
}

void release(Napi::Env env, TensorBox* box) {
  if (box->reported != 0) {
    Napi::MemoryManagement::AdjustExternalMemory(env, -box->reported);
    liveBytes -= box->reported;
    box->reported = 0;
  }
  if (box->t.defined()) {
    box->t.reset();
    --liveHandles;
  }
}

TensorBox* boxOf(Napi::Env env, Napi::Value v) {
  bool tagged = false;
  if (v.IsExternal()) napi_check_object_type_tag(env, v, &kTensorTag, &tagged);
  if (!tagged) throw Napi::TypeError::New(env, "expected a tensor handle");
  return v.As<Napi::External<TensorBox>>().Data();
}

std::vector<int64_t> shapeFrom(Napi::Value v) {
  auto arr = v.As<Napi::Array>();
  std::vector<int64_t> shape(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) shape[i] = arr.Get(i).As<Napi::Number>().Int64Value();
  return shape;
}

// fromBuffer(typedArray, shape, dtype): copies the bytes into a new CPU tensor.
KESTREL_FN(fromBuffer) {
  auto env = info.Env();
  auto view = info[0].As<Napi::TypedArray>();
  auto shape = shapeFrom(info[1]);
  auto dtype = static_cast<at::ScalarType>(info[2].As<Napi::Number>().Int32Value());
  auto t = torch::empty(shape, torch::TensorOptions().dtype(dtype));
  auto want = static_cast<size_t>(sizeOf(t));
  if (view.ByteLength() != want) {
    throw Napi::RangeError::New(env, "data has " + std::to_string(view.ByteLength()) + " bytes but shape " +
                                         c10::str(t.sizes()) + " of " + c10::toString(dtype) + " needs " +
                                         std::to_string(want));
  }
  auto* src = static_cast<uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
  if (want > 0) std::memcpy(t.data_ptr(), src, want);
  return wrapTensor(env, t);
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

KESTREL_FN(dispose) {
  auto env = info.Env();
  release(env, boxOf(env, info[0]));
  return env.Undefined();
}

KESTREL_FN(isDisposed) {
  auto env = info.Env();
  return Napi::Boolean::New(env, !boxOf(env, info[0])->t.defined());
}

KESTREL_FN(memoryStats) {
  auto env = info.Env();
  auto out = Napi::Object::New(env);
  out.Set("handles", static_cast<double>(liveHandles.load()));
  out.Set("bytes", static_cast<double>(liveBytes.load()));
  return out;
}

}  // namespace

Napi::Value wrapTensor(Napi::Env env, at::Tensor t) {
  auto* box = new TensorBox{std::move(t), 0};
  auto ext = Napi::External<TensorBox>::New(env, box, [](Napi::Env env, TensorBox* b) {
    release(env, b);
    delete b;
  });
  napi_type_tag_object(env, ext, &kTensorTag);
  if (box->t.defined()) {
    ++liveHandles;
    box->reported = sizeOf(box->t);
    liveBytes += box->reported;
    Napi::MemoryManagement::AdjustExternalMemory(env, box->reported);
  }
  return ext;
}

bool isTensor(Napi::Env env, Napi::Value v) {
  bool tagged = false;
  if (v.IsExternal()) napi_check_object_type_tag(env, v, &kTensorTag, &tagged);
  return tagged;
}

at::Tensor& unwrapTensor(Napi::Env env, Napi::Value v) {
  auto* box = boxOf(env, v);
  if (!box->t.defined()) throw Napi::Error::New(env, "tensor was disposed");
  return box->t;
}

void initTensor(Napi::Env env, Napi::Object exports) {
  exports.Set("fromBuffer", Napi::Function::New(env, fromBuffer));
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
