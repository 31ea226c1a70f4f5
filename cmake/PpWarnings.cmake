# pp_warnings: the warning flags every pp target builds with (an interface target).
# PP_WARNINGS_AS_ERRORS (ON in CI through scripts/test.sh) turns them into errors.
option(PP_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" OFF)
add_library(pp_warnings INTERFACE)
target_compile_options(pp_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wconversion-null
   -Wnon-virtual-dtor -Wno-missing-field-initializers>
  $<$<AND:$<BOOL:${PP_WARNINGS_AS_ERRORS}>,$<COMPILE_LANGUAGE:CXX>>:-Werror>
  $<$<AND:$<BOOL:${PP_WARNINGS_AS_ERRORS}>,$<COMPILE_LANGUAGE:CUDA>>:-Werror=all-warnings>)
add_library(pp::warnings ALIAS pp_warnings)
