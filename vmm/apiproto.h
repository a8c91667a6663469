/* The control socket's protocol (--api-socket, kvmini ctl): one JSON
 * object per line each way. Requests:
 *
 *   {"cmd": "status"}
 *   {"cmd": "pause"}            every vCPU stops; devices keep their state
 *   {"cmd": "resume"}
 *   {"cmd": "snapshot", "dir": "/path"}
 *   {"cmd": "quit"}             the VM ends as on SIGTERM (status 143)
 *   {"cmd": "queues"}           every virtqueue as device and driver see it now
 *
 * Replies: {"ok": true, ...} or {"ok": false, "error": "one line"}.
 *
 * Only this much JSON is understood: one object of string members, with
 * the usual escapes (\uXXXX for code points below 0x80). Pure functions,
 * unit-tested (tests/unit/vmm/test_apiproto.c). */
#ifndef KVMINI_VMM_APIPROTO_H
#define KVMINI_VMM_APIPROTO_H

#include <stddef.h>

enum api_cmd_kind { API_STATUS, API_PAUSE, API_RESUME, API_SNAPSHOT, API_QUIT, API_QUEUES };

#define API_LINE_MAX 4096

struct api_cmd {
	enum api_cmd_kind kind;
	char dir[API_LINE_MAX];      /* snapshot */
};

/* Parses one request line (without its newline). 0, or -EINVAL with one
 * line in err. */
int api_parse(const char *line, struct api_cmd *c, char *err, size_t errlen);
/* A request for kvmini ctl: COMMAND and, for snapshot, DIR (else NULL).
 * Returns the length written (with the newline), or -EINVAL for an unknown
 * command or a missing / superfluous argument (err says which). */
int api_request(char *buf, size_t n, const char *cmd, const char *arg, char *err, size_t errlen);
/* s as a JSON string with its quotes; returns the length (truncated to n). */
size_t api_json_string(char *out, size_t n, const char *s);

#endif
