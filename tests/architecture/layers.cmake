# Fails when a public header includes a header of a higher layer (docs/architecture.md):
#
#   core -> data -> {nn, optim, metrics} -> models -> train -> meta -> report -> registry
#
# A header may include its own layer and any layer below it; the three layers of rank 2 do not
# include each other. The layer of include/metarec/<dir>/... is <dir> (its detail/ folder too);
# of a group header include/metarec/<dir>.hpp (or models/<family>.hpp) it is <dir>; metarec.hpp
# is above everything. Run: cmake -DSOURCE_DIR=<repo> -P tests/architecture/layers.cmake
cmake_minimum_required(VERSION 3.21)
if(NOT SOURCE_DIR)
  message(FATAL_ERROR "layers.cmake: pass -DSOURCE_DIR=<repository root>")
endif()

set(rank_core 0)
set(rank_data 1)
set(rank_nn 2)
set(rank_optim 2)
set(rank_metrics 2)
set(rank_models 3)
set(rank_train 4)
set(rank_meta 5)
set(rank_report 6)
set(rank_registry 7)
set(rank_umbrella 8)

# The layer of a header path relative to include/ (e.g. metarec/data/detail/text_file.hpp).
function(layer_of path out)
  if(path STREQUAL "metarec.hpp")
    set(${out} umbrella PARENT_SCOPE)
    return()
  endif()
  string(REGEX MATCH "^metarec/([a-z_]+)" m "${path}")
  set(layer "${CMAKE_MATCH_1}")
  if(NOT DEFINED rank_${layer})
    message(SEND_ERROR "layers.cmake: ${path} is in no known layer ('${layer}'); add the layer to "
                       "tests/architecture/layers.cmake and docs/architecture.md")
  endif()
  set(${out} ${layer} PARENT_SCOPE)
endfunction()

file(GLOB_RECURSE headers RELATIVE ${SOURCE_DIR}/include ${SOURCE_DIR}/include/*.hpp)
set(violations 0)
set(checked 0)
foreach(h IN LISTS headers)
  layer_of(${h} from)
  file(STRINGS ${SOURCE_DIR}/include/${h} includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]metarec")
  foreach(line IN LISTS includes)
    string(REGEX MATCH "[<\"](metarec[^>\"]*)[>\"]" m "${line}")
    set(target "${CMAKE_MATCH_1}")
    layer_of(${target} to)
    math(EXPR checked "${checked} + 1")
    set(bad FALSE)
    if(rank_${to} GREATER rank_${from})
      set(bad TRUE)
    elseif(rank_${to} EQUAL rank_${from} AND NOT to STREQUAL from AND NOT from STREQUAL "umbrella")
      set(bad TRUE)
    endif()
    if(bad)
      message(SEND_ERROR "layering: include/${h} (layer ${from}) includes <${target}> (layer ${to}), "
                         "a higher or sibling layer; move the shared part down (docs/architecture.md)")
      math(EXPR violations "${violations} + 1")
    endif()
  endforeach()
endforeach()
list(LENGTH headers n)
if(checked EQUAL 0)
  message(FATAL_ERROR "layers.cmake: no #include of a metarec header found under ${SOURCE_DIR}/include")
endif()
if(violations GREATER 0)
  message(FATAL_ERROR "layering: ${violations} include(s) run against the layers")
endif()
message(STATUS "layering: ${n} headers, ${checked} includes, all downward")
