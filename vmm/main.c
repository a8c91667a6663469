/* kvmini: command line in, exit status out. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "boot.h"
#include "vmm/api.h"
#include "vmm/backends.h"
#include "vmm/cli.h"
#include "vmm/ctl.h"
#include "vmm/console.h"
#include "vmm/exit.h"
#include "vmm/restore.h"
#include "vmm/result.h"
#include "vmm/seccomp.h"
#include "vmm/snapshot.h"
#include "vmm/verdict.h"
#include "vmm/kvm.h"
#include "vmm/vm.h"

static int die(const char *msg)
{
	fprintf(stderr, "kvmini: %s\n", msg);
	return KVMINI_EXIT_ERROR;
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

/* Reads the kernel and initrd and checks, for the RAM asked for, that the
 * architecture can boot them with this command line. */
/* The kernel and initrd, checked (format, fit, command line) before
 * /dev/kvm is opened, then unmapped: each VM build maps them again. */
static int check_boot_files(const struct vm_config *cfg, struct boot_files *f, char *err,
			    size_t errlen)
{
	int r;

	f->kernel_path = cfg->kernel;
	f->initrd_path = cfg->initrd;
	if ((r = boot_files_map(f, err, errlen)))
		return r;
	if (boot_detect(f->kernel, f->kernel_size) == KERNEL_UNKNOWN) {
		snprintf(err, errlen,
			 "--kernel: '%s' is not a kernel kvmini boots (x86_64: bzImage or ELF "
			 "with a PVH note; arm64: Image)", cfg->kernel);
		r = -ENOEXEC;
	} else {
		struct arch_boot b = {
			.kernel = f->kernel, .kernel_size = f->kernel_size,
			.initrd = f->initrd, .initrd_size = f->initrd_size, .cmdline = cfg->cmdline,
		};
		r = arch_boot_check(cfg->mem_size, &b, err, errlen);
	}
	boot_files_unmap(f);
	return r;
}

/* One deadline for the whole run, across --on-reboot restarts. */
static struct timespec deadline_after(double seconds)
{
	struct timespec d = { 0 };

	if (seconds > 0) {
		clock_gettime(CLOCK_MONOTONIC, &d);
		double t = (double)d.tv_sec + d.tv_nsec / 1e9 + seconds;
		d.tv_sec = (time_t)t;
		d.tv_nsec = (long)((t - (double)(time_t)t) * 1e9);
	}
	return d;
}

/* --hugepages: enough free 2 MiB pages for guest RAM, checked before KVM is
 * opened so the answer names the option on any host. */
static int hugepages_check(const struct vm_config *cfg, char *err, size_t errlen)
{
	static const char path[] = "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages";
	unsigned long long free_pages = 0, want = cfg->mem_size >> 21;
	FILE *f;

	if (!cfg->hugepages)
		return 0;
	if (!(f = fopen(path, "re"))) {
		snprintf(err, errlen, "--hugepages: this kernel has no 2 MiB huge pages (%s: %s)", path,
			 strerror(errno));
		return -ENOENT;
	}
	if (fscanf(f, "%llu", &free_pages) != 1)
		free_pages = 0;
	fclose(f);
	if (free_pages < want) {
		snprintf(err, errlen, "--hugepages: %llu MiB of guest RAM needs %llu free 2 MiB huge pages, "
			 "the host has %llu (reserve them in /proc/sys/vm/nr_hugepages)",
			 (unsigned long long)(cfg->mem_size >> 20), want, free_pages);
		return -ENOMEM;
	}
	return 0;
}

/* The main thread's filter, before the first VM is built: --seccomp, else
 * KVMINI_SECCOMP, else on. */
static int enter_seccomp(const struct vm_config *cfg, char *err, size_t errlen)
{
	enum seccomp_mode m = SECCOMP_ON;
	const char *env = getenv("KVMINI_SECCOMP");
	int r;

	if (cfg->seccomp >= 0)
		m = (enum seccomp_mode)cfg->seccomp;
	else if (env && !strcmp(env, "log"))
		m = SECCOMP_LOG;
	else if (env && !strcmp(env, "off"))
		m = SECCOMP_OFF;
	if ((r = seccomp_setup(m)) || (r = seccomp_enter(SECCOMP_MAIN))) {
		snprintf(err, errlen, "--seccomp: cannot install the system-call filter: %s "
			 "(--seccomp=off runs without)", strerror(-r));
		return r;
	}
	return 0;
}

/* rs: kvmini restore's snapshot (vmm/restore.h), or NULL to boot. */
static int run(const struct vm_config *cfg, const struct restore_src *rs)
{
	char err[BOOT_ERR_MAX];
	struct boot_files f = { 0 };
	struct console con;
	struct backends be;
	struct kvm_sys kvm;
	struct verdict verdict;
	struct api *api = NULL;
	int status, outcome, restarts = 0;
	int64_t t0 = verdict_now_ns();

	if (!rs && check_boot_files(cfg, &f, err, sizeof(err))) {
		return die(err);
	}
	/* Before the system-call filter: the socket, and the disks' absolute
	 * paths a snapshot records. */
	if (cfg->api_socket && api_open(&api, cfg->api_socket, err, sizeof(err)))
		return die(err);
	snapshot_prepare(cfg);
	if (verdict_init(&verdict, cfg, err, sizeof(err))) {
		verdict_destroy(&verdict);
		api_close(api);
		return die(err);
	}
	if (console_open(&con, cfg, err, sizeof(err))) {
		verdict_destroy(&verdict);
		api_close(api);
		return die(err);
	}
	con.verdict = &verdict;
	if (backends_open(&be, cfg, err, sizeof(err))) {
		console_close(&con);
		verdict_destroy(&verdict);
		api_close(api);
		return die(err);
	}
	if (hugepages_check(cfg, err, sizeof(err)) || kvm_open(&kvm, cfg, err, sizeof(err))) {
		backends_close(&be);
		console_close(&con);
		verdict_destroy(&verdict);
		api_close(api);
		return die(err);
	}
	kvm_note_fallbacks(&kvm, cfg);
	if (enter_seccomp(cfg, err, sizeof(err))) {
		kvm_close(&kvm);
		backends_close(&be);
		console_close(&con);
		verdict_destroy(&verdict);
		api_close(api);
		return die(err);
	}
	struct timespec deadline = deadline_after(cfg->timeout_s);
	struct vm_env env = {
		.cfg = cfg, .con = &con, .kvm = &kvm, .sig_fd = setup_signals(),
		.deadline = &deadline, .files = &f, .backends = &be, .verdict = &verdict,
		.api = api, .restore = rs,
	};
	/* The whole run's exits, restarts included (NULL: "exits" is null). */
	struct exit_stats *exits = calloc(1, sizeof(*exits));
	console_start(&con);
	for (;;) {
		struct vm_outcome out = { 0 };
		outcome = vm_run(&env, &out);
		if (exits)
			exit_stats_add(exits, &out.exits);
		if (outcome == KVMINI_EXIT_REBOOT && cfg->on_reboot == REBOOT_RESTART) {
			free(out.crash_dump);
			free(out.devices_json);
			restarts++;
			continue;
		}
		console_close(&con);
		if (outcome == KVMINI_EXIT_POWEROFF && cfg->expect) {
			outcome = KVMINI_EXIT_NO_EXPECT;
			snprintf(out.reason, sizeof(out.reason),
				 "the guest powered off before --expect's pattern appeared");
		}
		status = kvmini_exit_status(outcome, out.guest_status, cfg->guest_status);
		if (outcome == KVMINI_EXIT_ERROR)
			fprintf(stderr, "kvmini: %s\n", out.reason);
		else if (status != 0 || (outcome != KVMINI_EXIT_POWEROFF &&
					 outcome != KVMINI_EXIT_EXPECTED &&
					 outcome != KVMINI_EXIT_GUEST))
			fprintf(stderr, "kvmini: %s (exit status %d)\n", out.reason, status);
		if (out.crash_dump)
			fputs(out.crash_dump, stderr);
		if (cfg->result) {
			struct run_result rr = {
				.status = status, .outcome = outcome,
				.guest_status = outcome == KVMINI_EXIT_GUEST ? out.guest_status : -1,
				.reason = out.reason, .wall_s = (double)(verdict_now_ns() - t0) / 1e9,
				.restarts = restarts, .devices_json = out.devices_json,
				.exits = exits,
			};
			int e = result_write(cfg, &rr, &verdict);
			if (e)
				fprintf(stderr, "kvmini: --result: cannot write '%s': %s\n", cfg->result,
					strerror(-e));
		}
		free(out.crash_dump);
		free(out.devices_json);
		break;
	}
	close(env.sig_fd);
	api_close(api);
	kvm_close(&kvm);
	backends_close(&be);
	verdict_destroy(&verdict);
	free(exits);
	return status;
}

int main(int argc, char **argv)
{
	struct vm_config cfg;
	char err[CLI_ERR_MAX];

	/* One malloc arena for all threads. glibc would give each new thread
	 * an arena of its own, mmap'd heaps that free() trims -- and the first
	 * trim reads /proc/sys/vm/overcommit_memory, an open no vCPU or I/O
	 * thread may make under its seccomp filter (seen in the lab). kvmini
	 * allocates little once a VM runs, so one arena costs nothing and
	 * keeps the address space small. */
	mallopt(M_ARENA_MAX, 1);

	if (argc > 1 && !strcmp(argv[1], "ctl"))
		return ctl_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "restore")) {
		struct restore_src *rs;
		int r = restore_prepare(argc, argv, &rs, &cfg, err, sizeof(err));
		if (!r)
			r = run(&cfg, rs);
		else
			r = die(err);
		restore_free(rs);
		return r;
	}
	switch (cli_parse(argc, argv, &cfg, err, sizeof(err))) {
	case CLI_HELP:
		fputs(cli_usage, stdout);
		return 0;
	case CLI_VERSION:
		printf("kvmini %s\n", KVMINI_VERSION);
		return 0;
	case CLI_RUN:
		return run(&cfg, NULL);
	default:
		return die(err);
	}
}
