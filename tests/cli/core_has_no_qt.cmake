# core/ and plugins/ include nothing from Qt, and tunebench-cli loads no Qt library.
# cmake -DSOURCE_DIR=... -DCLI=path/to/tunebench-cli -P core_has_no_qt.cmake

file(GLOB_RECURSE sources "${SOURCE_DIR}/core/*" "${SOURCE_DIR}/plugins/*")
set(offenders "")
foreach(file IN LISTS sources)
  if(NOT file MATCHES "\\.(h|hpp|cpp|cc|in)$")
    continue()
  endif()
  file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"](Q[A-Za-z]|qcustomplot)")
  if(lines)
    list(APPEND offenders "${file}: ${lines}")
  endif()
endforeach()
if(offenders)
  string(REPLACE ";" "\n" offenders "${offenders}")
  message(FATAL_ERROR "Qt headers included in core or plugins:\n${offenders}")
endif()

# Direct dependencies only (readelf, not ldd): Debian's LibTorch itself pulls in
# Qt 5 through OpenCV's highgui, which is LibTorch's packaging, not ours.
foreach(binary IN ITEMS "${CLI}" "${CORE}")
  execute_process(COMMAND readelf -d "${binary}" OUTPUT_VARIABLE needed RESULT_VARIABLE code)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "readelf -d ${binary} failed")
  endif()
  if(NOT needed MATCHES "NEEDED.*libtunebench-core|NEEDED.*libtorch")
    message(FATAL_ERROR "readelf -d ${binary} shows no expected dependency:\n${needed}")
  endif()
  if(needed MATCHES "NEEDED[^\n]*(libQt|qcustomplot)")
    message(FATAL_ERROR "${binary} links Qt directly:\n${needed}")
  endif()
endforeach()
message(STATUS "core and plugins include no Qt header; tunebench-cli and tunebench_core link no Qt library")
