// Fused optimizer kernels: arithmetic only. The optimizers in src/optim/ decide everything else
// (hyperparameters, schedules, groups, which parameters decay, bias corrections) and pass the
// per-step scalars in.
#include <ATen/Parallel.h>

#include <cmath>

#include "common.h"

namespace kestrel {
namespace {

struct AdamScalars {
  float beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps, l2, decay, sign;
};

// One pass over one parameter's float buffers, in the order of torch/optim/adam.py's single-tensor
// ops (each rounded to float as those ops are): g = sign·g (+ l2·p); p *= decay;
// m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g·g; v̂ = max(v̂, v); p += (−stepSize·m) / (√v̂ / bc2 + eps).
template <bool kL2, bool kAmsgrad>
void adamRange(float* __restrict p, const float* __restrict grad, float* __restrict m, float* __restrict v,
               float* __restrict vmax, int64_t begin, int64_t end, const AdamScalars& s, float negStep, float bc2) {
  for (int64_t i = begin; i < end; ++i) {
    float g = grad[i] * s.sign;
    float pi = p[i];
    if (kL2) g = g + s.l2 * pi;
    pi = pi * s.decay;
    float mi = m[i] * s.beta1 + s.oneMinusBeta1 * g;
    float vi = v[i] * s.beta2 + s.oneMinusBeta2 * g * g;
    m[i] = mi;
    v[i] = vi;
    float second = vi;
    if (kAmsgrad) {
      second = vmax[i] > vi || std::isnan(vmax[i]) ? vmax[i] : vi;
      vmax[i] = second;
    }
    p[i] = pi + negStep * mi / (std::sqrt(second) / bc2 + s.eps);
  }
}

using RangeFn = void (*)(float*, const float*, float*, float*, float*, int64_t, int64_t, const AdamScalars&, float, float);

std::vector<at::Tensor> tensorList(Napi::Env env, Napi::Value v, size_t n, const char* what) {
  if (!v.IsArray() || v.As<Napi::Array>().Length() != n) {
    throw std::invalid_argument(std::string("adamStep(): ") + what + " must be an array of " + std::to_string(n) + " tensors");
  }
  auto arr = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i) out.push_back(unwrapTensor(env, arr.Get(i)));
  return out;
}

double number(Napi::Object o, const char* key) {
  auto v = o.Get(key);
  if (!v.IsNumber()) throw std::invalid_argument(std::string("adamStep(): option '") + key + "' must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// A buffer the kernel can walk linearly: float32 on the CPU, dense, laid out like the parameter.
void checkBuffer(const at::Tensor& t, const at::Tensor& p, const char* what) {
  if (t.scalar_type() != at::kFloat || !t.device().is_cpu() || t.sizes() != p.sizes() || t.strides() != p.strides() ||
      !t.is_non_overlapping_and_dense()) {
    throw std::invalid_argument(std::string("adamStep(): ") + what + " must be a dense float32 CPU tensor laid out like its parameter");
  }
}

// adamStep(params, grads, expAvgs, expAvgSqs, maxExpAvgSqs | null, options): updates every
// parameter and its moments in place, one pass each. options: beta1, beta2, eps, l2 (weight decay
// added to the gradient; 0 for none), decay (the parameter's multiplier; 1 for none), maximize,
// stepSizes[i] = lr / (1 − β1^t), bc2Sqrts[i] = √(1 − β2^t).
KESTREL_FN(adamStep) {
  auto env = info.Env();
  if (!info[0].IsArray()) throw std::invalid_argument("adamStep(): params must be an array of tensors");
  size_t n = info[0].As<Napi::Array>().Length();
  auto params = tensorList(env, info[0], n, "params");
  auto grads = tensorList(env, info[1], n, "grads");
  auto ms = tensorList(env, info[2], n, "expAvgs");
  auto vs = tensorList(env, info[3], n, "expAvgSqs");
  bool amsgrad = !info[4].IsNull() && !info[4].IsUndefined();
  std::vector<at::Tensor> vmaxes = amsgrad ? tensorList(env, info[4], n, "maxExpAvgSqs") : std::vector<at::Tensor>();
  auto o = info[5].As<Napi::Object>();
  double beta1 = number(o, "beta1"), beta2 = number(o, "beta2"), l2 = number(o, "l2");
  AdamScalars s{static_cast<float>(beta1), static_cast<float>(1 - beta1), static_cast<float>(beta2), static_cast<float>(1 - beta2),
                static_cast<float>(number(o, "eps")), static_cast<float>(l2), static_cast<float>(number(o, "decay")),
                o.Get("maximize").ToBoolean().Value() ? -1.0f : 1.0f};
  auto stepSizes = o.Get("stepSizes").As<Napi::Array>();
  auto bc2Sqrts = o.Get("bc2Sqrts").As<Napi::Array>();
  if (stepSizes.Length() != n || bc2Sqrts.Length() != n) throw std::invalid_argument("adamStep(): stepSizes and bc2Sqrts need one number per parameter");

  for (size_t i = 0; i < n; ++i) {
    checkBuffer(params[i], params[i], "a parameter");
    checkBuffer(ms[i], params[i], "exp_avg");
    checkBuffer(vs[i], params[i], "exp_avg_sq");
    if (amsgrad) checkBuffer(vmaxes[i], params[i], "max_exp_avg_sq");
    // A gradient in another layout (one set by hand) is copied into the parameter's.
    if (grads[i].sizes() != params[i].sizes()) throw std::invalid_argument("adamStep(): a gradient's shape differs from its parameter's");
    if (grads[i].scalar_type() != at::kFloat || !grads[i].device().is_cpu() || grads[i].strides() != params[i].strides()) {
      grads[i] = at::empty_like(params[i]).copy_(grads[i]);
    }
  }
  RangeFn fn = l2 != 0 ? (amsgrad ? adamRange<true, true> : adamRange<true, false>)
                       : (amsgrad ? adamRange<false, true> : adamRange<false, false>);
  at::NoGradGuard noGrad;
  for (size_t i = 0; i < n; ++i) {
    float* p = params[i].data_ptr<float>();
    const float* g = grads[i].data_ptr<float>();
    float* m = ms[i].data_ptr<float>();
    float* v = vs[i].data_ptr<float>();
    float* vmax = amsgrad ? vmaxes[i].data_ptr<float>() : nullptr;
    float negStep = static_cast<float>(-stepSizes.Get(static_cast<uint32_t>(i)).As<Napi::Number>().DoubleValue());
    float bc2 = static_cast<float>(bc2Sqrts.Get(static_cast<uint32_t>(i)).As<Napi::Number>().DoubleValue());
    at::parallel_for(0, params[i].numel(), 1 << 15, [&](int64_t begin, int64_t end) { fn(p, g, m, v, vmax, begin, end, s, negStep, bc2); });
    // As an in-place ATen op would: autograd then refuses a graph that saved the old values.
    for (auto* t : {&params[i], &ms[i], &vs[i]}) t->unsafeGetTensorImpl()->bump_version();
    if (amsgrad) vmaxes[i].unsafeGetTensorImpl()->bump_version();
  }
  return env.Undefined();
}

}  // namespace

void initOptim(Napi::Env env, Napi::Object exports) {
  exports.Set("adamStep", Napi::Function::New(env, adamStep));
}

}  // namespace kestrel
