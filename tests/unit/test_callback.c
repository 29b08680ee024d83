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
#include "signature.h"

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

/* The ten parameters of a firing, form-encoded, in the order Twilio sends. */
static const char *const firing_pairs[][2] = {
	{ "AccountSid", AC },
	{ "UsageTriggerSid", UT },
	{ "DateFired", "Tue%2C+24+Nov+2026+03%3A00%3A00+%2B0000" },
	{ "Recurring", "daily" },
	{ "UsageCategory", "sms" },
	{ "TriggerBy", "price" },
	{ "TriggerValue", "100" },
	{ "CurrentValue", "100.75" },
	{ "UsageRecordUri", "%2F2010-04-01%2FAccounts%2F" AC
	    "%2FUsage%2FRecords%3FCategory%3Dsms" },
	{ "IdempotencyToken", TOKEN },
};
#define NFIRING	(sizeof firing_pairs / sizeof firing_pairs[0])

/*
 * A full firing's body into buf with one edit: "Name=value" replaces Name's
 * pair (whatever follows '='), "-Name" drops it, "+text" appends "&text";
 * NULL for none.
 */
static const char *
firing_body(char *buf, size_t size, const char *edit)
{
	size_t	i, j = 0, nlen;
	const char *eq;

	buf[0] = '\0';
	for (i = 0; i < NFIRING; i++) {
		nlen = strlen(firing_pairs[i][0]);
		if (edit != NULL && *edit == '-' &&
		    strcmp(edit + 1, firing_pairs[i][0]) == 0)
			continue;
		if (edit != NULL && (eq = strchr(edit, '=')) != NULL &&
		    *edit != '+' && (size_t)(eq - edit) == nlen &&
		    strncmp(edit, firing_pairs[i][0], nlen) == 0)
			j += snprintf(buf + j, size - j, "%s%s", j ? "&" : "",
			    edit);
		else
			j += snprintf(buf + j, size - j, "%s%s=%s",
			    j ? "&" : "", firing_pairs[i][0],
			    firing_pairs[i][1]);
		assert_true(j < size);
	}
	if (edit != NULL && *edit == '+')
		j += snprintf(buf + j, size - j, "&%s", edit + 1);
	assert_true(j < size);
	return buf;
}

static void
test_each_missing_parameter_is_refused_by_name(void **state)
{
	char		 body[1024], edit[64], want[64];
	struct callback	*cb;
	size_t		 i;

	cb = callback_from(firing_body(body, sizeof body, NULL));
	assert_null(callback_validate(cb));
	callback_free(cb);
	for (i = 0; i < NFIRING; i++) {
		snprintf(edit, sizeof edit, "-%s", firing_pairs[i][0]);
		snprintf(want, sizeof want, "%s missing", firing_pairs[i][0]);
		print_message("# %s\n", edit);
		cb = callback_from(firing_body(body, sizeof body, edit));
		assert_string_equal(callback_validate(cb), want);
		/* The rest is still pointed at, to name the account. */
		if (i > 0)
			assert_string_equal(cb->f.account_sid, AC);
		callback_free(cb);
	}
}

static void
test_every_field_error_is_named(void **state)
{
	static char	 longtok[TOKEN_MAX + 40], maxtok[TOKEN_MAX + 40];
	const struct {
		const char	*edit;
		const char	*want;
	} cases[] = {
		{ "AccountSid=AC123",
		    "AccountSid 'AC123' is not AC followed by 32 hex digits" },
		{ "AccountSid=",
		    "AccountSid '' is not AC followed by 32 hex digits" },
		{ "AccountSid=" UT,
		    "AccountSid '" UT "' is not AC followed by 32 hex digits" },
		{ "UsageTriggerSid=UTx",
		    "UsageTriggerSid 'UTx' is not UT followed by 32 hex "
		    "digits" },
		{ "UsageTriggerSid=" AC,
		    "UsageTriggerSid '" AC "' is not UT followed by 32 hex "
		    "digits" },
		/* A bad value is quoted safely: escaped and shortened. */
		{ "AccountSid=AC%0A%27x",
		    "AccountSid 'AC\\x0a\\x27x' is not AC followed by 32 hex "
		    "digits" },
		{ "UsageTriggerSid=UT"
		    "0123456789012345678901234567890123456789012345678901234567",
		    "UsageTriggerSid 'UT0123456789012345678901234567890123456789"
		    "012345...' is not UT followed by 32 hex digits" },
		{ "IdempotencyToken=", "IdempotencyToken empty" },
		{ longtok, "IdempotencyToken longer than 256 bytes" },
		{ maxtok, NULL },
		{ "IdempotencyToken=t", NULL },
		{ "IdempotencyToken=" AC "-FIRES-" UT "-", "IdempotencyToken '"
		    "ACed70abd024d3f57a4027b5dc2ca88d5b-FIRES-UTc142b..."
		    "' starts with AC but is not AccountSid-FIRES-"
		    "UsageTriggerSid-... with this request's sids" },
		{ "IdempotencyToken=" AC "-FI", "IdempotencyToken '" AC "-FI"
		    "' starts with AC but is not AccountSid-FIRES-"
		    "UsageTriggerSid-... with this request's sids" },
		{ "IdempotencyToken=ACed70abd024d3f57a4027b5dc2ca88d5c-FIRES-"
		    UT "-2026-11-24", "IdempotencyToken 'ACed70abd024d3f57a4027"
		    "b5dc2ca88d5c-FIRES-UTc142b...' starts with AC but is not "
		    "AccountSid-FIRES-UsageTriggerSid-... with this request's "
		    "sids" },
		{ "IdempotencyToken=" AC "-FIRES-UTc142bed7b38c4f8186ef41a30981"
		    "4fd3-2026-11-24", "IdempotencyToken '" AC "-FIRES-UTc142"
		    "b...' starts with AC but is not AccountSid-FIRES-"
		    "UsageTriggerSid-... with this request's sids" },
		/* What follows the sids is Twilio's: a date, or other. */
		{ "IdempotencyToken=" AC "-FIRES-" UT "-2026-11", NULL },
		{ "IdempotencyToken=" AC "-FIRES-" UT "-x", NULL },
		{ "IdempotencyToken=ACME-order-7", "IdempotencyToken "
		    "'ACME-order-7' starts with AC but is not AccountSid-FIRES-"
		    "UsageTriggerSid-... with this request's sids" },
		{ "Recurring=", NULL },
		{ "Recurring=monthly", NULL },
		{ "Recurring=yearly", NULL },
		{ "Recurring=alltime", NULL },
		{ "Recurring=Daily", "Recurring 'Daily' is not empty, daily, "
		    "monthly, yearly or alltime" },
		{ "Recurring=dailyx", "Recurring 'dailyx' is not empty, daily, "
		    "monthly, yearly or alltime" },
		{ "TriggerBy=usage", NULL },
		{ "TriggerBy=count", NULL },
		{ "TriggerBy=", "TriggerBy '' is not count, usage or price" },
		{ "TriggerBy=pricey", "TriggerBy 'pricey' is not count, usage "
		    "or price" },
		{ "TriggerValue=0", NULL },
		{ "TriggerValue=-1.5", NULL },
		{ "TriggerValue=", "TriggerValue '' is not a number" },
		{ "TriggerValue=1.", "TriggerValue '1.' is not a number" },
		{ "TriggerValue=.5", "TriggerValue '.5' is not a number" },
		{ "TriggerValue=100UsageCategorysms",
		    "TriggerValue '100UsageCategorysms' is not a number" },
		{ "CurrentValue=1e3", "CurrentValue '1e3' is not a number" },
		{ "CurrentValue=%2B1", "CurrentValue '+1' is not a number" },
		{ "DateFired=", "DateFired empty" },
		{ "UsageCategory=", "UsageCategory empty" },
		{ "UsageRecordUri=", "UsageRecordUri empty" },
		/* Names are exact: Twilio's spelling, case included. */
		{ "-AccountSid", "AccountSid missing" },
		{ "+accountsid=" AC, NULL },
		/* Two values leave it ambiguous which to record and claim. */
		{ "+AccountSid=" AC, "AccountSid given 2 times" },
		{ "+UsageTriggerSid=" UT, "UsageTriggerSid given 2 times" },
		{ "+IdempotencyToken=t", "IdempotencyToken given 2 times" },
		{ "+CurrentValue=1", "CurrentValue given 2 times" },
		{ "+Recurring=", "Recurring given 2 times" },
		/* Unknown parameters are Twilio's to add: ignored. */
		{ "+Extra=ignored", NULL },
		{ "+ApiVersion=2010-04-01", NULL },
	};
	char		 body[2048];
	struct callback	*cb;
	const char	*msg;
	size_t		 i;

	snprintf(longtok, sizeof longtok, "IdempotencyToken=%0*d",
	    TOKEN_MAX + 1, 0);
	snprintf(maxtok, sizeof maxtok, "IdempotencyToken=%0*d", TOKEN_MAX,
	    0);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		print_message("# case %zu: %s\n", i, cases[i].edit);
		cb = callback_from(firing_body(body, sizeof body,
		    cases[i].edit));
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

/*
 * Re-splitting a signed request. X-Twilio-Signature signs the URL followed
 * by every body name and value run together in name order, so any other
 * set of parameters whose names and values, sorted and run together, give
 * the same bytes carries the same signature. The enumeration below tries
 * them all, up to what validation cannot see: each of the ten names present
 * once (at any place its bytes occur) or absent, each value ending anywhere,
 * and whatever lies between two of them sent as unknown parameters, which
 * is possible when some prefix of it sorts between their names.
 */
#define RS_MAX		512
#define NKNOWN		10

static const char *const known_sorted[NKNOWN] = {
	"AccountSid", "CurrentValue", "DateFired", "IdempotencyToken",
	"Recurring", "TriggerBy", "TriggerValue", "UsageCategory",
	"UsageRecordUri", "UsageTriggerSid",
};

struct resplit {
	const char	*token, *url, *sig;
	char		 s[RS_MAX];	/* the signed parameter bytes */
	size_t		 len;
	size_t		 name_at[NKNOWN];	/* SIZE_MAX: absent */
	size_t		 value_end[NKNOWN];
	size_t		 orig_end[NKNOWN];	/* the request as sent */
	size_t		 tried, signed_ok, valid, missing, attack;
};

/* strcmp of the len bytes at s with the string t. */
static int
subcmp(const char *s, size_t len, const char *t)
{
	size_t	tlen = strlen(t);
	int	c;

	if ((c = memcmp(s, t, len < tlen ? len : tlen)) != 0)
		return c;
	return len < tlen ? -1 : len > tlen;
}

/*
 * End of the name of one unknown parameter covering s[p..q): a prefix
 * sorting strictly between lo and hi (NULL: unbounded). q when p == q (no
 * parameter needed); SIZE_MAX when impossible.
 */
static size_t
gap_name_end(const struct resplit *r, size_t p, size_t q, const char *lo,
    const char *hi)
{
	size_t	j;

	if (p == q)
		return q;
	for (j = p; j <= q; j++)
		if ((lo == NULL || subcmp(r->s + p, j - p, lo) > 0) &&
		    (hi == NULL || subcmp(r->s + p, j - p, hi) < 0))
			return j;
	return SIZE_MAX;
}

/* Add s[a..b) as a name and s[b..c) as its value to p. */
static void
add_span(struct params *p, const char *s, size_t a, size_t b, size_t c)
{
	assert_int_equal(params_add(p, s + a, b - a, s + b, c - b), 0);
}

/* Sign and validate the current split. */
static void
resplit_try(struct resplit *r)
{
	struct callback	 cb;
	char		 sig[SIGNATURE_LEN + 1];
	const char	*lo = NULL;
	size_t		 k, pos = 0, j, present = 0, same = 1;

	memset(&cb, 0, sizeof cb);
	for (k = 0; k <= NKNOWN; k++) {
		size_t	q = k < NKNOWN ? r->name_at[k] : r->len;

		if (k < NKNOWN && q == SIZE_MAX)
			continue;
		j = gap_name_end(r, pos, q, lo, k < NKNOWN ?
		    known_sorted[k] : NULL);
		assert_true(j != SIZE_MAX);
		if (pos < q)
			add_span(&cb.params, r->s, pos, j, q);
		if (k == NKNOWN)
			break;
		add_span(&cb.params, r->s, q, q + strlen(known_sorted[k]),
		    r->value_end[k]);
		same &= r->value_end[k] == r->orig_end[k] && pos == q;
		present++;
		lo = known_sorted[k];
		pos = r->value_end[k];
	}
	same &= present == NKNOWN;
	r->tried++;
	assert_int_equal(signature_compute(r->token, r->url, &cb.params, sig),
	    0);
	r->signed_ok += strcmp(sig, r->sig) == 0;

	if (present < NKNOWN)
		r->missing++;
	if (callback_validate(&cb) == NULL) {
		r->valid++;
		if (!same) {
			for (k = 0; k < cb.params.n; k++)
				print_message("# valid re-split: %s=%s\n",
				    cb.params.v[k].name, cb.params.v[k].value);
			fail_msg("a re-split of the request is valid");
		}
	}
	/* The attack of issue 11: only Recurring moved into the token. */
	for (k = 0, j = 0; k < NKNOWN; k++)
		j += k == 3 ? r->value_end[k] == r->orig_end[4] :
		    k == 4 ? r->name_at[k] == SIZE_MAX :
		    r->name_at[k] != SIZE_MAX &&
		    r->value_end[k] == r->orig_end[k];
	r->attack += j == NKNOWN;
	params_free(&cb.params);
}

/* Place the known names from k on, starting at pos. */
static void
resplit_from(struct resplit *r, size_t k, size_t pos, const char *lo)
{
	size_t	q, e, nlen;

	if (k == NKNOWN) {
		if (gap_name_end(r, pos, r->len, lo, NULL) != SIZE_MAX)
			resplit_try(r);
		return;
	}
	/* Absent: the bytes go to a neighbour. */
	r->name_at[k] = SIZE_MAX;
	resplit_from(r, k + 1, pos, lo);
	nlen = strlen(known_sorted[k]);
	for (q = pos; q + nlen <= r->len; q++) {
		if (memcmp(r->s + q, known_sorted[k], nlen) != 0)
			continue;
		if (gap_name_end(r, pos, q, lo, known_sorted[k]) == SIZE_MAX)
			continue;
		for (e = q + nlen; e <= r->len; e++) {
			r->name_at[k] = q;
			r->value_end[k] = e;
			resplit_from(r, k + 1, e, known_sorted[k]);
		}
	}
	r->name_at[k] = SIZE_MAX;
}

/* Every re-split of body (form-encoded, signed for url with token). */
static void
resplit_all(struct resplit *r, const char *body)
{
	struct params	 p = { NULL, 0, 0, NULL };
	char		 sig[SIGNATURE_LEN + 1];
	const char	*err;
	size_t		 i, k;

	assert_int_equal(form_decode(body, strlen(body), &p, &err), 0);
	assert_int_equal(p.n, NKNOWN);
	assert_int_equal(signature_compute(r->token, r->url, &p, sig), 0);
	if (r->sig == NULL)
		r->sig = sig;
	assert_string_equal(sig, r->sig);
	/* The signed bytes: the names are the ten, sorted as known_sorted. */
	r->len = 0;
	for (k = 0; k < NKNOWN; k++) {
		for (i = 0; strcmp(p.v[i].name, known_sorted[k]) != 0; i++)
			assert_true(i + 1 < p.n);
		r->len += snprintf(r->s + r->len, sizeof r->s - r->len,
		    "%s%s", p.v[i].name, p.v[i].value);
		assert_true(r->len < sizeof r->s);
		r->orig_end[k] = r->len;
	}
	params_free(&p);
	resplit_from(r, 0, 0, NULL);
	print_message("# %zu re-splits, %zu of them signed alike, %zu "
	    "missing a parameter; %zu valid\n", r->tried, r->signed_ok,
	    r->missing, r->valid);
	assert_int_equal(r->signed_ok, r->tried);
	assert_int_equal(r->valid, 1);
	assert_int_equal(r->attack, 1);
}

static void
test_no_resplit_of_a_signed_request_is_valid(void **state)
{
	/* tests/fixtures/signatures.txt, post-https-without-port (twilio-node). */
	struct resplit	 r = {
		.token = "9f2b6c1d4e8a7f3b0c5d2e9a1b4c7d8e",
		.url = "https://hooks.example.com/twilio/usage",
		.sig = "nKjwoqg7SWj8O1RuqTTZ0E+Ikrw=",
	};

	resplit_all(&r, "AccountSid=" AC "&UsageTriggerSid=" UT
	    "&DateFired=Tue%2C+24+Nov+2026+03%3A00%3A00+%2B0000"
	    "&Recurring=daily&UsageCategory=sms&TriggerBy=price"
	    "&TriggerValue=100&CurrentValue=100.75&UsageRecordUri=%2F2010-04-"
	    "01%2FAccounts%2F" AC "%2FUsage%2FRecords%3FCategory%3Dsms%26"
	    "StartDate%3D2026-11-24%26EndDate%3D2026-11-24"
	    "&IdempotencyToken=" TOKEN);
}

static void
test_no_resplit_of_a_non_recurring_firing_is_valid(void **state)
{
	/* Recurring empty: nothing between its name and TriggerBy. */
	struct resplit	 r = {
		.token = "9f2b6c1d4e8a7f3b0c5d2e9a1b4c7d8e",
		.url = "https://hooks.example.com/twilio/usage",
	};

	resplit_all(&r, "AccountSid=" AC "&UsageTriggerSid=" UT
	    "&DateFired=Tue%2C+24+Nov+2026+03%3A00%3A00+%2B0000"
	    "&Recurring=&UsageCategory=calls&TriggerBy=usage"
	    "&TriggerValue=500&CurrentValue=512&UsageRecordUri=%2F2010-04-01"
	    "%2FAccounts%2F" AC "%2FUsage%2FRecords%3FCategory%3Dcalls"
	    "&IdempotencyToken=" AC "-FIRES-" UT "-2026-11-24");
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
		    test_each_missing_parameter_is_refused_by_name),
		cmocka_unit_test(test_every_field_error_is_named),
		cmocka_unit_test(test_no_resplit_of_a_signed_request_is_valid),
		cmocka_unit_test(
		    test_no_resplit_of_a_non_recurring_firing_is_valid),
		cmocka_unit_test(
		    test_rejected_callback_still_names_its_account),
		cmocka_unit_test(test_callback_free_releases_everything),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
