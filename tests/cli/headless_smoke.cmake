# The Qt-free build's check: the CLI creates a workspace, records and lists a run, and finds
# the built-in method plugins.
# cmake -DCLI=path/to/tunebench-cli -DWORK=scratch/folder -P headless_smoke.cmake

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

function(run_cli expect_code)
  execute_process(COMMAND "${CLI}" ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code EQUAL expect_code)
    message(FATAL_ERROR "tunebench-cli ${ARGN}: exit ${code}, expected ${expect_code}\n${out}\n${err}")
  endif()
  set(OUT "${out}" PARENT_SCOPE)
endfunction()

run_cli(0 --version)
if(NOT OUT MATCHES "^Tunebench [0-9]+\\.[0-9]+\\.[0-9]+\nLibTorch [0-9.]+")
  message(FATAL_ERROR "unexpected --version output: ${OUT}")
endif()
run_cli(0 workspace init "${WORK}/ws")
run_cli(0 runs list --workspace "${WORK}/ws")
if(NOT OUT STREQUAL "")
  message(FATAL_ERROR "an empty workspace listed runs: ${OUT}")
endif()
file(WRITE "${WORK}/run.yaml" "name: smoke\nadapter: lora\nobjective: sft\n")
run_cli(0 runs create --workspace "${WORK}/ws" --config "${WORK}/run.yaml")
run_cli(0 runs list --workspace "${WORK}/ws")
if(NOT OUT MATCHES "^1\tqueued\tsmoke\tlora\tsft\t")
  message(FATAL_ERROR "unexpected runs list output: ${OUT}")
endif()
run_cli(1 runs show 9 --workspace "${WORK}/ws")
run_cli(0 plugins list)
foreach(method IN ITEMS "adapter\tfull" "adapter\tlora" "objective\tsft")
  if(NOT OUT MATCHES "${method}\t")
    message(FATAL_ERROR "plugins list does not show ${method}:\n${OUT}")
  endif()
endforeach()
if(OUT MATCHES "broken")
  message(FATAL_ERROR "a built-in plugin could not be loaded:\n${OUT}")
endif()
# Metrics export needs no Qt; reports do, and say so.
run_cli(0 metrics --workspace "${WORK}/ws" --run 1 --format csv)
if(NOT OUT MATCHES "^run,run_name,metric,step,value,time,elapsed_s\r?\n$")
  message(FATAL_ERROR "unexpected metrics output for a run without metrics: ${OUT}")
endif()
# No renderer module is beside a Qt-free build's CLI, nor (on a build machine) installed.
execute_process(COMMAND "${CMAKE_COMMAND}" -E env --unset=TUNEBENCH_REPORT_RENDERER
                        "${CLI}" report --workspace "${WORK}/ws" --runs 1 --out "${WORK}/r.html"
                RESULT_VARIABLE code ERROR_VARIABLE err)
if(NOT code EQUAL 1 OR NOT err MATCHES "reports are rendered by the desktop build")
  message(FATAL_ERROR "report in the Qt-free build: exit ${code}\n${err}")
endif()
message(STATUS "headless CLI smoke test passed")
