/* ctl_replay.c: usagehookctl replay, rerun, test-rules: a callback again. */
#include "config-sys.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actions.h"
#include "callback.h"
#include "client.h"
#include "config.h"
#include "ctl.h"
#include "dispatch.h"
#include "log.h"
#include "rules.h"
#include "signature.h"
#include "store.h"
#include "xmalloc.h"

#define REPLAY_TIMEOUT	30	/* seconds */
#define MATCHED_MAX	64	/* as the daemon's */

/* A URL for a note: "%.*s%s" without its query, which repeats the fields. */
#define NOQUERY(u)	(int)strcspn((u) ? (u) : "-", "?"), (u) ? (u) : "-", \
			((u) && strchr((u), '?')) ? "?..." : ""

/* Headers a replay does not repeat: the new hop sets them, or they lie. */
static const char *const hop_headers[] = {
	"Host", "Content-Length", "Connection", "Keep-Alive",
	"Transfer-Encoding", "TE", "Trailer", "Upgrade", "Expect",
	"Proxy-Connection", "Proxy-Authorization", "Forwarded",
	"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
	"X-Forwarded-Port", "X-Real-IP",
};

/*
 * Credentials the original sender gave the original host (Twilio sends
 * Basic credentials when the callback URL has userinfo): not repeated to
 * another target unless --keep-auth. Proxy-Authorization, meant for the
 * proxy in front, is a hop header above and never repeated.
 */
static const char *const credential_headers[] = {
	"Authorization", "Cookie",
};

/* The stored request's parameters; an exit code when they do not decode. */
static int
stored_params(const struct command *cmd, const struct callback_row *r,
    struct params *p)
{
	const char	*err;

	if (request_params(r->method ? r->method : "", r->uri ? r->uri : "",
	    r->body ? r->body : "", r->bodylen, p, &err) == -1)
		return cmd_fail(cmd, "the stored request of %s does not "
		    "decode: %s", r->token, err);
	return EXIT_OK;
}

/*
 * The URL to send the stored request to: url, plus the stored request-
 * target when url has no path, or the stored query when url has none.
 * Allocated.
 */
static char *
target_url(const char *url, const char *uri)
{
	const char	*auth, *q;
	char		*out;

	auth = strstr(url, "://");
	auth = auth != NULL ? auth + 3 : url;
	if (strpbrk(auth, "/?#") == NULL) {
		xasprintf(&out, "%s%s", url, uri);
		return out;
	}
	if (strchr(url, '?') == NULL && (q = strchr(uri, '?')) != NULL) {
		xasprintf(&out, "%.*s%s", (int)strcspn(url, "#"), url, q);
		return out;
	}
	return xstrdup(url);
}

/* 1 if the original signature holds at target: the URL or its port twin. */
static int
same_url(const char *stored, const char *target)
{
	char	*cand[URL_CANDIDATES];
	size_t	 n, i;
	int	 same = 0;

	if (stored == NULL || (n = signature_url_candidates(stored, cand)) == 0)
		return 0;
	for (i = 0; i < n; i++)
		same |= strcmp(cand[i], target) == 0;
	signature_url_candidates_free(cand, n);
	return same;
}

/* The name in names[0..n) that the header line has, or NULL. */
static const char *
header_in(const char *line, size_t len, const char *const *names, size_t n)
{
	size_t	i, k;

	for (i = 0; i < n; i++) {
		k = strlen(names[i]);
		if (len > k && line[k] == ':' &&
		    strncasecmp(line, names[i], k) == 0)
			return names[i];
	}
	return NULL;
}

/* 1 if host is a loopback address or "localhost": no network crossed. */
static int
loopback_host(const char *host)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

/*
 * 1 if sending to u (through connect, if set) puts the request on a network
 * in clear text to a host other than the one it was sent to first.
 */
static int
plain_to_another_host(const struct client_url *u, const char *connect,
    const char *stored_url)
{
	struct client_url	 su;
	const char		*host;
	char			*err = NULL, *h = NULL;
	size_t			 n;
	int			 other;

	if (connect != NULL) {
		if (strncmp(connect, "unix:", 5) == 0 ||
		    strncasecmp(connect, "https://", 8) == 0)
			return 0;
		/* "host:port" or "[v6]:port" */
		if (connect[0] == '[')
			h = xstrndup(connect + 1, strcspn(connect + 1, "]"));
		else {
			n = strlen(connect);
			while (n > 0 && connect[n - 1] != ':')
				n--;
			h = xstrndup(connect, n > 0 ? n - 1 : strlen(connect));
		}
		host = h;
	} else if (u->tls)
		return 0;
	else
		host = u->host;
	other = !loopback_host(host);
	free(h);
	if (!other)
		return 0;
	memset(&su, 0, sizeof su);
	other = stored_url == NULL || client_url_parse(stored_url, &su,
	    &err) == -1 || strcasecmp(su.host, u->host) != 0;
	client_url_free(&su);
	free(err);
	return other;
}

/*
 * The header lines to send, all of them, so that --dry-run shows exactly
 * what goes out: Host, the stored ones in their order with the signature
 * put in place, Content-Length, Connection. Unless keep_auth, stored
 * credentials are left out and their names put in *dropped ("Cookie, ..."),
 * allocated. Allocated strings.
 */
static char **
replay_headers(const struct callback_row *r, const char *authority,
    const char *sig, int keep_auth, char **dropped, size_t *np)
{
	const char	*line, *eol, *cred;
	char		**h = NULL, *tmp;
	size_t		 n = 0, len;
	int		 signed_ = 0;

#define ADD(...)	do {						\
	h = xreallocarray(h, n + 2, sizeof *h);				\
	xasprintf(&h[n++], __VA_ARGS__);				\
} while (0)
	ADD("Host: %s", authority);
	for (line = r->headers; line != NULL && *line != '\0'; line = eol) {
		eol = strchr(line, '\n');
		len = eol != NULL ? (size_t)(eol - line) : strlen(line);
		if (len > 0 && line[len - 1] == '\r')
			len--;
		eol = eol != NULL ? eol + 1 : NULL;
		if (len == 0 || header_in(line, len, hop_headers,
		    sizeof hop_headers / sizeof hop_headers[0]) != NULL)
			continue;
		if (!keep_auth && (cred = header_in(line, len,
		    credential_headers, sizeof credential_headers /
		    sizeof credential_headers[0])) != NULL) {
			if (*dropped == NULL || strstr(*dropped, cred) == NULL) {
				xasprintf(&tmp, "%s%s%s", *dropped ? *dropped :
				    "", *dropped ? ", " : "", cred);
				free(*dropped);
				*dropped = tmp;
			}
			continue;
		}
		if (len > 18 && strncasecmp(line, "X-Twilio-Signature:", 19) ==
		    0) {
			if (sig != NULL && !signed_)
				ADD("X-Twilio-Signature: %s", sig);
			signed_ = 1;
			continue;
		}
		ADD("%.*s", (int)len, line);
	}
	if (sig != NULL && !signed_)
		ADD("X-Twilio-Signature: %s", sig);
	if (r->bodylen > 0 || method_has_body(r->method))
		ADD("Content-Length: %zu", r->bodylen);
	ADD("Connection: close");
#undef ADD
	h[n] = NULL;
	*np = n;
	return h;
}

/* Free n allocated strings and their array. */
static void
free_lines(char **v, size_t n)
{
	size_t	i;

	for (i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * replay: send the stored request again, to this config's daemon or --to
 * another; re-signed for the target when its URL differs from the stored
 * one (or with --resign), else with the original X-Twilio-Signature.
 */
int
cmd_replay(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "to", required_argument, NULL, 'T' },
		{ "connect", required_argument, NULL, 'C' },
		{ "resign", no_argument, NULL, 'r' },
		{ "keep-auth", no_argument, NULL, 'K' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "token-file", required_argument, NULL, 't' },
		{ "secondary", no_argument, NULL, 's' },
		{ "ca-file", required_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct callback_row	 r;
	struct json		 j;
	struct client_request	 req;
	struct client_response	 resp;
	struct client_url	 u;
	struct params		 p = { NULL, 0, 0, NULL };
	struct config		*conf;
	const char		*to = NULL, *connect_arg = NULL, *sig, *dup;
	const char		*token_file = NULL, *ca_file = NULL, *key;
	char			*target = NULL, *connect = NULL, *base = NULL;
	char			*err = NULL, **hdrs = NULL, *dropped = NULL;
	char			 newsig[SIGNATURE_LEN + 1];
	size_t			 nh = 0, i;
	long			 timeout = REPLAY_TIMEOUT;
	int			 ch, resign = 0, dry = 0, secondary = 0;
	int			 verbose = 0, json = 0, resigned = 0;
	int			 keep_auth = 0;
	int			 rc = EXIT_FAIL;

	memset(&r, 0, sizeof r);
	memset(&u, 0, sizeof u);
	memset(&resp, 0, sizeof resp);
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":hvn", longopts, NULL)) != -1) {
		switch (ch) {
		case 'T':
			to = optarg;
			break;
		case 'C':
			connect_arg = optarg;
			break;
		case 'r':
			resign = 1;
			break;
		case 'K':
			keep_auth = 1;
			break;
		case 'n':
			dry = 1;
			break;
		case 't':
			token_file = optarg;
			break;
		case 's':
			secondary = 1;
			break;
		case 'a':
			ca_file = optarg;
			break;
		case 'o':
			if (ctl_parse_long(optarg, 1, 3600, &timeout) == -1)
				return cmd_usage(cmd, "--timeout %s: want "
				    "seconds from 1 to 3600", optarg);
			break;
		case 'v':
			verbose = 1;
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
	if (to != NULL && !ctl_url_ok(to, &err)) {
		rc = cmd_usage(cmd, "--to %s", err);
		free(err);
		return rc;
	}
	if ((rc = ctl_find_callback(ctl, cmd, key, 1, &r)) != EXIT_OK)
		return rc;
	rc = EXIT_FAIL;

	if (to == NULL) {
		if ((conf = ctl_config(ctl)) == NULL)
			goto out;
		base = ctl_default_url(conf);
		target = target_url(base, r.uri ? r.uri : "/");
		connect = connect_arg ? xstrdup(connect_arg) :
		    ctl_listen_connect(conf->listen);
	} else {
		target = target_url(to, r.uri ? r.uri : "/");
		connect = connect_arg ? xstrdup(connect_arg) : NULL;
	}
	if (client_url_parse(target, &u, &err) == -1) {
		cmd_fail(cmd, "%s", err);
		goto out;
	}

	if (resign || !same_url(r.url, target)) {
		if (method_has_body(r.method) &&
		    stored_params(cmd, &r, &p) != EXIT_OK)
			goto out;
		if (ctl_sign(ctl, cmd, token_file, r.account_sid, secondary,
		    target, method_has_body(r.method) ? &p : NULL,
		    newsig) == -1)
			goto out;
		sig = newsig;
		resigned = 1;
		fprintf(stderr, "usagehookctl: replay: re-signed for %.*s%s "
		    "(stored for %.*s%s)\n", NOQUERY(target), NOQUERY(r.url));
	} else {
		sig = r.signature;
		fprintf(stderr, "usagehookctl: replay: original signature, "
		    "for %.*s%s\n", NOQUERY(r.url));
	}
	hdrs = replay_headers(&r, u.authority, sig, keep_auth, &dropped, &nh);
	if (dropped != NULL)
		fprintf(stderr, "usagehookctl: replay: left out the stored %s "
		    "(credentials for the original URL); --keep-auth sends "
		    "them\n", dropped);
	if (plain_to_another_host(&u, connect, r.url))
		fprintf(stderr, "usagehookctl: replay: warning: a signed "
		    "request%s goes over plain http to %s, not the host it was "
		    "sent to: anyone on the way can read it and send it again "
		    "there\n", keep_auth ? ", with any stored credentials," :
		    "", u.host);

	if (dry) {
		fprintf(stderr, "usagehookctl: replay: would send to %.*s%s%s%s"
		    "\n", NOQUERY(target), connect ? " via " : "",
		    connect ? connect : "");
		if (json) {
			json_init(&j, stdout);
			json_open(&j, NULL, 0);
			json_str(&j, "idempotency_token", r.token);
			json_str(&j, "method", r.method);
			json_str(&j, "url", target);
			json_str(&j, "connect", connect);
			json_bool(&j, "resigned", resigned);
			json_str(&j, "signature", sig);
			json_open(&j, "headers", 1);
			for (i = 0; i < nh; i++)
				json_str(&j, NULL, hdrs[i]);
			json_close(&j, 1);
			json_strn(&j, "body", r.body, r.bodylen);
			json_close(&j, 0);
			json_end(&j);
			rc = EXIT_OK;
			goto out;
		}
		printf("%s %s HTTP/1.1\r\n", r.method, u.target);
		for (i = 0; i < nh; i++)
			printf("%s\r\n", hdrs[i]);
		fputs("\r\n", stdout);
		print_raw_body(r.body, r.bodylen);
		rc = EXIT_OK;
		goto out;
	}

	memset(&req, 0, sizeof req);
	req.method = r.method;
	req.url = target;
	req.connect = connect;
	req.ca_file = ca_file;
	req.headers = (const char **)hdrs;
	req.body = r.bodylen > 0 ? r.body : NULL;
	req.bodylen = r.bodylen;
	req.timeout_ms = (int)timeout * 1000;
	req.trace = verbose ? stderr : NULL;
	if (client_do(&req, &resp, &err) == -1) {
		cmd_fail(cmd, "%s", err);
		goto out;
	}
	dup = client_header(&resp, "X-Usagehook-Duplicate");
	if (json) {
		json_init(&j, stdout);
		json_open(&j, NULL, 0);
		json_str(&j, "idempotency_token", r.token);
		json_str(&j, "url", target);
		json_str(&j, "connect", connect);
		json_bool(&j, "resigned", resigned);
		json_int(&j, "status", resp.status);
		json_str(&j, "reason", resp.reason);
		json_bool(&j, "duplicate", dup && strcmp(dup, "1") == 0);
		json_close(&j, 0);
		json_end(&j);
	} else
		printf("%d %s IdempotencyToken=%s%s\n", resp.status,
		    resp.reason, r.token ? r.token : "",
		    dup && strcmp(dup, "1") == 0 ? " duplicate" : "");
	if (resp.status >= 200 && resp.status < 300)
		rc = EXIT_OK;
	else if (resp.bodylen > 0)
		fprintf(stderr, "%.*s%s", (int)resp.bodylen, resp.body,
		    resp.body[resp.bodylen - 1] == '\n' ? "" : "\n");
out:
	client_response_free(&resp);
	client_url_free(&u);
	free_lines(hdrs, nh);
	free(dropped);
	free(err);
	free(base);
	free(target);
	free(connect);
	params_free(&p);
	store_callback_row_clear(&r);
	return rc;
}

/* An action's target for a person: argv, URL, path or the log line. */
static char *
action_target(const struct action *a, const struct params *p)
{
	char	*out = NULL, *arg, *tmp;
	size_t	 i;

	switch (a->kind) {
	case ACTION_EXEC:
		for (i = 0; i < a->argc; i++) {
			if ((arg = template_expand(a->argv[i], p)) == NULL)
				arg = xstrdup(a->argv[i]);
			/* Quoted as a shell would need it: still no shell. */
			if (*arg == '\0' || arg[strcspn(arg, " \t\n'\"\\$`*?[]"
			    "<>|&;(){}#~")] != '\0')
				xasprintf(&tmp, "%s%s'%s'", out ? out : "",
				    out ? " " : "", arg);
			else
				xasprintf(&tmp, "%s%s%s", out ? out : "",
				    out ? " " : "", arg);
			free(out);
			free(arg);
			out = tmp;
		}
		return out != NULL ? out : xstrdup("");
	case ACTION_HTTP:
		/* Never a secret URL whole: only what tells it apart. */
		if ((out = action_url_shown(a)) == NULL)
			fatalx("out of memory");
		return out;
	case ACTION_APPEND:
		return xstrdup(a->path ? a->path : "");
	case ACTION_LOG:
		if ((out = template_expand(a->template ? a->template : "",
		    p)) == NULL)
			out = xstrdup(a->template ? a->template : "");
		return out;
	case ACTION_TWILIO:
		if ((arg = template_expand(a->account ? a->account :
		    "{AccountSid}", p)) == NULL)
			fatalx("out of memory");
		xasprintf(&out, "%s %s%s", a->twilio == TWILIO_SUSPEND ?
		    "suspend" : "activate", arg, a->twilio == TWILIO_SUSPEND &&
		    a->end_calls ? ", end its calls" : "");
		free(arg);
		return out;
	}
	return xstrdup("");
}

/* The rule named name, or NULL after a message with a suggestion. */
static const struct rule *
find_rule(const struct command *cmd, const struct config *conf,
    const char *name)
{
	const char	**names;
	const char	*sug;
	size_t		 i;

	for (i = 0; i < conf->nrules; i++)
		if (strcmp(conf->rules[i].name, name) == 0)
			return &conf->rules[i];
	names = xreallocarray(NULL, conf->nrules + 1, sizeof *names);
	for (i = 0; i < conf->nrules; i++)
		names[i] = conf->rules[i].name;
	sug = config_suggest(name, names, conf->nrules);
	cmd_fail(cmd, "%s has no rule named %s%s%s%s", conf->file, name,
	    sug ? " (did you mean " : "", sug ? sug : "", sug ? "?)" : "");
	free(names);
	return NULL;
}

/*
 * rerun: queue the actions of the rules the callback matches (or of one
 * rule) again in the outbox; the running daemon starts them within about
 * a second, with the same retries and dead letters.
 */
int
cmd_rerun(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "rule", required_argument, NULL, 'r' },
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct rule	*matched[MATCHED_MAX];
	struct callback_row	 r;
	struct params		 p = { NULL, 0, 0, NULL };
	struct job_spec		*specs = NULL;
	struct config		*conf;
	struct table		*t;
	struct json		 j;
	const char		*rule = NULL, *key;
	char			 id[24], act[32], **targets = NULL;
	int64_t			*ids = NULL;
	size_t			 nm, njobs = 0, i, k, c;
	int			 ch, json = 0, force = 0, rc;

	memset(&r, 0, sizeof r);
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			rule = optarg;
			break;
		case 'f':
			force = 1;
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
	if ((conf = ctl_config(ctl)) == NULL)
		return EXIT_FAIL;
	if ((rc = ctl_find_callback(ctl, cmd, key, 0, &r)) != EXIT_OK)
		return rc;
	rc = EXIT_FAIL;
	if (stored_params(cmd, &r, &p) != EXIT_OK)
		goto out;
	if (rule != NULL) {
		if ((matched[0] = find_rule(cmd, conf, rule)) == NULL)
			goto out;
		nm = 1;
		/* A breaker run by mistake suspends an account: ask for it. */
		if (!rule_matches(matched[0], &p) && !force) {
			cmd_fail(cmd, "rule %s does not match %s: nothing "
			    "queued (`usagehookctl test-rules %s` says why; "
			    "--force queues its actions anyway)", rule, r.token,
			    r.token);
			goto out;
		}
		if (!rule_matches(matched[0], &p))
			cmd_warn(cmd, "rule %s does not match %s; its actions "
			    "are queued as --force asks", rule, r.token);
	} else if ((nm = rules_match(conf, &p, matched, MATCHED_MAX)) == 0) {
		cmd_fail(cmd, "no rule in %s matches %s: nothing to queue "
		    "(`usagehookctl test-rules %s` says why)", conf->file,
		    r.token, r.token);
		goto out;
	}
	for (i = 0; i < nm; i++)
		njobs += matched[i]->nactions;
	if (njobs == 0) {
		cmd_fail(cmd, "the matching rules have no actions");
		goto out;
	}
	specs = xcalloc(njobs, sizeof *specs);
	targets = xcalloc(njobs, sizeof *targets);
	ids = xcalloc(njobs, sizeof *ids);
	for (i = 0, c = 0; i < nm; i++) {
		for (k = 0; k < matched[i]->nactions; k++, c++) {
			const struct action *a = &matched[i]->actions[k];

			specs[c].rule = matched[i]->name;
			specs[c].action = (int)k;
			specs[c].kind = action_kind_name(a->kind);
			specs[c].max_attempts = a->max_attempts > 0 ?
			    a->max_attempts : conf->dispatch.max_attempts;
			targets[c] = action_target(a, &p);
		}
	}
	if (store_jobs_add(ctl->store, r.id, specs, njobs, ids) == -1) {
		cmd_fail(cmd, "%s", store_errmsg(ctl->store));
		goto out;
	}
	if (json) {
		json_init(&j, stdout);
		json_open(&j, NULL, 0);
		json_int(&j, "callback_id", r.id);
		json_str(&j, "idempotency_token", r.token);
		json_open(&j, "jobs", 1);
		for (i = 0; i < njobs; i++) {
			json_open(&j, NULL, 0);
			json_int(&j, "id", ids[i]);
			json_str(&j, "rule", specs[i].rule);
			json_int(&j, "action", specs[i].action + 1);
			json_str(&j, "kind", specs[i].kind);
			json_str(&j, "target", targets[i]);
			json_int(&j, "max_attempts", specs[i].max_attempts);
			json_close(&j, 0);
		}
		json_close(&j, 1);
		json_close(&j, 0);
		json_end(&j);
	} else {
		t = table_new(4, (const char *[]){ "^JOB", "RULE", "ACTION",
		    "TARGET" });
		for (i = 0; i < njobs; i++) {
			snprintf(act, sizeof act, "#%d %s", specs[i].action + 1,
			    specs[i].kind);
			table_add(t, (const char *[]){ fmt_int(ids[i], id),
			    specs[i].rule, act, targets[i] });
		}
		table_print(t, stdout);
		table_free(t);
	}
	rc = EXIT_OK;
out:
	for (i = 0; targets != NULL && i < njobs; i++)
		free(targets[i]);
	free(targets);
	free(specs);
	free(ids);
	params_free(&p);
	store_callback_row_clear(&r);
	return rc;
}

static const char *const cmp_names[] = {
	[CMP_LT] = "<", [CMP_LE] = "<=", [CMP_GT] = ">", [CMP_GE] = ">=",
	[CMP_EQ] = "==", [CMP_NE] = "!=",
};

/* Why a rule does not match p: its first condition that fails; allocated. */
static char *
why_not(const struct rule *rule, const struct params *p)
{
	const struct match	*m;
	const char		*v;
	char			*want = NULL, *tmp, *out;
	size_t			 i, k;

	for (i = 0; i < rule->nmatches; i++) {
		m = &rule->matches[i];
		v = params_get(p, m->param);
		/* As rule_matches: a one-off trigger has no Recurring. */
		if (v == NULL && strcmp(m->param, "Recurring") == 0)
			v = "";
		if (match_holds(m, v))
			continue;
		for (k = 0; k < m->nvalues; k++) {
			const struct match_value *mv = &m->values[k];

			if (mv->kind == MATCH_CMP)
				xasprintf(&tmp, "%s%s%s %g", want ? want : "",
				    want ? " or " : "", cmp_names[mv->op],
				    mv->number);
			else
				xasprintf(&tmp, "%s%s\"%s\"", want ? want : "",
				    want ? " or " : "", mv->text);
			free(want);
			want = tmp;
		}
		if (v == NULL)
			xasprintf(&out, "%s is absent, want %s", m->param,
			    want ? want : "-");
		else
			xasprintf(&out, "%s is \"%s\", want %s", m->param, v,
			    want ? want : "-");
		free(want);
		return out;
	}
	return NULL;
}

/* Replace or add the K=V overrides in p. */
static void
apply_overrides(struct params *p, const struct params *over)
{
	struct params	 out = { NULL, 0, 0, NULL };
	size_t		 i;

	for (i = 0; i < p->n; i++)
		if (params_get(over, p->v[i].name) == NULL &&
		    params_add(&out, p->v[i].name, strlen(p->v[i].name),
		    p->v[i].value, strlen(p->v[i].value)) == -1)
			abort();
	for (i = 0; i < over->n; i++)
		if (params_add(&out, over->v[i].name, strlen(over->v[i].name),
		    over->v[i].value, strlen(over->v[i].value)) == -1)
			abort();
	params_free(p);
	*p = out;
}

/* One K=V into p; a usage error for anything else. */
static int
add_param(const struct command *cmd, const char *kv, struct params *p)
{
	const char	*eq = strchr(kv, '=');

	if (eq == NULL || eq == kv)
		return cmd_usage(cmd, "'%s' is not NAME=VALUE", kv);
	if (params_add(p, kv, (size_t)(eq - kv), eq + 1, strlen(eq + 1)) ==
	    -1)
		abort();
	return EXIT_OK;
}

/*
 * test-rules: which rules match a stored callback or given parameters and
 * which actions would run; nothing is queued, sent or written.
 */
int
cmd_test_rules(struct ctl *ctl, const struct command *cmd, int argc,
    char **argv)
{
	static const struct option	 longopts[] = {
		{ "param", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct rule	*matched[MATCHED_MAX];
	struct callback_row	 r;
	struct params		 over = { NULL, 0, 0, NULL };
	struct params		 p = { NULL, 0, 0, NULL };
	struct config		*conf;
	struct table		*t = NULL;
	struct json		 j;
	const struct rule	*ru;
	const char		*key = NULL, *result, *first = NULL;
	char			*why, *target;
	size_t			 nm, i, k, m, nactions = 0;
	int			 ch, json = 0, rc = EXIT_USAGE, in;

	memset(&r, 0, sizeof r);
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			if (add_param(cmd, optarg, &over) != EXIT_OK)
				goto out;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			params_free(&over);
			return cmd_help(cmd);
		default:
			rc = bad_option(cmd, ch, argv);
			goto out;
		}
	}
	for (i = optind; i < (size_t)argc; i++) {
		if (strchr(argv[i], '=') != NULL) {
			if (add_param(cmd, argv[i], &over) != EXIT_OK)
				goto out;
		} else if (key == NULL)
			key = argv[i];
		else {
			rc = cmd_usage(cmd, "unexpected argument '%s'",
			    argv[i]);
			goto out;
		}
	}
	if (key == NULL && over.n == 0) {
		rc = cmd_usage(cmd, "give a callback (TOKEN or ID) or "
		    "--param NAME=VALUE");
		goto out;
	}
	rc = EXIT_FAIL;
	if ((conf = ctl_config(ctl)) == NULL)
		goto out;
	if (key != NULL) {
		if ((rc = ctl_find_callback(ctl, cmd, key, 1, &r)) != EXIT_OK)
			goto out;
		rc = EXIT_FAIL;
		if (stored_params(cmd, &r, &p) != EXIT_OK)
			goto out;
	}
	apply_overrides(&p, &over);
	nm = rules_match(conf, &p, matched, MATCHED_MAX);

	if (json) {
		json_init(&j, stdout);
		json_open(&j, NULL, 0);
		if (key != NULL)
			json_str(&j, "idempotency_token", r.token);
		json_params(&j, "params", &p);
		json_open(&j, "rules", 1);
	} else
		t = table_new(3, (const char *[]){ "RULE", "RESULT", "WHY" });
	for (i = 0; i < conf->nrules; i++) {
		ru = &conf->rules[i];
		for (in = 0, m = 0; m < nm; m++)
			in |= matched[m] == ru;
		why = NULL;
		if (in) {
			result = "match";
			if (first == NULL && !ru->cont)
				first = ru->name;
		} else if (rule_matches(ru, &p)) {
			result = "skipped";
			xasprintf(&why, "rule %s matched first and does not "
			    "continue", first ? first : "?");
		} else {
			result = "no";
			why = why_not(ru, &p);
		}
		if (json) {
			json_open(&j, NULL, 0);
			json_str(&j, "name", ru->name);
			json_str(&j, "result", result);
			json_str(&j, "why", why);
			json_open(&j, "actions", 1);
		} else
			table_add(t, (const char *[]){ ru->name, result, why });
		for (k = 0; in && k < ru->nactions; k++) {
			target = action_target(&ru->actions[k], &p);
			nactions++;
			if (json) {
				json_open(&j, NULL, 0);
				json_int(&j, "action", (int64_t)k + 1);
				json_str(&j, "kind",
				    action_kind_name(ru->actions[k].kind));
				json_str(&j, "target", target);
				json_close(&j, 0);
			} else
				table_note(t, "action #%zu %s: %s", k + 1,
				    action_kind_name(ru->actions[k].kind),
				    target);
			free(target);
		}
		if (json) {
			json_close(&j, 1);
			json_close(&j, 0);
		}
		free(why);
	}
	if (json) {
		json_close(&j, 1);
		json_int(&j, "actions", (int64_t)nactions);
		json_close(&j, 0);
		json_end(&j);
	} else {
		if (conf->nrules > 0)
			table_print(t, stdout);
		if (nactions == 0)
			printf("no rule matches: nothing would run\n");
		else
			printf("%zu action%s would run\n", nactions,
			    nactions == 1 ? "" : "s");
	}
	rc = EXIT_OK;
out:
	table_free(t);
	params_free(&over);
	params_free(&p);
	store_callback_row_clear(&r);
	return rc;
}
