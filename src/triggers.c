/* triggers.c: Twilio's UsageTrigger REST API, and plans to match the config. */
#include "config-sys.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "callback.h"
#include "client.h"
#include "https.h"
#include "json_read.h"
#include "log.h"
#include "proxy.h"
#include "triggers.h"
#include "xmalloc.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"0"
#endif

#define API_ROOT	"/2010-04-01/Accounts/"
#define QUOTE_MAX	200	/* bytes of a non-JSON error body we show */
#define MSG_MAX		512

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

const struct ut_field ut_fields[] = {
#define F(n)	{ #n, offsetof(struct ut, n) }
	F(sid),
	F(friendly_name),
	F(account_sid),
	F(usage_category),
	F(trigger_by),
	F(trigger_value),
	F(current_value),
	F(recurring),
	F(callback_method),
	F(callback_url),
	F(date_created),
	F(date_updated),
	F(date_fired),
	F(usage_record_uri),
	F(uri),
	F(api_version),
#undef F
};
const size_t ut_nfields = nitems(ut_fields);

const char *const step_names[] = {
	[STEP_CREATE] = "create",
	[STEP_UPDATE] = "update",
	[STEP_REPLACE] = "replace",
	[STEP_DELETE] = "delete",
	[STEP_UNCHANGED] = "unchanged",
};

struct twilio {
	char		*host;		/* to connect to, no brackets */
	int		 port;
	char		*hosthdr;	/* host[:port] as the base URL has it */
	char		 account[SID_LEN + 1];
	char		*auth;		/* "Basic ...", wiped on close */
	SSL_CTX		*ctx;
	char		*ca_file;	/* for a request through a proxy */
};

/* An HTTP answer, whatever its status. */
struct answer {
	int	 status;
	char	*reason;
	char	*body;		/* NUL-terminated */
	size_t	 bodylen;
	char	*retry_after;
};

/* One request in flight on its own event base. */
struct exchange {
	struct twilio		*tw;
	struct event_base	*base;
	struct bufferevent	*bev;
	struct evhttp_connection *conn;
	struct answer		*ans;
	long			 verify_error;
	int			 req_error;	/* evhttp_request_error + 1 */
	int			 connected;
	int			 finished;
	int			 timed_out;
};

/* Printf into a fresh allocated error string. */
static void __attribute__((format(printf, 2, 3)))
seterr(char **err, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) == -1)
		*err = xstrdup("out of memory");
	va_end(ap);
}

/* Control characters as '?', so that a message stays one line. */
static void
one_line(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void
answer_free(struct answer *a)
{
	free(a->reason);
	free(a->body);
	free(a->retry_after);
	memset(a, 0, sizeof *a);
}

struct twilio *
twilio_open(const char *base, const char *ca_file,
    const struct account *acct, char **err)
{
	struct twilio		*tw;
	struct evhttp_uri	*uri;
	const char		*scheme, *host, *user, *pass;
	char			 why[256], *cred;
	unsigned char		*b64;
	size_t			 hlen, clen;
	int			 port;

	if ((uri = evhttp_uri_parse(base)) == NULL ||
	    (scheme = evhttp_uri_get_scheme(uri)) == NULL ||
	    (host = evhttp_uri_get_host(uri)) == NULL || *host == '\0' ||
	    strcasecmp(scheme, "https") != 0) {
		seterr(err, "API base %s: want https://host[:port]", base);
		if (uri != NULL)
			evhttp_uri_free(uri);
		return NULL;
	}
	tw = xcalloc(1, sizeof *tw);
	/* An IPv6 literal may come with its brackets. */
	hlen = strlen(host);
	if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']')
		tw->host = xstrndup(host + 1, hlen - 2);
	else
		tw->host = xstrdup(host);
	port = evhttp_uri_get_port(uri);
	tw->port = port > 0 ? port : 443;
	if (port > 0)
		xasprintf(&tw->hosthdr, "%s:%d", host, port);
	else
		tw->hosthdr = xstrdup(host);
	evhttp_uri_free(uri);
	memcpy(tw->account, acct->sid, sizeof tw->account);

	if (acct->api_key_secret != NULL) {
		user = acct->api_key_sid;
		pass = acct->api_key_secret;
	} else {
		user = acct->sid;
		pass = acct->token;
	}
	clen = (size_t)xasprintf(&cred, "%s:%s", user, pass);
	b64 = xmalloc(4 * ((clen + 2) / 3) + 1);
	EVP_EncodeBlock(b64, (unsigned char *)cred, (int)clen);
	xasprintf(&tw->auth, "Basic %s", b64);
	explicit_bzero(b64, strlen((char *)b64));
	free(b64);
	freezero_str(cred);

	tw->ca_file = ca_file != NULL ? xstrdup(ca_file) : NULL;
	if ((tw->ctx = https_ctx_new(ca_file, why, sizeof why)) == NULL) {
		seterr(err, "TLS: %s", why);
		twilio_close(tw);
		return NULL;
	}
	return tw;
}

void
twilio_close(struct twilio *tw)
{
	if (tw == NULL)
		return;
	SSL_CTX_free(tw->ctx);
	freezero_str(tw->auth);
	free(tw->ca_file);
	free(tw->host);
	free(tw->hosthdr);
	free(tw);
}

static void
ex_error_cb(enum evhttp_request_error e, void *arg)
{
	struct exchange	*ex = arg;

	if (ex->req_error == 0)
		ex->req_error = (int)e + 1;
}

static void
ex_close_cb(struct evhttp_connection *conn, void *arg)
{
	struct exchange	*ex = arg;

	ex->connected = 1;
}

/* The answer is in (or the exchange failed); libevent frees req after. */
static void
ex_done_cb(struct evhttp_request *req, void *arg)
{
	struct exchange	*ex = arg;
	struct evbuffer	*in;
	const char	*v;
	size_t		 len;

	if (ex->finished)
		return;
	ex->finished = 1;
	event_base_loopexit(ex->base, NULL);
	if (req == NULL || evhttp_request_get_response_code(req) == 0)
		return;
	ex->connected = 1;
	ex->ans->status = evhttp_request_get_response_code(req);
	v = evhttp_request_get_response_code_line(req);
	ex->ans->reason = xstrdup(v != NULL ? v : "");
	if ((v = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Retry-After")) != NULL)
		ex->ans->retry_after = xstrdup(v);
	in = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(in);
	ex->ans->body = xmalloc(len + 1);
	if (len > 0)
		evbuffer_copyout(in, ex->ans->body, len);
	ex->ans->body[len] = '\0';
	ex->ans->bodylen = len;
}

static void
ex_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct exchange	*ex = arg;

	ex->timed_out = 1;
	event_base_loopbreak(ex->base);
}

/* Why the exchange ended without an answer, as one line. */
static void
ex_fail(struct exchange *ex, char **err)
{
	struct twilio	*tw = ex->tw;
	char		 buf[512], url[288];
	int		 dns;

	snprintf(url, sizeof url, "https://%s%s%s:%d", strchr(tw->host, ':') ?
	    "[" : "", tw->host, strchr(tw->host, ':') ? "]" : "", tw->port);
	if (https_error(ex->bev, ex->verify_error, buf, sizeof buf) != NULL)
		seterr(err, "TLS: %s (%s:%d)", buf, tw->host, tw->port);
	else if ((dns = bufferevent_socket_get_dns_error(ex->bev)) != 0)
		seterr(err, "cannot resolve %s: %s; is the API base right? "
		    "(twilio_api in the configuration, --api-base on the "
		    "command line)", tw->host, dns_error(dns));
	else if (ex->timed_out || ex->req_error == EVREQ_HTTP_TIMEOUT + 1)
		seterr(err, "no answer from %s:%d within %d s", tw->host,
		    tw->port, TWILIO_TIMEOUT_MS / 1000);
	else if (!ex->connected)
		seterr(err, "cannot connect to %s:%d (refused, unreachable, "
		    "or closed during the TLS handshake)", tw->host, tw->port);
	else if (https_answer_error(buf, sizeof buf, url, ex->req_error - 1,
	    TWILIO_BODY_MAX) != NULL)
		seterr(err, "%s", buf);
	else
		seterr(err, "%s:%d closed the connection without an answer",
		    tw->host, tw->port);
}

/*
 * One request through the HTTPS_PROXY tunnel (client.c speaks CONNECT;
 * evhttp cannot): 0 with ans filled, or -1 with *err.
 */
static int
request_tunnelled(struct twilio *tw, enum evhttp_cmd_type method,
    const char *target, const char *form, struct answer *ans, char **err)
{
	struct client_request	 req;
	struct client_response	 r;
	const char		*hdrs[6];
	char			*url, *authh, *e = NULL;
	const char		*ra;
	size_t			 n = 0;
	int			 rc = -1;

	xasprintf(&url, "https://%s%s", tw->hosthdr, target);
	xasprintf(&authh, "Authorization: %s", tw->auth);
	hdrs[n++] = authh;
	hdrs[n++] = "Accept: application/json";
	hdrs[n++] = "User-Agent: usagehookctl/" PACKAGE_VERSION;
	if (form != NULL)
		hdrs[n++] = "Content-Type: application/x-www-form-urlencoded";
	hdrs[n] = NULL;
	memset(&req, 0, sizeof req);
	req.method = method == EVHTTP_REQ_POST ? "POST" :
	    method == EVHTTP_REQ_DELETE ? "DELETE" : "GET";
	req.url = url;
	req.ca_file = tw->ca_file;
	req.headers = hdrs;
	req.body = form;
	req.bodylen = form != NULL ? strlen(form) : 0;
	req.timeout_ms = TWILIO_TIMEOUT_MS;
	if (client_do(&req, &r, &e) == -1) {
		seterr(err, "%s", e);
		free(e);
	} else if (r.bodylen > TWILIO_BODY_MAX) {
		seterr(err, "the answer from %s:%d is too long", tw->host,
		    tw->port);
		client_response_free(&r);
	} else {
		ans->status = r.status;
		ans->reason = xstrdup(r.reason != NULL ? r.reason : "");
		ans->body = xmalloc(r.bodylen + 1);
		memcpy(ans->body, r.body != NULL ? r.body : "", r.bodylen);
		ans->body[r.bodylen] = '\0';
		ans->bodylen = r.bodylen;
		if ((ra = client_header(&r, "Retry-After")) != NULL)
			ans->retry_after = xstrdup(ra);
		client_response_free(&r);
		rc = 0;
	}
	freezero_str(authh);
	free(url);
	return rc;
}

/* One request, answered or not: 0 with ans filled, or -1 with *err. */
static int
request_once(struct twilio *tw, enum evhttp_cmd_type method,
    const char *target, const char *form, struct answer *ans, char **err)
{
	struct exchange		 ex;
	struct evhttp_request	*req;
	struct evkeyvalq	*h;
	struct event		*timer = NULL;
	struct timeval		 tv;
	struct proxy		 px;
	char			 why[256];
	int			 rc;

	memset(&ex, 0, sizeof ex);
	memset(ans, 0, sizeof *ans);
	if ((rc = proxy_for(tw->host, &px, err)) != 0) {
		proxy_free(&px);
		return rc == -1 ? -1 :
		    request_tunnelled(tw, method, target, form, ans, err);
	}
	rc = -1;
	ex.tw = tw;
	ex.ans = ans;
	if ((ex.base = event_base_new()) == NULL) {
		seterr(err, "cannot make an event base");
		return -1;
	}
	/* No DNS base: the name is resolved by getaddrinfo, /etc/hosts too. */
	ex.bev = https_bev_new(ex.base, tw->ctx, tw->host, &ex.verify_error,
	    BEV_OPT_CLOSE_ON_FREE, why, sizeof why);
	if (ex.bev == NULL) {
		seterr(err, "TLS: %s", why);
		goto done;
	}
	if ((ex.conn = evhttp_connection_base_bufferevent_new(ex.base, NULL,
	    ex.bev, tw->host, (unsigned short)tw->port)) == NULL) {
		bufferevent_free(ex.bev);
		ex.bev = NULL;
		seterr(err, "out of memory");
		goto done;
	}
	evhttp_connection_set_retries(ex.conn, 0);
	evhttp_connection_set_closecb(ex.conn, ex_close_cb, &ex);
	https_bound(ex.conn, TWILIO_BODY_MAX);
	/* Our timer bounds the exchange; libevent's fire later. */
	tv.tv_sec = TWILIO_TIMEOUT_MS / 1000 + 1;
	tv.tv_usec = 0;
	evhttp_connection_set_timeout_tv(ex.conn, &tv);
	tv.tv_sec = TWILIO_TIMEOUT_MS / 1000;
	if ((timer = evtimer_new(ex.base, ex_timer_cb, &ex)) == NULL ||
	    evtimer_add(timer, &tv) == -1) {
		seterr(err, "out of memory");
		goto done;
	}
	if ((req = evhttp_request_new(ex_done_cb, &ex)) == NULL) {
		seterr(err, "out of memory");
		goto done;
	}
	evhttp_request_set_error_cb(req, ex_error_cb);
	h = evhttp_request_get_output_headers(req);
	if (evhttp_add_header(h, "Host", tw->hosthdr) == -1 ||
	    evhttp_add_header(h, "Authorization", tw->auth) == -1 ||
	    evhttp_add_header(h, "Accept", "application/json") == -1 ||
	    evhttp_add_header(h, "User-Agent", "usagehookctl/"
	    PACKAGE_VERSION) == -1 ||
	    evhttp_add_header(h, "Connection", "close") == -1 ||
	    (form != NULL && (evhttp_add_header(h, "Content-Type",
	    "application/x-www-form-urlencoded") == -1 ||
	    evbuffer_add(evhttp_request_get_output_buffer(req), form,
	    strlen(form)) == -1))) {
		evhttp_request_free(req);
		seterr(err, "out of memory");
		goto done;
	}
	/* A failure to connect may call ex_done_cb right away: fine. */
	if (evhttp_make_request(ex.conn, req, method, target) == -1) {
		seterr(err, "cannot start the request to %s:%d", tw->host,
		    tw->port);
		goto done;
	}
	if (!ex.finished)
		event_base_dispatch(ex.base);
	if (ans->status == 0) {
		ex_fail(&ex, err);
		answer_free(ans);
		goto done;
	}
	rc = 0;
done:
	/* Frees a pending request (no callback), the bufferevent and SSL. */
	if (ex.conn != NULL)
		evhttp_connection_free(ex.conn);
	if (timer != NULL)
		event_free(timer);
	event_base_free(ex.base);
	return rc;
}

/* Sleep ms milliseconds, whatever signals come. */
static void
sleep_ms(long ms)
{
	struct timespec	ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Retry-After in seconds when it is a small number, else -1. */
static long
retry_after(const struct answer *ans)
{
	const char	*s = ans->retry_after;
	long		 v = 0;

	if (s == NULL || *s == '\0' || s[strspn(s, "0123456789")] != '\0' ||
	    strlen(s) > 6)
		return -1;
	v = strtol(s, NULL, 10);
	return v <= TWILIO_RETRY_AFTER_MAX ? v : -1;
}

/*
 * A request with retries: an answer 429 or 5xx is asked again up to
 * TWILIO_ATTEMPTS times. 0 with the last answer, or -1 with *err.
 */
static int
request(struct twilio *tw, enum evhttp_cmd_type method, const char *target,
    const char *form, struct answer *ans, int *attempts, char **err)
{
	long	wait_ms = TWILIO_BACKOFF_MS, ra;
	int	n;

	for (n = 1;; n++) {
		*attempts = n;
		if (request_once(tw, method, target, form, ans, err) == -1)
			return -1;
		if (ans->status != 429 && ans->status < 500)
			return 0;
		if (n == TWILIO_ATTEMPTS)
			return 0;
		/* A long Retry-After: better to say so than to hang. */
		ra = retry_after(ans);
		if (ans->retry_after != NULL && ra == -1)
			return 0;
		answer_free(ans);
		sleep_ms(ra >= 0 ? ra * 1000 : wait_ms);
		wait_ms *= 2;
	}
}

/* A non-2xx answer as one line, with Twilio's own words when it gave them. */
static void
answer_error(const struct answer *ans, int attempts, char **err)
{
	struct jv	*doc;
	const char	*msg, *code, *info;
	char		*jerr = NULL, *quote, tries[64] = "";

	if (attempts > 1)
		snprintf(tries, sizeof tries, " (after %d attempts)", attempts);
	else if (ans->retry_after != NULL &&
	    (ans->status == 429 || ans->status >= 500))
		snprintf(tries, sizeof tries, " (Retry-After: %.20s)",
		    ans->retry_after);
	doc = jv_parse(ans->body, ans->bodylen, &jerr);
	free(jerr);
	msg = jv_str(doc, "message");
	if (msg != NULL) {
		code = jv_str(doc, "code");
		info = jv_str(doc, "more_info");
		seterr(err, "HTTP %d: %s%s%s%s%s%s%s", ans->status, msg,
		    code || info ? " (" : "", code ? "Twilio error " : "",
		    code ? code : "", code && info ? ", " : "",
		    info ? info : "", code || info ? ")" : "");
	} else {
		quote = xstrndup(ans->body, QUOTE_MAX);
		seterr(err, "HTTP %d%s%s%s%s", ans->status,
		    *ans->reason ? " " : "", ans->reason,
		    *quote ? ": " : "", quote);
		free(quote);
	}
	jv_free(doc);
	if (*tries != '\0') {
		quote = *err;
		seterr(err, "%s%s", quote, tries);
		free(quote);
	}
	one_line(*err);
}

/* A UsageTrigger object into u; -1 if v is not one. */
static int
ut_from_json(const struct jv *v, struct ut *u)
{
	const struct jv	*m;
	size_t		 i;

	memset(u, 0, sizeof *u);
	if (v == NULL || v->type != JV_OBJECT || jv_str(v, "sid") == NULL)
		return -1;
	for (i = 0; i < ut_nfields; i++) {
		m = jv_get(v, ut_fields[i].name);
		if (m != NULL && m->text != NULL)
			*(char **)(void *)((char *)u + ut_fields[i].offset) =
			    xstrdup(m->text);
	}
	return 0;
}

void
ut_free(struct ut *u)
{
	size_t	i;

	for (i = 0; i < ut_nfields; i++)
		free(*(char **)(void *)((char *)u + ut_fields[i].offset));
	memset(u, 0, sizeof *u);
}

void
ut_list_free(struct ut_list *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		ut_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* The answer's body as JSON; NULL with *err when it is not. */
static struct jv *
answer_json(const struct answer *ans, char **err)
{
	struct jv	*doc;
	char		*jerr = NULL;

	if ((doc = jv_parse(ans->body, ans->bodylen, &jerr)) == NULL) {
		seterr(err, "HTTP %d but the answer is not JSON: %s",
		    ans->status, jerr);
		free(jerr);
	}
	return doc;
}

/* Request a single trigger (fetch, create, update) into out. */
static int
request_ut(struct twilio *tw, enum evhttp_cmd_type method,
    const char *target, const char *form, struct ut *out, char **err)
{
	struct answer	 ans;
	struct jv	*doc;
	int		 attempts, rc = -1;

	memset(out, 0, sizeof *out);
	if (request(tw, method, target, form, &ans, &attempts, err) == -1)
		return -1;
	if (ans.status < 200 || ans.status > 299)
		answer_error(&ans, attempts, err);
	else if ((doc = answer_json(&ans, err)) != NULL) {
		if (ut_from_json(doc, out) == 0)
			rc = 0;
		else
			seterr(err, "HTTP %d but the answer is not a "
			    "UsageTrigger", ans.status);
		jv_free(doc);
	}
	answer_free(&ans);
	return rc;
}

int
twilio_call(struct twilio *tw, const char *method, const char *target,
    const char *form, int *status, struct jv **doc, char **err)
{
	struct answer	 ans;
	int		 attempts;

	*status = 0;
	*doc = NULL;
	if (request(tw, strcmp(method, "POST") == 0 ? EVHTTP_REQ_POST :
	    EVHTTP_REQ_GET, target, form, &ans, &attempts, err) == -1) {
		one_line(*err);
		return -1;
	}
	*status = ans.status;
	if (ans.status < 200 || ans.status > 299) {
		answer_error(&ans, attempts, err);
		answer_free(&ans);
		return -1;
	}
	*doc = answer_json(&ans, err);
	answer_free(&ans);
	if (*doc == NULL) {
		one_line(*err);
		return -1;
	}
	return 0;
}

/* The path of the account's triggers, or of one of them; allocated. */
static char *
triggers_path(const struct twilio *tw, const char *sid)
{
	char	*p;

	if (sid != NULL)
		xasprintf(&p, API_ROOT "%s/Usage/Triggers/%s.json",
		    tw->account, sid);
	else
		xasprintf(&p, API_ROOT "%s/Usage/Triggers.json", tw->account);
	return p;
}

/* Add name=value to p unless value is NULL. */
static void
form_add(struct params *p, const char *name, const char *value)
{
	if (value != NULL && params_add(p, name, strlen(name), value,
	    strlen(value)) == -1)
		fatalx("out of memory");
}

/* A next_page_uri we follow: this account's triggers, printable. */
static int
page_ok(const struct twilio *tw, const char *uri)
{
	char		*prefix;
	const char	*c;
	int		 ok;

	xasprintf(&prefix, API_ROOT "%s/Usage/Triggers", tw->account);
	ok = strncmp(uri, prefix, strlen(prefix)) == 0;
	free(prefix);
	for (c = uri; ok && *c != '\0'; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '#')
			ok = 0;
	return ok;
}

void
pages_add(struct pages *pg, char *target)
{
	pg->seen = xreallocarray(pg->seen, pg->n + 1, sizeof *pg->seen);
	pg->seen[pg->n++] = target;
}

int
pages_next_ok(const struct pages *pg, const char *next, char **err)
{
	size_t	i;

	for (i = 0; i < pg->n; i++)
		if (strcmp(pg->seen[i], next) == 0)
			break;
	if (i < pg->n || pg->n == TWILIO_PAGES_MAX) {
		seterr(err, "next_page_uri %.200s: %s", next, i < pg->n ?
		    "a page seen before" : "too many pages");
		return -1;
	}
	return 0;
}

void
pages_free(struct pages *pg)
{
	size_t	i;

	for (i = 0; i < pg->n; i++)
		free(pg->seen[i]);
	free(pg->seen);
	pg->seen = NULL;
	pg->n = 0;
}

int
twilio_list(struct twilio *tw, const char *category, const char *recurring,
    const char *trigger_by, struct ut_list *out, char **err)
{
	struct params	 q = { NULL, 0, 0, NULL };
	struct jv	*doc = NULL;
	const struct jv	*items;
	const char	*next;
	struct pages	 pg = { NULL, 0 };
	char		*base, *qs, *target;
	size_t		 i, cap = 0;
	int		 status, rc = -1;

	memset(out, 0, sizeof *out);
	form_add(&q, "UsageCategory", category);
	form_add(&q, "Recurring", recurring);
	form_add(&q, "TriggerBy", trigger_by);
	base = triggers_path(tw, NULL);
	qs = client_form_encode(&q);
	xasprintf(&target, "%s%s%s", base, *qs ? "?" : "", qs);
	free(base);
	free(qs);
	params_free(&q);
	for (;;) {
		pages_add(&pg, target);
		if (twilio_call(tw, "GET", target, NULL, &status, &doc,
		    err) == -1)
			goto done;
		if ((items = jv_get(doc, "usage_triggers")) == NULL ||
		    items->type != JV_ARRAY) {
			seterr(err, "the answer to GET %s has no "
			    "usage_triggers list", target);
			goto done;
		}
		for (i = 0; i < items->nkids; i++) {
			if (out->n == cap) {
				cap = cap ? cap * 2 : 64;
				out->v = xreallocarray(out->v, cap,
				    sizeof *out->v);
			}
			if (ut_from_json(&items->kids[i], &out->v[out->n]) ==
			    -1) {
				seterr(err, "the answer to GET %s lists "
				    "something that is not a UsageTrigger",
				    target);
				goto done;
			}
			out->n++;
		}
		if ((next = jv_str(doc, "next_page_uri")) == NULL ||
		    *next == '\0')
			break;
		if (!page_ok(tw, next)) {
			seterr(err, "next_page_uri is not a page of this "
			    "account's triggers: %.200s", next);
			goto done;
		}
		if (pages_next_ok(&pg, next, err) == -1)
			goto done;
		target = xstrdup(next);
		jv_free(doc);
		doc = NULL;
	}
	rc = 0;
done:
	if (rc == -1) {
		ut_list_free(out);
		one_line(*err);
	}
	jv_free(doc);
	pages_free(&pg);
	return rc;
}

int
twilio_fetch(struct twilio *tw, const char *sid, struct ut *out, char **err)
{
	char	*target = triggers_path(tw, sid);
	int	 rc;

	rc = request_ut(tw, EVHTTP_REQ_GET, target, NULL, out, err);
	free(target);
	return rc;
}

int
twilio_create(struct twilio *tw, const struct ut_new *n, struct ut *out,
    char **err)
{
	struct params	 p = { NULL, 0, 0, NULL };
	char		*target, *form;
	int		 rc;

	/* In the order of Twilio's own examples; a '+' goes as %2B. */
	form_add(&p, "CallbackMethod", n->callback_method);
	form_add(&p, "CallbackUrl", n->callback_url);
	form_add(&p, "FriendlyName", n->friendly_name);
	form_add(&p, "Recurring", n->recurring);
	form_add(&p, "TriggerBy", n->trigger_by);
	form_add(&p, "TriggerValue", n->trigger_value);
	form_add(&p, "UsageCategory", n->usage_category);
	form = client_form_encode(&p);
	params_free(&p);
	target = triggers_path(tw, NULL);
	rc = request_ut(tw, EVHTTP_REQ_POST, target, form, out, err);
	free(target);
	free(form);
	return rc;
}

int
twilio_update(struct twilio *tw, const char *sid, const struct ut_change *c,
    struct ut *out, char **err)
{
	struct params	 p = { NULL, 0, 0, NULL };
	char		*target, *form;
	int		 rc;

	form_add(&p, "CallbackMethod", c->callback_method);
	form_add(&p, "CallbackUrl", c->callback_url);
	form_add(&p, "FriendlyName", c->friendly_name);
	form = client_form_encode(&p);
	params_free(&p);
	target = triggers_path(tw, sid);
	rc = request_ut(tw, EVHTTP_REQ_POST, target, form, out, err);
	free(target);
	free(form);
	return rc;
}

int
twilio_delete(struct twilio *tw, const char *sid, char **err)
{
	struct answer	 ans;
	char		*target = triggers_path(tw, sid);
	int		 attempts, rc = -1;

	if (request(tw, EVHTTP_REQ_DELETE, target, NULL, &ans, &attempts,
	    err) == 0) {
		if (ans.status >= 200 && ans.status <= 299)
			rc = 0;
		else
			answer_error(&ans, attempts, err);
		answer_free(&ans);
	}
	free(target);
	return rc;
}

/* plan */

/* s or "", for comparisons where Twilio's null and "" mean the same. */
static const char *
nz(const char *s)
{
	return s != NULL ? s : "";
}

/* Recurring as compared: null, "" and "alltime" are all "not recurring". */
static const char *
recurring_norm(const char *s)
{
	return s == NULL || strcmp(s, "alltime") == 0 ? "" : s;
}

/*
 * 1 if the declared value holds for Twilio's: the same number ("100" is
 * "100.000000"), or any for an offset ("+30" counts at creation only).
 */
static int
value_same(const char *want, const char *have)
{
	char	*end;
	double	 a, b;

	if (want[0] == '+')
		return 1;
	if (have == NULL)
		return 0;
	a = strtod(want, NULL);
	b = strtod(have, &end);
	if (end == have || *end != '\0')
		return strcmp(want, have) == 0;
	return fabs(a - b) <= 1e-9 * (fabs(a) > 1 ? fabs(a) : 1);
}

/* 1 if two callback URLs are the same: scheme and host in any case, one
 * trailing '/' either way (Twilio drops it). */
static int
url_same(const char *a, const char *b)
{
	const char	*ha, *hb;
	size_t		 la, lb, na, nb;

	if (a == NULL || b == NULL)
		return 0;
	la = strlen(a);
	lb = strlen(b);
	if (la > 0 && a[la - 1] == '/')
		la--;
	if (lb > 0 && b[lb - 1] == '/')
		lb--;
	ha = strstr(a, "://");
	hb = strstr(b, "://");
	if (ha == NULL || hb == NULL)
		return la == lb && strncmp(a, b, la) == 0;
	/* scheme://authority: case-insensitive; the rest exactly. */
	na = (size_t)(ha - a) + 3;
	na += strcspn(a + na, "/?#");
	nb = (size_t)(hb - b) + 3;
	nb += strcspn(b + nb, "/?#");
	if (na > la)
		na = la;
	if (nb > lb)
		nb = lb;
	return na == nb && la == lb && strncasecmp(a, b, na) == 0 &&
	    strncmp(a + na, b + nb, la - na) == 0;
}

/* 1 if url calls this daemon: public_url + path, or a declared URL. */
static int
url_ours(const struct config *conf, const char *url)
{
	char	*mine;
	size_t	 i;
	int	 same = 0;

	if (conf->public_url != NULL) {
		xasprintf(&mine, "%s%s", conf->public_url, conf->path);
		same = url_same(mine, url);
		free(mine);
	}
	for (i = 0; !same && i < conf->ntriggers; i++)
		same = url_same(conf->triggers[i].callback_url, url);
	return same;
}

/* Append "; " and a printf'd part to an allocated detail. */
static void __attribute__((format(printf, 2, 3)))
detail_add(char **d, const char *fmt, ...)
{
	va_list	 ap;
	char	*part, *old = *d;

	va_start(ap, fmt);
	if (vasprintf(&part, fmt, ap) == -1)
		fatalx("out of memory");
	va_end(ap);
	if (old == NULL)
		*d = part;
	else {
		xasprintf(d, "%s; %s", old, part);
		free(old);
		free(part);
	}
}

static struct step *
step_add(struct plan *pl, enum step_action action, size_t acct,
    const struct trigger *want, const struct ut *have)
{
	struct step	*s;

	pl->steps = xreallocarray(pl->steps, pl->nsteps + 1,
	    sizeof *pl->steps);
	s = &pl->steps[pl->nsteps++];
	memset(s, 0, sizeof *s);
	s->action = action;
	s->account = acct;
	s->want = want;
	s->have = have;
	return s;
}

/* What differs between a declared trigger and Twilio's of the same name. */
static void
compare(struct plan *pl, size_t acct, const struct trigger *t,
    const struct ut *u)
{
	struct step	*s;
	char		*fixed = NULL;

	/* Twilio cannot change these: only a new trigger can. */
	if (strcmp(t->usage_category, nz(u->usage_category)) != 0)
		detail_add(&fixed, "usage_category %s -> %s",
		    nz(u->usage_category), t->usage_category);
	if (strcmp(t->trigger_by, nz(u->trigger_by)) != 0)
		detail_add(&fixed, "trigger_by %s -> %s", nz(u->trigger_by),
		    t->trigger_by);
	if (!value_same(t->trigger_value, u->trigger_value))
		detail_add(&fixed, "trigger_value %s -> %s",
		    nz(u->trigger_value), t->trigger_value);
	if (strcmp(recurring_norm(t->recurring),
	    recurring_norm(u->recurring)) != 0)
		detail_add(&fixed, "recurring %s -> %s",
		    *recurring_norm(u->recurring) ? u->recurring : "(none)",
		    *t->recurring ? t->recurring : "(none)");
	if (fixed != NULL) {
		s = step_add(pl, STEP_REPLACE, acct, t, u);
		detail_add(&fixed, "Twilio cannot update these: a new trigger "
		    "replaces it");
		s->detail = fixed;
		return;
	}
	s = step_add(pl, STEP_UNCHANGED, acct, t, u);
	if (!url_same(t->callback_url, u->callback_url)) {
		s->url = 1;
		detail_add(&s->detail, "callback_url %s -> %s",
		    nz(u->callback_url), t->callback_url);
	}
	if (strcasecmp(t->callback_method, nz(u->callback_method)) != 0) {
		s->method = 1;
		detail_add(&s->detail, "callback_method %s -> %s",
		    nz(u->callback_method), t->callback_method);
	}
	if (s->url || s->method)
		s->action = STEP_UPDATE;
}

/* "sms price 100 daily, POST URL": a declared trigger in a few words. */
static char *
describe(const struct trigger *t)
{
	char	*d;

	xasprintf(&d, "%s %s %s%s%s, %s %s", t->usage_category,
	    t->trigger_by, t->trigger_value, *t->recurring ? " " : "",
	    t->recurring, t->callback_method, t->callback_url);
	return d;
}

int
plan_make(const struct config *conf, const char *base,
    const struct account *only, int prune_all, struct plan *pl, char **err)
{
	const struct ut_list	*have;
	const struct trigger	*t;
	struct step		*s;
	char			*claimed;
	size_t			 a, i, j;

	memset(pl, 0, sizeof *pl);
	pl->naccounts = only != NULL ? 1 : conf->naccounts;
	pl->accounts = xcalloc(pl->naccounts, sizeof *pl->accounts);
	pl->tw = xcalloc(pl->naccounts, sizeof *pl->tw);
	pl->have = xcalloc(pl->naccounts, sizeof *pl->have);
	for (a = 0; a < pl->naccounts; a++) {
		pl->accounts[a] = only != NULL ? only : &conf->accounts[a];
		if ((pl->tw[a] = twilio_open(base, conf->twilio_ca_file,
		    pl->accounts[a], err)) == NULL ||
		    twilio_list(pl->tw[a], NULL, NULL, NULL, &pl->have[a],
		    err) == -1) {
			plan_free(pl);
			return -1;
		}
	}
	for (a = 0; a < pl->naccounts; a++) {
		have = &pl->have[a];
		claimed = xcalloc(have->n + 1, 1);
		for (i = 0; i < conf->ntriggers; i++) {
			t = &conf->triggers[i];
			if (strcmp(t->account, pl->accounts[a]->sid) != 0)
				continue;
			for (j = 0; j < have->n; j++)
				if (!claimed[j] && strcmp(t->name,
				    nz(have->v[j].friendly_name)) == 0)
					break;
			if (j == have->n) {
				s = step_add(pl, STEP_CREATE, a, t, NULL);
				s->detail = describe(t);
				continue;
			}
			claimed[j] = 1;
			compare(pl, a, t, &have->v[j]);
		}
		for (j = 0; j < have->n; j++) {
			if (claimed[j])
				continue;
			if (url_ours(conf, have->v[j].callback_url)) {
				s = step_add(pl, STEP_DELETE, a, NULL,
				    &have->v[j]);
				xasprintf(&s->detail, "not in the config; calls "
				    "this daemon (%s)",
				    nz(have->v[j].callback_url));
			} else if (prune_all) {
				s = step_add(pl, STEP_DELETE, a, NULL,
				    &have->v[j]);
				xasprintf(&s->detail, "not in the config; "
				    "--prune-all (calls %s)",
				    nz(have->v[j].callback_url));
			} else
				pl->kept++;
		}
		free(claimed);
	}
	return 0;
}

/* Create the declared trigger of s; its SID goes to s->new_sid. */
static int
apply_create(struct plan *pl, struct step *s)
{
	const struct trigger	*t = s->want;
	struct ut_new		 n;
	struct ut		 out;

	memset(&n, 0, sizeof n);
	n.friendly_name = t->name;
	n.usage_category = t->usage_category;
	n.trigger_value = t->trigger_value;
	n.trigger_by = t->trigger_by;
	n.recurring = *t->recurring ? t->recurring : NULL;
	n.callback_method = t->callback_method;
	n.callback_url = t->callback_url;
	if (twilio_create(pl->tw[s->account], &n, &out, &s->error) == -1)
		return -1;
	s->new_sid = out.sid;
	out.sid = NULL;
	ut_free(&out);
	return 0;
}

size_t
plan_apply(struct plan *pl)
{
	struct ut_change	 c;
	struct ut		 out;
	struct step		*s;
	size_t			 i, failed = 0;
	int			 pass;

	/* New triggers first, so that a failure later loses nothing. */
	for (pass = 0; pass < 3; pass++) {
		for (i = 0; i < pl->nsteps; i++) {
			s = &pl->steps[i];
			if (s->error != NULL)
				continue;
			switch (pass * 10 + (int)s->action) {
			case 0 + STEP_CREATE:
			case 0 + STEP_REPLACE:
				if (apply_create(pl, s) == -1)
					failed++;
				else if (s->action == STEP_CREATE)
					s->applied = 1;
				break;
			case 10 + STEP_UPDATE:
				memset(&c, 0, sizeof c);
				c.callback_url = s->url ?
				    s->want->callback_url : NULL;
				c.callback_method = s->method ?
				    s->want->callback_method : NULL;
				if (twilio_update(pl->tw[s->account],
				    s->have->sid, &c, &out, &s->error) == -1)
					failed++;
				else {
					s->applied = 1;
					ut_free(&out);
				}
				break;
			case 20 + STEP_REPLACE:
			case 20 + STEP_DELETE:
				if (twilio_delete(pl->tw[s->account],
				    s->have->sid, &s->error) == -1)
					failed++;
				else
					s->applied = 1;
				break;
			default:
				break;
			}
		}
	}
	return failed;
}

void
plan_free(struct plan *pl)
{
	size_t	i;

	for (i = 0; i < pl->naccounts; i++) {
		twilio_close(pl->tw[i]);
		ut_list_free(&pl->have[i]);
	}
	for (i = 0; i < pl->nsteps; i++) {
		free(pl->steps[i].detail);
		free(pl->steps[i].new_sid);
		free(pl->steps[i].error);
	}
	free(pl->steps);
	free(pl->accounts);
	free(pl->tw);
	free(pl->have);
	memset(pl, 0, sizeof *pl);
}

/* reconcile.c: whether a trigger's callback URL is this daemon's. */
int
triggers_url_ours(const struct config *conf, const char *url)
{
	return url_ours(conf, url);
}

/* usage records */

#define UR_FIELD_MAX	1024	/* bytes of one field of a record */
#define UR_MAX		100000	/* records of one listing, all pages */

static const struct {
	const char	*name;
	size_t		 offset;
	int		 number;	/* must be a decimal number */
} ur_fields[] = {
#define U(n, num)	{ #n, offsetof(struct usage_record, n), num }
	U(account_sid, 0),
	U(category, 0),
	U(description, 0),
	U(count, 1),
	U(count_unit, 0),
	U(usage, 1),
	U(usage_unit, 0),
	U(price, 1),
	U(price_unit, 0),
	U(start_date, 0),
	U(end_date, 0),
#undef U
};

/* A decimal number as Twilio writes them ("12", "-0.5", "1.25e3"). */
static int
ur_number(const char *s)
{
	char	*end;

	if (*s == '\0' || strlen(s) > 64)
		return 0;
	errno = 0;
	(void)strtod(s, &end);
	return *end == '\0' && errno == 0 && strspn(s, "+-0123456789.eE") ==
	    strlen(s);
}

/* One record into r; -1 with *err naming what is wrong. */
static int
ur_from_json(const struct jv *v, struct usage_record *r, char **err)
{
	const struct jv	*m;
	const char	*s;
	char		**slot;
	size_t		 i;

	memset(r, 0, sizeof *r);
	if (v == NULL || v->type != JV_OBJECT) {
		seterr(err, "a usage record that is not an object");
		return -1;
	}
	for (i = 0; i < nitems(ur_fields); i++) {
		slot = (char **)(void *)((char *)r + ur_fields[i].offset);
		m = jv_get(v, ur_fields[i].name);
		s = m != NULL && m->type != JV_NULL ? m->text : NULL;
		if (s == NULL && (ur_fields[i].number ||
		    strcmp(ur_fields[i].name, "category") == 0)) {
			seterr(err, "a usage record without %s",
			    ur_fields[i].name);
			goto bad;
		}
		if (s != NULL && strlen(s) > UR_FIELD_MAX) {
			seterr(err, "a usage record's %s is longer than %d "
			    "bytes", ur_fields[i].name, UR_FIELD_MAX);
			goto bad;
		}
		if (s != NULL && ur_fields[i].number && !ur_number(s)) {
			seterr(err, "usage record %.64s: %s '%.64s' is not a "
			    "number", r->category ? r->category : "?",
			    ur_fields[i].name, s);
			goto bad;
		}
		*slot = s != NULL ? xstrdup(s) : NULL;
	}
	return 0;
 bad:
	usage_record_free(r);
	return -1;
}

void
usage_record_free(struct usage_record *r)
{
	size_t	i;

	for (i = 0; i < nitems(ur_fields); i++)
		free(*(char **)(void *)((char *)r + ur_fields[i].offset));
	memset(r, 0, sizeof *r);
}

void
usage_records_free(struct usage_records *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		usage_record_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int
twilio_usage_records(struct twilio *tw, const char *period,
    const char *category, const char *start, const char *end,
    struct usage_records *out, char **err)
{
	struct params	 q = { NULL, 0, 0, NULL };
	struct jv	*doc = NULL;
	const struct jv	*items;
	const char	*next, *c;
	struct pages	 pg = { NULL, 0 };
	char		*qs, *target, *prefix;
	size_t		 i, cap = 0;
	int		 status, rc = -1;

	memset(out, 0, sizeof *out);
	form_add(&q, "Category", category);
	form_add(&q, "StartDate", start);
	form_add(&q, "EndDate", end);
	form_add(&q, "PageSize", "1000");
	qs = client_form_encode(&q);
	params_free(&q);
	xasprintf(&prefix, API_ROOT "%s/Usage/Records", tw->account);
	xasprintf(&target, "%s%s%s.json?%s", prefix, *period ? "/" : "",
	    period, qs);
	free(qs);
	for (;;) {
		pages_add(&pg, target);
		if (twilio_call(tw, "GET", target, NULL, &status, &doc,
		    err) == -1)
			goto done;
		if ((items = jv_get(doc, "usage_records")) == NULL ||
		    items->type != JV_ARRAY) {
			seterr(err, "the answer to GET %s has no usage_records "
			    "list", target);
			goto done;
		}
		for (i = 0; i < items->nkids; i++) {
			if (out->n == UR_MAX) {
				seterr(err, "more than %d usage records",
				    UR_MAX);
				goto done;
			}
			if (out->n == cap) {
				cap = cap ? cap * 2 : 64;
				out->v = xreallocarray(out->v, cap,
				    sizeof *out->v);
			}
			if (ur_from_json(&items->kids[i], &out->v[out->n],
			    err) == -1)
				goto done;
			out->n++;
		}
		if ((next = jv_str(doc, "next_page_uri")) == NULL ||
		    *next == '\0')
			break;
		/* Only this account's records, printable, never elsewhere. */
		for (c = next; *c != '\0'; c++)
			if ((unsigned char)*c <= 0x20 || *c == 0x7f ||
			    *c == '#')
				break;
		if (strncmp(next, prefix, strlen(prefix)) != 0 || *c != '\0') {
			seterr(err, "next_page_uri is not a page of this "
			    "account's usage records: %.200s", next);
			goto done;
		}
		if (pages_next_ok(&pg, next, err) == -1)
			goto done;
		target = xstrdup(next);
		jv_free(doc);
		doc = NULL;
	}
	rc = 0;
done:
	if (rc == -1) {
		usage_records_free(out);
		one_line(*err);
	}
	jv_free(doc);
	pages_free(&pg);
	free(prefix);
	return rc;
}
