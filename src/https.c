/* https.c: client TLS for libevent connections, certificates verified. */
#include "config-sys.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <netdb.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "https.h"

/* The reason of an OpenSSL error code as text, or NULL for none. */
static const char *
openssl_reason(unsigned long e, char *buf, size_t len)
{
	const char	*reason;

	if (e == 0)
		return NULL;
	if ((reason = ERR_reason_error_string(e)) != NULL)
		return reason;
	ERR_error_string_n(e, buf, len);
	return buf;
}

/* Remember the first reason the chain or the name did not verify. */
static int
verify_cb(int ok, X509_STORE_CTX *store)
{
	SSL	*ssl;
	long	*verify_error;

	if (ok)
		return ok;
	ssl = X509_STORE_CTX_get_ex_data(store,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	if (ssl != NULL && (verify_error = SSL_get_app_data(ssl)) != NULL &&
	    *verify_error == 0)
		*verify_error = X509_STORE_CTX_get_error(store);
	return ok;
}

SSL_CTX *
https_ctx_new(const char *ca_file, char *err, size_t errlen)
{
	SSL_CTX		*ctx;
	char		 buf[256];
	const char	*why;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		why = openssl_reason(ERR_get_error(), buf, sizeof buf);
		snprintf(err, errlen, "cannot make a context: %s",
		    why != NULL ? why : "unknown error");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
	if (ca_file != NULL ? SSL_CTX_load_verify_locations(ctx, ca_file,
	    NULL) != 1 : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		why = openssl_reason(ERR_get_error(), buf, sizeof buf);
		snprintf(err, errlen, "cannot load %s%s: %s", ca_file != NULL ?
		    "ca_file " : "the system CA store", ca_file != NULL ?
		    ca_file : "", why != NULL ? why : "unknown error");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct bufferevent *
https_bev_new(struct event_base *base, SSL_CTX *ctx, const char *host,
    long *verify_error, int opts, char *err, size_t errlen)
{
	struct bufferevent	*bev;
	struct in6_addr		 addr;
	SSL			*ssl;
	int			 is_ip;

	*verify_error = 0;
	is_ip = inet_pton(AF_INET, host, &addr) == 1 ||
	    inet_pton(AF_INET6, host, &addr) == 1;
	if ((ssl = SSL_new(ctx)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	SSL_set_app_data(ssl, verify_error);
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	/* Names are checked by name with SNI; IP literals by IP. */
	if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
	    host) != 1 : (SSL_set_tlsext_host_name(ssl, host) != 1 ||
	    SSL_set1_host(ssl, host) != 1)) {
		SSL_free(ssl);
		snprintf(err, errlen, "cannot verify host %s", host);
		return NULL;
	}
	/* On failure libevent 2.1 may or may not free ssl: leak it. */
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, opts);
	if (bev == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* Servers often close without close_notify once the body is sent. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

const char *
https_error(struct bufferevent *bev, long verify_error, char *buf,
    size_t len)
{
	unsigned long	e, first = 0;
	char		tmp[256];
	const char	*why;

	if (verify_error != 0) {
		snprintf(buf, len, "certificate verify failed: %s",
		    X509_verify_cert_error_string(verify_error));
		return buf;
	}
	if (bev == NULL)
		return NULL;
	/* libevent also queues bare SSL_get_error codes (lib 0). */
	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (first == 0 && ERR_GET_LIB(e) != 0)
			first = e;
	if ((why = openssl_reason(first, tmp, sizeof tmp)) == NULL)
		return NULL;
	snprintf(buf, len, "%s", why);
	return buf;
}

const char *
dns_error(int code)
{
	if (code == EVUTIL_EAI_NONAME || code == EAI_NONAME
#ifdef EAI_NODATA
	    || code == EAI_NODATA
#endif
	    )
		return "no such host (the name does not resolve)";
	if (code == EVUTIL_EAI_AGAIN || code == EAI_AGAIN)
		return "DNS lookup failed for now (no answer from the "
		    "resolver; check /etc/resolv.conf and the network)";
	if (code == EVUTIL_EAI_FAIL || code == EAI_FAIL)
		return "DNS lookup failed (the resolver refused)";
	if (code == EVUTIL_EAI_CANCEL)
		return "DNS lookup cancelled";
	return evutil_gai_strerror(code);
}

void
https_bound(struct evhttp_connection *conn, size_t body_max)
{
	evhttp_connection_set_max_headers_size(conn, RESPONSE_HEADERS_MAX);
	evhttp_connection_set_max_body_size(conn, body_max);
}

/* n bytes as "64 KiB", "1 MiB" when whole, else "N bytes". */
static const char *
size_words(char *buf, size_t len, size_t n)
{
	if (n >= 1024 * 1024 && n % (1024 * 1024) == 0)
		snprintf(buf, len, "%zu MiB", n / (1024 * 1024));
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(buf, len, "%zu KiB", n / 1024);
	else
		snprintf(buf, len, "%zu bytes", n);
	return buf;
}

const char *
https_answer_error(char *buf, size_t len, const char *url, int error,
    size_t body_max)
{
	char	n[32];

	switch (error) {
	case EVREQ_HTTP_INVALID_HEADER:
		snprintf(buf, len, "the answer from %s has a malformed status "
		    "line or headers, or more than usagehookd's limit of %s "
		    "of them", url, size_words(n, sizeof n,
		    RESPONSE_HEADERS_MAX));
		return buf;
	case EVREQ_HTTP_DATA_TOO_LONG:
		snprintf(buf, len, "the answer from %s has a body over "
		    "usagehookd's limit of %s", url, size_words(n, sizeof n,
		    body_max));
		return buf;
	default:
		return NULL;
	}
}
