# cmake --install build/<preset> --prefix <dir>: the public headers (framework/include plus the
# generated warren/protocol/methods.hpp, see framework/protocol), the static libraries, and a CMake
# package, so that an application does
#   find_package(warren REQUIRED)
#   target_link_libraries(app PRIVATE warren::warren)
# Every warren_add_library target is exported as warren::<module>; warren::warren is the
# umbrella (framework/CMakeLists.txt). Include this file after add_subdirectory(framework).
include(CMakePackageConfigHelpers)

set(WARREN_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/warren)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/framework/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.hpp")

get_property(_warren_libraries GLOBAL PROPERTY WARREN_LIBRARIES)
install(TARGETS ${_warren_libraries}
        EXPORT warrenTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT warrenTargets
        NAMESPACE warren::
        DESTINATION ${WARREN_INSTALL_CMAKEDIR})

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/warrenConfig.cmake.in
  ${PROJECT_BINARY_DIR}/warrenConfig.cmake
  INSTALL_DESTINATION ${WARREN_INSTALL_CMAKEDIR})
# 0.x: a minor version may break the API.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/warrenConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/warrenConfig.cmake ${PROJECT_BINARY_DIR}/warrenConfigVersion.cmake
        DESTINATION ${WARREN_INSTALL_CMAKEDIR})
