/* The control socket's protocol (vmm/apiproto.c): requests parsed, bad
 * ones refused with one line, and kvmini ctl's requests formed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "vmm/apiproto.h"

static struct api_cmd c;
static char err[256];

static void good_requests(void **s)
{
	assert_int_equal(api_parse("{\"cmd\":\"status\"}", &c, err, sizeof(err)), 0);
	assert_int_equal(c.kind, API_STATUS);
	assert_int_equal(api_parse("  { \"cmd\" : \"pause\" }  ", &c, err, sizeof(err)), 0);
	assert_int_equal(c.kind, API_PAUSE);
	assert_int_equal(api_parse("{\"cmd\": \"resume\"}\r", &c, err, sizeof(err)), 0);
	assert_int_equal(c.kind, API_RESUME);
	assert_int_equal(api_parse("{\"dir\": \"/tmp/s\\\"n\\u0041p\", \"cmd\": \"snapshot\"}", &c,
				   err, sizeof(err)), 0);
	assert_int_equal(c.kind, API_SNAPSHOT);
	assert_string_equal(c.dir, "/tmp/s\"nAp");
	assert_int_equal(api_parse("{\"cmd\":\"quit\"}", &c, err, sizeof(err)), 0);
	assert_int_equal(c.kind, API_QUIT);
	assert_int_equal(api_parse("{\"cmd\":\"queues\"}", &c, err, sizeof(err)), 0);
	assert_int_equal(c.kind, API_QUEUES);
}

static void bad(const char *line, const char *msg)
{
	assert_int_equal(api_parse(line, &c, err, sizeof(err)), -EINVAL);
	if (!strstr(err, msg))
		fail_msg("'%s': expected '%s', got '%s'", line, msg, err);
}

static void bad_requests(void **s)
{
	bad("", "one JSON object");
	bad("status", "one JSON object");
	bad("{}", "no \"cmd\"");
	bad("{\"cmd\": \"reboot\"}", "\"reboot\": unknown command");
	bad("{\"cmd\": \"snapshot\"}", "\"dir\" is required");
	bad("{\"cmd\": \"pause\", \"dir\": \"/x\"}", "takes no \"dir\"");
	bad("{\"cmd\": \"pause\", \"cmd\": \"quit\"}", "unknown or repeated field");
	bad("{\"cmd\": \"pause\", \"force\": \"yes\"}", "unknown or repeated field");
	bad("{\"cmd\": 1}", "expected a string");
	bad("{\"cmd\": \"pause\"", "expected ',' or '}'");
	bad("{\"cmd\": \"pau", "expected a string");
	bad("{\"cmd\": \"pause\"} x", "text after the object");
	bad("{\"cmd\": \"p\\u00e9\"}", "expected a string");      /* beyond ASCII */
	bad("{\"cmd\": \"p\\u0000\"}", "expected a string");      /* NUL */
	bad("{\"cmd\": \"a\tb\"}", "expected a string");         /* raw control character */
}

static void requests_for_ctl(void **s)
{
	char buf[256];

	assert_int_equal(api_request(buf, sizeof(buf), "status", NULL, err, sizeof(err)),
			 (int)strlen("{\"cmd\": \"status\"}\n"));
	assert_string_equal(buf, "{\"cmd\": \"status\"}\n");
	assert_true(api_request(buf, sizeof(buf), "snapshot", "/a \"b\"\\c", err, sizeof(err)) > 0);
	assert_string_equal(buf, "{\"cmd\": \"snapshot\", \"dir\": \"/a \\\"b\\\"\\\\c\"}\n");
	buf[strlen(buf) - 1] = 0;
	assert_int_equal(api_parse(buf, &c, err, sizeof(err)), 0);
	assert_string_equal(c.dir, "/a \"b\"\\c");
	assert_int_equal(api_request(buf, sizeof(buf), "snapshot", NULL, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "snapshot: a directory is required");
	assert_int_equal(api_request(buf, sizeof(buf), "pause", "x", err, sizeof(err)), -EINVAL);
	assert_int_equal(api_request(buf, sizeof(buf), "frob", NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown command"));
	assert_true(api_request(buf, sizeof(buf), "queues", NULL, err, sizeof(err)) > 0);
	assert_string_equal(buf, "{\"cmd\": \"queues\"}\n");
	assert_int_equal(api_request(buf, sizeof(buf), "queues", "x", err, sizeof(err)), -EINVAL);
	char q[32];
	api_json_string(q, sizeof(q), "a\nb");
	assert_string_equal(q, "\"a\\u000ab\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_requests),
		cmocka_unit_test(bad_requests),
		cmocka_unit_test(requests_for_ctl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
