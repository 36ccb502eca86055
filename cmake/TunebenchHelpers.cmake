# Helpers shared by every Tunebench target: warnings, sanitizers, the LibTorch
# precompiled header, plugins and tests.

# Project-code warnings and sanitizers; third-party headers come in as SYSTEM
# includes through their imported targets, so they do not trip -Werror.
function(tunebench_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow=local
                                           -Wnon-virtual-dtor -Wno-unused-parameter
                                           # Aggregates with default member initialisers are meant
                                           # to be initialised in part ({.name = "x"}).
                                           -Wno-missing-field-initializers)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # GCC 12 reports false -Wrestrict hits inside std::string at -O3 (GCC bug 105329).
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(TUNEBENCH_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(TUNEBENCH_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
  target_compile_definitions(${target} PRIVATE QT_NO_KEYWORDS)
endfunction()

# Checks the LibTorch found (Debian's, or one from PyTorch via CMAKE_PREFIX_PATH,
# e.g. a CUDA build) against the rest of the build. Tunebench links Debian's
# yaml-cpp (and Qt), built with the C++11 std::string ABI; a LibTorch built with
# the old ABI puts -D_GLIBCXX_USE_CXX11_ABI=0 on everything linking it, and the
# build would end in undefined std::string symbols, so it stops here instead.
function(tunebench_check_torch)
  set(flags "${TORCH_CXX_FLAGS}")
  if(TARGET torch)
    get_target_property(options torch INTERFACE_COMPILE_OPTIONS)
    if(options)
      string(APPEND flags " ${options}")
    endif()
  endif()
  if(flags MATCHES "_GLIBCXX_USE_CXX11_ABI=0")
    message(FATAL_ERROR
      "The LibTorch in ${Torch_DIR} was built with the pre-C++11 std::string ABI (_GLIBCXX_USE_CXX11_ABI=0), "
      "while yaml-cpp and Qt from Debian use the C++11 ABI, so Tunebench cannot link against it. "
      "Use a LibTorch with the C++11 ABI: PyTorch 2.7 or newer from pip "
      "(python3 -c 'import torch; print(torch.compiled_with_cxx11_abi())' prints True), "
      "or the 'cxx11 ABI' LibTorch archive from pytorch.org.")
  endif()
  # A CUDA LibTorch: core reads CUDA memory through c10_cuda (core/device_memory.cpp), and
  # --version names the CUDA it was built with.
  if(TARGET torch_cuda OR TARGET c10_cuda OR TORCH_CUDA_LIBRARIES)
    set(cuda_version "${CUDAToolkit_VERSION_MAJOR}.${CUDAToolkit_VERSION_MINOR}")
    message(STATUS "LibTorch ${Torch_VERSION} with CUDA ${cuda_version} (${Torch_DIR})")
    set(TUNEBENCH_WITH_CUDA 1 PARENT_SCOPE)
    set(TUNEBENCH_CUDA_VERSION "${cuda_version}" PARENT_SCOPE)
  else()
    message(STATUS "LibTorch ${Torch_VERSION}, CPU only (${Torch_DIR})")
    set(TUNEBENCH_WITH_CUDA 0 PARENT_SCOPE)
    set(TUNEBENCH_CUDA_VERSION "" PARENT_SCOPE)
  endif()
endfunction()

# Reuse the LibTorch precompiled header (tunebench_torch_pch, core/), so the
# ATen headers are parsed once per build, not once per file.
function(tunebench_use_torch_pch target)
  if(TUNEBENCH_PCH)
    target_precompile_headers(${target} REUSE_FROM tunebench_torch_pch)
  endif()
endfunction()

# tunebench_add_plugin(NAME SOURCES ...)
# A fine-tuning method as a loadable module against the core method API.
# Built into <build>/plugins and installed into <libdir>/tunebench/plugins,
# with the folder's conformance.yaml (an adapter's conformance rows) beside it.
function(tunebench_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  set(target tunebench_plugin_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE Tunebench::core ${ARG_LIBRARIES})
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME tunebench_${name}
    PREFIX ""
    LIBRARY_OUTPUT_DIRECTORY ${TUNEBENCH_PLUGIN_BUILD_DIR}
    CXX_VISIBILITY_PRESET hidden
    # Installed in <libdir>/tunebench/plugins: libtunebench-core is two folders up.
    INSTALL_RPATH "$ORIGIN/../..")
  tunebench_target_defaults(${target})
  tunebench_use_torch_pch(${target})
  install(TARGETS ${target} LIBRARY DESTINATION ${TUNEBENCH_PLUGIN_INSTALL_DIR})
  # An adapter's conformance rows (core/conformance/adapter_conformance.h) go beside its library, where
  # `tunebench-cli plugins check` and the test suite find them.
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/conformance.yaml)
    set(conformance ${TUNEBENCH_PLUGIN_BUILD_DIR}/tunebench_${name}.conformance.yaml)
    configure_file(${CMAKE_CURRENT_SOURCE_DIR}/conformance.yaml ${conformance} COPYONLY)
    install(FILES ${conformance} DESTINATION ${TUNEBENCH_PLUGIN_INSTALL_DIR})
  endif()
  set_property(GLOBAL APPEND PROPERTY TUNEBENCH_PLUGIN_TARGETS ${target})
endfunction()

# tunebench_add_test(NAME SOURCES ... [LABELS unit|integration|gui|slow|bench|reference ...]
#                    [LIBRARIES ...] [TORCH] [TIMEOUT s] [ARGS ...])
# One Qt Test executable per unit, registered with CTest under its labels.
# GUI tests run on the offscreen platform.
function(tunebench_add_test name)
  cmake_parse_arguments(ARG "TORCH" "TIMEOUT" "SOURCES;LABELS;LIBRARIES;ARGS" ${ARGN})
  if(NOT ARG_LABELS)
    message(FATAL_ERROR "tunebench_add_test(${name}): give at least one label")
  endif()
  foreach(label IN LISTS ARG_LABELS)
    if(NOT label MATCHES "^(unit|integration|gui|slow|bench|reference)$")
      message(FATAL_ERROR "tunebench_add_test(${name}): unknown label '${label}'")
    endif()
  endforeach()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE Qt6::Test ${ARG_LIBRARIES})
  target_compile_definitions(${name} PRIVATE
    TUNEBENCH_BINARY_DIR="${PROJECT_BINARY_DIR}"
    TUNEBENCH_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    TUNEBENCH_CLI="$<TARGET_FILE:tunebench-cli>")
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  tunebench_target_defaults(${name})
  if(ARG_TORCH)
    tunebench_use_torch_pch(${name})
  endif()
  set(args ${ARG_ARGS})
  if("gui" IN_LIST ARG_LABELS)
    list(APPEND args -platform offscreen)
  endif()
  add_test(NAME ${name} COMMAND ${name} ${args})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  # Qt Test's own per-function watchdog (5 minutes by default) follows the test's timeout.
  math(EXPR function_timeout_ms "${ARG_TIMEOUT} * 1000")
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "QT_QPA_PLATFORM=offscreen;TUNEBENCH_PLUGIN_PATH=${TUNEBENCH_PLUGIN_BUILD_DIR};QTEST_FUNCTION_TIMEOUT=${function_timeout_ms}")
  if("bench" IN_LIST ARG_LABELS)
    # Figures measured beside another test would mostly measure the other test.
    set_tests_properties(${name} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()

# tunebench_add_reference_test(NAME SCRIPT script.py [ARGS ...] [LABELS ...] [TIMEOUT s])
# A parity test written in Python against the reference environment (tests/reference/run):
# label 'reference' (plus LABELS); exit 77 (no reference environment) is reported as skipped.
# ARGS may hold generator expressions such as $<TARGET_FILE:tunebench-cli>.
function(tunebench_add_reference_test name)
  cmake_parse_arguments(ARG "" "SCRIPT;TIMEOUT" "ARGS;LABELS;DEPENDS" ${ARGN})
  add_test(NAME ${name} COMMAND ${PROJECT_SOURCE_DIR}/tests/reference/run ${ARG_SCRIPT} ${ARG_ARGS})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "reference;${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    SKIP_RETURN_CODE 77
    ENVIRONMENT "TUNEBENCH_PLUGIN_PATH=${TUNEBENCH_PLUGIN_BUILD_DIR}")
  if("bench" IN_LIST ARG_LABELS)
    set_tests_properties(${name} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()
