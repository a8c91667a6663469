/* The control socket's protocol: see apiproto.h. */
#include "vmm/apiproto.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vmm/cli.h"

static const char *ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return p;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A JSON string at p (after its opening quote) into out; returns the
 * character after the closing quote, or NULL. */
static const char *string(const char *p, char *out, size_t n)
{
	size_t k = 0;

	for (;;) {
		char c = *p++;
		if (c == '"')
			break;
		if (!c || (unsigned char)c < 0x20)
			return NULL;          /* unterminated, or a raw control character */
		if (c == '\\') {
			switch (c = *p++) {
			case '"': case '\\': case '/': break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				int v = 0;
				for (int i = 0; i < 4; i++) {
					int h = hexval(p[i]);
					if (h < 0)
						return NULL;
					v = v * 16 + h;
				}
				if (v == 0 || v >= 0x80)
					return NULL;  /* NUL, or beyond what we take */
				p += 4;
				c = (char)v;
				break;
			}
			default:
				return NULL;
			}
		}
		if (k + 1 >= n)
			return NULL;
		out[k++] = c;
	}
	out[k] = 0;
	return p;
}

int api_parse(const char *line, struct api_cmd *c, char *err, size_t errlen)
{
	static const struct { const char *name; enum api_cmd_kind kind; } cmds[] = {
		{ "status", API_STATUS }, { "pause", API_PAUSE }, { "resume", API_RESUME },
		{ "snapshot", API_SNAPSHOT }, { "quit", API_QUIT }, { "queues", API_QUEUES },
	};
	char key[32], val[API_LINE_MAX], cmd[32] = "";
	bool have_dir = false;
	const char *p = ws(line);

	memset(c, 0, sizeof(*c));
	if (*p++ != '{')
		return cli_fail(err, errlen, "a request is one JSON object per line");
	p = ws(p);
	if (*p == '}')
		p++;
	else
		for (;;) {
			if (*p++ != '"' || !(p = string(p, key, sizeof(key))))
				return cli_fail(err, errlen, "expected a field name in quotes");
			p = ws(p);
			if (*p++ != ':')
				return cli_fail(err, errlen, "expected ':' after \"%s\"", key);
			p = ws(p);
			if (*p++ != '"' || !(p = string(p, val, sizeof(val))))
				return cli_fail(err, errlen, "\"%s\": expected a string", key);
			if (!strcmp(key, "cmd") && !cmd[0] && strlen(val) < sizeof(cmd)) {
				strcpy(cmd, val);
			} else if (!strcmp(key, "dir") && !have_dir) {
				strcpy(c->dir, val);
				have_dir = true;
			} else {
				return cli_fail(err, errlen, "\"%s\": unknown or repeated field", key);
			}
			p = ws(p);
			if (*p == ',') {
				p = ws(p + 1);
				continue;
			}
			if (*p++ != '}')
				return cli_fail(err, errlen, "expected ',' or '}'");
			break;
		}
	if (*ws(p))
		return cli_fail(err, errlen, "text after the object");
	if (!cmd[0])
		return cli_fail(err, errlen, "no \"cmd\"");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmd, cmds[i].name)) {
			c->kind = cmds[i].kind;
			if (c->kind == API_SNAPSHOT && !c->dir[0])
				return cli_fail(err, errlen, "snapshot: \"dir\" is required");
			if (c->kind != API_SNAPSHOT && have_dir)
				return cli_fail(err, errlen, "%s: takes no \"dir\"", cmd);
			return 0;
		}
	return cli_fail(err, errlen, "\"%s\": unknown command (status, pause, resume, snapshot, quit, queues)",
		    cmd);
}

size_t api_json_string(char *out, size_t n, const char *s)
{
	size_t k = 0;

#define PUT(ch) do { if (k + 1 < n) out[k++] = (ch); } while (0)
	PUT('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			PUT('\\');
			PUT((char)c);
		} else if (c < 0x20) {
			char u[8];
			snprintf(u, sizeof(u), "\\u%04x", c);
			for (char *q = u; *q; q++)
				PUT(*q);
		} else {
			PUT((char)c);
		}
	}
	PUT('"');
#undef PUT
	if (n)
		out[k < n ? k : n - 1] = 0;
	return k;
}

int api_request(char *buf, size_t n, const char *cmd, const char *arg, char *err, size_t errlen)
{
	char q[API_LINE_MAX];
	int len;

	if (!strcmp(cmd, "snapshot")) {
		if (!arg || !*arg)
			return cli_fail(err, errlen, "snapshot: a directory is required");
		if (strlen(arg) >= API_LINE_MAX - 64)
			return cli_fail(err, errlen, "snapshot: the directory name is too long");
		api_json_string(q, sizeof(q), arg);
		len = snprintf(buf, n, "{\"cmd\": \"snapshot\", \"dir\": %s}\n", q);
	} else if (!strcmp(cmd, "status") || !strcmp(cmd, "pause") || !strcmp(cmd, "resume") ||
		   !strcmp(cmd, "quit") || !strcmp(cmd, "queues")) {
		if (arg)
			return cli_fail(err, errlen, "%s: takes no argument", cmd);
		len = snprintf(buf, n, "{\"cmd\": \"%s\"}\n", cmd);
	} else {
		return cli_fail(err, errlen, "%s: unknown command (status, pause, resume, snapshot DIR, "
			    "quit, queues)", cmd);
	}
	return len < 0 || (size_t)len >= n ? -EINVAL : len;
}
