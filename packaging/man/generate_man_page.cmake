# Writes a man page from a hand-written roff template and the program's own
# --help, so the page lists exactly the commands and options the binary has.
#
#   cmake -DPROGRAM=path -DMODE=cli|gui -DTEMPLATE=page.1.in -DOUTPUT=page.1
#         -DVERSION=x.y.z -P generate_man_page.cmake
#
# cli: @COMMANDS@ becomes one subsection per command of `PROGRAM --help`, each
#      with that command's `PROGRAM WORDS --help`.
# gui: @OPTIONS@ becomes the Arguments and Options of `PROGRAM --help`.
cmake_minimum_required(VERSION 3.25)
foreach(var PROGRAM MODE TEMPLATE OUTPUT VERSION)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "generate_man_page.cmake: -D${var}=... is missing")
  endif()
endforeach()

# Runs PROGRAM with the arguments; stdout into out_var, fails the build otherwise.
function(run_help out_var)
  execute_process(COMMAND ${PROGRAM} ${ARGN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " words)
    message(FATAL_ERROR "${PROGRAM} ${words}: exit status ${rc}, expected 0\n${err}")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()

# Text as roff: backslashes and minus signs escaped, a leading . or ' made literal.
function(roff_escape out_var text)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REPLACE "-" "\\-" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(${out_var} "${text}" PARENT_SCOPE)
endfunction()

# A help text's lines as a CMake list (semicolons kept).
function(help_lines out_var text)
  string(REPLACE ";" "\\;" text "${text}")
  string(REPLACE "\n" ";" text "${text}")
  set(${out_var} "${text}" PARENT_SCOPE)
endfunction()

set(generated "")
if(MODE STREQUAL "cli")
  run_help(overview --help)
  help_lines(lines "${overview}")
  set(in_commands FALSE)
  set(count 0)
  foreach(line IN LISTS lines)
    if(line STREQUAL "Commands:")
      set(in_commands TRUE)
      continue()
    endif()
    if(NOT in_commands)
      continue()
    endif()
    if(NOT line MATCHES "^  ([^ ].*[^ ]|[^ ])  +(.*)$")
      break() # the blank line after the list
    endif()
    set(words "${CMAKE_MATCH_1}")
    set(summary "${CMAKE_MATCH_2}")
    separate_arguments(word_list UNIX_COMMAND "${words}")
    run_help(help ${word_list} --help)
    string(STRIP "${help}" help)
    roff_escape(words_roff "${words}")
    roff_escape(summary_roff "${summary}")
    roff_escape(help_roff "${help}")
    string(APPEND generated ".SS \"${words_roff}\"\n${summary_roff}.\n.PP\n.RS 2\n.nf\n${help_roff}\n.fi\n.RE\n")
    math(EXPR count "${count} + 1")
  endforeach()
  if(count EQUAL 0)
    message(FATAL_ERROR "${PROGRAM} --help lists no commands (expected a 'Commands:' section)")
  endif()
  set(COMMANDS "${generated}")
elseif(MODE STREQUAL "gui")
  run_help(overview --help)
  # From the first section heading (Options: or Arguments:) on; the usage line names argv[0].
  string(FIND "${overview}" "\nOptions:" at)
  if(at LESS 0)
    message(FATAL_ERROR "${PROGRAM} --help has no 'Options:' section")
  endif()
  string(FIND "${overview}" "\nArguments:" args_at)
  if(args_at GREATER_EQUAL 0 AND args_at LESS at)
    set(at ${args_at})
  endif()
  math(EXPR at "${at} + 1")
  string(SUBSTRING "${overview}" ${at} -1 options)
  string(STRIP "${options}" options)
  roff_escape(options_roff "${options}")
  set(OPTIONS ".nf\n${options_roff}\n.fi\n")
else()
  message(FATAL_ERROR "generate_man_page.cmake: MODE must be cli or gui, not '${MODE}'")
endif()

configure_file(${TEMPLATE} ${OUTPUT} @ONLY)
