#include "vmm/cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/size.h"

const char cli_usage[] =
	"usage: kvmini run --kernel PATH [options]\n"
	"       kvmini --help | --version\n"
	"\n"
	"Boot a Linux guest under KVM.\n"
	"\n"
	"  --kernel PATH          x86 bzImage, or ELF vmlinux with a PVH entry note\n"
	"  --initrd PATH          initial ramdisk\n"
	"  --cmdline STR          kernel command line\n"
	"  --memory SIZE          guest RAM, e.g. 512M, 2G (default 512M; bare number = MiB)\n"
	"  --cpus N               number of vCPUs, 1-64 (default 1)\n"
	"  --console KIND         stdio (default), file:PATH, or none\n"
	"  --timeout SECONDS      stop the guest after this long (exit status 124)\n"
	"  --on-reboot ACTION     exit (default: exit status 3) or restart\n"
	"  --disk PATH[,readonly=on][,transport=mmio][,version=1|2][,cache=none|writeback]\n"
	"                         a raw disk image as a virtio-blk device (repeatable);\n"
	"                         version=1 is the legacy virtio-mmio layout, 2 (default) modern\n"
	"  --no-ioeventfd         handle queue notifications on the vCPU thread\n"
	"\n"
	"Exit status: 0 guest powered off, 2 kvmini error, 3 guest reboot,\n"
	"4 guest panic, 5 guest crash (triple fault, KVM error), 124 timeout,\n"
	"130 SIGINT or Ctrl-A x, 143 SIGTERM. On the console, Ctrl-A x quits,\n"
	"Ctrl-A Ctrl-A sends Ctrl-A.\n";

static int fail(char *err, int errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, (size_t)errlen, fmt, ap);
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

static int disk_key(struct disk_config *d, const char *k, const char *v)
{
	if (!strcmp(k, "readonly") && (!strcmp(v, "on") || !strcmp(v, "off")))
		d->readonly = !strcmp(v, "on");
	else if (!strcmp(k, "transport") && !strcmp(v, "mmio"))
		d->transport = TRANSPORT_MMIO;
	else if (!strcmp(k, "version") && (!strcmp(v, "1") || !strcmp(v, "2")))
		d->version = v[0] - '0';
	else if (!strcmp(k, "cache") && !strcmp(v, "none"))
		d->cache = DISK_CACHE_NONE;
	else if (!strcmp(k, "cache") && !strcmp(v, "writeback"))
		d->cache = DISK_CACHE_WRITEBACK;
	else
		return -EINVAL;
	return 0;
}

/* PATH[,key=value]... */
static int parse_disk(struct vm_config *cfg, const char *v, char *err, int errlen)
{
	if (cfg->ndisks >= CLI_MAX_DISKS)
		return fail(err, errlen, "--disk: at most %d disks", CLI_MAX_DISKS);
	struct disk_config *d = &cfg->disks[cfg->ndisks];
	const char *comma = strchr(v, ',');
	size_t plen = comma ? (size_t)(comma - v) : strlen(v);

	*d = (struct disk_config){ .transport = TRANSPORT_MMIO, .version = 2 };
	if (!plen || plen >= sizeof(d->path))
		return fail(err, errlen, "--disk: '%s' has no usable path", v);
	memcpy(d->path, v, plen);
	while (comma) {
		const char *opt = comma + 1;
		comma = strchr(opt, ',');
		size_t n = comma ? (size_t)(comma - opt) : strlen(opt);
		char kv[64], *eq;
		if (n >= sizeof(kv))
			return fail(err, errlen, "--disk: option '%.*s' is not known", (int)n, opt);
		memcpy(kv, opt, n);
		kv[n] = 0;
		if (!strcmp(kv, "transport=pci"))
			return fail(err, errlen, "--disk: transport=pci is not available yet (use transport=mmio)");
		if (!(eq = strchr(kv, '=')) || (*eq = 0, disk_key(d, kv, eq + 1)))
			return fail(err, errlen, "--disk: '%.*s' is not a valid option "
				    "(readonly=on|off, transport=mmio, version=1|2, cache=none|writeback)",
				    (int)n, opt);
	}
	cfg->ndisks++;
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
			return fail(err, errlen, "--memory: '%s' is not a size (use e.g. 512M or 2G)", v);
		if (cfg->mem_size < CLI_MIN_MEM || cfg->mem_size > CLI_MAX_MEM)
			return fail(err, errlen, "--memory: '%s' is out of range (16M to 1T)", v);
	} else if (!strcmp(name, "--cpus")) {
		if (parse_int(v, 1, CLI_MAX_CPUS, &n))
			return fail(err, errlen, "--cpus: '%s' is not a number from 1 to %d", v, CLI_MAX_CPUS);
		cfg->ncpus = (int)n;
	} else if (!strcmp(name, "--console")) {
		if (parse_console(cfg, v))
			return fail(err, errlen, "--console: '%s' is not stdio, file:PATH or none", v);
	} else if (!strcmp(name, "--timeout")) {
		if (parse_timeout(v, &cfg->timeout_s))
			return fail(err, errlen, "--timeout: '%s' is not a positive number of seconds", v);
	} else if (!strcmp(name, "--disk")) {
		return parse_disk(cfg, v, err, errlen);
	} else if (!strcmp(name, "--on-reboot")) {
		if (!strcmp(v, "exit"))
			cfg->on_reboot = REBOOT_EXIT;
		else if (!strcmp(v, "restart"))
			cfg->on_reboot = REBOOT_RESTART;
		else
			return fail(err, errlen, "--on-reboot: '%s' is not exit or restart", v);
	} else {
		return fail(err, errlen, "%s: unknown option (see kvmini --help)", name);
	}
	return 0;
}

static int is_help(const char *a)
{
	return !strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "help");
}

int cli_parse(int argc, char **argv, struct vm_config *cfg, char *err, int errlen)
{
	*cfg = (struct vm_config){ .mem_size = CLI_DEFAULT_MEM, .ncpus = 1, .cmdline = "console=ttyS0" };
	err[0] = 0;

	if (argc < 2)
		return fail(err, errlen, "missing command (try kvmini --help)");
	if (is_help(argv[1]))
		return CLI_HELP;
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))
		return CLI_VERSION;
	if (strcmp(argv[1], "run"))
		return fail(err, errlen, "%s: unknown command (try kvmini --help)", argv[1]);

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
		if (strncmp(a, "--", 2))
			return fail(err, errlen, "%s: unexpected argument (options start with --)", a);
		const char *eq = strchr(a, '=');
		if (eq) {
			size_t n = (size_t)(eq - a);
			if (n >= sizeof(name))
				return fail(err, errlen, "%.*s: unknown option (see kvmini --help)", (int)n, a);
			memcpy(name, a, n);
			name[n] = 0;
			v = eq + 1;
		} else {
			snprintf(name, sizeof(name), "%s", a);
			if (i + 1 >= argc)
				return fail(err, errlen, "%s: missing value", a);
			v = argv[++i];
		}
		int r = apply_option(cfg, name, v, err, errlen);
		if (r)
			return r;
	}
	if (!cfg->kernel)
		return fail(err, errlen, "--kernel: missing (the kernel to boot is required)");
	return CLI_RUN;
}
