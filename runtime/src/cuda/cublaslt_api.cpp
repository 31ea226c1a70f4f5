#include "cuda/cublaslt_api.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <string>

#include "pp/error.h"

namespace pp::cuda {
namespace {

template <class F>
void resolve(void* library, const char* name, F* out) {
  void* symbol = dlsym(library, name);
  if (symbol == nullptr) {
    throw_invalid(fmt::format("cuBLASLt has no '{}' (an older library than pp was built for?)", name));
  }
  *out = reinterpret_cast<F>(symbol);
}

CublasLtApi load() {
  const std::string name = fmt::format("libcublasLt.so.{}", CUBLAS_VER_MAJOR);
  void* library = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* why = dlerror();
    throw_invalid(fmt::format("cannot load {} for the GPU's matrix products: {} (is the CUDA toolkit's lib "
                              "directory on LD_LIBRARY_PATH?)",
                              name, why != nullptr ? why : "unknown error"));
  }
  CublasLtApi api{};
  resolve(library, "cublasLtCreate", &api.Create);
  resolve(library, "cublasLtDestroy", &api.Destroy);
  resolve(library, "cublasLtMatmul", &api.Matmul);
  resolve(library, "cublasLtMatmulAlgoGetHeuristic", &api.MatmulAlgoGetHeuristic);
  resolve(library, "cublasLtMatmulDescCreate", &api.MatmulDescCreate);
  resolve(library, "cublasLtMatmulDescDestroy", &api.MatmulDescDestroy);
  resolve(library, "cublasLtMatmulDescSetAttribute", &api.MatmulDescSetAttribute);
  resolve(library, "cublasLtMatmulPreferenceCreate", &api.MatmulPreferenceCreate);
  resolve(library, "cublasLtMatmulPreferenceDestroy", &api.MatmulPreferenceDestroy);
  resolve(library, "cublasLtMatmulPreferenceSetAttribute", &api.MatmulPreferenceSetAttribute);
  resolve(library, "cublasLtMatrixLayoutCreate", &api.MatrixLayoutCreate);
  resolve(library, "cublasLtMatrixLayoutDestroy", &api.MatrixLayoutDestroy);
  return api;  // the library stays loaded for the process's life
}

}  // namespace

const CublasLtApi& cublaslt() {
  static const CublasLtApi api = load();
  return api;
}

}  // namespace pp::cuda
