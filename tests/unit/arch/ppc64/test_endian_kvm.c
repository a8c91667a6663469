/* ppc64_vcpu_is_big_endian (arch/ppc64/endian_kvm.c) without a ppc64 KVM:
 * the MSR read is replaced through the ppc64_get_msr pointer. Built only for
 * powerpc64 (tests/cross/run-ppc64le.sh runs it under qemu-ppc64le-static). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "arch/ppc64/endian.h"

#define MSR_SF (UINT64_C(1) << 63)
#define MSR_ILE (UINT64_C(1) << 16)
#define MSR_LE UINT64_C(1)

static struct {
	uint64_t msr;      /* what the stub reports */
	int err;           /* or this -errno */
	int calls;
	int last_fd;
} stub;

static int stub_get_msr(int vcpu_fd, uint64_t *msr)
{
	stub.calls++;
	stub.last_fd = vcpu_fd;
	if (stub.err)
		return stub.err;
	*msr = stub.msr;
	return 0;
}

static int setup(void **state)
{
	stub.msr = 0;
	stub.err = 0;
	stub.calls = 0;
	stub.last_fd = -1;
	ppc64_get_msr = stub_get_msr;
	return 0;
}

static int teardown(void **state)
{
	ppc64_get_msr = ppc64_kvm_get_msr;
	return 0;
}

static void test_default_reads_kvm(void **state)
{
	assert_ptr_equal(ppc64_get_msr, ppc64_kvm_get_msr);
}

static void test_little_endian_vcpu(void **state)
{
	stub.msr = MSR_SF | MSR_LE;
	assert_int_equal(ppc64_vcpu_is_big_endian(7), 0);
	assert_int_equal(stub.calls, 1);
	assert_int_equal(stub.last_fd, 7);
}

static void test_big_endian_vcpu(void **state)
{
	stub.msr = MSR_SF | MSR_ILE;   /* interrupts LE, running BE: big */
	assert_int_equal(ppc64_vcpu_is_big_endian(12), 1);
	assert_int_equal(stub.calls, 1);
	assert_int_equal(stub.last_fd, 12);
	stub.msr = 0;
	assert_int_equal(ppc64_vcpu_is_big_endian(12), 1);
}

/* The byte order follows the MSR from one reset to the next. */
static void test_sampled_each_call(void **state)
{
	stub.msr = MSR_LE;
	assert_int_equal(ppc64_vcpu_is_big_endian(3), 0);
	stub.msr = 0;
	assert_int_equal(ppc64_vcpu_is_big_endian(3), 1);
	stub.msr = MSR_LE;
	assert_int_equal(ppc64_vcpu_is_big_endian(3), 0);
	assert_int_equal(stub.calls, 3);
}

/* A failed read is "cannot tell" (-1): the caller applies the default. */
static void test_read_error_cannot_tell(void **state)
{
	stub.err = -EIO;
	stub.msr = MSR_LE;
	assert_int_equal(ppc64_vcpu_is_big_endian(5), -1);
	stub.err = -EBADF;
	assert_int_equal(ppc64_vcpu_is_big_endian(5), -1);
}

/* The real read on something that is not a vCPU fails with -errno and
 * leaves *msr alone. (Under user-mode emulation the KVM ioctl may not even
 * reach the kernel; any negative errno will do.) */
static void test_kvm_read_fails_on_non_vcpu(void **state)
{
	uint64_t msr = 0x1234;

	assert_ptr_equal(ppc64_get_msr, ppc64_kvm_get_msr);   /* restored by teardown */

	assert_true(ppc64_kvm_get_msr(-1, &msr) < 0);
	assert_int_equal(msr, 0x1234);
	int fd = open("/dev/null", O_RDWR);
	assert_true(fd >= 0);
	assert_true(ppc64_kvm_get_msr(fd, &msr) < 0);
	assert_int_equal(msr, 0x1234);
	assert_int_equal(ppc64_vcpu_is_big_endian(fd), -1);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_reads_kvm),
		cmocka_unit_test_setup_teardown(test_little_endian_vcpu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_endian_vcpu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sampled_each_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_error_cannot_tell, setup, teardown),
		cmocka_unit_test(test_kvm_read_fails_on_non_vcpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
