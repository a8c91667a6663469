/* The virtio-console device's part of the command line: --console
 * virtio[,...] and --port NAME[,...] (cli.c parses the rest). */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "vmm/cli.h"
#include "vmm/cli_internal.h"

/* One comma-separated item of s as a string in buf (too long: empty).
 * Returns its length in s. */
static size_t item(const char *s, char *buf, size_t size)
{
	const char *comma = strchr(s, ',');
	size_t n = comma ? (size_t)(comma - s) : strlen(s);

	buf[0] = 0;
	if (n < size) {
		memcpy(buf, s, n);
		buf[n] = 0;
	}
	return n;
}

/* A transport option of the virtio-console device: 0, or -EINVAL. */
static int vcon_transport_key(struct vm_config *cfg, char *kv)
{
	char *eq = strchr(kv, '=');

	if (!eq)
		return -EINVAL;
	*eq = 0;
	int r = cli_transport_key(&cfg->vcon.t, kv, eq + 1);
	*eq = '=';
	return r ? -EINVAL : 0;
}

#define VCON_TRANSPORT_KEYS "transport=pci|mmio, legacy=on|off, version=1|2, packed=on|off"

/* virtio[,stdio|none|file:PATH][,TRANSPORT]: where the console goes, as
 * without virtio (file:PATH runs to the end), and hvc0 is the console. */
int cli_parse_console_virtio(struct vm_config *cfg, const char *v, char *err, int errlen)
{
	const char *s = v + 6;

	cfg->vcon.hvc = 1;
	cfg->console = CONSOLE_STDIO;
	while (*s == ',') {
		char kv[64];
		size_t n;

		s++;
		if (!strncmp(s, "file:", 5) && s[5]) {
			cfg->console = CONSOLE_FILE;
			cfg->console_path = s + 5;
			return 0;
		}
		n = item(s, kv, sizeof(kv));
		if (!strcmp(kv, "stdio"))
			cfg->console = CONSOLE_STDIO;
		else if (!strcmp(kv, "none"))
			cfg->console = CONSOLE_NONE;
		else if (!kv[0] || vcon_transport_key(cfg, kv))
			return cli_fail(err, (size_t)errlen, "--console: '%.*s' is not stdio, none, file:PATH or a "
				    "transport option (" VCON_TRANSPORT_KEYS ")", (int)n, s);
		s += n;
	}
	return 0;
}

static int port_name_ok(const char *s, size_t n)
{
	if (n < 1 || n > sizeof(((struct port_config *)0)->name) - 1)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return 0;
	return 1;
}

/* out=FILE or in=FILE: 1 taken, 0 not this key, -EINVAL bad. */
static int port_file(const char *s, size_t n, const char *key, char *path, size_t size)
{
	size_t k = strlen(key);

	if (n < k || strncmp(s, key, k))
		return 0;
	if (n == k || n - k >= size)
		return -EINVAL;
	memcpy(path, s + k, n - k);
	path[n - k] = 0;
	return 1;
}

/* NAME[,out=FILE][,in=FILE][,TRANSPORT] */
int cli_parse_port(struct vm_config *cfg, const char *v, char *err, int errlen)
{
	if (cfg->vcon.nports >= CLI_MAX_PORTS)
		return cli_fail(err, (size_t)errlen, "--port: at most %d ports", CLI_MAX_PORTS);
	struct port_config *p = &cfg->vcon.ports[cfg->vcon.nports];
	const char *comma = strchr(v, ',');
	size_t n = comma ? (size_t)(comma - v) : strlen(v);

	memset(p, 0, sizeof(*p));
	if (!port_name_ok(v, n))
		return cli_fail(err, (size_t)errlen, "--port: '%.*s' is not a port name (1 to 63 letters, digits, "
			    "'.', '_' or '-')", (int)n, v);
	memcpy(p->name, v, n);
	if (!strncmp(p->name, "kvmini.", 7))
		return cli_fail(err, (size_t)errlen, "--port: '%s': names starting 'kvmini.' are kvmini's own "
			    "(" CLI_EXIT_PORT " is --guest-status's port)", p->name);
	for (int i = 0; i < cfg->vcon.nports; i++)
		if (!strcmp(cfg->vcon.ports[i].name, p->name))
			return cli_fail(err, (size_t)errlen, "--port: '%s' is named twice", p->name);
	for (const char *s = comma; s; s = strchr(s, ',')) {
		char kv[64];
		int r;

		s++;
		n = item(s, kv, sizeof(kv));
		r = port_file(s, n, "out=", p->out, sizeof(p->out));
		if (!r)
			r = port_file(s, n, "in=", p->in, sizeof(p->in));
		if (!r)
			r = kv[0] && !vcon_transport_key(cfg, kv) ? 1 : -EINVAL;
		if (r < 0)
			return cli_fail(err, (size_t)errlen, "--port: '%.*s' is not a valid option (out=FILE, in=FILE, "
				    VCON_TRANSPORT_KEYS ")", (int)n, s);
	}
	cfg->vcon.nports++;
	return 0;
}

int cli_vcon_wanted(const struct vm_config *cfg)
{
	return cfg->vcon.hvc || cfg->vcon.nports || cfg->guest_status;
}
