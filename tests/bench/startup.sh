#!/usr/bin/env bash
# tests/bench/startup.sh — kvmini's own start-up cost: the instructions it
# runs from exec to the first KVM_RUN, counted by valgrind's callgrind.
#
#   bash tests/bench/startup.sh [--kvmini PATH] [--fakekvm PATH] [--images DIR]
#                               [--memory 256M] [--top N] [--keep DIR] [-- KVMINI-ARGS...]
#
# No KVM is needed, nor used: tests/kvm/fakekvm.so (FAKEKVM=fake-vm) stands
# in for /dev/kvm, lets kvmini build the whole VM, and ends the process with
# status 0 at the first KVM_RUN, which is where the count stops. Boots
# nothing and builds nothing: it takes a kvmini built without sanitizers
# (default build/kvmini; valgrind cannot run an ASan one) with its fakekvm.so
# beside it (build/tests/kvm/fakekvm.so), and the guest images of
# images/build-guest.sh (default ~/.cache/kvmini/x86_64: bzImage, vmlinux
# for PVH, guest-initrd.cpio.gz). Four configurations: the bzImage and the
# PVH vmlinux, each bare and with one virtio-blk disk (a sparse 64 MiB file)
# and one virtio-net card on a tap that kvmini creates; every run sits in a
# network namespace of its own (unshare -n, or -rn when not root), so the
# host's network never sees the tap. Every run has --seccomp off (the
# stand-in's memfd_create is not in kvmini's filters) and --console none;
# KVMINI-ARGS go to every run too (e.g. --cpus 4), and --keep DIR keeps the
# callgrind files (callgrind_annotate, kcachegrind). Prints, per configuration,
#   STARTUP config=NAME ir_total=N ir_kvmini=N ir_copy_to_guest=N ir_libc=N ir_ldso=N ir_fakekvm=N ir_other=N
# where ir_kvmini is kvmini's own code (self cost in the executable),
# ir_copy_to_guest the libc mem* calls made by the loaders (boot/ and
# devices/guest_mem.c: the kernel and initrd copied into guest RAM),
# ir_libc the rest of libc, ir_ldso the dynamic loader, ir_fakekvm the
# stand-in, ir_other valgrind's preloads and anything else; then the top
# functions by self cost (summed over the code inlined into each), kvmini's
# own, kvmini's largest calls into the libraries, and the top functions by inclusive
# cost (callgrind_annotate). Counts are user-space instructions (Ir) only: the
# kernel's work (mmap, page faults, the tap) is not in them. valgrind runs
# "rep movsb/stosb" one iteration per Ir, so a mid-sized memset or memcpy
# (glibc uses them from a few KiB up to about the L3 cache's size) counts
# one instruction per byte, many times what it costs on the CPU. A
# measurement, not a test: nothing here passes or fails on a number, and it
# is not in ctest. Single-threaded and short (about a second per run).
set -u
here=$(cd "$(dirname "$0")" && pwd)
KVMINI=$here/../../build/kvmini FAKEKVM_SO="" IMAGES=$HOME/.cache/kvmini/x86_64 MEM=256M TOP=10 KEEP=""
EXTRA=()
while [ $# -gt 0 ]; do
	case "$1" in
	--kvmini) KVMINI=${2:?}; shift 2 ;;
	--fakekvm) FAKEKVM_SO=${2:?}; shift 2 ;;
	--images) IMAGES=${2:?}; shift 2 ;;
	--memory) MEM=${2:?}; shift 2 ;;
	--top) TOP=${2:?}; shift 2 ;;
	--keep) KEEP=${2:?}; shift 2 ;;
	--) shift; EXTRA=("$@"); break ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "startup.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
die() { echo "startup.sh: $*" >&2; exit 2; }
[ -x "$KVMINI" ] || die "no kvmini at $KVMINI (build it, or --kvmini PATH)"
KVMINI=$(cd "$(dirname "$KVMINI")" && pwd)/$(basename "$KVMINI")
[ -n "$FAKEKVM_SO" ] || FAKEKVM_SO=$(dirname "$KVMINI")/tests/kvm/fakekvm.so
[ -f "$FAKEKVM_SO" ] || die "no fakekvm.so at $FAKEKVM_SO (cmake --build builds it, or --fakekvm PATH)"
FAKEKVM_SO=$(cd "$(dirname "$FAKEKVM_SO")" && pwd)/$(basename "$FAKEKVM_SO")
ldd "$KVMINI" 2>/dev/null | grep -qE 'lib(asan|ubsan|tsan)' &&
	die "$KVMINI is built with sanitizers, which valgrind cannot run: take build/kvmini"
for t in valgrind callgrind_annotate unshare python3; do
	type -P $t >/dev/null || die "needs $t"
done
for f in bzImage vmlinux guest-initrd.cpio.gz; do
	[ -f "$IMAGES/$f" ] || die "no $IMAGES/$f (bash images/build-guest.sh makes it, or --images DIR)"
done
[ -n "$KEEP" ] && { mkdir -p "$KEEP" || exit 2; }
if [ "$(id -u)" = 0 ]; then NETNS=(unshare -n); else NETNS=(unshare -rn); fi
"${NETNS[@]}" true 2>/dev/null || die "cannot make a network namespace (${NETNS[*]})"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kvmini-startup.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
truncate -s 64M "$tmp/disk.img"

# split OUT: the STARTUP line from a callgrind output file (format:
# valgrind's docs, "Callgrind Format Specification"), then kvmini's largest
# calls into other objects.
split() {
	python3 - "$1" "$2" "$KVMINI" "$FAKEKVM_SO" "$TOP" <<'EOF'
import collections, re, sys
path, config, kvmini, fakekvm, top = sys.argv[1:6]
tables = {"ob": {}, "fl": {}, "fn": {}}
kinds = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl", "cfi": "fl",
         "cfl": "fl", "fn": "fn", "cfn": "fn"}

def name(key, val):
    t = tables[kinds[key]]
    m = re.match(r"\((\d+)\)(?: (.*))?$", val)
    if not m:
        return val
    if m.group(2) is not None:
        t[m.group(1)] = m.group(2)
    return t[m.group(1)]

self_ob = collections.Counter()
self_fn = collections.Counter()       # (ob, fn): self
calls = collections.Counter()         # (caller fl, caller fn, callee ob, callee fn): inclusive
ob = fl = fn = cob = cfn = None
npos, in_call, totals = 1, False, None
for line in open(path):
    line = line.rstrip("\n")
    if not line:
        continue
    c = line[0]
    if c.isdigit() or c in "+-*":
        f = line.split()
        cost = int(f[npos]) if len(f) > npos else 0
        if in_call:
            calls[(ob, fl, fn, cob or ob, cfn)] += cost
            in_call, cob = False, None
        else:
            self_ob[ob] += cost
            self_fn[(ob, fn)] += cost
        continue
    key, _, val = line.partition("=")
    if key in kinds:
        v = name(key, val)
        if key == "ob": ob = v
        elif key == "fl": fl = v
        elif key == "fn": fn = v
        elif key == "cob": cob = v
        elif key == "cfn": cfn = v
    elif key == "calls":
        in_call = True
    elif key == "positions":
        npos = len(val.split())
    elif line.startswith(("summary:", "totals:")):
        totals = int(line.split()[1])

total = sum(self_ob.values())
if totals is not None and totals != total:
    print(f"startup.sh: {path}: costs add up to {total}, the file says {totals}", file=sys.stderr)
def is_libc(o): return o and re.search(r"/libc\.so", o)
def is_ldso(o): return o and re.search(r"/ld-linux|/ld\.so|/ld64\.so", o)
own = self_ob[kvmini]
copy = sum(v for (o, f, _, co, cf), v in calls.items()
           if o == kvmini and is_libc(co) and re.match(r"_*mem(cpy|move|set)", cf or "")
           and f and re.search(r"(^|/)boot/|guest_mem\.c$", f))
libc = sum(v for o, v in self_ob.items() if is_libc(o)) - copy
ldso = sum(v for o, v in self_ob.items() if is_ldso(o))
fake = self_ob[fakekvm]
other = total - own - copy - libc - ldso - fake
print(f"STARTUP config={config} ir_total={total} ir_kvmini={own} ir_copy_to_guest={copy} "
      f"ir_libc={libc} ir_ldso={ldso} ir_fakekvm={fake} ir_other={other}")
pct = lambda v: f"{100.0 * v / total:5.1f}%" if total else "  -"
for what, v in (("kvmini's own code", own), ("libc mem* from the loaders (kernel, initrd into guest RAM)", copy),
                ("libc, the rest", libc), ("ld.so (loading, relocation, symbol lookup)", ldso),
                ("fakekvm.so", fake), ("valgrind preloads, other", other)):
    print(f"  {v:>12,} {pct(v)}  {what}")
print(f"  top {top} by self Ir:")
for (o, f), v in self_fn.most_common(int(top)):
    print(f"  {v:>12,} {pct(v)}  {f} [{(o or '?').rsplit('/', 1)[-1]}]")
print(f"  kvmini's own functions, top {top} by self Ir:")
own_fns = collections.Counter({f: v for (o, f), v in self_fn.items() if o == kvmini})
for f, v in own_fns.most_common(int(top)):
    print(f"  {v:>12,} {pct(v)}  {f}")
print(f"  kvmini's largest calls into other objects, top {top} (inclusive Ir):")
out = collections.Counter()
for (o, f, fn_, co, cf), v in calls.items():
    if o == kvmini and co != kvmini and fn_ != "(below main)":
        out[(fn_, cf)] += v
for (caller, callee), v in out.most_common(int(top)):
    print(f"  {v:>12,} {pct(v)}  {caller} -> {callee}")
EOF
}

# annotate OUT: the top functions by inclusive cost (callgrind_annotate),
# paths shortened; a function it lists twice (once more for code inlined
# from another file) only once, the first (larger) time.
annotate() {
	local root
	root=$(cd "$here/../.." && pwd)
	echo "  top $TOP by inclusive Ir:"
	callgrind_annotate --inclusive=yes "$1" 2>/dev/null |
		awk '/^-+$/ { d++; next }
		     d >= 5 && NF && !/^Ir / { f = $3; sub(/^.*:/, "", f); if (!seen[f]++) print }' |
		head -n "$TOP" |
		sed -e "s|$root/||g" -e 's|\./[^ ]*/sysdeps/|sysdeps/|' -e 's|\./elf/\./elf/|elf/|' \
		    -e 's| \[[^]]*/\([^]/]*\)\]$| [\1]|' -e 's/^/  /'
}

status=0
run() {
	local config=$1; shift
	local out=$tmp/$config.callgrind
	"${NETNS[@]}" env FAKEKVM=fake-vm LD_PRELOAD="$FAKEKVM_SO" \
		valgrind --tool=callgrind --callgrind-out-file="$out" --log-file="$tmp/$config.valgrind" \
		"$KVMINI" run --seccomp off --console none --memory "$MEM" \
		--initrd "$IMAGES/guest-initrd.cpio.gz" "$@" "${EXTRA[@]}" \
		>"$tmp/$config.stdout" 2>"$tmp/$config.stderr"
	local rc=$?
	if [ $rc != 0 ] || ! grep -q '^fakekvm: first KVM_RUN$' "$tmp/$config.stderr" || [ ! -s "$out" ]; then
		echo "startup.sh: $config: kvmini did not reach its first KVM_RUN (status $rc):" >&2
		cat "$tmp/$config.stderr" >&2
		tail -5 "$tmp/$config.valgrind" >&2
		status=1
		return
	fi
	echo "== $config: kvmini run $*${EXTRA[*]:+ ${EXTRA[*]}}"
	split "$out" "$config"
	annotate "$out"
	[ -z "$KEEP" ] || cp "$out" "$KEEP/$config.callgrind"
}
devs=(--disk "$tmp/disk.img" --net tap=kvstart0)
run bzimage --kernel "$IMAGES/bzImage"
run bzimage-disk-net --kernel "$IMAGES/bzImage" "${devs[@]}"
run pvh --kernel "$IMAGES/vmlinux"
run pvh-disk-net --kernel "$IMAGES/vmlinux" "${devs[@]}"
exit $status
