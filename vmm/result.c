/* --result: see result.h. */
#include "vmm/result.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/exit.h"
#include "vmm/exit_stats.h"
#include "vmm/verdict.h"

void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

const char *result_outcome_name(int outcome)
{
	switch (outcome) {
	case KVMINI_EXIT_POWEROFF:  return "poweroff";
	case KVMINI_EXIT_ERROR:     return "error";
	case KVMINI_EXIT_REBOOT:    return "reboot";
	case KVMINI_EXIT_PANIC:     return "panic";
	case KVMINI_EXIT_CRASH:     return "crash";
	case KVMINI_EXIT_FAIL_ON:   return "fail-on";
	case KVMINI_EXIT_IDLE:      return "idle-timeout";
	case KVMINI_EXIT_NO_EXPECT: return "no-expect";
	case KVMINI_EXIT_TIMEOUT:   return "timeout";
	case KVMINI_EXIT_SIGHUP:    return "sighup";
	case KVMINI_EXIT_SIGINT:    return "sigint";
	case KVMINI_EXIT_SIGTERM:   return "sigterm";
	case KVMINI_EXIT_EXPECTED:  return "expect";
	case KVMINI_EXIT_GUEST:     return "guest-status";
	}
	return "unknown";
}

/* Ports and MMIO pages listed in "exits": enough for a Linux boot's
 * (about a dozen of each), short enough to read. */
#define RESULT_TOP_SITES 16

static void seconds(FILE *f, const char *key, double s)
{
	if (s < 0)
		fprintf(f, ",\n  \"%s\": null", key);
	else
		fprintf(f, ",\n  \"%s\": %.6f", key, s);
}

int result_write(const struct vm_config *cfg, const struct run_result *r, struct verdict *v)
{
	FILE *f = fopen(cfg->result, "w");

	if (!f)
		return -errno;
	fprintf(f, "{\n  \"status\": %d,\n  \"outcome\": ", r->status);
	json_string(f, result_outcome_name(r->outcome));
	fprintf(f, ",\n  \"reason\": ");
	json_string(f, r->reason);
	fprintf(f, ",\n  \"guest_status\": ");
	if (r->guest_status >= 0)
		fprintf(f, "%d", r->guest_status);
	else
		fprintf(f, "null");
	fprintf(f, ",\n  \"matched\": ");
	if (v && v->decided)
		json_string(f, v->kind == VERDICT_EXPECT ? cfg->expect : v->matched);
	else
		fprintf(f, "null");
	fprintf(f, ",\n  \"guest_status_mode\": %s", cfg->guest_status ? "true" : "false");
	seconds(f, "wall_s", r->wall_s);
	seconds(f, "first_output_s", v ? verdict_first_output_s(v) : -1);
	seconds(f, "boot_marker_s", v ? verdict_boot_marker_s(v) : -1);
	fprintf(f, ",\n  \"console_bytes\": %llu", v ? (unsigned long long)v->total : 0ULL);
	fprintf(f, ",\n  \"vcpus\": %d,\n  \"memory_mib\": %llu,\n  \"restarts\": %d",
		cfg->ncpus, (unsigned long long)(cfg->mem_size >> 20), r->restarts);
	fprintf(f, ",\n  \"devices\": %s", r->devices_json ? r->devices_json : "[]");
	fprintf(f, ",\n  \"exits\": ");
	if (r->exits)
		exit_stats_json(r->exits, f, RESULT_TOP_SITES);
	else
		fprintf(f, "null");
	fprintf(f, "\n}\n");
	if (fclose(f))
		return -errno;
	return 0;
}
