# ctest fixture: configure and build this folder into OOT_BINARY_DIR.
#   cmake -DOOT_SOURCE_DIR=... -DOOT_BINARY_DIR=... -DHOTLINE_INCLUDE_DIR=... -P build.cmake
execute_process(COMMAND ${CMAKE_COMMAND} -S ${OOT_SOURCE_DIR} -B ${OOT_BINARY_DIR}
                        -DHOTLINE_INCLUDE_DIR=${HOTLINE_INCLUDE_DIR}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the out-of-tree plugin failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${OOT_BINARY_DIR} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the out-of-tree plugin failed")
endif()
