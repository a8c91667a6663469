#!/bin/sh
# tests/lab/check-result.sh RESULTS NAME — pass if lab.sh recorded
# "LAB-RESULT NAME PASS" in RESULTS; print the scenario's output otherwise.
results=$1 name=$2
if grep -q "^LAB-RESULT $name PASS " "$results" 2>/dev/null; then
	grep "^LAB-RESULT $name " "$results"
	exit 0
fi
if [ ! -f "$results" ]; then
	echo "no results file $results (did lab.<arch>.run run?)"
elif grep -q "^LAB-RESULT $name " "$results"; then
	grep "^LAB-RESULT $name " "$results"
	# The scenario's own output, from the console log.
	tr -d '\r' <"$results.log" 2>/dev/null | grep -F "  [$name] " | tail -n 80
else
	echo "scenario $name did not run (no LAB-RESULT line in $results; see $results.log)"
fi
exit 1
