/* Tests for cli_parse: defaults, every option in both spellings, help and
 * version, and every rejection with a message that names the argument. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/cli.h"

static struct vm_config cfg;
static char err[CLI_ERR_MAX];

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* cli_parse over a NULL-free list of literals (copied: argv is char **). */
#define PARSE(...)                                                          \
	({                                                                  \
		char *argv_[] = { "kvmini", __VA_ARGS__ };                  \
		memset(&cfg, 0x5A, sizeof(cfg));                            \
		memset(err, 'X', sizeof(err));                              \
		cli_parse(ARGC(argv_), argv_, &cfg, err, sizeof(err));      \
	})

/* Rejected with -EINVAL and a message beginning with prefix. */
#define REJECT(prefix, ...)                                                 \
	do {                                                                \
		int r_ = PARSE(__VA_ARGS__);                                \
		assert_int_equal(r_, -EINVAL);                              \
		assert_non_null(memchr(err, 0, sizeof(err)));               \
		if (strncmp(err, prefix, strlen(prefix)))                   \
			fail_msg("message '%s' does not start with '%s'",   \
				 err, prefix);                              \
	} while (0)

static void defaults(void **state)
{
	(void)state;
	assert_int_equal(PARSE("run", "--kernel", "bz"), CLI_RUN);
	assert_string_equal(err, "");
	assert_string_equal(cfg.kernel, "bz");
	assert_null(cfg.initrd);
	assert_string_equal(cfg.cmdline, "console=ttyS0");
	assert_int_equal(cfg.mem_size, 512ULL << 20);
	assert_int_equal(cfg.mem_size, CLI_DEFAULT_MEM);
	assert_int_equal(cfg.ncpus, 1);
	assert_int_equal(cfg.console, CONSOLE_STDIO);
	assert_null(cfg.console_path);
	assert_true(cfg.timeout_s == 0.0);
	assert_int_equal(cfg.on_reboot, REBOOT_EXIT);
}

static void check_all_set(void)
{
	assert_string_equal(cfg.kernel, "/k");
	assert_string_equal(cfg.initrd, "/i");
	assert_string_equal(cfg.cmdline, "quiet root=/dev/vda");
	assert_int_equal(cfg.mem_size, 2ULL << 30);
	assert_int_equal(cfg.ncpus, 4);
	assert_int_equal(cfg.console, CONSOLE_FILE);
	assert_string_equal(cfg.console_path, "/tmp/log");
	assert_true(cfg.timeout_s == 2.5);
	assert_int_equal(cfg.on_reboot, REBOOT_RESTART);
}

static void options_separate(void **state)
{
	(void)state;
	assert_int_equal(PARSE("run", "--kernel", "/k", "--initrd", "/i",
			       "--cmdline", "quiet root=/dev/vda", "--memory", "2G",
			       "--cpus", "4", "--console", "file:/tmp/log",
			       "--timeout", "2.5", "--on-reboot", "restart"), CLI_RUN);
	check_all_set();
}

static void options_equals(void **state)
{
	(void)state;
	assert_int_equal(PARSE("run", "--kernel=/k", "--initrd=/i",
			       "--cmdline=quiet root=/dev/vda", "--memory=2G",
			       "--cpus=4", "--console=file:/tmp/log",
			       "--timeout=2.5", "--on-reboot=restart"), CLI_RUN);
	check_all_set();
}

static void option_values(void **state)
{
	(void)state;
	/* A bare --memory number is MiB. */
	assert_int_equal(PARSE("run", "--kernel", "k", "--memory", "1024"), CLI_RUN);
	assert_int_equal(cfg.mem_size, 1ULL << 30);
	/* The limits themselves are accepted. */
	assert_int_equal(PARSE("run", "--kernel", "k", "--memory=16M"), CLI_RUN);
	assert_int_equal(cfg.mem_size, CLI_MIN_MEM);
	assert_int_equal(PARSE("run", "--kernel", "k", "--memory=1T"), CLI_RUN);
	assert_int_equal(cfg.mem_size, CLI_MAX_MEM);
	assert_int_equal(PARSE("run", "--kernel", "k", "--cpus", "1"), CLI_RUN);
	assert_int_equal(cfg.ncpus, 1);
	assert_int_equal(PARSE("run", "--kernel", "k", "--cpus", "64"), CLI_RUN);
	assert_int_equal(cfg.ncpus, 64);
	assert_int_equal(PARSE("run", "--kernel", "k", "--console", "none"), CLI_RUN);
	assert_int_equal(cfg.console, CONSOLE_NONE);
	assert_int_equal(PARSE("run", "--kernel", "k", "--console=stdio"), CLI_RUN);
	assert_int_equal(cfg.console, CONSOLE_STDIO);
	assert_int_equal(PARSE("run", "--kernel", "k", "--on-reboot", "exit"), CLI_RUN);
	assert_int_equal(cfg.on_reboot, REBOOT_EXIT);
	assert_int_equal(PARSE("run", "--kernel", "k", "--timeout", "30"), CLI_RUN);
	assert_true(cfg.timeout_s == 30.0);
	/* An empty command line is a valid command line. */
	assert_int_equal(PARSE("run", "--kernel", "k", "--cmdline", ""), CLI_RUN);
	assert_string_equal(cfg.cmdline, "");
	/* The value after '=' may itself contain '='. */
	assert_int_equal(PARSE("run", "--kernel", "k", "--cmdline=a=b c=d"), CLI_RUN);
	assert_string_equal(cfg.cmdline, "a=b c=d");
	/* The last occurrence wins. */
	assert_int_equal(PARSE("run", "--kernel", "a", "--kernel=b", "--cpus", "2",
			       "--cpus", "3"), CLI_RUN);
	assert_string_equal(cfg.kernel, "b");
	assert_int_equal(cfg.ncpus, 3);
	/* A value that looks like an option is still the value. */
	assert_int_equal(PARSE("run", "--kernel", "k", "--cmdline", "--help"), CLI_RUN);
	assert_string_equal(cfg.cmdline, "--help");
}

static void help_version(void **state)
{
	(void)state;
	assert_int_equal(PARSE("--help"), CLI_HELP);
	assert_int_equal(PARSE("-h"), CLI_HELP);
	assert_int_equal(PARSE("help"), CLI_HELP);
	assert_int_equal(PARSE("run", "--help"), CLI_HELP);
	assert_int_equal(PARSE("run", "-h"), CLI_HELP);
	assert_int_equal(PARSE("run", "--kernel", "k", "help"), CLI_HELP);
	/* --help wins over a later error, not over an earlier one. */
	assert_int_equal(PARSE("run", "--help", "--bogus"), CLI_HELP);
	REJECT("--cpus:", "run", "--cpus", "0", "--help");
	assert_int_equal(PARSE("--version"), CLI_VERSION);
	assert_int_equal(PARSE("version"), CLI_VERSION);
	assert_non_null(strstr(cli_usage, "--kernel"));
	assert_non_null(strstr(cli_usage, "--on-reboot"));
}

static void bad_command(void **state)
{
	char *argv[] = { "kvmini" };

	(void)state;
	memset(err, 'X', sizeof(err));
	assert_int_equal(cli_parse(1, argv, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "missing command"));
	REJECT("start:", "start", "--kernel", "k");
	assert_non_null(strstr(err, "unknown command"));
	REJECT("--kernel:", "--kernel", "k");         /* options need "run" first */
	assert_non_null(strstr(err, "unknown command"));
	REJECT("RUN:", "RUN");
}

static void bad_options(void **state)
{
	(void)state;
	REJECT("--bogus:", "run", "--kernel", "k", "--bogus", "1");
	assert_non_null(strstr(err, "unknown option"));
	REJECT("--bogus:", "run", "--kernel", "k", "--bogus=1");
	assert_non_null(strstr(err, "unknown option"));
	REJECT("--kernelx:", "run", "--kernelx=k");
	/* A very long name with '=' is reported, not overflowed. */
	REJECT("--aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:", "run",
	       "--aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1");
	assert_non_null(strstr(err, "unknown option"));
	/* Missing value at the end, for each option. */
	static const char *const opts[] = { "--kernel", "--initrd", "--cmdline", "--memory",
					    "--cpus", "--console", "--timeout", "--on-reboot" };
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		char prefix[32];
		char *argv[] = { "kvmini", "run", "--kernel", "k", (char *)opts[i] };

		snprintf(prefix, sizeof(prefix), "%s:", opts[i]);
		memset(err, 'X', sizeof(err));
		assert_int_equal(cli_parse(5, argv, &cfg, err, sizeof(err)), -EINVAL);
		if (strncmp(err, prefix, strlen(prefix)) || !strstr(err, "missing value"))
			fail_msg("'%s' alone: message '%s'", opts[i], err);
	}
	/* Positional junk. */
	REJECT("bz:", "run", "bz");
	assert_non_null(strstr(err, "unexpected argument"));
	REJECT("extra:", "run", "--kernel", "k", "extra");
	REJECT("-x:", "run", "--kernel", "k", "-x");
	/* --kernel is required. */
	REJECT("--kernel:", "run");
	assert_non_null(strstr(err, "missing"));
	REJECT("--kernel:", "run", "--memory", "1G", "--initrd", "i");
}

static void bad_memory(void **state)
{
	static const char *const junk[] = { "lots", "1.5G", "12X", "0", "-1", "", "99999999999999999999" };
	static const char *const range[] = { "8M", "15M", "16383K", "2T", "1025G", "1048577" };

	(void)state;
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		REJECT("--memory:", "run", "--kernel", "k", "--memory", (char *)junk[i]);
		if (!strstr(err, "is not a size"))
			fail_msg("'%s': '%s'", junk[i], err);
		REJECT("--memory:", "run", "--kernel", "k", "--memory", (char *)junk[i]);
	}
	for (size_t i = 0; i < sizeof(range) / sizeof(range[0]); i++) {
		REJECT("--memory:", "run", "--kernel", "k", "--memory", (char *)range[i]);
		if (!strstr(err, "out of range"))
			fail_msg("'%s': '%s'", range[i], err);
	}
	REJECT("--memory:", "run", "--kernel", "k", "--memory=4k");
}

static void bad_cpus(void **state)
{
	static const char *const v[] = { "0", "65", "abc", "-1", "", "2x", "1.5", "99999999999999999999",
					 " 4", "+4" };

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		REJECT("--cpus:", "run", "--kernel", "k", "--cpus", (char *)v[i]);
		assert_non_null(strstr(err, "1 to 64"));
	}
	REJECT("--cpus:", "run", "--kernel", "k", "--cpus=65");
}

static void bad_console(void **state)
{
	static const char *const v[] = { "file:", "file", "tty", "", "STDIO", "stdio:x", "none " };

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		REJECT("--console:", "run", "--kernel", "k", "--console", (char *)v[i]);
	REJECT("--console:", "run", "--kernel", "k", "--console=file:");
}

static void bad_timeout(void **state)
{
	static const char *const v[] = { "0", "-1", "abc", "", "5s", "nan", "inf", "-0", "1e8" };

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		REJECT("--timeout:", "run", "--kernel", "k", "--timeout", (char *)v[i]);
	REJECT("--timeout:", "run", "--kernel", "k", "--timeout=0");
}

static void bad_on_reboot(void **state)
{
	(void)state;
	REJECT("--on-reboot:", "run", "--kernel", "k", "--on-reboot", "reset");
	REJECT("--on-reboot:", "run", "--kernel", "k", "--on-reboot=EXIT");
	REJECT("--on-reboot:", "run", "--kernel", "k", "--on-reboot=");
}

/* The first error is the one reported; the message fits the buffer. */
static void disks(void **state)
{
	(void)state;
	assert_int_equal(PARSE("run", "--kernel", "k", "--disk", "a.img",
			       "--disk=b.img,readonly=on,transport=mmio,version=1,cache=none",
			       "--no-ioeventfd"), CLI_RUN);
	assert_int_equal(cfg.ndisks, 2);
	assert_string_equal(cfg.disks[0].path, "a.img");
	assert_int_equal(cfg.disks[0].readonly, 0);
	assert_int_equal(cfg.disks[0].t.transport, TRANSPORT_PCI);   /* PCI is the default */
	assert_int_equal(cfg.disks[0].t.legacy, 1);                  /* transitional */
	assert_int_equal(cfg.disks[0].t.version, 2);
	assert_int_equal(cfg.disks[0].cache, DISK_CACHE_WRITEBACK);
	assert_string_equal(cfg.disks[1].path, "b.img");
	assert_int_equal(cfg.disks[1].readonly, 1);
	assert_int_equal(cfg.disks[1].t.version, 1);
	assert_int_equal(cfg.disks[1].t.transport, TRANSPORT_MMIO);
	assert_int_equal(cfg.disks[1].cache, DISK_CACHE_NONE);
	assert_int_equal(cfg.no_ioeventfd, 1);
	assert_int_equal(PARSE("run", "--kernel", "k"), CLI_RUN);
	assert_int_equal(cfg.ndisks, 0);
	assert_int_equal(cfg.no_ioeventfd, 0);
}

static void bad_disks(void **state)
{
	static const char *const v[] = {
		"", ",readonly=on", "a,version=3", "a,readonly=yes", "a,cache=sometimes",
		"a,color=red", "a,readonly", "a,=on", "a,legacy=maybe", "a,transport=usb",
		"a,tap=x",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		REJECT("--disk:", "run", "--kernel", "k", "--disk", (char *)v[i]);
	REJECT("--disk:", "run", "--kernel", "k", "--disk", "a", "--disk", "a", "--disk", "a",
	       "--disk", "a", "--disk", "a", "--disk", "a", "--disk", "a", "--disk", "a", "--disk", "a");
	assert_non_null(strstr(err, "at most 8"));
}

/* aio=, queues=, iothread= and --iothreads; the queue count's default. */
static void disk_engines_and_queues(void **state)
{
	(void)state;
	assert_int_equal(PARSE("run", "--kernel", "k", "--cpus", "3", "--iothreads", "2",
			       "--disk", "a,aio=io_uring,queues=4,iothread=1",
			       "--disk", "b,aio=threads,poll=200", "--disk=c,aio=sync,queues=1,poll=0",
			       "--disk", "d,aio=auto"), CLI_RUN);
	assert_int_equal(cfg.iothreads, 2);
	assert_int_equal(cfg.disks[0].aio, DISK_AIO_IO_URING);
	assert_int_equal(cfg.disks[0].queues, 4);
	assert_int_equal(cfg.disks[0].iothread, 1);
	assert_int_equal(cfg.disks[0].poll_us, 0);            /* polling is off by default */
	assert_int_equal(cfg.disks[1].aio, DISK_AIO_THREADS);
	assert_int_equal(cfg.disks[1].iothread, -1);
	assert_int_equal(cfg.disks[1].poll_us, 200);
	assert_int_equal(cfg.disks[2].aio, DISK_AIO_SYNC);
	assert_int_equal(cfg.disks[2].poll_us, 0);
	assert_int_equal(cfg.disks[3].aio, DISK_AIO_AUTO);
	assert_int_equal(cli_disk_queues(&cfg, &cfg.disks[0]), 4);
	assert_int_equal(cli_disk_queues(&cfg, &cfg.disks[1]), 3);   /* one per vCPU */
	assert_int_equal(cli_disk_queues(&cfg, &cfg.disks[2]), 1);
	assert_int_equal(PARSE("run", "--kernel", "k", "--cpus", "40", "--disk", "a"), CLI_RUN);
	assert_int_equal(cfg.iothreads, 1);
	assert_int_equal(cfg.disks[0].aio, DISK_AIO_AUTO);
	assert_int_equal(cli_disk_queues(&cfg, &cfg.disks[0]), 16);  /* at most 16 */

	assert_int_equal(PARSE("run", "--kernel", "k", "--disk", "a,packed=on", "--disk", "b",
			       "--net", "tap=t0,packed=on"), CLI_RUN);
	assert_int_equal(cfg.disks[0].t.packed, 1);
	assert_int_equal(cfg.disks[1].t.packed, 0);
	assert_int_equal(cfg.nets[0].t.packed, 1);

	static const char *const bad[] = { "a,packed=yes", "a,aio=posix", "a,aio=", "a,queues=0", "a,queues=17",
					   "a,queues=x", "a,iothread=-1", "a,iothread=16", "a,poll=-1",
					   "a,poll=10001", "a,poll=", "a,poll=50us" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		REJECT("--disk:", "run", "--kernel", "k", "--disk", (char *)bad[i]);
	REJECT("--disk: iothread=1, but there is only 1 I/O thread", "run", "--kernel", "k",
	       "--disk", "a,iothread=1");
	REJECT("--iothreads:", "run", "--kernel", "k", "--iothreads", "0");
	REJECT("--iothreads:", "run", "--kernel", "k", "--iothreads", "17");
}

static void nets(void **state)
{
	(void)state;
	assert_int_equal(PARSE("run", "--kernel", "k", "--net", "tap=tap0",
			       "--net=tap=kvm1,mac=02:4B:56:00:00:2a,transport=pci,legacy=off",
			       "--net", "tap=kvm2,transport=mmio,version=1"), CLI_RUN);
	assert_int_equal(cfg.nnets, 3);
	assert_string_equal(cfg.nets[0].tap, "tap0");
	assert_int_equal(cfg.nets[0].has_mac, 0);
	assert_int_equal(cfg.nets[0].t.transport, TRANSPORT_PCI);
	assert_int_equal(cfg.nets[0].t.legacy, 1);
	assert_int_equal(cfg.nets[1].has_mac, 1);
	assert_memory_equal(cfg.nets[1].mac, "\x02\x4b\x56\x00\x00\x2a", 6);
	assert_int_equal(cfg.nets[1].t.legacy, 0);
	assert_int_equal(cfg.nets[2].t.transport, TRANSPORT_MMIO);
	assert_int_equal(cfg.nets[2].t.version, 1);
}

static void bad_nets(void **state)
{
	static const char *const v[] = {
		"", "mac=02:00:00:00:00:01", "tap=", "tap=a/b", "tap=waytoolongname123",
		"tap=t,mac=02:00:00:00:00", "tap=t,mac=02:00:00:00:00:0g", "tap=t,mac=01:00:00:00:00:01",
		"tap=t,mac=02-00-00-00-00-01", "tap=t,mac=02:00:00:00:00:01:", "tap=t,readonly=on",
		"tap=t,transport=usb", "tap=t,legacy=1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		REJECT("--net:", "run", "--kernel", "k", "--net", (char *)v[i]);
	REJECT("--net:", "run", "--kernel", "k", "--net", "tap=a", "--net", "tap=b",
	       "--net", "tap=c", "--net", "tap=d", "--net", "tap=e");
	/* A bad tap name or MAC is named for what is wrong with it. */
	REJECT("--net: 'tap=waytoolongname123': a tap name is 1 to 15 characters",
	       "run", "--kernel", "k", "--net", "tap=waytoolongname123");
	REJECT("--net: 'tap=a/b': a tap name", "run", "--kernel", "k", "--net", "tap=a/b");
	REJECT("--net: 'mac=01:00:00:00:00:01': not a card's MAC address",
	       "run", "--kernel", "k", "--net", "tap=t,mac=01:00:00:00:00:01");
	REJECT("--net: 'mac=02:00:00:00:00': not a card's MAC address",
	       "run", "--kernel", "k", "--net", "tap=t,mac=02:00:00:00:00");
	REJECT("--net: 'color=red' is not a valid option (tap=NAME",
	       "run", "--kernel", "k", "--net", "tap=t,color=red");
}

/* --console virtio[,...], --port and --guest-status: one virtio-console
 * device. */
static void virtio_console(void **state)
{
	(void)state;
	assert_int_equal(PARSE("run", "--kernel", "k"), CLI_RUN);
	assert_false(cli_vcon_wanted(&cfg));
	assert_int_equal(cfg.vcon.hvc, 0);
	assert_int_equal(cfg.vcon.nports, 0);
	assert_int_equal(cfg.vcon.t.transport, TRANSPORT_PCI);
	assert_int_equal(cfg.vcon.t.legacy, 1);

	assert_int_equal(PARSE("run", "--kernel", "k", "--console", "virtio"), CLI_RUN);
	assert_true(cli_vcon_wanted(&cfg));
	assert_int_equal(cfg.vcon.hvc, 1);
	assert_int_equal(cfg.console, CONSOLE_STDIO);
	assert_int_equal(PARSE("run", "--kernel", "k", "--console=virtio,none"), CLI_RUN);
	assert_int_equal(cfg.console, CONSOLE_NONE);
	/* file:PATH runs to the end, commas and all */
	assert_int_equal(PARSE("run", "--kernel", "k", "--console",
			       "virtio,transport=mmio,version=1,file:/tmp/a,b"), CLI_RUN);
	assert_int_equal(cfg.vcon.hvc, 1);
	assert_int_equal(cfg.console, CONSOLE_FILE);
	assert_string_equal(cfg.console_path, "/tmp/a,b");
	assert_int_equal(cfg.vcon.t.transport, TRANSPORT_MMIO);
	assert_int_equal(cfg.vcon.t.version, 1);
	/* the last --console wins, virtio or not */
	assert_int_equal(PARSE("run", "--kernel", "k", "--console", "virtio", "--console", "none"),
			 CLI_RUN);
	assert_int_equal(cfg.vcon.hvc, 0);
	assert_false(cli_vcon_wanted(&cfg));

	assert_int_equal(PARSE("run", "--kernel", "k", "--port", "org.test-1_a",
			       "--port=log,out=/tmp/o,transport=mmio", "--port", "feed,in=/tmp/i,out=/o2"),
			 CLI_RUN);
	assert_true(cli_vcon_wanted(&cfg));
	assert_int_equal(cfg.vcon.nports, 3);
	assert_string_equal(cfg.vcon.ports[0].name, "org.test-1_a");
	assert_string_equal(cfg.vcon.ports[0].out, "");
	assert_string_equal(cfg.vcon.ports[0].in, "");
	assert_string_equal(cfg.vcon.ports[1].out, "/tmp/o");
	assert_string_equal(cfg.vcon.ports[2].in, "/tmp/i");
	assert_string_equal(cfg.vcon.ports[2].out, "/o2");
	assert_int_equal(cfg.vcon.t.transport, TRANSPORT_MMIO);
	assert_int_equal(cfg.vcon.hvc, 0);

	assert_int_equal(PARSE("run", "--kernel", "k", "--guest-status"), CLI_RUN);
	assert_true(cli_vcon_wanted(&cfg));
	assert_non_null(strstr(cli_usage, "--port NAME"));
	assert_non_null(strstr(cli_usage, "virtio[,"));
}

static void bad_virtio_console(void **state)
{
	static const char *const con[] = { "virtio,", "virtio,tty", "virtio,file:", "virtio,stdio:x",
					   "virtio,transport=usb", "virtio,version=3", "virtiox",
					   "virtio,color=red" };
	static const char *const port[] = { "", ",out=/x", "a b", "a/b", "a,", "a,out=", "a,in=",
					    "a,color=red", "a,transport=usb", "a,out",
					    "0123456789012345678901234567890123456789012345678901234567890123",
					    "kvmini.exit" };

	(void)state;
	for (size_t i = 0; i < sizeof(con) / sizeof(con[0]); i++)
		REJECT("--console:", "run", "--kernel", "k", "--console", (char *)con[i]);
	for (size_t i = 0; i < sizeof(port) / sizeof(port[0]); i++)
		REJECT("--port:", "run", "--kernel", "k", "--port", (char *)port[i]);
	REJECT("--port: 'a' is named twice", "run", "--kernel", "k", "--port", "a", "--port", "a");
	REJECT("--port: 'kvmini.exit': names starting 'kvmini.' are kvmini's own", "run",
	       "--kernel", "k", "--port", "kvmini.exit");
	REJECT("--port: 'kvmini.console': names", "run", "--kernel", "k", "--port", "kvmini.console");
	REJECT("--port: at most 8 ports", "run", "--kernel", "k", "--port", "a", "--port", "b",
	       "--port", "c", "--port", "d", "--port", "e", "--port", "f", "--port", "g",
	       "--port", "h", "--port", "i");
	REJECT("--port: 'color=red' is not a valid option (out=FILE", "run", "--kernel", "k",
	       "--port", "a,color=red");
	REJECT("--port:", "run", "--kernel", "k", "--port");
}

static void first_error_and_truncation(void **state)
{
	char small[12];
	char *argv[] = { "kvmini", "run", "--cpus", "0", "--memory", "1" };

	(void)state;
	REJECT("--cpus:", "run", "--cpus", "0", "--memory", "1");
	memset(small, 'X', sizeof(small));
	assert_int_equal(cli_parse(6, argv, &cfg, small, sizeof(small)), -EINVAL);
	assert_string_equal(small, "--cpus: '0'");
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(options_separate),
		cmocka_unit_test(options_equals),
		cmocka_unit_test(option_values),
		cmocka_unit_test(help_version),
		cmocka_unit_test(bad_command),
		cmocka_unit_test(bad_options),
		cmocka_unit_test(bad_memory),
		cmocka_unit_test(bad_cpus),
		cmocka_unit_test(bad_console),
		cmocka_unit_test(bad_timeout),
		cmocka_unit_test(bad_on_reboot),
		cmocka_unit_test(disks),
		cmocka_unit_test(bad_disks),
		cmocka_unit_test(disk_engines_and_queues),
		cmocka_unit_test(nets),
		cmocka_unit_test(bad_nets),
		cmocka_unit_test(virtio_console),
		cmocka_unit_test(bad_virtio_console),
		cmocka_unit_test(first_error_and_truncation),
	};

	return cmocka_run_group_tests(t, NULL, NULL);
}
