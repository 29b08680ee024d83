/* client.c: a small blocking HTTP/1.1 client for one request (usagehookctl). */
#include "config-sys.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "client.h"
#include "https.h"
#include "proxy.h"
#include "xmalloc.h"

/* One connection: a non-blocking socket, TLS on top when ssl is set. */
struct conn {
	int		 fd;
	SSL_CTX		*ctx;
	SSL		*ssl;
	const char	*peer;		/* for messages: "127.0.0.1:8080" */
	const char	*url;		/* for messages: what was asked */
	struct timespec	 deadline;	/* CLOCK_MONOTONIC */
	int		 timeout_ms;
	FILE		*trace;
};

/* Where to connect, from the URL or from req->connect. */
struct dest {
	char	*host;		/* NULL for a Unix socket */
	char	*port;
	char	*path;		/* Unix socket path */
	int	 tls;
};

/* Bytes read from the peer. */
struct rbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

/* Printf into a fresh allocated error string. */
static void __attribute__((format(printf, 2, 3)))
seterr(char **err, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) == -1)
		*err = xstrdup("out of memory");
	va_end(ap);
}

/* The first queued OpenSSL error as text, or fallback. */
static const char *
ssl_errstr(char *buf, size_t len, const char *fallback)
{
	unsigned long	 e;

	if ((e = ERR_get_error()) == 0)
		return fallback;
	ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static int
is_unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

char *
client_urlencode(const char *s, size_t len)
{
	static const char	 hex[] = "0123456789ABCDEF";
	char			*out, *o;
	size_t			 i;

	if (len > (SIZE_MAX - 1) / 3)
		len = (SIZE_MAX - 1) / 3;
	o = out = xmalloc(len * 3 + 1);
	for (i = 0; i < len; i++) {
		unsigned char	c = (unsigned char)s[i];

		if (c < 0x80 && is_unreserved(c))
			*o++ = (char)c;
		else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 0xf];
		}
	}
	*o = '\0';
	return out;
}

char *
client_form_encode(const struct params *p)
{
	char	*out, *n, *v;
	size_t	 len = 0, cap = 64, need, i;

	out = xmalloc(cap);
	out[0] = '\0';
	for (i = 0; i < p->n; i++) {
		n = client_urlencode(p->v[i].name, strlen(p->v[i].name));
		v = client_urlencode(p->v[i].value, strlen(p->v[i].value));
		need = len + strlen(n) + strlen(v) + 3;
		if (need > cap) {
			while (cap < need)
				cap *= 2;
			out = xreallocarray(out, cap, 1);
		}
		len += (size_t)snprintf(out + len, cap - len, "%s%s=%s",
		    i ? "&" : "", n, v);
		free(n);
		free(v);
	}
	return out;
}

void
client_url_free(struct client_url *u)
{
	if (u == NULL)
		return;
	free(u->scheme);
	free(u->host);
	free(u->port);
	free(u->authority);
	free(u->target);
	memset(u, 0, sizeof *u);
}

/* 1 if s is a decimal port 1..65535. */
static int
port_valid(const char *s, size_t len)
{
	size_t	i;
	long	v = 0;

	if (len == 0 || len > 5)
		return 0;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/*
 * Split "host[:port]" or "[v6][:port]" a[0..len) into allocated host (no
 * brackets) and port (NULL when absent). Returns 0 or -1 with a static *why.
 */
static int
split_hostport(const char *a, size_t len, char **host, char **port,
    const char **why)
{
	const char	*colon, *end = a + len, *rb;

	*host = *port = NULL;
	if (len > 0 && a[0] == '[') {
		if ((rb = memchr(a, ']', len)) == NULL) {
			*why = "missing ']' after IPv6 address";
			return -1;
		}
		if (rb == a + 1) {
			*why = "empty IPv6 address";
			return -1;
		}
		if (rb + 1 != end && rb[1] != ':') {
			*why = "junk after ']'";
			return -1;
		}
		colon = rb + 1 != end ? rb + 1 : NULL;
		*host = xstrndup(a + 1, (size_t)(rb - a - 1));
	} else {
		colon = memchr(a, ':', len);
		if ((colon ? colon : end) == a) {
			*why = "empty host";
			return -1;
		}
		*host = xstrndup(a, (size_t)((colon ? colon : end) - a));
		if (strchr(*host, ':') != NULL || (colon &&
		    memchr(colon + 1, ':', (size_t)(end - colon - 1)))) {
			*why = "IPv6 address without brackets";
			goto bad;
		}
	}
	if (colon != NULL) {
		if (!port_valid(colon + 1, (size_t)(end - colon - 1))) {
			*why = "bad port";
			goto bad;
		}
		*port = xstrndup(colon + 1, (size_t)(end - colon - 1));
	}
	return 0;
bad:
	free(*host);
	*host = NULL;
	return -1;
}

int
client_url_parse(const char *url, struct client_url *u, char **err)
{
	const char	*p, *a, *aend, *why = NULL, *frag;
	size_t		 slen;

	memset(u, 0, sizeof *u);
	for (p = url; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			seterr(err, "URL %s: space or control character; "
			    "percent-encode it", url);
			return -1;
		}
	}
	if ((p = strstr(url, "://")) == NULL) {
		seterr(err, "URL %s: no scheme (http:// or https://)", url);
		return -1;
	}
	slen = (size_t)(p - url);
	if (slen == 4 && strncasecmp(url, "http", 4) == 0)
		u->tls = 0;
	else if (slen == 5 && strncasecmp(url, "https", 5) == 0)
		u->tls = 1;
	else {
		seterr(err, "URL %s: unsupported scheme %.*s", url, (int)slen,
		    url);
		return -1;
	}
	u->scheme = xstrdup(u->tls ? "https" : "http");
	a = p + 3;
	aend = a + strcspn(a, "/?#");
	if (memchr(a, '@', (size_t)(aend - a)) != NULL) {
		seterr(err, "URL %s: user info is not supported", url);
		goto bad;
	}
	if (split_hostport(a, (size_t)(aend - a), &u->host, &u->port,
	    &why) == -1) {
		seterr(err, "URL %s: %s", url, why);
		goto bad;
	}
	if (u->port == NULL)
		u->port = xstrdup(u->tls ? "443" : "80");
	u->authority = xstrndup(a, (size_t)(aend - a));
	frag = aend + strcspn(aend, "#");
	if (aend == frag)
		u->target = xstrdup("/");
	else if (*aend == '?')
		xasprintf(&u->target, "/%.*s", (int)(frag - aend), aend);
	else
		u->target = xstrndup(aend, (size_t)(frag - aend));
	return 0;
bad:
	client_url_free(u);
	return -1;
}

static void
dest_free(struct dest *d)
{
	free(d->host);
	free(d->port);
	free(d->path);
	memset(d, 0, sizeof *d);
}

/* Where to connect for req: its connect string, else the URL's host. */
static int
dest_parse(const struct client_request *req, const struct client_url *u,
    struct dest *d, char **err)
{
	const char	*c = req->connect, *why = NULL;

	memset(d, 0, sizeof *d);
	if (c == NULL) {
		d->host = xstrdup(u->host);
		d->port = xstrdup(u->port);
		d->tls = u->tls;
		return 0;
	}
	if (strncmp(c, "unix:", 5) == 0) {
		if (c[5] == '\0' || strlen(c + 5) >=
		    sizeof(((struct sockaddr_un *)0)->sun_path)) {
			seterr(err, "connect %s: bad Unix socket path", c);
			return -1;
		}
		d->path = xstrdup(c + 5);
		return 0;
	}
	/* No scheme keeps the URL's: https stays TLS to another address. */
	d->tls = u->tls;
	if (strncasecmp(c, "https://", 8) == 0) {
		d->tls = 1;
		c += 8;
	} else if (strncasecmp(c, "http://", 7) == 0) {
		d->tls = 0;
		c += 7;
	}
	if (split_hostport(c, strcspn(c, "/"), &d->host, &d->port,
	    &why) == -1) {
		seterr(err, "connect %s: %s", req->connect, why);
		return -1;
	}
	if (d->port == NULL)
		d->port = xstrdup(d->tls ? "443" : "80");
	return 0;
}

/* Milliseconds left before the deadline (0 when passed). */
static int
conn_left(const struct conn *c)
{
	struct timespec	 now;
	long long	 ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(c->deadline.tv_sec - now.tv_sec) * 1000 +
	    (c->deadline.tv_nsec - now.tv_nsec) / 1000000;
	if (ms <= 0)
		return 0;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Wait until fd is ready for events; -1 with *err on timeout or failure. */
static int
conn_wait(struct conn *c, short events, const char *what, char **err)
{
	struct pollfd	 pfd;
	int		 left, n;

	for (;;) {
		if ((left = conn_left(c)) == 0) {
			seterr(err, "%s %s: timed out after %d ms", what,
			    c->peer, c->timeout_ms);
			return -1;
		}
		pfd.fd = c->fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			seterr(err, "poll: %s", strerror(errno));
			return -1;
		}
		if (n > 0)
			return 0;
	}
}

/* Connect one address without blocking past the deadline. */
static int
connect_addr(struct conn *c, const struct sockaddr *sa, socklen_t salen,
    char **err)
{
	int		 fd, soerr = 0;
	socklen_t	 len = sizeof soerr;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		seterr(err, "socket %s: %s", c->peer, strerror(errno));
		return -1;
	}
	c->fd = fd;
	if (connect(fd, sa, salen) == 0)
		return 0;
	if (errno != EINPROGRESS) {
		seterr(err, "connect %s: %s", c->peer, strerror(errno));
		goto bad;
	}
	if (conn_wait(c, POLLOUT, "connect", err) == -1)
		goto bad;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
		soerr = errno;
	if (soerr != 0) {
		seterr(err, "connect %s: %s", c->peer, strerror(soerr));
		goto bad;
	}
	return 0;
bad:
	close(fd);
	c->fd = -1;
	return -1;
}

/* Connect to d: each address getaddrinfo gives, in order, or the socket. */
static int
conn_open(struct conn *c, const struct dest *d, char **peerbuf, char **err)
{
	struct addrinfo		 hints, *res, *ai;
	struct sockaddr_un	 sun;
	char			 addr[INET6_ADDRSTRLEN];
	int			 rc, one = 1;
	char			*lasterr = NULL;

	if (d->path != NULL) {
		xasprintf(peerbuf, "unix:%s", d->path);
		c->peer = *peerbuf;
		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, d->path, strlen(d->path) + 1);
		return connect_addr(c, (struct sockaddr *)&sun, sizeof sun,
		    err);
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	rc = getaddrinfo(d->host, d->port, &hints, &res);
	if (rc == EAI_NONAME || rc == EAI_ADDRFAMILY || rc == EAI_NODATA) {
		hints.ai_flags = 0;	/* loopback only: no configured address */
		rc = getaddrinfo(d->host, d->port, &hints, &res);
	}
	if (rc != 0) {
		seterr(err, "cannot resolve %s: %s", d->host,
		    rc == EAI_SYSTEM ? strerror(errno) : dns_error(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof addr,
		    NULL, 0, NI_NUMERICHOST) != 0)
			snprintf(addr, sizeof addr, "%s", d->host);
		free(*peerbuf);
		xasprintf(peerbuf, ai->ai_family == AF_INET6 ? "[%s]:%s" :
		    "%s:%s", addr, d->port);
		c->peer = *peerbuf;
		free(lasterr);
		lasterr = NULL;
		if (connect_addr(c, ai->ai_addr, ai->ai_addrlen, &lasterr) == 0)
			break;
		if (conn_left(c) == 0)
			break;
	}
	freeaddrinfo(res);
	if (c->fd == -1) {
		*err = lasterr;
		return -1;
	}
	free(lasterr);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return 0;
}

/* 1 if host is an IPv4 or IPv6 literal. */
static int
host_is_ip(const char *host)
{
	unsigned char	 buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1;
}

/* Wait as an SSL call asks (want read / want write); -1 on other errors. */
static int
ssl_want(struct conn *c, int ret, const char *what, char **err, int *eof)
{
	char	 buf[256];
	int	 e = SSL_get_error(c->ssl, ret);

	switch (e) {
	case SSL_ERROR_WANT_READ:
		return conn_wait(c, POLLIN, what, err);
	case SSL_ERROR_WANT_WRITE:
		return conn_wait(c, POLLOUT, what, err);
	case SSL_ERROR_ZERO_RETURN:
		if (eof != NULL) {
			*eof = 1;
			return 0;
		}
		seterr(err, "%s %s: TLS connection closed", what, c->peer);
		return -1;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			seterr(err, "%s %s: %s", what, c->peer, errno ?
			    strerror(errno) : "connection closed");
			return -1;
		}
		/* FALLTHROUGH */
	default:
		seterr(err, "%s %s: TLS: %s", what, c->peer,
		    ssl_errstr(buf, sizeof buf, "error"));
		return -1;
	}
}

/* The TLS context, made before connecting so a bad CA file fails first. */
static int
tls_context(struct conn *c, const char *ca_file, char **err)
{
	char		 buf[256];

	ERR_clear_error();
	if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		seterr(err, "TLS: %s", ssl_errstr(buf, sizeof buf, "no context"));
		return -1;
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	/* Framing (Content-Length, chunked) catches truncation; EOF is fine. */
	SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL) != 1) {
			seterr(err, "TLS: CA file %s: %s", ca_file,
			    ssl_errstr(buf, sizeof buf, "cannot load"));
			return -1;
		}
	} else if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
		seterr(err, "TLS: system CA store: %s",
		    ssl_errstr(buf, sizeof buf, "cannot load"));
		return -1;
	}
	return 0;
}

/* TLS handshake; the certificate must chain to a CA and name host. */
static int
conn_tls(struct conn *c, const char *host, char **err)
{
	char		 buf[256];
	long		 vr;
	int		 ret;

	ERR_clear_error();
	if ((c->ssl = SSL_new(c->ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1) {
		seterr(err, "TLS: %s", ssl_errstr(buf, sizeof buf, "SSL_new"));
		return -1;
	}
	if (host_is_ip(host)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl),
		    host) != 1) {
			seterr(err, "TLS: bad IP address %s", host);
			return -1;
		}
	} else if (SSL_set_tlsext_host_name(c->ssl, host) != 1 ||
	    SSL_set1_host(c->ssl, host) != 1) {
		seterr(err, "TLS: bad host name %s", host);
		return -1;
	}
	while ((ret = SSL_connect(c->ssl)) != 1) {
		vr = SSL_get_verify_result(c->ssl);
		if (vr != X509_V_OK) {
			ERR_clear_error();
			seterr(err, "TLS %s: certificate verify failed: %s",
			    c->peer, X509_verify_cert_error_string(vr));
			return -1;
		}
		if (ssl_want(c, ret, "TLS handshake", err, NULL) == -1)
			return -1;
	}
	return 0;
}

/* Write all of buf; -1 with *err on failure or timeout. */
static int
conn_write(struct conn *c, const char *buf, size_t len, char **err)
{
	size_t	 done;
	ssize_t	 n;
	int	 ret;

	while (len > 0) {
		if (c->ssl != NULL) {
			ERR_clear_error();
			ret = SSL_write_ex(c->ssl, buf, len, &done);
			if (ret != 1) {
				if (ssl_want(c, ret, "send", err, NULL) == -1)
					return -1;
				continue;
			}
			n = (ssize_t)done;
		} else {
			n = send(c->fd, buf, len, MSG_NOSIGNAL);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1 && (errno == EAGAIN ||
			    errno == EWOULDBLOCK)) {
				if (conn_wait(c, POLLOUT, "send", err) == -1)
					return -1;
				continue;
			}
			if (n == -1) {
				seterr(err, "send %s: %s", c->peer,
				    strerror(errno));
				return -1;
			}
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read what is there into b; 1 with data, 0 at EOF, -1 with *err. */
static int
conn_fill(struct conn *c, struct rbuf *b, char **err)
{
	size_t	 got;
	ssize_t	 n;
	int	 ret, eof = 0;

	if (b->len >= CLIENT_MAX_HEAD + CLIENT_MAX_BODY) {
		seterr(err, "the answer from %s (%s) is over usagehookctl's "
		    "limit of %d KiB of headers and %d MiB of body", c->url,
		    c->peer, CLIENT_MAX_HEAD / 1024,
		    CLIENT_MAX_BODY / (1024 * 1024));
		return -1;
	}
	if (b->cap - b->len < 16384) {
		b->cap = b->cap ? b->cap * 2 : 32768;
		b->p = xreallocarray(b->p, b->cap, 1);
	}
	for (;;) {
		if (c->ssl != NULL) {
			ERR_clear_error();
			ret = SSL_read_ex(c->ssl, b->p + b->len,
			    b->cap - b->len - 1, &got);
			if (ret == 1) {
				b->len += got;
				b->p[b->len] = '\0';
				return 1;
			}
			if (ssl_want(c, ret, "receive", err, &eof) == -1)
				return -1;
			if (eof)
				return 0;
			continue;
		}
		n = recv(c->fd, b->p + b->len, b->cap - b->len - 1, 0);
		if (n > 0) {
			b->len += (size_t)n;
			b->p[b->len] = '\0';
			return 1;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (conn_wait(c, POLLIN, "receive", err) == -1)
				return -1;
			continue;
		}
		seterr(err, "receive %s: %s", c->peer, strerror(errno));
		return -1;
	}
}

static void
conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->ctx);
	if (c->fd != -1)
		close(c->fd);
	c->ssl = NULL;
	c->ctx = NULL;
	c->fd = -1;
}

void
client_response_free(struct client_response *r)
{
	size_t	i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nh; i++) {
		free(r->hv[i].name);
		free(r->hv[i].value);
	}
	free(r->hv);
	free(r->reason);
	free(r->headers);
	free(r->body);
	memset(r, 0, sizeof *r);
}

const char *
client_header(const struct client_response *r, const char *name)
{
	size_t	i;

	for (i = 0; i < r->nh; i++)
		if (strcasecmp(r->hv[i].name, name) == 0)
			return r->hv[i].value;
	return NULL;
}

/* 1 if header line h ("Name: value") has this name. */
static int
header_is(const char *h, const char *name)
{
	size_t	n = strlen(name);

	return strncasecmp(h, name, n) == 0 && h[n] == ':';
}

/* Append "fmt" to an allocated string s. */
static void __attribute__((format(printf, 2, 3)))
append(char **s, const char *fmt, ...)
{
	va_list	 ap;
	char	*t, *u;

	va_start(ap, fmt);
	if (vasprintf(&t, fmt, ap) == -1)
		t = NULL;
	va_end(ap);
	if (t == NULL)
		abort();
	xasprintf(&u, "%s%s", *s ? *s : "", t);
	free(*s);
	free(t);
	*s = u;
}

/* The request head, checked for header injection; NULL with *err. */
static char *
build_head(const struct client_request *req, const struct client_url *u,
    const char *method, char **err)
{
	const char	**h;
	char		 *head = NULL;
	int		  host = 0, clen = 0, conn = 0;

	append(&head, "%s %s HTTP/1.1\r\n", method, u->target);
	for (h = req->headers; h != NULL && *h != NULL; h++)
		host |= header_is(*h, "Host");
	if (!host)
		append(&head, "Host: %s\r\n", u->authority);
	for (h = req->headers; h != NULL && *h != NULL; h++) {
		if (strpbrk(*h, "\r\n") != NULL || strchr(*h, ':') == NULL ||
		    **h == ':' || strcspn(*h, " \t") < strcspn(*h, ":")) {
			seterr(err, "bad request header \"%s\": want "
			    "\"Name: value\" on one line", *h);
			free(head);
			return NULL;
		}
		clen |= header_is(*h, "Content-Length");
		conn |= header_is(*h, "Connection");
		append(&head, "%s\r\n", *h);
	}
	if (!clen && (req->body != NULL || strcmp(method, "POST") == 0 ||
	    strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0))
		append(&head, "Content-Length: %zu\r\n", req->bodylen);
	if (!conn)
		append(&head, "Connection: close\r\n");
	append(&head, "\r\n");
	return head;
}

/* Write s to the trace, each line after prefix, without the CRs. */
static void
trace_lines(FILE *f, const char *prefix, const char *s, size_t len)
{
	const char	*end = s + len, *nl;
	int		 n;

	while (s < end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		if (nl == NULL)
			nl = end;
		n = (int)(nl - s) - (nl > s && nl[-1] == '\r');
		if (n == 0)
			fprintf(f, "%.*s\n", (int)strcspn(prefix, " "), prefix);
		else
			fprintf(f, "%s%.*s\n", prefix, n, s);
		s = nl + 1;
	}
}

/* Find the end of the head in b from off: offset after the blank line. */
static size_t
head_end(const struct rbuf *b, size_t off)
{
	const char	*p, *end;

	if (b->p == NULL)
		return 0;
	p = b->p + off;
	end = b->p + b->len;
	while (p < end) {
		const char	*nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL)
			return 0;
		if (nl == p || (nl == p + 1 && *p == '\r'))
			return (size_t)(nl + 1 - b->p);
		p = nl + 1;
	}
	return 0;
}

/* Parse the head s[0..len) into r; -1 with *err when malformed. */
static int
parse_head(struct conn *c, const char *s, size_t len,
    struct client_response *r, char **err)
{
	const char	*end = s + len, *nl, *colon, *v, *ve, *lend;
	char		*t;
	int		 status;

	nl = memchr(s, '\n', len);
	lend = nl > s && nl[-1] == '\r' ? nl - 1 : nl;
	if (lend - s < 12 || strncmp(s, "HTTP/1.", 7) != 0 || s[8] != ' ' ||
	    !isdigit((unsigned char)s[9]) || !isdigit((unsigned char)s[10]) ||
	    !isdigit((unsigned char)s[11]) || (lend - s > 12 && s[12] != ' ')) {
		seterr(err, "response from %s: bad status line \"%.*s\"",
		    c->peer, (int)(lend - s > 80 ? 80 : lend - s), s);
		return -1;
	}
	status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	client_response_free(r);
	r->status = status;
	r->reason = lend - s > 13 ? xstrndup(s + 13, (size_t)(lend - s - 13)) :
	    xstrdup("");
	r->headers = xstrndup(nl + 1, (size_t)(end - nl - 1));
	/* Drop the blank line that ends the head. */
	if ((t = strrchr(r->headers, '\n')) != NULL) {
		*t = '\0';
		if ((t = strrchr(r->headers, '\n')) != NULL)
			t[1] = '\0';
		else
			r->headers[0] = '\0';
	}
	for (s = nl + 1; s < end; s = nl + 1) {
		nl = memchr(s, '\n', (size_t)(end - s));
		lend = nl > s && nl[-1] == '\r' ? nl - 1 : nl;
		if (lend == s)
			break;
		colon = memchr(s, ':', (size_t)(lend - s));
		if (colon == NULL || colon == s || *s == ' ' || *s == '\t') {
			seterr(err, "response from %s: bad header line \"%.*s\"",
			    c->peer, (int)(lend - s > 80 ? 80 : lend - s), s);
			return -1;
		}
		for (v = colon + 1; v < lend && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = lend; ve > v && (ve[-1] == ' ' || ve[-1] == '\t');
		    ve--)
			;
		r->hv = xreallocarray(r->hv, r->nh + 1, sizeof *r->hv);
		r->hv[r->nh].name = xstrndup(s, (size_t)(colon - s));
		r->hv[r->nh].value = xstrndup(v, (size_t)(ve - v));
		r->nh++;
	}
	return 0;
}

/* Content-Length of r: 1 and *n when present, 0 when absent, -1 bad. */
static int
content_length(const struct client_response *r, size_t *n)
{
	size_t		 i, v;
	int		 seen = 0;
	const char	*p;

	for (i = 0; i < r->nh; i++) {
		if (strcasecmp(r->hv[i].name, "Content-Length") != 0)
			continue;
		p = r->hv[i].value;
		if (*p == '\0')
			return -1;
		for (v = 0; *p != '\0'; p++) {
			if (!isdigit((unsigned char)*p) ||
			    v > (SIZE_MAX - 9) / 10)
				return -1;
			v = v * 10 + (size_t)(*p - '0');
		}
		if (seen && v != *n)
			return -1;
		*n = v;
		seen = 1;
	}
	return seen;
}

/* 1 if the last Transfer-Encoding of r is chunked. */
static int
is_chunked(const struct client_response *r)
{
	const char	*te = NULL, *last;
	size_t		 i, n;

	for (i = 0; i < r->nh; i++)
		if (strcasecmp(r->hv[i].name, "Transfer-Encoding") == 0)
			te = r->hv[i].value;
	if (te == NULL)
		return 0;
	last = strrchr(te, ',');
	last = last ? last + 1 : te;
	while (*last == ' ' || *last == '\t')
		last++;
	n = strcspn(last, " \t;");
	return n == 7 && strncasecmp(last, "chunked", 7) == 0;
}

/* Make b hold at least need bytes; -1 with *err at EOF or failure. */
static int
fill_to(struct conn *c, struct rbuf *b, size_t need, const char *what,
    char **err)
{
	int	rc;

	while (b->len < need) {
		if ((rc = conn_fill(c, b, err)) == -1)
			return -1;
		if (rc == 0) {
			seterr(err, "response from %s: connection closed in "
			    "%s", c->peer, what);
			return -1;
		}
	}
	return 0;
}

/* Offset just past the next "\n" in b from off, reading more as needed. */
static int
fill_line(struct conn *c, struct rbuf *b, size_t off, size_t *eol,
    const char *what, char **err)
{
	const char	*nl;

	for (;;) {
		if (off < b->len &&
		    (nl = memchr(b->p + off, '\n', b->len - off)) != NULL) {
			*eol = (size_t)(nl - b->p) + 1;
			return 0;
		}
		if (b->len - off > 4096) {
			seterr(err, "response from %s: %s line too long",
			    c->peer, what);
			return -1;
		}
		if (fill_to(c, b, b->len + 1, what, err) == -1)
			return -1;
	}
}

/* Decode a chunked body starting at b[off] into r->body. */
static int
read_chunked(struct conn *c, struct rbuf *b, size_t off,
    struct client_response *r, char **err)
{
	size_t		 eol, size, cap = 0;
	const char	*p;
	int		 digits;

	for (;;) {
		if (fill_line(c, b, off, &eol, "chunk size", err) == -1)
			return -1;
		size = 0;
		digits = 0;
		for (p = b->p + off; isxdigit((unsigned char)*p); p++) {
			if (size > (SIZE_MAX >> 4) || ++digits > 16)
				goto bad;
			size = size * 16 + (size_t)(isdigit((unsigned char)*p) ?
			    *p - '0' : (tolower((unsigned char)*p) - 'a' + 10));
		}
		if (digits == 0 || (*p != ';' && *p != '\r' && *p != '\n' &&
		    *p != ' ' && *p != '\t'))
			goto bad;
		off = eol;
		if (size == 0)
			break;
		if (size > CLIENT_MAX_BODY - r->bodylen) {
			seterr(err, "the answer from %s (%s) has a body over "
			    "usagehookctl's limit of %d MiB", c->url, c->peer,
			    CLIENT_MAX_BODY / (1024 * 1024));
			return -1;
		}
		if (fill_to(c, b, off + size, "chunk", err) == -1)
			return -1;
		if (r->bodylen + size + 1 > cap) {
			cap = r->bodylen + size + 1;
			r->body = xreallocarray(r->body, cap, 1);
		}
		memcpy(r->body + r->bodylen, b->p + off, size);
		r->bodylen += size;
		off += size;
		if (fill_line(c, b, off, &eol, "chunk end", err) == -1)
			return -1;
		if (eol - off > 2 || (eol - off == 2 && b->p[off] != '\r'))
			goto bad;
		off = eol;
	}
	/* Trailers up to the blank line; a server that just closes is fine. */
	for (;;) {
		if (fill_line(c, b, off, &eol, "trailer", err) == -1) {
			free(*err);
			*err = NULL;
			break;
		}
		if (eol - off <= 2 && (eol - off == 1 || b->p[off] == '\r'))
			break;
		off = eol;
	}
	if (r->body == NULL)
		r->body = xstrdup("");
	r->body[r->bodylen] = '\0';
	return 0;
bad:
	seterr(err, "response from %s: bad chunked encoding", c->peer);
	return -1;
}

/* Read status, headers and body of the final (non-1xx) response. */
static int
read_response(struct conn *c, const char *method, struct client_response *r,
    char **err)
{
	struct rbuf	 b = { NULL, 0, 0 };
	size_t		 off = 0, end, clen = 0;
	int		 rc, haslen;

	for (;;) {
		while ((end = head_end(&b, off)) == 0) {
			if (b.len - off > CLIENT_MAX_HEAD) {
				seterr(err, "the answer from %s (%s) has more "
				    "than usagehookctl's limit of %d KiB of "
				    "status line and headers", c->url, c->peer,
				    CLIENT_MAX_HEAD / 1024);
				goto bad;
			}
			if ((rc = conn_fill(c, &b, err)) == -1)
				goto bad;
			if (rc == 0) {
				seterr(err, "response from %s: %s", c->peer,
				    b.len == off ? "connection closed without "
				    "a response" : "connection closed in the "
				    "headers");
				goto bad;
			}
		}
		if (c->trace != NULL)
			trace_lines(c->trace, "< ", b.p + off, end - off);
		if (parse_head(c, b.p + off, end - off, r, err) == -1)
			goto bad;
		off = end;
		/* Interim responses (100 Continue, 103 ...) precede the real one. */
		if (r->status >= 200 || r->status == 101)
			break;
	}
	if (strcmp(method, "HEAD") == 0 || r->status == 204 ||
	    r->status == 304 || r->status < 200) {
		r->body = xstrdup("");
		goto done;
	}
	if (is_chunked(r)) {
		if (read_chunked(c, &b, off, r, err) == -1)
			goto bad;
		goto done;
	}
	if ((haslen = content_length(r, &clen)) == -1) {
		seterr(err, "response from %s: bad Content-Length", c->peer);
		goto bad;
	}
	if (haslen) {
		if (clen > CLIENT_MAX_BODY) {
			seterr(err, "the answer from %s (%s) has a body of %zu "
			    "bytes, over usagehookctl's limit of %d MiB", c->url,
			    c->peer, clen, CLIENT_MAX_BODY / (1024 * 1024));
			goto bad;
		}
		if (fill_to(c, &b, off + clen, "the body", err) == -1)
			goto bad;
	} else {
		while ((rc = conn_fill(c, &b, err)) == 1)
			;
		if (rc == -1)
			goto bad;
		clen = b.len - off;
	}
	r->body = xmalloc(clen + 1);
	memcpy(r->body, b.p + off, clen);
	r->body[clen] = '\0';
	r->bodylen = clen;
done:
	free(b.p);
	return 0;
bad:
	free(b.p);
	client_response_free(r);
	return -1;
}

#define TUNNEL_HEAD_MAX	8192	/* a proxy's answer to CONNECT */

/*
 * Ask the proxy c is connected to for a tunnel to u's host and port, and
 * read its answer: 0 once it said 2xx, -1 with *err naming the proxy.
 */
static int
conn_tunnel(struct conn *c, const struct proxy *px,
    const struct client_url *u, char **err)
{
	struct rbuf	 b;
	char		*req, *target, reason[128];
	size_t		 end;
	int		 status = 0, n, rv = -1;

	memset(&b, 0, sizeof b);
	xasprintf(&target, "%s%s%s:%s", strchr(u->host, ':') ? "[" : "",
	    u->host, strchr(u->host, ':') ? "]" : "", u->port);
	xasprintf(&req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s%s%s\r\n",
	    target, target, px->auth ? "Proxy-Authorization: " : "",
	    px->auth ? px->auth : "", px->auth ? "\r\n" : "");
	if (c->trace != NULL)
		fprintf(c->trace, "* CONNECT %s through the proxy %s\n", target,
		    px->shown);
	if (conn_write(c, req, strlen(req), err) == -1)
		goto out;
	while ((end = head_end(&b, 0)) == 0) {
		if (b.len > TUNNEL_HEAD_MAX) {
			seterr(err, "proxy %s: its answer to CONNECT %s is "
			    "over %d bytes", px->shown, target,
			    TUNNEL_HEAD_MAX);
			goto out;
		}
		if ((n = conn_fill(c, &b, err)) == -1)
			goto out;
		if (n == 0) {
			seterr(err, "proxy %s closed the connection before "
			    "answering CONNECT %s", px->shown, target);
			goto out;
		}
	}
	reason[0] = '\0';
	if (sscanf(b.p, "HTTP/1.%*[01] %3d %127[^\r\n]", &status,
	    reason) < 1 || status < 100 || status > 599) {
		seterr(err, "proxy %s: its answer to CONNECT %s is not HTTP",
		    px->shown, target);
		goto out;
	}
	if (status / 100 != 2) {
		seterr(err, "proxy %s refused CONNECT %s: %d %s%s", px->shown,
		    target, status, reason, status == 407 ? " (give the user "
		    "and password in HTTPS_PROXY: http://user:password@host:"
		    "port)" : "");
		goto out;
	}
	if (b.len != end) {
		seterr(err, "proxy %s sent data after its answer to CONNECT "
		    "%s, before TLS", px->shown, target);
		goto out;
	}
	rv = 0;
out:
	if (px->auth != NULL)
		explicit_bzero(req, strlen(req));
	free(req);
	free(target);
	free(b.p);
	return rv;
}

int
client_do(const struct client_request *req, struct client_response *resp,
    char **errp)
{
	struct client_url	 u;
	struct dest		 d;
	struct conn		 c;
	const char		*method = req->method ? req->method : "GET";
	struct proxy		 px;
	char			*head = NULL, *peer = NULL, *e = NULL;
	char			**err = &e;
	int			 ret = -1, tunnel = 0;
	size_t			 i;

	memset(&px, 0, sizeof px);
	memset(resp, 0, sizeof *resp);
	memset(&d, 0, sizeof d);
	memset(&c, 0, sizeof c);
	c.fd = -1;
	if (errp != NULL)
		*errp = NULL;
	memset(&u, 0, sizeof u);
	for (i = 0; method[i] != '\0'; i++) {
		if (!isalpha((unsigned char)method[i]) &&
		    !isdigit((unsigned char)method[i]) && method[i] != '-' &&
		    method[i] != '_') {
			seterr(err, "bad method \"%s\"", method);
			goto out;
		}
	}
	if (i == 0) {
		seterr(err, "empty method");
		goto out;
	}
	if (req->url == NULL) {
		seterr(err, "no URL");
		goto out;
	}
	if (client_url_parse(req->url, &u, err) == -1)
		goto out;
	if (dest_parse(req, &u, &d, err) == -1)
		goto out;
	/* HTTPS_PROXY: to the proxy in plain TCP, a tunnel, then TLS. */
	if (req->connect == NULL && u.tls &&
	    (tunnel = proxy_for(u.host, &px, err)) == -1)
		goto out;
	if (tunnel) {
		free(d.host);
		free(d.port);
		d.host = xstrdup(px.host);
		d.port = xstrdup(px.port);
	}
	if ((head = build_head(req, &u, method, err)) == NULL)
		goto out;

	c.timeout_ms = req->timeout_ms > 0 ? req->timeout_ms :
	    CLIENT_TIMEOUT_MS;
	c.trace = req->trace;
	c.url = req->url;
	clock_gettime(CLOCK_MONOTONIC, &c.deadline);
	c.deadline.tv_sec += c.timeout_ms / 1000;
	c.deadline.tv_nsec += (long)(c.timeout_ms % 1000) * 1000000;
	if (c.deadline.tv_nsec >= 1000000000) {
		c.deadline.tv_sec++;
		c.deadline.tv_nsec -= 1000000000;
	}

	if (d.tls && tls_context(&c, req->ca_file, err) == -1)
		goto out;
	if (conn_open(&c, &d, &peer, err) == -1)
		goto out;
	if (c.trace != NULL)
		fprintf(c.trace, "* connected to %s%s\n", c.peer,
		    tunnel ? " (the proxy)" : d.tls ? " (TLS)" : "");
	if (tunnel && conn_tunnel(&c, &px, &u, err) == -1)
		goto out;
	if (d.tls && conn_tls(&c, u.host, err) == -1)
		goto out;
	if (c.trace != NULL) {
		trace_lines(c.trace, "> ", head, strlen(head) - 2);
		fprintf(c.trace, ">\n");
		if (req->bodylen > 0)
			trace_lines(c.trace, "> ", req->body, req->bodylen);
	}
	if (conn_write(&c, head, strlen(head), err) == -1)
		goto out;
	if (req->bodylen > 0 &&
	    conn_write(&c, req->body, req->bodylen, err) == -1)
		goto out;
	if (read_response(&c, method, resp, err) == -1)
		goto out;
	ret = 0;
out:
	conn_close(&c);
	proxy_free(&px);
	free(peer);
	free(head);
	dest_free(&d);
	client_url_free(&u);
	if (errp != NULL)
		*errp = e;
	else
		free(e);
	return ret;
}
