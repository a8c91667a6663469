/* The adaptive poller (devices/virtio/vq_poll.c) on a fake clock: every
 * reading of the clock moves it on by a fixed step, so windows, gaps and
 * their adjustments are exact and nothing depends on real time. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "virtio/vq_poll.h"

struct fake {
	uint64_t now, step;           /* ns; each reading adds step */
	int looks;                    /* look() calls */
	int found_at;                 /* look number that finds work; 0: never */
	int stop_at_look;             /* should_stop true once this many looks ran; 0: never */
};

static uint64_t fake_now(void *opaque)
{
	struct fake *f = opaque;
	uint64_t t = f->now;
	f->now += f->step;
	return t;
}

static bool fake_stop(void *opaque)
{
	struct fake *f = opaque;
	return f->stop_at_look && f->looks >= f->stop_at_look;
}

static int fake_look(void *arg)
{
	struct fake *f = arg;
	return ++f->looks == f->found_at ? 1 : 0;
}

static struct vq_poll_env env_of(struct fake *f)
{
	return (struct vq_poll_env){ .should_stop = fake_stop, .now_ns = fake_now, .opaque = f };
}

/* A window that ran out, then an event gap ns after the window began. */
static void timeout_then_event(struct vq_poll *p, struct fake *f, uint64_t gap)
{
	struct vq_poll_env e = env_of(f);
	uint64_t start = f->now;

	assert_int_equal(vq_poll_run(p, &e, fake_look, f), VQ_POLL_TIMEOUT);
	f->now = start + gap;
	vq_poll_event(p, &e);
}

static void finds_work_within_the_window(void **s)
{
	struct fake f = { .now = 1000, .step = 500, .found_at = 3 };
	struct vq_poll_env e = env_of(&f);
	struct vq_poll p;

	(void)s;
	vq_poll_init(&p, 50000);
	assert_int_equal(p.window_ns, VQ_POLL_INITIAL_NS);
	assert_int_equal(vq_poll_run(&p, &e, fake_look, &f), VQ_POLL_FOUND);
	assert_int_equal(f.looks, 3);
	assert_int_equal(p.stats.polls, 1);
	assert_int_equal(p.stats.found, 1);
	assert_int_equal(p.stats.ns, 3 * 500);
	assert_int_equal(p.window_ns, VQ_POLL_INITIAL_NS);   /* it worked: kept */
	vq_poll_event(&p, &e);                               /* not idle: no change */
	assert_int_equal(p.window_ns, VQ_POLL_INITIAL_NS);
}

static void gives_up_after_the_window(void **s)
{
	struct fake f = { .now = 0, .step = 1000 };
	struct vq_poll_env e = env_of(&f);
	struct vq_poll p;

	(void)s;
	vq_poll_init(&p, 50000);
	assert_int_equal(vq_poll_run(&p, &e, fake_look, &f), VQ_POLL_TIMEOUT);
	/* 4 us window, 1 us a look: the fourth look's clock reading ends it */
	assert_int_equal(f.looks, 4);
	assert_int_equal(p.stats.found, 0);
	assert_int_equal(p.stats.ns, 4000);
}

static void window_grows_to_max_when_gaps_fit(void **s)
{
	struct fake f = { .now = 0, .step = 1000 };
	struct vq_poll p;

	(void)s;
	vq_poll_init(&p, 20000);
	timeout_then_event(&p, &f, 10000);   /* 10 us: a longer window would catch it */
	assert_int_equal(p.window_ns, 8000);
	timeout_then_event(&p, &f, 10000);
	assert_int_equal(p.window_ns, 16000);
	timeout_then_event(&p, &f, 19000);
	assert_int_equal(p.window_ns, 20000);  /* capped at max */
	timeout_then_event(&p, &f, 20000);
	assert_int_equal(p.window_ns, 20000);
	assert_int_equal(p.stats.grows, 3);
	assert_int_equal(p.stats.shrinks, 0);
}

static void window_shrinks_to_zero_and_comes_back(void **s)
{
	struct fake f = { .now = 0, .step = 1000 };
	struct vq_poll_env e = env_of(&f);
	struct vq_poll p;

	(void)s;
	vq_poll_init(&p, 20000);
	p.window_ns = 16000;
	timeout_then_event(&p, &f, 1000000);   /* 1 ms: out of reach, wasted */
	assert_int_equal(p.window_ns, 8000);
	timeout_then_event(&p, &f, 1000000);
	assert_int_equal(p.window_ns, 4000);
	timeout_then_event(&p, &f, 1000000);
	assert_int_equal(p.window_ns, 0);      /* below the initial window: off */
	assert_int_equal(p.stats.shrinks, 3);

	/* window 0: no look at all, but the next gap is still measured */
	int looks = f.looks;
	uint64_t polls = p.stats.polls;
	timeout_then_event(&p, &f, 1000000);
	assert_int_equal(f.looks, looks);
	assert_int_equal(p.stats.polls, polls);
	assert_int_equal(p.window_ns, 0);
	timeout_then_event(&p, &f, 5000);      /* a gap within max: poll again */
	assert_int_equal(p.window_ns, VQ_POLL_INITIAL_NS);
	assert_int_equal(vq_poll_run(&p, &e, fake_look, &f), VQ_POLL_TIMEOUT);
	assert_true(f.looks > looks);
}

static void stop_flag_ends_polling_at_once(void **s)
{
	struct fake f = { .now = 0, .step = 1, .stop_at_look = 2 };
	struct vq_poll_env e = env_of(&f);
	struct vq_poll p;

	(void)s;
	vq_poll_init(&p, 10000000);           /* a 10 ms max, and a long window */
	p.window_ns = 10000000;
	assert_int_equal(vq_poll_run(&p, &e, fake_look, &f), VQ_POLL_STOPPED);
	assert_int_equal(f.looks, 2);         /* no look after the flag */
	/* stopped, not timed out: the next event adapts nothing */
	f.now += 100;
	vq_poll_event(&p, &e);
	assert_int_equal(p.window_ns, 10000000);
	assert_int_equal(p.stats.grows + p.stats.shrinks, 0);
}

static int look_says_stop(void *arg)
{
	(void)arg;
	return -1;
}

static void look_can_end_polling(void **s)
{
	struct fake f = { .step = 1 };
	struct vq_poll_env e = env_of(&f);
	struct vq_poll p;

	(void)s;
	vq_poll_init(&p, 50000);
	assert_int_equal(vq_poll_run(&p, &e, look_says_stop, &f), VQ_POLL_STOPPED);
	assert_int_equal(p.stats.found, 0);
	vq_poll_init(&p, 0);                  /* off: never looks */
	assert_int_equal(vq_poll_run(&p, &e, fake_look, &f), VQ_POLL_STOPPED);
	assert_int_equal(f.looks, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(finds_work_within_the_window),
		cmocka_unit_test(gives_up_after_the_window),
		cmocka_unit_test(window_grows_to_max_when_gaps_fit),
		cmocka_unit_test(window_shrinks_to_zero_and_comes_back),
		cmocka_unit_test(stop_flag_ends_polling_at_once),
		cmocka_unit_test(look_can_end_polling),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
