# cmake -DSCDOC=... -DINPUT=page.scd -DOUTPUT=page.N -P scdoc.cmake
# Renders one scdoc(5) source into a man page (scdoc reads standard input
# and writes standard output); a failure removes the partial output.
execute_process(COMMAND "${SCDOC}"
  INPUT_FILE "${INPUT}" OUTPUT_FILE "${OUTPUT}.tmp"
  ERROR_VARIABLE _err RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  file(REMOVE "${OUTPUT}.tmp")
  message(FATAL_ERROR "scdoc failed on ${INPUT}: ${_err}")
endif()
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
