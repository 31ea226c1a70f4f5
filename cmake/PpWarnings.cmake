# pp_warnings: the warning flags every pp target builds with (an interface target).
add_library(pp_warnings INTERFACE)
target_compile_options(pp_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wconversion-null
   -Wnon-virtual-dtor -Wno-missing-field-initializers>)
add_library(pp::warnings ALIAS pp_warnings)
