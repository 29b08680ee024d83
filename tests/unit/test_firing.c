/* test_firing.c: Twilio's dates, a firing's interval, key and token. */
#include "config-sys.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "firing.h"

#define AC	"ACed70abd024d3f57a4027b5dc2ca88d5b"
#define UT	"UTc142bed7b38c4f8186ef41a309814fd2"

static void
test_rfc2822_dates_in_gmt_parse(void **state)
{
	int64_t	t;
	char	buf[64];

	assert_int_equal(firing_parse_date("Tue, 24 Nov 2026 10:15:01 +0000",
	    &t), 0);
	assert_int_equal(t, 1795515301);
	firing_format_date(t, buf, sizeof buf);
	assert_string_equal(buf, "Tue, 24 Nov 2026 10:15:01 +0000");
	assert_int_equal(firing_parse_date("24 Nov 2026 10:15:01 GMT", &t), 0);
	assert_int_equal(t, 1795515301);
	/* An offset is exact, not a guess. */
	assert_int_equal(firing_parse_date("Tue, 24 Nov 2026 11:15:01 +0100",
	    &t), 0);
	assert_int_equal(t, 1795515301);
	assert_int_equal(firing_parse_date("Thu, 29 Feb 2024 00:00:00 +0000",
	    &t), 0);
}

static void
test_anything_else_is_refused_never_guessed(void **state)
{
	static const char *const bad[] = {
		"", "yesterday", "2026-11-24T10:15:01Z",
		"Tue, 24 Nov 2026 10:15:01",		/* no zone */
		"Wed, 24 Nov 2026 10:15:01 +0000",	/* not a Wednesday */
		"Thu, 29 Feb 2025 10:15:01 +0000",	/* no such day */
		"Tue, 24 Nov 2026 24:00:00 +0000",
		"Tue, 24 Nov 2026 10:60:01 +0000",
		"Tue, 24 Nov 2026 10:15:01 +00000",
		"Tue, 24 Nov 2026 10:15:01 +0000 junk",
		"Tue, 24 Foo 2026 10:15:01 +0000",
		"Tue, 024 Nov 2026 10:15:01 +0000",
		"Tue, 24 Nov 1969 10:15:01 +0000",
		"Tue, 24 Nov 2026 10:15:01 EST",
	};
	size_t	i;
	int64_t	t;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (firing_parse_date(bad[i], &t) != -1)
			fail_msg("accepted '%s'", bad[i]);
	assert_int_equal(firing_parse_date(NULL, &t), -1);
}

static void
test_interval_follows_recurring(void **state)
{
	char	buf[FIRING_KEY_MAX];
	int64_t	at;

	assert_int_equal(firing_key(UT, "daily",
	    "Tue, 24 Nov 2026 23:59:59 +0000", buf, sizeof buf, &at), 0);
	assert_string_equal(buf, UT "/D2026-11-24");
	assert_int_equal(at, 1795564799000LL);
	/* GMT decides the day: 01:00 in Paris is still the 24th in GMT. */
	assert_int_equal(firing_key(UT, "daily",
	    "Wed, 25 Nov 2026 00:30:00 +0100", buf, sizeof buf, NULL), 0);
	assert_string_equal(buf, UT "/D2026-11-24");
	assert_int_equal(firing_key(UT, "monthly",
	    "Tue, 24 Nov 2026 10:15:01 +0000", buf, sizeof buf, NULL), 0);
	assert_string_equal(buf, UT "/M2026-11");
	assert_int_equal(firing_key(UT, "yearly",
	    "Tue, 24 Nov 2026 10:15:01 +0000", buf, sizeof buf, NULL), 0);
	assert_string_equal(buf, UT "/Y2026");
	assert_int_equal(firing_key(UT, "",
	    "Tue, 24 Nov 2026 10:15:01 +0000", buf, sizeof buf, NULL), 0);
	assert_string_equal(buf, UT "/T2026-11-24T10:15:01Z");
	assert_int_equal(firing_key(UT, "alltime",
	    "Tue, 24 Nov 2026 10:15:01 +0000", buf, sizeof buf, NULL), 0);
	assert_string_equal(buf, UT "/T2026-11-24T10:15:01Z");
	assert_int_equal(firing_key(UT, "weekly",
	    "Tue, 24 Nov 2026 10:15:01 +0000", buf, sizeof buf, NULL), -1);
	assert_int_equal(firing_key("UT123", "daily",
	    "Tue, 24 Nov 2026 10:15:01 +0000", buf, sizeof buf, NULL), -1);
	assert_int_equal(firing_key(UT, "daily", "1;rm -rf /", buf,
	    sizeof buf, NULL), -1);
}

static void
test_token_has_twilios_documented_shape(void **state)
{
	char	buf[256];
	int64_t	t;

	assert_int_equal(firing_parse_date("Thu, 04 Oct 2012 10:00:00 +0000",
	    &t), 0);
	assert_int_equal(firing_token(AC, UT, "daily", t, buf, sizeof buf), 0);
	/* The example in Twilio's UsageTrigger documentation. */
	assert_string_equal(buf, "ACed70abd024d3f57a4027b5dc2ca88d5b-FIRES-"
	    "UTc142bed7b38c4f8186ef41a309814fd2-2012-10-04");
	assert_int_equal(firing_token(AC, UT, "monthly", t, buf, sizeof buf),
	    0);
	assert_string_equal(buf, AC "-FIRES-" UT "-2012-10");
	assert_int_equal(firing_token(AC, UT, NULL, t, buf, sizeof buf), 0);
	assert_string_equal(buf, AC "-FIRES-" UT "-2012-10-04T10:00:00Z");
	assert_int_equal(firing_token("AC1", UT, "daily", t, buf, sizeof buf),
	    -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc2822_dates_in_gmt_parse),
		cmocka_unit_test(test_anything_else_is_refused_never_guessed),
		cmocka_unit_test(test_interval_follows_recurring),
		cmocka_unit_test(test_token_has_twilios_documented_shape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
