# NCCL ships without a CMake package: find it beside the CUDA toolkit and make an imported target.
find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR})
if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
  add_library(pp_nccl UNKNOWN IMPORTED)
  set_target_properties(pp_nccl PROPERTIES
    IMPORTED_LOCATION ${NCCL_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${NCCL_INCLUDE_DIR})
  add_library(pp::nccl ALIAS pp_nccl)
  set(PP_HAVE_NCCL ON)
  message(STATUS "NCCL: ${NCCL_LIBRARY}")
else()
  set(PP_HAVE_NCCL OFF)
  message(STATUS "NCCL: not found; the NCCL transport is not built")
endif()
