# Runs one lamina-bundle command and checks its outcome. Invoked by CTest as
#   cmake -DTOOL=... -DARGS=a|b|c -DEXPECT_EXIT=N [-DEXPECT_STDOUT=regex]
#         [-DEXPECT_STDERR=regex] [-DEXPECT_MISSING=path]
#         [-DKEEP_FILE=path -DREFERENCE=path] [-DNO_TEMP_IN=dir] -P run_cli.cmake
# ARGS uses '|' between arguments (a ';' would be split by CTest).
# Regexes in EXPECT_STDOUT/EXPECT_STDERR are also '|'-separated: all must match.
# KEEP_FILE is set to a copy of REFERENCE first and must be unchanged after.
cmake_minimum_required(VERSION 3.25)

foreach(required TOOL EXPECT_EXIT)
  if(NOT DEFINED ${required})
    message(FATAL_ERROR "run_cli.cmake: ${required} is not set")
  endif()
endforeach()

string(REPLACE "|" ";" arguments "${ARGS}")
if(DEFINED EXPECT_MISSING)
  file(REMOVE "${EXPECT_MISSING}")
endif()
if(DEFINED KEEP_FILE)
  file(COPY_FILE "${REFERENCE}" "${KEEP_FILE}")
endif()

execute_process(
  COMMAND "${TOOL}" ${arguments}
  RESULT_VARIABLE exit_code
  OUTPUT_VARIABLE stdout
  ERROR_VARIABLE stderr)

set(failures "")
if(NOT exit_code STREQUAL EXPECT_EXIT)
  string(APPEND failures "exit code ${exit_code}, expected ${EXPECT_EXIT}\n")
endif()

function(expect_all_match stream text patterns)
  string(REPLACE "|" ";" patterns "${patterns}")
  foreach(pattern IN LISTS patterns)
    if(NOT text MATCHES "${pattern}")
      string(APPEND failures "${stream} does not match \"${pattern}\"\n")
    endif()
  endforeach()
  set(failures "${failures}" PARENT_SCOPE)
endfunction()

if(DEFINED EXPECT_STDOUT)
  expect_all_match(stdout "${stdout}" "${EXPECT_STDOUT}")
endif()
if(DEFINED EXPECT_STDERR)
  expect_all_match(stderr "${stderr}" "${EXPECT_STDERR}")
endif()
if(DEFINED EXPECT_MISSING AND EXISTS "${EXPECT_MISSING}")
  string(APPEND failures "${EXPECT_MISSING} exists but the command should not have written it\n")
endif()
if(DEFINED KEEP_FILE)
  file(SHA256 "${KEEP_FILE}" kept)
  file(SHA256 "${REFERENCE}" reference)
  if(NOT kept STREQUAL reference)
    string(APPEND failures "${KEEP_FILE} was modified by a failed command\n")
  endif()
endif()
if(DEFINED NO_TEMP_IN)
  # Only this command's own temporary file (".OUT.tmp-*" next to the -o
  # argument): tests running in parallel may be writing theirs right now.
  set(own_output "*")
  list(FIND arguments "-o" output_flag)
  if(output_flag GREATER_EQUAL 0)
    math(EXPR output_index "${output_flag} + 1")
    list(GET arguments ${output_index} output)
    get_filename_component(own_output "${output}" NAME)
  endif()
  file(GLOB leftovers "${NO_TEMP_IN}/.${own_output}.tmp-*")
  if(leftovers)
    string(APPEND failures "temporary files left behind: ${leftovers}\n")
  endif()
endif()

if(failures)
  list(JOIN arguments " " shown)
  message(FATAL_ERROR "${TOOL} ${shown}\n${failures}--- stdout:\n${stdout}--- stderr:\n${stderr}")
endif()
