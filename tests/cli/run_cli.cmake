# Runs the metarec command-line tool once and checks what it did. Used by tests/cli/CMakeLists.txt:
#
#   cmake -DMETAREC=<binary> [options] -P run_cli.cmake -- <arguments of metarec>...
#
# Options (all optional):
#   EXPECT_RC=<n>           expected exit code (default 0)
#   STDOUT_REGEX=<re>       stdout must match (CMake regex; '.' also matches newlines)
#   STDERR_REGEX=<re>       stderr must match
#   STDOUT_NOT_REGEX=<re>   stdout must not match
#   JSON_CHECKS=<k=v,...>   the LAST line of stdout is a JSON object and each key (nested keys
#                           joined by '/', e.g. histogram/5) has exactly this value as CMake's
#                           string(JSON GET) returns it (numbers as written, booleans ON/OFF,
#                           null as "null")
#   REAL_DATA=<name>        needs <real data>/<name> ($METAREC_REAL_DATA, else ../shared/data beside
#                           the source tree); when absent, prints METAREC-SKIP and succeeds (the
#                           test's SKIP_REGULAR_EXPRESSION turns that into "skipped"). The argument
#                           @REAL@ is replaced by that directory.
#   SOURCE_DIR=<dir>        the source tree (for REAL_DATA)
#   CLEAN_DIRS=<d1,d2>      removed before the run, so stale outputs cannot satisfy the checks
#   EXPECT_FILES=<f1,f2>    must exist after the run
#   EXPECT_ABSENT=<p1,p2>   must not exist after the run
#   SAME_FILES=<dirA>,<dirB>,<f1>,<f2>...       each fi identical in dirA and dirB
#   DIFFERENT_FILE=<dirA>,<dirB>,<f>            f differs between dirA and dirB
cmake_minimum_required(VERSION 3.21)

function(fail)
  string(JOIN "" msg ${ARGN})
  # NOTICE keeps the outputs verbatim (FATAL_ERROR would reflow them).
  message(NOTICE "--- command: ${command_text}\n--- exit code: ${rc}\n--- stdout:\n${out}"
                 "--- stderr:\n${err}")
  message(FATAL_ERROR "run_cli: ${msg}")
endfunction()

if(NOT DEFINED METAREC)
  message(FATAL_ERROR "run_cli: pass -DMETAREC=<path of the metarec binary>")
endif()

# Arguments after "--".
set(args "")
set(collect OFF)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(k RANGE ${last})
  if(collect)
    list(APPEND args "${CMAKE_ARGV${k}}")
  elseif("${CMAKE_ARGV${k}}" STREQUAL "--")
    set(collect ON)
  endif()
endforeach()

if(DEFINED REAL_DATA)
  if(DEFINED ENV{METAREC_REAL_DATA})
    set(real_root "$ENV{METAREC_REAL_DATA}")
  else()
    set(real_root "${SOURCE_DIR}/../shared/data")
  endif()
  set(real_dir "${real_root}/${REAL_DATA}")
  if(NOT IS_DIRECTORY "${real_dir}")
    message("METAREC-SKIP: ${real_dir} is absent (set METAREC_REAL_DATA to the directory holding "
            "${REAL_DATA})")
    return()
  endif()
  list(TRANSFORM args REPLACE "@REAL@" "${real_dir}")
endif()

if(DEFINED CLEAN_DIRS)
  string(REPLACE "," ";" dirs "${CLEAN_DIRS}")
  foreach(d IN LISTS dirs)
    file(REMOVE_RECURSE "${d}")
  endforeach()
endif()

if(NOT DEFINED EXPECT_RC)
  set(EXPECT_RC 0)
endif()
string(JOIN " " command_text "${METAREC}" ${args})
execute_process(COMMAND "${METAREC}" ${args}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)

if(NOT "${rc}" STREQUAL "${EXPECT_RC}")
  fail("expected exit code ${EXPECT_RC}")
endif()
if(DEFINED STDOUT_REGEX AND NOT out MATCHES "${STDOUT_REGEX}")
  fail("stdout does not match '${STDOUT_REGEX}'")
endif()
if(DEFINED STDOUT_NOT_REGEX AND out MATCHES "${STDOUT_NOT_REGEX}")
  fail("stdout matches '${STDOUT_NOT_REGEX}' but should not")
endif()
if(DEFINED STDERR_REGEX AND NOT err MATCHES "${STDERR_REGEX}")
  fail("stderr does not match '${STDERR_REGEX}'")
endif()

if(DEFINED JSON_CHECKS)
  string(STRIP "${out}" stripped)
  string(FIND "${stripped}" "\n" nl REVERSE)
  if(nl GREATER_EQUAL 0)
    math(EXPR start "${nl} + 1")
    string(SUBSTRING "${stripped}" ${start} -1 json)
  else()
    set(json "${stripped}")
  endif()
  string(JSON type ERROR_VARIABLE json_error TYPE "${json}")
  if(json_error OR NOT type STREQUAL "OBJECT")
    fail("the last line of stdout is not a JSON object (${json_error}): ${json}")
  endif()
  string(REPLACE "," ";" checks "${JSON_CHECKS}")
  foreach(check IN LISTS checks)
    string(FIND "${check}" "=" eq)
    string(SUBSTRING "${check}" 0 ${eq} key)
    math(EXPR vstart "${eq} + 1")
    string(SUBSTRING "${check}" ${vstart} -1 expected)
    string(REPLACE "/" ";" path "${key}")
    string(JSON actual_type ERROR_VARIABLE get_error TYPE "${json}" ${path})
    if(get_error)
      fail("JSON key '${key}' missing: ${get_error}")
    endif()
    if(actual_type STREQUAL "NULL")
      set(actual "null")  # string(JSON GET) returns an empty string for null
    else()
      string(JSON actual GET "${json}" ${path})
    endif()
    if(NOT "${actual}" STREQUAL "${expected}")
      fail("JSON key '${key}' is '${actual}', expected '${expected}'")
    endif()
  endforeach()
endif()

if(DEFINED EXPECT_FILES)
  string(REPLACE "," ";" files "${EXPECT_FILES}")
  foreach(f IN LISTS files)
    if(NOT EXISTS "${f}")
      fail("expected file '${f}' does not exist")
    endif()
  endforeach()
endif()
if(DEFINED EXPECT_ABSENT)
  string(REPLACE "," ";" files "${EXPECT_ABSENT}")
  foreach(f IN LISTS files)
    if(EXISTS "${f}")
      fail("'${f}' should not exist after the run")
    endif()
  endforeach()
endif()

if(DEFINED SAME_FILES)
  string(REPLACE "," ";" same "${SAME_FILES}")
  list(POP_FRONT same dir_a dir_b)
  foreach(f IN LISTS same)
    execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${dir_a}/${f}" "${dir_b}/${f}"
                    RESULT_VARIABLE differ)
    if(NOT differ EQUAL 0)
      fail("${dir_a}/${f} and ${dir_b}/${f} differ (or one is missing); expected identical files")
    endif()
  endforeach()
endif()
if(DEFINED DIFFERENT_FILE)
  string(REPLACE "," ";" diff "${DIFFERENT_FILE}")
  list(GET diff 0 dir_a)
  list(GET diff 1 dir_b)
  list(GET diff 2 f)
  foreach(d IN ITEMS "${dir_a}" "${dir_b}")
    if(NOT EXISTS "${d}/${f}")
      fail("${d}/${f} does not exist")
    endif()
  endforeach()
  execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${dir_a}/${f}" "${dir_b}/${f}"
                  RESULT_VARIABLE differ)
  if(differ EQUAL 0)
    fail("${dir_a}/${f} and ${dir_b}/${f} are identical; expected different files")
  endif()
endif()
