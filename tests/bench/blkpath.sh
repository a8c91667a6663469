#!/bin/bash
# tests/bench/blkpath.sh — kvmini's virtio-blk device path (kvmini-blkpath:
# the real device and engines behind simulated guest rings, no VM) beside
# fio doing the same pattern on the same file straight from the host.
#
# For each backing store (a file on /dev/shm, and one on the work disk) and
# each queue count, it runs kvmini-blkpath and fio, interleaved, --runs times,
# and prints kIOPS as mean ± sd and the ratio device path / host-direct.
# Both sides use the same cache mode: buffered on /dev/shm (kvmini
# cache=writeback, fio direct=0), O_DIRECT on the disk (cache=none, direct=1).
#
# The host-direct reference is fio exactly as issue 9 states it:
#   fio --ioengine=io_uring --rw=randread --bs=4k --iodepth=32 --numjobs=Q
#       --direct=0|1 --time_based --runtime=S --group_reporting
# which submits one I/O per io_uring_enter. A second column, "fio batched",
# adds --iodepth_batch_submit=QD --iodepth_batch_complete_max=QD: what the
# host can do when submissions are batched as the device batches them
# (--no-batched leaves it out). CPU per I/O is the user + system time of the
# whole process (fio: its job processes and io_uring workers too) over every
# I/O completed.
#
# Usage: tests/bench/blkpath.sh [options]
#   --build DIR        where kvmini-blkpath was built (default: build; or set
#                      KVMINI_BLKPATH to the binary)
#   --runs N           runs of each (default 3)
#   --runtime S        seconds per run (default 5)
#   --queues "1 2"     queue counts (default: 1 up to the host's cores)
#   --stores "shm disk"  which stores (default both)
#   --disk-dir DIR     the work-disk directory (default /var/tmp)
#   --size SIZE        file size (default 1G)
#   --rw MODE --bs SIZE --qd N   the pattern (default randread 4k 32)
#   --aio ENGINE       kvmini's engine (default io_uring)
#   --no-batched       no "fio batched" column
#   --out DIR          keep every run's JSON there (default: a temp dir, removed)
# Needs fio (images/install-deps.sh installs it) and python3.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$root/build
runs=3 runtime=5 queues="" stores="shm disk" disk_dir=/var/tmp size=1G
rw=randread bs=4k qd=32 aio=io_uring batched=1 out=""

die() { echo "blkpath.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
	opt=$1
	case $opt in
	--no-batched) batched=0; shift; continue ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	esac
	[ $# -ge 2 ] || die "$opt: needs a value"
	case $opt in
	--build) build=$2 ;;
	--runs) runs=$2 ;;
	--runtime) runtime=$2 ;;
	--queues) queues=$2 ;;
	--stores) stores=$2 ;;
	--disk-dir) disk_dir=$2 ;;
	--size) size=$2 ;;
	--rw) rw=$2 ;;
	--bs) bs=$2 ;;
	--qd) qd=$2 ;;
	--aio) aio=$2 ;;
	--out) out=$2 ;;
	*) die "unknown option '$opt' (see --help)" ;;
	esac
	shift 2
done

bin=${KVMINI_BLKPATH:-$build/tests/kvmini-blkpath}
[ -x "$bin" ] || die "no $bin: build it (cmake --build $build --target kvmini-blkpath) or pass --build DIR"
command -v fio >/dev/null || die "fio is missing: apt-get install fio (or images/install-deps.sh)"
command -v python3 >/dev/null || die "python3 is missing"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs: '$runs' is not a positive number"
[ -n "$queues" ] || queues=$(seq 1 "$(nproc)" | tr '\n' ' ')
case $rw in randread|randwrite|read) ;; *) die "--rw: '$rw' is not randread, randwrite or read" ;; esac

keep=1
if [ -z "$out" ]; then
	out=$(mktemp -d /tmp/kvmini-blkpath.XXXXXX)
	keep=0
fi
mkdir -p "$out"
files=()
cleanup() {
	for f in "${files[@]}"; do rm -f "$f"; done
	[ "$keep" = 1 ] || rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

results=$out/results.jsonl
: >"$results"
# Anything else on the CPUs makes these numbers noise: say so up front.
load0=$(cut -d' ' -f1 /proc/loadavg)
if python3 -c "import sys; sys.exit(float('$load0') < 0.5)"; then
	echo "blkpath.sh: note: load average $load0 before starting: something else is" \
		"running, and the results will show it" >&2
fi

# record TOOL STORE QUEUES RUN JSONFILE TIMEFILE: one line of results.jsonl.
# CPU per I/O is the same on both sides: the user + system time of the whole
# process tree (io_uring's workers included) over every I/O it completed.
record() {
	python3 - "$@" >>"$results" <<'EOF'
import json, sys
tool, store, queues, run, path, tpath = sys.argv[1:7]
with open(path) as f:
    text = f.read()
# fio may print notes before its JSON
d = json.loads(text[text.index('{'):])
user, system = map(float, open(tpath).read().split()[-2:])
if tool == 'kvmini':
    kiops, ios = d['kiops'], d['ios_all']
else:
    j = d['jobs'][0]
    kiops = sum(j[k]['iops'] for k in ('read', 'write')) / 1e3
    ios = sum(j[k]['total_ios'] for k in ('read', 'write'))
print(json.dumps({'tool': tool, 'store': store, 'queues': int(queues), 'run': int(run),
                  'kiops': kiops, 'cpu_us_per_io': (user + system) * 1e6 / max(ios, 1)}))
EOF
}

# timed JSON TIMEFILE CMD...: runs CMD with its stdout in JSON, its user and
# system times in TIMEFILE; on failure shows what it said and stops.
timed() {
	local json=$1 tf=$2 TIMEFORMAT='%U %S'
	shift 2
	if ! { time "$@" >"$json" 2>"$tf.err"; } 2>"$tf"; then
		cat "$tf.err" >&2
		die "failed: $*"
	fi
}

run_kvmini() {   # STORE FILE CACHE QUEUES RUN
	local j=$out/kvmini-$1-q$4-r$5.json
	timed "$j" "$j.time" "$bin" --file "$2" --size "$size" --cache "$3" --queues "$4" \
		--qd "$qd" --bs "$bs" --rw "$rw" --aio "$aio" --runtime "$runtime" --json
	record kvmini "$1" "$4" "$5" "$j" "$j.time"
}

run_fio() {      # TOOL STORE FILE DIRECT QUEUES RUN [EXTRA...]
	local tool=$1 store=$2 file=$3 direct=$4 q=$5 r=$6
	shift 6
	local j=$out/$tool-$store-q$q-r$r.json
	timed /dev/null "$j.time" fio --name=blkpath --filename="$file" --size="$size" \
		--ioengine=io_uring --rw="$rw" --bs="$bs" --iodepth="$qd" --numjobs="$q" \
		--direct="$direct" --time_based --runtime="$runtime" --group_reporting \
		--output-format=json --output="$j" "$@"
	record "$tool" "$store" "$q" "$r" "$j" "$j.time"
}

for store in $stores; do
	case $store in
	shm) dir=/dev/shm cache=writeback direct=0 ;;
	disk) dir=$disk_dir cache=none direct=1 ;;
	*) die "--stores: '$store' is not shm or disk" ;;
	esac
	file=$dir/kvmini-blkpath-bench-$$.img
	files+=("$file")
	"$bin" --file "$file" --size "$size" --runtime 0 || die "cannot prepare $file"
	if [ "$cache" = none ] && ! "$bin" --file "$file" --size "$size" --cache none \
			--runtime 0.01 --json >/dev/null; then
		echo "blkpath.sh: $store: $dir refuses O_DIRECT; skipped" >&2
		continue
	fi
	for ((r = 1; r <= runs; r++)); do
		for q in $queues; do
			echo "blkpath.sh: $store queues=$q run $r/$runs" >&2
			run_kvmini "$store" "$file" "$cache" "$q" "$r"
			run_fio fio "$store" "$file" "$direct" "$q" "$r"
			if [ "$batched" = 1 ]; then
				run_fio fio-batched "$store" "$file" "$direct" "$q" "$r" \
					--iodepth_batch_submit="$qd" --iodepth_batch_complete_max="$qd"
			fi
		done
	done
	rm -f "$file"
done

echo
echo "kvmini device path vs host-direct fio: $rw bs=$bs qd=$qd per queue, aio=$aio," \
	"$runs runs x ${runtime}s, interleaved"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(. /etc/os-release && echo "$PRETTY_NAME")" \
	"$(uname -m), $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB," \
	"kernel $(uname -r), $(fio --version); load average $load0 at the start," \
	"$(cut -d' ' -f1 /proc/loadavg) at the end"
python3 - "$results" "$batched" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
batched = sys.argv[2] == '1'
def stat(tool, store, q, key='kiops'):
    v = [r[key] for r in rows if r['tool'] == tool and r['store'] == store and r['queues'] == q]
    if not v or v[0] is None:
        return None, None
    return statistics.mean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)
def fmt(m, s):
    return '-' if m is None else f'{m:8.1f} ± {s:6.1f}'
head = ['store', 'queues', 'kvmini kIOPS', 'µs CPU/IO', 'fio kIOPS', 'µs CPU/IO', 'ratio']
if batched:
    head += ['fio batched kIOPS', 'µs CPU/IO', 'ratio']
print('| ' + ' | '.join(head) + ' |')
print('|' + '|'.join('---' for _ in head) + '|')
seen = []
for r in rows:
    k = (r['store'], r['queues'])
    if k not in seen:
        seen.append(k)
for store, q in seen:
    km, ks = stat('kvmini', store, q)
    cells = [store, str(q), fmt(km, ks), '%.2f' % stat('kvmini', store, q, 'cpu_us_per_io')[0]]
    for tool in ['fio'] + (['fio-batched'] if batched else []):
        m, sd = stat(tool, store, q)
        cells += [fmt(m, sd), '%.2f' % stat(tool, store, q, 'cpu_us_per_io')[0],
                  f'{km / m:.2f}' if m else '-']
    print('| ' + ' | '.join(cells) + ' |')
EOF
[ "$keep" = 1 ] && echo "(every run's JSON is in $out)"
exit 0
