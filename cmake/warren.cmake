# warren_add_library(NAME <module> SOURCES ... DEPS ... [CONVERSION])
#   creates warren_<module> and the alias warren::<module>, C++20, PUBLIC framework/include,
#   PRIVATE framework/<module>.
function(warren_add_library)
  cmake_parse_arguments(ARG "CONVERSION" "NAME" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  set(target warren_${ARG_NAME})
  add_library(${target} STATIC ${ARG_SOURCES})
  add_library(warren::${ARG_NAME} ALIAS ${target})
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_include_directories(${target}
    PUBLIC ${PROJECT_SOURCE_DIR}/framework/include
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${target} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  warren_target_warnings(${target})
  if(ARG_CONVERSION)
    target_compile_options(${target} PRIVATE -Wconversion -Wsign-conversion)
  endif()
endfunction()

# warren_add_test(MODULE <module> SOURCES ... DEPS ... [LABELS ...] [TIMEOUT s])
#   one doctest executable per module, warren_<module>_tests, discovered into ctest.
function(warren_add_test)
  cmake_parse_arguments(ARG "" "MODULE;TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 60)
  endif()
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  set(target warren_${ARG_MODULE}_tests)
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE ${ARG_DEPS} warren_doctest_main)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  warren_target_warnings(${target})
  doctest_discover_tests(${target}
    TEST_PREFIX "${ARG_MODULE}: "
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
endfunction()
