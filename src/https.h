/* https.h: client TLS for libevent connections, certificates verified. */
#ifndef HTTPS_H
#define HTTPS_H

#include <stddef.h>

#include <openssl/ssl.h>

struct bufferevent;
struct event_base;
struct evhttp_connection;

/*
 * What an answer to an outgoing request may make us hold (libevent's own
 * defaults are unbounded): its status line and headers, and for an http
 * action its body, which is only quoted in errors.
 */
#define RESPONSE_HEADERS_MAX	(64 * 1024)
#define RESPONSE_BODY_MAX	(1024 * 1024)

/*
 * A client context that verifies the peer's chain against ca_file (NULL:
 * the system CA store), TLS 1.2 or later. NULL with a message in err
 * ("cannot load ca_file F: why"). Free with SSL_CTX_free.
 */
SSL_CTX		*https_ctx_new(const char *ca_file, char *err, size_t errlen);
/*
 * A bufferevent (not yet connected) for TLS to host over ctx: a name is
 * sent as SNI and checked against the certificate, an IP literal (no
 * brackets) is checked as an address. *verify_error receives the first
 * X509_V_ERR_* of the chain or the name and must outlive the connection.
 * opts are BEV_OPT_* flags. NULL with a message in err.
 */
struct bufferevent *https_bev_new(struct event_base *, SSL_CTX *,
		    const char *host, long *verify_error, int opts,
		    char *err, size_t errlen);
/*
 * Why a TLS connection failed, as text in buf: "certificate verify failed:
 * <reason>" when verify_error is set, else the first OpenSSL error libevent
 * queued on bev (which may be NULL). NULL when TLS did not say.
 */
const char	*https_error(struct bufferevent *bev, long verify_error,
		    char *buf, size_t len);
/*
 * A DNS failure (an EVUTIL_EAI_* code from libevent or an EAI_* code from
 * getaddrinfo) in plain words, not libevent's BSD text ("nodename nor
 * servname provided, or not known").
 */
const char	*dns_error(int code);

/*
 * Bound the answers on conn: RESPONSE_HEADERS_MAX of status line and
 * headers, body_max of body. Past either libevent fails the request
 * (see https_answer_error) and closes the connection.
 */
void		 https_bound(struct evhttp_connection *conn, size_t body_max);
/*
 * Why libevent refused the answer from url (scheme://host:port...), in
 * buf, for an evhttp_request_error: libevent 2.1 reports headers over the
 * limit as EVREQ_HTTP_INVALID_HEADER, a body over it as
 * EVREQ_HTTP_DATA_TOO_LONG. NULL for other errors.
 */
const char	*https_answer_error(char *buf, size_t len, const char *url,
		    int error, size_t body_max);

#endif
