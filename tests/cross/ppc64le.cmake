# CMake toolchain: cross-build kvmini's portable parts and the ppc64 KVM glue
# (arch/ppc64/endian_kvm.c joins kvmini_endian on a powerpc64 target) for
# ppc64le, and run their unit tests under user-mode emulation
# (tests/cross/run-ppc64le.sh). CMAKE_SYSTEM_PROCESSOR ppc64le makes
# KVMINI_ARCH "none": no x86 code is built.
#
# Debian packages: gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross
#   libcmocka-dev:ppc64el (after dpkg --add-architecture ppc64el)
#   qemu-user-static
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ppc64le)
set(CMAKE_LIBRARY_ARCHITECTURE powerpc64le-linux-gnu)

set(CMAKE_C_COMPILER powerpc64le-linux-gnu-gcc)
set(CMAKE_ASM_COMPILER powerpc64le-linux-gnu-gcc)

# Target libraries come from the cross sysroot and multiarch directories;
# programs (cmake's helpers) from the build host.
set(CMAKE_FIND_ROOT_PATH /usr/powerpc64le-linux-gnu /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)

# binfmt_misc is not registered for ppc64le here: name the emulator, so that
# ctest runs the binaries through it too. The sysroot's lib comes first so
# its ld.so never pairs with the libc of a different multiarch libc6:ppc64el
# (see tests/cross/run-unit-s390x.sh).
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-ppc64le-static -L /usr/powerpc64le-linux-gnu
    -E LD_LIBRARY_PATH=/usr/powerpc64le-linux-gnu/lib)
