/* proxy.c: HTTPS_PROXY / NO_PROXY, for outgoing HTTPS through a CONNECT tunnel. */
#include "config-sys.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "proxy.h"
#include "xmalloc.h"

#define PROXY_SETTING_MAX	4096	/* bytes of an environment value */

/* The first set, non-empty one of two environment variables. */
static const char *
env2(const char *a, const char *b)
{
	const char	*v;

	if ((v = getenv(a)) != NULL && *v != '\0')
		return v;
	if ((v = getenv(b)) != NULL && *v != '\0')
		return v;
	return NULL;
}

/* 1 if entry (of NO_PROXY) covers host. */
static int
no_proxy_match(const char *entry, size_t len, const char *host)
{
	size_t	hlen = strlen(host), n;

	while (len > 0 && isspace((unsigned char)*entry)) {
		entry++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)entry[len - 1]))
		len--;
	if (len == 1 && *entry == '*')
		return 1;
	/* "[::1]:443" and "host:443": the port is not compared. */
	if (len > 0 && *entry == '[') {
		n = 1;
		while (n < len && entry[n] != ']')
			n++;
		return n - 1 == hlen && strncasecmp(entry + 1, host, hlen) == 0;
	}
	for (n = 0; n < len; n++)
		if (entry[n] == ':' && memchr(entry + n + 1, ':',
		    len - n - 1) == NULL && strchr(host, ':') == NULL)
			break;
	len = n;
	if (len > 0 && *entry == '.') {
		entry++;
		len--;
	}
	if (len == 0)
		return 0;
	if (hlen == len)
		return strncasecmp(host, entry, len) == 0;
	/* A domain covers its subdomains: "example.com" and "a.example.com". */
	return hlen > len && host[hlen - len - 1] == '.' &&
	    strncasecmp(host + hlen - len, entry, len) == 0;
}

/* Percent-decoded s[0..len) (user info); NULL if malformed. Allocated. */
static char *
pct_decode(const char *s, size_t len)
{
	char	*out = xmalloc(len + 1), hex[3] = { 0 };
	size_t	 i, n = 0;

	for (i = 0; i < len; i++) {
		if (s[i] != '%') {
			out[n++] = s[i];
			continue;
		}
		if (i + 2 >= len || !isxdigit((unsigned char)s[i + 1]) ||
		    !isxdigit((unsigned char)s[i + 2])) {
			free(out);
			return NULL;
		}
		hex[0] = s[i + 1];
		hex[1] = s[i + 2];
		out[n++] = (char)strtol(hex, NULL, 16);
		i += 2;
	}
	out[n] = '\0';
	return out;
}

/* "Basic base64(user:password)" from the percent-encoded user info. */
static char *
basic_auth(const char *ui, size_t len)
{
	unsigned char	*b64;
	char		*plain, *out;
	size_t		 plen;

	if ((plain = pct_decode(ui, len)) == NULL)
		return NULL;
	plen = strlen(plain);
	b64 = xmalloc(4 * ((plen + 2) / 3) + 1);
	EVP_EncodeBlock(b64, (unsigned char *)plain, (int)plen);
	xasprintf(&out, "Basic %s", b64);
	explicit_bzero(plain, plen);
	free(plain);
	free(b64);
	return out;
}

int
proxy_for(const char *host, struct proxy *px, char **err)
{
	const char	*v, *np, *e, *hp, *at, *end, *colon;
	size_t		 len;

	memset(px, 0, sizeof *px);
	if ((v = env2("HTTPS_PROXY", "https_proxy")) == NULL)
		return 0;
	if ((np = env2("NO_PROXY", "no_proxy")) != NULL &&
	    strlen(np) <= PROXY_SETTING_MAX) {
		for (e = np; *e != '\0'; e += *e == ',') {
			len = strcspn(e, ",");
			if (no_proxy_match(e, len, host))
				return 0;
			e += len;
		}
	}
	if (strlen(v) > PROXY_SETTING_MAX) {
		xasprintf(err, "HTTPS_PROXY is longer than %d bytes",
		    PROXY_SETTING_MAX);
		return -1;
	}
	if (strncasecmp(v, "http://", 7) == 0)
		hp = v + 7;
	else if (strstr(v, "://") != NULL) {
		xasprintf(err, "HTTPS_PROXY %.*s: only an http:// proxy (one "
		    "that takes CONNECT in plain HTTP) is supported",
		    (int)(strstr(v, "://") - v + 3), v);
		return -1;
	} else
		hp = v;
	end = hp + strcspn(hp, "/?#");
	/* user:password@ goes in Proxy-Authorization; the last '@' ends it. */
	at = NULL;
	for (e = hp; e < end; e++)
		if (*e == '@')
			at = e;
	if (at != NULL) {
		if ((px->auth = basic_auth(hp, at - hp)) == NULL) {
			xasprintf(err, "HTTPS_PROXY: bad %%-escape in its user "
			    "name or password");
			return -1;
		}
		hp = at + 1;
	}
	if (*hp == '[') {
		if ((e = memchr(hp, ']', end - hp)) == NULL)
			goto bad;
		px->host = xstrndup(hp + 1, e - hp - 1);
		colon = e + 1 < end && e[1] == ':' ? e + 1 : NULL;
		if (e + 1 < end && colon == NULL)
			goto bad;
	} else {
		colon = memchr(hp, ':', end - hp);
		px->host = xstrndup(hp, (colon ? colon : end) - hp);
	}
	if (*px->host == '\0')
		goto bad;
	if (colon != NULL) {
		if (end - colon - 1 < 1 || end - colon - 1 > 5 ||
		    strspn(colon + 1, "0123456789") < (size_t)(end - colon - 1))
			goto bad;
		px->port = xstrndup(colon + 1, end - colon - 1);
		if (atoi(px->port) < 1 || atoi(px->port) > 65535)
			goto bad;
	} else
		px->port = xstrdup("80");
	xasprintf(&px->shown, "http://%s%s%s:%s", strchr(px->host, ':') ?
	    "[" : "", px->host, strchr(px->host, ':') ? "]" : "", px->port);
	return 1;
bad:
	xasprintf(err, "HTTPS_PROXY: '%s' is not http://host:port",
	    at != NULL ? at + 1 : v);
	proxy_free(px);
	return -1;
}

void
proxy_free(struct proxy *px)
{
	free(px->host);
	free(px->port);
	if (px->auth != NULL) {
		explicit_bzero(px->auth, strlen(px->auth));
		free(px->auth);
	}
	free(px->shown);
	memset(px, 0, sizeof *px);
}
