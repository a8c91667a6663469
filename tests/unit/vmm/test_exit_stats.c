/* Exit accounting (vmm/exit_stats.h): counts by reason, port and MMIO page;
 * sums across vCPUs; the busiest sites first; a full table loses no count;
 * the JSON and the KVMINI_STATS lines say what was counted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <linux/kvm.h>

#include "vmm/exit_stats.h"

static struct exit_stats *fresh(void)
{
	struct exit_stats *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	return s;
}

/* What f wrote, NUL-terminated (caller frees). */
static char *render(const struct exit_stats *s, int json, int top)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	if (json)
		exit_stats_json(s, f, top);
	else
		exit_stats_print(s, f, top);
	fclose(f);
	return buf;
}

static void reasons(void **state)
{
	struct exit_stats *s = fresh();

	(void)state;
	for (int i = 0; i < 5; i++)
		exit_stats_reason(s, KVM_EXIT_IO);
	exit_stats_reason(s, KVM_EXIT_MMIO);
	exit_stats_reason(s, KVM_EXIT_INTR);
	exit_stats_reason(s, KVM_EXIT_INTERNAL_ERROR);   /* not named: "other" */
	exit_stats_reason(s, 1000);                      /* past the table: still counted */
	assert_int_equal(exit_stats_total(s), 9);
	assert_string_equal(exit_stats_reason_name(KVM_EXIT_IO), "io");
	assert_string_equal(exit_stats_reason_name(KVM_EXIT_SYSTEM_EVENT), "system_event");
	assert_null(exit_stats_reason_name(KVM_EXIT_INTERNAL_ERROR));

	char *j = render(s, 1, 4);
	assert_non_null(strstr(j, "\"total\": 9, \"io\": 5, \"mmio\": 1, \"hlt\": 0, \"intr\": 1, "
				  "\"system_event\": 0, \"shutdown\": 0, \"other\": 2"));
	free(j);
	free(s);
}

static void ports_and_pages(void **state)
{
	struct exit_stats *s = fresh();
	const struct exit_site *top[4];

	(void)state;
	for (int i = 0; i < 7; i++)
		exit_stats_port(s, 0x3f8, true);
	exit_stats_port(s, 0x3f8, false);
	for (int i = 0; i < 3; i++)
		exit_stats_port(s, 0xcfc, false);
	exit_stats_port(s, 0x0, true);                   /* port 0 is a port like any other */
	/* Two addresses in one page count as that page. */
	exit_stats_mmio(s, 0xd0000070, true);
	exit_stats_mmio(s, 0xd0000ffc, false);
	exit_stats_mmio(s, 0xe0008004, false);

	int n = exit_stats_top(&s->port, top, 4);
	assert_int_equal(n, 3);
	assert_int_equal(top[0]->addr, 0x3f8);
	assert_int_equal(top[0]->writes, 7);
	assert_int_equal(top[0]->reads, 1);
	assert_int_equal(top[1]->addr, 0xcfc);
	assert_int_equal(top[2]->addr, 0);
	assert_int_equal(exit_stats_top(&s->port, top, 1), 1);   /* at most max */
	n = exit_stats_top(&s->mmio, top, 4);
	assert_int_equal(n, 2);
	assert_int_equal(top[0]->addr, 0xd0000000);
	assert_int_equal(top[0]->reads + top[0]->writes, 2);
	assert_int_equal(top[1]->addr, 0xe0008000);

	char *j = render(s, 1, 2);
	assert_non_null(strstr(j, "\"ports\": 3, \"mmio_pages\": 2, \"top_ports\": "
				  "[{\"port\": \"0x3f8\", \"reads\": 1, \"writes\": 7}, "
				  "{\"port\": \"0xcfc\", \"reads\": 3, \"writes\": 0}], \"top_mmio\": "
				  "[{\"page\": \"0xd0000000\", \"reads\": 1, \"writes\": 1}, "
				  "{\"page\": \"0xe0008000\", \"reads\": 1, \"writes\": 0}]}"));
	free(j);
	char *p = render(s, 0, 2);
	assert_non_null(strstr(p, "kvmini: exits: port 0x3f8: 8 (1 reads, 7 writes)\n"
				  "kvmini: exits: port 0xcfc: 3 (3 reads, 0 writes)\n"
				  "kvmini: exits: port elsewhere: 1\n"));
	assert_non_null(strstr(p, "kvmini: exits: mmio page 0xd0000000: 2 (1 reads, 1 writes)\n"));
	free(p);
	free(s);
}

/* More distinct ports than the table holds: every exit is still counted,
 * the overflow under "elsewhere". */
static void full_table(void **state)
{
	struct exit_stats *s = fresh();
	const struct exit_site *top[EXIT_STATS_SITES];
	uint64_t sum = 0;

	(void)state;
	for (int port = 0; port < 200; port++)
		exit_stats_port(s, (uint16_t)port, false);
	exit_stats_port(s, 5, false);                    /* one already in: still found */
	int n = exit_stats_top(&s->port, top, EXIT_STATS_SITES);
	assert_true(n < EXIT_STATS_SITES);
	for (int i = 0; i < n; i++)
		sum += top[i]->reads;
	assert_int_equal(sum + s->port.other, 201);
	assert_int_equal(top[0]->addr, 5);
	assert_int_equal(top[0]->reads, 2);
	free(s);
}

/* vCPUs count apart and are summed once they stop. */
static void add(void **state)
{
	struct exit_stats *a = fresh(), *b = fresh(), *sum = fresh();
	const struct exit_site *top[4];

	(void)state;
	exit_stats_reason(a, KVM_EXIT_IO);
	exit_stats_port(a, 0x3f8, true);
	exit_stats_reason(b, KVM_EXIT_IO);
	exit_stats_port(b, 0x3f8, true);
	exit_stats_reason(b, KVM_EXIT_MMIO);
	exit_stats_mmio(b, 0xc0000010, false);
	exit_stats_add(sum, a);
	exit_stats_add(sum, b);
	assert_int_equal(exit_stats_total(sum), 3);
	assert_int_equal(sum->reason[KVM_EXIT_IO], 2);
	assert_int_equal(exit_stats_top(&sum->port, top, 4), 1);
	assert_int_equal(top[0]->writes, 2);
	assert_int_equal(exit_stats_top(&sum->mmio, top, 4), 1);
	assert_int_equal(top[0]->addr, 0xc0000000);
	char *p = render(sum, 0, 4);
	assert_non_null(strstr(p, "kvmini: exits: 3 to kvmini, io 2, mmio 1, hlt 0, intr 0, "
				  "system_event 0, shutdown 0, other 0\n"));
	free(p);
	free(a);
	free(b);
	free(sum);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reasons),
		cmocka_unit_test(ports_and_pages),
		cmocka_unit_test(full_table),
		cmocka_unit_test(add),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
