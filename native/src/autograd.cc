// Autograd entry points that are not ATen operators: backward, .grad, requires_grad, grad mode.
#include "common.h"

namespace kestrel {
namespace {

// backward(t, grad | null, retainGraph, createGraph)
KESTREL_FN(backward) {
  auto env = info.Env();
  auto& t = unwrapTensor(env, info[0]);
  torch::autograd::variable_list grads;
  if (!info[1].IsNull() && !info[1].IsUndefined()) grads.push_back(unwrapTensor(env, info[1]));
  bool create = info[3].ToBoolean().Value();
  c10::optional<bool> retain;
  if (info[2].IsBoolean()) retain = info[2].As<Napi::Boolean>().Value();
  torch::autograd::backward({t}, grads, retain, create);
  return env.Undefined();
}

KESTREL_FN(grad) {
  auto env = info.Env();
  const auto& g = unwrapTensor(env, info[0]).grad();
  return g.defined() ? wrapTensor(env, g) : env.Null();
}

KESTREL_FN(setGrad) {
  auto env = info.Env();
  auto& t = unwrapTensor(env, info[0]);
  if (info[1].IsNull() || info[1].IsUndefined()) t.mutable_grad().reset();
  else t.mutable_grad() = unwrapTensor(env, info[1]);
  return env.Undefined();
}

// setData(t, src): t takes src's storage, dtype and device in place (PyTorch's `param.data = src`),
// so modules can move or cast parameters without changing the handles that layers hold.
KESTREL_FN(setData) {
  auto env = info.Env();
  unwrapTensor(env, info[0]).set_data(unwrapTensor(env, info[1]));
  return env.Undefined();
}

KESTREL_FN(requiresGrad) {
  return Napi::Boolean::New(info.Env(), unwrapTensor(info.Env(), info[0]).requires_grad());
}

KESTREL_FN(setRequiresGrad) {
  auto env = info.Env();
  unwrapTensor(env, info[0]).set_requires_grad(info[1].ToBoolean().Value());
  return env.Undefined();
}

KESTREL_FN(isLeaf) {
  return Napi::Boolean::New(info.Env(), unwrapTensor(info.Env(), info[0]).is_leaf());
}

KESTREL_FN(gradFn) {
  auto env = info.Env();
  auto fn = unwrapTensor(env, info[0]).grad_fn();
  return fn ? Napi::Value(Napi::String::New(env, fn->name())) : env.Null();
}

KESTREL_FN(isGradEnabled) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

KESTREL_FN(setGradEnabled) {
  at::GradMode::set_enabled(info[0].ToBoolean().Value());
  return info.Env().Undefined();
}

}  // namespace

void initAutograd(Napi::Env env, Napi::Object exports) {
  exports.Set("backward", Napi::Function::New(env, backward));
  exports.Set("grad", Napi::Function::New(env, grad));
  exports.Set("setGrad", Napi::Function::New(env, setGrad));
  exports.Set("setData", Napi::Function::New(env, setData));
  exports.Set("requiresGrad", Napi::Function::New(env, requiresGrad));
  exports.Set("setRequiresGrad", Napi::Function::New(env, setRequiresGrad));
  exports.Set("isLeaf", Napi::Function::New(env, isLeaf));
  exports.Set("gradFn", Napi::Function::New(env, gradFn));
  exports.Set("isGradEnabled", Napi::Function::New(env, isGradEnabled));
  exports.Set("setGradEnabled", Napi::Function::New(env, setGradEnabled));
}

}  // namespace kestrel
