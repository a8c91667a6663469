/* Adaptive queue polling: see vq_poll.h. */
#include "virtio/vq_poll.h"

#include <time.h>

void vq_poll_init(struct vq_poll *p, uint64_t max_ns)
{
	/* Asked for polling: start with a short window; the gaps decide. */
	*p = (struct vq_poll){ .max_ns = max_ns,
			       .window_ns = max_ns < VQ_POLL_INITIAL_NS ? max_ns : VQ_POLL_INITIAL_NS };
}

uint64_t vq_poll_now(const struct vq_poll_env *env)
{
	struct timespec ts;

	if (env && env->now_ns)
		return env->now_ns(env->opaque);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void grow(struct vq_poll *p)
{
	uint64_t w = p->window_ns ? p->window_ns * 2 : VQ_POLL_INITIAL_NS;

	if (w > p->max_ns)
		w = p->max_ns;
	if (w != p->window_ns)
		p->stats.grows++;
	p->window_ns = w;
}

static void shrink(struct vq_poll *p)
{
	uint64_t w = p->window_ns / 2;

	if (w < VQ_POLL_INITIAL_NS)
		w = 0;        /* a window too short to catch anything only costs */
	if (w != p->window_ns)
		p->stats.shrinks++;
	p->window_ns = w;
}

void vq_poll_event(struct vq_poll *p, const struct vq_poll_env *env)
{
	if (!p->max_ns || !p->idle)
		return;
	p->idle = false;
	uint64_t gap = vq_poll_now(env) - p->idle_since;
	if (gap <= p->window_ns)
		return;       /* came as the window closed: it was long enough */
	if (gap <= p->max_ns)
		grow(p);      /* a window this long would have caught it */
	else
		shrink(p);    /* nothing within reach: polling was wasted */
}

/* Between two looks: the host's spin-wait hint if it gave one (devices
 * know no CPU), else only a compiler barrier so the ring is read anew. */
static inline void relax(const struct vq_poll_env *env)
{
	if (env && env->relax)
		env->relax(env->opaque);
	else
		__asm__ __volatile__("" ::: "memory");
}

enum vq_poll_result vq_poll_run(struct vq_poll *p, const struct vq_poll_env *env,
				int (*look)(void *arg), void *arg)
{
	uint64_t start = vq_poll_now(env), now = start;
	enum vq_poll_result r;

	p->idle = false;
	if (!p->max_ns)
		return VQ_POLL_STOPPED;
	if (!p->window_ns) {          /* not polling now; the next event may say "poll" */
		p->idle = true;
		p->idle_since = start;
		return VQ_POLL_TIMEOUT;
	}
	p->stats.polls++;
	for (;;) {
		if (env && env->should_stop && env->should_stop(env->opaque)) {
			r = VQ_POLL_STOPPED;
			break;
		}
		int k = look(arg);
		now = vq_poll_now(env);
		if (k != 0) {
			r = k > 0 ? VQ_POLL_FOUND : VQ_POLL_STOPPED;
			break;
		}
		if (now - start >= p->window_ns) {
			r = VQ_POLL_TIMEOUT;
			break;
		}
		relax(env);
	}
	p->stats.ns += now - start;
	if (r == VQ_POLL_FOUND)
		p->stats.found++;
	if (r == VQ_POLL_TIMEOUT) {
		p->idle = true;
		p->idle_since = start;
	}
	return r;
}
