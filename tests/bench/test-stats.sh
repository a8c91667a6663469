#!/bin/bash
# tests/bench/test-stats.sh — the benchmark's report and statistics, without
# KVM: canned fio and iperf3 JSON (tests/bench/testdata) laid out as
# driver.sh leaves them, for two VMMs and the host-direct ceiling, then
# tests/bench/report.py over them. Checks mean, sample sd, the ratio and its
# propagated sd, exits per I/O, UDP loss, failure reporting and the exit
# status, and that results.json, table.txt and (with gnuplot) chart.png are
# written. ctest: unit.bench-stats.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TD=$HERE/testdata
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
OUT=$(mktemp -d "${TMPDIR:-/tmp}/kvmini-bench-test.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$OUT"' EXIT
fails=0
check() { # DESCRIPTION COMMAND...
	if "${@:2}"; then echo "ok:   $1"; else echo "FAIL: $1"; fails=$((fails + 1)); fi
}

# fio_json KIOPS FILE: the canned 4k random-read result with KIOPS thousand
# IOPS over 1 s (bandwidth and I/O count to match).
fio_json() {
	local iops ios bw
	iops=$(awk -v k="$1" 'BEGIN { printf "%.6f", k * 1000 }')
	ios=$(awk -v k="$1" 'BEGIN { printf "%d", k * 1000 }')
	bw=$((ios * 4096))
	sed -e "s/@IOPS@/$iops/" -e "s/@IOS@/$ios/" -e "s/@BW@/$bw/" -e "s/@BWK@/$((bw / 1024))/" \
		-e "s/@BYTES@/$bw/" "$TD/fio-randread-4k.json.in" >"$2"
}
# stats DIR K EXITS: KVM counters around step K, EXITS apart.
stats() {
	printf 'time=100.0\nexits=1000\nio_exits=10\n' >"$1/$2.before"
	printf 'time=101.0\nexits=%d\nio_exits=20\n' $((1000 + $3)) >"$1/$2.after"
}

cat >"$OUT/meta.txt" <<'EOF'
date=Thu, 03 Dec 2026 12:00:00 +0000
mode=lab
mode_why=no /dev/kvm on this host
runs=4
runtime=1
cpus=2
memory_mib=1024
ceiling=1
disk=(new file of zeros)
disk_mib=512
vmm.alpha=kvmini|/x/kvmini|kvmini 0.1.0|||
vmm.beta=qemu|/usr/bin/qemu-system-x86_64|QEMU 7.2|||
EOF
# alpha: 10 12 14 kIOPS (+ a 4th run, 12); beta: 15 18 21 and fails to boot
# in run 4; host: 100 in every run. TCP: alpha 1, 2, 3, 2 Gbit/s; beta 4 each.
A=(10 12 14 12) B=(15 18 21) ATCP=(1 2 3 2)
for r in 1 2 3 4; do
	d=$OUT/raw/r0$r
	mkdir -p "$d/alpha" "$d/beta" "$d/host"
	printf 'pid=1\nboot_secs=10.0\nstatus=ok\n' >"$d/alpha/status"
	printf '1 fio:randread-4k rc=0\n2 net:tcp-tx rc=0\n3 net:udp-rx rc=0\n' >"$d/alpha/steps"
	fio_json "${A[r - 1]}" "$d/alpha/1.json"
	stats "$d/alpha" 1 $((${A[r - 1]} * 2000)) # 2 exits per I/O
	sed "s/@RXBPS@/${ATCP[r - 1]}000000000/" "$TD/iperf3-tcp.json.in" >"$d/alpha/2.json"
	cp "$TD/iperf3-udp.json" "$d/alpha/3.json"
	if [ $r -le 3 ]; then
		printf 'pid=2\nboot_secs=12.0\nstatus=ok\naio=io_uring\n' >"$d/beta/status"
		printf '1 fio:randread-4k rc=0\n2 net:tcp-tx rc=0\n3 net:udp-rx rc=0\n' >"$d/beta/steps"
		fio_json "${B[r - 1]}" "$d/beta/1.json"
		stats "$d/beta" 1 $((${B[r - 1]} * 3000)) # 3 exits per I/O
		sed "s/@RXBPS@/4000000000/" "$TD/iperf3-tcp.json.in" >"$d/beta/2.json"
		cp "$TD/iperf3-udp.json" "$d/beta/3.json"
	else
		printf 'pid=2\nstatus=failed\nreason=no step 1 within 300s (boot)\naio=io_uring\n' >"$d/beta/status"
	fi
	printf 'engine=io_uring direct=1\nstatus=ok\n' >"$d/host/status"
	echo "1 fio:randread-4k rc=0" >"$d/host/steps"
	fio_json 100 "$d/host/1.json"
done

"$PY" "$HERE/report.py" "$OUT" >"$OUT/stdout.txt" 2>&1
rc=$?
sed 's/^/    | /' "$OUT/stdout.txt"
check "exit status 1 when a VMM failed a run (got $rc)" [ $rc = 1 ]
has() { grep -qF -- "$1" "$OUT/table.txt"; }
row() { grep -E -- "$1" "$OUT/table.txt" | grep -qF -- "$2"; }
# alpha 10 12 14 12: mean 12, sd sqrt(8/3) = 1.633; beta 15 18 21: 18 ± 3.
check "alpha kIOPS 12.0 ± 1.6" row 'fio randread-4k +kIOPS' '12.0 ± 1.6'
check "beta kIOPS 18.0 ± 3.0 over the 3 runs that passed" row 'fio randread-4k +kIOPS' '18.0 ± 3.0 (n=3)'
check "host kIOPS 100 ± 0" row 'fio randread-4k +kIOPS' '100 ± 0'
# ratio 1.5, sd 1.5 * sqrt((1.633/12)^2 + (3/18)^2) = 0.3227
check "ratio beta/alpha 1.500 ± 0.323" row 'fio randread-4k +kIOPS' '1.500 ± 0.323'
check "MB/s from bw_bytes (alpha 12000 IOPS x 4 KiB = 49.2 MB/s)" row 'MB/s' '49.2 ± 6.7'
check "exits per I/O: alpha 2.00" row 'exits/IO' '2.00 ± 0.00'
check "exits per I/O: beta 3.00" row 'exits/IO' '3.00 ± 0.00'
check "exits per I/O: ratio beta/alpha 1.500" row 'exits/IO' '1.500 ± 0.000'
check "TCP Gbit/s from sum_received: alpha 2.00 ± 0.82" row 'TCP guest->host' '2.00 ± 0.82'
check "TCP Gbit/s: beta 4.00 ± 0.00" row 'TCP guest->host' '4.00 ± 0.00'
check "UDP loss % from sum_received" row 'UDP loss' '70.2 ± 0.0'
check "the lab note" has 'Absolute numbers measure that'
check "the failure named, with its run" has 'run 4: no step 1 within 300s (boot)'
check "the interleaved runs asked for" has '4 run(s), interleaved'
check "boot times: alpha 10.0 ± 0.0 over 4, beta 12.0 over 3" row 'boot to the first step' '10.0 ± 0.0             12.0 ± 0.0 (n=3)'

J=$OUT/results.json
check "results.json written" [ -s "$J" ]
jq_py() { "$PY" -c "import json,sys; d=json.load(open('$J')); sys.exit(0 if ($1) else 1)"; }
check "results.json: alpha mean 12 over 4 runs" jq_py \
	"abs(d['steps'][0]['metrics']['kiops']['by']['alpha']['mean'] - 12) < 1e-9 and d['steps'][0]['metrics']['kiops']['by']['alpha']['n'] == 4"
check "results.json: beta sd 3 over 3 runs" jq_py \
	"abs(d['steps'][0]['metrics']['kiops']['by']['beta']['sd'] - 3) < 1e-9 and d['steps'][0]['metrics']['kiops']['by']['beta']['n'] == 3"
check "results.json: ratio 1.5 ± 0.3227" jq_py \
	"abs(d['steps'][0]['ratios']['beta/alpha']['kiops']['ratio'] - 1.5) < 1e-9 and abs(d['steps'][0]['ratios']['beta/alpha']['kiops']['sd'] - 0.32275) < 1e-4"
check "results.json: per-run values kept in order" jq_py \
	"d['steps'][0]['metrics']['kiops']['by']['alpha']['values'] == [10.0, 12.0, 14.0, 12.0]"
check "results.json: one failure for beta, none for alpha" jq_py \
	"len(d['failures']['beta']) == 1 and d['failures']['alpha'] == []"
check "results.json: KVM counters per I/O (exits 2, io_exits 10 per step)" jq_py \
	"abs(d['steps'][0]['kvm_counters']['by']['alpha']['exits'] - 2) < 1e-9 and abs(d['steps'][0]['kvm_counters']['by']['alpha']['io_exits'] - sum(10 / (k * 1000) for k in (10, 12, 14, 12)) / 4) < 1e-12"
check "table.txt written" [ -s "$OUT/table.txt" ]
if command -v gnuplot >/dev/null; then
	check "chart.png written, a PNG" [ "$(head -c 4 "$OUT/chart.png" 2>/dev/null | od -An -tx1 | tr -d ' ')" = 89504e47 ]
else
	echo "skip: chart.png (no gnuplot; images/install-deps.sh installs gnuplot-nox)"
fi

# No results at all: status 2, and a message.
mkdir -p "$OUT/empty/raw"
echo "runs=1" >"$OUT/empty/meta.txt"
"$PY" "$HERE/report.py" "$OUT/empty" >/dev/null 2>&1
rc=$?
check "exit status 2 without results (got $rc)" [ $rc = 2 ]

[ $fails = 0 ] && { echo "test-stats: PASS"; exit 0; }
echo "test-stats: $fails check(s) FAILED"
exit 1
