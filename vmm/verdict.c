/* Console verdicts: see verdict.h. */
#include "vmm/verdict.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Search when this much came in without a newline. */
#define CHECK_EVERY 256
/* The guest image's first line of init (images/build-guest.sh). */
#define DEFAULT_BOOT_MARKER "KVMINI-GUEST-UP"

int64_t verdict_now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int compile(regex_t *re, const char *src, const char *opt, char *err, size_t errlen)
{
	int e = regcomp(re, src, REG_EXTENDED);
	if (e) {
		char why[96];
		regerror(e, re, why, sizeof(why));
		snprintf(err, errlen, "%s: '%s' is not a regular expression (%s)", opt, src, why);
		return -EINVAL;
	}
	return 0;
}

int verdict_init(struct verdict *v, const struct vm_config *cfg, char *err, size_t errlen)
{
	int r;

	memset(v, 0, sizeof(*v));
	pthread_mutex_init(&v->lock, NULL);
	v->log_fd = -1;
	v->start_ns = v->last_ns = verdict_now_ns();
	if (cfg->expect) {
		if ((r = compile(&v->expect, cfg->expect, "--expect", err, errlen)))
			return r;
		v->has_expect = true;
	}
	for (int i = 0; i < cfg->nfail_on; i++) {
		if ((r = compile(&v->fail_on[i], cfg->fail_on[i], "--fail-on", err, errlen)))
			return r;
		v->fail_on_src[i] = cfg->fail_on[i];
		v->nfail_on = i + 1;
	}
	if ((r = compile(&v->boot_marker, cfg->boot_marker ? cfg->boot_marker : DEFAULT_BOOT_MARKER,
			 "--boot-marker", err, errlen)))
		return r;
	v->has_boot_marker = true;
	if (cfg->console_log) {
		v->log_fd = open(cfg->console_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (v->log_fd < 0) {
			r = -errno;
			snprintf(err, errlen, "--console-log: cannot open '%s': %s", cfg->console_log,
				 strerror(-r));
			return r;
		}
	}
	return 0;
}

void verdict_destroy(struct verdict *v)
{
	if (v->has_expect)
		regfree(&v->expect);
	if (v->has_boot_marker)
		regfree(&v->boot_marker);
	for (int i = 0; i < v->nfail_on; i++)
		regfree(&v->fail_on[i]);
	if (v->log_fd >= 0)
		close(v->log_fd);
	v->has_expect = v->has_boot_marker = false;
	v->nfail_on = 0;
	v->log_fd = -1;
	pthread_mutex_destroy(&v->lock);
}

static void decide_locked(struct verdict *v, enum verdict_kind kind, const char *pattern)
{
	if (v->decided)
		return;
	v->decided = true;
	v->kind = kind;
	snprintf(v->matched, sizeof(v->matched), "%s", pattern);
	if (v->decide)
		v->decide(v->opaque, kind, v->matched);
}

static bool found(const regex_t *re, const char *s)
{
	return regexec(re, s, 0, NULL, 0) == 0;
}

/* With the lock held: the window against every pattern. A failure wins
 * over an expectation met in the same text. */
static void search_locked(struct verdict *v)
{
	v->win[v->len] = 0;
	v->unchecked = 0;
	if (!v->boot_ns && v->has_boot_marker && found(&v->boot_marker, v->win + v->boot_from))
		v->boot_ns = verdict_now_ns();
	if (v->decided)
		return;
	for (int i = 0; i < v->nfail_on; i++) {
		if (found(&v->fail_on[i], v->win)) {
			decide_locked(v, VERDICT_FAIL_ON, v->fail_on_src[i]);
			return;
		}
	}
	if (v->has_expect && found(&v->expect, v->win))
		decide_locked(v, VERDICT_EXPECT, "--expect");
}

void verdict_feed(struct verdict *v, const uint8_t *buf, size_t len)
{
	int64_t now = verdict_now_ns();
	bool newline = false;

	if (!len)
		return;
	if (v->log_fd >= 0) {
		for (size_t done = 0; done < len;) {
			ssize_t n = write(v->log_fd, buf + done, len - done);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;     /* a full disk must not stop the guest */
			done += (size_t)n;
		}
	}
	pthread_mutex_lock(&v->lock);
	if (!v->first_ns)
		v->first_ns = now;
	v->last_ns = now;
	v->total += len;
	/* Keep the tail of the window when the new bytes do not fit. */
	if (len >= VERDICT_WINDOW) {
		buf += len - VERDICT_WINDOW;
		len = VERDICT_WINDOW;
		v->len = 0;
	} else if (v->len + len > VERDICT_WINDOW) {
		size_t drop = v->len + len - VERDICT_WINDOW;
		memmove(v->win, v->win + drop, v->len - drop);
		v->len -= drop;
		v->boot_from = v->boot_from > drop ? v->boot_from - drop : 0;
	}
	for (size_t i = 0; i < len; i++) {
		char c = (char)buf[i];
		v->win[v->len++] = c ? c : ' ';
		newline |= c == '\n';
	}
	v->unchecked += len;
	if (newline || v->unchecked >= CHECK_EVERY)
		search_locked(v);
	pthread_mutex_unlock(&v->lock);
}

void verdict_poll(struct verdict *v)
{
	pthread_mutex_lock(&v->lock);
	if (v->unchecked)
		search_locked(v);
	pthread_mutex_unlock(&v->lock);
}

void verdict_bind(struct verdict *v,
		  void (*decide)(void *opaque, enum verdict_kind kind, const char *pattern),
		  void *opaque)
{
	pthread_mutex_lock(&v->lock);
	v->decide = decide;
	v->opaque = opaque;
	if (decide && v->decided)
		decide(opaque, v->kind, v->matched);
	pthread_mutex_unlock(&v->lock);
}

double verdict_idle_s(struct verdict *v)
{
	pthread_mutex_lock(&v->lock);
	int64_t last = v->last_ns;
	pthread_mutex_unlock(&v->lock);
	return (double)(verdict_now_ns() - last) / 1e9;
}

static double since_start(struct verdict *v, int64_t t)
{
	return t ? (double)(t - v->start_ns) / 1e9 : -1;
}

double verdict_first_output_s(struct verdict *v)
{
	pthread_mutex_lock(&v->lock);
	double s = since_start(v, v->first_ns);
	pthread_mutex_unlock(&v->lock);
	return s;
}

double verdict_boot_marker_s(struct verdict *v)
{
	pthread_mutex_lock(&v->lock);
	double s = since_start(v, v->boot_ns);
	pthread_mutex_unlock(&v->lock);
	return s;
}
