/* --result FILE: one JSON object describing how the run went, written when
 * kvmini exits (README, "Using kvmini in CI", lists the fields). */
#ifndef KVMINI_VMM_RESULT_H
#define KVMINI_VMM_RESULT_H

#include <stdio.h>

#include "vmm/cli.h"

struct exit_stats;
struct verdict;

struct run_result {
	int status;                   /* the process's exit status */
	int outcome;                  /* vmm/exit.h */
	int guest_status;             /* -1: none reported */
	const char *reason;
	double wall_s;
	int restarts;
	const char *devices_json;     /* a JSON array, or NULL */
	const struct exit_stats *exits;   /* the run's exits (vmm/exit_stats.h), or NULL */
};

/* Writes r (and what verdict saw) to cfg->result. 0 or -errno. */
int result_write(const struct vm_config *cfg, const struct run_result *r, struct verdict *v);
/* s as a JSON string literal, quotes included. */
void json_string(FILE *f, const char *s);
/* The outcome's name in the JSON ("poweroff", "guest-status", ...). */
const char *result_outcome_name(int outcome);

#endif
