/* client.h: a small blocking HTTP/1.1 client for one request (usagehookctl). */
#ifndef CLIENT_H
#define CLIENT_H

#include <stddef.h>
#include <stdio.h>

#include "usagehook.h"

#define CLIENT_TIMEOUT_MS	30000		/* when timeout_ms <= 0 */
#define CLIENT_MAX_HEAD		(64 * 1024)	/* status line + headers */
#define CLIENT_MAX_BODY		(64 * 1024 * 1024)

/* "scheme://host[:port]/path?query" in parts; every string is allocated. */
struct client_url {
	char	*scheme;	/* "http" or "https", lower case */
	char	*host;		/* brackets removed: "::1", "hooks.example.com" */
	char	*port;		/* as written, else "80" or "443" */
	char	*authority;	/* host[:port] as written (brackets kept): Host */
	char	*target;	/* "/path?query", fragment dropped, never empty */
	int	 tls;		/* 1 for https */
};

/*
 * One request. connect says where to connect instead of the URL's host:
 * NULL (the URL's host and scheme); "host:port" or "[v6]:port" (the URL's
 * scheme: TLS for an https URL, the certificate checked against the URL's
 * host as with curl --connect-to); "http://host:port" (plain HTTP whatever
 * the URL); "https://host:port" (TLS); "unix:/path" (plain HTTP).
 */
struct client_request {
	const char	 *method;	/* NULL means "GET" */
	const char	 *url;
	const char	 *connect;
	const char	 *ca_file;	/* NULL: the system CA store */
	const char	**headers;	/* "Name: value", NULL-terminated, or NULL */
	const char	 *body;		/* sent with Content-Length; may be NULL */
	size_t		  bodylen;
	int		  timeout_ms;	/* the whole exchange, connect included */
	FILE		 *trace;	/* if set: "* " notes, "> " request, "< " head */
};

struct client_header {
	char	*name;
	char	*value;
};

/* A response; free with client_response_free. */
struct client_response {
	int			 status;
	char			*reason;
	char			*headers;	/* header lines, "\r\n" after each */
	struct client_header	*hv;		/* the same, parsed */
	size_t			 nh;
	char			*body;		/* de-chunked, NUL-terminated */
	size_t			 bodylen;
};

/*
 * Send req and read the whole response into resp (the connection says
 * "Connection: close"). Host, Content-Length and Connection are added unless
 * req->headers has them. Returns 0, or -1 with an allocated *err saying what
 * failed ("connect 127.0.0.1:8080: Connection refused"). Writing to a peer
 * that closed may raise SIGPIPE under TLS: callers ignore SIGPIPE.
 */
int		 client_do(const struct client_request *req,
		    struct client_response *resp, char **err);
/* Free what resp owns and zero it; safe on a zeroed response. */
void		 client_response_free(struct client_response *resp);
/* The first value of header name (case-insensitive), or NULL. */
const char	*client_header(const struct client_response *, const char *name);

/* Split url; returns 0, or -1 with an allocated *err. */
int		 client_url_parse(const char *url, struct client_url *, char **err);
/* Free what u owns and zero it; safe on a zeroed struct. */
void		 client_url_free(struct client_url *u);

/*
 * Percent-encode s[0..len): everything but A-Za-z0-9-_.~ becomes %XX
 * (a space is "%20"). Returns an allocated string.
 */
char		*client_urlencode(const char *s, size_t len);
/* "name=value&..." of p in its order, each side encoded; allocated. */
char		*client_form_encode(const struct params *p);

#endif
