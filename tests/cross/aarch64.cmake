# CMake toolchain: cross-build kvmini for arm64 — the executable (arch/arm64,
# with libfdt) and every unit test — and run the tests under user-mode
# emulation (tests/cross/run-unit-aarch64.sh).
# CMAKE_SYSTEM_PROCESSOR aarch64 makes KVMINI_ARCH "arm64".
#
# Debian packages: gcc-aarch64-linux-gnu libc6-dev-arm64-cross, and after
#   dpkg --add-architecture arm64: libfdt-dev:arm64 libcmocka-dev:arm64;
#   qemu-user-static to run the tests.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)

# Target libraries come from the cross sysroot and multiarch directories;
# programs (cmake's helpers) from the build host.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)

# binfmt_misc is not registered for aarch64 here: name the emulator, so that
# ctest runs the binaries through it too. The sysroot's lib comes first so
# its ld.so never pairs with the libc of a different multiarch libc6:arm64
# (see tests/cross/run-unit-s390x.sh).
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static -L /usr/aarch64-linux-gnu
    -E LD_LIBRARY_PATH=/usr/aarch64-linux-gnu/lib)
