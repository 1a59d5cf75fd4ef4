# mcgen_classifier(TARGET MODEL [CONV type] [INPUT CxHxW] [CLASSES n] [GENERIC])
#
# Builds a standalone classifier executable TARGET (in the build tree's
# classifiers/ folder) from the description MODEL with `mcgen build`,
# rebuilt when the description, the templates, mcgen or the runtime change.
function(mcgen_classifier target model)
  cmake_parse_arguments(ARG "GENERIC" "CONV;INPUT;CLASSES" "" ${ARGN})
  set(args "")
  if(ARG_CONV)
    list(APPEND args --conv ${ARG_CONV})
  endif()
  if(ARG_INPUT)
    list(APPEND args --input ${ARG_INPUT})
  endif()
  if(ARG_CLASSES)
    list(APPEND args --classes ${ARG_CLASSES})
  endif()
  if(ARG_GENERIC)
    list(APPEND args --generic)
  endif()
  get_filename_component(model_path ${model} ABSOLUTE BASE_DIR ${PROJECT_SOURCE_DIR})
  file(GLOB templates ${PROJECT_SOURCE_DIR}/templates/c/*.m4)
  set(exe ${PROJECT_BINARY_DIR}/classifiers/${target})
  add_custom_command(OUTPUT ${exe}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/classifiers
    COMMAND ${CMAKE_COMMAND} -E env CC=${CMAKE_C_COMPILER} $<TARGET_FILE:mcgen> build ${model_path} ${args} -o ${exe}
    DEPENDS mcgen mcgen_runtime ${model_path} ${templates}
    COMMENT "mcgen build ${target}"
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS ${exe})
endfunction()
