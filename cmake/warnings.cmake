# Warning flags for every Warren target (STYLE.md). -Werror comes from WARREN_WERROR.
set(WARREN_WARNINGS
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wimplicit-fallthrough)
if(WARREN_WERROR)
  list(APPEND WARREN_WARNINGS -Werror)
endif()

function(warren_target_warnings target)
  target_compile_options(${target} PRIVATE ${WARREN_WARNINGS})
endfunction()
