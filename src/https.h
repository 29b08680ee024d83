/* https.h: client TLS for libevent connections, certificates verified. */
#ifndef HTTPS_H
#define HTTPS_H

#include <stddef.h>

#include <openssl/ssl.h>

struct bufferevent;
struct event_base;

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

#endif
