# warren_add_library(NAME <module> SOURCES ... DEPS ... [CONVERSION])
#   creates warren_<module> and the alias warren::<module>, C++20, PUBLIC framework/include,
#   PRIVATE framework/<module>. cmake/install.cmake installs and exports it as warren::<module>.
function(warren_add_library)
  cmake_parse_arguments(ARG "CONVERSION" "NAME" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  set(target warren_${ARG_NAME})
  add_library(${target} STATIC ${ARG_SOURCES})
  add_library(warren::${ARG_NAME} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${ARG_NAME})
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_include_directories(${target}
    PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/framework/include>
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${target} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  warren_target_warnings(${target})
  if(ARG_CONVERSION)
    target_compile_options(${target} PRIVATE -Wconversion -Wsign-conversion)
  endif()
  set_property(GLOBAL APPEND PROPERTY WARREN_LIBRARIES ${target})
endfunction()

# warren_add_umbrella(<module>...): warren::warren (target `warren`), the one target an
# application links: an INTERFACE library over warren::<module>... (their dependencies come
# transitively). Installed and exported with the modules.
function(warren_add_umbrella)
  add_library(warren INTERFACE)
  add_library(warren::warren ALIAS warren)
  foreach(module IN LISTS ARGN)
    target_link_libraries(warren INTERFACE warren::${module})
  endforeach()
  set_property(GLOBAL APPEND PROPERTY WARREN_LIBRARIES warren)
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
