/* http.c: evhttp routes, limits, responses, /healthz, /metrics. */
#include "config-sys.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netdb.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include "callback.h"
#include "commit.h"
#include "config.h"
#include "dispatch.h"
#include "forwarded.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "rules.h"
#include "signature.h"
#include "store.h"

/* Headers evhttp itself refuses (400) past this many times max_header. */
#define HEADER_HARD_FACTOR	4
/*
 * Bodies evhttp itself refuses past this many times max_body: it answers 413
 * before reading them and closes, which a proxy still sending sees as a
 * broken pipe (nginx: 502). Up to there we read the body and answer 413.
 */
#define BODY_HARD_FACTOR	4
/* Sockets one server listens on: the listen key's, or a .socket unit's. */
#define SERVER_MAX_LISTENERS	16
/* Connections the kernel queues for us before we accept them. */
#define LISTEN_BACKLOG		1024
/* The characters of a header name (RFC 9110 token). */
#define HEADER_NAME_CHARS	"!#$%&'*+-.^_`|~0123456789" \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
/* Rules one callback may match; more is a config no operator means. */
#define MAX_MATCHED		64

/*
 * One accepted connection. Its deadline runs while a request is being read:
 * from the accept, and again from each reply's last byte, until the request
 * is whole (route). evhttp's own timeout is an inactivity timer that every
 * byte restarts, so a client sending a byte a second would keep a connection
 * (and, at max_connections, the listener) forever without it.
 */
struct conn {
	struct server			*srv;
	struct evhttp_connection	*evcon;
	struct event			*deadline;
	int				 fd;
	int				 on_unix;	/* accepted on a Unix socket */
	int				 replying;	/* reply not flushed yet */
};

struct server {
	struct event_base		*base;
	struct evhttp			*http;
	struct evhttp_bound_socket	*bound[SERVER_MAX_LISTENERS];
	size_t				 nbound;
	struct config			*conf;
	struct committer		*committer;
	struct dispatcher		*dispatcher;
	struct metrics			*metrics;
	char				*unix_path;	/* ours to unlink */
	struct evhttp			*ops;		/* metrics_listen: /metrics, /healthz */
	char				*ops_unix_path;	/* ours to unlink */
	size_t				 inflight;
	size_t				 nunflushed;	/* replies on their way */
	size_t				 connections;	/* open, counted */
	struct conn			**byfd;		/* adopted, by descriptor */
	size_t				 nbyfd;
	struct bufferevent		**fresh;	/* accepted this turn */
	size_t				 nfresh;
	size_t				 freshcap;
	struct event			*adopt;		/* counts fresh ones */
	int				 paused;	/* listener disabled */
	time_t				 paused_warned;
};

/* A callback waiting for its claim to be committed. */
struct pending {
	struct commit_req	 creq;
	struct server		*srv;
	struct evhttp_request	*req;
	struct callback		*cb;
	struct job_spec		*jobs;		/* and their rule names, one block */
	size_t			 njobs;
	struct timespec		 start;
};

/* A rejected request on its way to the rejected table. */
struct rejected_row {
	struct commit_req	 creq;
	struct rejection	 rej;
	char			*strings;	/* one allocation for all fields */
};

static const struct method {
	enum evhttp_cmd_type	 cmd;
	const char		*name;
	int			 body;	/* parameters in the body, not the query */
} methods[] = {
	{ EVHTTP_REQ_GET,	"GET",		0 },
	{ EVHTTP_REQ_POST,	"POST",		1 },
	{ EVHTTP_REQ_PUT,	"PUT",		1 },
	{ EVHTTP_REQ_PATCH,	"PATCH",	1 },
	{ EVHTTP_REQ_DELETE,	"DELETE",	0 },
	{ EVHTTP_REQ_HEAD,	"HEAD",		0 },
};

static const int reject_status[REJECT_MAX] = {
	[REJECT_MISSING_SIGNATURE] =	403,
	[REJECT_BAD_SIGNATURE] =	403,
	[REJECT_MALFORMED] =		400,
	[REJECT_INVALID] =		400,
	[REJECT_CONTENT_TYPE] =		415,
};

static void	route(struct evhttp_request *, void *);
static void	connection_closed(struct evhttp_connection *, void *);
static struct conn *conn_of(struct server *, struct evhttp_request *);
static void	serve_healthz(struct server *, struct evhttp_request *);
static void	serve_metrics(struct server *, struct evhttp_request *);

static const struct route {
	const char	*path;
	void		(*serve)(struct server *, struct evhttp_request *);
} routes[] = {
	{ "/healthz",	serve_healthz },
	{ "/metrics",	serve_metrics },
};

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const struct method *
find_method(enum evhttp_cmd_type cmd)
{
	size_t	i;

	for (i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (methods[i].cmd == cmd)
			return &methods[i];
	return NULL;
}

/* Copy s for a log line, with anything unprintable shown as '?'. */
static const char *
printable(const char *s, char *out, size_t len)
{
	size_t	i;

	if (s == NULL)
		return "-";
	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
	return out;
}

/*
 * Stop reading req's connection until its reply is flushed. evhttp (2.1)
 * reads on while it writes a reply (to notice a close) and keeps what it
 * reads: a client that pipelines and never reads would grow its input
 * without bound, and an EOF read then (a half-close after pipelined
 * requests) drops the requests still unanswered. evhttp enables reading
 * again itself once the reply is out, for the next request.
 */
static void
hold_reading(struct evhttp_connection *evcon)
{
	struct bufferevent	*bev;

	if (evcon != NULL &&
	    (bev = evhttp_connection_get_bufferevent(evcon)) != NULL)
		bufferevent_disable(bev, EV_READ);
}

/* evhttp_send_reply, and no reading until that reply is flushed. */
static void
send_reply(struct evhttp_request *req, int status, const char *reason,
    struct evbuffer *buf)
{
	struct evhttp_connection	*evcon;

	/* Without a connection evhttp frees req: look first. */
	evcon = evhttp_request_get_connection(req);
	evhttp_send_reply(req, status, reason, buf);
	hold_reading(evcon);
}

/* Send a short text answer; extra is one "Name: value" header or NULL. */
static void
reply(struct evhttp_request *req, int status, const char *reason,
    const char *body, const char *xname, const char *xvalue)
{
	struct evbuffer		*buf;
	struct evkeyvalq	*out = evhttp_request_get_output_headers(req);

	evhttp_add_header(out, "Content-Type", "text/plain; charset=utf-8");
	if (xname != NULL)
		evhttp_add_header(out, xname, xvalue);
	if ((buf = evbuffer_new()) == NULL) {
		send_reply(req, status, reason, NULL);
		return;
	}
	/* libevent 2.1 sends a HEAD reply's body; a HEAD answer has none. */
	if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD)
		evbuffer_add(buf, body, strlen(body));
	send_reply(req, status, reason, buf);
	evbuffer_free(buf);
}

/* Keep the refusal in the rejected table, off the event loop. */
static void
rejected_done(struct commit_req *creq, void *arg)
{
	struct rejected_row	*row = arg;

	free(row->strings);
	free(row);
}

static void
store_rejection(struct server *srv, const struct rejection *rej)
{
	struct rejected_row	*row;
	const char		*in[10] = { rej->remote, rej->method, rej->uri,
				    rej->reason, rej->detail, rej->account_sid,
				    rej->idempotency_token, rej->url,
				    rej->headers, rej->signature };
	const char		**outp[10];
	size_t			 i, len = 0;
	char			*p;

	if ((row = calloc(1, sizeof *row)) == NULL)
		return;
	outp[0] = &row->rej.remote;
	outp[1] = &row->rej.method;
	outp[2] = &row->rej.uri;
	outp[3] = &row->rej.reason;
	outp[4] = &row->rej.detail;
	outp[5] = &row->rej.account_sid;
	outp[6] = &row->rej.idempotency_token;
	outp[7] = &row->rej.url;
	outp[8] = &row->rej.headers;
	outp[9] = &row->rej.signature;
	for (i = 0; i < 10; i++)
		if (in[i] != NULL)
			len += strlen(in[i]) + 1;
	if (rej->body != NULL)
		len += rej->bodylen + 1;
	if ((row->strings = p = malloc(len + 1)) == NULL) {
		free(row);
		return;
	}
	for (i = 0; i < 10; i++) {
		if (in[i] == NULL)
			continue;
		*outp[i] = p;
		p = stpcpy(p, in[i]) + 1;
	}
	if (rej->body != NULL) {
		row->rej.body = p;
		row->rej.bodylen = rej->bodylen;
		memcpy(p, rej->body, rej->bodylen);
		p[rej->bodylen] = '\0';
	}
	row->rej.at = rej->at;
	row->rej.status = rej->status;
	row->creq.kind = COMMIT_REJECT;
	row->creq.rej = &row->rej;
	row->creq.done = rejected_done;
	row->creq.arg = row;
	committer_submit(srv->committer, &row->creq);
}

/* Refuse a callback: log it once, count it, keep it, answer. */
static void
reject(struct server *srv, struct evhttp_request *req, struct callback *cb,
    enum reject_reason why, const char *detail)
{
	struct rejection	 rej;
	char			 u[256], d[512], r[64], body[64];
	int			 status = reject_status[why];

	srv->metrics->rejected[why]++;
	memset(&rej, 0, sizeof rej);
	rej.at = cb->received_at;
	rej.status = status;
	rej.remote = cb->remote;
	rej.method = cb->method;
	rej.uri = cb->uri;
	rej.reason = reject_reason_name(why);
	rej.detail = detail;
	rej.account_sid = params_get(&cb->params, "AccountSid");
	rej.idempotency_token = params_get(&cb->params, "IdempotencyToken");
	rej.url = cb->url;
	rej.headers = cb->headers;
	if (cb->body != NULL && cb->bodylen <= REJECTED_BODY_MAX) {
		rej.body = cb->body;
		rej.bodylen = cb->bodylen;
	}
	rej.signature = cb->signature;
	/* A flood is counted, but logged and kept at a bounded rate. */
	if (ratelimit_allow(&refusals)) {
		log_warnx("refused %s %s from %s: %d %s: %s", cb->method,
		    printable(cb->uri, u, sizeof u),
		    printable(cb->remote, r, sizeof r), status, rej.reason,
		    printable(detail, d, sizeof d));
		store_rejection(srv, &rej);
	}
	snprintf(body, sizeof body, "%s\n", rej.reason);
	reply(req, status, status == 403 ? "Forbidden" : status == 415 ?
	    "Unsupported Media Type" : "Bad Request", body, NULL, NULL);
}

/* How many times header name occurs in hdrs; *first is its first value. */
static size_t
header_count(struct evkeyvalq *hdrs, const char *name, const char **first)
{
	struct evkeyval	*kv;
	size_t		 n = 0;

	*first = NULL;
	for (kv = hdrs->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
		if (evutil_ascii_strcasecmp(kv->key, name) != 0)
			continue;
		if (n++ == 0)
			*first = kv->value;
	}
	return n;
}

/* The size of req's headers as "Name: value\r\n" lines. */
static size_t
headers_size(struct evhttp_request *req)
{
	struct evkeyvalq	*hdrs = evhttp_request_get_input_headers(req);
	struct evkeyval		*kv;
	size_t			 len = 0;

	for (kv = hdrs->tqh_first; kv != NULL; kv = kv->next.tqe_next)
		len += strlen(kv->key) + strlen(kv->value) + 4;
	return len;
}

/* The raw header block, allocated in *out; -1 when out of memory. */
static int
raw_headers(struct evhttp_request *req, char **out, size_t *size)
{
	struct evkeyvalq	*hdrs = evhttp_request_get_input_headers(req);
	struct evkeyval		*kv;
	size_t			 len;
	char			*p;

	*size = len = headers_size(req);
	if ((*out = p = malloc(len + 1)) == NULL)
		return -1;
	*p = '\0';
	for (kv = hdrs->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
		p = stpcpy(p, kv->key);
		p = stpcpy(p, ": ");
		p = stpcpy(p, kv->value);
		p = stpcpy(p, "\r\n");
	}
	return 0;
}

/*
 * The URL Twilio requested: public_url if configured; else the forwarded
 * scheme and host from a trusted proxy; else http:// and the Host header.
 * Returns an allocated string or NULL.
 */
static char *
public_url(struct server *srv, struct evhttp_request *req, const char *peer)
{
	struct evkeyvalq	*hdrs = evhttp_request_get_input_headers(req);
	const struct evhttp_uri	*pu = evhttp_request_get_evhttp_uri(req);
	const char		*uri = evhttp_request_get_uri(req);
	const char		*proto = "http", *host = NULL, *fp, *fh;
	const char		*query = NULL;
	char			*url, scheme[16];
	size_t			 n;

	/*
	 * An absolute-form target ("POST http://host/path?q HTTP/1.1"): its
	 * path and query, as routing took them; the host is taken as below.
	 */
	if (*uri != '/' && pu != NULL && evhttp_uri_get_scheme(pu) != NULL) {
		if ((uri = evhttp_uri_get_path(pu)) == NULL || *uri == '\0')
			uri = "/";
		query = evhttp_uri_get_query(pu);
	}
	if (srv->conf->public_url != NULL) {
		if (asprintf(&url, "%s%s%s%s", srv->conf->public_url, uri,
		    query != NULL ? "?" : "", query != NULL ? query : "") == -1)
			return NULL;
		return url;
	}
	fp = evhttp_find_header(hdrs, "X-Forwarded-Proto");
	fh = evhttp_find_header(hdrs, "X-Forwarded-Host");
	if ((fp != NULL || fh != NULL) && forwarded_trusted(srv->conf, peer)) {
		if (fp != NULL) {
			/* A proxy chain may send "https, http": the first is the client's. */
			n = strcspn(fp, ", ");
			if (n == 0 || n >= sizeof scheme)
				n = 0;
			memcpy(scheme, fp, n);
			scheme[n] = '\0';
			if (n != 0)
				proto = scheme;
		}
		if (fh != NULL)
			host = fh;
	}
	if (host == NULL)
		host = evhttp_find_header(hdrs, "Host");
	if (host == NULL)
		host = "localhost";
	n = strcspn(host, ", ");
	if (asprintf(&url, "%s://%.*s%s%s%s", proto, (int)n, host, uri,
	    query != NULL ? "?" : "", query != NULL ? query : "") == -1)
		return NULL;
	return url;
}

/*
 * Check X-Twilio-Signature under the AccountSid's tokens or, when that
 * account is not configured, under each account's. 1 ok, 0 no, -1 error.
 */
static int
verify(struct server *srv, struct callback *cb, int body, char *why,
    size_t whylen)
{
	const struct config	*conf = srv->conf;
	const struct account	*a;
	const char		*sid = params_get(&cb->params, "AccountSid");
	const struct params	*bp = body ? &cb->params : NULL;
	char			*cand[URL_CANDIDATES];
	size_t			 i, n;
	int			 rv = 0;

	if ((a = sid ? config_account(conf, sid) : NULL) != NULL)
		rv = signature_verify(a, cb->url, bp, cb->signature);
	else
		for (i = 0; i < conf->naccounts && rv == 0; i++)
			rv = signature_verify(&conf->accounts[i], cb->url, bp,
			    cb->signature);
	if (rv > 0) {
		cb->verified_by = rv;
		srv->metrics->verified[rv - 1]++;
		return 1;
	}
	if (rv < 0)
		return -1;

	if ((n = signature_url_candidates(cb->url, cand)) == 0)
		return -1;
	snprintf(why, whylen, "signature does not match %s%s; URLs tried: %s%s%s",
	    a != NULL ? "the tokens of " : "any configured account",
	    a != NULL ? a->sid : "", cand[0], n > 1 ? ", " : "",
	    n > 1 ? cand[1] : "");
	signature_url_candidates_free(cand, n);
	return 0;
}

/*
 * The outbox rows for a callback: every action of every rule it matches,
 * with the rule names copied so a reload cannot pull them away. -1 when
 * out of memory.
 */
static int
build_jobs(const struct config *conf, const struct params *params,
    struct job_spec **jobsp, size_t *njobsp)
{
	const struct rule	*matched[MAX_MATCHED];
	struct job_spec		*jobs;
	size_t			 n, i, k, njobs = 0, names = 0;
	char			*p;

	*jobsp = NULL;
	*njobsp = 0;
	n = rules_match(conf, params, matched, MAX_MATCHED);
	for (i = 0; i < n; i++) {
		njobs += matched[i]->nactions;
		names += strlen(matched[i]->name) + 1;
	}
	if (njobs == 0)
		return 0;
	if ((jobs = malloc(njobs * sizeof *jobs + names)) == NULL)
		return -1;
	p = (char *)(jobs + njobs);
	for (i = 0, njobs = 0; i < n; i++) {
		strcpy(p, matched[i]->name);
		for (k = 0; k < matched[i]->nactions; k++) {
			const struct action *a = &matched[i]->actions[k];

			jobs[njobs].rule = p;
			jobs[njobs].action = (int)k;
			jobs[njobs].kind = action_kind_name(a->kind);
			jobs[njobs].max_attempts = a->max_attempts > 0 ?
			    a->max_attempts : conf->dispatch.max_attempts;
			njobs++;
		}
		p += strlen(p) + 1;
	}
	*jobsp = jobs;
	*njobsp = njobs;
	return 0;
}

/* Milliseconds from start to now (CLOCK_MONOTONIC). */
static double
ms_since(const struct timespec *start)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1e3 +
	    (now.tv_nsec - start->tv_nsec) / 1e6;
}

/*
 * The callback's log line, on the writer's side once its batch is durable
 * (or failed): its answer and the time from its arrival until then.
 */
static size_t
claim_line(struct commit_req *creq, char *buf, size_t len)
{
	struct pending	*p = creq->arg;
	char		 tok[TOKEN_MAX + 1], u[256];
	int		 status;

	status = creq->result == CLAIM_NEW ||
	    creq->result == CLAIM_DUPLICATE ? 200 : 503;
	/* The path only: for GET-style methods the query repeats the token. */
	return log_format_info(buf, len,
	    "%s %.*s %d%s IdempotencyToken=%s %.1fms", p->cb->method,
	    (int)strcspn(printable(p->cb->uri, u, sizeof u), "?"), u, status,
	    creq->result == CLAIM_DUPLICATE ? " duplicate" : "",
	    printable(p->cb->f.idempotency_token, tok, sizeof tok),
	    ms_since(&p->start));
}

/* The writer committed (or failed) this callback: answer Twilio. */
static void
claim_done(struct commit_req *creq, void *arg)
{
	struct pending	*p = arg;
	struct server	*srv = p->srv;
	const char	*cat;

	switch (creq->result) {
	case CLAIM_NEW:
		srv->metrics->accepted++;
		srv->metrics->last_accepted = time(NULL);
		cat = p->cb->f.usage_category;
		metrics_count(&srv->metrics->callbacks, p->cb->f.account_sid,
		    cat != NULL && category_known(cat) ? cat : "other");
		if (p->njobs == 0)
			srv->metrics->unmatched++;
		else
			dispatcher_kick(srv->dispatcher);
		reply(p->req, 200, "OK", "OK\n", NULL, NULL);
		break;
	case CLAIM_DUPLICATE:
		srv->metrics->duplicates++;
		reply(p->req, 200, "OK", "OK\n", "X-Usagehook-Duplicate", "1");
		break;
	default:
		srv->metrics->unavailable++;
		reply(p->req, 503, "Service Unavailable",
		    "database not writable; retry later\n", "Retry-After", "1");
		break;
	}
	metrics_request(srv->metrics, ms_since(&p->start) / 1e3);
	srv->inflight--;
	callback_free(p->cb);
	free(p->jobs);
	free(p);
}

/* 1 if fd is a socket accepted on a Unix socket. */
static int
fd_is_unix(int fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof ss;

	return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	    ss.ss_family == AF_UNIX;
}

/*
 * Whether req came over a Unix socket. Per connection, not per server:
 * systemd may pass a Unix and a TCP socket together, and libevent names a
 * Unix peer "localhost".
 */
static int
peer_is_unix(struct server *srv, struct evhttp_request *req)
{
	struct evhttp_connection	*evcon;
	struct conn			*c;

	if ((c = conn_of(srv, req)) != NULL)
		return c->on_unix;
	if ((evcon = evhttp_request_get_connection(req)) == NULL)
		return 0;
	return fd_is_unix(bufferevent_getfd(
	    evhttp_connection_get_bufferevent(evcon)));
}

/* Build the callback record from the request; -1 when out of memory. */
static int
read_request(struct server *srv, struct evhttp_request *req,
    const struct method *m, struct callback *cb, size_t *hsize)
{
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	const char		*sig;
	char			*peer = NULL;
	ev_uint16_t		 port;
	size_t			 len;

	cb->received_at = now_ms();
	if ((cb->method = strdup(m->name)) == NULL ||
	    (cb->uri = strdup(evhttp_request_get_uri(req))) == NULL ||
	    raw_headers(req, &cb->headers, hsize) == -1)
		return -1;
	len = evbuffer_get_length(in);
	if ((cb->body = malloc(len + 1)) == NULL)
		return -1;
	evbuffer_copyout(in, cb->body, len);
	cb->body[len] = '\0';
	cb->bodylen = len;
	if (evcon != NULL)
		evhttp_connection_get_peer(evcon, &peer, &port);
	if (peer_is_unix(srv, req))
		peer = NULL;
	if ((cb->remote = strdup(peer != NULL ? peer : "unix")) == NULL)
		return -1;
	sig = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "X-Twilio-Signature");
	if (sig != NULL && (cb->signature = strdup(sig)) == NULL)
		return -1;
	return 0;
}

/* The callback path: decode, verify, validate, then claim off the loop. */
static void
serve_callback(struct server *srv, struct evhttp_request *req)
{
	const struct method	*m;
	const struct evhttp_uri	*u = evhttp_request_get_evhttp_uri(req);
	struct evkeyvalq	*hdrs = evhttp_request_get_input_headers(req);
	struct callback		*cb;
	struct pending		*p;
	const char		*err, *query, *ct, *sig;
	char			 why[1024], *via;
	size_t			 hsize;
	int			 rv;

	srv->metrics->received++;
	if ((m = find_method(evhttp_request_get_command(req))) == NULL) {
		reply(req, 405, "Method Not Allowed", "method not allowed\n",
		    "Allow", "GET, POST, PUT, PATCH, DELETE, HEAD");
		return;
	}
	if ((cb = calloc(1, sizeof *cb)) == NULL ||
	    read_request(srv, req, m, cb, &hsize) == -1)
		goto unavailable;
	/* Checked here too: a reload's max_body applies to open connections. */
	if (cb->bodylen > srv->conf->limits.max_body) {
		srv->metrics->body_too_large++;
		reply(req, 413, "Payload Too Large",
		    "request body too large\n", NULL, NULL);
		callback_free(cb);
		return;
	}
	if (hsize > srv->conf->limits.max_header) {
		srv->metrics->header_too_large++;
		reply(req, 431, "Request Header Fields Too Large",
		    "request headers too large\n", NULL, NULL);
		callback_free(cb);
		return;
	}
	if (m->body) {
		ct = evhttp_find_header(hdrs, "Content-Type");
		if (!form_content_type(ct)) {
			snprintf(why, sizeof why, "Content-Type %s is not "
			    "application/x-www-form-urlencoded", ct ? ct : "missing");
			reject(srv, req, cb, REJECT_CONTENT_TYPE, why);
			callback_free(cb);
			return;
		}
		rv = form_decode(cb->body, cb->bodylen, &cb->params, &err);
	} else {
		query = u != NULL ? evhttp_uri_get_query(u) : NULL;
		rv = form_decode(query ? query : "", query ? strlen(query) : 0,
		    &cb->params, &err);
	}
	if (rv == -1) {
		snprintf(why, sizeof why, "%s parameters: %s",
		    m->body ? "body" : "query", err);
		reject(srv, req, cb, REJECT_MALFORMED, why);
		callback_free(cb);
		return;
	}
	if ((cb->url = public_url(srv, req, cb->remote)) == NULL)
		goto unavailable;
	/* Behind a trusted proxy: the client, and the peer it came through. */
	if ((rv = forwarded_via(srv->conf, hdrs, cb->remote, &via)) == -1)
		goto unavailable;
	if (rv == 1) {
		free(cb->remote);
		cb->remote = via;
	}
	/* Which of two signatures is Twilio's is anyone's guess. */
	if (header_count(hdrs, "X-Twilio-Signature", &sig) > 1) {
		reject(srv, req, cb, REJECT_MALFORMED,
		    "two X-Twilio-Signature headers");
		callback_free(cb);
		return;
	}
	if (cb->signature == NULL || *cb->signature == '\0') {
		snprintf(why, sizeof why, "no X-Twilio-Signature header "
		    "(URL %s)", cb->url);
		reject(srv, req, cb, REJECT_MISSING_SIGNATURE, why);
		callback_free(cb);
		return;
	}
	if ((rv = verify(srv, cb, m->body, why, sizeof why)) != 1) {
		if (rv == -1)
			goto unavailable;
		reject(srv, req, cb, REJECT_BAD_SIGNATURE, why);
		callback_free(cb);
		return;
	}
	if ((err = callback_validate(cb)) != NULL) {
		reject(srv, req, cb, REJECT_INVALID, err);
		callback_free(cb);
		return;
	}

	if ((p = calloc(1, sizeof *p)) == NULL)
		goto unavailable;
	if (build_jobs(srv->conf, &cb->params, &p->jobs, &p->njobs) == -1) {
		free(p);
		goto unavailable;
	}
	p->srv = srv;
	p->req = req;
	p->cb = cb;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	p->creq.kind = COMMIT_CLAIM;
	p->creq.cb = cb;
	p->creq.jobs = p->jobs;
	p->creq.njobs = p->njobs;
	p->creq.done = claim_done;
	p->creq.line = claim_line;
	p->creq.arg = p;
	srv->inflight++;
	committer_submit(srv->committer, &p->creq);
	return;

unavailable:
	/* Out of memory on the request path: fail this request, live on. */
	log_warnx("out of memory serving a callback; answered 503");
	srv->metrics->unavailable++;
	callback_free(cb);
	reply(req, 503, "Service Unavailable", "out of memory\n", NULL, NULL);
}

static void
healthz_done(struct commit_req *creq, void *arg)
{
	struct evhttp_request	*req = arg;
	char			 why[600];
	char			 body[sizeof creq->error + 32];

	store_moved_reason(why, sizeof why - 1);
	if (creq->result == 0)
		reply(req, 200, "OK", "ok\n", NULL, NULL);
	else if (*why != '\0')
		reply(req, 503, "Service Unavailable", strcat(why, "\n"), NULL,
		    NULL);
	else {
		/* The reason helps whoever looks at a failing check. */
		snprintf(body, sizeof body, "database not writable%s%s\n",
		    creq->error[0] ? ": " : "", creq->error);
		reply(req, 503, "Service Unavailable", body, NULL, NULL);
	}
	free(creq);
}

/* Healthy means the database really takes a durable write now. */
static void
serve_healthz(struct server *srv, struct evhttp_request *req)
{
	struct commit_req	*creq;

	if ((creq = calloc(1, sizeof *creq)) == NULL) {
		reply(req, 503, "Service Unavailable", "out of memory\n",
		    NULL, NULL);
		return;
	}
	creq->kind = COMMIT_PROBE;
	creq->done = healthz_done;
	creq->arg = req;
	committer_submit(srv->committer, creq);
}

static void
serve_metrics(struct server *srv, struct evhttp_request *req)
{
	struct evbuffer	*buf;

	/* The gauge is the count pace_listener keeps. */
	srv->metrics->connections = srv->connections;
	if ((buf = evbuffer_new()) == NULL || metrics_write(srv->metrics,
	    buf) == -1) {
		if (buf != NULL)
			evbuffer_free(buf);
		reply(req, 503, "Service Unavailable", "out of memory\n",
		    NULL, NULL);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	send_reply(req, 200, "OK", buf);
	evbuffer_free(buf);
}

/* The conn of the connection req arrived on; NULL when it was not adopted. */
static struct conn *
conn_of(struct server *srv, struct evhttp_request *req)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;
	struct conn			*c;
	evutil_socket_t			 fd;

	if ((evcon = evhttp_request_get_connection(req)) == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL ||
	    (fd = bufferevent_getfd(bev)) < 0 || (size_t)fd >= srv->nbyfd)
		return NULL;
	c = srv->byfd[fd];
	return c != NULL && c->evcon == evcon ? c : NULL;
}

/* Give the connection request_timeout to deliver its next request whole. */
static void
conn_arm(struct conn *c)
{
	struct timeval	tv = { c->srv->conf->limits.request_timeout, 0 };

	evtimer_add(c->deadline, &tv);
}

/* The deadline passed with a request still incomplete: close it. */
static void
conn_expired(evutil_socket_t fd, short events, void *arg)
{
	struct conn			*c = arg;
	struct evhttp_connection	*evcon = c->evcon;

	c->srv->metrics->timed_out++;
	/* Our bookkeeping first, whether or not evhttp would call us. */
	evhttp_connection_set_closecb(evcon, NULL, NULL);
	connection_closed(evcon, c);
	evhttp_connection_free(evcon);
}

static void
conn_free(struct conn *c)
{
	struct server	*srv = c->srv;

	if (c->replying)
		srv->nunflushed--;
	if ((size_t)c->fd < srv->nbyfd && srv->byfd[c->fd] == c)
		srv->byfd[c->fd] = NULL;
	event_free(c->deadline);
	free(c);
}

/* The whole reply of a request went out: the next one is due. */
static void
reply_flushed(struct evhttp_request *req, void *arg)
{
	struct conn	*c = arg;

	c->replying = 0;
	c->srv->nunflushed--;
	conn_arm(c);
}

/*
 * A whole request arrived: its connection's deadline stops (the time we take
 * to answer is ours), and it counts as in flight until the reply is flushed
 * or the connection ends, so a drain waits for it.
 */
static void
request_arrived(struct server *srv, struct evhttp_request *req)
{
	struct conn	*c;

	/* Nothing more is read until this request's reply is flushed. */
	hold_reading(evhttp_request_get_connection(req));
	/* Not adopted (out of memory): untracked, a drain may cut it short. */
	if ((c = conn_of(srv, req)) == NULL)
		return;
	evtimer_del(c->deadline);
	c->replying = 1;
	srv->nunflushed++;
	evhttp_request_set_on_complete_cb(req, reply_flushed, c);
}

/*
 * Why req's framing is not the one evhttp read, or NULL when it is. evhttp
 * (2.1) takes the first Content-Length, reads a chunked body only when the
 * first Transfer-Encoding is exactly "chunked" (any other falls back to
 * Content-Length, or to no body), and reads no body at all for HEAD: in
 * each case what it left unread would be parsed as the next request on the
 * connection, one a proxy in front sent for another client. So refused:
 * two Content-Length headers that differ; a Transfer-Encoding that is not
 * one "chunked", or one with a Content-Length; a HEAD with a
 * Content-Length other than 0 or with a Transfer-Encoding. evhttp keeps a
 * header name with a space before its colon as it is, so that is refused
 * too (RFC 9112 5.1), lest "Content-Length : 5" go unread. Two Host
 * headers are refused as well: which one a proxy in front routed by is
 * unknown.
 */
static const char *
framing_error(struct evhttp_request *req)
{
	struct evkeyvalq	*hdrs = evhttp_request_get_input_headers(req);
	struct evkeyval		*kv;
	const char		*cl, *te, *host;
	size_t			 ncl, nte;
	char			*end;

	for (kv = hdrs->tqh_first; kv != NULL; kv = kv->next.tqe_next)
		if (*kv->key == '\0' || kv->key[strspn(kv->key,
		    HEADER_NAME_CHARS)] != '\0')
			return "a header name that is not a token "
			    "(\"Content-Length :\" is not \"Content-Length:\")";
	ncl = header_count(hdrs, "Content-Length", &cl);
	for (kv = hdrs->tqh_first; kv != NULL && ncl > 1; kv = kv->next.tqe_next)
		if (evutil_ascii_strcasecmp(kv->key, "Content-Length") == 0 &&
		    strcmp(kv->value, cl) != 0)
			return "two Content-Length headers with different values";
	nte = header_count(hdrs, "Transfer-Encoding", &te);
	if (nte > 1 || (te != NULL && evutil_ascii_strcasecmp(te,
	    "chunked") != 0))
		return "a Transfer-Encoding other than one \"chunked\"";
	if (te != NULL && cl != NULL)
		return "both Transfer-Encoding and Content-Length";
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD &&
	    (te != NULL || (cl != NULL && (strtoull(cl, &end, 10) != 0 ||
	    *end != '\0'))))
		return "a HEAD request with a body";
	if (header_count(hdrs, "Host", &host) > 1)
		return "two Host headers";
	return NULL;
}

/*
 * Refuse a request whose framing evhttp may have read otherwise than the
 * client (or a proxy) meant: 400, and the connection closes after the
 * answer, with whatever else the client sent unread.
 */
static void
refuse_framing(struct server *srv, struct evhttp_request *req,
    const char *why)
{
	struct evhttp_connection	*evcon;
	char				 u[256], body[128];
	char				*peer = NULL;
	ev_uint16_t			 port;

	if ((evcon = evhttp_request_get_connection(req)) != NULL)
		evhttp_connection_get_peer(evcon, &peer, &port);
	if (peer_is_unix(srv, req))
		peer = "unix";
	srv->metrics->bad_framing++;
	/* Counted among the refusals a flood may not log one by one. */
	if (ratelimit_allow(&refusals))
		log_warnx("refused %s %s from %s: 400 bad framing: %s; "
		    "connection closed",
		    find_method(evhttp_request_get_command(req)) ?
		    find_method(evhttp_request_get_command(req))->name : "?",
		    printable(evhttp_request_get_uri(req), u, sizeof u),
		    peer != NULL ? peer : "-", why);
	snprintf(body, sizeof body, "bad request: %s\n", why);
	reply(req, 400, "Bad Request", body, "Connection", "close");
}

static void
route(struct evhttp_request *req, void *arg)
{
	struct server		*srv = arg;
	const struct evhttp_uri	*u = evhttp_request_get_evhttp_uri(req);
	const char		*path = u ? evhttp_uri_get_path(u) : NULL;
	const char		*why;
	size_t			 i;

	request_arrived(srv, req);
	if ((why = framing_error(req)) != NULL) {
		refuse_framing(srv, req, why);
		return;
	}
	if (path == NULL || *path == '\0')
		path = "/";
	if (strcmp(path, srv->conf->path) == 0) {
		serve_callback(srv, req);
		return;
	}
	/* The callback path checks its own, with the raw copy it keeps. */
	if (headers_size(req) > srv->conf->limits.max_header) {
		srv->metrics->header_too_large++;
		reply(req, 431, "Request Header Fields Too Large",
		    "request headers too large\n", NULL, NULL);
		return;
	}
	for (i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		if (strcmp(path, routes[i].path) == 0) {
			routes[i].serve(srv, req);
			return;
		}
	}
	srv->metrics->not_found++;
	reply(req, 404, "Not Found", "not found\n", NULL, NULL);
}

/* Stop accepting at max_connections; accept again once below it. */
static void
pace_listener(struct server *srv)
{
	struct evconnlistener	*l;
	size_t			 max = srv->conf->limits.max_connections;
	int			 full = srv->connections >= max;

	size_t			 i;

	if (srv->nbound == 0 || full == srv->paused)
		return;
	for (i = 0; i < srv->nbound; i++) {
		l = evhttp_bound_socket_get_listener(srv->bound[i]);
		if (full)
			evconnlistener_disable(l);
		else
			evconnlistener_enable(l);
	}
	if (full) {
		/* Once a minute is enough to tell the operator. */
		if (time(NULL) - srv->paused_warned >= 60) {
			srv->paused_warned = time(NULL);
			log_warnx("max_connections (%zu) reached: not accepting "
			    "until a connection closes", max);
		}
	}
	srv->paused = full;
}

static void
connection_closed(struct evhttp_connection *evcon, void *arg)
{
	struct conn	*c = arg;
	struct server	*srv = c->srv;

	/* A reply not flushed by now never will be: no longer in flight. */
	conn_free(c);
	srv->connections--;
	pace_listener(srv);
}

/* Hang a conn on evcon, on descriptor fd; -1 when out of memory. */
static int
conn_new(struct server *srv, struct evhttp_connection *evcon, int fd)
{
	struct conn	*c, **byfd;
	size_t		 n;

	if ((size_t)fd >= srv->nbyfd) {
		n = (size_t)fd + 1 > srv->nbyfd * 2 ? (size_t)fd + 1 :
		    srv->nbyfd * 2;
		if ((byfd = reallocarray(srv->byfd, n, sizeof *byfd)) == NULL)
			return -1;
		memset(byfd + srv->nbyfd, 0, (n - srv->nbyfd) * sizeof *byfd);
		srv->byfd = byfd;
		srv->nbyfd = n;
	}
	if ((c = calloc(1, sizeof *c)) == NULL)
		return -1;
	if ((c->deadline = evtimer_new(srv->base, conn_expired, c)) == NULL) {
		free(c);
		return -1;
	}
	c->srv = srv;
	c->evcon = evcon;
	c->fd = fd;
	c->on_unix = fd_is_unix(fd);
	/*
	 * A conn still here for this descriptor is of a connection whose
	 * close we did not see (the descriptor was closed, so it is gone).
	 */
	if (srv->byfd[fd] != NULL) {
		conn_free(srv->byfd[fd]);
		srv->connections--;
	}
	srv->byfd[fd] = c;
	evhttp_connection_set_closecb(evcon, connection_closed, c);
	conn_arm(c);
	return 0;
}

/*
 * evhttp (2.1) has no connection limit and no hook once a connection is
 * set up. bevcb sees each accepted connection before evhttp wraps it; the
 * adopt event runs later in the same loop turn, before any event of the
 * new connection can, and hangs a conn with its deadline on its
 * evhttp_connection (the bufferevent's callback argument). One we cannot
 * adopt is served without a deadline beyond evhttp's own timeout.
 */
static void
adopt_fresh(evutil_socket_t fd, short events, void *arg)
{
	struct server	*srv = arg;
	void		*evcon;
	size_t		 i;

	for (i = 0; i < srv->nfresh; i++) {
		bufferevent_getcb(srv->fresh[i], NULL, NULL, NULL, &evcon);
		if (evcon == NULL || conn_new(srv, evcon,
		    bufferevent_getfd(srv->fresh[i])) == -1)
			srv->connections--;
	}
	srv->nfresh = 0;
	pace_listener(srv);
}

static struct bufferevent *
new_connection(struct event_base *base, void *arg)
{
	struct server		*srv = arg;
	struct bufferevent	*bev, **fresh;
	size_t			 cap;

	if (srv->nfresh == srv->freshcap) {
		cap = srv->freshcap ? srv->freshcap * 2 : 64;
		if ((fresh = reallocarray(srv->fresh, cap,
		    sizeof *fresh)) == NULL)
			return NULL;	/* evhttp makes its own, uncounted */
		srv->fresh = fresh;
		srv->freshcap = cap;
	}
	if ((bev = bufferevent_socket_new(base, -1,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		return NULL;
	srv->fresh[srv->nfresh++] = bev;
	srv->connections++;
	event_active(srv->adopt, EV_TIMEOUT, 0);
	return bev;
}

/* Apply the limits of conf to evhttp. */
static void
apply_limits(struct server *srv)
{
	const struct limits	*l = &srv->conf->limits;

	evhttp_set_max_body_size(srv->http, l->max_body * BODY_HARD_FACTOR);
	evhttp_set_max_headers_size(srv->http,
	    l->max_header * HEADER_HARD_FACTOR);
	evhttp_set_timeout(srv->http, l->request_timeout);
	pace_listener(srv);
}

struct server *
server_new(struct event_base *base, struct config *conf,
    struct committer *committer, struct dispatcher *dispatcher,
    struct metrics *metrics)
{
	struct server	*srv;

	if ((srv = calloc(1, sizeof *srv)) == NULL)
		fatal("server_new");
	srv->base = base;
	srv->conf = conf;
	srv->committer = committer;
	srv->dispatcher = dispatcher;
	srv->metrics = metrics;
	if ((srv->http = evhttp_new(base)) == NULL)
		fatalx("evhttp_new failed");
	evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(srv->http, route, srv);
	evhttp_set_bevcb(srv->http, new_connection, srv);
	if ((srv->adopt = event_new(base, -1, 0, adopt_fresh, srv)) == NULL)
		fatalx("event_new failed");
	apply_limits(srv);
	return srv;
}

/* Serve connections on the listening socket fd too; -1 if evhttp refuses. */
static int
add_listener(struct server *srv, struct evhttp *http, int fd)
{
	struct evhttp_bound_socket	*b;

	if (http != srv->http)
		return evhttp_accept_socket(http, fd);
	if (srv->nbound == SERVER_MAX_LISTENERS ||
	    (b = evhttp_accept_socket_with_handle(srv->http, fd)) == NULL)
		return -1;
	srv->bound[srv->nbound++] = b;
	return 0;
}

/* Bind a Unix socket, replacing a stale socket file left by a crash. */
static int
listen_unix(struct server *srv, struct evhttp *http, const char *path,
    char **unix_path)
{
	struct sockaddr_un	 sun;
	struct stat		 sb;
	int			 fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		log_warnx("listen unix:%s: path longer than %zu bytes", path,
		    sizeof sun.sun_path - 1);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			log_warnx("listen unix:%s: exists and is not a socket; "
			    "remove it or choose another path", path);
			return -1;
		}
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("socket");
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1 ||
	    chmod(path, 0666) == -1 || listen(fd, LISTEN_BACKLOG) == -1 ||
	    evutil_make_socket_nonblocking(fd) == -1) {
		log_warn("listen unix:%s", path);
		close(fd);
		return -1;
	}
	if (add_listener(srv, http, fd) == -1) {
		log_warnx("listen unix:%s: evhttp refused the socket", path);
		close(fd);
		return -1;
	}
	if ((*unix_path = strdup(path)) == NULL)
		fatal("strdup");
	return 0;
}

int
server_listen_fd(struct server *srv, int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof ss, olen;
	int			type, acc;

	olen = sizeof type;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen) == -1) {
		log_warn("socket activation: fd %d", fd);
		return -1;
	}
	olen = sizeof acc;
	if (type != SOCK_STREAM || (ss.ss_family != AF_INET &&
	    ss.ss_family != AF_INET6 && ss.ss_family != AF_UNIX) ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &olen) == -1 ||
	    !acc) {
		log_warnx("socket activation: fd %d is not a listening TCP or "
		    "Unix stream socket (ListenStream= in the .socket unit)", fd);
		return -1;
	}
	/* systemd owns a Unix socket's file: not unix_path, never unlinked. */
	if (evutil_make_socket_nonblocking(fd) == -1 ||
	    add_listener(srv, srv->http, fd) == -1) {
		log_warnx("socket activation: evhttp refused fd %d", fd);
		return -1;
	}
	return 0;
}

/*
 * Bind host:port ourselves: evhttp's own bind listens with a backlog of 128,
 * and a burst of connections past it loses SYNs that clients retry 1 s later.
 */
static int
listen_tcp(struct server *srv, struct evhttp *http, const char *spec,
    const char *host, const char *port)
{
	struct addrinfo	 hints, *res;
	int		 fd, on = 1, error;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((error = getaddrinfo(*host ? host : NULL, port, &hints, &res)) != 0) {
		log_warnx("listen %s: %s", spec, gai_strerror(error));
		return -1;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == -1 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1 ||
	    evutil_make_socket_nonblocking(fd) == -1) {
		log_warn("listen %s: cannot bind (in use, or not an address "
		    "of this host?)", spec);
		if (fd != -1)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	if (add_listener(srv, http, fd) == -1) {
		log_warnx("listen %s: evhttp refused the socket", spec);
		close(fd);
		return -1;
	}
	return 0;
}

/* Listen on host:port, [v6]:port or unix:/path for http. */
static int
listen_on(struct server *srv, struct evhttp *http, const char *listen,
    char **unix_path)
{
	char		 host[256];
	const char	*colon, *h;
	size_t		 hlen;
	long		 port;
	char		*end;

	if (strncmp(listen, "unix:", 5) == 0)
		return listen_unix(srv, http, listen + 5, unix_path);
	if ((colon = strrchr(listen, ':')) == NULL) {
		log_warnx("listen %s: expected host:port or unix:/path", listen);
		return -1;
	}
	h = listen;
	hlen = colon - listen;
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen >= sizeof host) {
		log_warnx("listen %s: host too long", listen);
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 0 || port > 65535 || errno != 0) {
		log_warnx("listen %s: bad port", listen);
		return -1;
	}
	return listen_tcp(srv, http, listen, host, colon + 1);
}

int
server_listen(struct server *srv, const char *listen)
{
	return listen_on(srv, srv->http, listen, &srv->unix_path);
}

/* metrics_listen: only /metrics and /healthz, GET or HEAD, no body. */
static void
route_ops(struct evhttp_request *req, void *arg)
{
	struct server		*srv = arg;
	const struct evhttp_uri	*u = evhttp_request_get_evhttp_uri(req);
	const char		*path = u ? evhttp_uri_get_path(u) : NULL;
	const char		*why;
	size_t			 i;

	if ((why = framing_error(req)) != NULL) {
		refuse_framing(srv, req, why);
		return;
	}
	for (i = 0; path != NULL && i < sizeof routes / sizeof routes[0]; i++) {
		if (strcmp(path, routes[i].path) == 0) {
			routes[i].serve(srv, req);
			return;
		}
	}
	reply(req, 404, "Not Found", "not found: this listener serves "
	    "/metrics and /healthz only\n", NULL, NULL);
}

int
server_listen_metrics(struct server *srv, const char *listen)
{
	if (srv->ops == NULL) {
		if ((srv->ops = evhttp_new(srv->base)) == NULL)
			fatalx("evhttp_new failed");
		evhttp_set_allowed_methods(srv->ops, EVHTTP_REQ_GET |
		    EVHTTP_REQ_HEAD);
		evhttp_set_gencb(srv->ops, route_ops, srv);
		/* A scraper sends a line and a few headers, never a body. */
		evhttp_set_max_headers_size(srv->ops, 8192);
		evhttp_set_max_body_size(srv->ops, 0);
		evhttp_set_timeout(srv->ops, srv->conf->limits.request_timeout);
	}
	return listen_on(srv, srv->ops, listen, &srv->ops_unix_path);
}

void
server_set_config(struct server *srv, struct config *conf)
{
	srv->conf = conf;
	apply_limits(srv);
}

void
server_stop_accepting(struct server *srv)
{
	size_t	i;

	for (i = 0; i < srv->nbound; i++)
		evhttp_del_accept_socket(srv->http, srv->bound[i]);
	srv->nbound = 0;
	srv->paused = 0;
}

size_t
server_inflight(const struct server *srv)
{
	return srv->inflight + srv->nunflushed;
}

void
server_free(struct server *srv)
{
	size_t	i;

	if (srv == NULL)
		return;
	/* evhttp_free runs our close callbacks; leave the listener alone. */
	srv->nbound = 0;
	evhttp_free(srv->http);
	for (i = 0; i < srv->nbyfd; i++)
		if (srv->byfd[i] != NULL)
			conn_free(srv->byfd[i]);
	free(srv->byfd);
	event_free(srv->adopt);
	free(srv->fresh);
	if (srv->unix_path != NULL) {
		unlink(srv->unix_path);
		free(srv->unix_path);
	}
	if (srv->ops != NULL)
		evhttp_free(srv->ops);
	if (srv->ops_unix_path != NULL) {
		unlink(srv->ops_unix_path);
		free(srv->ops_unix_path);
	}
	free(srv);
}
