/* Exit accounting: see exit_stats.h. */
#include "vmm/exit_stats.h"

#include <inttypes.h>
#include <stdlib.h>

#include <linux/kvm.h>

/* The reasons the JSON always names, in its order; any other reason that
 * reaches kvmini ends the VM and is counted under "other". */
static const struct {
	uint32_t reason;
	const char *name;
} named[] = {
	{ KVM_EXIT_IO, "io" },
	{ KVM_EXIT_MMIO, "mmio" },
	{ KVM_EXIT_HLT, "hlt" },
	{ KVM_EXIT_INTR, "intr" },
	{ KVM_EXIT_SYSTEM_EVENT, "system_event" },
	{ KVM_EXIT_SHUTDOWN, "shutdown" },
};
#define NR_NAMED (int)(sizeof(named) / sizeof(named[0]))

const char *exit_stats_reason_name(uint32_t reason)
{
	for (int i = 0; i < NR_NAMED; i++)
		if (named[i].reason == reason)
			return named[i].name;
	return NULL;
}

void exit_stats_reason(struct exit_stats *s, uint32_t reason)
{
	if (reason < EXIT_STATS_REASONS)
		s->reason[reason]++;
	else
		s->reason_other++;
}

/* Fibonacci hashing: ports and page numbers cluster (0x3f8..0x3ff,
 * consecutive ECAM pages), and the multiply spreads them over the table. */
static unsigned slot_of(uint64_t addr)
{
	return (unsigned)((addr * 0x9E3779B97F4A7C15ULL) >> 58) % EXIT_STATS_SITES;
}

/* The site for addr, made if there is room; NULL when the table is full. */
static struct exit_site *site(struct exit_sites *t, uint64_t addr)
{
	unsigned i = slot_of(addr);

	for (int probes = 0; probes < EXIT_STATS_SITES; probes++) {
		struct exit_site *e = &t->s[i];
		if (e->used && e->addr == addr)
			return e;
		if (!e->used) {
			if (t->n == EXIT_STATS_SITES - 1)   /* keep a hole: lookups end */
				return NULL;
			*e = (struct exit_site){ .addr = addr, .used = true };
			t->n++;
			return e;
		}
		i = (i + 1) % EXIT_STATS_SITES;
	}
	return NULL;
}

static void count(struct exit_sites *t, uint64_t addr, uint64_t reads, uint64_t writes)
{
	struct exit_site *e = site(t, addr);

	if (!e) {
		t->other += reads + writes;
		return;
	}
	e->reads += reads;
	e->writes += writes;
}

void exit_stats_port(struct exit_stats *s, uint16_t port, bool is_write)
{
	count(&s->port, port, !is_write, is_write);
}

void exit_stats_mmio(struct exit_stats *s, uint64_t gpa, bool is_write)
{
	count(&s->mmio, gpa & ~0xFFFULL, !is_write, is_write);
}

static void add_sites(struct exit_sites *dst, const struct exit_sites *src)
{
	for (int i = 0; i < EXIT_STATS_SITES; i++)
		if (src->s[i].used)
			count(dst, src->s[i].addr, src->s[i].reads, src->s[i].writes);
	dst->other += src->other;
}

void exit_stats_add(struct exit_stats *dst, const struct exit_stats *src)
{
	for (int i = 0; i < EXIT_STATS_REASONS; i++)
		dst->reason[i] += src->reason[i];
	dst->reason_other += src->reason_other;
	add_sites(&dst->port, &src->port);
	add_sites(&dst->mmio, &src->mmio);
}

uint64_t exit_stats_total(const struct exit_stats *s)
{
	uint64_t n = s->reason_other;

	for (int i = 0; i < EXIT_STATS_REASONS; i++)
		n += s->reason[i];
	return n;
}

/* Exits not under a named reason. */
static uint64_t unnamed(const struct exit_stats *s)
{
	uint64_t n = exit_stats_total(s);

	for (int i = 0; i < NR_NAMED; i++)
		n -= s->reason[named[i].reason];
	return n;
}

static uint64_t busy(const struct exit_site *e)
{
	return e->reads + e->writes;
}

static int busier_first(const void *a, const void *b)
{
	const struct exit_site *x = *(const struct exit_site *const *)a;
	const struct exit_site *y = *(const struct exit_site *const *)b;

	if (busy(x) != busy(y))
		return busy(x) > busy(y) ? -1 : 1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int exit_stats_top(const struct exit_sites *t, const struct exit_site **out, int max)
{
	const struct exit_site *all[EXIT_STATS_SITES];
	int n = 0;

	for (int i = 0; i < EXIT_STATS_SITES; i++)
		if (t->s[i].used)
			all[n++] = &t->s[i];
	qsort(all, (size_t)n, sizeof(all[0]), busier_first);
	if (n > max)
		n = max;
	for (int i = 0; i < n; i++)
		out[i] = all[i];
	return n;
}

static void sites_json(const struct exit_sites *t, FILE *f, const char *key, const char *field,
		       int top)
{
	const struct exit_site *e[EXIT_STATS_SITES];
	int n = exit_stats_top(t, e, top < EXIT_STATS_SITES ? top : EXIT_STATS_SITES);

	fprintf(f, ", \"%s\": [", key);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s{\"%s\": \"0x%" PRIx64 "\", \"reads\": %" PRIu64 ", \"writes\": %" PRIu64 "}",
			i ? ", " : "", field, e[i]->addr, e[i]->reads,
			e[i]->writes);
	fputc(']', f);
}

static uint64_t sites_sum(const struct exit_sites *t)
{
	uint64_t n = t->other;

	for (int i = 0; i < EXIT_STATS_SITES; i++)
		n += busy(&t->s[i]);
	return n;
}

void exit_stats_json(const struct exit_stats *s, FILE *f, int top)
{
	fprintf(f, "{\"total\": %" PRIu64, exit_stats_total(s));
	for (int i = 0; i < NR_NAMED; i++)
		fprintf(f, ", \"%s\": %" PRIu64, named[i].name, s->reason[named[i].reason]);
	fprintf(f, ", \"other\": %" PRIu64 ", \"ports\": %d, \"mmio_pages\": %d", unnamed(s),
		s->port.n, s->mmio.n);
	sites_json(&s->port, f, "top_ports", "port", top);
	sites_json(&s->mmio, f, "top_mmio", "page", top);
	fputc('}', f);
}

static void sites_print(const struct exit_sites *t, FILE *f, const char *what, int top)
{
	const struct exit_site *e[EXIT_STATS_SITES];
	int n = exit_stats_top(t, e, top < EXIT_STATS_SITES ? top : EXIT_STATS_SITES);
	uint64_t shown = 0, all = sites_sum(t);

	for (int i = 0; i < n; i++) {
		fprintf(f, "kvmini: exits: %s 0x%" PRIx64 ": %" PRIu64 " (%" PRIu64 " reads, %" PRIu64
			" writes)\n", what, e[i]->addr, busy(e[i]), e[i]->reads, e[i]->writes);
		shown += busy(e[i]);
	}
	if (all > shown)
		fprintf(f, "kvmini: exits: %s elsewhere: %" PRIu64 "\n", what, all - shown);
}

void exit_stats_print(const struct exit_stats *s, FILE *f, int top)
{
	fprintf(f, "kvmini: exits: %" PRIu64 " to kvmini", exit_stats_total(s));
	for (int i = 0; i < NR_NAMED; i++)
		fprintf(f, ", %s %" PRIu64, named[i].name, s->reason[named[i].reason]);
	fprintf(f, ", other %" PRIu64 "\n", unnamed(s));
	sites_print(&s->port, f, "port", top);
	sites_print(&s->mmio, f, "mmio page", top);
}
