/* test_actions.c: the action runner with real children and sockets. */
#include "config-sys.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "actions.h"
#include "callback.h"
#include "json_read.h"

/* Every wait on the loop gives up after this. */
#define WAIT_MS		10000

struct fixture {
	char			 dir[64];
	struct event_base	*base;
	struct event		*tick;
	struct actions		*actions;
	struct params		 params;
	int			 fds;		/* open before the test */
	int			 saved_stderr;
};

/* What done reported. */
struct result {
	int	 calls;
	int	 ok;
	int	 reentrant;	/* called from inside actions_run */
	char	 error[512];
};

static int	 in_run;

static char	*slurp(const char *, size_t *);
static int64_t	 now_ms(void);

static void
on_done(int ok, const char *error, void *arg)
{
	struct result	*res = arg;

	res->calls++;
	res->ok = ok;
	res->reentrant |= in_run;
	snprintf(res->error, sizeof res->error, "%s", error ? error : "");
}

static void
tick_cb(evutil_socket_t fd, short events, void *arg)
{
}

static int
count_fds(void)
{
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* 1 once pid is gone (or a zombie nobody reaped yet: killed all the same). */
static int
process_gone(pid_t pid)
{
	char	 path[64], *stat, *close;
	int	 gone;

	if (kill(pid, 0) == -1)
		return errno == ESRCH;
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((stat = slurp(path, NULL)) == NULL)
		return 1;
	close = strrchr(stat, ')');
	gone = close != NULL && close[1] == ' ' && close[2] == 'Z';
	free(stat);
	return gone;
}

/* Wait up to ms for pid to go. */
static int
wait_gone(pid_t pid, int ms)
{
	int64_t	end = now_ms() + ms;

	while (!process_gone(pid) && now_ms() < end)
		usleep(10000);
	return process_gone(pid);
}

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
add(struct params *p, const char *name, const char *value)
{
	assert_int_equal(params_add(p, name, strlen(name), value,
	    strlen(value)), 0);
}

/* A UsageTrigger callback as Twilio sends it. */
static void
usage_params(struct params *p)
{
	add(p, "AccountSid", "AC0123456789abcdef0123456789abcdef");
	add(p, "UsageTriggerSid", "UT0123456789abcdef0123456789abcdef");
	add(p, "IdempotencyToken", "UT0123456789abcdef-1700000000");
	add(p, "DateFired", "Mon, 20 Nov 2023 10:00:00 +0000");
	add(p, "Recurring", "daily");
	add(p, "UsageCategory", "sms");
	add(p, "TriggerBy", "price");
	add(p, "TriggerValue", "100");
	add(p, "CurrentValue", "100.25");
	add(p, "UsageRecordUri", "/2010-04-01/Accounts/AC01/Usage/Records");
}

static int
setup(void **state)
{
	struct fixture	*fx;
	struct timeval	 tv = { 0, 20 * 1000 };

	fx = calloc(1, sizeof *fx);
	assert_non_null(fx);
	fx->fds = count_fds();
	fx->saved_stderr = -1;
	snprintf(fx->dir, sizeof fx->dir, "/tmp/test_actions.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	assert_non_null(fx->base = event_base_new());
	/* Wake the loop often, so waits can look at the clock. */
	fx->tick = event_new(fx->base, -1, EV_PERSIST, tick_cb, NULL);
	assert_int_equal(event_add(fx->tick, &tv), 0);
	assert_non_null(fx->actions = actions_new(fx->base));
	usage_params(&fx->params);
	*state = fx;
	return 0;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	return remove(path);
}

static int
teardown(void **state)
{
	struct fixture	*fx = *state;

	actions_free(fx->actions);
	event_free(fx->tick);
	event_base_free(fx->base);
	params_free(&fx->params);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	/* Every pipe, socket and file of the test was closed. */
	assert_int_equal(count_fds(), fx->fds);
	free(fx);
	return 0;
}

/* Run act and wait for done; the result must come exactly once. */
static void
run_action(struct fixture *fx, const struct action *act,
    const struct job_info *ji, struct result *res)
{
	const char	*err = NULL;
	int64_t		 end = now_ms() + WAIT_MS;
	int		 rc;

	memset(res, 0, sizeof *res);
	in_run = 1;
	rc = actions_run(fx->actions, act, &fx->params, ji, on_done, res,
	    &err);
	in_run = 0;
	if (rc == -1)
		fail_msg("actions_run: %s", err);
	assert_int_equal(actions_running(fx->actions), 1);
	while (res->calls == 0 && now_ms() < end)
		event_base_loop(fx->base, EVLOOP_ONCE);
	assert_int_equal(res->calls, 1);
	assert_false(res->reentrant);
	assert_int_equal(actions_running(fx->actions), 0);
}

/* Loop a little longer, for what should not happen (a second done). */
static void
spin(struct fixture *fx, int ms)
{
	int64_t	end = now_ms() + ms;

	while (now_ms() < end)
		event_base_loop(fx->base, EVLOOP_ONCE);
}

/* The whole file, allocated and NUL-terminated; NULL if missing. */
static char *
slurp(const char *path, size_t *lenp)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0, n;
	char	 chunk[4096];

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		buf = realloc(buf, len + n + 1);
		assert_non_null(buf);
		memcpy(buf + len, chunk, n);
		len += n;
	}
	fclose(f);
	if (buf == NULL)
		buf = calloc(1, 1);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

static char *
slurp_in(struct fixture *fx, const char *name)
{
	char	path[PATH_MAX + 64];

	snprintf(path, sizeof path, "%s/%s", fx->dir, name);
	return slurp(path, NULL);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE	*f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

/* Send the log (our stderr) to a file in the test directory. */
static void
capture_start(struct fixture *fx)
{
	char	path[PATH_MAX + 16];
	int	fd;

	snprintf(path, sizeof path, "%s/log", fx->dir);
	fflush(stderr);
	fx->saved_stderr = dup(2);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fx->saved_stderr != -1 && fd != -1);
	dup2(fd, 2);
	close(fd);
}

/* Stop capturing; the log written meanwhile, allocated. */
static char *
capture_stop(struct fixture *fx)
{
	fflush(stderr);
	dup2(fx->saved_stderr, 2);
	close(fx->saved_stderr);
	fx->saved_stderr = -1;
	return slurp_in(fx, "log");
}

/* A minimal JSON checker: is s[*i..] one value? */
static int
json_value(const char *s, size_t *i);

static void
json_ws(const char *s, size_t *i)
{
	while (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\n' ||
	    s[*i] == '\r')
		(*i)++;
}

static int
json_string(const char *s, size_t *i)
{
	if (s[(*i)++] != '"')
		return 0;
	while (s[*i] != '"') {
		if ((unsigned char)s[*i] < 0x20)
			return 0;
		if (s[*i] == '\\') {
			(*i)++;
			if (s[*i] == 'u') {
				for (int k = 1; k <= 4; k++)
					if (s[*i + k] == '\0' || strchr(
					    "0123456789abcdefABCDEF",
					    s[*i + k]) == NULL)
						return 0;
				*i += 4;
			} else if (strchr("\"\\/bfnrt", s[*i]) == NULL ||
			    s[*i] == '\0')
				return 0;
		}
		(*i)++;
	}
	(*i)++;
	return 1;
}

static int
json_value(const char *s, size_t *i)
{
	json_ws(s, i);
	if (s[*i] == '"')
		return json_string(s, i);
	if (s[*i] == '{' || s[*i] == '[') {
		char close = s[*i] == '{' ? '}' : ']';

		(*i)++;
		json_ws(s, i);
		if (s[*i] == close) {
			(*i)++;
			return 1;
		}
		for (;;) {
			if (close == '}') {
				json_ws(s, i);
				if (!json_string(s, i))
					return 0;
				json_ws(s, i);
				if (s[(*i)++] != ':')
					return 0;
			}
			if (!json_value(s, i))
				return 0;
			json_ws(s, i);
			if (s[*i] == ',') {
				(*i)++;
				continue;
			}
			if (s[*i] != close)
				return 0;
			(*i)++;
			return 1;
		}
	}
	if (s[*i] == '-' || (s[*i] >= '0' && s[*i] <= '9')) {
		size_t start = *i;

		if (s[*i] == '-')
			(*i)++;
		while ((s[*i] >= '0' && s[*i] <= '9') || s[*i] == '.' ||
		    s[*i] == 'e' || s[*i] == 'E' || s[*i] == '+' ||
		    s[*i] == '-')
			(*i)++;
		return *i > start;
	}
	if (strncmp(s + *i, "true", 4) == 0 ||
	    strncmp(s + *i, "null", 4) == 0) {
		*i += 4;
		return 1;
	}
	if (strncmp(s + *i, "false", 5) == 0) {
		*i += 5;
		return 1;
	}
	return 0;
}

/* 1 if s is exactly one JSON object. */
static int
json_valid_object(const char *s)
{
	size_t	i = 0;

	json_ws(s, &i);
	if (s[i] != '{' || !json_value(s, &i))
		return 0;
	json_ws(s, &i);
	return s[i] == '\0';
}

/* template_expand */

static void
test_template_expand_table(void **state)
{
	struct fixture	*fx = *state;
	static const struct {
		const char	*tmpl;
		const char	*want;
	} cases[] = {
		{ "", "" },
		{ "plain", "plain" },
		{ "{UsageCategory}", "sms" },
		{ "spent {CurrentValue} of {TriggerValue}!",
		    "spent 100.25 of 100!" },
		{ "{Missing}", "" },
		{ "a{Missing}b", "ab" },
		{ "{{UsageCategory}", "{UsageCategory}" },
		{ "{{", "{" },
		{ "{", "{" },
		{ "x{", "x{" },
		{ "{UsageCategory", "{UsageCategory" },
		{ "{}", "{}" },
		{ "{\"a\": 1}", "{\"a\": 1}" },
		{ "{Usage Category}", "{Usage Category}" },
		{ "}{Recurring}}", "}daily}" },
		{ "{Recurring}{Recurring}", "dailydaily" },
	};
	size_t	i;
	char	*got;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		got = template_expand(cases[i].tmpl, &fx->params);
		assert_non_null(got);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("template '%s': got '%s', want '%s'",
			    cases[i].tmpl, got, cases[i].want);
		free(got);
	}
}


/* body templates */

static void
test_body_escape_for_table(void **state)
{
	static const struct {
		const char	*ct;
		int		 rc;
		enum body_escape want;
	} cases[] = {
		{ "application/json",			0, ESCAPE_JSON },
		{ "application/json; charset=utf-8",	0, ESCAPE_JSON },
		{ "Application/JSON",			0, ESCAPE_JSON },
		{ "application/vnd.api+json",		0, ESCAPE_JSON },
		{ "application/x-www-form-urlencoded",	0, ESCAPE_FORM },
		{ "text/plain",				0, ESCAPE_NONE },
		{ "text/plain; charset=utf-8",		0, ESCAPE_NONE },
		{ "application/xml",			-1, ESCAPE_JSON },
		{ "json",				-1, ESCAPE_JSON },
		{ "",					-1, ESCAPE_JSON },
		{ "text /plain",			-1, ESCAPE_JSON },
	};
	enum body_escape	 got;
	size_t			 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		got = ESCAPE_JSON;
		if (body_escape_for(cases[i].ct, &got) != cases[i].rc ||
		    (cases[i].rc == 0 && got != cases[i].want))
			fail_msg("content type '%s': wrong answer", cases[i].ct);
	}
}

/* A value no JSON string survives unescaped stays one JSON string. */
static void
test_json_body_survives_hostile_values(void **state)
{
	struct fixture	*fx = *state;
	struct params	 p = { NULL, 0, 0, NULL };
	static const char *const hostile[] = {
		"quote \" backslash \\ newline\n tab\t caf\xc3\xa9 \xf0\x9f\x94\xa5",
		"\"}, \"injected\": true, \"x\": {\"",
		"\\",
		"\x01\x1f\x7f",
		"{UsageCategory} {{ }",
	};
	struct jv	*doc;
	const char	*text;
	char		*body, *err = NULL;
	size_t		 i;

	(void)fx;
	for (i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
		memset(&p, 0, sizeof p);
		add(&p, "UsageCategory", hostile[i]);
		body = body_expand("{\"text\": \"spent on {UsageCategory}!\", "
		    "\"n\": 1}", &p, ESCAPE_JSON);
		assert_non_null(body);
		if ((doc = jv_parse(body, strlen(body), &err)) == NULL)
			fail_msg("value %zu: not JSON: %s: %s", i, err, body);
		assert_non_null(text = jv_str(doc, "text"));
		assert_int_equal(strncmp(text, "spent on ", 9), 0);
		assert_int_equal(strncmp(text + 9, hostile[i],
		    strlen(hostile[i])), 0);
		assert_string_equal(text + 9 + strlen(hostile[i]), "!");
		/* Nothing the value said became a member. */
		assert_null(jv_get(doc, "injected"));
		assert_int_equal(doc->nkids, 2);
		jv_free(doc);
		free(body);
		params_free(&p);
	}
	/* Broken UTF-8 cannot break it either: U+FFFD. */
	memset(&p, 0, sizeof p);
	add(&p, "UsageCategory", "a\xff\xc3" "b");
	body = body_expand("[\"{UsageCategory}\"]", &p, ESCAPE_JSON);
	assert_string_equal(body, "[\"a\\ufffd\\ufffdb\"]");
	free(body);
	params_free(&p);
}

static void
test_form_and_text_bodies(void **state)
{
	struct params	 p = { NULL, 0, 0, NULL };
	char		*body;

	add(&p, "UsageCategory", "sms & mms=1 caf\xc3\xa9");
	body = body_expand("c={UsageCategory}&x=1", &p, ESCAPE_FORM);
	assert_string_equal(body, "c=sms%20%26%20mms%3D1%20caf%C3%A9&x=1");
	free(body);
	body = body_expand("c={UsageCategory}\n", &p, ESCAPE_NONE);
	assert_string_equal(body, "c=sms & mms=1 caf\xc3\xa9\n");
	free(body);
	params_free(&p);
}

static void
test_url_shown_hides_query_and_userinfo(void **state)
{
	static const struct {
		const char	*url;
		const char	*want;
	} cases[] = {
		{ "https://ops.example.com/hooks/usage",
		    "https://ops.example.com/hooks/usage" },
		{ "https://hooks.slack.com/services/T0/B0/X?token=abc",
		    "https://hooks.slack.com/\xe2\x80\xa6" },
		{ "https://user:pw@h.example:8443/p",
		    "https://h.example:8443/\xe2\x80\xa6" },
		{ "http://[::1]:80/?a", "http://[::1]:80/\xe2\x80\xa6" },
	};
	size_t	 i;
	char	*got;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		got = url_shown(cases[i].url);
		assert_non_null(got);
		assert_string_equal(got, cases[i].want);
		free(got);
	}
}

/* params_json */

static void
test_params_json_escapes_table(void **state)
{
	static const struct {
		const char	*value;
		const char	*want;
	} cases[] = {
		{ "", "{\"V\":\"\"}" },
		{ "plain", "{\"V\":\"plain\"}" },
		{ "say \"hi\"", "{\"V\":\"say \\\"hi\\\"\"}" },
		{ "back\\slash", "{\"V\":\"back\\\\slash\"}" },
		{ "a\nb\tc\rd", "{\"V\":\"a\\u000ab\\u0009c\\u000dd\"}" },
		{ "\x01\x1f\x7f", "{\"V\":\"\\u0001\\u001f\\u007f\"}" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9e",
		    "{\"V\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9e\"}" },
		/* a lone continuation byte, a cut sequence, an invalid lead */
		{ "a\x80z", "{\"V\":\"a\\ufffdz\"}" },
		{ "\xe2\x82", "{\"V\":\"\\ufffd\\ufffd\"}" },
		{ "\xff", "{\"V\":\"\\ufffd\"}" },
		/* overlong "/" and a UTF-16 surrogate are not UTF-8 */
		{ "\xc0\xaf", "{\"V\":\"\\ufffd\\ufffd\"}" },
		{ "\xed\xa0\x80", "{\"V\":\"\\ufffd\\ufffd\\ufffd\"}" },
		{ "\xf4\x90\x80\x80",
		    "{\"V\":\"\\ufffd\\ufffd\\ufffd\\ufffd\"}" },
		{ "</script>", "{\"V\":\"</script>\"}" },
	};
	struct params	 p = { NULL, 0, 0, NULL };
	size_t		 i;
	char		*got;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		add(&p, "V", cases[i].value);
		got = params_json(&p, NULL);
		assert_non_null(got);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: got %s, want %s", i, got,
			    cases[i].want);
		assert_true(json_valid_object(got));
		free(got);
		params_free(&p);
	}
}

static void
test_params_json_has_job_member_and_first_of_each_name(void **state)
{
	struct fixture		*fx = *state;
	struct params		 p = { NULL, 0, 0, NULL };
	struct job_info		 ji = { 42, "page \"oncall\"", 3, NULL, 0, 0, NULL };
	char			*got;

	add(&p, "AccountSid", "AC1");
	add(&p, "AccountSid", "AC2");
	add(&p, "usagehook", "spoofed");
	add(&p, "Weird Name", "x");
	got = params_json(&p, &ji);
	assert_string_equal(got, "{\"AccountSid\":\"AC1\",\"Weird Name\":"
	    "\"x\",\"usagehook\":{\"job\":42,\"rule\":\"page \\\"oncall\\\"\","
	    "\"attempt\":3}}");
	free(got);
	got = params_json(&p, NULL);
	assert_string_equal(got, "{\"AccountSid\":\"AC1\",\"usagehook\":"
	    "\"spoofed\",\"Weird Name\":\"x\"}");
	free(got);
	params_free(&p);

	got = params_json(&p, NULL);
	assert_string_equal(got, "{}");
	free(got);
	got = params_json(&fx->params, &ji);
	assert_true(json_valid_object(got));
	assert_non_null(strstr(got, "\"IdempotencyToken\":"
	    "\"UT0123456789abcdef-1700000000\""));
	free(got);
	/* The callback's row, arrival and source, when the job knows them. */
	ji.callback_id = 9001;
	ji.received_at = 1764817200123LL;
	ji.source = "callback";
	got = params_json(&fx->params, &ji);
	assert_true(json_valid_object(got));
	assert_non_null(strstr(got, ",\"usagehook\":{\"job\":42,\"rule\":"
	    "\"page \\\"oncall\\\"\",\"attempt\":3,\"id\":9001,"
	    "\"received_at\":\"2025-12-04T03:00:00.123Z\",\"source\":"
	    "\"callback\"}}"));
	free(got);
}

/* exec */

/* A program recording argv, environment (NUL-separated), stdin, pid. */
static void
make_recorder(struct fixture *fx, char *path, size_t len)
{
	char	 text[PATH_MAX * 4];

	snprintf(path, len, "%s/record.sh", fx->dir);
	snprintf(text, sizeof text,
	    "#!/bin/sh\n"
	    "echo $$ >'%s/pid'\n"
	    "for a in \"$@\"; do printf '%%s\\n' \"$a\"; done >'%s/argv'\n"
	    "env -0 >'%s/env'\n"
	    "cat >'%s/stdin'\n"
	    "echo recorded\n",
	    fx->dir, fx->dir, fx->dir, fx->dir);
	write_file(path, text, 0755);
}

/* The value of name in a NUL-separated environment dump, or NULL. */
static const char *
env_get(const char *env, size_t len, const char *name)
{
	const char	*e;
	size_t		 n = strlen(name);

	for (e = env; e < env + len; e += strlen(e) + 1)
		if (strncmp(e, name, n) == 0 && e[n] == '=')
			return e + n + 1;
	return NULL;
}

static void
test_exec_gets_clean_env_argv_and_stdin(void **state)
{
	struct fixture	*fx = *state;
	struct action	 act;
	struct job_info	 ji = { 17, "sms-spend", 2, NULL, 0, 0, NULL };
	struct result	 res;
	char		 prog[PATH_MAX + 16], path[PATH_MAX + 16];
	char		*argv[5], *env, *s, *json;
	size_t		 len;
	const char	*e;
	static const char *const allowed[] = {
		"PATH", "LANG", "USAGEHOOK_JOB_ID", "USAGEHOOK_RULE",
		"USAGEHOOK_ATTEMPT", "USAGEHOOK_ACCOUNT_SID",
		"USAGEHOOK_USAGE_TRIGGER_SID", "USAGEHOOK_IDEMPOTENCY_TOKEN",
		"USAGEHOOK_DATE_FIRED", "USAGEHOOK_RECURRING",
		"USAGEHOOK_USAGE_CATEGORY", "USAGEHOOK_TRIGGER_BY",
		"USAGEHOOK_TRIGGER_VALUE", "USAGEHOOK_CURRENT_VALUE",
		"USAGEHOOK_USAGE_RECORD_URI", "USAGEHOOK_SMS_COUNT",
		/* what /bin/sh itself exports */
		"PWD", "OLDPWD", "SHLVL", "_",
	};

	setenv("TWILIO_AUTH_TOKEN", "daemon-secret-token", 1);
	add(&fx->params, "SMSCount", "7");
	add(&fx->params, "Bad-Name", "skipped");
	add(&fx->params, "JobId", "cannot override ours");
	make_recorder(fx, prog, sizeof prog);
	argv[0] = "/bin/sh";
	argv[1] = prog;
	argv[2] = "{UsageCategory}";
	argv[3] = "over {TriggerValue} at {{literal}";
	argv[4] = NULL;
	memset(&act, 0, sizeof act);
	act.kind = ACTION_EXEC;
	act.argv = argv;
	act.argc = 4;
	act.timeout_ms = 5000;
	run_action(fx, &act, &ji, &res);
	unsetenv("TWILIO_AUTH_TOKEN");
	assert_true(res.ok);

	s = slurp_in(fx, "argv");
	assert_string_equal(s, "sms\nover 100 at {literal}\n");
	free(s);

	snprintf(path, sizeof path, "%s/env", fx->dir);
	assert_non_null(env = slurp(path, &len));
	assert_null(env_get(env, len, "TWILIO_AUTH_TOKEN"));
	assert_null(env_get(env, len, "HOME"));
	assert_string_equal(env_get(env, len, "PATH"),
	    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	assert_string_equal(env_get(env, len, "LANG"), "C.UTF-8");
	assert_string_equal(env_get(env, len, "USAGEHOOK_JOB_ID"), "17");
	assert_string_equal(env_get(env, len, "USAGEHOOK_RULE"), "sms-spend");
	assert_string_equal(env_get(env, len, "USAGEHOOK_ATTEMPT"), "2");
	assert_string_equal(env_get(env, len, "USAGEHOOK_IDEMPOTENCY_TOKEN"),
	    "UT0123456789abcdef-1700000000");
	assert_string_equal(env_get(env, len, "USAGEHOOK_USAGE_CATEGORY"),
	    "sms");
	assert_string_equal(env_get(env, len, "USAGEHOOK_ACCOUNT_SID"),
	    "AC0123456789abcdef0123456789abcdef");
	assert_string_equal(env_get(env, len, "USAGEHOOK_DATE_FIRED"),
	    "Mon, 20 Nov 2023 10:00:00 +0000");
	assert_string_equal(env_get(env, len, "USAGEHOOK_USAGE_RECORD_URI"),
	    "/2010-04-01/Accounts/AC01/Usage/Records");
	assert_string_equal(env_get(env, len, "USAGEHOOK_SMS_COUNT"), "7");
	/* Nothing else: no daemon variable, no skipped name. */
	for (e = env; e < env + len; e += strlen(e) + 1) {
		size_t	n = strcspn(e, "="), i;

		for (i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
			if (strlen(allowed[i]) == n &&
			    strncmp(e, allowed[i], n) == 0)
				break;
		if (i == sizeof allowed / sizeof allowed[0])
			fail_msg("unexpected variable in the child: %s", e);
	}
	free(env);

	s = slurp_in(fx, "stdin");
	json = params_json(&fx->params, &ji);
	assert_string_equal(s, json);
	assert_true(json_valid_object(s));
	assert_non_null(strstr(s, "\"usagehook\":{\"job\":17,\"rule\":"
	    "\"sms-spend\",\"attempt\":2}"));
	free(s);
	free(json);
}

static void
test_exec_hostile_value_reaches_argv_and_env_verbatim(void **state)
{
	struct fixture	*fx = *state;
	struct action	 act;
	struct job_info	 ji = { 1, "r", 1, NULL, 0, 0, NULL };
	struct result	 res;
	struct stat	 sb;
	char		 prog[PATH_MAX + 16], path[PATH_MAX + 32];
	char		 hostile[PATH_MAX * 4], want[PATH_MAX * 4 + 2];
	char		*argv[4], *env, *s;
	size_t		 len;

	snprintf(hostile, sizeof hostile, "$(touch %s/p1); touch %s/p2 ; "
	    "`touch %s/p3` | touch %s/p4 && echo '\"' > %s/p5",
	    fx->dir, fx->dir, fx->dir, fx->dir, fx->dir);
	params_free(&fx->params);
	add(&fx->params, "UsageCategory", hostile);
	add(&fx->params, "IdempotencyToken", "tok;rm -rf /");
	make_recorder(fx, prog, sizeof prog);
	argv[0] = "/bin/sh";
	argv[1] = prog;
	argv[2] = "{UsageCategory}";
	argv[3] = NULL;
	memset(&act, 0, sizeof act);
	act.kind = ACTION_EXEC;
	act.argv = argv;
	act.argc = 3;
	act.timeout_ms = 5000;
	run_action(fx, &act, &ji, &res);
	assert_true(res.ok);

	s = slurp_in(fx, "argv");
	snprintf(want, sizeof want, "%s\n", hostile);
	assert_string_equal(s, want);
	free(s);
	snprintf(path, sizeof path, "%s/env", fx->dir);
	assert_non_null(env = slurp(path, &len));
	assert_string_equal(env_get(env, len, "USAGEHOOK_USAGE_CATEGORY"),
	    hostile);
	assert_string_equal(env_get(env, len, "USAGEHOOK_IDEMPOTENCY_TOKEN"),
	    "tok;rm -rf /");
	free(env);
	for (int i = 1; i <= 5; i++) {
		snprintf(path, sizeof path, "%s/p%d", fx->dir, i);
		if (stat(path, &sb) == 0)
			fail_msg("%s was created: the value ran", path);
	}
}

/* Run argv (NULL-terminated) with timeout_ms; the result. */
static void
run_argv(struct fixture *fx, char **argv, int timeout_ms, struct result *res)
{
	struct action	act;
	struct job_info	ji = { 9, "rule-x", 1, NULL, 0, 0, NULL };
	size_t		argc = 0;

	while (argv[argc] != NULL)
		argc++;
	memset(&act, 0, sizeof act);
	act.kind = ACTION_EXEC;
	act.argv = argv;
	act.argc = argc;
	act.timeout_ms = timeout_ms;
	run_action(fx, &act, &ji, res);
}

static void
test_exec_nonzero_exit_and_signal_fail(void **state)
{
	struct fixture	*fx = *state;
	struct result	 res;
	char		*exit3[] = { "/bin/sh", "-c", "exit 3", NULL };
	char		*killed[] = { "/bin/sh", "-c", "kill -9 $$", NULL };
	char		*ok[] = { "/bin/true", NULL };

	run_argv(fx, exit3, 5000, &res);
	assert_false(res.ok);
	assert_string_equal(res.error, "exit status 3");
	run_argv(fx, killed, 5000, &res);
	assert_false(res.ok);
	assert_string_equal(res.error, "killed by signal 9 (SIGKILL)");
	run_argv(fx, ok, 5000, &res);
	assert_true(res.ok);
	spin(fx, 100);
	assert_int_equal(res.calls, 1);
}

static void
test_exec_timeout_kills_sleep(void **state)
{
	struct fixture	*fx = *state;
	struct result	 res;
	char		*argv[] = { "/bin/sleep", "30", NULL };
	int64_t		 start = now_ms();

	run_argv(fx, argv, 300, &res);
	assert_false(res.ok);
	assert_string_equal(res.error, "timed out after 300 ms");
	assert_true(now_ms() - start < 3000);
}

/* A child ignoring SIGTERM, and its own child too, get SIGKILL later. */
static void
test_exec_ignoring_sigterm_is_killed_after_grace(void **state)
{
	struct fixture	*fx = *state;
	struct result	 res;
	char		 script[PATH_MAX + 64];
	char		*argv[] = { "/bin/sh", "-c", script, NULL };
	char		*pid;
	int64_t		 start = now_ms();

	snprintf(script, sizeof script, "trap '' TERM; sleep 30 & "
	    "echo $! >%s/pid; wait", fx->dir);
	run_argv(fx, argv, 200, &res);
	assert_false(res.ok);
	assert_string_equal(res.error, "timed out after 200 ms");
	assert_true(now_ms() - start >= 5000);
	assert_true(now_ms() - start < 9000);
	/* The grandchild went with the process group. */
	assert_non_null(pid = slurp_in(fx, "pid"));
	assert_true(wait_gone((pid_t)atol(pid), 2000));
	free(pid);
}

static void
test_exec_output_is_logged_and_capped(void **state)
{
	struct fixture	*fx = *state;
	struct result	 res;
	char		*argv[] = { "/bin/sh", "-c",
	    "echo hello; echo oops >&2; printf 'crlf\\r\\n';"
	    "printf 'esc\\033[31mred\\n';"
	    "head -c 10000 /dev/zero | tr '\\0' x; echo;"
	    "i=0; while [ $i -lt 2000 ]; do "
	    "echo 0123456789012345678901234567890123456789012345678901234567"
	    "890123456789012345678901234567890123456789; i=$((i+1)); done;"
	    "printf 'no newline at the end'", NULL };
	char		*log;

	capture_start(fx);
	run_argv(fx, argv, 10000, &res);
	log = capture_stop(fx);
	assert_true(res.ok);
	assert_non_null(strstr(log, "job 9 (rule-x) stdout: hello\n"));
	assert_non_null(strstr(log, "job 9 (rule-x) stderr: oops\n"));
	assert_non_null(strstr(log, "job 9 (rule-x) stdout: crlf\n"));
	assert_non_null(strstr(log, "stdout: esc?[31mred\n"));
	assert_non_null(strstr(log, "job 9 (rule-x) stdout (truncated): xxxx"));
	assert_null(strstr(log, "no newline at the end"));
	assert_non_null(strstr(log, "bytes of output not logged"));
	/* 64 KiB of output plus a prefix per line, not 210 KB. */
	assert_true(strlen(log) < 120 * 1024);
	free(log);
}

/* A child that never reads a large stdin must not wedge anything. */
static void
test_exec_child_ignoring_stdin_does_not_wedge(void **state)
{
	struct fixture	*fx = *state;
	struct result	 res;
	char		*argv[] = { "/bin/true", NULL };
	char		*sleeper[] = { "/bin/sh", "-c", "exec 0<&-; sleep 0.3",
	    NULL };
	char		 name[32], value[200];
	int		 i;

	memset(value, 'v', sizeof value - 1);
	value[sizeof value - 1] = '\0';
	for (i = 0; i < 2000; i++) {
		snprintf(name, sizeof name, "Extra%d", i);
		add(&fx->params, name, value);
	}
	run_argv(fx, argv, 5000, &res);
	assert_true(res.ok);
	run_argv(fx, sleeper, 5000, &res);
	assert_true(res.ok);
}

static void
test_exec_missing_program_fails(void **state)
{
	struct fixture	*fx = *state;
	struct action	 act;
	struct result	 res;
	char		*argv[] = { "/nonexistent/program", NULL };
	const char	*err = NULL;
	int64_t		 end = now_ms() + WAIT_MS;
	int		 rc;

	memset(&act, 0, sizeof act);
	memset(&res, 0, sizeof res);
	act.kind = ACTION_EXEC;
	act.argv = argv;
	act.argc = 1;
	act.timeout_ms = 1000;
	rc = actions_run(fx->actions, &act, &fx->params, NULL, on_done, &res,
	    &err);
	if (rc == -1) {
		/* glibc reports the failed exec from posix_spawn itself. */
		assert_string_equal(err, "exec /nonexistent/program: No such "
		    "file or directory");
		assert_int_equal(actions_running(fx->actions), 0);
		spin(fx, 100);
		assert_int_equal(res.calls, 0);
		return;
	}
	/* Where spawn is fork and exec (valgrind), the child exits 127. */
	while (res.calls == 0 && now_ms() < end)
		event_base_loop(fx->base, EVLOOP_ONCE);
	assert_int_equal(res.calls, 1);
	assert_false(res.ok);
	assert_string_equal(res.error, "exit status 127");
}

/* actions_free kills the process group of what still runs. */
static void
test_free_kills_running_children(void **state)
{
	struct fixture	*fx = *state;
	struct action	 act;
	struct result	 res;
	char		 script[PATH_MAX + 64];
	char		*argv[] = { "/bin/sh", "-c", script, NULL };
	char		*pid;
	const char	*err;
	int64_t		 end = now_ms() + WAIT_MS;

	snprintf(script, sizeof script, "sleep 30 & echo $! >%s/pid.tmp; "
	    "mv %s/pid.tmp %s/pid; wait", fx->dir, fx->dir, fx->dir);
	memset(&act, 0, sizeof act);
	memset(&res, 0, sizeof res);
	act.kind = ACTION_EXEC;
	act.argv = argv;
	act.argc = 3;
	act.timeout_ms = 60000;
	assert_int_equal(actions_run(fx->actions, &act, &fx->params, NULL,
	    on_done, &res, &err), 0);
	while ((pid = slurp_in(fx, "pid")) == NULL && now_ms() < end)
		event_base_loop(fx->base, EVLOOP_ONCE);
	assert_non_null(pid);
	assert_int_equal(kill((pid_t)atol(pid), 0), 0);
	actions_free(fx->actions);
	fx->actions = actions_new(fx->base);
	assert_int_equal(res.calls, 0);
	/* The grandchild is not ours to reap: give init a moment. */
	assert_true(wait_gone((pid_t)atol(pid), 2000));
	free(pid);
}

/* http */

struct server {
	struct evhttp	*http;
	SSL_CTX		*ctx;		/* serve TLS when set */
	int		 port;
	int		 status;	/* to answer */
	int		 silent;	/* never answer */
	int		 nreq;
	char		 method[16];
	char		 uri[256];
	char		 host[256];
	char		 ctype[256];
	char		 ua[256];
	char		 idem[256];
	char		 job[64];
	char		 secret[256];
	char		 plain[256];
	char		*body;
};

static void
copy_header(struct evkeyvalq *h, const char *name, char *dst, size_t len)
{
	const char	*v = evhttp_find_header(h, name);

	snprintf(dst, len, "%s", v != NULL ? v : "(none)");
}

static void
server_cb(struct evhttp_request *req, void *arg)
{
	struct server		*srv = arg;
	struct evkeyvalq	*h = evhttp_request_get_input_headers(req);
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	struct evbuffer		*out;
	size_t			 len = evbuffer_get_length(in);

	srv->nreq++;
	snprintf(srv->method, sizeof srv->method, "%s",
	    evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" :
	    "other");
	snprintf(srv->uri, sizeof srv->uri, "%s", evhttp_request_get_uri(req));
	copy_header(h, "Host", srv->host, sizeof srv->host);
	copy_header(h, "Content-Type", srv->ctype, sizeof srv->ctype);
	copy_header(h, "User-Agent", srv->ua, sizeof srv->ua);
	copy_header(h, "Idempotency-Key", srv->idem, sizeof srv->idem);
	copy_header(h, "X-Usagehook-Job", srv->job, sizeof srv->job);
	copy_header(h, "X-Secret", srv->secret, sizeof srv->secret);
	copy_header(h, "X-Plain", srv->plain, sizeof srv->plain);
	free(srv->body);
	srv->body = calloc(1, len + 1);
	evbuffer_remove(in, srv->body, len);
	if (srv->silent)
		return;
	out = evbuffer_new();
	if (srv->status >= 300)
		evbuffer_add_printf(out, "database\tis down\n%0300d", 7);
	else
		evbuffer_add_printf(out, "{\"ok\":true}");
	evhttp_send_reply(req, srv->status, srv->status == 200 ? "OK" :
	    "Internal Server Error", out);
	evbuffer_free(out);
}

static struct bufferevent *
server_bevcb(struct event_base *base, void *arg)
{
	struct server	*srv = arg;

	return bufferevent_openssl_socket_new(base, -1, SSL_new(srv->ctx),
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

/* Listen on 127.0.0.1 (and ::1 if it can) at a free port. */
static void
server_start(struct fixture *fx, struct server *srv, int status)
{
	struct evhttp_bound_socket	*b;
	struct sockaddr_in		 sin;
	socklen_t			 len = sizeof sin;

	memset(srv, 0, sizeof *srv);
	srv->status = status;
	assert_non_null(srv->http = evhttp_new(fx->base));
	evhttp_set_gencb(srv->http, server_cb, srv);
	b = evhttp_bind_socket_with_handle(srv->http, "127.0.0.1", 0);
	assert_non_null(b);
	assert_int_equal(getsockname(evhttp_bound_socket_get_fd(b),
	    (struct sockaddr *)&sin, &len), 0);
	srv->port = ntohs(sin.sin_port);
	/* "localhost" may resolve to ::1 first. */
	(void)evhttp_bind_socket_with_handle(srv->http, "::1",
	    (unsigned short)srv->port);
}

static void
server_stop(struct server *srv)
{
	evhttp_free(srv->http);
	if (srv->ctx != NULL)
		SSL_CTX_free(srv->ctx);
	free(srv->body);
}

static void
http_action(struct action *act, char *url)
{
	memset(act, 0, sizeof *act);
	act->kind = ACTION_HTTP;
	act->url = url;
	act->timeout_ms = 5000;
}

static void
test_http_posts_json_with_headers_and_secret(void **state)
{
	struct fixture		*fx = *state;
	struct server		 srv;
	struct action		 act;
	struct action_header	 hdrs[2];
	struct job_info		 ji = { 31, "chat", 1, NULL, 0, 0, NULL };
	struct result		 res;
	char			 url[128], host[64], secret_path[PATH_MAX + 16];
	char			*json, *log;

	server_start(fx, &srv, 200);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/hooks/usage?x=1",
	    srv.port);
	snprintf(secret_path, sizeof secret_path, "%s/secret", fx->dir);
	write_file(secret_path, "Bearer s3cr3t-value\n", 0600);
	hdrs[0].name = "X-Secret";
	hdrs[0].value = NULL;
	hdrs[0].file = secret_path;
	hdrs[1].name = "X-Plain";
	hdrs[1].value = "plain value";
	hdrs[1].file = NULL;
	http_action(&act, url);
	act.headers = hdrs;
	act.nheaders = 2;
	capture_start(fx);
	run_action(fx, &act, &ji, &res);
	log = capture_stop(fx);
	if (!res.ok)
		fail_msg("http failed: %s", res.error);
	assert_int_equal(srv.nreq, 1);
	assert_string_equal(srv.method, "POST");
	assert_string_equal(srv.uri, "/hooks/usage?x=1");
	snprintf(host, sizeof host, "127.0.0.1:%d", srv.port);
	assert_string_equal(srv.host, host);
	assert_string_equal(srv.ctype, "application/json");
	assert_string_equal(srv.idem, "UT0123456789abcdef-1700000000");
	assert_string_equal(srv.job, "31");
	assert_string_equal(srv.secret, "Bearer s3cr3t-value");
	assert_string_equal(srv.plain, "plain value");
	assert_true(strncmp(srv.ua, "usagehookd/", 11) == 0);
	json = params_json(&fx->params, &ji);
	assert_string_equal(srv.body, json);
	free(json);
	assert_null(strstr(log, "s3cr3t"));
	free(log);

	/* The file is read at each attempt. */
	write_file(secret_path, "rotated\r\n", 0600);
	run_action(fx, &act, &ji, &res);
	assert_true(res.ok);
	assert_string_equal(srv.secret, "rotated");
	server_stop(&srv);
}

static void
test_http_unreadable_secret_file_does_not_start(void **state)
{
	struct fixture		*fx = *state;
	struct action		 act;
	struct action_header	 hdr = { "X-Secret", NULL,
	    "/nonexistent/secret" };
	struct result		 res;
	const char		*err = NULL;

	memset(&res, 0, sizeof res);
	http_action(&act, "http://127.0.0.1:9/");
	act.headers = &hdr;
	act.nheaders = 1;
	assert_int_equal(actions_run(fx->actions, &act, &fx->params, NULL,
	    on_done, &res, &err), -1);
	assert_string_equal(err, "header X-Secret: /nonexistent/secret: No "
	    "such file or directory");
	assert_int_equal(actions_running(fx->actions), 0);
}


/* The body template is sent, escaped, to the URL read from its file. */
static void
test_http_body_template_to_url_from_file(void **state)
{
	struct fixture		*fx = *state;
	struct server		 srv;
	struct action		 act;
	struct result		 res;
	struct job_info		 ji = { 7, "slack", 1, NULL, 0, 0, NULL };
	char			 path[PATH_MAX + 16], url[128], *shown, *log;
	char			 want[160];

	server_start(fx, &srv, 200);
	snprintf(path, sizeof path, "%s/url", fx->dir);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/services/SECRET1\n",
	    srv.port);
	write_file(path, url, 0600);
	http_action(&act, NULL);
	act.url_file = path;
	act.body = "{\"text\": \"{UsageCategory}: {CurrentValue}\"}";
	act.escape = ESCAPE_JSON;
	capture_start(fx);
	run_action(fx, &act, &ji, &res);
	log = capture_stop(fx);
	if (res.ok != 1)
		fail_msg("http failed: %s", res.error);
	assert_string_equal(srv.uri, "/services/SECRET1");
	assert_string_equal(srv.ctype, "application/json");
	assert_string_equal(srv.body, "{\"text\": \"sms: 100.25\"}");
	assert_null(strstr(log, "SECRET"));
	free(log);
	/* Shown by its origin only, whatever the URL holds. */
	shown = action_url_shown(&act);
	snprintf(want, sizeof want, "http://127.0.0.1:%d/\xe2\x80\xa6",
	    srv.port);
	assert_string_equal(shown, want);
	free(shown);

	/* Read at each attempt: a rotated URL is taken. */
	snprintf(url, sizeof url, "http://127.0.0.1:%d/services/SECRET2",
	    srv.port);
	write_file(path, url, 0600);
	act.content_type = "text/plain; charset=utf-8";
	act.escape = ESCAPE_NONE;
	act.body = "{UsageCategory} \"raw\"";
	run_action(fx, &act, &ji, &res);
	assert_int_equal(res.ok, 1);
	assert_string_equal(srv.uri, "/services/SECRET2");
	assert_string_equal(srv.ctype, "text/plain; charset=utf-8");
	assert_string_equal(srv.body, "sms \"raw\"");
	server_stop(&srv);
}

/* What no retry can fix is said so (-2), and the file's content is not. */
static void
test_http_unparseable_url_in_file_is_permanent(void **state)
{
	struct fixture	*fx = *state;
	struct action	 act;
	struct result	 res;
	char		 path[PATH_MAX + 16], want[PATH_MAX + 64];
	const char	*err = NULL;

	snprintf(path, sizeof path, "%s/url", fx->dir);
	write_file(path, "not-a-url SECRET\n", 0600);
	memset(&res, 0, sizeof res);
	http_action(&act, NULL);
	act.url_file = path;
	assert_int_equal(actions_run(fx->actions, &act, &fx->params, NULL,
	    on_done, &res, &err), -2);
	snprintf(want, sizeof want, "http: the URL in %s cannot be parsed",
	    path);
	assert_string_equal(err, want);
	/* A URL file is one line of 4 KiB at most. */
	{
		char big[5000];

		memset(big, 'a', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		write_file(path, big, 0600);
		assert_int_equal(actions_run(fx->actions, &act, &fx->params,
		    NULL, on_done, &res, &err), -1);
		snprintf(want, sizeof want, "http: URL file %s is larger than "
		    "4096 bytes", path);
		assert_string_equal(err, want);
	}
	/* A missing file may appear: that one is retried (-1). */
	act.url_file = "/nonexistent/url";
	assert_int_equal(actions_run(fx->actions, &act, &fx->params, NULL,
	    on_done, &res, &err), -1);
	assert_string_equal(err, "http: URL file /nonexistent/url: No such "
	    "file or directory");
	assert_int_equal(res.calls, 0);
}

/* A twilio action never acts without knowing the accounts. */
static void
test_twilio_without_accounts_is_permanent(void **state)
{
	struct fixture	*fx = *state;
	struct action	 act;
	struct result	 res;
	const char	*err = NULL;

	memset(&act, 0, sizeof act);
	memset(&res, 0, sizeof res);
	act.kind = ACTION_TWILIO;
	act.twilio = TWILIO_SUSPEND;
	act.account = "{AccountSid}";
	assert_int_equal(actions_run(fx->actions, &act, &fx->params, NULL,
	    on_done, &res, &err), -2);
	assert_int_equal(actions_running(fx->actions), 0);
}

static void
test_http_500_fails_with_status_and_body(void **state)
{
	struct fixture	*fx = *state;
	struct server	 srv;
	struct action	 act;
	struct result	 res;
	char		 url[128];
	const char	*want;

	server_start(fx, &srv, 500);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", srv.port);
	http_action(&act, url);
	run_action(fx, &act, NULL, &res);
	assert_false(res.ok);
	want = "HTTP 500 Internal Server Error: database?is down?0000";
	if (strncmp(res.error, want, strlen(want)) != 0)
		fail_msg("error: %s", res.error);
	/* 200 bytes of body at most. */
	assert_int_equal(strlen(res.error), strlen("HTTP 500 Internal Server "
	    "Error: ") + 200);
	server_stop(&srv);
}

static void
test_http_connection_refused_fails(void **state)
{
	struct fixture		*fx = *state;
	struct action		 act;
	struct result		 res;
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof sin;
	char			 url[128], want[96];
	int			 s;

	/* A port nobody listens on: bound, then closed. */
	s = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &len), 0);
	close(s);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(sin.sin_port));
	http_action(&act, url);
	run_action(fx, &act, NULL, &res);
	assert_false(res.ok);
	snprintf(want, sizeof want, "cannot connect to 127.0.0.1:%d: "
	    "Connection refused", ntohs(sin.sin_port));
	assert_string_equal(res.error, want);
	/* The same before any TLS. */
	snprintf(url, sizeof url, "https://127.0.0.1:%d/", ntohs(sin.sin_port));
	run_action(fx, &act, NULL, &res);
	assert_false(res.ok);
	assert_string_equal(res.error, want);
}

static void
test_http_silent_server_times_out(void **state)
{
	struct fixture	*fx = *state;
	struct server	 srv;
	struct action	 act;
	struct result	 res;
	char		 url[128];
	int64_t		 start = now_ms();

	server_start(fx, &srv, 200);
	srv.silent = 1;
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", srv.port);
	http_action(&act, url);
	act.timeout_ms = 300;
	run_action(fx, &act, NULL, &res);
	assert_false(res.ok);
	if (strncmp(res.error, "timed out after 300 ms", 22) != 0)
		fail_msg("error: %s", res.error);
	assert_true(now_ms() - start < 3000);
	assert_int_equal(srv.nreq, 1);
	server_stop(&srv);
}

/* Add extension nid = value (openssl.cnf syntax) to x. */
static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*ext;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	assert_non_null(ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value));
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* A certificate for key named cn; self-signed CA when issuer is NULL. */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer,
    EVP_PKEY *issuer_key)
{
	static long	 serial = 1;
	X509		*x;
	X509_NAME	*name;

	assert_non_null(x = X509_new());
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 2 * 86400);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer) : name);
	if (issuer == NULL) {
		add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, issuer, NID_basic_constraints, "CA:FALSE");
		add_ext(x, issuer, NID_subject_alt_name, san);
	}
	assert_true(X509_sign(x, issuer_key != NULL ? issuer_key : key,
	    EVP_sha256()) > 0);
	return x;
}

/*
 * A CA (ca.pem) and two server certificates it signed (good: localhost
 * and 127.0.0.1; wrong: wrong.example), made once in C: no openssl CLI.
 */
static struct {
	char		 dir[64];
	EVP_PKEY	*key;		/* one key for both servers */
	X509		*good;
	X509		*wrong;
} tls;

static void
make_certs(void)
{
	EVP_PKEY	*ca_key;
	X509		*ca;
	FILE		*f;
	char		 path[128];

	if (tls.dir[0] != '\0')
		return;
	snprintf(tls.dir, sizeof tls.dir, "/tmp/test_actions_tls.XXXXXX");
	assert_non_null(mkdtemp(tls.dir));
	assert_non_null(ca_key = EVP_EC_gen("P-256"));
	assert_non_null(tls.key = EVP_EC_gen("P-256"));
	ca = make_cert(ca_key, "usagehook test CA", NULL, NULL, NULL);
	tls.good = make_cert(tls.key, "localhost",
	    "DNS:localhost,IP:127.0.0.1", ca, ca_key);
	tls.wrong = make_cert(tls.key, "wrong.example", "DNS:wrong.example",
	    ca, ca_key);
	snprintf(path, sizeof path, "%s/ca.pem", tls.dir);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(PEM_write_X509(f, ca), 1);
	fclose(f);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
}

/* An HTTPS test server presenting cert. */
static void
tls_server_start(struct fixture *fx, struct server *srv, X509 *cert)
{
	server_start(fx, srv, 200);
	assert_non_null(srv->ctx = SSL_CTX_new(TLS_server_method()));
	assert_int_equal(SSL_CTX_use_certificate(srv->ctx, cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(srv->ctx, tls.key), 1);
	evhttp_set_bevcb(srv->http, server_bevcb, srv);
}

static void
test_https_with_ca_file_succeeds(void **state)
{
	struct fixture	*fx = *state;
	struct server	 srv;
	struct action	 act;
	struct result	 res;
	char		 url[128], ca[PATH_MAX + 16];

	make_certs();
	tls_server_start(fx, &srv, tls.good);
	snprintf(ca, sizeof ca, "%s/ca.pem", tls.dir);
	snprintf(url, sizeof url, "https://127.0.0.1:%d/tls", srv.port);
	http_action(&act, url);
	act.ca_file = ca;
	run_action(fx, &act, NULL, &res);
	if (!res.ok)
		fail_msg("https by IP failed: %s", res.error);
	assert_string_equal(srv.uri, "/tls");
	/* By name too: SNI and a DNS subjectAltName. */
	snprintf(url, sizeof url, "https://localhost:%d/byname", srv.port);
	run_action(fx, &act, NULL, &res);
	if (!res.ok)
		fail_msg("https by name failed: %s", res.error);
	assert_string_equal(srv.uri, "/byname");
	assert_int_equal(srv.nreq, 2);
	server_stop(&srv);
}

static void
test_https_wrong_host_is_refused(void **state)
{
	struct fixture	*fx = *state;
	struct server	 srv;
	struct action	 act;
	struct result	 res;
	char		 url[128], ca[PATH_MAX + 16];

	make_certs();
	tls_server_start(fx, &srv, tls.wrong);
	snprintf(ca, sizeof ca, "%s/ca.pem", tls.dir);
	snprintf(url, sizeof url, "https://localhost:%d/", srv.port);
	http_action(&act, url);
	act.ca_file = ca;
	run_action(fx, &act, NULL, &res);
	assert_false(res.ok);
	if (strcasestr(res.error, "TLS: certificate verify failed: hostname "
	    "mismatch") == NULL)
		fail_msg("error: %s", res.error);
	snprintf(url, sizeof url, "https://127.0.0.1:%d/", srv.port);
	run_action(fx, &act, NULL, &res);
	assert_false(res.ok);
	if (strcasestr(res.error, "TLS: certificate verify failed: IP address "
	    "mismatch") == NULL)
		fail_msg("error: %s", res.error);
	assert_int_equal(srv.nreq, 0);
	server_stop(&srv);
}

static void
test_https_without_ca_file_uses_the_system_store(void **state)
{
	struct fixture	*fx = *state;
	struct server	 srv;
	struct action	 act;
	struct result	 res;
	char		 url[128];

	make_certs();
	tls_server_start(fx, &srv, tls.good);
	snprintf(url, sizeof url, "https://127.0.0.1:%d/", srv.port);
	http_action(&act, url);
	run_action(fx, &act, NULL, &res);
	assert_false(res.ok);
	if (strcasestr(res.error, "TLS: certificate verify failed: unable to get "
	    "local issuer certificate") == NULL)
		fail_msg("error: %s", res.error);
	assert_int_equal(srv.nreq, 0);
	server_stop(&srv);
}

static void
test_https_to_a_plain_server_fails_in_tls(void **state)
{
	struct fixture	*fx = *state;
	struct server	 srv;
	struct action	 act;
	struct result	 res;
	char		 url[128];

	server_start(fx, &srv, 200);
	snprintf(url, sizeof url, "https://127.0.0.1:%d/", srv.port);
	http_action(&act, url);
	run_action(fx, &act, NULL, &res);
	assert_false(res.ok);
	if (strncmp(res.error, "TLS: ", 5) != 0)
		fail_msg("error: %s", res.error);
	assert_int_equal(srv.nreq, 0);
	server_stop(&srv);
}

static void
test_https_missing_ca_file_does_not_start(void **state)
{
	struct fixture	*fx = *state;
	struct action	 act;
	struct result	 res;
	const char	*err = NULL;

	memset(&res, 0, sizeof res);
	http_action(&act, "https://127.0.0.1:9/");
	act.ca_file = "/nonexistent/ca.pem";
	assert_int_equal(actions_run(fx->actions, &act, &fx->params, NULL,
	    on_done, &res, &err), -1);
	assert_string_equal(err, "TLS: ca_file /nonexistent/ca.pem: No such "
	    "file or directory");
}

/* append */

static void
test_append_two_runs_append_two_json_lines(void **state)
{
	struct fixture	*fx = *state;
	struct action	 act;
	struct job_info	 ji = { 5, "archive", 1, NULL, 0, 0, NULL };
	struct result	 res;
	struct stat	 sb;
	char		 path[PATH_MAX + 32], *s, *nl, *line2;

	snprintf(path, sizeof path, "%s/firings.jsonl", fx->dir);
	memset(&act, 0, sizeof act);
	act.kind = ACTION_APPEND;
	act.path = path;
	run_action(fx, &act, &ji, &res);
	assert_true(res.ok);
	add(&fx->params, "Note", "line\nbreak \"quoted\"");
	ji.id = 6;
	run_action(fx, &act, &ji, &res);
	assert_true(res.ok);

	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0077 & ~0040, 0);
	assert_non_null(s = slurp(path, NULL));
	/* Exactly two lines, each one JSON object. */
	assert_non_null(nl = strchr(s, '\n'));
	*nl = '\0';
	line2 = nl + 1;
	assert_true(json_valid_object(s));
	assert_non_null(strstr(s, "\"job\":5"));
	assert_non_null(nl = strchr(line2, '\n'));
	*nl = '\0';
	assert_string_equal(nl + 1, "");
	assert_true(json_valid_object(line2));
	assert_non_null(strstr(line2, "\"Note\":\"line\\u000abreak "
	    "\\\"quoted\\\"\""));
	assert_non_null(strstr(line2, "\"job\":6"));
	free(s);
}

static void
test_append_unwritable_path_fails(void **state)
{
	struct fixture	*fx = *state;
	struct action	 act;
	struct result	 res;
	char		 dir[PATH_MAX + 16], path[PATH_MAX + 32];

	snprintf(path, sizeof path, "%s/missing/firings.jsonl", fx->dir);
	memset(&act, 0, sizeof act);
	act.kind = ACTION_APPEND;
	act.path = path;
	run_action(fx, &act, NULL, &res);
	assert_false(res.ok);
	assert_non_null(strstr(res.error, path));
	assert_non_null(strstr(res.error, "No such file or directory"));

	/* A directory where the file should be. */
	snprintf(dir, sizeof dir, "%s/adir", fx->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	act.path = dir;
	run_action(fx, &act, NULL, &res);
	assert_false(res.ok);
	assert_non_null(strstr(res.error, "Is a directory"));

	/* Permissions do not stop root: test them only as someone else. */
	if (geteuid() != 0) {
		assert_int_equal(chmod(dir, 0500), 0);
		snprintf(path, sizeof path, "%s/adir/f.jsonl", fx->dir);
		act.path = path;
		run_action(fx, &act, NULL, &res);
		assert_false(res.ok);
		assert_non_null(strstr(res.error, "Permission denied"));
		chmod(dir, 0700);
	}
}

/* log */

static void
test_log_action_logs_template_later(void **state)
{
	struct fixture	*fx = *state;
	struct action	 act;
	struct job_info	 ji = { 3, "notice", 1, NULL, 0, 0, NULL };
	struct result	 res;
	char		*log;

	memset(&act, 0, sizeof act);
	act.kind = ACTION_LOG;
	act.template = "{UsageCategory} spend at {CurrentValue}\n{Missing}!";
	capture_start(fx);
	run_action(fx, &act, &ji, &res);
	log = capture_stop(fx);
	assert_true(res.ok);
	assert_non_null(strstr(log, "rule notice: sms spend at 100.25?!\n"));
	free(log);
}

static int
group_teardown(void **state)
{
	if (tls.dir[0] != '\0')
		nftw(tls.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	X509_free(tls.good);
	X509_free(tls.wrong);
	EVP_PKEY_free(tls.key);
	return 0;
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		T(test_template_expand_table),
		T(test_body_escape_for_table),
		T(test_json_body_survives_hostile_values),
		T(test_form_and_text_bodies),
		T(test_url_shown_hides_query_and_userinfo),
		T(test_params_json_escapes_table),
		T(test_params_json_has_job_member_and_first_of_each_name),
		T(test_exec_gets_clean_env_argv_and_stdin),
		T(test_exec_hostile_value_reaches_argv_and_env_verbatim),
		T(test_exec_nonzero_exit_and_signal_fail),
		T(test_exec_timeout_kills_sleep),
		T(test_exec_ignoring_sigterm_is_killed_after_grace),
		T(test_exec_output_is_logged_and_capped),
		T(test_exec_child_ignoring_stdin_does_not_wedge),
		T(test_exec_missing_program_fails),
		T(test_free_kills_running_children),
		T(test_http_posts_json_with_headers_and_secret),
		T(test_http_unreadable_secret_file_does_not_start),
		T(test_http_body_template_to_url_from_file),
		T(test_http_unparseable_url_in_file_is_permanent),
		T(test_twilio_without_accounts_is_permanent),
		T(test_http_500_fails_with_status_and_body),
		T(test_http_connection_refused_fails),
		T(test_http_silent_server_times_out),
		T(test_https_with_ca_file_succeeds),
		T(test_https_wrong_host_is_refused),
		T(test_https_without_ca_file_uses_the_system_store),
		T(test_https_to_a_plain_server_fails_in_tls),
		T(test_https_missing_ca_file_does_not_start),
		T(test_append_two_runs_append_two_json_lines),
		T(test_append_unwritable_path_fails),
		T(test_log_action_logs_template_later),
	};

	signal(SIGPIPE, SIG_IGN);
	/* The daemon does this in main: append reports from a thread. */
	if (evthread_use_pthreads() == -1)
		return 1;
	return cmocka_run_group_tests(tests, NULL, group_teardown);
}
