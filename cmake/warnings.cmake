# Warning flags for every Warren target, set here only. -Werror comes from WARREN_WERROR (ci preset).
set(WARREN_WARNINGS
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wimplicit-fallthrough)
# GCC 12 reports -Wmismatched-new-delete inside Boost.Asio's awaitable frame allocator
# (thread_info_base::allocate pairs aligned_new with a sized operator delete) once inlining is
# on (-O1, as in the asan/ci presets). It is a false positive in Asio's own code, not ours.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND WARREN_WARNINGS -Wno-mismatched-new-delete)
endif()
if(WARREN_WERROR)
  list(APPEND WARREN_WARNINGS -Werror)
endif()

function(warren_target_warnings target)
  target_compile_options(${target} PRIVATE ${WARREN_WARNINGS})
endfunction()
