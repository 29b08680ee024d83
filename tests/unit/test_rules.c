/* test_rules.c: matching callbacks against rules loaded from YAML files. */
#include "config-sys.h"

#include <sys/stat.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "callback.h"
#include "config.h"
#include "rules.h"

#define SID_A	"AC0123456789abcdef0123456789abcdef"
#define HEADER \
	"database: db\n" \
	"accounts: [{sid: " SID_A ", auth_token_file: token}]\n" \
	"rules:\n"

/*
 * One match key of one rule and one callback: the rule says
 * "match: { param: yaml }", the callback carries param=value (value NULL:
 * the parameter is absent), and the rule must match or not.
 */
struct match_case {
	const char	*param;
	const char	*value;
	const char	*yaml;
	int		 matches;
};

static const struct match_case match_cases[] = {
	/* Exact text: whole string, case-sensitive. */
	{ "UsageCategory",	"sms",		"sms",			1 },
	{ "UsageCategory",	"sms-outbound",	"sms",			0 },
	{ "UsageCategory",	"sm",		"sms",			0 },
	{ "TriggerBy",		"Price",	"price",		0 },
	{ "AccountSid",		SID_A,		SID_A,			1 },
	/* A YAML number is its text: 100 is not 100.0 unless compared. */
	{ "TriggerValue",	"100",		"100",			1 },
	{ "TriggerValue",	"100.0",	"100",			0 },
	/* A list is any of its values. */
	{ "UsageCategory",	"mms",		"[sms, mms]",		1 },
	{ "UsageCategory",	"sms",		"[sms, mms]",		1 },
	{ "UsageCategory",	"calls",	"[sms, mms]",		0 },
	{ "UsageCategory",	"calls-sip",	"[sms, \"calls*\"]",	1 },
	{ "CurrentValue",	"7",		"[\"< 5\", \"> 6\"]",	1 },
	{ "CurrentValue",	"5.5",		"[\"< 5\", \"> 6\"]",	0 },
	/* Globs: fnmatch(3) without flags. */
	{ "UsageCategory",	"calls",	"\"calls*\"",		1 },
	{ "UsageCategory",	"calls-inbound", "\"calls*\"",		1 },
	{ "UsageCategory",	"sms",		"\"calls*\"",		0 },
	{ "UsageCategory",	"sms-inbound",	"\"sms-?nbound\"",	1 },
	{ "UsageCategory",	"sms-outbound",	"\"sms-?nbound\"",	0 },
	{ "Recurring",		"monthly",	"\"[dm]*ly\"",		1 },
	{ "Recurring",		"yearly",	"\"[dm]*ly\"",		0 },
	{ "UsageRecordUri",	"/2010-04-01/Accounts/" SID_A
	    "/Usage/Records/Today?Category=sms", "\"*Category=sms\"",	1 },
	/* Comparisons, one operator at a time, integers and decimals. */
	{ "CurrentValue",	"100",		"\">= 100\"",		1 },
	{ "CurrentValue",	"100.01",	"\">= 100\"",		1 },
	{ "CurrentValue",	"99.99",	"\">= 100\"",		0 },
	{ "CurrentValue",	"100.5",	"\"> 100\"",		1 },
	{ "CurrentValue",	"100",		"\"> 100\"",		0 },
	{ "CurrentValue",	"5.4",		"\"< 5.5\"",		1 },
	{ "CurrentValue",	"5.5",		"\"< 5.5\"",		0 },
	{ "CurrentValue",	"5.5",		"\"<= 5.5\"",		1 },
	{ "CurrentValue",	"5.51",		"\"<= 5.5\"",		0 },
	{ "CurrentValue",	"100.00",	"\"== 100\"",		1 },
	{ "CurrentValue",	"100.01",	"\"== 100\"",		0 },
	{ "CurrentValue",	"99",		"\"!= 100\"",		1 },
	{ "CurrentValue",	"100.0",	"\"!= 100\"",		0 },
	{ "TriggerValue",	"1000",		"\">=1e3\"",		1 },
	{ "TriggerValue",	"-3",		"\"<0\"",		1 },
	{ "TriggerValue",	"0.25",		"\"==   .25\"",		1 },
	/* A value that is not wholly a number matches no comparison. */
	{ "CurrentValue",	"abc",		"\">= 0\"",		0 },
	{ "CurrentValue",	"abc",		"\"!= 100\"",		0 },
	{ "CurrentValue",	"",		"\"< 1\"",		0 },
	{ "CurrentValue",	" 5",		"\"< 10\"",		0 },
	{ "CurrentValue",	"5 ",		"\"< 10\"",		0 },
	{ "CurrentValue",	"12abc",	"\"> 1\"",		0 },
	{ "CurrentValue",	"0x10",		"\"> 1\"",		0 },
	{ "CurrentValue",	"inf",		"\"> 1\"",		0 },
	{ "CurrentValue",	"nan",		"\"!= 1\"",		0 },
	{ "CurrentValue",	"$100",		"\"> 1\"",		0 },
	/* An absent parameter matches nothing, not even "*" or "". */
	{ "UsageCategory",	NULL,		"sms",			0 },
	{ "DateFired",		NULL,		"\"*\"",		0 },
	{ "CurrentValue",	NULL,		"\">= 0\"",		0 },
	{ "AccountSid",		NULL,		"\"\"",			0 },
	{ "AccountSid",		"",		"\"\"",			1 },
	{ "DateFired",		"",		"\"*\"",		1 },
	/* Recurring "" is a one-off trigger: sent empty or not at all. */
	{ "Recurring",		NULL,		"\"\"",			1 },
	{ "Recurring",		"",		"\"\"",			1 },
	{ "Recurring",		"daily",	"\"\"",			0 },
	{ "Recurring",		NULL,		"daily",		0 },
	{ "Recurring",		"daily",	"daily",		1 },
	{ "Recurring",		"monthly",	"[daily, monthly]",	1 },
	{ "Recurring",		NULL,		"[\"\", daily]",	1 },
	{ "Recurring",		"yearly",	"[\"\", daily]",	0 },
};

/* A temporary directory with a token file, and the last load's messages. */
struct env {
	char	 dir[256];
	char	 conf[PATH_MAX];
	char	*errs;
	size_t	 errslen;
};

static int
setup(void **state)
{
	struct env	*e;
	char		 tmpl[] = "/tmp/test_rules.XXXXXX";
	FILE		*fp;
	char		 path[PATH_MAX];

	e = calloc(1, sizeof(*e));
	assert_non_null(e);
	assert_non_null(mkdtemp(tmpl));
	strcpy(e->dir, tmpl);
	snprintf(e->conf, sizeof e->conf, "%s/usagehookd.yaml", e->dir);
	snprintf(path, sizeof path, "%s/token", e->dir);
	assert_non_null(fp = fopen(path, "w"));
	fputs("0123456789abcdef0123456789abcdef\n", fp);
	assert_int_equal(fclose(fp), 0);
	/* Token files readable by others are refused. */
	assert_int_equal(chmod(path, 0600), 0);
	*state = e;
	return 0;
}

/* nftw callback: remove whatever it is, children first. */
static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
teardown(void **state)
{
	struct env	*e = *state;

	nftw(e->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(e->errs);
	free(e);
	return 0;
}

/* Write HEADER + rules as the config file and load it; it must load. */
static struct config *
load_rules(struct env *e, const char *rules)
{
	struct config	*conf;
	FILE		*fp, *errs;

	assert_non_null(fp = fopen(e->conf, "w"));
	fputs(HEADER, fp);
	fputs(rules, fp);
	assert_int_equal(fclose(fp), 0);
	free(e->errs);
	e->errs = NULL;
	assert_non_null(errs = open_memstream(&e->errs, &e->errslen));
	conf = config_load(e->conf, errs);
	assert_int_equal(fclose(errs), 0);
	if (conf == NULL)
		fail_msg("config refused:\n%s", e->errs);
	return conf;
}

/* Callback parameters from "Name=value" strings, NULL-terminated. */
static void
make_params(struct params *p, const char *const *pairs)
{
	const char	*eq;

	memset(p, 0, sizeof(*p));
	for (; *pairs != NULL; pairs++) {
		eq = strchr(*pairs, '=');
		assert_non_null(eq);
		assert_int_equal(params_add(p, *pairs, (size_t)(eq - *pairs),
		    eq + 1, strlen(eq + 1)), 0);
	}
}

/* The names of the rules that apply to these parameters, space-separated. */
static char *
matching(const struct config *conf, const char *const *pairs)
{
	const struct rule	*out[16];
	struct params		 p;
	size_t			 n, i;
	char			*names = NULL;
	size_t			 len = 0;
	FILE			*fp;

	make_params(&p, pairs);
	n = rules_match(conf, &p, out, 16);
	params_free(&p);
	assert_non_null(fp = open_memstream(&names, &len));
	for (i = 0; i < n; i++)
		fprintf(fp, "%s%s", i ? " " : "", out[i]->name);
	assert_int_equal(fclose(fp), 0);
	return names;
}

static void
test_match_values_table(void **state)
{
	struct env			*e = *state;
	const struct match_case		*c;
	struct config			*conf;
	struct params			 p;
	char				*rules = NULL, *pair = NULL;
	const char			*pairs[2];
	size_t				 len = 0, i, n;
	FILE				*fp;
	int				 got;

	n = sizeof match_cases / sizeof match_cases[0];
	assert_non_null(fp = open_memstream(&rules, &len));
	for (i = 0; i < n; i++)
		fprintf(fp, "  - name: case%zu\n"
		    "    match:\n"
		    "      %s: %s\n"
		    "    actions: [{log: \"case %zu\"}]\n",
		    i, match_cases[i].param, match_cases[i].yaml, i);
	assert_int_equal(fclose(fp), 0);
	conf = load_rules(e, rules);
	free(rules);
	assert_int_equal(conf->nrules, n);
	for (i = 0; i < n; i++) {
		c = &match_cases[i];
		pairs[0] = NULL;
		pairs[1] = NULL;
		if (c->value != NULL) {
			assert_true(asprintf(&pair, "%s=%s", c->param,
			    c->value) != -1);
			pairs[0] = pair;
		}
		make_params(&p, pairs);
		got = rule_matches(&conf->rules[i], &p);
		params_free(&p);
		free(pair);
		pair = NULL;
		if (got != c->matches)
			fail_msg("case %zu: %s=%s%s%s against %s: got %s, want "
			    "%s", i, c->param, c->value ? "'" : "",
			    c->value ? c->value : "(absent)",
			    c->value ? "'" : "", c->yaml,
			    got ? "match" : "no match",
			    c->matches ? "match" : "no match");
	}
	config_free(conf);
}

static void
test_every_match_key_must_hold(void **state)
{
	struct config	*conf;
	char		*got;
	static const char *const both[] = { "UsageCategory=sms",
	    "CurrentValue=150", NULL };
	static const char *const low[] = { "UsageCategory=sms",
	    "CurrentValue=50", NULL };
	static const char *const other[] = { "UsageCategory=mms",
	    "CurrentValue=150", NULL };

	conf = load_rules(*state,
	    "  - name: sms-spend\n"
	    "    match: { UsageCategory: sms, CurrentValue: \">= 100\" }\n"
	    "    actions: [{log: x}]\n");
	assert_string_equal(got = matching(conf, both), "sms-spend");
	free(got);
	assert_string_equal(got = matching(conf, low), "");
	free(got);
	assert_string_equal(got = matching(conf, other), "");
	free(got);
	config_free(conf);
}

static void
test_first_matching_rule_stops_unless_continue(void **state)
{
	struct env	*e = *state;
	struct config	*conf;
	char		*got;
	static const char *const sms[] = { "UsageCategory=sms", NULL };
	static const char *const calls[] = { "UsageCategory=calls", NULL };

	conf = load_rules(e,
	    "  - name: first\n"
	    "    match: { UsageCategory: sms }\n"
	    "    actions: [{log: x}]\n"
	    "  - name: second\n"
	    "    match: { UsageCategory: sms }\n"
	    "    actions: [{log: x}]\n"
	    "  - name: catch-all\n"
	    "    actions: [{log: x}]\n");
	assert_string_equal(got = matching(conf, sms), "first");
	free(got);
	config_free(conf);

	conf = load_rules(e,
	    "  - name: first\n"
	    "    match: { UsageCategory: sms }\n"
	    "    actions: [{log: x}]\n"
	    "    continue: true\n"
	    "  - name: second\n"
	    "    match: { UsageCategory: sms }\n"
	    "    actions: [{log: x}]\n"
	    "  - name: catch-all\n"
	    "    actions: [{log: x}]\n");
	assert_string_equal(got = matching(conf, sms), "first second");
	free(got);
	/* A rule that continues but does not match lets the next one try. */
	assert_string_equal(got = matching(conf, calls), "catch-all");
	free(got);
	config_free(conf);

	conf = load_rules(e,
	    "  - name: audit\n"
	    "    actions: [{log: x}]\n"
	    "    continue: true\n"
	    "  - name: sms\n"
	    "    match: { UsageCategory: sms }\n"
	    "    actions: [{log: x}]\n"
	    "    continue: true\n"
	    "  - name: last\n"
	    "    match: { UsageCategory: [sms, calls] }\n"
	    "    actions: [{log: x}]\n");
	assert_string_equal(got = matching(conf, sms), "audit sms last");
	free(got);
	assert_string_equal(got = matching(conf, calls), "audit last");
	free(got);
	config_free(conf);
}

static void
test_rule_without_match_keys_matches_every_callback(void **state)
{
	struct config	*conf;
	struct params	 p;
	static const char *const none[] = { NULL };
	static const char *const some[] = { "UsageCategory=anything",
	    "Recurring=daily", NULL };

	conf = load_rules(*state,
	    "  - name: everything\n"
	    "    actions: [{log: x}]\n"
	    "  - name: empty-match\n"
	    "    match: {}\n"
	    "    actions: [{log: x}]\n");
	make_params(&p, none);
	assert_true(rule_matches(&conf->rules[0], &p));
	assert_true(rule_matches(&conf->rules[1], &p));
	params_free(&p);
	make_params(&p, some);
	assert_true(rule_matches(&conf->rules[0], &p));
	assert_true(rule_matches(&conf->rules[1], &p));
	params_free(&p);
	config_free(conf);
}

static void
test_rules_match_fills_at_most_max(void **state)
{
	const struct rule	*out[2] = { NULL, NULL };
	struct config		*conf;
	struct params		 p;
	static const char *const none[] = { NULL };

	conf = load_rules(*state,
	    "  - {name: a, actions: [{log: x}], continue: true}\n"
	    "  - {name: b, actions: [{log: x}], continue: true}\n"
	    "  - {name: c, actions: [{log: x}], continue: true}\n");
	make_params(&p, none);
	assert_int_equal(rules_match(conf, &p, out, 2), 2);
	assert_string_equal(out[0]->name, "a");
	assert_string_equal(out[1]->name, "b");
	assert_int_equal(rules_match(conf, &p, out, 0), 0);
	params_free(&p);
	config_free(conf);
}

static void
test_match_holds_never_for_null_value(void **state)
{
	struct match_value	mv = { MATCH_GLOB, "*", CMP_EQ, 0 };
	struct match		m = { "DateFired", &mv, 1 };

	assert_true(match_holds(&m, ""));
	assert_false(match_holds(&m, NULL));
	m.nvalues = 0;
	assert_false(match_holds(&m, "x"));
}

static void
test_category_known_and_suggest_table(void **state)
{
	static const struct {
		const char	*in;
		int		 known;
		const char	*suggest;
	} cases[] = {
		{ "sms",			1, "sms" },
		{ "calls",			1, "calls" },
		{ "a2p-registration-fees",	1, "a2p-registration-fees" },
		{ "wireless-usage-voice",	1, "wireless-usage-voice" },
		{ "totalprice",			1, "totalprice" },
		/* Twilio spells it this way. */
		{ "call-progess-events",	1, "call-progess-events" },
		{ "call-progress-events",	0, "call-progess-events" },
		{ "smss",			0, "sms" },
		{ "SMS",			0, "sms" },
		{ "sms-outbond",		0, "sms-outbound" },
		{ "callz",			0, "calls" },
		{ "total-price",		0, "totalprice" },
		{ "sms*",			0, "sms" },
		{ "",				0, NULL },
		{ "zzzzzzzz",			0, NULL },
		{ "completely-unrelated-words",	0, NULL },
	};
	const char	*got;
	size_t		 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (category_known(cases[i].in) != cases[i].known)
			fail_msg("category_known(\"%s\") should be %d",
			    cases[i].in, cases[i].known);
		got = category_suggest(cases[i].in);
		if (cases[i].suggest == NULL ? got != NULL :
		    got == NULL || strcmp(got, cases[i].suggest) != 0)
			fail_msg("category_suggest(\"%s\") = %s, want %s",
			    cases[i].in, got ? got : "NULL",
			    cases[i].suggest ? cases[i].suggest : "NULL");
	}
}

static void
test_every_category_in_the_data_file_is_known(void **state)
{
	const char	*srcdir;
	char		 path[PATH_MAX], line[256];
	FILE		*fp;
	size_t		 n = 0, len;

	if ((srcdir = getenv("srcdir")) == NULL)
		srcdir = ".";
	snprintf(path, sizeof path, "%s/src/categories.txt", srcdir);
	if ((fp = fopen(path, "r")) == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof line, fp) != NULL) {
		len = strlen(line);
		assert_true(len > 1 && line[len - 1] == '\n');
		line[len - 1] = '\0';
		if (!category_known(line))
			fail_msg("%s is in categories.txt but not compiled in "
			    "(run tools/gen-categories)", line);
		n++;
	}
	fclose(fp);
	assert_true(n >= 200);
}


#define SID_SUB	"ACfeed0000000000000000000000000001"
#define SID_X	"AC9999999999999999999999999999999a"

/* Load text as the whole file; return what it printed (refused or not). */
static const char *
load_text(struct env *e, const char *text, int want_ok)
{
	struct config	*conf;
	FILE		*fp, *errs;
	char		*p, *q;
	size_t		 dlen;

	assert_non_null(fp = fopen(e->conf, "w"));
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	free(e->errs);
	e->errs = NULL;
	assert_non_null(errs = open_memstream(&e->errs, &e->errslen));
	conf = config_load(e->conf, errs);
	assert_int_equal(fclose(errs), 0);
	if (want_ok && conf == NULL)
		fail_msg("config refused:\n%s", e->errs);
	if (!want_ok && conf != NULL)
		fail_msg("config accepted, with:\n%s", e->errs);
	config_free(conf);
	/* "line:col: message" lines, without the file name. */
	dlen = strlen(e->conf) + 1;
	for (p = q = e->errs; *p != '\0';) {
		if (strncmp(p, e->conf, dlen - 1) == 0 && p[dlen - 1] == ':')
			p += dlen;
		while (*p != '\0' && *p != '\n')
			*q++ = *p++;
		if (*p == '\n')
			*q++ = *p++;
	}
	*q = '\0';
	return e->errs;
}

#define ACCOUNTS2 \
	"database: db\n" \
	"accounts:\n" \
	"  - sid: " SID_A "\n" \
	"    auth_token_file: token\n" \
	"  - sid: " SID_SUB "\n" \
	"    auth_token_file: token\n" \
	"    parent: " SID_A "\n"

static void
test_breaker_config_loads(void **state)
{
	struct env	*e = *state;

	load_text(e, ACCOUNTS2
	    "rules:\n"
	    "  - name: breaker\n"
	    "    match: { AccountSid: " SID_SUB ", CurrentValue: \">= 500\" }\n"
	    "    actions:\n"
	    "      - twilio: suspend\n"
	    "        end_calls: true\n"
	    "      - twilio: activate\n"
	    "        account: \"" SID_SUB "\"\n"
	    "        end_calls: false\n"
	    "      - http: https://hooks.example.com/x\n"
	    "        body: '{\"text\": \"{AccountSid} {UsageCategory}\"}'\n"
	    "      - http: https://hooks.example.com/y\n"
	    "        content_type: text/plain\n"
	    "        body: 'spent {CurrentValue}'\n", 1);
}

static void
test_parent_errors_name_line_and_column(void **state)
{
	struct env	*e = *state;
	const char	*got;

	got = load_text(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: token\n"
	    "    parent: " SID_A "\n"
	    "  - sid: " SID_SUB "\n"
	    "    auth_token_file: token\n"
	    "    parent: " SID_X "\n"
	    "  - sid: " SID_X "\n"
	    "    auth_token_file: token\n"
	    "    parent: " SID_SUB "\n"
	    "  - sid: AC00000000000000000000000000000001\n"
	    "    auth_token_file: token\n"
	    "    parent: nope\n", 0);
	assert_string_equal(got,
	    "14:13: parent: 'nope' is not an AccountSid (AC followed by 32 "
	    "hex digits)\n"
	    "5:13: parent: account " SID_A " cannot be its own parent\n"
	    "8:13: parent: accounts[1] (" SID_SUB ") is in a cycle of "
	    "parents\n"
	    "11:13: parent: accounts[2] (" SID_X ") is in a cycle of "
	    "parents\n");
	got = load_text(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: " SID_SUB "\n"
	    "    auth_token_file: token\n"
	    "    parent: " SID_X "\n", 0);
	assert_string_equal(got,
	    "5:13: parent: " SID_X " is not one of accounts (the parent's "
	    "credentials manage the subaccount, so list the parent too)\n");
}

/* A twilio action must not be able to reach an account with no parent. */
static void
test_twilio_action_reaching_a_top_account_is_an_error(void **state)
{
	struct env	*e = *state;
	const char	*got;

	got = load_text(e, ACCOUNTS2
	    "rules:\n"
	    "  - name: any-account\n"
	    "    actions: [{twilio: suspend}]\n"
	    "  - name: the-parent\n"
	    "    match: { AccountSid: [" SID_SUB ", " SID_A "] }\n"
	    "    actions: [{twilio: suspend}]\n"
	    "  - name: literal\n"
	    "    actions:\n"
	    "      - twilio: activate\n"
	    "        account: " SID_A "\n"
	    "  - name: bad\n"
	    "    actions:\n"
	    "      - twilio: pause\n"
	    "        account: \"{UsageCategory}\"\n"
	    "        end_calls: maybe\n"
	    "      - twilio: activate\n"
	    "        account: " SID_SUB "\n"
	    "        end_calls: true\n", 0);
	assert_string_equal(got,
	    "20:17: twilio: 'pause' is not suspend or activate\n"
	    "21:18: account: '{UsageCategory}' is not \"{AccountSid}\" (the "
	    "callback's account) or an AccountSid\n"
	    "22:20: end_calls: expected true or false, got 'maybe'\n"
	    "25:9: end_calls: only with twilio: suspend (an active account's "
	    "calls are its business)\n"
	    "10:16: twilio: rule any-account can fire for account " SID_A
	    ", which has no parent: match AccountSid to the subaccounts it "
	    "may act on, or name one in account:\n"
	    "13:16: twilio: rule the-parent matches AccountSid " SID_A ", "
	    "which has no parent (a twilio action acts only on a subaccount, "
	    "with its parent's credentials)\n"
	    "17:18: account: " SID_A " has no parent (a twilio action acts "
	    "only on a subaccount, with its parent's credentials)\n");
}

static void
test_body_must_stay_json_and_content_type_known(void **state)
{
	struct env	*e = *state;
	const char	*got;

	got = load_text(e, HEADER
	    "  - name: slack\n"
	    "    actions:\n"
	    "      - http: https://hooks.example.com/x\n"
	    "        body: '{\"value\": {CurrentValue}}'\n"
	    "      - http: https://hooks.example.com/x\n"
	    "        body: '{\"text\": \"{CurrentValue}\"'\n"
	    "      - http: https://hooks.example.com/x\n"
	    "        content_type: application/xml\n"
	    "        body: '<x>{CurrentValue}</x>'\n"
	    "      - http: https://hooks.example.com/x\n"
	    "        body: '{\"text\": \"{CurentValue}\"}'\n"
	    "      - http: { file: missing-url }\n"
	    "      - log: x\n"
	    "        body: y\n", 0);
	if (strstr(got, "7:15: body: not valid JSON once its placeholders "
	    "are filled (") == NULL ||
	    strstr(got, "9:15: body: not valid JSON") == NULL ||
	    strstr(got, "11:23: content_type: 'application/xml': "
	    "usagehookd knows how to escape values for application/json") ==
	    NULL ||
	    strstr(got, "12:15: body") != NULL ||
	    strstr(got, "14:15: body: '{CurentValue}' is not a callback "
	    "parameter; did you mean '{CurrentValue}'?") == NULL ||
	    strstr(got, "15:23: http file ") == NULL ||
	    strstr(got, "17:9: body: not valid for log actions (only for "
	    "http)") == NULL)
		fail_msg("unexpected messages:\n%s", got);
}

/* A body template is bounded: 16 KiB. */
static void
test_body_template_over_16k_is_refused(void **state)
{
	struct env	*e = *state;
	const char	*got;
	char		*text, *big;
	size_t		 n = 16385;

	assert_non_null(big = malloc(n + 1));
	memset(big, 'a', n);
	big[n] = '\0';
	assert_true(asprintf(&text, HEADER
	    "  - name: r\n"
	    "    actions:\n"
	    "      - http: https://hooks.example.com/x\n"
	    "        content_type: text/plain\n"
	    "        body: %s\n", big) > 0);
	got = load_text(e, text, 0);
	assert_string_equal(got, "8:15: body: longer than 16384 bytes\n");
	free(text);
	free(big);
}

/* "=> 500" and "500+" would never match: refused, not silently kept. */
static void
test_numeric_match_that_is_no_comparison_is_an_error(void **state)
{
	struct env	*e = *state;
	const char	*got;

	got = load_text(e, HEADER
	    "  - name: r\n"
	    "    match:\n"
	    "      CurrentValue: [\"=> 500\", \"500+\", \"500\", \">= 500\"]\n"
	    "      TriggerValue: \"1*\"\n"
	    "      UsageCategory: \"500+\"\n"
	    "    actions: [{log: x}]\n", 0);
	assert_string_equal(got,
	    "6:22: CurrentValue: '=> 500' is not a number or a comparison (<, "
	    "<=, >, >=, == or != and a number, as in \">= 500\")\n"
	    "6:32: CurrentValue: '500+' is not a number or a comparison (<, "
	    "<=, >, >=, == or != and a number, as in \">= 500\")\n"
	    "8:22: warning: UsageCategory '500+' is not a Twilio usage "
	    "category\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_match_values_table),
		T(test_every_match_key_must_hold),
		T(test_first_matching_rule_stops_unless_continue),
		T(test_rule_without_match_keys_matches_every_callback),
		T(test_rules_match_fills_at_most_max),
		T(test_breaker_config_loads),
		T(test_parent_errors_name_line_and_column),
		T(test_twilio_action_reaching_a_top_account_is_an_error),
		T(test_body_must_stay_json_and_content_type_known),
		T(test_numeric_match_that_is_no_comparison_is_an_error),
		T(test_body_template_over_16k_is_refused),
		cmocka_unit_test(test_match_holds_never_for_null_value),
		cmocka_unit_test(test_category_known_and_suggest_table),
		cmocka_unit_test(test_every_category_in_the_data_file_is_known),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
