/* ctl_inspect.c: list, show, rejected, jobs, retry, stats and purge. */
#include "config-sys.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "callback.h"
#include "client.h"
#include "config.h"
#include "ctl.h"
#include "rules.h"
#include "signature.h"
#include "store.h"
#include "xmalloc.h"

#define LIMIT_MAX	1000000000L
#define DAYS_DEFAULT	7

/* --limit N into *limit; a usage error otherwise. */
static int
limit_arg(const struct command *cmd, const char *s, size_t *limit)
{
	long	v;

	if (ctl_parse_long(s, 1, LIMIT_MAX, &v) == -1)
		return cmd_usage(cmd, "--limit %s: want a number from 1 to %ld",
		    s, LIMIT_MAX);
	*limit = (size_t)v;
	return EXIT_OK;
}

/* A job or row id: a positive whole number. */
static int
parse_id(const char *s, int64_t *id)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v <= 0)
		return -1;
	*id = v;
	return 0;
}

/* Which account token verified a callback: "primary", "secondary", NULL. */
static const char *
verified_name(int v)
{
	return v == 1 ? "primary" : v == 2 ? "secondary" : NULL;
}

/* The stored fields of a callback as JSON members (no headers, body, jobs). */
static void
json_callback_fields(struct json *j, const struct callback_row *r)
{
	json_int(j, "id", r->id);
	json_str(j, "idempotency_token", r->token);
	json_time(j, "received_at", r->received_at);
	json_int(j, "received_at_ms", r->received_at);
	json_str(j, "method", r->method);
	json_str(j, "uri", r->uri);
	json_str(j, "url", r->url);
	json_str(j, "remote", r->remote);
	json_str(j, "signature", r->signature);
	json_str(j, "account_sid", r->account_sid);
	json_str(j, "usage_trigger_sid", r->usage_trigger_sid);
	json_str(j, "date_fired", r->date_fired);
	json_str(j, "recurring", r->recurring);
	json_str(j, "usage_category", r->usage_category);
	json_str(j, "trigger_by", r->trigger_by);
	json_str(j, "trigger_value", r->trigger_value);
	json_str(j, "current_value", r->current_value);
	json_str(j, "usage_record_uri", r->usage_record_uri);
	json_int(j, "duplicates", r->duplicates);
	json_time(j, "last_duplicate_at", r->last_duplicate_at);
	json_str(j, "source", r->source);
	json_str(j, "verified_by", verified_name(r->verified_by));
}

/* Split a --trigger value on commas and check each SID. */
static int
add_triggers(const struct command *cmd, char *arg, const char ***v,
    size_t *n)
{
	char	*s;

	while ((s = strsep(&arg, ",")) != NULL) {
		if (*s == '\0')
			continue;
		if (!sid_valid(s, "UT"))
			return cmd_usage(cmd, "--trigger %s: not a "
			    "UsageTriggerSid (UT and 32 hex digits)", s);
		if (*n >= STORE_LIST_TRIGGERS_MAX)
			return cmd_usage(cmd, "--trigger: at most %d SIDs",
			    STORE_LIST_TRIGGERS_MAX);
		*v = xreallocarray(*v, *n + 1, sizeof **v);
		(*v)[(*n)++] = s;
	}
	return EXIT_OK;
}

/* list: the newest stored callbacks, filtered, through an index. */
int
cmd_list(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "category", required_argument, NULL, 'C' },
		{ "account", required_argument, NULL, 'a' },
		{ "trigger", required_argument, NULL, 't' },
		{ "unmatched", no_argument, NULL, 'U' },
		{ "source", required_argument, NULL, 'S' },
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "wide", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const heads[] = { "^ID", "RECEIVED", "METHOD",
	    "CATEGORY", "BY", "VALUE", "CURRENT", "^DUP", "TOKEN" };
	struct callback_filter	 flt;
	struct callback_row	*rows = NULL;
	struct store		*s;
	struct table		*t;
	struct json		 j;
	const char		*sug;
	char			 tb[32], db[24], tok[TOKEN_SHORT + 1];
	size_t			 n = 0, i;
	int			 ch, json = 0, wide = 0, rc = EXIT_OK;

	memset(&flt, 0, sizeof flt);
	flt.limit = CTL_LIMIT_DEFAULT;
	optind = 0;
	while (rc == EXIT_OK &&
	    (ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			rc = ctl_time_arg(cmd, "--since", optarg, &flt.since);
			break;
		case 'u':
			rc = ctl_time_arg(cmd, "--until", optarg, &flt.until);
			break;
		case 'C':
			flt.category = optarg;
			break;
		case 'a':
			if (!sid_valid(optarg, "AC"))
				rc = cmd_usage(cmd, "--account %s: want an "
				    "AccountSid, AC and 32 hex digits", optarg);
			flt.account = optarg;
			break;
		case 'U':
			flt.unmatched = 1;
			break;
		case 't':
			rc = add_triggers(cmd, optarg, &flt.triggers,
			    &flt.ntriggers);
			break;
		case 'S':
			flt.source = optarg;
			if (strcmp(optarg, "api") != 0 &&
			    strcmp(optarg, "callback") != 0)
				rc = cmd_usage(cmd, "--source %s: want callback "
				    "(delivered) or api (recovered from "
				    "Twilio's REST API)", optarg);
			break;
		case 'n':
			rc = limit_arg(cmd, optarg, &flt.limit);
			break;
		case 'j':
			json = 1;
			break;
		case 'w':
			wide = 1;
			break;
		case 'h':
			free(flt.triggers);
			return cmd_help(cmd);
		default:
			rc = bad_option(cmd, ch, argv);
			break;
		}
	}
	if (rc == EXIT_OK && optind < argc)
		rc = cmd_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (rc != EXIT_OK)
		goto out;
	if (flt.category != NULL && strpbrk(flt.category, "*?[") == NULL &&
	    !category_known(flt.category)) {
		sug = category_suggest(flt.category);
		cmd_warn(cmd, "%s is not one of Twilio's usage "
		    "categories%s%s%s", flt.category,
		    sug ? " (did you mean " : "", sug ? sug : "",
		    sug ? "?)" : "");
	}
	if ((s = ctl_store(ctl, cmd, 1)) == NULL) {
		rc = EXIT_FAIL;
		goto out;
	}
	if (store_callbacks_list(s, &flt, &rows, &n) == -1) {
		rc = cmd_fail(cmd, "%s", store_errmsg(s));
		goto out;
	}
	if (json) {
		json_init(&j, stdout);
		json_open(&j, NULL, 1);
		for (i = 0; i < n; i++) {
			json_open(&j, NULL, 0);
			json_callback_fields(&j, &rows[i]);
			json_close(&j, 0);
		}
		json_close(&j, 1);
		json_end(&j);
	} else if (n == 0)
		fprintf(stderr, "usagehookctl: list: no callbacks match\n");
	else {
		t = table_new(9, heads);
		for (i = 0; i < n; i++) {
			const char *cells[9] = { fmt_int(rows[i].id, db),
			    fmt_time(rows[i].received_at, 0, tb),
			    /* A recovered firing was never requested. */
			    rows[i].source != NULL && strcmp(rows[i].source,
			    "api") == 0 ? "api" : rows[i].method,
			    rows[i].usage_category,
			    rows[i].trigger_by, rows[i].trigger_value,
			    rows[i].current_value, NULL, wide ? rows[i].token :
			    fmt_token(rows[i].token, tok) };
			char dup[24];

			cells[7] = fmt_int(rows[i].duplicates, dup);
			table_add(t, cells);
		}
		table_print(t, stdout);
		table_free(t);
	}
out:
	store_callback_rows_free(rows, n);
	free(flt.triggers);
	return rc;
}

/* "1/8" */
static const char *
fmt_attempts(int a, int max, char buf[32])
{
	snprintf(buf, 32, "%d/%d", a, max);
	return buf;
}

/* "#1 exec": the action's place in its rule (from 1) and kind. */
static const char *
fmt_action(int index, const char *kind, char buf[64])
{
	snprintf(buf, 64, "#%d %s", index + 1, kind ? kind : "?");
	return buf;
}

/* One job as a JSON object. */
static void
json_job(struct json *j, const struct job_listing *r)
{
	json_open(j, NULL, 0);
	json_int(j, "id", r->id);
	json_int(j, "callback_id", r->callback_id);
	json_str(j, "idempotency_token", r->token);
	json_str(j, "rule", r->rule);
	json_int(j, "action", r->action + 1);
	json_str(j, "kind", r->kind);
	json_str(j, "state", r->state);
	json_int(j, "attempts", r->attempts);
	json_int(j, "max_attempts", r->max_attempts);
	json_time(j, "next_run_at", r->state != NULL &&
	    strcmp(r->state, "queued") == 0 ? r->next_run_at : 0);
	json_time(j, "created_at", r->created_at);
	json_time(j, "updated_at", r->updated_at);
	json_str(j, "last_error", r->last_error);
	json_close(j, 0);
}

/* A table of jobs; with_token adds the callback's token column. */
static void
print_jobs(const struct job_listing *rows, size_t n, int with_token, int wide)
{
	static const char *const heads[] = { "^ID", "TOKEN", "RULE", "ACTION",
	    "STATE", "^TRIES", "NEXT RUN", "LAST ERROR" };
	struct table	*t;
	char		 id[24], act[64], tries[32], next[32];
	char		 tok[TOKEN_SHORT + 1], err[64];
	size_t		 i, c;

	t = with_token ? table_new(8, heads) : table_new(7, (const char *[]){
	    "^ID", "RULE", "ACTION", "STATE", "^TRIES", "NEXT RUN",
	    "LAST ERROR" });
	for (i = 0; i < n; i++) {
		const char *cells[8];

		c = 0;
		cells[c++] = fmt_int(rows[i].id, id);
		if (with_token)
			cells[c++] = wide ? rows[i].token :
			    fmt_token(rows[i].token, tok);
		cells[c++] = rows[i].rule;
		cells[c++] = fmt_action(rows[i].action, rows[i].kind, act);
		cells[c++] = rows[i].state;
		cells[c++] = fmt_attempts(rows[i].attempts,
		    rows[i].max_attempts, tries);
		cells[c++] = rows[i].state != NULL &&
		    strcmp(rows[i].state, "queued") == 0 ?
		    fmt_time(rows[i].next_run_at, 0, next) : NULL;
		cells[c++] = wide ? rows[i].last_error :
		    fmt_cut(rows[i].last_error, 48, err, sizeof err);
		table_add(t, cells);
	}
	table_print(t, stdout);
	table_free(t);
}

/* show --raw: the request as it arrived, byte for byte. */
static void
print_raw(const struct callback_row *r)
{
	printf("%s %s HTTP/1.1\r\n", r->method ? r->method : "",
	    r->uri ? r->uri : "");
	if (r->headers != NULL)
		fputs(r->headers, stdout);
	fputs("\r\n", stdout);
	print_raw_body(r->body, r->bodylen);
}

/* show: one callback, its parameters and its jobs. */
static void
print_callback(const struct callback_row *r, const struct params *p,
    const struct job_listing *jobs, size_t njobs)
{
	struct table	*t;
	char		 a[32], b[32], dup[80], id[24];
	size_t		 i;

	t = table_new(2, NULL);
#define ROW(k, v)	table_add(t, (const char *[]){ (k), (v) })
	ROW("id", fmt_int(r->id, id));
	ROW("idempotency token", r->token);
	ROW("received", fmt_time(r->received_at, 1, a));
	ROW("source", r->source);
	ROW("method", r->method);
	ROW("uri", r->uri);
	ROW("url signed", r->url);
	ROW("remote", r->remote);
	ROW("signature", r->signature);
	ROW("verified by", r->verified_by == 1 ? "the primary token" :
	    r->verified_by == 2 ? "the secondary token (rotation not done)" :
	    "-");
	ROW("account", r->account_sid);
	ROW("usage trigger", r->usage_trigger_sid);
	ROW("date fired", r->date_fired);
	ROW("recurring", r->recurring);
	ROW("usage category", r->usage_category);
	ROW("trigger by", r->trigger_by);
	ROW("trigger value", r->trigger_value);
	ROW("current value", r->current_value);
	ROW("usage record uri", r->usage_record_uri);
	if (r->duplicates > 0)
		snprintf(dup, sizeof dup, "%" PRId64 " (last %s)",
		    r->duplicates, fmt_time(r->last_duplicate_at, 0, b));
	else
		snprintf(dup, sizeof dup, "0");
	ROW("duplicates", dup);
#undef ROW
	table_print(t, stdout);
	table_free(t);

	printf("\nparameters:\n");
	t = table_new(2, NULL);
	for (i = 0; i < p->n; i++)
		table_add(t, (const char *[]){ p->v[i].name, p->v[i].value });
	table_print(t, stdout);
	table_free(t);

	if (njobs == 0) {
		printf("\njobs: none (no rule matched when it arrived)\n");
		return;
	}
	printf("\njobs:\n");
	print_jobs(jobs, njobs, 0, 1);
}

int
cmd_show(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "raw", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct callback_row	 r;
	struct job_filter	 jf;
	struct job_listing	*jobs = NULL;
	struct params		 p = { NULL, 0, 0, NULL };
	struct store		*s;
	struct json		 j;
	const char		*err, *key;
	size_t			 njobs = 0, i;
	int			 ch, raw = 0, json = 0, rc = EXIT_FAIL;

	memset(&r, 0, sizeof r);
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			raw = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			return cmd_help(cmd);
		default:
			return bad_option(cmd, ch, argv);
		}
	}
	if ((rc = ctl_callback_arg(cmd, argc, argv, &key)) != EXIT_OK)
		return rc;
	if (raw && json)
		return cmd_usage(cmd, "--raw and --json exclude each other");
	if ((rc = ctl_find_callback(ctl, cmd, key, 1, &r)) != EXIT_OK)
		return rc;
	s = ctl_store(ctl, cmd, 1);
	rc = EXIT_FAIL;
	if (raw) {
		print_raw(&r);
		store_callback_row_clear(&r);
		return EXIT_OK;
	}
	memset(&jf, 0, sizeof jf);
	jf.callback_id = r.id;
	if (store_jobs_list(s, &jf, &jobs, &njobs) == -1) {
		cmd_fail(cmd, "%s", store_errmsg(s));
		goto out;
	}
	if (request_params(r.method ? r.method : "", r.uri ? r.uri : "",
	    r.body ? r.body : "", r.bodylen, &p, &err) == -1)
		cmd_warn(cmd, "the stored request does not decode: %s", err);
	if (json) {
		json_init(&j, stdout);
		json_open(&j, NULL, 0);
		json_callback_fields(&j, &r);
		json_str(&j, "headers", r.headers);
		json_strn(&j, "body", r.body, r.bodylen);
		json_params(&j, "params", &p);
		json_open(&j, "jobs", 1);
		for (i = 0; i < njobs; i++)
			json_job(&j, &jobs[i]);
		json_close(&j, 1);
		json_close(&j, 0);
		json_end(&j);
	} else
		print_callback(&r, &p, jobs, njobs);
	rc = EXIT_OK;
out:
	params_free(&p);
	store_job_listings_free(jobs, njobs);
	store_callback_row_clear(&r);
	return rc;
}

/* url with its scheme replaced; allocated, NULL if it has none. */
static char *
other_scheme(const char *url)
{
	char	*out;

	if (strncmp(url, "https://", 8) == 0)
		xasprintf(&out, "http://%s", url + 8);
	else if (strncmp(url, "http://", 7) == 0)
		xasprintf(&out, "https://%s", url + 7);
	else
		out = NULL;
	return out;
}

/* A URL the sender may have signed, and where the guess came from. */
struct guess {
	char		*url;
	const char	*source;
};

/* Add scheme://host + uri unless host is NULL or the URL is there already. */
static void
add_guess(struct guess *g, size_t *n, size_t max, const char *scheme,
    const char *host, const char *uri, const char *source)
{
	char	*url;
	size_t	 i;

	if (host == NULL || *host == '\0' || *n >= max)
		return;
	if (scheme != NULL)
		xasprintf(&url, "%s://%.*s%s", scheme, (int)strcspn(host, ", "),
		    host, uri);
	else
		url = xstrdup(host);	/* a whole URL */
	for (i = 0; i < *n; i++)
		if (strcmp(g[i].url, url) == 0) {
			free(url);
			return;
		}
	g[*n].url = url;
	g[*n].source = source;
	(*n)++;
}

/* 1 if sig verifies for url under the account (or any when acct NULL). */
static int
verifies(const struct config *conf, const struct account *acct,
    const char *url, const struct params *body, const char *sig)
{
	size_t	i;

	if (acct != NULL)
		return signature_verify(acct, url, body, sig) > 0;
	for (i = 0; i < conf->naccounts; i++)
		if (signature_verify(&conf->accounts[i], url, body, sig) > 0)
			return 1;
	return 0;
}

/* What differs between the URL that verifies and the one checked. */
static char *
explain(const struct config *conf, const char *good, const char *checked,
    const char *source)
{
	struct client_url	 g, c;
	char			*out = NULL, *e1 = NULL, *e2 = NULL;
	const char		*said;
	/* The query repeats the parameters: show scheme://host/path only. */
	int			 gl = (int)strcspn(good, "?#");
	int			 cl = (int)strcspn(checked, "?#");

	memset(&g, 0, sizeof g);
	memset(&c, 0, sizeof c);
	if (client_url_parse(good, &g, &e1) == -1 ||
	    client_url_parse(checked, &c, &e2) == -1) {
		xasprintf(&out, "the signature verifies for %.*s (%s), not for "
		    "%.*s which the daemon checked", gl, good, source, cl,
		    checked);
		goto done;
	}
	said = conf->public_url != NULL ? "public_url says" :
	    "the daemon rebuilt";
	if (strcmp(g.scheme, c.scheme) != 0 &&
	    strcasecmp(g.host, c.host) == 0)
		xasprintf(&out, "proxy mismatch: the signature verifies for "
		    "%.*s but %s %.*s; %s public_url to %s://%s%s%s%s", gl,
		    good, said, cl, checked, conf->public_url ? "change" :
		    "set", g.scheme, g.authority, conf->public_url ? "" :
		    ", or have the proxy send X-Forwarded-Proto: ",
		    conf->public_url ? "" : g.scheme, conf->public_url ? "" :
		    " and list it in trusted_proxies");
	else if (strcasecmp(g.host, c.host) != 0)
		xasprintf(&out, "Host differs: the signature verifies for %.*s "
		    "(%s) but %s %.*s; set public_url to %s://%s", gl, good,
		    source, said, cl, checked, g.scheme, g.authority);
	else
		xasprintf(&out, "the signature verifies for %.*s (%s), not for "
		    "%.*s which the daemon checked", gl, good, source, cl,
		    checked);
done:
	free(e1);
	free(e2);
	client_url_free(&g);
	client_url_free(&c);
	return out;
}

/*
 * Why a signature failed, when the stored request tells: recompute it for
 * the URLs a proxy may have changed (scheme, Host, forwarded headers, this
 * config's public_url). Allocated, or NULL when there is nothing to say.
 */
static char *
signature_hint(const struct config *conf, const struct rejected_listing *r)
{
	struct guess		 g[8];
	struct params		 p = { NULL, 0, 0, NULL };
	const struct account	*acct = NULL;
	const struct params	*bp = NULL;
	const char		*err;
	char			*host = NULL, *fhost = NULL, *fproto = NULL;
	char			*other, *hint = NULL;
	size_t			 n = 0, i;
	int			 body;

	if (r->reason == NULL || strcmp(r->reason, "bad-signature") != 0)
		return NULL;
	if (r->signature == NULL || r->url == NULL || r->method == NULL) {
		return xstrdup("the request's signature was not kept (a row "
		    "written by an older daemon): nothing to recompute");
	}
	if (conf == NULL)
		return xstrdup("give -c CONFIG to recompute the signature for "
		    "other URLs");
	/* As the daemon does: an unknown AccountSid tries every account. */
	if (r->account_sid != NULL)
		acct = config_account(conf, r->account_sid);
	body = method_has_body(r->method);
	if (body) {
		if (r->body == NULL)
			return xstrdup("the body was not kept (too large): "
			    "nothing to recompute");
		if (form_decode(r->body, r->bodylen, &p, &err) == -1)
			return xstrdup("the body does not decode: nothing to "
			    "recompute");
		bp = &p;
	}
	if (verifies(conf, acct, r->url, bp, r->signature)) {
		hint = xstrdup("the signature verifies now for the URL the "
		    "daemon checked: the token or public_url changed since");
		goto out;
	}
	if (r->headers != NULL) {
		host = ctl_header_get(r->headers, "Host");
		fhost = ctl_header_get(r->headers, "X-Forwarded-Host");
		fproto = ctl_header_get(r->headers, "X-Forwarded-Proto");
	}
	if ((other = other_scheme(r->url)) != NULL) {
		add_guess(g, &n, 8, NULL, other, NULL, "the other scheme");
		free(other);
	}
	if (fhost != NULL || fproto != NULL) {
		char	 scheme[16];

		snprintf(scheme, sizeof scheme, "%.*s", (int)strcspn(fproto ?
		    fproto : "http", ", "), fproto ? fproto : "http");
		add_guess(g, &n, 8, scheme, fhost ? fhost : host, r->uri,
		    "X-Forwarded-Proto and X-Forwarded-Host");
	}
	add_guess(g, &n, 8, "https", host, r->uri, "the Host header");
	add_guess(g, &n, 8, "http", host, r->uri, "the Host header");
	add_guess(g, &n, 8, "https", fhost, r->uri, "X-Forwarded-Host");
	add_guess(g, &n, 8, "http", fhost, r->uri, "X-Forwarded-Host");
	if (conf->public_url != NULL) {
		char	*u;

		xasprintf(&u, "%s%s", conf->public_url, r->uri);
		add_guess(g, &n, 8, NULL, u, NULL, "this config's public_url");
		free(u);
	}
	for (i = 0; i < n && hint == NULL; i++)
		if (strcmp(g[i].url, r->url) != 0 &&
		    verifies(conf, acct, g[i].url, bp, r->signature))
			hint = explain(conf, g[i].url, r->url, g[i].source);
	if (hint == NULL && r->account_sid != NULL && acct == NULL)
		xasprintf(&hint, "AccountSid %s is not in this configuration "
		    "and no configured token verifies the signature for any "
		    "URL variant", r->account_sid);
	else if (hint == NULL)
		xasprintf(&hint, "no URL variant (scheme, Host, forwarded "
		    "headers, public_url) verifies under the configured "
		    "token%s: the auth token is likely wrong or rotated "
		    "(secondary_token_file), or a proxy changed the path or "
		    "the body", acct != NULL && acct->secondary ? "s" : "");
out:
	for (i = 0; i < n; i++)
		free(g[i].url);
	free(host);
	free(fhost);
	free(fproto);
	params_free(&p);
	return hint;
}

/*
 * The URLs the daemon tried: url and its other default-port form, else
 * (rows without url) the list at the end of the detail.
 */
static void
json_candidates(struct json *j, const char *url, const char *detail)
{
	const char	*p, *tag = "URLs tried: ";
	char		*cand[URL_CANDIDATES];
	size_t		 n, i, len;

	json_open(j, "urls_tried", 1);
	if (url != NULL && (n = signature_url_candidates(url, cand)) > 0) {
		for (i = 0; i < n; i++)
			json_str(j, NULL, cand[i]);
		signature_url_candidates_free(cand, n);
	} else if (detail != NULL && (p = strstr(detail, tag)) != NULL) {
		for (p += strlen(tag); *p != '\0'; p += len) {
			len = strcspn(p, ",");
			json_strn(j, NULL, p, len);
			if (p[len] == ',')
				len += strspn(p + len, ", ");
		}
	}
	json_close(j, 1);
}

/* rejected: the newest refused requests, why, and a hint for signatures. */
int
cmd_rejected(struct ctl *ctl, const struct command *cmd, int argc,
    char **argv)
{
	static const struct option	 longopts[] = {
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const heads[] = { "TIME", "REMOTE", "METHOD",
	    "PATH", "^STATUS", "REASON" };
	struct rejected_listing	*rows = NULL;
	struct config		*conf;
	struct store		*s;
	struct table		*t;
	struct json		 j;
	char			 tb[32], st[24], *path, *hint;
	size_t			 n = 0, i, limit = CTL_LIMIT_DEFAULT;
	int			 ch, json = 0, rc, failed;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			if ((rc = limit_arg(cmd, optarg, &limit)) != EXIT_OK)
				return rc;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			return cmd_help(cmd);
		default:
			return bad_option(cmd, ch, argv);
		}
	}
	if (optind < argc)
		return cmd_usage(cmd, "unexpected argument '%s'", argv[optind]);
	/* The config only brings the tokens for hints; -d alone skips it. */
	conf = ctl_config_optional(ctl, &failed);
	if (failed)
		return EXIT_FAIL;
	if ((s = ctl_store(ctl, cmd, 1)) == NULL)
		return EXIT_FAIL;
	if (store_rejected_list(s, limit, &rows, &n) == -1)
		return cmd_fail(cmd, "%s", store_errmsg(s));
	if (json) {
		json_init(&j, stdout);
		json_open(&j, NULL, 1);
	} else if (n == 0)
		fprintf(stderr, "usagehookctl: rejected: no refused "
		    "requests\n");
	t = table_new(6, heads);
	for (i = 0; i < n; i++) {
		const struct rejected_listing *r = &rows[i];

		path = ctl_uri_path(r->uri);
		hint = signature_hint(conf, r);
		if (json) {
			json_open(&j, NULL, 0);
			json_int(&j, "id", r->id);
			json_time(&j, "at", r->at);
			json_int(&j, "at_ms", r->at);
			json_str(&j, "remote", r->remote);
			json_str(&j, "method", r->method);
			json_str(&j, "path", path);
			json_str(&j, "uri", r->uri);
			json_int(&j, "status", r->status);
			json_str(&j, "reason", r->reason);
			json_str(&j, "detail", r->detail);
			json_str(&j, "account_sid", r->account_sid);
			json_str(&j, "idempotency_token", r->idempotency_token);
			json_str(&j, "url", r->url);
			if (r->reason != NULL &&
			    strcmp(r->reason, "bad-signature") == 0)
				json_candidates(&j, r->url, r->detail);
			json_str(&j, "signature", r->signature);
			json_str(&j, "headers", r->headers);
			json_strn(&j, "body", r->body, r->bodylen);
			json_str(&j, "hint", hint);
			json_close(&j, 0);
		} else {
			table_add(t, (const char *[]){ fmt_time(r->at, 0, tb),
			    r->remote, r->method, path, fmt_int(r->status, st),
			    r->reason });
			if (r->detail != NULL)
				table_note(t, "%s", r->detail);
			if (hint != NULL)
				table_note(t, "hint: %s", hint);
		}
		free(hint);
		free(path);
	}
	if (json) {
		json_close(&j, 1);
		json_end(&j);
	} else if (n > 0)
		table_print(t, stdout);
	table_free(t);
	store_rejected_listings_free(rows, n);
	return EXIT_OK;
}

/* jobs: the outbox, newest first; --dead for the dead letters. */
int
cmd_jobs(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "dead", no_argument, NULL, 'D' },
		{ "state", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "wide", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const states[] = { "queued", "running", "done",
	    "dead" };
	struct job_filter	 jf;
	struct job_listing	*rows = NULL;
	struct store		*s;
	struct json		 j;
	size_t			 n = 0, i;
	int			 ch, json = 0, wide = 0, rc;

	memset(&jf, 0, sizeof jf);
	jf.limit = CTL_LIMIT_DEFAULT;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'D':
			jf.state = "dead";
			break;
		case 's':
			for (i = 0; i < 4; i++)
				if (strcmp(optarg, states[i]) == 0)
					break;
			if (i == 4)
				return cmd_usage(cmd, "--state %s: want "
				    "queued, running, done or dead", optarg);
			jf.state = states[i];
			break;
		case 'n':
			if ((rc = limit_arg(cmd, optarg, &jf.limit)) != EXIT_OK)
				return rc;
			break;
		case 'j':
			json = 1;
			break;
		case 'w':
			wide = 1;
			break;
		case 'h':
			return cmd_help(cmd);
		default:
			return bad_option(cmd, ch, argv);
		}
	}
	if (optind < argc)
		return cmd_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if ((s = ctl_store(ctl, cmd, 1)) == NULL)
		return EXIT_FAIL;
	if (store_jobs_list(s, &jf, &rows, &n) == -1)
		return cmd_fail(cmd, "%s", store_errmsg(s));
	if (json) {
		json_init(&j, stdout);
		json_open(&j, NULL, 1);
		for (i = 0; i < n; i++)
			json_job(&j, &rows[i]);
		json_close(&j, 1);
		json_end(&j);
	} else if (n == 0)
		fprintf(stderr, "usagehookctl: jobs: no %s%sjobs\n",
		    jf.state ? jf.state : "", jf.state ? " " : "");
	else
		print_jobs(rows, n, 1, wide);
	store_job_listings_free(rows, n);
	return EXIT_OK;
}

/* retry: dead or queued jobs run again now; dead ones get all attempts back. */
int
cmd_retry(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "all-dead", no_argument, NULL, 'A' },
		{ "rule", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct job_filter	 jf;
	struct job_listing	*row = NULL, *dead = NULL;
	struct store		*s;
	struct json		 j;
	const char		*rule = NULL;
	int64_t			*ids, id;
	size_t			 n = 0, ndead = 0, nids = 0, k;
	int			 ch, i, r, json = 0, all = 0, rc = EXIT_OK;
	char			 idbuf[24];

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'A':
			all = 1;
			break;
		case 'r':
			rule = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			return cmd_help(cmd);
		default:
			return bad_option(cmd, ch, argv);
		}
	}
	if (all && optind < argc)
		return cmd_usage(cmd, "--all-dead or job ids, not both");
	if (rule != NULL && !all)
		return cmd_usage(cmd, "--rule goes with --all-dead");
	if (!all && optind >= argc)
		return cmd_usage(cmd, "which job? give its id (see "
		    "usagehookctl jobs --dead), or --all-dead");
	for (i = optind; i < argc; i++)
		if (parse_id(argv[i], &id) == -1)
			return cmd_usage(cmd, "'%s' is not a job id", argv[i]);
	if ((s = ctl_store(ctl, cmd, 0)) == NULL)
		return EXIT_FAIL;
	if (all) {
		memset(&jf, 0, sizeof jf);
		jf.state = "dead";
		if (store_jobs_list(s, &jf, &dead, &ndead) == -1)
			return cmd_fail(cmd, "%s", store_errmsg(s));
		ids = xreallocarray(NULL, ndead + 1, sizeof *ids);
		for (k = 0; k < ndead; k++)
			if (rule == NULL || strcmp(dead[k].rule, rule) == 0)
				ids[nids++] = dead[k].id;
		store_job_listings_free(dead, ndead);
		if (nids == 0 && !json)
			printf("no dead job%s%s\n", rule ? " of rule " : "",
			    rule ? rule : "");
	} else {
		ids = xreallocarray(NULL, argc - optind, sizeof *ids);
		for (i = optind; i < argc; i++)
			parse_id(argv[i], &ids[nids++]);
	}
	if (json) {
		json_init(&j, stdout);
		json_open(&j, NULL, 1);
	}
	for (k = 0; k < nids; k++) {
		id = ids[k];
		snprintf(idbuf, sizeof idbuf, "%" PRId64, id);
		n = 0;
		row = NULL;
		memset(&jf, 0, sizeof jf);
		jf.id = id;
		if ((r = store_job_retry(s, id)) == -1 ||
		    (r == 0 && store_jobs_list(s, &jf, &row, &n) == -1)) {
			rc = cmd_fail(cmd, "job %s: %s", idbuf,
			    store_errmsg(s));
			break;
		}
		if (json) {
			json_open(&j, NULL, 0);
			json_int(&j, "id", id);
			json_bool(&j, "queued", r == 1);
			json_str(&j, "state", r == 1 ? "queued" : n > 0 ?
			    row->state : NULL);
			json_close(&j, 0);
		} else if (r == 1)
			printf("job %" PRId64 " queued\n", id);
		if (r == 1)
			continue;
		if (n == 0)
			rc = cmd_fail(cmd, "no job %" PRId64, id);
		else if (strcmp(row->state, "done") == 0)
			rc = cmd_fail(cmd, "job %" PRId64 " is done; "
			    "`usagehookctl rerun %s --rule %s` runs its rule "
			    "again", id, row->token, row->rule);
		else
			rc = cmd_fail(cmd, "job %" PRId64 " is %s now; it "
			    "was not changed", id, row->state);
		store_job_listings_free(row, n);
	}
	free(ids);
	if (json) {
		json_close(&j, 1);
		json_end(&j);
	}
	return rc;
}

/* stats: callbacks per day and category, rejected by reason, jobs by state. */
int
cmd_stats(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "days", required_argument, NULL, 'D' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct count_row	*daily = NULL, *rej = NULL, *jobs = NULL;
	struct store		*s;
	struct table		*t;
	struct json		 j;
	char			 a[24], b[24], tb[32];
	size_t			 nd = 0, nr = 0, nj = 0, i;
	int64_t			 since, total = 0, dups = 0;
	long			 days = DAYS_DEFAULT;
	int			 ch, json = 0, rc = EXIT_FAIL;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'D':
			if (ctl_parse_long(optarg, 1, 36500, &days) == -1)
				return cmd_usage(cmd, "--days %s: want a "
				    "number from 1 to 36500", optarg);
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			return cmd_help(cmd);
		default:
			return bad_option(cmd, ch, argv);
		}
	}
	if (optind < argc)
		return cmd_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if ((s = ctl_store(ctl, cmd, 1)) == NULL)
		return EXIT_FAIL;
	/* Whole UTC days: today and the days-1 before it. */
	since = ctl_now_ms() / 86400000 * 86400000 - (days - 1) * 86400000LL;
	if (store_stats(s, STAT_DAILY, since, &daily, &nd) == -1 ||
	    store_stats(s, STAT_REJECTED, 0, &rej, &nr) == -1 ||
	    store_stats(s, STAT_JOBS, 0, &jobs, &nj) == -1) {
		cmd_fail(cmd, "%s", store_errmsg(s));
		goto out;
	}
	for (i = 0; i < nd; i++) {
		total += daily[i].n;
		dups += daily[i].extra;
	}
	if (json) {
		json_init(&j, stdout);
		json_open(&j, NULL, 0);
		json_int(&j, "days", days);
		json_time(&j, "since", since);
		json_int(&j, "callbacks", total);
		json_int(&j, "duplicates", dups);
		json_open(&j, "daily", 1);
		for (i = 0; i < nd; i++) {
			json_open(&j, NULL, 0);
			json_str(&j, "day", daily[i].key);
			json_str(&j, "category", daily[i].sub);
			json_int(&j, "callbacks", daily[i].n);
			json_int(&j, "duplicates", daily[i].extra);
			json_close(&j, 0);
		}
		json_close(&j, 1);
		json_open(&j, "rejected", 0);
		for (i = 0; i < nr; i++)
			json_int(&j, rej[i].key ? rej[i].key : "", rej[i].n);
		json_close(&j, 0);
		json_open(&j, "jobs", 0);
		for (i = 0; i < nj; i++)
			json_int(&j, jobs[i].key ? jobs[i].key : "", jobs[i].n);
		json_close(&j, 0);
		json_close(&j, 0);
		json_end(&j);
		rc = EXIT_OK;
		goto out;
	}
	printf("callbacks since %s (%ld day%s, UTC): %" PRId64 ", duplicates "
	    "%" PRId64 "\n", fmt_time(since, 0, tb), days, days == 1 ? "" : "s",
	    total, dups);
	if (nd > 0) {
		t = table_new(4, (const char *[]){ "DAY", "CATEGORY",
		    "^CALLBACKS", "^DUPLICATES" });
		for (i = 0; i < nd; i++)
			table_add(t, (const char *[]){ daily[i].key,
			    daily[i].sub, fmt_int(daily[i].n, a),
			    fmt_int(daily[i].extra, b) });
		table_print(t, stdout);
		table_free(t);
	}
	printf("\nrejected (all kept rows):%s\n", nr == 0 ? " none" : "");
	if (nr > 0) {
		t = table_new(2, (const char *[]){ "REASON", "^COUNT" });
		for (i = 0; i < nr; i++)
			table_add(t, (const char *[]){ rej[i].key,
			    fmt_int(rej[i].n, a) });
		table_print(t, stdout);
		table_free(t);
	}
	printf("\njobs:%s\n", nj == 0 ? " none" : "");
	if (nj > 0) {
		t = table_new(2, (const char *[]){ "STATE", "^COUNT" });
		for (i = 0; i < nj; i++)
			table_add(t, (const char *[]){ jobs[i].key,
			    fmt_int(jobs[i].n, a) });
		table_print(t, stdout);
		table_free(t);
	}
	rc = EXIT_OK;
out:
	store_count_rows_free(daily, nd);
	store_count_rows_free(rej, nr);
	store_count_rows_free(jobs, nj);
	return rc;
}

/* Retention's own minimum (config.c): a shorter purge needs --force. */
#define PURGE_MIN_AGE_MS	(3600 * 1000LL)

/*
 * Below retention's minimum, say what would go (a job not yet run goes
 * with its callback and never runs); without --force stop there.
 */
static int
purge_short(const struct command *cmd, struct store *s, const char *older,
    int64_t before, int force)
{
	struct purge_counts	pc;

	if (store_purge_counts(s, before, before, &pc) == -1)
		return cmd_fail(cmd, "%s", store_errmsg(s));
	fprintf(stderr, "usagehookctl: purge: --older-than %s is below "
	    "retention's minimum of 1h; it %s %" PRId64 " callback%s with "
	    "their %" PRId64 " job%s (%" PRId64 " not yet run, which then "
	    "never run) and %" PRId64 " rejected request%s\n", older,
	    force ? "deletes" : "would delete", pc.callbacks,
	    pc.callbacks == 1 ? "" : "s", pc.jobs, pc.jobs == 1 ? "" : "s",
	    pc.jobs_pending, pc.rejected, pc.rejected == 1 ? "" : "s");
	if (force)
		return EXIT_OK;
	return cmd_fail(cmd, "refused without --force (give --force to "
	    "delete them, or a duration of 1h or more)");
}

/* purge --dry-run: what would go, read-only. */
static int
purge_dry_run(struct ctl *ctl, const struct command *cmd, const char *older,
    int json)
{
	struct store	*s;
	struct json	 j;
	char		 tb[32];
	struct purge_counts	 pc;
	int64_t		 age, before, ncb, njobs, nrej;

	if (ctl_parse_duration(older, &age) == -1)
		return cmd_usage(cmd, "--older-than %s: want a duration "
		    "such as 90s, 30m, 12h or 400d", older);
	if ((s = ctl_store(ctl, cmd, 1)) == NULL)
		return EXIT_FAIL;
	before = ctl_now_ms() - age;
	if (store_purge_counts(s, before, before, &pc) == -1)
		return cmd_fail(cmd, "%s", store_errmsg(s));
	ncb = pc.callbacks;
	njobs = pc.jobs;
	nrej = pc.rejected;
	if (json) {
		json_init(&j, stdout);
		json_open(&j, NULL, 0);
		json_bool(&j, "dry_run", 1);
		json_time(&j, "before", before);
		json_int(&j, "callbacks", ncb);
		json_int(&j, "jobs", njobs);
		json_int(&j, "rejected", nrej);
		json_close(&j, 0);
		json_end(&j);
	} else
		printf("would purge %" PRId64 " callback%s (with %" PRId64
		    " job%s) and %" PRId64 " rejected request%s from before %s;"
		    " nothing deleted (--dry-run)\n", ncb, ncb == 1 ? "" : "s",
		    njobs, njobs == 1 ? "" : "s", nrej, nrej == 1 ? "" : "s",
		    fmt_time(before, 0, tb));
	return EXIT_OK;
}

/* purge: delete what is older than a duration, as retention does daily. */
int
cmd_purge(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "older-than", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct store	*s;
	struct json	 j;
	const char	*older = NULL;
	char		 tb[32];
	int64_t		 age, before, ncb, nrej;
	int		 ch, json = 0, force = 0, dry = 0, rc;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			older = optarg;
			break;
		case 'f':
			force = 1;
			break;
		case 'n':
			dry = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			return cmd_help(cmd);
		default:
			return bad_option(cmd, ch, argv);
		}
	}
	if (optind < argc)
		return cmd_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (older == NULL)
		return cmd_usage(cmd, "--older-than is required");
	if (dry)
		return purge_dry_run(ctl, cmd, older, json);
	if (ctl_parse_duration(older, &age) == -1)
		return cmd_usage(cmd, "--older-than %s: want a duration "
		    "such as 90s, 30m, 12h or 400d", older);
	if ((s = ctl_store(ctl, cmd, 0)) == NULL)
		return EXIT_FAIL;
	before = ctl_now_ms() - age;
	if (age < PURGE_MIN_AGE_MS &&
	    (rc = purge_short(cmd, s, older, before, force)) != EXIT_OK)
		return rc;
	if (store_purge(s, before, before, &ncb, &nrej) == -1)
		return cmd_fail(cmd, "%s (deleted %" PRId64 " callbacks and %"
		    PRId64 " rejected before that)", store_errmsg(s), ncb,
		    nrej);
	if (json) {
		json_init(&j, stdout);
		json_open(&j, NULL, 0);
		json_time(&j, "before", before);
		json_int(&j, "callbacks", ncb);
		json_int(&j, "rejected", nrej);
		json_close(&j, 0);
		json_end(&j);
	} else
		printf("purged %" PRId64 " callback%s (with their jobs) and %"
		    PRId64 " rejected request%s from before %s\n", ncb,
		    ncb == 1 ? "" : "s", nrej, nrej == 1 ? "" : "s",
		    fmt_time(before, 0, tb));
	return EXIT_OK;
}
