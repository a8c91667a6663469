/* kvmini: command line in, exit status out. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "boot.h"
#include "vmm/cli.h"
#include "vmm/console.h"
#include "vmm/exit.h"
#include "vmm/vm.h"

static int die(const char *msg)
{
	fprintf(stderr, "kvmini: %s\n", msg);
	return KVMINI_EXIT_ERROR;
}

static int open_kvm(char *err, size_t errlen)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "/dev/kvm: %s (is KVM available, and may this user use it?)",
			 strerror(errno));
		return -1;
	}
	int v = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		snprintf(err, errlen, "/dev/kvm: unsupported KVM API version %d", v);
		close(fd);
		return -1;
	}
	return fd;
}

/* SIGINT, SIGTERM and SIGHUP arrive through a signalfd in the main loop; every
 * thread inherits them blocked. SIGUSR1 stays blocked except in vCPU threads. */
static int setup_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigdelset(&set, SIGUSR1);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static int run(const struct vm_config *cfg)
{
	char err[BOOT_ERR_MAX];
	struct boot_files f = { 0 };
	uint8_t *kernel = NULL, *initrd = NULL;
	struct console con;
	int kvm_fd, sig_fd, status;

	if (boot_read_file(cfg->kernel, "--kernel", &kernel, &f.kernel_size, err, sizeof(err)))
		return die(err);
	if (boot_detect(kernel, f.kernel_size) == KERNEL_UNKNOWN) {
		free(kernel);
		snprintf(err, sizeof(err),
			 "--kernel: '%s' is not a kernel kvmini boots (x86_64: bzImage or ELF "
			 "with a PVH note; arm64: Image)", cfg->kernel);
		return die(err);
	}
	if (cfg->initrd &&
	    boot_read_file(cfg->initrd, "--initrd", &initrd, &f.initrd_size, err, sizeof(err))) {
		free(kernel);
		return die(err);
	}
	f.kernel = kernel;
	f.initrd = initrd;
	if ((kvm_fd = open_kvm(err, sizeof(err))) < 0 ||
	    console_open(&con, cfg, err, sizeof(err))) {
		free(kernel);
		free(initrd);
		return die(err);
	}
	sig_fd = setup_signals();
	struct timespec deadline = { 0 };
	if (cfg->timeout_s > 0) {
		/* One deadline for the whole run, across --on-reboot restarts. */
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		double t = (double)deadline.tv_sec + deadline.tv_nsec / 1e9 + cfg->timeout_s;
		deadline.tv_sec = (time_t)t;
		deadline.tv_nsec = (long)((t - (double)(time_t)t) * 1e9);
	}
	for (;;) {
		struct vm_outcome out = { 0 };
		status = vm_run(cfg, &con, kvm_fd, sig_fd, &deadline, &f, &out);
		if (status == KVMINI_EXIT_REBOOT && cfg->on_reboot == REBOOT_RESTART) {
			free(out.crash_dump);
			continue;
		}
		console_close(&con);
		if (status == KVMINI_EXIT_ERROR)
			fprintf(stderr, "kvmini: %s\n", out.reason);
		else if (status != KVMINI_EXIT_POWEROFF)
			fprintf(stderr, "kvmini: %s (exit status %d)\n", out.reason, status);
		if (out.crash_dump)
			fputs(out.crash_dump, stderr);
		free(out.crash_dump);
		break;
	}
	close(sig_fd);
	close(kvm_fd);
	free(kernel);
	free(initrd);
	return status;
}

int main(int argc, char **argv)
{
	struct vm_config cfg;
	char err[CLI_ERR_MAX];

	switch (cli_parse(argc, argv, &cfg, err, sizeof(err))) {
	case CLI_HELP:
		fputs(cli_usage, stdout);
		return 0;
	case CLI_VERSION:
		printf("kvmini %s\n", KVMINI_VERSION);
		return 0;
	case CLI_RUN:
		return run(&cfg);
	default:
		return die(err);
	}
}
