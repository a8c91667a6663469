#include "vmm/cli.h"
#include "vmm/cli_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/size.h"

#include <regex.h>

const char cli_usage[] =
	"usage: kvmini run --kernel PATH [options]\n"
	"       kvmini restore DIR [--disk PATH[,opts]]... [--net tap=NAME[,opts]]... [options]\n"
	"       kvmini ctl SOCKET status|pause|resume|quit|snapshot DIR\n"
	"       kvmini --help | --version\n"
	"\n"
	"Boot a Linux guest under KVM.\n"
	"\n"
	"  --kernel PATH          x86_64: bzImage, or ELF vmlinux with a PVH entry note;\n"
	"                         arm64: Image (Debian's arm64 vmlinuz)\n"
	"  --initrd PATH          initial ramdisk\n"
	"  --cmdline STR          kernel command line\n"
	"  --memory SIZE          guest RAM, e.g. 512M, 2G (default 512M; bare number = MiB)\n"
	"  --cpus N               number of vCPUs, 1-64 (default 1)\n"
	"  --console KIND         where the guest console goes: stdio (default), file:PATH\n"
	"                         or none; virtio[,stdio|none|file:PATH][,TRANSPORT]: the\n"
	"                         same, with the console on hvc0 of a virtio-console\n"
	"                         device (guest: console=hvc0); input goes to hvc0, the\n"
	"                         UART stays for early messages. file:PATH comes last\n"
	"  --timeout SECONDS      stop the guest after this long (exit status 124)\n"
	"  --on-reboot ACTION     exit (default: exit status 3) or restart\n"
	"  --disk PATH[,readonly=on][,cache=none|writeback][,aio=ENGINE][,queues=N]\n"
	"             [,iothread=K][,lock=off][,poll=USECS][,TRANSPORT]\n"
	"                         a raw disk image as a virtio-blk device (repeatable);\n"
	"                         ENGINE: io_uring, threads or sync (default: io_uring\n"
	"                         where allowed, else threads); queues: 1-16 (default:\n"
	"                         one per vCPU); iothread: 0..N-1 of --iothreads;\n"
	"                         poll: poll each queue up to USECS (0-10000) for the\n"
	"                         next request before sleeping, adaptively (default 0)\n"
	"  --net tap=NAME[,mac=XX:XX:XX:XX:XX:XX][,TRANSPORT]\n"
	"                         a virtio-net card on a tap device (repeatable)\n"
	"  --port NAME[,out=FILE][,in=FILE][,TRANSPORT]\n"
	"                         a named port of the virtio-console device (guest:\n"
	"                         /dev/vportNpM, NAME in /sys/class/virtio-ports/*/name;\n"
	"                         up to 8): the guest's bytes are appended to out=FILE;\n"
	"                         in=FILE is what the guest reads once it opens the\n"
	"                         port, then end-of-file (a port without out=)\n"
	"      TRANSPORT: transport=pci (default) with legacy=on (transitional, default)\n"
	"                 or legacy=off (modern only); or transport=mmio with version=2\n"
	"                 (modern, default) or version=1 (legacy); packed=on offers packed\n"
	"                 virtqueues to a modern driver (default off)\n"
	"  --iothreads N          I/O threads serving disk queues, 1-16 (default 1);\n"
	"                         network cards have a thread of their own\n"
	"  --no-ioeventfd         handle queue notifications on the vCPU thread\n"
	"  --hugepages            guest RAM from reserved 2 MiB huge pages (hugetlbfs;\n"
	"                         /proc/sys/vm/nr_hugepages), not transparent huge pages\n"
	"  --api-socket PATH      take JSON commands on this Unix socket (mode 0600): pause,\n"
	"                         resume, snapshot DIR, status, quit (client: kvmini ctl)\n"
	"  --seccomp MODE         on (default): a forbidden system call kills kvmini with\n"
	"                         SIGSYS; log: the kernel logs it; off: no filters\n"
	"                         (default also from KVMINI_SECCOMP)\n"
	"\n"
	"CI verdicts (see README, Using kvmini in CI):\n"
	"  --expect REGEX         succeed (status 0) as soon as the console shows REGEX\n"
	"  --fail-on REGEX        fail (status 6) when the console shows REGEX; repeatable\n"
	"  --idle-timeout SECONDS fail (status 7) after this long without console output\n"
	"  --guest-status         exit with the status the guest writes to its kvmini.exit\n"
	"                         port (0-239); kvmini's own outcomes become 240-255\n"
	"  --console-log FILE     keep the whole console in FILE as well\n"
	"  --result FILE          write a JSON summary of the run to FILE at exit\n"
	"  --boot-marker REGEX    console text that marks a finished boot, for --result\n"
	"                         (default: the guest image's KVMINI-GUEST-UP)\n"
	"\n"
	"Exit status: 0 guest powered off (or --expect matched), 2 kvmini error,\n"
	"3 guest reboot, 4 guest panic, 5 guest crash (triple fault, KVM error),\n"
	"6 --fail-on matched, 7 --idle-timeout, 8 stopped before --expect matched, 124 timeout,\n"
	"130 SIGINT or Ctrl-A x, 143 SIGTERM. On the console, Ctrl-A x quits,\n"
	"Ctrl-A Ctrl-A sends Ctrl-A.\n";

int cli_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;

	if (!isdigit((unsigned char)s[0]))   /* strtol would take " 4" and "+4" */
		return -EINVAL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_console(struct vm_config *cfg, const char *v)
{
	cfg->vcon.hvc = 0;
	if (!strcmp(v, "stdio")) {
		cfg->console = CONSOLE_STDIO;
	} else if (!strcmp(v, "none")) {
		cfg->console = CONSOLE_NONE;
	} else if (!strncmp(v, "file:", 5) && v[5]) {
		cfg->console = CONSOLE_FILE;
		cfg->console_path = v + 5;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int parse_timeout(const char *v, double *out)
{
	char *end;

	if (!isdigit((unsigned char)v[0]) && v[0] != '.')
		return -EINVAL;
	errno = 0;
	double t = strtod(v, &end);
	if (errno || end == v || *end || !(t > 0) || t > 1e7)
		return -EINVAL;
	*out = t;
	return 0;
}

/* transport=pci|mmio, version=1|2 (mmio), legacy=on|off (pci). 0 if taken,
 * 1 if the key is not a transport key, -EINVAL for a bad value. */
int cli_transport_key(struct transport_config *t, const char *k, const char *v)
{
	if (!strcmp(k, "transport")) {
		if (!strcmp(v, "pci"))
			t->transport = TRANSPORT_PCI;
		else if (!strcmp(v, "mmio"))
			t->transport = TRANSPORT_MMIO;
		else
			return -EINVAL;
	} else if (!strcmp(k, "version")) {
		if (strcmp(v, "1") && strcmp(v, "2"))
			return -EINVAL;
		t->version = v[0] - '0';
	} else if (!strcmp(k, "legacy")) {
		if (strcmp(v, "on") && strcmp(v, "off"))
			return -EINVAL;
		t->legacy = !strcmp(v, "on");
	} else if (!strcmp(k, "packed")) {
		if (strcmp(v, "on") && strcmp(v, "off"))
			return -EINVAL;
		t->packed = !strcmp(v, "on");
	} else {
		return 1;
	}
	return 0;
}

static int disk_key(void *dev, const char *k, const char *v, const char **why)
{
	struct disk_config *d = dev;
	int r = cli_transport_key(&d->t, k, v);
	long n;

	if (r <= 0)
		return r;
	if (!strcmp(k, "readonly") && (!strcmp(v, "on") || !strcmp(v, "off")))
		d->readonly = !strcmp(v, "on");
	else if (!strcmp(k, "cache") && !strcmp(v, "none"))
		d->cache = DISK_CACHE_NONE;
	else if (!strcmp(k, "cache") && !strcmp(v, "writeback"))
		d->cache = DISK_CACHE_WRITEBACK;
	else if (!strcmp(k, "lock") && (!strcmp(v, "on") || !strcmp(v, "off")))
		d->nolock = !strcmp(v, "off");
	else if (!strcmp(k, "aio") && !strcmp(v, "io_uring"))
		d->aio = DISK_AIO_IO_URING;
	else if (!strcmp(k, "aio") && !strcmp(v, "threads"))
		d->aio = DISK_AIO_THREADS;
	else if (!strcmp(k, "aio") && !strcmp(v, "sync"))
		d->aio = DISK_AIO_SYNC;
	else if (!strcmp(k, "aio") && !strcmp(v, "auto"))
		d->aio = DISK_AIO_AUTO;
	else if (!strcmp(k, "queues") && !parse_int(v, 1, CLI_MAX_DISK_QUEUES, &n))
		d->queues = (int)n;
	else if (!strcmp(k, "iothread") && !parse_int(v, 0, CLI_MAX_IOTHREADS - 1, &n))
		d->iothread = (int)n;
	else if (!strcmp(k, "poll") && !parse_int(v, 0, CLI_MAX_DISK_POLL_US, &n))
		d->poll_us = (int)n;
	else
		return -EINVAL;
	return 0;
}

int cli_disk_queues(const struct vm_config *cfg, const struct disk_config *d)
{
	if (d->queues)
		return d->queues;
	return cfg->ncpus < CLI_MAX_DISK_QUEUES ? cfg->ncpus : CLI_MAX_DISK_QUEUES;
}

static int parse_mac(const char *v, uint8_t mac[6])
{
	unsigned b[6];
	char tail;

	if (strlen(v) != 17 ||
	    sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)v[3 * i]) || !isxdigit((unsigned char)v[3 * i + 1]))
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	if (mac[0] & 1)            /* a multicast address cannot be a NIC's */
		return -EINVAL;
	return 0;
}

static int net_key(void *dev, const char *k, const char *v, const char **why)
{
	struct net_config *n = dev;
	int r = cli_transport_key(&n->t, k, v);

	if (r <= 0)
		return r;
	if (!strcmp(k, "tap")) {
		if (!v[0] || strlen(v) >= sizeof(n->tap) || strchr(v, '/')) {
			*why = "a tap name is 1 to 15 characters, without '/'";
			return -EINVAL;
		}
		strcpy(n->tap, v);
	} else if (!strcmp(k, "mac")) {
		if (parse_mac(v, n->mac)) {
			*why = "not a card's MAC address (six hex bytes XX:XX:XX:XX:XX:XX, "
			       "the first one even: odd is multicast)";
			return -EINVAL;
		}
		n->has_mac = 1;
	} else {
		return -EINVAL;
	}
	return 0;
}

/* Walks "key=value,key=value" (from s), handing each pair to key(), which
 * may say why it refuses a value of a key it knows. */
static int parse_keys(const char *opt, const char *s, void *dev,
		      int (*key)(void *dev, const char *k, const char *v, const char **why),
		      const char *known, char *err, int errlen)
{
	while (s && *s) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		char kv[64], *eq;
		const char *why = NULL;

		if (n >= sizeof(kv))
			return cli_fail(err, (size_t)errlen, "%s: '%.20s...' is not a valid option (%s)", opt, s, known);
		memcpy(kv, s, n);
		kv[n] = 0;
		if (!(eq = strchr(kv, '=')) || (*eq = 0, key(dev, kv, eq + 1, &why))) {
			if (why)
				return cli_fail(err, (size_t)errlen, "%s: '%.*s': %s", opt, (int)n, s, why);
			return cli_fail(err, (size_t)errlen, "%s: '%.*s' is not a valid option (%s)", opt, (int)n, s,
				    known);
		}
		s = comma ? comma + 1 : NULL;
	}
	return 0;
}

static const struct transport_config default_transport = {
	.transport = TRANSPORT_PCI, .version = 2, .legacy = 1,
};

/* PATH[,key=value]... */
static int parse_disk(struct vm_config *cfg, const char *v, char *err, int errlen)
{
	if (cfg->ndisks >= CLI_MAX_DISKS)
		return cli_fail(err, (size_t)errlen, "--disk: at most %d disks", CLI_MAX_DISKS);
	struct disk_config *d = &cfg->disks[cfg->ndisks];
	const char *comma = strchr(v, ',');
	size_t plen = comma ? (size_t)(comma - v) : strlen(v);

	*d = (struct disk_config){ .t = default_transport, .iothread = -1 };
	if (!plen || plen >= sizeof(d->path))
		return cli_fail(err, (size_t)errlen, "--disk: '%s' has no usable path", v);
	memcpy(d->path, v, plen);
	int r = parse_keys("--disk", comma ? comma + 1 : NULL, d, disk_key,
			   "readonly=on|off, transport=pci|mmio, legacy=on|off, version=1|2, "
			   "packed=on|off, cache=none|writeback, lock=on|off, aio=io_uring|threads|sync, queues=1-16, "
			   "iothread=0-15, poll=0-10000", err, errlen);
	if (r)
		return r;
	cfg->ndisks++;
	return 0;
}

/* tap=NAME[,key=value]... */
static int parse_net(struct vm_config *cfg, const char *v, char *err, int errlen)
{
	if (cfg->nnets >= CLI_MAX_NETS)
		return cli_fail(err, (size_t)errlen, "--net: at most %d network cards", CLI_MAX_NETS);
	struct net_config *n = &cfg->nets[cfg->nnets];

	*n = (struct net_config){ .t = default_transport };
	int r = parse_keys("--net", v, n, net_key,
			   "tap=NAME, mac=XX:XX:XX:XX:XX:XX, transport=pci|mmio, legacy=on|off, "
			   "version=1|2, packed=on|off", err, errlen);
	if (r)
		return r;
	if (!n->tap[0])
		return cli_fail(err, (size_t)errlen, "--net: tap=NAME is required");
	cfg->nnets++;
	return 0;
}

/* Applies one "--name value" option; returns 0 or -EINVAL with err set. */
static int apply_option(struct vm_config *cfg, const char *name, const char *v,
			char *err, int errlen)
{
	long n;

	if (!strcmp(name, "--kernel")) {
		cfg->kernel = v;
	} else if (!strcmp(name, "--initrd")) {
		cfg->initrd = v;
	} else if (!strcmp(name, "--cmdline")) {
		cfg->cmdline = v;
	} else if (!strcmp(name, "--memory")) {
		if (parse_size(v, 20, &cfg->mem_size))
			return cli_fail(err, (size_t)errlen, "--memory: '%s' is not a size (use e.g. 512M or 2G)", v);
		if (cfg->mem_size < CLI_MIN_MEM || cfg->mem_size > CLI_MAX_MEM)
			return cli_fail(err, (size_t)errlen, "--memory: '%s' is out of range (16M to 1T)", v);
	} else if (!strcmp(name, "--cpus")) {
		if (parse_int(v, 1, CLI_MAX_CPUS, &n))
			return cli_fail(err, (size_t)errlen, "--cpus: '%s' is not a number from 1 to %d", v, CLI_MAX_CPUS);
		cfg->ncpus = (int)n;
	} else if (!strcmp(name, "--console")) {
		if (!strncmp(v, "virtio", 6) && (!v[6] || v[6] == ','))
			return cli_parse_console_virtio(cfg, v, err, errlen);
		if (parse_console(cfg, v))
			return cli_fail(err, (size_t)errlen, "--console: '%s' is not stdio, file:PATH or none", v);
	} else if (!strcmp(name, "--timeout")) {
		if (parse_timeout(v, &cfg->timeout_s))
			return cli_fail(err, (size_t)errlen, "--timeout: '%s' is not a positive number of seconds", v);
	} else if (!strcmp(name, "--expect") || !strcmp(name, "--fail-on") ||
		   !strcmp(name, "--boot-marker")) {
		regex_t re;
		int e = regcomp(&re, v, REG_EXTENDED);
		if (e) {
			char why[96];
			regerror(e, &re, why, sizeof(why));
			return cli_fail(err, (size_t)errlen, "%s: '%s' is not a regular expression (%s)", name, v, why);
		}
		regfree(&re);
		if (!strcmp(name, "--expect")) {
			cfg->expect = v;
		} else if (!strcmp(name, "--boot-marker")) {
			cfg->boot_marker = v;
		} else {
			if (cfg->nfail_on >= CLI_MAX_FAIL_ON)
				return cli_fail(err, (size_t)errlen, "--fail-on: at most %d patterns", CLI_MAX_FAIL_ON);
			cfg->fail_on[cfg->nfail_on++] = v;
		}
	} else if (!strcmp(name, "--idle-timeout")) {
		if (parse_timeout(v, &cfg->idle_timeout_s))
			return cli_fail(err, (size_t)errlen, "--idle-timeout: '%s' is not a positive number of seconds", v);
	} else if (!strcmp(name, "--api-socket")) {
		cfg->api_socket = v;          /* checked by api_open, before /dev/kvm */
	} else if (!strcmp(name, "--seccomp")) {
		if (!strcmp(v, "on"))
			cfg->seccomp = 0;
		else if (!strcmp(v, "log"))
			cfg->seccomp = 1;
		else if (!strcmp(v, "off"))
			cfg->seccomp = 2;
		else
			return cli_fail(err, (size_t)errlen, "--seccomp: '%s' is not on, log or off", v);
	} else if (!strcmp(name, "--console-log")) {
		cfg->console_log = v;
	} else if (!strcmp(name, "--result")) {
		cfg->result = v;
	} else if (!strcmp(name, "--iothreads")) {
		if (parse_int(v, 1, CLI_MAX_IOTHREADS, &n))
			return cli_fail(err, (size_t)errlen, "--iothreads: '%s' is not a number from 1 to %d", v,
				    CLI_MAX_IOTHREADS);
		cfg->iothreads = (int)n;
	} else if (!strcmp(name, "--disk")) {
		return parse_disk(cfg, v, err, errlen);
	} else if (!strcmp(name, "--net")) {
		return parse_net(cfg, v, err, errlen);
	} else if (!strcmp(name, "--port")) {
		return cli_parse_port(cfg, v, err, errlen);
	} else if (!strcmp(name, "--on-reboot")) {
		if (!strcmp(v, "exit"))
			cfg->on_reboot = REBOOT_EXIT;
		else if (!strcmp(v, "restart"))
			cfg->on_reboot = REBOOT_RESTART;
		else
			return cli_fail(err, (size_t)errlen, "--on-reboot: '%s' is not exit or restart", v);
	} else {
		return cli_fail(err, (size_t)errlen, "%s: unknown option (see kvmini --help)", name);
	}
	return 0;
}

static int is_help(const char *a)
{
	return !strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "help");
}

int cli_parse(int argc, char **argv, struct vm_config *cfg, char *err, int errlen)
{
	*cfg = (struct vm_config){ .mem_size = CLI_DEFAULT_MEM, .ncpus = 1, .cmdline = "console=ttyS0",
				   .iothreads = 1, .seccomp = -1 };
	err[0] = 0;

	if (argc < 2)
		return cli_fail(err, (size_t)errlen, "missing command (try kvmini --help)");
	if (is_help(argv[1]))
		return CLI_HELP;
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))
		return CLI_VERSION;
	if (strcmp(argv[1], "run"))
		return cli_fail(err, (size_t)errlen, "%s: unknown command (try kvmini --help)", argv[1]);

	cfg->vcon.t = default_transport;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		char name[32];
		const char *v;

		if (is_help(a))
			return CLI_HELP;
		if (!strcmp(a, "--no-ioeventfd")) {
			cfg->no_ioeventfd = 1;
			continue;
		}
		if (!strcmp(a, "--hugepages")) {
			cfg->hugepages = 1;
			continue;
		}
		if (!strcmp(a, "--guest-status")) {
			cfg->guest_status = 1;
			continue;
		}
		if (strncmp(a, "--", 2))
			return cli_fail(err, (size_t)errlen, "%s: unexpected argument (options start with --)", a);
		const char *eq = strchr(a, '=');
		if (eq) {
			size_t n = (size_t)(eq - a);
			if (n >= sizeof(name))
				return cli_fail(err, (size_t)errlen, "%.*s: unknown option (see kvmini --help)", (int)n, a);
			memcpy(name, a, n);
			name[n] = 0;
			v = eq + 1;
		} else {
			snprintf(name, sizeof(name), "%s", a);
			if (i + 1 >= argc)
				return cli_fail(err, (size_t)errlen, "%s: missing value", a);
			v = argv[++i];
		}
		int r = apply_option(cfg, name, v, err, errlen);
		if (r)
			return r;
	}
	if (!cfg->kernel)
		return cli_fail(err, (size_t)errlen, "--kernel: missing (the kernel to boot is required)");
	if (cfg->hugepages && cfg->mem_size % (2u << 20))
		return cli_fail(err, (size_t)errlen, "--hugepages: --memory must be a multiple of 2 MiB (it is %llu KiB)",
			    (unsigned long long)(cfg->mem_size >> 10));
	for (int i = 0; i < cfg->ndisks; i++)
		if (cfg->disks[i].iothread >= cfg->iothreads)
			return cli_fail(err, (size_t)errlen, "--disk: iothread=%d, but there %s only %d I/O "
				    "thread%s (--iothreads)", cfg->disks[i].iothread,
				    cfg->iothreads == 1 ? "is" : "are", cfg->iothreads,
				    cfg->iothreads == 1 ? "" : "s");
	return CLI_RUN;
}
