# CMake toolchain: cross-build kvmini's portable parts (devices/, boot/, the
# vmm/ library and their unit tests) for s390x, a big-endian host, and run
# them under user-mode emulation (tests/cross/run-unit-s390x.sh).
# CMAKE_SYSTEM_PROCESSOR s390x makes KVMINI_ARCH "none": no x86 code is built.
#
# Debian packages: gcc-s390x-linux-gnu libc6-dev-s390x-cross
#   libcmocka-dev:s390x (after dpkg --add-architecture s390x) qemu-user-static
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR s390x)
set(CMAKE_LIBRARY_ARCHITECTURE s390x-linux-gnu)

set(CMAKE_C_COMPILER s390x-linux-gnu-gcc)
set(CMAKE_ASM_COMPILER s390x-linux-gnu-gcc)

# Target libraries come from the cross sysroot and multiarch directories;
# programs (cmake's helpers) from the build host.
set(CMAKE_FIND_ROOT_PATH /usr/s390x-linux-gnu /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)

# binfmt_misc is not registered for s390x here: name the emulator, so that
# ctest (add_test with a target) runs the binaries through it too. The
# sysroot's lib comes first so its ld.so never pairs with the libc of a
# different multiarch libc6:s390x (see run-unit-s390x.sh).
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-s390x-static -L /usr/s390x-linux-gnu
    -E LD_LIBRARY_PATH=/usr/s390x-linux-gnu/lib)
