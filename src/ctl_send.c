/* ctl_send.c: usagehookctl check-config, sign and send: signed firings. */
#include "config-sys.h"

#include <sys/random.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "callback.h"
#include "client.h"
#include "config.h"
#include "ctl.h"
#include "log.h"
#include "rules.h"
#include "signature.h"
#include "xmalloc.h"

#define TOKEN_FILE_MAX	4096
#define SEND_TIMEOUT	30	/* seconds */

/* The UsageTrigger fields send fills in, in the order it sends them. */
static const char *const send_fields[] = {
	"AccountSid", "UsageTriggerSid", "DateFired", "Recurring",
	"UsageCategory", "TriggerBy", "TriggerValue", "CurrentValue",
	"UsageRecordUri", "IdempotencyToken",
};

/* Hex of n random bytes into out (2n + 1 bytes). */
static void
random_hex(char *out, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 buf[64];
	size_t			 i;

	if (n > sizeof buf)
		fatalx("random_hex: %zu bytes", n);
	if (getrandom(buf, n, 0) != (ssize_t)n)
		fatal("getrandom");
	for (i = 0; i < n; i++) {
		out[2 * i] = hex[buf[i] >> 4];
		out[2 * i + 1] = hex[buf[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* The contents of a token file without trailing newlines; allocated. */
static char *
read_token_file(const char *path, char **err)
{
	char	 buf[TOKEN_FILE_MAX + 1], *tok;
	size_t	 len = 0;
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		xasprintf(err, "%s: %s", path, strerror(errno));
		return NULL;
	}
	while (len < sizeof buf - 1 &&
	    (n = read(fd, buf + len, sizeof buf - 1 - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			xasprintf(err, "%s: %s", path, strerror(errno));
			close(fd);
			explicit_bzero(buf, sizeof buf);
			return NULL;
		}
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	if (len == 0 || strlen(buf) != len || strpbrk(buf, "\r\n") != NULL ||
	    len >= TOKEN_FILE_MAX) {
		xasprintf(err, "%s: want one line with the auth token", path);
		explicit_bzero(buf, sizeof buf);
		return NULL;
	}
	tok = xstrdup(buf);
	explicit_bzero(buf, sizeof buf);
	return tok;
}

/*
 * The auth token to sign with: the token file, else the config account
 * whose sid is sid (the first account when sid is NULL), its secondary
 * token if asked. Allocated (free with freezero_str); NULL after a message.
 */
static char *
signing_token(struct ctl *ctl, const struct command *cmd,
    const char *token_file, const char *sid, int secondary)
{
	const struct account	*acct;
	struct config		*conf;
	char			*tok, *err = NULL;

	if (token_file != NULL) {
		if ((tok = read_token_file(token_file, &err)) == NULL) {
			cmd_fail(cmd, "token file %s", err);
			free(err);
		}
		return tok;
	}
	if ((conf = ctl_config(ctl)) == NULL)
		return NULL;
	if (sid != NULL)
		acct = config_account(conf, sid);
	else
		acct = conf->naccounts > 0 ? &conf->accounts[0] : NULL;
	if (acct == NULL) {
		if (sid != NULL)
			cmd_fail(cmd, "AccountSid %s is not in %s; give "
			    "--token-file", sid, conf->file);
		else
			cmd_fail(cmd, "%s has no accounts; give --token-file",
			    conf->file);
		return NULL;
	}
	if (secondary && acct->secondary == NULL) {
		cmd_fail(cmd, "account %s has no secondary token", acct->sid);
		return NULL;
	}
	return xstrdup(secondary ? acct->secondary : acct->token);
}

int
ctl_sign(struct ctl *ctl, const struct command *cmd, const char *token_file,
    const char *sid, int secondary, const char *url,
    const struct params *params, char sig[SIGNATURE_LEN + 1])
{
	char	*token;
	int	 rc;

	if ((token = signing_token(ctl, cmd, token_file, sid, secondary)) ==
	    NULL)
		return -1;
	if ((rc = signature_compute(token, url, params, sig)) == -1)
		cmd_fail(cmd, "cannot compute the signature");
	freezero_str(token);
	return rc;
}

/* Upper-cased method if Twilio may use it; 1 if its params go in a body. */
static int
method_check(char *m, int *body)
{
	static const char *const	 bodies[] = { "POST", "PUT", "PATCH" };
	static const char *const	 queries[] = { "GET", "DELETE", "HEAD" };
	size_t				 i;
	char				*p;

	for (p = m; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			*p -= 'a' - 'A';
	for (i = 0; i < 3; i++) {
		if (strcmp(m, bodies[i]) == 0) {
			*body = 1;
			return 0;
		}
		if (strcmp(m, queries[i]) == 0) {
			*body = 0;
			return 0;
		}
	}
	return -1;
}

/* Append K=V arguments to p; -1 (usage error) on one without a name. */
static int
parse_kv(const struct command *cmd, int argc, char **argv,
    struct params *p)
{
	const char	*eq;
	int		 i;

	for (i = 0; i < argc; i++) {
		if ((eq = strchr(argv[i], '=')) == NULL || eq == argv[i]) {
			cmd_usage(cmd, "'%s' is not NAME=VALUE", argv[i]);
			return -1;
		}
		if (params_add(p, argv[i], (size_t)(eq - argv[i]), eq + 1,
		    strlen(eq + 1)) == -1)
			fatalx("out of memory");
	}
	return 0;
}

int
ctl_url_ok(const char *url, char **err)
{
	struct client_url	 u;

	if (client_url_parse(url, &u, err) == -1)
		return 0;
	client_url_free(&u);
	return 1;
}

/* url with p appended to its query, percent-encoded; allocated. */
static char *
url_with_query(const char *url, const struct params *p)
{
	char		*q, *out;
	size_t		 len = strlen(url);
	const char	*sep = "&";

	if (p->n == 0)
		return xstrdup(url);
	if (strchr(url, '?') == NULL)
		sep = "?";
	else if (len > 0 && (url[len - 1] == '?' || url[len - 1] == '&'))
		sep = "";
	q = client_form_encode(p);
	xasprintf(&out, "%s%s%s", url, sep, q);
	free(q);
	return out;
}

/* The first AccountSid in p, else in the query of url; allocated or NULL. */
static char *
account_sid_of(const struct params *p, const char *url)
{
	struct params	 q = { NULL, 0, 0, NULL };
	const char	*s, *qs, *why;
	char		*sid = NULL;

	if ((s = params_get(p, "AccountSid")) != NULL)
		return xstrdup(s);
	if ((qs = strchr(url, '?')) == NULL)
		return NULL;
	qs++;
	if (form_decode(qs, strcspn(qs, "#"), &q, &why) == 0 &&
	    (s = params_get(&q, "AccountSid")) != NULL)
		sid = xstrdup(s);
	params_free(&q);
	return sid;
}

/* check-config: load the file, print every problem, or "configuration OK". */
int
cmd_check_config(struct ctl *ctl, const struct command *cmd, int argc,
    char **argv)
{
	static const struct option	 longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int				 ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (ch == 'h')
			return cmd_help(cmd);
		return bad_option(cmd, ch, argv);
	}
	if (optind < argc)
		return cmd_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (ctl_config(ctl) == NULL)
		return EXIT_FAIL;
	printf("configuration OK\n");
	return EXIT_OK;
}

/* categories: Twilio's usage categories, one a line (for completion too). */
int
cmd_categories(struct ctl *ctl, const struct command *cmd, int argc,
    char **argv)
{
	static const struct option	 longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *const		*list;
	struct json			 j;
	size_t				 i, n;
	int				 ch, json = 0;

	(void)ctl;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (ch == 'j')
			json = 1;
		else if (ch == 'h')
			return cmd_help(cmd);
		else
			return bad_option(cmd, ch, argv);
	}
	if (optind < argc)
		return cmd_usage(cmd, "unexpected argument '%s'", argv[optind]);
	list = category_list(&n);
	if (json) {
		json_init(&j, stdout);
		json_open(&j, NULL, 1);
		for (i = 0; i < n; i++)
			json_str(&j, NULL, list[i]);
		json_close(&j, 1);
		json_end(&j);
	} else
		for (i = 0; i < n; i++)
			printf("%s\n", list[i]);
	return EXIT_OK;
}

/*
 * sign: print the X-Twilio-Signature of a request. For POST/PUT/PATCH the
 * K=V are the body parameters; for GET/DELETE/HEAD they are appended to the
 * URL's query (percent-encoded as send does) and the signature covers that
 * URL alone; -v prints the URL signed on stderr.
 */
int
cmd_sign(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "method", required_argument, NULL, 'm' },
		{ "token-file", required_argument, NULL, 't' },
		{ "secondary", no_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct params	 p = { NULL, 0, 0, NULL };
	char		*url = NULL, *method = NULL, *signed_url = NULL;
	char		*sid = NULL, sig[SIGNATURE_LEN + 1];
	char		*uerr = NULL;
	const char	*token_file = NULL;
	int		 ch, secondary = 0, verbose = 0, body = 1;
	int		 rc = EXIT_FAIL;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":hv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			url = optarg;
			break;
		case 'm':
			method = optarg;
			break;
		case 't':
			token_file = optarg;
			break;
		case 's':
			secondary = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			return cmd_help(cmd);
		default:
			return bad_option(cmd, ch, argv);
		}
	}
	if (url == NULL)
		return cmd_usage(cmd, "--url is required");
	if (!ctl_url_ok(url, &uerr)) {
		rc = cmd_usage(cmd, "%s", uerr);
		free(uerr);
		return rc;
	}
	if (method != NULL && method_check(method, &body) == -1)
		return cmd_usage(cmd, "method %s: want GET, POST, PUT, PATCH, "
		    "DELETE or HEAD", method);
	if (parse_kv(cmd, argc - optind, argv + optind, &p) == -1)
		return EXIT_USAGE;

	signed_url = body ? xstrdup(url) : url_with_query(url, &p);
	sid = account_sid_of(&p, signed_url);
	if (ctl_sign(ctl, cmd, token_file, sid, secondary, signed_url,
	    body ? &p : NULL, sig) == -1)
		goto out;
	if (verbose)
		fprintf(stderr, "url: %s\n", signed_url);
	printf("%s\n", sig);
	rc = EXIT_OK;
out:
	free(sid);
	free(signed_url);
	params_free(&p);
	return rc;
}

char *
ctl_listen_connect(const char *listen)
{
	const char	*colon;
	char		*out;

	if (strncmp(listen, "unix:", 5) == 0)
		return xstrdup(listen);
	/* The daemon's listener speaks plain HTTP whatever the public URL. */
	if ((colon = strrchr(listen, ':')) == NULL)
		xasprintf(&out, "http://%s", listen);
	else if (colon == listen || strncmp(listen, "0.0.0.0:", 8) == 0 ||
	    strncmp(listen, "*:", 2) == 0)
		xasprintf(&out, "http://127.0.0.1%s", colon);
	else if (strncmp(listen, "[::]:", 5) == 0)
		xasprintf(&out, "http://[::1]%s", colon);
	else
		xasprintf(&out, "http://%s", listen);
	return out;
}

char *
ctl_default_url(const struct config *conf)
{
	char	*url, *c;

	if (conf->public_url != NULL)
		xasprintf(&url, "%s%s", conf->public_url, conf->path);
	else if (strncmp(conf->listen, "unix:", 5) == 0)
		xasprintf(&url, "http://localhost%s", conf->path);
	else {
		c = ctl_listen_connect(conf->listen);
		xasprintf(&url, "%s%s", c, conf->path);
		free(c);
	}
	return url;
}

/* "Daily" for "daily": the UsageRecord subresource a trigger watches. */
static const char *
records_subresource(const char *recurring)
{
	if (strcmp(recurring, "daily") == 0)
		return "/Daily";
	if (strcmp(recurring, "monthly") == 0)
		return "/Monthly";
	if (strcmp(recurring, "yearly") == 0)
		return "/Yearly";
	return "";
}

/* 1 if name is among the -H headers. */
static int
has_header(char **hdrs, size_t n, const char *name)
{
	size_t	i, len = strlen(name);

	for (i = 0; i < n; i++)
		if (strncasecmp(hdrs[i], name, len) == 0 &&
		    hdrs[i][len] == ':')
			return 1;
	return 0;
}

/* The value of a field: the user's if given, else the default. */
static const char *
field(const struct params *user, const struct params *dflt,
    const char *name)
{
	const char	*v;

	if ((v = params_get(user, name)) != NULL)
		return v;
	return params_get(dflt, name);
}

/*
 * The parameters of a simulated firing: defaults for the fields not given
 * (AccountSid from the config), then the user's K=V in their order.
 */
static int
firing_params(struct ctl *ctl, const struct command *cmd,
    const struct params *user, int bare, struct params *out)
{
	struct params	 d = { NULL, 0, 0, NULL };
	struct config	*conf;
	char		 ut[SID_LEN + 1], rnd[33], date[64], *s, *cat;
	const char	*ac, *v;
	struct tm	 tm;
	time_t		 now;
	size_t		 i;

#define ADD(n, val)	do {						\
	if (params_add(&d, (n), strlen(n), (val), strlen(val)) == -1)	\
		fatalx("out of memory");				\
} while (0)
	if (!bare) {
		if ((ac = params_get(user, "AccountSid")) == NULL) {
			if ((conf = ctl_config(ctl)) == NULL)
				return -1;
			if (conf->naccounts == 0) {
				cmd_fail(cmd, "%s has no accounts; give "
				    "AccountSid=AC...", conf->file);
				return -1;
			}
			ac = conf->accounts[0].sid;
		}
		ADD("AccountSid", ac);
		ut[0] = 'U';
		ut[1] = 'T';
		random_hex(ut + 2, 16);
		ADD("UsageTriggerSid", ut);
		now = time(NULL);
		gmtime_r(&now, &tm);
		strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
		ADD("DateFired", date);
		ADD("Recurring", "daily");
		ADD("UsageCategory", "sms");
		ADD("TriggerBy", "count");
		ADD("TriggerValue", "1000");
		ADD("CurrentValue", "1001");
		v = field(user, &d, "UsageCategory");
		cat = client_urlencode(v, strlen(v));
		xasprintf(&s, "/2010-04-01/Accounts/%s/Usage/Records%s"
		    "?Category=%s", field(user, &d, "AccountSid"),
		    records_subresource(field(user, &d, "Recurring")), cat);
		free(cat);
		ADD("UsageRecordUri", s);
		free(s);
		random_hex(rnd, 16);
		xasprintf(&s, "%s-FIRES-%s-%s", field(user, &d, "AccountSid"),
		    field(user, &d, "UsageTriggerSid"), rnd);
		ADD("IdempotencyToken", s);
		free(s);
	}
#undef ADD
	for (i = 0; i < sizeof send_fields / sizeof send_fields[0]; i++) {
		if (params_get(user, send_fields[i]) != NULL ||
		    (v = params_get(&d, send_fields[i])) == NULL)
			continue;
		if (params_add(out, send_fields[i], strlen(send_fields[i]), v,
		    strlen(v)) == -1)
			fatalx("out of memory");
	}
	for (i = 0; i < user->n; i++)
		if (params_add(out, user->v[i].name, strlen(user->v[i].name),
		    user->v[i].value, strlen(user->v[i].value)) == -1)
			fatalx("out of memory");
	params_free(&d);
	return 0;
}

/*
 * send: simulate a UsageTrigger firing, signed as Twilio signs it, and
 * print "<status> <reason> IdempotencyToken=<token>[ duplicate]".
 */
int
cmd_send(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "connect", required_argument, NULL, 'C' },
		{ "method", required_argument, NULL, 'm' },
		{ "token-file", required_argument, NULL, 't' },
		{ "secondary", no_argument, NULL, 's' },
		{ "ca-file", required_argument, NULL, 'a' },
		{ "header", required_argument, NULL, 'H' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "bare", no_argument, NULL, 'b' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct client_request	 req;
	struct client_response	 resp;
	struct params		 user = { NULL, 0, 0, NULL };
	struct params		 p = { NULL, 0, 0, NULL };
	struct config		*conf;
	char			*url = NULL, *method = NULL, *connect = NULL;
	char			*req_url = NULL, *form = NULL;
	char			*sid = NULL, *err = NULL, *end;
	char			 sig[SIGNATURE_LEN + 1], *sighdr = NULL;
	char			**uhdrs = NULL;
	const char		**hdrs = NULL, *tok, *dup;
	const char		*token_file = NULL, *ca_file = NULL;
	size_t			 nuhdrs = 0, nh = 0, i;
	long			 timeout = SEND_TIMEOUT;
	int			 ch, secondary = 0, verbose = 0, bare = 0;
	int			 body = 1, rc = EXIT_FAIL;

	memset(&resp, 0, sizeof resp);
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":hvH:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			url = optarg;
			break;
		case 'C':
			connect = optarg;
			break;
		case 'm':
			method = optarg;
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
		case 'H':
			if (strchr(optarg, ':') == NULL) {
				free(uhdrs);
				return cmd_usage(cmd, "-H '%s': want "
				    "'Name: value'", optarg);
			}
			uhdrs = xreallocarray(uhdrs, nuhdrs + 1,
			    sizeof *uhdrs);
			uhdrs[nuhdrs++] = optarg;
			break;
		case 'T':
			errno = 0;
			timeout = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || timeout < 1 ||
			    timeout > 3600) {
				free(uhdrs);
				return cmd_usage(cmd, "--timeout %s: want "
				    "seconds from 1 to 3600", optarg);
			}
			break;
		case 'b':
			bare = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			free(uhdrs);
			return cmd_help(cmd);
		default:
			free(uhdrs);
			return bad_option(cmd, ch, argv);
		}
	}
	if (method != NULL && method_check(method, &body) == -1) {
		free(uhdrs);
		return cmd_usage(cmd, "method %s: want GET, POST, PUT, PATCH, "
		    "DELETE or HEAD", method);
	}
	if (url != NULL && !ctl_url_ok(url, &err)) {
		free(uhdrs);
		rc = cmd_usage(cmd, "%s", err);
		free(err);
		return rc;
	}
	if (parse_kv(cmd, argc - optind, argv + optind, &user) == -1) {
		free(uhdrs);
		return EXIT_USAGE;
	}

	if (firing_params(ctl, cmd, &user, bare, &p) == -1)
		goto out;
	if (url == NULL) {
		if ((conf = ctl_config(ctl)) == NULL)
			goto out;
		req_url = ctl_default_url(conf);
		if (connect == NULL)
			connect = ctl_listen_connect(conf->listen);
		else
			connect = xstrdup(connect);
	} else {
		req_url = xstrdup(url);
		connect = connect ? xstrdup(connect) : NULL;
	}
	/* GET-style: the parameters are in the URL, which alone is signed. */
	if (!body) {
		char	*q = url_with_query(req_url, &p);

		free(req_url);
		req_url = q;
	} else
		form = client_form_encode(&p);

	sid = account_sid_of(&p, req_url);
	if (ctl_sign(ctl, cmd, token_file, sid, secondary, req_url,
	    body ? &p : NULL, sig) == -1)
		goto out;

	/* Our headers, unless -H gives the same name; then the -H ones. */
	hdrs = xreallocarray(NULL, nuhdrs + 4, sizeof *hdrs);
	if (!has_header(uhdrs, nuhdrs, "X-Twilio-Signature")) {
		xasprintf(&sighdr, "X-Twilio-Signature: %s", sig);
		hdrs[nh++] = sighdr;
	}
	if (!has_header(uhdrs, nuhdrs, "User-Agent"))
		hdrs[nh++] = "User-Agent: TwilioProxy/1.1";
	if (body && !has_header(uhdrs, nuhdrs, "Content-Type"))
		hdrs[nh++] = "Content-Type: application/x-www-form-urlencoded";
	for (i = 0; i < nuhdrs; i++)
		hdrs[nh++] = uhdrs[i];
	hdrs[nh] = NULL;

	memset(&req, 0, sizeof req);
	req.method = method ? method : "POST";
	req.url = req_url;
	req.connect = connect;
	req.ca_file = ca_file;
	req.headers = hdrs;
	req.body = form;
	req.bodylen = form ? strlen(form) : 0;
	req.timeout_ms = (int)timeout * 1000;
	req.trace = verbose ? stderr : NULL;
	if (verbose)
		fprintf(stderr, "* %s %s\n", req.method, req_url);
	if (client_do(&req, &resp, &err) == -1) {
		cmd_fail(cmd, "%s", err);
		goto out;
	}
	if (verbose && resp.bodylen > 0)
		fprintf(stderr, "< %.*s%s", (int)resp.bodylen, resp.body,
		    resp.body[resp.bodylen - 1] == '\n' ? "" : "\n");
	tok = params_get(&p, "IdempotencyToken");
	dup = client_header(&resp, "X-Usagehook-Duplicate");
	printf("%d %s IdempotencyToken=%s%s\n", resp.status, resp.reason,
	    tok ? tok : "", dup && strcmp(dup, "1") == 0 ? " duplicate" : "");
	if (resp.status >= 200 && resp.status < 300)
		rc = EXIT_OK;
	else if (!verbose && resp.bodylen > 0)
		fprintf(stderr, "%.*s%s", (int)resp.bodylen, resp.body,
		    resp.body[resp.bodylen - 1] == '\n' ? "" : "\n");
out:
	client_response_free(&resp);
	free(err);
	free(sighdr);
	free(hdrs);
	free(uhdrs);
	free(sid);
	free(form);
	free(req_url);
	free(connect);
	params_free(&p);
	params_free(&user);
	return rc;
}
