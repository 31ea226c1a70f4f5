#include <memory>
#include <type_traits>

#include "cuda/cublaslt_api.h"
#include "cuda_check.h"
#include "matmul_gemm.cuh"

namespace pp::cuda {
namespace {

struct DescDeleter {
  void operator()(cublasLtMatmulDesc_t p) const { cublaslt().MatmulDescDestroy(p); }
};
struct LayoutDeleter {
  void operator()(cublasLtMatrixLayout_t p) const { cublaslt().MatrixLayoutDestroy(p); }
};
struct PreferenceDeleter {
  void operator()(cublasLtMatmulPreference_t p) const { cublaslt().MatmulPreferenceDestroy(p); }
};
using Desc = std::unique_ptr<std::remove_pointer_t<cublasLtMatmulDesc_t>, DescDeleter>;
using Layout = std::unique_ptr<std::remove_pointer_t<cublasLtMatrixLayout_t>, LayoutDeleter>;
using Preference =
    std::unique_ptr<std::remove_pointer_t<cublasLtMatmulPreference_t>, PreferenceDeleter>;

// A column-major float32 (rows, cols) layout with leading dimension ld.
Layout make_layout(std::int64_t rows, std::int64_t cols, std::int64_t ld) {
  cublasLtMatrixLayout_t layout = nullptr;
  PP_CUBLAS_CHECK(cublaslt().MatrixLayoutCreate(&layout, CUDA_R_32F, static_cast<std::uint64_t>(rows),
                                             static_cast<std::uint64_t>(cols), ld));
  return Layout(layout);
}

template <class T>
void set_desc(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attribute, const T& value) {
  PP_CUBLAS_CHECK(cublaslt().MatmulDescSetAttribute(desc, attribute, &value, sizeof(value)));
}

template <class T>
void set_pref(cublasLtMatmulPreference_t pref, cublasLtMatmulPreferenceAttributes_t attribute,
              const T& value) {
  PP_CUBLAS_CHECK(cublaslt().MatmulPreferenceSetAttribute(pref, attribute, &value, sizeof(value)));
}

}  // namespace

std::uint32_t alignment_of(const void* p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  std::uint32_t alignment = 256;
  while (alignment > 1 && address % alignment != 0) alignment /= 2;
  return alignment;
}

bool try_lt_gemm(const LtContext& context, const LtGemm& g, cudaStream_t stream) {
  const cublasComputeType_t compute =
      context.allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  cublasLtMatmulDesc_t raw_desc = nullptr;
  PP_CUBLAS_CHECK(cublaslt().MatmulDescCreate(&raw_desc, compute, CUDA_R_32F));
  const Desc desc(raw_desc);
  const cublasOperation_t op_a = g.transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = g.transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  set_desc(desc.get(), CUBLASLT_MATMUL_DESC_TRANSA, op_a);
  set_desc(desc.get(), CUBLASLT_MATMUL_DESC_TRANSB, op_b);
  set_desc(desc.get(), CUBLASLT_MATMUL_DESC_EPILOGUE, g.epilogue);
  if (g.bias != nullptr) {
    set_desc(desc.get(), CUBLASLT_MATMUL_DESC_BIAS_POINTER, static_cast<const void*>(g.bias));
  }
  if (g.aux != nullptr) {
    set_desc(desc.get(), CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, g.aux);
    set_desc(desc.get(), CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, g.ldd);
  }
  // Stored shapes (before op): A is (m, k) or, transposed, (k, m); B is (k, n) or (n, k).
  const Layout a = g.transpose_a ? make_layout(g.k, g.m, g.lda) : make_layout(g.m, g.k, g.lda);
  const Layout b = g.transpose_b ? make_layout(g.n, g.k, g.ldb) : make_layout(g.k, g.n, g.ldb);
  const Layout d = make_layout(g.m, g.n, g.ldd);

  cublasLtMatmulPreference_t raw_pref = nullptr;
  PP_CUBLAS_CHECK(cublaslt().MatmulPreferenceCreate(&raw_pref));
  const Preference pref(raw_pref);
  set_pref(pref.get(), CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
           static_cast<std::uint64_t>(context.workspace_bytes));
  // Tensors may be views at any float offset: tell the heuristic the actual alignments (its
  // default assumes 256 bytes).
  set_pref(pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, alignment_of(g.a));
  set_pref(pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, alignment_of(g.b));
  set_pref(pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, alignment_of(g.d));
  set_pref(pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, alignment_of(g.d));

  cublasLtMatmulHeuristicResult_t heuristic{};
  int found = 0;
  const cublasStatus_t status =
      cublaslt().MatmulAlgoGetHeuristic(context.handle, desc.get(), a.get(), b.get(), d.get(),
                                     d.get(), pref.get(), 1, &heuristic, &found);
  if (status == CUBLAS_STATUS_NOT_SUPPORTED || (status == CUBLAS_STATUS_SUCCESS && found == 0)) {
    return false;
  }
  if (status != CUBLAS_STATUS_SUCCESS) {
    fail_call("cublasLtMatmulAlgoGetHeuristic", __FILE__, __LINE__, cublas_status_text(status));
  }
  const cublasStatus_t run =
      cublaslt().Matmul(context.handle, desc.get(), &g.alpha, g.a, a.get(), g.b, b.get(), &g.beta, g.d,
                     d.get(), g.d, d.get(), &heuristic.algo, context.workspace,
                     context.workspace_bytes, stream);
  if (run == CUBLAS_STATUS_NOT_SUPPORTED) return false;  // refused before launching anything
  if (run != CUBLAS_STATUS_SUCCESS) {
    fail_call("cublasLtMatmul", __FILE__, __LINE__, cublas_status_text(run));
  }
  return true;
}

}  // namespace pp::cuda
