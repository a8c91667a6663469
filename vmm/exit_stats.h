/* Exit accounting: why each KVM_RUN came back to kvmini, and for port I/O
 * and MMIO exits, where the guest was pointing. Each vCPU thread counts
 * into its own table with no lock (a few adds on a path that has just paid
 * for a world switch); the tables are summed once the vCPUs are stopped,
 * printed with KVMINI_STATS=1 and written into --result's "exits".
 *
 * Only exits that reach user space are seen here: what KVM answers in the
 * kernel (its PIT, PIC, IOAPIC and LAPIC, ioeventfd notifications, page
 * faults) never leaves KVM_RUN. */
#ifndef KVMINI_VMM_EXIT_STATS_H
#define KVMINI_VMM_EXIT_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define EXIT_STATS_REASONS 48   /* KVM_EXIT_* numbers counted apart; others add to reason_other */
#define EXIT_STATS_SITES   64   /* distinct ports (or MMIO pages) counted apart */

/* One port, or one 4 KiB page of MMIO (a virtio-mmio window, one PCI
 * function's ECAM page, one page of a BAR), and how often it made the guest
 * exit. Port exits count once per exit, however many accesses a string
 * instruction carried. */
struct exit_site {
	uint64_t addr;
	uint64_t reads, writes;
	bool used;
};

struct exit_sites {
	struct exit_site s[EXIT_STATS_SITES];   /* open addressing on addr */
	int n;
	uint64_t other;                          /* exits at sites past a full table */
};

struct exit_stats {
	uint64_t reason[EXIT_STATS_REASONS];
	uint64_t reason_other;
	struct exit_sites port, mmio;
};

/* One return from KVM_RUN with this KVM_EXIT_* reason (KVM_EXIT_INTR for
 * one that a signal cut short). */
void exit_stats_reason(struct exit_stats *s, uint32_t reason);
void exit_stats_port(struct exit_stats *s, uint16_t port, bool is_write);
void exit_stats_mmio(struct exit_stats *s, uint64_t gpa, bool is_write);
/* dst += src, site by site. */
void exit_stats_add(struct exit_stats *dst, const struct exit_stats *src);

uint64_t exit_stats_total(const struct exit_stats *s);
/* The reason's name as in the JSON ("io", "mmio", "hlt", ...), or NULL for
 * one kvmini does not name (it is counted under "other"). */
const char *exit_stats_reason_name(uint32_t reason);
/* Up to max sites, busiest first (ties: lower address first). */
int exit_stats_top(const struct exit_sites *t, const struct exit_site **out, int max);

/* The "exits" object of --result (README, "Using kvmini in CI"): at most
 * top sites of each kind. */
void exit_stats_json(const struct exit_stats *s, FILE *f, int top);
/* KVMINI_STATS=1: a line of totals, then a line per site (at most top of
 * each kind). */
void exit_stats_print(const struct exit_stats *s, FILE *f, int top);

#endif
