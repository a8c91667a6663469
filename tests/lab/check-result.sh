#!/bin/sh
# tests/lab/check-result.sh RESULTS NAME — pass if lab.sh recorded
# "LAB-RESULT NAME PASS" in RESULTS (and any --result JSON it printed
# parses); print the scenario's output otherwise.
results=$1 name=$2
# JSON the scenario printed between RESULT-JSON-BEGIN and RESULT-JSON-END
# (kvmini --result files; the lab has no parser) must parse, here.
check_json() {
	[ -f "$results.log" ] || return 0
	tr -d '\r' <"$results.log" | grep -aF "  [$name] " | sed "s/^  \[$name\] //" |
		awk '/^RESULT-JSON-BEGIN$/ { n++; on = 1; next } /^RESULT-JSON-END$/ { on = 0; next }
		     on { print > (dir "/" n ".json") }' dir="$tmp"
	for j in "$tmp"/*.json; do
		[ -e "$j" ] || continue
		if ! python3 -m json.tool "$j" >/dev/null; then
			echo "scenario $name printed a --result that is not valid JSON:"
			cat "$j"
			return 1
		fi
		echo "valid JSON: $(basename "$j") ($(wc -c <"$j") bytes)"
	done
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if grep -q "^LAB-RESULT $name PASS " "$results" 2>/dev/null; then
	grep "^LAB-RESULT $name " "$results"
	check_json || exit 1
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
