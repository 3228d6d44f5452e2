// Self-attention over a packed qkv projection, in one autograd node: softmax(q·kᵀ·scale)·v for
// every (batch, head), reading q, k and v in place from the [B, N, 3·C] output of the qkv Linear
// and writing heads side by side into [B, N, C], the layout the output projection reads.
//
// Why by hand: composed of ATen ops (reshape, permute, matmul, softmax, matmul, transpose,
// reshape) the same attention copies q, k, v and the output into and out of the [B·H, N, d]
// layout bmm wants, twice over in backward, and bmm hands each (batch, head) to the BLAS one at a
// time, each small GEMM starting and stopping the BLAS's thread pool (OpenBLAS threads for every
// product above 65,536·4 multiply-adds, which ViT's 65×64×65 just passes). Here the (batch, head)
// pairs are split over ATen's OpenMP threads and each runs a single-threaded GEMM on strided rows.
// The GEMMs are oneDNN's (dnnl_sgemm, already loaded as libtorch's own dependency; inside an
// OpenMP region it runs on the calling thread). Softmax and its gradient are ATen's kernels, so the
// values are PyTorch's up to the GEMMs' summation order. Without oneDNN in the process (libtorch
// builds that link it statically), packedAttentionAvailable is false and the TypeScript side
// composes the ops as before.
#include <ATen/Parallel.h>
#include <dlfcn.h>

#include "common.h"

namespace kestrel {
namespace {

// dnnl_sgemm (oneDNN's dnnl.h): row-major C = alpha·op(A)·op(B) + beta·C; returns dnnl_status_t.
using Sgemm = int (*)(char, char, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float, float*,
                      int64_t);

Sgemm findSgemm() {
  static const Sgemm fn = [] {
    void* lib = dlopen("libdnnl.so.2", RTLD_LAZY | RTLD_NOLOAD);
    void* sym = lib != nullptr ? dlsym(lib, "dnnl_sgemm") : dlsym(RTLD_DEFAULT, "dnnl_sgemm");
    return reinterpret_cast<Sgemm>(sym);
  }();
  return fn;
}

void gemm(char ta, char tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
          float* c, int64_t ldc) {
  if (findSgemm()(ta, tb, m, n, k, alpha, a, lda, b, ldb, 0.0f, c, ldc) != 0) throw std::runtime_error("packed attention: dnnl_sgemm failed");
}

// Runs fn(b, h) for every (batch, head) pair on ATen's threads.
template <typename F>
void eachHead(int64_t batch, int64_t heads, const F& fn) {
  at::parallel_for(0, batch * heads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) fn(i / heads, i % heads);
  });
}

}  // namespace

// Named outside the anonymous namespace: a tensor's gradFn reads CppNode<kestrel::PackedAttention>.
struct PackedAttention : public torch::autograd::Function<PackedAttention> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& qkvIn, int64_t heads, double scaleIn) {
    const at::Tensor qkv = qkvIn.contiguous();
    const int64_t B = qkv.size(0), N = qkv.size(1), C = qkv.size(2) / 3, d = C / heads;
    const float scale = static_cast<float>(scaleIn);
    at::Tensor scores = at::empty({B, heads, N, N}, qkv.options());
    at::Tensor out = at::empty({B, N, C}, qkv.options());
    const float* src = qkv.data_ptr<float>();
    float* s = scores.data_ptr<float>();
    float* o = out.data_ptr<float>();
    eachHead(B, heads, [&](int64_t b, int64_t h) {
      const float* q = src + b * N * 3 * C + h * d;
      gemm('N', 'T', N, N, d, scale, q, 3 * C, q + C, 3 * C, s + (b * heads + h) * N * N, N);
    });
    at::Tensor probs = at::_softmax(scores, -1, false);
    scores.reset();
    const float* p = probs.data_ptr<float>();
    eachHead(B, heads, [&](int64_t b, int64_t h) {
      const float* v = src + b * N * 3 * C + 2 * C + h * d;
      gemm('N', 'N', N, d, N, 1.0f, p + (b * heads + h) * N * N, N, v, 3 * C, o + b * N * C + h * d, C);
    });
    ctx->save_for_backward({qkv, probs});
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["scale"] = scaleIn;
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor& qkv = saved[0];
    const at::Tensor& probs = saved[1];
    const int64_t heads = ctx->saved_data["heads"].toInt();
    const float scale = static_cast<float>(ctx->saved_data["scale"].toDouble());
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor()};
    const at::Tensor dOut = grads[0].contiguous();
    const int64_t B = qkv.size(0), N = qkv.size(1), C = qkv.size(2) / 3, d = C / heads;
    at::Tensor dQkv = at::empty_like(qkv);
    at::Tensor dProbs = at::empty_like(probs);
    const float* src = qkv.data_ptr<float>();
    const float* p = probs.data_ptr<float>();
    const float* go = dOut.data_ptr<float>();
    float* dsrc = dQkv.data_ptr<float>();
    float* dp = dProbs.data_ptr<float>();
    // dV = Pᵀ·dO; dP = dO·Vᵀ
    eachHead(B, heads, [&](int64_t b, int64_t h) {
      const int64_t row = b * N * 3 * C + h * d, head = (b * heads + h) * N * N;
      const float* dO = go + b * N * C + h * d;
      gemm('T', 'N', N, d, N, 1.0f, p + head, N, dO, C, dsrc + row + 2 * C, 3 * C);
      gemm('N', 'T', N, N, d, 1.0f, dO, C, src + row + 2 * C, 3 * C, dp + head, N);
    });
    at::Tensor dScores = at::_softmax_backward_data(dProbs, probs, -1, at::kFloat);
    dProbs.reset();
    const float* ds = dScores.data_ptr<float>();
    // dQ = scale·dS·K; dK = scale·dSᵀ·Q
    eachHead(B, heads, [&](int64_t b, int64_t h) {
      const int64_t row = b * N * 3 * C + h * d, head = (b * heads + h) * N * N;
      gemm('N', 'N', N, d, N, scale, ds + head, N, src + row + C, 3 * C, dsrc + row, 3 * C);
      gemm('T', 'N', N, d, N, scale, ds + head, N, src + row, 3 * C, dsrc + row + C, 3 * C);
    });
    return {dQkv, at::Tensor(), at::Tensor()};
  }
};

namespace {

// packedAttention(qkv [B, N, 3·C] float32 CPU, heads, scale) → [B, N, C]
KESTREL_FN(packedAttention) {
  auto env = info.Env();
  const at::Tensor& qkv = unwrapTensor(env, info[0]);
  const int64_t heads = info[1].As<Napi::Number>().Int64Value();
  const double scale = info[2].As<Napi::Number>().DoubleValue();
  if (findSgemm() == nullptr) throw std::invalid_argument("packedAttention(): oneDNN's dnnl_sgemm is not in this process");
  if (qkv.dim() != 3 || qkv.scalar_type() != at::kFloat || !qkv.device().is_cpu()) {
    throw std::invalid_argument("packedAttention(): qkv must be a [B, N, 3·C] float32 CPU tensor");
  }
  if (heads < 1 || qkv.size(2) % (3 * heads) != 0) {
    throw std::invalid_argument("packedAttention(): the last dimension must be 3 × heads × head size");
  }
  return wrapTensor(env, PackedAttention::apply(qkv, heads, scale));
}

KESTREL_FN(packedAttentionAvailable) {
  return Napi::Boolean::New(info.Env(), findSgemm() != nullptr);
}

}  // namespace

void initAttention(Napi::Env env, Napi::Object exports) {
  exports.Set("packedAttention", Napi::Function::New(env, packedAttention));
  exports.Set("packedAttentionAvailable", Napi::Function::New(env, packedAttentionAvailable));
}

}  // namespace kestrel
