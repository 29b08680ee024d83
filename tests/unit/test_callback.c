/* test_callback.c: form decoding, content types and UsageTrigger fields. */
#include "config-sys.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "callback.h"

#define MAXPAIRS	4

#define AC	"ACed70abd024d3f57a4027b5dc2ca88d5b"
#define UT	"UTc142bed7b38c4f8186ef41a309814fd2"
#define TOKEN	AC "-FIRES-" UT "-2026-11-24"

static const char err_percent[] = "malformed percent-encoding";
static const char err_nul[] = "NUL byte in parameter";

/* One form_decode case: input (len -1 = strlen) and the expected result. */
struct decode_case {
	const char	*in;
	int		 len;
	const char	*err;		/* NULL when it must decode */
	size_t		 n;
	const char	*pairs[MAXPAIRS][2];
};

static const struct decode_case decode_cases[] = {
	{ "a=1&b=2", -1, NULL, 2, { { "a", "1" }, { "b", "2" } } },
	{ "", -1, NULL, 0, { { NULL } } },
	{ "&&a=1&&", -1, NULL, 1, { { "a", "1" } } },
	{ "&", -1, NULL, 0, { { NULL } } },
	{ "=v", -1, NULL, 1, { { "", "v" } } },
	{ "a", -1, NULL, 1, { { "a", "" } } },
	{ "a=", -1, NULL, 1, { { "a", "" } } },
	{ "=", -1, NULL, 1, { { "", "" } } },
	{ "a==b=c", -1, NULL, 1, { { "a", "=b=c" } } },
	/* The tightest fits of one block of len + 1 bytes. */
	{ "a&b&c", -1, NULL, 3, { { "a", "" }, { "b", "" }, { "c", "" } } },
	{ "a=1&b", -1, NULL, 2, { { "a", "1" }, { "b", "" } } },
	{ "a&b=2&=", -1, NULL, 3, { { "a", "" }, { "b", "2" }, { "", "" } } },
	{ "a=1+2&b+c=%20", -1, NULL, 2,
	    { { "a", "1 2" }, { "b c", " " } } },
	{ "x=%2B1&y=%2b", -1, NULL, 2, { { "x", "+1" }, { "y", "+" } } },
	{ "hex=%4a%4A%4b%7e", -1, NULL, 1, { { "hex", "JJK~" } } },
	{ "n=Se%C3%B1al+%E2%9C%93", -1, NULL, 1,
	    { { "n", "Se\xc3\xb1" "al \xe2\x9c\x93" } } },
	{ "raw=\xc3\xb1", -1, NULL, 1, { { "raw", "\xc3\xb1" } } },
	{ "Tag=b&Tag=a&Tag=b", -1, NULL, 3,
	    { { "Tag", "b" }, { "Tag", "a" }, { "Tag", "b" } } },
	{ "amp=%26&eq=%3D&pct=%25", -1, NULL, 3,
	    { { "amp", "&" }, { "eq", "=" }, { "pct", "%" } } },
	{ "hi=%FF", -1, NULL, 1, { { "hi", "\xff" } } },
	/* Only len bytes are read: "a=1" of "a=1&b=2". */
	{ "a=1&b=2", 3, NULL, 1, { { "a", "1" } } },
	{ "%", -1, err_percent, 0, { { NULL } } },
	{ "%4", -1, err_percent, 0, { { NULL } } },
	{ "%zz", -1, err_percent, 0, { { NULL } } },
	{ "%G1", -1, err_percent, 0, { { NULL } } },
	{ "%1G", -1, err_percent, 0, { { NULL } } },
	{ "a=%2", -1, err_percent, 0, { { NULL } } },
	{ "a=%", -1, err_percent, 0, { { NULL } } },
	{ "a=1&b=%+1", -1, err_percent, 0, { { NULL } } },
	{ "a=%-1", -1, err_percent, 0, { { NULL } } },
	/* "%2" then the '&' that ends the pair: no reading across pairs. */
	{ "a=%2&b=1", -1, err_percent, 0, { { NULL } } },
	{ "%00", -1, err_nul, 0, { { NULL } } },
	{ "a=b%00c", -1, err_nul, 0, { { NULL } } },
	{ "a%00=b", -1, err_nul, 0, { { NULL } } },
	{ "a=b\0c", 5, err_nul, 0, { { NULL } } },
};

static size_t
case_len(const struct decode_case *c)
{
	return c->len < 0 ? strlen(c->in) : (size_t)c->len;
}

static void
test_form_decode_table(void **state)
{
	size_t	 i, k, len;

	for (i = 0; i < sizeof decode_cases / sizeof decode_cases[0]; i++) {
		const struct decode_case *c = &decode_cases[i];
		struct params	 p = { 0 };
		const char	*err = "unset";
		char		*buf;
		int		 rc;

		/* A heap copy without a NUL, so ASan sees any overread. */
		len = case_len(c);
		buf = malloc(len == 0 ? 1 : len);
		assert_non_null(buf);
		memcpy(buf, c->in, len);
		rc = form_decode(buf, len, &p, &err);
		print_message("# case %zu: \"%s\"\n", i, c->in);
		if (c->err != NULL) {
			assert_int_equal(rc, -1);
			assert_string_equal(err, c->err);
			assert_int_equal(p.n, 0);
		} else {
			assert_int_equal(rc, 0);
			assert_null(err);
			assert_int_equal(p.n, c->n);
			for (k = 0; k < c->n; k++) {
				assert_string_equal(p.v[k].name,
				    c->pairs[k][0]);
				assert_string_equal(p.v[k].value,
				    c->pairs[k][1]);
			}
		}
		params_free(&p);
		free(buf);
	}
}

static void
test_broken_percent_encoding_is_an_error_not_a_crash(void **state)
{
	static const char *bad[] = {
		"%", "%%", "%%%", "%4", "%G1", "a=%2", "a=b&%zz=1", "x=%0",
		"&&&%", "a=1&b=2&c=%", "%%41",
	};
	struct params	 p = { 0 };
	const char	*err;
	size_t		 i;

	/* A failed decode leaves what was there before untouched. */
	assert_int_equal(form_decode("keep=me", 7, &p, &err), 0);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err = NULL;
		assert_int_equal(form_decode(bad[i], strlen(bad[i]), &p,
		    &err), -1);
		assert_string_equal(err, err_percent);
		assert_int_equal(p.n, 1);
		assert_string_equal(params_get(&p, "keep"), "me");
	}
	/* A NULL err pointer is allowed. */
	assert_int_equal(form_decode("%", 1, &p, NULL), -1);
	params_free(&p);
}

static void
test_decoded_nul_byte_is_refused(void **state)
{
	struct params	 p = { 0 };
	const char	*err = NULL;

	assert_int_equal(form_decode("AccountSid=AC%00x", 17, &p, &err), -1);
	assert_string_equal(err, err_nul);
	assert_int_equal(p.n, 0);
	params_free(&p);
}

static void
test_very_long_input_decodes(void **state)
{
	const size_t	 vlen = 1 << 20, npairs = 20000;
	struct params	 p = { 0 };
	const char	*err;
	char		*s, *w;
	size_t		 i, len;

	/* One 1 MiB value, all "%41", then 20000 small pairs. */
	len = 2 + vlen * 3 + npairs * 8;
	s = malloc(len + 1);
	assert_non_null(s);
	w = s;
	w += sprintf(w, "v=");
	for (i = 0; i < vlen; i++)
		w += sprintf(w, "%%41");
	for (i = 0; i < npairs; i++)
		w += sprintf(w, "&k%05zu", i % 100000);
	len = w - s;
	assert_int_equal(form_decode(s, len, &p, &err), 0);
	assert_int_equal(p.n, 1 + npairs);
	assert_int_equal(strlen(p.v[0].value), vlen);
	assert_int_equal(strspn(p.v[0].value, "A"), vlen);
	assert_string_equal(p.v[npairs].name, "k19999");
	assert_string_equal(p.v[npairs].value, "");
	params_free(&p);
	free(s);
}

static void
test_params_get_returns_first_value(void **state)
{
	struct params	 p = { 0 };
	const char	*err;

	assert_int_equal(form_decode("a=1&b=2&a=3", 11, &p, &err), 0);
	assert_string_equal(params_get(&p, "a"), "1");
	assert_string_equal(params_get(&p, "b"), "2");
	assert_null(params_get(&p, "c"));
	assert_null(params_get(&p, "A"));
	assert_null(params_get(NULL, "a"));
	params_free(&p);
	assert_null(params_get(&p, "a"));
}

static void
test_params_add_copies_exact_bytes(void **state)
{
	struct params	 p = { 0 };
	char		 name[] = "CurrentValueXX", value[] = "100.75YY";
	size_t		 i;

	assert_int_equal(params_add(&p, name, 12, value, 6), 0);
	name[0] = value[0] = 'Z';
	assert_string_equal(p.v[0].name, "CurrentValue");
	assert_string_equal(p.v[0].value, "100.75");
	assert_int_equal(params_add(&p, "", 0, "", 0), 0);
	assert_string_equal(p.v[1].name, "");
	for (i = 0; i < 1000; i++)
		assert_int_equal(params_add(&p, "k", 1, "v", 1), 0);
	assert_int_equal(p.n, 1002);
	params_free(&p);
	assert_null(p.v);
	assert_int_equal(p.n, 0);
	assert_int_equal(p.cap, 0);
	params_free(&p);
	params_free(NULL);
}

static void
test_form_content_type_table(void **state)
{
	static const struct {
		const char	*ct;
		int		 want;
	} cases[] = {
		{ "application/x-www-form-urlencoded", 1 },
		{ "Application/X-WWW-Form-URLEncoded", 1 },
		{ "application/x-www-form-urlencoded; charset=utf-8", 1 },
		{ "application/x-www-form-urlencoded;charset=UTF-8", 1 },
		{ "application/x-www-form-urlencoded ; charset=utf-8", 1 },
		{ " application/x-www-form-urlencoded", 1 },
		{ "application/x-www-form-urlencoded ", 1 },
		{ NULL, 0 },
		{ "", 0 },
		{ "multipart/form-data; boundary=xyz", 0 },
		{ "application/json", 0 },
		{ "text/plain", 0 },
		{ "application/x-www-form-urlencodedX", 0 },
		{ "application/x-www-form-urlencoded-v2", 0 },
		{ "application/x-www-form-urlencoded x", 0 },
		{ "application/x-www-form", 0 },
		{ "xapplication/x-www-form-urlencoded", 0 },
	};
	size_t	i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		print_message("# \"%s\"\n", cases[i].ct ? cases[i].ct : "NULL");
		assert_int_equal(form_content_type(cases[i].ct),
		    cases[i].want);
	}
}

static void
test_sid_valid_table(void **state)
{
	static const struct {
		const char	*s;
		const char	*prefix;
		int		 want;
	} cases[] = {
		{ AC, "AC", 1 },
		{ UT, "UT", 1 },
		{ "AC0123456789ABCDEF0123456789abcdef", "AC", 1 },
		{ AC, "UT", 0 },
		{ UT, "AC", 0 },
		{ "ac" "ed70abd024d3f57a4027b5dc2ca88d5b", "AC", 0 },
		{ "ACed70abd024d3f57a4027b5dc2ca88d5", "AC", 0 },
		{ "ACed70abd024d3f57a4027b5dc2ca88d5b0", "AC", 0 },
		{ "ACed70abd024d3f57a4027b5dc2ca88d5g", "AC", 0 },
		{ "ACed70abd024d3f57a4027b5dc2ca88d5 ", "AC", 0 },
		{ "AC", "AC", 0 },
		{ "", "AC", 0 },
		{ NULL, "AC", 0 },
		{ AC, NULL, 0 },
	};
	size_t	i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		print_message("# \"%s\"\n", cases[i].s ? cases[i].s : "NULL");
		assert_int_equal(sid_valid(cases[i].s, cases[i].prefix),
		    cases[i].want);
	}
}

/* A callback holding the params decoded from body. */
static struct callback *
callback_from(const char *body)
{
	struct callback	*cb;
	const char	*err;

	cb = calloc(1, sizeof *cb);
	assert_non_null(cb);
	assert_int_equal(form_decode(body, strlen(body), &cb->params, &err),
	    0);
	return cb;
}

static void
test_full_firing_is_valid_and_fields_point_at_params(void **state)
{
	struct callback	*cb;

	cb = callback_from("AccountSid=" AC "&UsageTriggerSid=" UT
	    "&DateFired=Tue%2C+24+Nov+2026+03%3A00%3A00+%2B0000"
	    "&Recurring=&UsageCategory=sms&TriggerBy=price"
	    "&TriggerValue=100&CurrentValue=100.75"
	    "&UsageRecordUri=%2F2010-04-01%2FAccounts%2F" AC
	    "%2FUsage%2FRecords%3FCategory%3Dsms%26StartDate%3D2026-11-24"
	    "&IdempotencyToken=" TOKEN "&Extra=ignored");
	assert_null(callback_validate(cb));
	assert_string_equal(cb->f.account_sid, AC);
	assert_string_equal(cb->f.usage_trigger_sid, UT);
	assert_string_equal(cb->f.idempotency_token, TOKEN);
	assert_string_equal(cb->f.date_fired,
	    "Tue, 24 Nov 2026 03:00:00 +0000");
	assert_string_equal(cb->f.recurring, "");
	assert_string_equal(cb->f.usage_category, "sms");
	assert_string_equal(cb->f.trigger_by, "price");
	assert_string_equal(cb->f.trigger_value, "100");
	assert_string_equal(cb->f.current_value, "100.75");
	assert_string_equal(cb->f.usage_record_uri, "/2010-04-01/Accounts/"
	    AC "/Usage/Records?Category=sms&StartDate=2026-11-24");
	assert_ptr_equal(cb->f.account_sid, params_get(&cb->params,
	    "AccountSid"));
	callback_free(cb);
}

static void
test_minimal_firing_leaves_optional_fields_null(void **state)
{
	struct callback	*cb;

	cb = callback_from("IdempotencyToken=t&UsageTriggerSid=" UT
	    "&AccountSid=" AC);
	assert_null(callback_validate(cb));
	assert_string_equal(cb->f.idempotency_token, "t");
	assert_null(cb->f.date_fired);
	assert_null(cb->f.current_value);
	callback_free(cb);
}

static void
test_every_required_field_error_is_named(void **state)
{
	static char	 longtok[TOKEN_MAX + 2], maxtok[TOKEN_MAX + 1];
	static char	 body_long[600], body_max[600];
	const struct {
		const char	*body;
		const char	*want;
	} cases[] = {
		{ "UsageTriggerSid=" UT "&IdempotencyToken=t",
		    "AccountSid missing" },
		{ "AccountSid=" AC "&IdempotencyToken=t",
		    "UsageTriggerSid missing" },
		{ "AccountSid=" AC "&UsageTriggerSid=" UT,
		    "IdempotencyToken missing" },
		{ "", "AccountSid missing" },
		{ "AccountSid=AC123&UsageTriggerSid=" UT "&IdempotencyToken=t",
		    "AccountSid 'AC123' is not AC followed by 32 hex digits" },
		{ "AccountSid=&UsageTriggerSid=" UT "&IdempotencyToken=t",
		    "AccountSid '' is not AC followed by 32 hex digits" },
		{ "AccountSid=" UT "&UsageTriggerSid=" UT "&IdempotencyToken=t",
		    "AccountSid '" UT "' is not AC followed by 32 hex digits" },
		{ "AccountSid=" AC "&UsageTriggerSid=UTx&IdempotencyToken=t",
		    "UsageTriggerSid 'UTx' is not UT followed by 32 hex "
		    "digits" },
		{ "AccountSid=" AC "&UsageTriggerSid=" AC "&IdempotencyToken=t",
		    "UsageTriggerSid '" AC "' is not UT followed by 32 hex "
		    "digits" },
		/* A bad value is quoted safely: escaped and shortened. */
		{ "AccountSid=AC%0A%27x&UsageTriggerSid=" UT
		    "&IdempotencyToken=t",
		    "AccountSid 'AC\\x0a\\x27x' is not AC followed by 32 hex "
		    "digits" },
		{ "AccountSid=" AC "&UsageTriggerSid=UT"
		    "0123456789012345678901234567890123456789012345678901234567"
		    "&IdempotencyToken=t",
		    "UsageTriggerSid 'UT0123456789012345678901234567890123456789"
		    "012345...' is not UT followed by 32 hex digits" },
		{ "AccountSid=" AC "&UsageTriggerSid=" UT "&IdempotencyToken=",
		    "IdempotencyToken empty" },
		{ "AccountSid=" AC "&UsageTriggerSid=" UT "&IdempotencyToken",
		    "IdempotencyToken empty" },
		{ body_long, "IdempotencyToken longer than 256 bytes" },
		{ body_max, NULL },
		{ "AccountSid=" AC "&AccountSid=" AC "&UsageTriggerSid=" UT
		    "&IdempotencyToken=t", "AccountSid given 2 times" },
		{ "AccountSid=" AC "&UsageTriggerSid=" UT "&UsageTriggerSid="
		    UT "&IdempotencyToken=t", "UsageTriggerSid given 2 times" },
		{ "AccountSid=" AC "&UsageTriggerSid=" UT
		    "&IdempotencyToken=t&IdempotencyToken=u&IdempotencyToken=t",
		    "IdempotencyToken given 3 times" },
		/* Names are exact: Twilio's spelling, case included. */
		{ "accountsid=" AC "&UsageTriggerSid=" UT "&IdempotencyToken=t",
		    "AccountSid missing" },
		/* An optional field given twice is fine; the first wins. */
		{ "AccountSid=" AC "&UsageTriggerSid=" UT "&IdempotencyToken=t"
		    "&CurrentValue=1&CurrentValue=2", NULL },
	};
	struct callback	*cb;
	const char	*msg;
	size_t		 i;

	memset(longtok, 'x', TOKEN_MAX + 1);
	memset(maxtok, 'x', TOKEN_MAX);
	snprintf(body_long, sizeof body_long, "AccountSid=%s&UsageTriggerSid="
	    "%s&IdempotencyToken=%s", AC, UT, longtok);
	snprintf(body_max, sizeof body_max, "AccountSid=%s&UsageTriggerSid="
	    "%s&IdempotencyToken=%s", AC, UT, maxtok);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		print_message("# case %zu\n", i);
		cb = callback_from(cases[i].body);
		msg = callback_validate(cb);
		if (cases[i].want == NULL)
			assert_null(msg);
		else {
			assert_non_null(msg);
			assert_string_equal(msg, cases[i].want);
		}
		callback_free(cb);
	}
	assert_non_null(callback_validate(NULL));
}

static void
test_rejected_callback_still_names_its_account(void **state)
{
	struct callback	*cb;

	cb = callback_from("AccountSid=" AC "&UsageTriggerSid=bad"
	    "&IdempotencyToken=tok");
	assert_non_null(callback_validate(cb));
	assert_string_equal(cb->f.account_sid, AC);
	assert_string_equal(cb->f.idempotency_token, "tok");
	callback_free(cb);
}

static void
test_callback_free_releases_everything(void **state)
{
	struct callback	*cb;

	callback_free(NULL);
	cb = callback_from("AccountSid=" AC);
	cb->method = strdup("POST");
	cb->uri = strdup("/twilio/usage");
	cb->url = strdup("https://hooks.example.com/twilio/usage");
	cb->headers = strdup("Host: hooks.example.com\r\n");
	cb->body = strdup("AccountSid=" AC);
	cb->bodylen = strlen(cb->body);
	cb->remote = strdup("127.0.0.1");
	cb->signature = strdup("nKjwoqg7SWj8O1RuqTTZ0E+Ikrw=");
	/* LeakSanitizer fails the run if anything is left behind. */
	callback_free(cb);
	cb = calloc(1, sizeof *cb);
	assert_non_null(cb);
	callback_free(cb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form_decode_table),
		cmocka_unit_test(
		    test_broken_percent_encoding_is_an_error_not_a_crash),
		cmocka_unit_test(test_decoded_nul_byte_is_refused),
		cmocka_unit_test(test_very_long_input_decodes),
		cmocka_unit_test(test_params_get_returns_first_value),
		cmocka_unit_test(test_params_add_copies_exact_bytes),
		cmocka_unit_test(test_form_content_type_table),
		cmocka_unit_test(test_sid_valid_table),
		cmocka_unit_test(
		    test_full_firing_is_valid_and_fields_point_at_params),
		cmocka_unit_test(
		    test_minimal_firing_leaves_optional_fields_null),
		cmocka_unit_test(test_every_required_field_error_is_named),
		cmocka_unit_test(
		    test_rejected_callback_still_names_its_account),
		cmocka_unit_test(test_callback_free_releases_everything),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
