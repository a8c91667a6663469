# images/elf-libs.sh — put a (possibly foreign-architecture) ELF program's
# shared libraries into an initramfs tree, without running it (sourced; POSIX
# sh). Used by images/build-guest.sh (mke2fs for an arm64 guest) and
# tests/lab/lab-common.sh (an arm64 kvmini for the L1 initramfs), where ldd
# cannot work because the program is not of the build host's architecture.
#
# elf_copy_libs ROOT FILE LIBDIR SEARCHDIR...
#   Copies FILE's program interpreter (PT_INTERP) to ROOT<interp>, and every
#   DT_NEEDED library, recursively, to ROOT/LIBDIR/. Each is looked up by name
#   in the SEARCHDIRs, in order (symlinks followed). A statically linked FILE
#   needs nothing. Returns 1 (after a message on stderr) when a library is
#   not found.
# Needs readelf (binutils), which reads ELF files of any architecture.

elf_needed() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'; }
elf_interp() { readelf -l "$1" 2>/dev/null | sed -n 's/.*program interpreter: \(.*\)\]$/\1/p'; }

# elf_find NAME SEARCHDIR...: the first SEARCHDIR/NAME that exists.
elf_find() {
	_ef_name=$1
	shift
	for _ef_d in "$@"; do
		if [ -e "$_ef_d/$_ef_name" ]; then
			echo "$_ef_d/$_ef_name"
			return 0
		fi
	done
	return 1
}

elf_copy_libs() {
	_ec_root=$1 _ec_file=$2 _ec_libdir=$3
	shift 3
	_ec_interp=$(elf_interp "$_ec_file")
	if [ -n "$_ec_interp" ] && [ ! -e "$_ec_root$_ec_interp" ]; then
		_ec_src=$(elf_find "$(basename "$_ec_interp")" "$@") || {
			echo "elf_copy_libs: interpreter $_ec_interp of $_ec_file not found in: $*" >&2
			return 1
		}
		mkdir -p "$_ec_root$(dirname "$_ec_interp")"
		cp -L "$_ec_src" "$_ec_root$_ec_interp"
	fi
	mkdir -p "$_ec_root/$_ec_libdir"
	# Breadth-first over DT_NEEDED, each library once.
	_ec_todo=$(elf_needed "$_ec_file")
	while [ -n "$_ec_todo" ]; do
		_ec_next=""
		for _ec_lib in $_ec_todo; do
			[ -e "$_ec_root/$_ec_libdir/$_ec_lib" ] && continue
			# The interpreter is also listed as NEEDED by some libraries.
			[ -n "$_ec_interp" ] && [ "$_ec_lib" = "$(basename "$_ec_interp")" ] &&
				[ -e "$_ec_root$_ec_interp" ] && continue
			_ec_src=$(elf_find "$_ec_lib" "$@") || {
				echo "elf_copy_libs: $_ec_lib (needed by $_ec_file) not found in: $*" >&2
				return 1
			}
			cp -L "$_ec_src" "$_ec_root/$_ec_libdir/$_ec_lib"
			_ec_next="$_ec_next $(elf_needed "$_ec_src")"
		done
		_ec_todo=$_ec_next
	done
	return 0
}
