/* actions.c: running exec, http, append and log actions off the event loop. */
#include "config-sys.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include <openssl/ssl.h>

#include "accounts.h"
#include "actions.h"
#include "callback.h"
#include "client.h"
#include "https.h"
#include "json_read.h"
#include "config.h"
#include "log.h"
#include "proxy.h"
#include "triggers.h"
#include "xmalloc.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"0"
#endif

/* The whole environment of an exec child besides USAGEHOOK_*. */
#define EXEC_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:" \
			    "/sbin:/bin"
#define EXEC_LANG	"C.UTF-8"
/* After SIGTERM at the timeout, this long before SIGKILL. */
#define KILL_GRACE_MS	5000
/* Output still open this long after the child exited: stop waiting. */
#define DRAIN_MS	1000
/* Bytes of one output line we log (log.c keeps 4 KiB with the prefix). */
#define OUT_LINE_MAX	4000
/* Bytes of output of one job we log; the rest is counted and dropped. */
#define OUT_TOTAL_MAX	(64 * 1024)
/* Bytes of an error response body quoted in the failure. */
#define BODY_QUOTE	200
/* Largest secret header file we read. */
#define HEADER_FILE_MAX	8192
/* Largest URL file we read. */
#define URL_FILE_MAX	4096
#define ERR_MAX		512

struct run;

/* How one kind of action starts, and what it holds until it is over. */
struct kind {
	enum action_kind	 kind;
	int			(*start)(struct run *, const struct action *,
				    const struct params *,
				    const struct job_info *);
	/* Free the kind's state; kill or wait for what still runs. */
	void			(*release)(struct run *);
};

/* A cached client TLS context for one ca_file (NULL: system store). */
struct tls_ctx {
	char		*ca_file;
	SSL_CTX		*ctx;
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	struct tls_ctx	*next;
};

struct actions {
	struct event_base	*base;
	struct evdns_base	*dns;
	struct event		*sigchld;
	struct tls_ctx		*tls;
	struct run		*runs;
	size_t			 nrunning;
	pthread_mutex_t		 append_lock;
	char			 error[ERR_MAX];	/* of a failed start */
};

/* One action in flight; done runs from finish on the loop. */
struct run {
	struct actions		*a;
	const struct kind	*kind;
	int64_t			 job;
	char			*rule;
	action_done_fn		 done;
	void			*arg;
	struct event		*finish;
	int			 finished;	/* the result is set */
	int			 ok;
	int			 permanent;	/* no retry can fix it */
	char			 error[ERR_MAX];
	void			*state;		/* the kind's */
	struct run		*prev, *next;
};

/* A growing string; oom is set instead of failing each call. */
struct sbuf {
	char	*s;
	size_t	 len;
	size_t	 cap;
	int	 oom;
};

/*
 * One line of a secret file (a header value, a URL) into buf, the line
 * break dropped; 0, or -1 with why set (the path, never the content).
 */
static int
read_line_file(const char *path, const char *what, char *buf, size_t len,
    char *why, size_t whylen)
{
	size_t	 n = 0;
	ssize_t	 got;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		snprintf(why, whylen, "%s%s%s: %s", what, *what ? " " : "",
		    path, strerror(errno));
		return -1;
	}
	while (n < len - 1) {
		got = read(fd, buf + n, len - 1 - n);
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1) {
			snprintf(why, whylen, "%s%s%s: %s", what, *what ?
			    " " : "", path, strerror(errno));
			close(fd);
			explicit_bzero(buf, len);
			return -1;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	if (n == len - 1) {
		snprintf(why, whylen, "%s%s%s is larger than %zu bytes", what,
		    *what ? " " : "", path, len - 2);
		explicit_bzero(buf, len);
		return -1;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	if (strlen(buf) != n || strpbrk(buf, "\r\n") != NULL) {
		snprintf(why, whylen, "%s%s%s holds more than one line", what,
		    *what ? " " : "", path);
		explicit_bzero(buf, len);
		return -1;
	}
	return 0;
}

/* Make room for n more bytes and the NUL; 0, or -1 and oom set. */
static int
sb_grow(struct sbuf *b, size_t n)
{
	char	*s;
	size_t	 cap;

	if (b->oom)
		return -1;
	if (n < b->cap - b->len)
		return 0;
	if (n > SIZE_MAX / 2 - b->len) {
		b->oom = 1;
		return -1;
	}
	cap = b->cap ? b->cap : 256;
	while (cap - b->len <= n)
		cap *= 2;
	if ((s = realloc(b->s, cap)) == NULL) {
		b->oom = 1;
		return -1;
	}
	b->s = s;
	b->cap = cap;
	return 0;
}

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (sb_grow(b, n) == -1)
		return;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	 tmp[64];
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp) {
		b->oom = 1;
		return;
	}
	sb_add(b, tmp, (size_t)n);
}

/* The string built, now owned by the caller; NULL if memory ran out. */
static char *
sb_finish(struct sbuf *b)
{
	if (b->s == NULL && !b->oom)
		sb_grow(b, 0);
	if (b->oom) {
		free(b->s);
		return NULL;
	}
	return b->s;
}

/* Length of the valid UTF-8 sequence at s (NUL-terminated), or 0. */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned char	lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if (s[0] == 0xe0)
			lo = 0xa0;		/* no overlong forms */
		if (s[0] == 0xed)
			hi = 0x9f;		/* no surrogates */
		return s[1] >= lo && s[1] <= hi &&
		    (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if (s[0] == 0xf0)
			lo = 0x90;
		if (s[0] == 0xf4)
			hi = 0x8f;		/* nothing above U+10FFFF */
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
		    (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/* s escaped for inside a JSON string; a byte of broken UTF-8 is U+FFFD. */
static void
sb_json_chars(struct sbuf *b, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n;

	while (*p != '\0') {
		if (*p == '"' || *p == '\\') {
			sb_add(b, "\\", 1);
			sb_add(b, (const char *)p++, 1);
		} else if (*p < 0x20 || *p == 0x7f) {
			sb_printf(b, "\\u%04x", *p++);
		} else if ((n = utf8_len(p)) == 0) {
			sb_str(b, "\\ufffd");
			p++;
		} else {
			sb_add(b, (const char *)p, n);
			p += n;
		}
	}
}

/* s as a JSON string with its quotes. */
static void
sb_json_str(struct sbuf *b, const char *s)
{
	sb_add(b, "\"", 1);
	sb_json_chars(b, s);
	sb_add(b, "\"", 1);
}

/* ms since the epoch as "2026-11-24T03:00:00.123Z"; 0, or -1. */
static int
iso_time(int64_t ms, char *buf, size_t len)
{
	struct tm	tm;
	time_t		t = (time_t)(ms / 1000);
	char		sec[24];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(sec, sizeof sec, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return -1;
	snprintf(buf, len, "%s.%03dZ", sec, (int)(ms % 1000));
	return 0;
}

char *
params_json(const struct params *p, const struct job_info *ji)
{
	struct sbuf	 b = { NULL, 0, 0, 0 };
	size_t		 i, j;
	int		 first = 1;
	char		 tbuf[32];

	sb_add(&b, "{", 1);
	for (i = 0; i < p->n; i++) {
		/* One member per name, the first value, as params_get. */
		for (j = 0; j < i; j++)
			if (strcmp(p->v[j].name, p->v[i].name) == 0)
				break;
		if (j < i || (ji != NULL &&
		    strcmp(p->v[i].name, "usagehook") == 0))
			continue;
		if (!first)
			sb_add(&b, ",", 1);
		first = 0;
		sb_json_str(&b, p->v[i].name);
		sb_add(&b, ":", 1);
		sb_json_str(&b, p->v[i].value);
	}
	if (ji != NULL) {
		if (!first)
			sb_add(&b, ",", 1);
		sb_printf(&b, "\"usagehook\":{\"job\":%lld,\"rule\":",
		    (long long)ji->id);
		sb_json_str(&b, ji->rule != NULL ? ji->rule : "");
		sb_printf(&b, ",\"attempt\":%d", ji->attempt);
		if (ji->callback_id > 0)
			sb_printf(&b, ",\"id\":%lld", (long long)ji->callback_id);
		if (ji->received_at > 0 && iso_time(ji->received_at, tbuf,
		    sizeof tbuf) == 0) {
			sb_str(&b, ",\"received_at\":");
			sb_json_str(&b, tbuf);
		}
		if (ji->source != NULL) {
			sb_str(&b, ",\"source\":");
			sb_json_str(&b, ji->source);
		}
		sb_add(&b, "}", 1);
	}
	sb_add(&b, "}", 1);
	return sb_finish(&b);
}

/* 1 if s is one JSON value. */
static int
json_valid(const char *s)
{
	struct jv	*doc;
	char		*err = NULL;

	doc = jv_parse(s, strlen(s), &err);
	free(err);
	jv_free(doc);
	return doc != NULL;
}

static int
name_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

/* The value of a placeholder as the body's content type needs it. */
static void
sb_escaped(struct sbuf *b, const char *value, enum body_escape esc)
{
	char	*enc;

	switch (esc) {
	case ESCAPE_JSON:
		sb_json_chars(b, value);
		break;
	case ESCAPE_FORM:
		if ((enc = client_urlencode(value, strlen(value))) == NULL) {
			b->oom = 1;
			return;
		}
		sb_str(b, enc);
		free(enc);
		break;
	case ESCAPE_NONE:
		sb_str(b, value);
		break;
	}
}

/* template_expand with each value escaped by esc (-1: as it is). */
static char *
expand(const char *tmpl, const struct params *p, int esc)
{
	struct sbuf	 b = { NULL, 0, 0, 0 };
	const char	*s = tmpl, *open, *value;
	char		 name[256];
	size_t		 len;

	while ((open = strchr(s, '{')) != NULL) {
		sb_add(&b, s, (size_t)(open - s));
		if (open[1] == '{') {
			sb_add(&b, "{", 1);
			s = open + 2;
			continue;
		}
		for (len = 0; name_char((unsigned char)open[1 + len]); len++)
			;
		/* Not {Name}: JSON or prose in an argument stays as it is. */
		if (len == 0 || open[1 + len] != '}' || len >= sizeof name) {
			sb_add(&b, "{", 1);
			s = open + 1;
			continue;
		}
		memcpy(name, open + 1, len);
		name[len] = '\0';
		if ((value = params_get(p, name)) != NULL) {
			if (esc == -1)
				sb_str(&b, value);
			else
				sb_escaped(&b, value, (enum body_escape)esc);
		}
		s = open + len + 2;
	}
	sb_str(&b, s);
	return sb_finish(&b);
}

char *
template_expand(const char *tmpl, const struct params *p)
{
	return expand(tmpl, p, -1);
}

char *
body_expand(const char *tmpl, const struct params *p, enum body_escape esc)
{
	return expand(tmpl, p, (int)esc);
}

int
body_escape_for(const char *ct, enum body_escape *out)
{
	size_t	len = strcspn(ct, ";");
	char	type[128];

	while (len > 0 && (ct[len - 1] == ' ' || ct[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof type)
		return -1;
	memcpy(type, ct, len);
	type[len] = '\0';
	if (strchr(type, '/') == NULL || strchr(type, ' ') != NULL)
		return -1;
	if (strcasecmp(type, "application/json") == 0 ||
	    (len > 5 && strcasecmp(type + len - 5, "+json") == 0))
		*out = ESCAPE_JSON;
	else if (strcasecmp(type, "application/x-www-form-urlencoded") == 0)
		*out = ESCAPE_FORM;
	else if (strncasecmp(type, "text/", 5) == 0)
		*out = ESCAPE_NONE;
	else
		return -1;
	return 0;
}

char *
url_shown(const char *url)
{
	const char	*rest, *end;
	char		*out;
	size_t		 slen, hlen;

	if ((rest = strstr(url, "://")) == NULL)
		return strdup("(a URL that cannot be parsed)");
	slen = (size_t)(rest - url) + 3;
	rest += 3;
	hlen = strcspn(rest, "/?#");
	/* user:password@ goes, and so does everything after the host. */
	if ((end = memchr(rest, '@', hlen)) != NULL) {
		hlen -= (size_t)(end + 1 - rest);
		rest = end + 1;
	}
	if (strpbrk(url, "?@") == NULL)
		return strdup(url);
	if (asprintf(&out, "%.*s%.*s/\xe2\x80\xa6", (int)slen, url, (int)hlen,
	    rest) == -1)
		return NULL;
	return out;
}

char *
action_url_shown(const struct action *act)
{
	char	 buf[URL_FILE_MAX + 2], *shown, *out;
	char	 why[ERR_MAX];

	if (act->url_file == NULL)
		return url_shown(act->url != NULL ? act->url : "");
	if (read_line_file(act->url_file, "http file", buf, sizeof buf, why,
	    sizeof why) == -1) {
		if (asprintf(&out, "(the URL in %s)", act->url_file) == -1)
			return NULL;
		return out;
	}
	shown = url_shown(buf);
	explicit_bzero(buf, sizeof buf);
	/* A URL from a file is a secret as a whole: only its origin shows. */
	if (shown != NULL && strstr(shown, "\xe2\x80\xa6") == NULL) {
		const char *r = strstr(shown, "://");
		size_t n = r != NULL ? (size_t)(r + 3 - shown) +
		    strcspn(r + 3, "/?#") : strlen(shown);

		if (asprintf(&out, "%.*s/\xe2\x80\xa6", (int)n, shown) == -1)
			out = NULL;
		free(shown);
		shown = out;
	}
	return shown;
}

/*
 * *out = "USAGEHOOK_" + name with CamelCase as UPPER_SNAKE, allocated.
 * 1, 0 when name is not [A-Za-z0-9_]+ (no variable), -1 out of memory.
 */
static int
env_name(const char *name, char **out)
{
	struct sbuf	 b = { NULL, 0, 0, 0 };
	const char	*c;
	char		 u;
	int		 prev_low, prev_up, next_low;

	*out = NULL;
	if (*name == '\0')
		return 0;
	for (c = name; *c != '\0'; c++)
		if (!name_char((unsigned char)*c))
			return 0;
	sb_str(&b, "USAGEHOOK_");
	for (c = name; *c != '\0'; c++) {
		if (b.oom)
			break;
		if (*c >= 'A' && *c <= 'Z' && c > name &&
		    b.s[b.len - 1] != '_') {
			prev_low = (c[-1] >= 'a' && c[-1] <= 'z') ||
			    (c[-1] >= '0' && c[-1] <= '9');
			prev_up = c[-1] >= 'A' && c[-1] <= 'Z';
			next_low = c[1] >= 'a' && c[1] <= 'z';
			/* AccountSid -> ACCOUNT_SID, SMSCount -> SMS_COUNT */
			if (prev_low || (prev_up && next_low))
				sb_add(&b, "_", 1);
		}
		if (*c == '_' && b.s[b.len - 1] == '_')
			continue;
		u = *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c;
		sb_add(&b, &u, 1);
	}
	if ((*out = sb_finish(&b)) == NULL)
		return -1;
	return 1;
}

/* Control characters as '?', so a line stays one line in the log. */
static void
sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void	finish_cb(evutil_socket_t, short, void *);

/* Set the result without telling anyone yet. */
static void __attribute__((format(printf, 3, 0)))
run_vresult(struct run *r, int ok, const char *fmt, va_list ap)
{
	r->ok = ok;
	r->error[0] = '\0';
	if (fmt != NULL)
		vsnprintf(r->error, sizeof r->error, fmt, ap);
}

/* Set the result once and have done called from the loop. */
static void __attribute__((format(printf, 3, 4)))
run_finish(struct run *r, int ok, const char *fmt, ...)
{
	va_list	ap;

	if (r->finished)
		return;
	r->finished = 1;
	va_start(ap, fmt);
	run_vresult(r, ok, fmt, ap);
	va_end(ap);
	event_active(r->finish, EV_TIMEOUT, 1);
}

/* The result of a run whose finish event its worker thread activated. */
static void __attribute__((format(printf, 3, 4)))
run_result(struct run *r, int ok, const char *fmt, ...)
{
	va_list	ap;

	r->finished = 1;
	va_start(ap, fmt);
	run_vresult(r, ok, fmt, ap);
	va_end(ap);
}

/* Record why a start failed, for actions_run's *error. */
static void __attribute__((format(printf, 2, 3)))
run_error(struct run *r, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof r->error, fmt, ap);
	va_end(ap);
}

static struct timeval
ms_tv(int ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* exec */

/* Our end of the child's stdout or stderr. */
struct outpipe {
	struct run	*r;
	int		 fd;
	int		 is_err;
	struct event	*ev;
	char		 line[OUT_LINE_MAX + 1];
	size_t		 len;
	int		 cut;		/* the line was longer than we keep */
};

struct exec_state {
	pid_t		 pid;		/* 0 once reaped */
	int		 status;
	int		 timeout_ms;
	int		 timed_out;	/* SIGTERM sent */
	int		 draining;	/* exited; waiting for output EOF */
	struct event	*timer;
	int		 in_fd;
	struct event	*in_ev;
	char		*in_buf;	/* the JSON for stdin */
	size_t		 in_len, in_off;
	struct outpipe	 out, err;
	size_t		 logged;	/* bytes of output logged */
	size_t		 dropped;	/* and not */
};

/* Signal the child's process group (it has its own), or just the child. */
static void
kill_child(pid_t pid, int sig)
{
	if (kill(-pid, sig) == -1 && errno == ESRCH)
		(void)kill(pid, sig);
}

static void
close_event_fd(struct event **ev, int *fd)
{
	if (*ev != NULL) {
		event_free(*ev);
		*ev = NULL;
	}
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

/* Log the line collected so far. */
static void
out_emit(struct outpipe *o)
{
	struct run	*r = o->r;

	if (o->len > 0 && o->line[o->len - 1] == '\r')
		o->len--;
	o->line[o->len] = '\0';
	sanitize(o->line);
	/* The mark goes first: the log may cut a long line's end. */
	if (o->is_err)
		log_warnx("job %lld (%s) stderr%s: %s", (long long)r->job,
		    r->rule, o->cut ? " (truncated)" : "", o->line);
	else
		log_info("job %lld (%s) stdout%s: %s", (long long)r->job,
		    r->rule, o->cut ? " (truncated)" : "", o->line);
	o->len = 0;
	o->cut = 0;
}

/* Split output into lines, keeping within the per-line and per-job caps. */
static void
out_feed(struct outpipe *o, const char *buf, size_t n)
{
	struct exec_state	*x = o->r->state;
	size_t			 i;

	for (i = 0; i < n; i++) {
		if (x->logged >= OUT_TOTAL_MAX) {
			x->dropped += n - i;
			return;
		}
		if (buf[i] == '\n') {
			out_emit(o);
			continue;
		}
		if (o->len == OUT_LINE_MAX) {
			o->cut = 1;
			x->dropped++;
			continue;
		}
		o->line[o->len++] = buf[i];
		if (++x->logged >= OUT_TOTAL_MAX) {
			o->cut = 1;
			out_emit(o);
		}
	}
}

static void
out_close(struct outpipe *o)
{
	if (o->len > 0 || o->cut)
		out_emit(o);
	close_event_fd(&o->ev, &o->fd);
}

static void	exec_check_done(struct run *);

static void
out_read_cb(evutil_socket_t fd, short events, void *arg)
{
	struct outpipe	*o = arg;
	struct run	*r = o->r;
	char		 buf[4096];
	ssize_t		 n;
	int		 rounds;

	/* A bounded number of reads, so a chatty child cannot starve us. */
	for (rounds = 0; rounds < 16; rounds++) {
		n = read(fd, buf, sizeof buf);
		if (n > 0) {
			out_feed(o, buf, (size_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1)
			log_warn("job %lld (%s): reading %s", (long long)r->job,
			    r->rule, o->is_err ? "stderr" : "stdout");
		out_close(o);
		exec_check_done(r);
		return;
	}
}

/* Feed stdin; a child that does not read it gets EOF or us EPIPE. */
static void
in_write_cb(evutil_socket_t fd, short events, void *arg)
{
	struct run		*r = arg;
	struct exec_state	*x = r->state;
	ssize_t			 n;

	while (x->in_off < x->in_len) {
		n = write(x->in_fd, x->in_buf + x->in_off,
		    x->in_len - x->in_off);
		if (n > 0) {
			x->in_off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			if (x->in_ev != NULL && event_add(x->in_ev, NULL) == 0)
				return;
		}
		break;
	}
	close_event_fd(&x->in_ev, &x->in_fd);
}

/* The child exited and its output is closed: the action is over. */
static void
exec_check_done(struct run *r)
{
	struct exec_state	*x = r->state;
	struct timeval		 tv;
	int			 st = x->status;

	if (r->finished || x->pid != 0)
		return;
	if (x->out.fd != -1 || x->err.fd != -1) {
		/* Something the child started may hold them open forever. */
		if (!x->draining) {
			x->draining = 1;
			tv = ms_tv(DRAIN_MS);
			evtimer_add(x->timer, &tv);
		}
		return;
	}
	evtimer_del(x->timer);
	close_event_fd(&x->in_ev, &x->in_fd);
	if (x->dropped > 0)
		log_warnx("job %lld (%s): %zu bytes of output not logged "
		    "(lines are cut at %d bytes, a job's output at %d)",
		    (long long)r->job, r->rule, x->dropped, OUT_LINE_MAX,
		    OUT_TOTAL_MAX);
	if (x->timed_out)
		run_finish(r, 0, "timed out after %d ms", x->timeout_ms);
	else if (st == -1)
		run_finish(r, 0, "exit status unknown (reaped elsewhere)");
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		run_finish(r, 1, NULL);
	else if (WIFEXITED(st))
		run_finish(r, 0, "exit status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		run_finish(r, 0, "killed by signal %d (SIG%s)", WTERMSIG(st),
		    sigabbrev_np(WTERMSIG(st)) != NULL ?
		    sigabbrev_np(WTERMSIG(st)) : "?");
	else
		run_finish(r, 0, "wait status %#x", st);
}

/* Timeout (SIGTERM), grace over (SIGKILL), or output drain over. */
static void
exec_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct run		*r = arg;
	struct exec_state	*x = r->state;
	struct timeval		 tv;

	if (x->draining) {
		log_warnx("job %lld (%s): output still open %d ms after the "
		    "program exited; not waiting for it", (long long)r->job,
		    r->rule, DRAIN_MS);
		out_close(&x->out);
		out_close(&x->err);
		exec_check_done(r);
		return;
	}
	if (!x->timed_out) {
		x->timed_out = 1;
		log_warnx("job %lld (%s): timed out after %d ms; sending "
		    "SIGTERM", (long long)r->job, r->rule, x->timeout_ms);
		kill_child(x->pid, SIGTERM);
		tv = ms_tv(KILL_GRACE_MS);
		evtimer_add(x->timer, &tv);
		return;
	}
	log_warnx("job %lld (%s): still running %d ms after SIGTERM; sending "
	    "SIGKILL", (long long)r->job, r->rule, KILL_GRACE_MS);
	kill_child(x->pid, SIGKILL);
}

/* Reap our own children only: waitpid each pid we spawned. */
static void
sigchld_cb(evutil_socket_t sig, short events, void *arg)
{
	struct actions		*a = arg;
	struct run		*r;
	struct exec_state	*x;
	pid_t			 pid;
	int			 st;

	for (r = a->runs; r != NULL; r = r->next) {
		if (r->kind->kind != ACTION_EXEC || (x = r->state) == NULL ||
		    x->pid <= 0)
			continue;
		while ((pid = waitpid(x->pid, &st, WNOHANG)) == -1 &&
		    errno == EINTR)
			;
		if (pid == 0)
			continue;
		x->status = pid == -1 ? -1 : st;
		x->pid = 0;
		exec_check_done(r);
	}
}

/* fd moved to 3 or above, so dup2 onto 0-2 cannot clobber it. */
static int
fd_above_stdio(int *fd)
{
	int	nfd;

	if (*fd > 2)
		return 0;
	if ((nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3)) == -1)
		return -1;
	close(*fd);
	*fd = nfd;
	return 0;
}

/* A pipe with both ends close-on-exec and above stdio; ours non-blocking. */
static int
make_pipe(int fds[2], int ours)
{
	if (pipe2(fds, O_CLOEXEC) == -1)
		return -1;
	if (fd_above_stdio(&fds[0]) == -1 || fd_above_stdio(&fds[1]) == -1 ||
	    fcntl(fds[ours], F_SETFL, O_NONBLOCK) == -1) {
		close(fds[0]);
		close(fds[1]);
		fds[0] = fds[1] = -1;
		return -1;
	}
	return 0;
}

static void
free_strv(char **v)
{
	size_t	i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* Append a formatted "NAME=value" to env[*n]; -1 out of memory. */
static int __attribute__((format(printf, 3, 4)))
env_add(char **env, size_t *n, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 rc;

	va_start(ap, fmt);
	rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (rc == -1)
		return -1;
	env[(*n)++] = s;
	return 0;
}

/*
 * The child's whole environment, allocated: PATH, LANG, the job, then
 * USAGEHOOK_<PARAM> per parameter; the daemon's own (tokens) never leaks.
 */
static char **
exec_env(const struct params *p, const struct job_info *ji)
{
	char	**env, *name, tbuf[32];
	size_t	 n = 0, i, j, nlen;
	int	 rc;

	if ((env = calloc(p->n + 9, sizeof *env)) == NULL)
		return NULL;
	if (env_add(env, &n, "PATH=%s", EXEC_PATH) == -1 ||
	    env_add(env, &n, "LANG=%s", EXEC_LANG) == -1)
		goto bad;
	if (ji != NULL && (env_add(env, &n, "USAGEHOOK_JOB_ID=%lld",
	    (long long)ji->id) == -1 || env_add(env, &n, "USAGEHOOK_RULE=%s",
	    ji->rule != NULL ? ji->rule : "") == -1 || env_add(env, &n,
	    "USAGEHOOK_ATTEMPT=%d", ji->attempt) == -1))
		goto bad;
	if (ji != NULL && ji->callback_id > 0 && env_add(env, &n,
	    "USAGEHOOK_CALLBACK_ID=%lld", (long long)ji->callback_id) == -1)
		goto bad;
	if (ji != NULL && ji->received_at > 0 &&
	    iso_time(ji->received_at, tbuf, sizeof tbuf) == 0 &&
	    env_add(env, &n, "USAGEHOOK_RECEIVED_AT=%s", tbuf) == -1)
		goto bad;
	if (ji != NULL && ji->source != NULL && env_add(env, &n,
	    "USAGEHOOK_SOURCE=%s", ji->source) == -1)
		goto bad;
	for (i = 0; i < p->n; i++) {
		if ((rc = env_name(p->v[i].name, &name)) == -1)
			goto bad;
		if (rc == 0)
			continue;
		/* The first of a name wins; ours (JOB_ID ...) come first. */
		nlen = strlen(name);
		for (j = 0; j < n; j++)
			if (strncmp(env[j], name, nlen) == 0 &&
			    env[j][nlen] == '=')
				break;
		rc = j < n ? 0 : env_add(env, &n, "%s=%s", name,
		    p->v[i].value);
		free(name);
		if (rc == -1)
			goto bad;
	}
	return env;
bad:
	free_strv(env);
	return NULL;
}

static void
exec_release(struct run *r)
{
	struct exec_state	*x = r->state;

	if (x == NULL)
		return;
	if (x->pid > 0) {
		/* Abandoned by actions_free: kill, and reap (no zombie). */
		kill_child(x->pid, SIGKILL);
		while (waitpid(x->pid, NULL, 0) == -1 && errno == EINTR)
			;
		x->pid = 0;
	}
	close_event_fd(&x->in_ev, &x->in_fd);
	close_event_fd(&x->out.ev, &x->out.fd);
	close_event_fd(&x->err.ev, &x->err.fd);
	if (x->timer != NULL)
		event_free(x->timer);
	free(x->in_buf);
	free(x);
	r->state = NULL;
}

static int
exec_start(struct run *r, const struct action *act, const struct params *p,
    const struct job_info *ji)
{
	struct exec_state		*x;
	struct event_base		*base = r->a->base;
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	sigset_t			 set;
	char				**argv = NULL, **envp = NULL;
	int				 in[2] = { -1, -1 };
	int				 out[2] = { -1, -1 };
	int				 err[2] = { -1, -1 };
	int				 rc, fa_ok = 0, attr_ok = 0, ret = -1;
	size_t				 i;
	pid_t				 pid;

	if (act->argv == NULL || act->argc == 0 || act->argv[0] == NULL) {
		run_error(r, "exec: no program to run");
		return -1;
	}
	if ((x = calloc(1, sizeof *x)) == NULL)
		goto nomem;
	r->state = x;
	x->in_fd = x->out.fd = x->err.fd = -1;
	x->out.r = x->err.r = r;
	x->err.is_err = 1;
	x->timeout_ms = act->timeout_ms;

	if ((argv = calloc(act->argc + 1, sizeof *argv)) == NULL)
		goto nomem;
	for (i = 0; i < act->argc; i++)
		if ((argv[i] = template_expand(act->argv[i], p)) == NULL)
			goto nomem;
	if ((envp = exec_env(p, ji)) == NULL ||
	    (x->in_buf = params_json(p, ji)) == NULL)
		goto nomem;
	x->in_len = strlen(x->in_buf);

	if (make_pipe(in, 1) == -1 || make_pipe(out, 0) == -1 ||
	    make_pipe(err, 0) == -1) {
		run_error(r, "exec %s: pipe: %s", argv[0], strerror(errno));
		goto done;
	}
	x->in_fd = in[1];
	x->out.fd = out[0];
	x->err.fd = err[0];
	in[1] = out[0] = err[0] = -1;
	if ((x->timer = evtimer_new(base, exec_timer_cb, r)) == NULL ||
	    (x->in_ev = event_new(base, x->in_fd, EV_WRITE, in_write_cb,
	    r)) == NULL ||
	    (x->out.ev = event_new(base, x->out.fd, EV_READ | EV_PERSIST,
	    out_read_cb, &x->out)) == NULL ||
	    (x->err.ev = event_new(base, x->err.fd, EV_READ | EV_PERSIST,
	    out_read_cb, &x->err)) == NULL)
		goto nomem;

	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		goto spawn_err;
	fa_ok = 1;
	if ((rc = posix_spawn_file_actions_adddup2(&fa, in[0], 0)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, out[1], 1)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, err[1], 2)) != 0)
		goto spawn_err;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
	/* Belt and braces: descriptors a library opened without O_CLOEXEC. */
	if ((rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0)
		goto spawn_err;
#endif
	if ((rc = posix_spawnattr_init(&attr)) != 0)
		goto spawn_err;
	attr_ok = 1;
	/* Defaults for every signal (SIGPIPE is ignored here), none blocked. */
	sigfillset(&set);
	if ((rc = posix_spawnattr_setsigdefault(&attr, &set)) != 0)
		goto spawn_err;
	sigemptyset(&set);
	if ((rc = posix_spawnattr_setsigmask(&attr, &set)) != 0 ||
	    (rc = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
	    (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP)) != 0)
		goto spawn_err;
	/* No PATH search: the config insists on an absolute program. */
	if ((rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, envp)) != 0) {
		run_error(r, "exec %s: %s", argv[0], strerror(rc));
		goto done;
	}
	x->pid = pid;
	log_debug("job %lld (%s): started %s as pid %ld", (long long)r->job,
	    r->rule, argv[0], (long)pid);

	/* The child may fail from here on, but it runs: no -1 any more. */
	ret = 0;
	if (event_add(x->in_ev, NULL) == -1)
		close_event_fd(&x->in_ev, &x->in_fd);
	if (event_add(x->out.ev, NULL) == -1 ||
	    event_add(x->err.ev, NULL) == -1) {
		kill_child(pid, SIGKILL);
		run_finish(r, 0, "exec %s: cannot watch its output", argv[0]);
	} else if (x->timeout_ms > 0) {
		struct timeval tv = ms_tv(x->timeout_ms);

		if (evtimer_add(x->timer, &tv) == -1) {
			kill_child(pid, SIGKILL);
			run_finish(r, 0, "exec %s: cannot arm its timeout",
			    argv[0]);
		}
	}
	goto done;

spawn_err:
	run_error(r, "exec %s: %s", argv[0], strerror(rc));
	goto done;
nomem:
	run_error(r, "exec: out of memory");
done:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	for (i = 0; i < 2; i++) {
		if (in[i] != -1)
			close(in[i]);
		if (out[i] != -1)
			close(out[i]);
		if (err[i] != -1)
			close(err[i]);
	}
	free_strv(argv);
	free_strv(envp);
	return ret;
}

/* http */

struct http_state {
	struct evhttp_connection *conn;
	struct bufferevent	*bev;
	struct event		*timer;
	char			*host;		/* for messages, no brackets */
	int			 port;
	int			 tls;
	int			 timeout_ms;
	int			 connected;	/* reached the server */
	int			 req_error;	/* evhttp_request_error + 1 */
	long			 verify_error;	/* first X509_V_ERR_*, or 0 */
	char			 body[BODY_QUOTE + 1];
	size_t			 bodylen;
	/* Through HTTPS_PROXY: client.c on a worker thread (evhttp cannot). */
	struct tunnel_post	*tunnel;
};

/* An http action's POST through the CONNECT tunnel, on its own thread. */
struct tunnel_post {
	pthread_t		 thread;
	struct event		*finish;
	char			*url;
	char			*ca_file;
	char			**hdrs;		/* "Name: value", NULL-ended */
	char			*body;
	int			 timeout_ms;
	int			 ok;
	char			 error[ERR_MAX];
};

/*
 * The client TLS context for ca_file (NULL: the system store), cached and
 * rebuilt when the file changes; NULL with r->error set on failure.
 */
static SSL_CTX *
tls_ctx_get(struct run *r, const char *ca_file)
{
	struct actions	*a = r->a;
	struct tls_ctx	*t;
	struct stat	 sb;
	SSL_CTX		*ctx;
	char		 why[ERR_MAX - 8];

	memset(&sb, 0, sizeof sb);
	if (ca_file != NULL && stat(ca_file, &sb) == -1) {
		run_error(r, "TLS: ca_file %s: %s", ca_file, strerror(errno));
		return NULL;
	}
	for (t = a->tls; t != NULL; t = t->next) {
		if ((t->ca_file == NULL) != (ca_file == NULL) ||
		    (ca_file != NULL && strcmp(t->ca_file, ca_file) != 0))
			continue;
		if (ca_file == NULL || (t->dev == sb.st_dev &&
		    t->ino == sb.st_ino && t->size == sb.st_size &&
		    t->mtime.tv_sec == sb.st_mtim.tv_sec &&
		    t->mtime.tv_nsec == sb.st_mtim.tv_nsec))
			return t->ctx;
		break;
	}
	if ((ctx = https_ctx_new(ca_file, why, sizeof why)) == NULL) {
		run_error(r, "TLS: %s", why);
		return NULL;
	}
	if (t == NULL) {
		if ((t = calloc(1, sizeof *t)) == NULL ||
		    (ca_file != NULL && (t->ca_file = strdup(ca_file)) ==
		    NULL)) {
			free(t);
			SSL_CTX_free(ctx);
			run_error(r, "TLS: out of memory");
			return NULL;
		}
		t->next = a->tls;
		a->tls = t;
	} else {
		/* Connections still using the old one hold a reference. */
		SSL_CTX_free(t->ctx);
	}
	t->ctx = ctx;
	t->dev = sb.st_dev;
	t->ino = sb.st_ino;
	t->size = sb.st_size;
	t->mtime = sb.st_mtim;
	return ctx;
}

/*
 * Why the exchange failed short of a response, as one line. cleanup is
 * set when libevent gave back the request itself with no error callback:
 * in 2.1 only its ECONNREFUSED path does that (it clobbers errno first).
 */
static void
http_fail(struct run *r, int cleanup)
{
	struct http_state	*h = r->state;
	int			 dns;
	char			 buf[512], url[288];

	if (h->tls && https_error(h->bev, h->verify_error, buf, sizeof buf)
	    != NULL) {
		run_finish(r, 0, "TLS: %s (%s:%d)", buf, h->host, h->port);
		return;
	}
	if (h->bev != NULL && (dns = bufferevent_socket_get_dns_error(h->bev))
	    != 0) {
		run_finish(r, 0, "cannot resolve %s: %s", h->host,
		    dns_error(dns));
		return;
	}
	if (h->req_error == EVREQ_HTTP_TIMEOUT + 1) {
		run_finish(r, 0, "timed out after %d ms (%s:%d)",
		    h->timeout_ms, h->host, h->port);
		return;
	}
	if (!h->connected && cleanup) {
		run_finish(r, 0, "cannot connect to %s:%d: %s", h->host,
		    h->port, strerror(ECONNREFUSED));
		return;
	}
	if (!h->connected) {
		run_finish(r, 0, "cannot connect to %s:%d (unreachable, or "
		    "closed during the %s)", h->host, h->port, h->tls ?
		    "TLS handshake" : "connect");
		return;
	}
	snprintf(url, sizeof url, "%s://%s%s%s:%d", h->tls ? "https" : "http",
	    strchr(h->host, ':') ? "[" : "", h->host,
	    strchr(h->host, ':') ? "]" : "", h->port);
	switch (h->req_error - 1) {
	case EVREQ_HTTP_INVALID_HEADER:
	case EVREQ_HTTP_DATA_TOO_LONG:
		run_finish(r, 0, "%s", https_answer_error(buf, sizeof buf, url,
		    h->req_error - 1, RESPONSE_BODY_MAX));
		break;
	default:
		run_finish(r, 0, "connection to %s:%d closed before a "
		    "response", h->host, h->port);
		break;
	}
}

static void
http_error_cb(enum evhttp_request_error err, void *arg)
{
	struct run		*r = arg;
	struct http_state	*h = r->state;

	if (h->req_error == 0)
		h->req_error = (int)err + 1;
}

/* Keep the start of the body for the failure; libevent drops the rest. */
static void
http_chunk_cb(struct evhttp_request *req, void *arg)
{
	struct run		*r = arg;
	struct http_state	*h = r->state;
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	ev_ssize_t		 n;

	if (h->bodylen >= BODY_QUOTE)
		return;
	n = evbuffer_copyout(in, h->body + h->bodylen, BODY_QUOTE -
	    h->bodylen);
	if (n > 0)
		h->bodylen += (size_t)n;
	h->body[h->bodylen] = '\0';
}

static void
http_close_cb(struct evhttp_connection *conn, void *arg)
{
	struct run		*r = arg;
	struct http_state	*h = r->state;

	h->connected = 1;
}

/* The exchange is over; libevent frees req after this returns. */
static void
http_done_cb(struct evhttp_request *req, void *arg)
{
	struct run		*r = arg;
	struct http_state	*h = r->state;
	const char		*line;
	char			*reason = NULL;
	int			 code;

	if (r->finished)
		return;
	if (req == NULL || (code = evhttp_request_get_response_code(req)) ==
	    0) {
		http_fail(r, req != NULL && h->req_error == 0);
		return;
	}
	h->connected = 1;
	if (code >= 200 && code <= 299) {
		run_finish(r, 1, NULL);
		return;
	}
	if ((line = evhttp_request_get_response_code_line(req)) != NULL &&
	    (reason = strdup(line)) != NULL)
		sanitize(reason);
	sanitize(h->body);
	run_finish(r, 0, "HTTP %d%s%s%s%s", code, reason != NULL &&
	    *reason != '\0' ? " " : "", reason != NULL ? reason : "",
	    h->bodylen > 0 ? ": " : "", h->body);
	free(reason);
}

static void
http_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct run		*r = arg;
	struct http_state	*h = r->state;

	run_finish(r, 0, "timed out after %d ms (%s:%d)", h->timeout_ms,
	    h->host, h->port);
}

/* Read a secret header value from file into buf; 0 or -1 with r->error. */
static int
header_from_file(struct run *r, const struct action_header *hd, char *buf,
    size_t len)
{
	char	why[ERR_MAX - 64];

	if (read_line_file(hd->file, "", buf, len, why, sizeof why) == -1) {
		run_error(r, "header %s: %s", hd->name, why);
		return -1;
	}
	return 0;
}

/* Set or replace one request header; 0 or -1. */
static int
set_header(struct evkeyvalq *hdrs, const char *name, const char *value)
{
	evhttp_remove_header(hdrs, name);
	return evhttp_add_header(hdrs, name, value);
}

/* All request headers: ours, then the action's (which may replace ours). */
static int
http_headers(struct run *r, const struct action *act,
    const struct params *p, const struct job_info *ji,
    struct evhttp_request *req, const char *hosthdr)
{
	struct evkeyvalq	*hdrs = evhttp_request_get_output_headers(req);
	const char		*token;
	char			 buf[HEADER_FILE_MAX + 2];
	size_t			 i;
	int			 rc;

	if (set_header(hdrs, "Host", hosthdr) == -1 ||
	    set_header(hdrs, "Content-Type", act->content_type != NULL ?
	    act->content_type : "application/json") == -1 ||
	    set_header(hdrs, "User-Agent", "usagehookd/" PACKAGE_VERSION) ==
	    -1 || set_header(hdrs, "Connection", "close") == -1)
		goto bad;
	if ((token = params_get(p, "IdempotencyToken")) != NULL &&
	    set_header(hdrs, "Idempotency-Key", token) == -1) {
		r->permanent = 1;
		run_error(r, "http: IdempotencyToken cannot be a header");
		return -1;
	}
	if (ji != NULL) {
		snprintf(buf, sizeof buf, "%lld", (long long)ji->id);
		if (set_header(hdrs, "X-Usagehook-Job", buf) == -1)
			goto bad;
	}
	for (i = 0; i < act->nheaders; i++) {
		const struct action_header *hd = &act->headers[i];

		if (hd->file != NULL) {
			if (header_from_file(r, hd, buf, sizeof buf) == -1)
				return -1;
			rc = set_header(hdrs, hd->name, buf);
			explicit_bzero(buf, sizeof buf);
		} else
			rc = set_header(hdrs, hd->name,
			    hd->value != NULL ? hd->value : "");
		if (rc == -1) {
			/* Never the value: it may be the secret. */
			r->permanent = 1;
			run_error(r, "header %s: the name or value cannot be "
			    "sent", hd->name);
			return -1;
		}
	}
	return 0;
bad:
	run_error(r, "http: out of memory");
	return -1;
}

/* On a worker thread: the blocking POST through the proxy. */
static void *
tunnel_thread(void *arg)
{
	struct tunnel_post	*t = arg;
	struct client_request	 req;
	struct client_response	 resp;
	char			*err = NULL, quote[BODY_QUOTE + 1];
	size_t			 n;

	memset(&req, 0, sizeof req);
	req.method = "POST";
	req.url = t->url;
	req.ca_file = t->ca_file;
	req.headers = (const char **)t->hdrs;
	req.body = t->body;
	req.bodylen = strlen(t->body);
	req.timeout_ms = t->timeout_ms;
	if (client_do(&req, &resp, &err) == -1) {
		snprintf(t->error, sizeof t->error, "%s", err);
		free(err);
	} else if (resp.status >= 200 && resp.status <= 299)
		t->ok = 1;
	else {
		n = resp.bodylen < BODY_QUOTE ? resp.bodylen : BODY_QUOTE;
		memcpy(quote, resp.body != NULL ? resp.body : "", n);
		quote[n] = '\0';
		sanitize(quote);
		if (resp.reason != NULL)
			sanitize(resp.reason);
		snprintf(t->error, sizeof t->error, "HTTP %d%s%s%s%s",
		    resp.status, resp.reason != NULL && *resp.reason != '\0' ?
		    " " : "", resp.reason != NULL ? resp.reason : "",
		    n > 0 ? ": " : "", quote);
	}
	client_response_free(&resp);
	event_active(t->finish, EV_TIMEOUT, 1);
	return NULL;
}

/* Free what a tunnel_post holds, wiping the headers (they carry secrets). */
static void
tunnel_free(struct tunnel_post *t)
{
	size_t	i;

	for (i = 0; t->hdrs != NULL && t->hdrs[i] != NULL; i++)
		freezero_str(t->hdrs[i]);
	free(t->hdrs);
	free(t->url);
	free(t->ca_file);
	free(t->body);
	free(t);
}

/*
 * POST json to url through the proxy on a worker thread, with the headers
 * http_headers puts on an evhttp request. 0, or -1 with r->error.
 */
static int
tunnel_start(struct run *r, const struct action *act, const struct params *p,
    const struct job_info *ji, const char *url, const char *hosthdr,
    const char *json)
{
	struct http_state	*h = r->state;
	struct tunnel_post	*t;
	struct evhttp_request	*tmp;
	struct evkeyval		*kv;
	size_t			 n = 0, i;
	int			 rc;

	if ((t = calloc(1, sizeof *t)) == NULL ||
	    (tmp = evhttp_request_new(NULL, NULL)) == NULL) {
		free(t);
		run_error(r, "http: out of memory");
		return -1;
	}
	if (http_headers(r, act, p, ji, tmp, hosthdr) == -1) {
		evhttp_request_free(tmp);
		free(t);
		return -1;
	}
	for (kv = evhttp_request_get_output_headers(tmp)->tqh_first;
	    kv != NULL; kv = kv->next.tqe_next)
		n++;
	t->hdrs = xcalloc(n + 1, sizeof *t->hdrs);
	i = 0;
	for (kv = evhttp_request_get_output_headers(tmp)->tqh_first;
	    kv != NULL; kv = kv->next.tqe_next)
		xasprintf(&t->hdrs[i++], "%s: %s", kv->key, kv->value);
	evhttp_request_free(tmp);
	t->url = xstrdup(url);
	t->ca_file = act->ca_file != NULL ? xstrdup(act->ca_file) : NULL;
	t->body = xstrdup(json);
	t->timeout_ms = h->timeout_ms;
	t->finish = r->finish;
	if ((rc = pthread_create(&t->thread, NULL, tunnel_thread, t)) != 0) {
		tunnel_free(t);
		run_error(r, "http: cannot start a thread: %s", strerror(rc));
		return -1;
	}
	h->tunnel = t;
	return 0;
}

static void
http_release(struct run *r)
{
	struct http_state	*h = r->state;

	if (h == NULL)
		return;
	if (h->tunnel != NULL) {
		/* Each exchange has its timeout: the wait is bounded. */
		pthread_join(h->tunnel->thread, NULL);
		if (h->tunnel->ok)
			run_result(r, 1, NULL);
		else
			run_result(r, 0, "%s", h->tunnel->error);
		tunnel_free(h->tunnel);
	}
	/* Frees a pending request (no callback), the bufferevent and SSL. */
	if (h->conn != NULL)
		evhttp_connection_free(h->conn);
	else if (h->bev != NULL)
		bufferevent_free(h->bev);
	if (h->timer != NULL)
		event_free(h->timer);
	free(h->host);
	free(h);
	r->state = NULL;
}

static int
http_start(struct run *r, const struct action *act, const struct params *p,
    const struct job_info *ji)
{
	struct actions		*a = r->a;
	struct http_state	*h;
	struct evhttp_uri	*uri = NULL;
	struct evhttp_request	*req;
	struct timeval		 tv;
	SSL_CTX			*ctx;
	const char		*scheme, *host, *path, *query, *url;
	char			*target = NULL, *hosthdr = NULL, *json = NULL;
	char			 why[ERR_MAX - 8], urlbuf[URL_FILE_MAX + 2];
	char			*perr = NULL;
	struct proxy		 px;
	size_t			 hlen;
	int			 port, ret = -1, tunnelled;

	if ((h = calloc(1, sizeof *h)) == NULL)
		goto nomem;
	r->state = h;
	h->timeout_ms = act->timeout_ms;
	url = act->url;
	if (act->url_file != NULL) {
		/* Read at each attempt, so a rotated webhook URL is taken. */
		if (read_line_file(act->url_file, "http: URL file", urlbuf,
		    sizeof urlbuf, why, sizeof why) == -1) {
			run_error(r, "%s", why);
			goto done;
		}
		url = urlbuf;
	}
	if (url == NULL || (uri = evhttp_uri_parse(url)) == NULL ||
	    (scheme = evhttp_uri_get_scheme(uri)) == NULL ||
	    (host = evhttp_uri_get_host(uri)) == NULL || *host == '\0') {
		r->permanent = 1;
		if (act->url_file != NULL)
			run_error(r, "http: the URL in %s cannot be parsed",
			    act->url_file);
		else
			run_error(r, "http: cannot parse the URL");
		goto done;
	}
	if (strcasecmp(scheme, "https") == 0)
		h->tls = 1;
	else if (strcasecmp(scheme, "http") != 0) {
		r->permanent = 1;
		run_error(r, "http: scheme %s is not http or https", scheme);
		goto done;
	}
	/* An IPv6 literal may come with its brackets. */
	hlen = strlen(host);
	if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']')
		h->host = strndup(host + 1, hlen - 2);
	else
		h->host = strdup(host);
	if (h->host == NULL)
		goto nomem;
	port = evhttp_uri_get_port(uri);
	h->port = port > 0 ? port : h->tls ? 443 : 80;
	path = evhttp_uri_get_path(uri);
	query = evhttp_uri_get_query(uri);
	if (asprintf(&target, "%s%s%s", path != NULL && *path != '\0' ? path :
	    "/", query != NULL ? "?" : "", query != NULL ? query : "") == -1) {
		target = NULL;
		goto nomem;
	}
	/* Host: as in the URL: brackets for IPv6, the port if one was given. */
	if ((port > 0 ? asprintf(&hosthdr, "%s%s%s:%d", strchr(h->host, ':') ?
	    "[" : "", h->host, strchr(h->host, ':') ? "]" : "", port) :
	    asprintf(&hosthdr, "%s%s%s", strchr(h->host, ':') ? "[" : "",
	    h->host, strchr(h->host, ':') ? "]" : "")) == -1) {
		hosthdr = NULL;
		goto nomem;
	}
	if (act->body != NULL)
		json = body_expand(act->body, p, act->escape);
	else
		json = params_json(p, ji);
	if (json == NULL)
		goto nomem;
	if (act->body != NULL && act->escape == ESCAPE_JSON &&
	    !json_valid(json)) {
		/* check-config proves templates; this is belt and braces. */
		r->permanent = 1;
		run_error(r, "http: the body is not valid JSON once filled");
		goto done;
	}

	/* HTTPS_PROXY: a CONNECT tunnel, which evhttp cannot make. */
	if (h->tls && (tunnelled = proxy_for(h->host, &px, &perr)) != 0) {
		proxy_free(&px);
		if (tunnelled == -1) {
			r->permanent = 1;
			run_error(r, "http: %s", perr);
			free(perr);
			goto done;
		}
		ret = tunnel_start(r, act, p, ji, url, hosthdr, json);
		goto done;
	}
	if (h->tls) {
		if ((ctx = tls_ctx_get(r, act->ca_file)) == NULL)
			goto done;
		h->bev = https_bev_new(a->base, ctx, h->host, &h->verify_error,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, why,
		    sizeof why);
		if (h->bev == NULL) {
			run_error(r, "TLS: %s", why);
			goto done;
		}
	} else
		h->bev = bufferevent_socket_new(a->base, -1,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (h->bev == NULL)
		goto nomem;
	if ((h->conn = evhttp_connection_base_bufferevent_new(a->base, a->dns,
	    h->bev, h->host, (unsigned short)h->port)) == NULL)
		goto nomem;
	evhttp_connection_set_retries(h->conn, 0);
	https_bound(h->conn, RESPONSE_BODY_MAX);
	evhttp_connection_set_closecb(h->conn, http_close_cb, r);
	if (h->timeout_ms > 0) {
		/* Our timer bounds the exchange; libevent's fire later. */
		tv = ms_tv(h->timeout_ms + 1000);
		evhttp_connection_set_timeout_tv(h->conn, &tv);
		tv = ms_tv(h->timeout_ms);
		if ((h->timer = evtimer_new(a->base, http_timer_cb, r)) ==
		    NULL || evtimer_add(h->timer, &tv) == -1)
			goto nomem;
	}

	if ((req = evhttp_request_new(http_done_cb, r)) == NULL)
		goto nomem;
	evhttp_request_set_error_cb(req, http_error_cb);
	evhttp_request_set_chunked_cb(req, http_chunk_cb);
	if (http_headers(r, act, p, ji, req, hosthdr) == -1) {
		evhttp_request_free(req);
		goto done;
	}
	if (evbuffer_add(evhttp_request_get_output_buffer(req), json,
	    strlen(json)) == -1) {
		evhttp_request_free(req);
		goto nomem;
	}
	/* A failure to connect may call http_done_cb right away: fine. */
	if (evhttp_make_request(h->conn, req, EVHTTP_REQ_POST, target) ==
	    -1) {
		/* Who owns req now differs by path in 2.1; leave it be. */
		run_error(r, "http: cannot start the request to %s:%d",
		    h->host, h->port);
		goto done;
	}
	ret = 0;
	goto done;
nomem:
	run_error(r, "http: out of memory");
done:
	if (uri != NULL)
		evhttp_uri_free(uri);
	free(target);
	free(hosthdr);
	free(json);
	explicit_bzero(urlbuf, sizeof urlbuf);
	return ret;
}

/* append */

struct append_state {
	pthread_t	 thread;
	int		 started;
	pthread_mutex_t	*lock;
	char		*path;
	char		*line;
	size_t		 len;
	struct event	*finish;
	const char	*op;		/* what failed, or NULL */
	int		 err;		/* its errno */
	size_t		 short_write;	/* bytes written of a short write */
};

/* fsync the directory holding path, so a new file's name is durable. */
static int
sync_dir(const char *path)
{
	char	*dir, *slash;
	int	 fd, rc = 0;

	if ((dir = strdup(path)) == NULL)
		return -1;
	if ((slash = strrchr(dir, '/')) == NULL)
		strcpy(dir, ".");
	else
		slash[slash == dir ? 1 : 0] = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(fd) == -1)
		rc = -1;
	if (fd != -1)
		close(fd);
	free(dir);
	return rc;
}

/*
 * On a worker thread, so fsync never stalls the loop. Durable because the
 * whole line goes out in one write(2) to an O_APPEND file, which POSIX
 * makes land at the end in one piece (no interleaving with other writers),
 * and fdatasync returns only once it is on disk (plus the directory when
 * we created the file). A short write (disk full) is cut back off, so the
 * file never keeps half a line of ours; a line a killed process left torn
 * (SIGKILL stops a write(2) between pages) is ended with a newline first,
 * so the next record is never glued onto it.
 */
static void *
append_thread(void *arg)
{
	struct append_state	*s = arg;
	struct stat		 sb;
	ssize_t			 n;
	char			 last;
	int			 fd, created = 0;

	fd = open(s->path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOCTTY);
	if (fd == -1 && errno == ENOENT) {
		fd = open(s->path, O_RDWR | O_APPEND | O_CREAT | O_EXCL |
		    O_CLOEXEC | O_NOCTTY, 0640);
		if (fd == -1 && errno == EEXIST)
			fd = open(s->path, O_RDWR | O_APPEND | O_CLOEXEC |
			    O_NOCTTY);
		else if (fd != -1)
			created = 1;
	}
	if (fd == -1) {
		s->op = "open";
		s->err = errno;
		goto out;
	}
	/* Our appenders in turn, so a short write can be cut back safely. */
	pthread_mutex_lock(s->lock);
	if (fstat(fd, &sb) == -1)
		sb.st_size = -1;
	if (sb.st_size > 0 && pread(fd, &last, 1, sb.st_size - 1) == 1 &&
	    last != '\n')
		(void)!write(fd, "\n", 1);
	do
		n = write(fd, s->line, s->len);
	while (n == -1 && errno == EINTR);
	if (n >= 0 && (size_t)n < s->len) {
		s->short_write = (size_t)n;
		if (sb.st_size >= 0)
			(void)!ftruncate(fd, sb.st_size);
	}
	pthread_mutex_unlock(s->lock);
	if (n == -1) {
		s->op = "write";
		s->err = errno;
	} else if ((size_t)n < s->len) {
		s->op = "write";
		s->err = ENOSPC;
	} else if (fdatasync(fd) == -1) {
		s->op = "fdatasync";
		s->err = errno;
	} else if (created && sync_dir(s->path) == -1) {
		s->op = "fsync of the directory of";
		s->err = errno;
	}
	if (close(fd) == -1 && s->op == NULL) {
		s->op = "close";
		s->err = errno;
	}
out:
	event_active(s->finish, EV_TIMEOUT, 1);
	return NULL;
}

static void
append_release(struct run *r)
{
	struct append_state	*s = r->state;

	if (s == NULL)
		return;
	if (s->started) {
		pthread_join(s->thread, NULL);
		s->started = 0;
		if (s->op != NULL && s->short_write > 0)
			run_result(r, 0, "write %s: %s (%zu of %zu bytes)",
			    s->path, strerror(s->err), s->short_write, s->len);
		else if (s->op != NULL)
			run_result(r, 0, "%s %s: %s", s->op, s->path,
			    strerror(s->err));
		else
			run_result(r, 1, NULL);
	}
	free(s->path);
	free(s->line);
	free(s);
	r->state = NULL;
}

static int
append_start(struct run *r, const struct action *act,
    const struct params *p, const struct job_info *ji)
{
	struct append_state	*s;
	char			*json;
	int			 rc;

	if (act->path == NULL) {
		run_error(r, "append: no path");
		return -1;
	}
	if ((s = calloc(1, sizeof *s)) == NULL)
		goto nomem;
	r->state = s;
	s->lock = &r->a->append_lock;
	s->finish = r->finish;
	if ((s->path = strdup(act->path)) == NULL ||
	    (json = params_json(p, ji)) == NULL)
		goto nomem;
	s->len = strlen(json) + 1;
	if ((s->line = malloc(s->len + 1)) == NULL) {
		free(json);
		goto nomem;
	}
	memcpy(s->line, json, s->len - 1);
	s->line[s->len - 1] = '\n';
	s->line[s->len] = '\0';
	free(json);
	/* The thread activates finish; append_release collects the result. */
	if ((rc = pthread_create(&s->thread, NULL, append_thread, s)) != 0) {
		run_error(r, "append %s: cannot start a thread: %s", s->path,
		    strerror(rc));
		return -1;
	}
	s->started = 1;
	return 0;
nomem:
	run_error(r, "append: out of memory");
	return -1;
}

/* log */

static int
log_start(struct run *r, const struct action *act, const struct params *p,
    const struct job_info *ji)
{
	char	*text;

	if ((text = template_expand(act->template != NULL ? act->template :
	    "", p)) == NULL) {
		run_error(r, "log: out of memory");
		return -1;
	}
	sanitize(text);
	log_info("rule %s: %s", r->rule, text);
	free(text);
	run_finish(r, 1, NULL);
	return 0;
}

/* twilio */

struct twilio_state {
	pthread_t	 thread;
	int		 started;
	struct event	*finish;
	int64_t		 job;
	char		*api;
	char		*ca_file;
	struct account	 parent;	/* sid and secrets, copied, wiped */
	char		 sid[SID_LEN + 1];
	enum twilio_op	 op;
	int		 end_calls;
	int		 cancel;	/* set atomically: stop between calls */
	/* The result, set by the thread. */
	int		 ok;
	int		 permanent;
	size_t		 ended;
	char		 error[ERR_MAX];
};

/* On a worker thread: the REST calls block (with their retries). */
static void *
twilio_thread(void *arg)
{
	struct twilio_state	*s = arg;
	struct twilio		*tw;
	struct tw_account	 acct;
	const char		*want;
	char			*err = NULL;
	int			 permanent = 0;

	want = s->op == TWILIO_SUSPEND ? "suspended" : "active";
	if ((tw = twilio_open(s->api, s->ca_file, &s->parent, &err)) == NULL) {
		snprintf(s->error, sizeof s->error, "twilio: %s", err);
		goto out;
	}
	if (account_set_status(tw, s->sid, want, &acct, &permanent,
	    &err) == -1) {
		s->permanent = permanent;
		snprintf(s->error, sizeof s->error, "twilio: %s account %s as "
		    "%s: %s", s->op == TWILIO_SUSPEND ? "suspend" : "activate",
		    s->sid, s->parent.sid, err);
		goto out;
	}
	tw_account_free(&acct);
	if (s->op == TWILIO_SUSPEND && s->end_calls &&
	    account_end_calls(tw, s->sid, &s->ended, &s->cancel, &permanent,
	    &err) == -1) {
		s->permanent = permanent;
		snprintf(s->error, sizeof s->error, "twilio: account %s is "
		    "suspended, but ending its calls failed after %zu: %s",
		    s->sid, s->ended, err);
		goto out;
	}
	s->ok = 1;
out:
	free(err);
	twilio_close(tw);
	event_active(s->finish, EV_TIMEOUT, 1);
	return NULL;
}

static void
twilio_release(struct run *r)
{
	struct twilio_state	*s = r->state;

	if (s == NULL)
		return;
	if (s->started) {
		/* Abandoned: stop at the next call. Each has its timeout. */
		__atomic_store_n(&s->cancel, 1, __ATOMIC_RELAXED);
		pthread_join(s->thread, NULL);
		s->started = 0;
		r->permanent = s->permanent;
		if (s->ok && s->op == TWILIO_SUSPEND && s->end_calls)
			log_info("job %lld (%s): account %s suspended (as %s); "
			    "%zu call%s in progress completed",
			    (long long)r->job, r->rule, s->sid, s->parent.sid,
			    s->ended, s->ended == 1 ? "" : "s");
		else if (s->ok && s->op == TWILIO_SUSPEND)
			log_info("job %lld (%s): account %s suspended (as %s)",
			    (long long)r->job, r->rule, s->sid, s->parent.sid);
		else if (s->ok)
			log_info("job %lld (%s): account %s active again (as "
			    "%s)", (long long)r->job, r->rule, s->sid,
			    s->parent.sid);
		if (s->ok)
			run_result(r, 1, NULL);
		else
			run_result(r, 0, "%s", s->error);
	}
	freezero_str(s->parent.token);
	freezero_str(s->parent.api_key_secret);
	free(s->api);
	free(s->ca_file);
	free(s);
	r->state = NULL;
}

static int
twilio_start(struct run *r, const struct action *act,
    const struct params *p, const struct job_info *ji)
{
	struct twilio_state	*s;
	const struct account	*sub, *parent;
	char			*sid;
	size_t			 i;
	int			 rc;

	if (ji == NULL || ji->conf == NULL) {
		r->permanent = 1;
		run_error(r, "twilio: no configuration to find the account in");
		return -1;
	}
	if ((sid = template_expand(act->account != NULL ? act->account :
	    "{AccountSid}", p)) == NULL) {
		run_error(r, "twilio: out of memory");
		return -1;
	}
	for (i = 2; sid[0] != '\0' && sid[1] != '\0' && sid[i] != '\0'; i++)
		sid[i] = (char)tolower((unsigned char)sid[i]);
	/* Only a listed subaccount, never the parent or a stranger. */
	if ((sub = config_account(ji->conf, sid)) == NULL ||
	    sub->parent[0] == '\0' ||
	    (parent = config_account(ji->conf, sub->parent)) == NULL) {
		r->permanent = 1;
		sanitize(sid);
		run_error(r, "twilio: account '%.40s' is %s", sid, sub == NULL ?
		    "not one of accounts" : "not a subaccount with a listed "
		    "parent");
		free(sid);
		return -1;
	}
	free(sid);
	if ((s = calloc(1, sizeof *s)) == NULL)
		goto nomem;
	r->state = s;
	s->finish = r->finish;
	s->job = r->job;
	s->op = act->twilio;
	s->end_calls = act->end_calls;
	memcpy(s->sid, sub->sid, sizeof s->sid);
	memcpy(s->parent.sid, parent->sid, sizeof s->parent.sid);
	memcpy(s->parent.api_key_sid, parent->api_key_sid,
	    sizeof s->parent.api_key_sid);
	if ((s->api = strdup(ji->conf->twilio_api)) == NULL ||
	    (ji->conf->twilio_ca_file != NULL && (s->ca_file =
	    strdup(ji->conf->twilio_ca_file)) == NULL) ||
	    (parent->token != NULL && (s->parent.token =
	    strdup(parent->token)) == NULL) ||
	    (parent->api_key_secret != NULL && (s->parent.api_key_secret =
	    strdup(parent->api_key_secret)) == NULL))
		goto nomem;
	if ((rc = pthread_create(&s->thread, NULL, twilio_thread, s)) != 0) {
		run_error(r, "twilio: cannot start a thread: %s",
		    strerror(rc));
		return -1;
	}
	s->started = 1;
	return 0;
nomem:
	run_error(r, "twilio: out of memory");
	return -1;
}

static const struct kind kinds[] = {
	{ ACTION_EXEC,		exec_start,	exec_release },
	{ ACTION_HTTP,		http_start,	http_release },
	{ ACTION_APPEND,	append_start,	append_release },
	{ ACTION_LOG,		log_start,	NULL },
	{ ACTION_TWILIO,	twilio_start,	twilio_release },
};

static void
run_unlink(struct run *r)
{
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		r->a->runs = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

static void
run_free(struct run *r)
{
	if (r->kind != NULL && r->kind->release != NULL)
		r->kind->release(r);
	if (r->finish != NULL)
		event_free(r->finish);
	free(r->rule);
	free(r);
}

/* On the loop: release what the action held, then tell the caller. */
static void
finish_cb(evutil_socket_t fd, short events, void *arg)
{
	struct run	*r = arg;
	struct actions	*a = r->a;
	action_done_fn	 done = r->done;
	void		*done_arg = r->arg;

	if (r->kind->release != NULL)
		r->kind->release(r);
	run_unlink(r);
	a->nrunning--;
	done(r->ok ? 1 : r->permanent ? -1 : 0, r->ok ? NULL : r->error,
	    done_arg);
	run_free(r);
}

struct actions *
actions_new(struct event_base *base)
{
	struct actions	*a;

	if ((a = calloc(1, sizeof *a)) == NULL)
		return NULL;
	a->base = base;
	/* Writing to a child that stopped reading must be EPIPE, not death. */
	signal(SIGPIPE, SIG_IGN);
	if ((a->sigchld = evsignal_new(base, SIGCHLD, sigchld_cb, a)) == NULL ||
	    evsignal_add(a->sigchld, NULL) == -1)
		goto bad;
	/* Names resolve on the loop; an idle resolver keeps no event. */
	a->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (a->dns == NULL) {
		log_warnx("no DNS resolver configured (/etc/resolv.conf); "
		    "http actions reach IP addresses and /etc/hosts names "
		    "only");
		if ((a->dns = evdns_base_new(base,
		    EVDNS_BASE_DISABLE_WHEN_INACTIVE)) == NULL)
			goto bad;
		(void)evdns_base_load_hosts(a->dns, NULL);
	}
	if (pthread_mutex_init(&a->append_lock, NULL) != 0)
		goto bad;
	return a;
bad:
	if (a->dns != NULL)
		evdns_base_free(a->dns, 0);
	if (a->sigchld != NULL)
		event_free(a->sigchld);
	free(a);
	return NULL;
}

int
actions_run(struct actions *a, const struct action *act,
    const struct params *p, const struct job_info *ji, action_done_fn done,
    void *arg, const char **error)
{
	struct run	*r;
	size_t		 i;
	int		 rc;

	*error = NULL;
	if ((r = calloc(1, sizeof *r)) == NULL) {
		*error = "out of memory";
		return -1;
	}
	r->a = a;
	r->done = done;
	r->arg = arg;
	r->job = ji != NULL ? ji->id : 0;
	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (kinds[i].kind == act->kind)
			r->kind = &kinds[i];
	if (r->kind == NULL) {
		free(r);
		*error = "unknown action kind";
		return -1;
	}
	if ((r->rule = strdup(ji != NULL && ji->rule != NULL ? ji->rule :
	    "-")) == NULL ||
	    (r->finish = event_new(a->base, -1, 0, finish_cb, r)) == NULL) {
		run_free(r);
		*error = "out of memory";
		return -1;
	}
	/* Linked first: a child can exit before start returns. */
	r->next = a->runs;
	if (a->runs != NULL)
		a->runs->prev = r;
	a->runs = r;
	a->nrunning++;
	if (r->kind->start(r, act, p, ji) == -1) {
		run_unlink(r);
		a->nrunning--;
		memcpy(a->error, r->error, sizeof a->error);
		rc = r->permanent ? -2 : -1;
		/* Nothing started, so nothing may finish: drop the event. */
		event_del(r->finish);
		run_free(r);
		*error = a->error;
		return rc;
	}
	return 0;
}

size_t
actions_running(const struct actions *a)
{
	return a->nrunning;
}

void
actions_free(struct actions *a)
{
	struct run	*r;
	struct tls_ctx	*t;

	if (a == NULL)
		return;
	while ((r = a->runs) != NULL) {
		run_unlink(r);
		run_free(r);
	}
	a->nrunning = 0;
	while ((t = a->tls) != NULL) {
		a->tls = t->next;
		SSL_CTX_free(t->ctx);
		free(t->ca_file);
		free(t);
	}
	if (a->dns != NULL)
		evdns_base_free(a->dns, 0);
	if (a->sigchld != NULL)
		event_free(a->sigchld);
	pthread_mutex_destroy(&a->append_lock);
	free(a);
}
