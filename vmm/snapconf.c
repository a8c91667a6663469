/* The machine a snapshot needs, as command-line words: see snapconf.h. */
#define _GNU_SOURCE
#include "vmm/snapconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add(struct snapconf *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add(struct snapconf *c, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	char **v = realloc(c->argv, (size_t)(c->argc + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	c->argv = v;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	c->argv[c->argc++] = s;
	return 0;
}

static const char *on(int b)
{
	return b ? "on" : "off";
}

static const char *transport(const struct transport_config *t, char *buf, size_t n)
{
	snprintf(buf, n, "transport=%s,version=%d,legacy=%s,packed=%s",
		 t->transport == TRANSPORT_MMIO ? "mmio" : "pci", t->version == 1 ? 1 : 2,
		 on(t->legacy), on(t->packed));
	return buf;
}

static const char *aio_name(enum disk_aio a)
{
	switch (a) {
	case DISK_AIO_IO_URING: return "io_uring";
	case DISK_AIO_THREADS: return "threads";
	case DISK_AIO_SYNC: return "sync";
	default: return "auto";
	}
}

int snapconf_from_config(struct snapconf *c, const struct vm_config *cfg,
			 const char *const *disk_paths)
{
	char t[128];
	int r = 0;

	c->argv = NULL;
	c->argc = 0;
	r = r ?: add(c, "--memory");
	r = r ?: add(c, "%lluK", (unsigned long long)(cfg->mem_size >> 10));
	r = r ?: add(c, "--cpus");
	r = r ?: add(c, "%d", cfg->ncpus);
	r = r ?: add(c, "--iothreads");
	r = r ?: add(c, "%d", cfg->iothreads > 0 ? cfg->iothreads : 1);
	if (cfg->no_ioeventfd)
		r = r ?: add(c, "--no-ioeventfd");
	for (int i = 0; i < cfg->ndisks && !r; i++) {
		const struct disk_config *d = &cfg->disks[i];
		char io[24] = "";
		if (d->iothread >= 0)
			snprintf(io, sizeof(io), ",iothread=%d", d->iothread);
		r = add(c, "--disk");
		r = r ?: add(c, "%s,readonly=%s,cache=%s,aio=%s,lock=%s,queues=%d,poll=%d%s,%s",
			     disk_paths && disk_paths[i] ? disk_paths[i] : d->path, on(d->readonly),
			     d->cache == DISK_CACHE_NONE ? "none" : "writeback", aio_name(d->aio),
			     on(!d->nolock), cli_disk_queues(cfg, d), d->poll_us, io,
			     transport(&d->t, t, sizeof(t)));
	}
	for (int i = 0; i < cfg->nnets && !r; i++) {
		const struct net_config *n = &cfg->nets[i];
		char mac[32] = "";
		if (n->has_mac)
			snprintf(mac, sizeof(mac), ",mac=%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0],
				 n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
		r = add(c, "--net");
		r = r ?: add(c, "tap=%s%s,%s", n->tap, mac, transport(&n->t, t, sizeof(t)));
	}
	if (r)
		snapconf_free(c);
	return r;
}

void snapconf_free(struct snapconf *c)
{
	for (int i = 0; i < c->argc; i++)
		free(c->argv[i]);
	free(c->argv);
	c->argv = NULL;
	c->argc = 0;
}

void snapconf_save(const struct snapconf *c, struct state_w *w)
{
	sw_u32(w, (uint32_t)c->argc);
	for (int i = 0; i < c->argc; i++) {
		size_t n = strlen(c->argv[i]);
		sw_u32(w, (uint32_t)n);
		sw_bytes(w, c->argv[i], n);
	}
}

#define CONF_MAX_WORDS 256
#define CONF_MAX_WORD 8192

int snapconf_load(struct snapconf *c, struct state_r *r)
{
	uint32_t n = sr_u32(r);

	c->argv = NULL;
	c->argc = 0;
	if (!sr_ok(r))
		return -EINVAL;
	if (n > CONF_MAX_WORDS)
		return sr_fail(r, "the machine's description has %u words", n);
	c->argv = calloc(n + 1, sizeof(*c->argv));
	if (!c->argv)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t len = sr_u32(r);
		if (sr_ok(r) && len > CONF_MAX_WORD)
			sr_fail(r, "a word of %u bytes in the machine's description", len);
		if (!sr_ok(r))
			break;
		char *s = malloc(len + 1);
		if (!s)
			break;
		sr_bytes(r, s, len);
		s[len] = 0;
		c->argv[c->argc++] = s;
		if (strlen(s) != len)
			sr_fail(r, "a word with a NUL byte in the machine's description");
	}
	if (!sr_ok(r) || c->argc != (int)n) {
		snapconf_free(c);
		return sr_ok(r) ? -ENOMEM : -EINVAL;
	}
	return 0;
}

int snapconf_override(struct snapconf *c, const char *opt, const char *const *vals, int n,
		      char *err, size_t errlen)
{
	int k = 0;
	bool disk = !strcmp(opt, "--disk");

	for (int i = 0; i + 1 < c->argc && k < n; i++) {
		if (strcmp(c->argv[i], opt))
			continue;
		const char *saved = c->argv[i + 1], *v = vals[k++];
		char *s = NULL;
		int len;
		if (disk) {
			/* the override's path, the saved options, the override's */
			const char *comma = strchr(v, ','), *scomma = strchr(saved, ',');
			len = asprintf(&s, "%.*s%s%s", comma ? (int)(comma - v) : (int)strlen(v), v,
				       scomma ? scomma : "", comma ? comma : "");
		} else {
			len = asprintf(&s, "%s,%s", saved, v);   /* the later tap= wins */
		}
		if (len < 0)
			return -ENOMEM;
		free(c->argv[i + 1]);
		c->argv[i + 1] = s;
		i++;
	}
	if (k < n) {
		snprintf(err, errlen, "%s: given %d times, but the snapshot has %d %s", opt, n, k,
			 disk ? (k == 1 ? "disk" : "disks")
			      : (k == 1 ? "network card" : "network cards"));
		return -EINVAL;
	}
	return 0;
}
