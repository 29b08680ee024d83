/* signature.c: Twilio's X-Twilio-Signature, computed and verified. */
#include "config-sys.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "signature.h"

#define SHA1_LEN	20

#define SORT_STACK	32	/* parameters sorted without an allocation */

/* Fetched once: EVP_MAC_fetch takes a global lock on every call. */
static EVP_MAC		*sig_hmac;
static pthread_once_t	 sig_hmac_once = PTHREAD_ONCE_INIT;

/* A body's parameters in signing order; on the stack when they fit. */
struct sorted {
	const struct param	 *stack[SORT_STACK];
	const struct param	**v;
	size_t			  n;
};

static void
sig_hmac_fetch(void)
{
	sig_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* Byte order by name, then by value, as twilio-node sorts repeated names. */
static int
param_cmp(const void *a, const void *b)
{
	const struct param	*x = *(const struct param *const *)a;
	const struct param	*y = *(const struct param *const *)b;
	int			 c;

	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	return strcmp(x->value, y->value);
}

/* Sort body (may be NULL) into s; -1 when out of memory. */
static int
sorted_init(struct sorted *s, const struct params *body)
{
	size_t	i;

	s->v = s->stack;
	s->n = 0;
	if (body == NULL || body->n == 0)
		return 0;
	if (body->n > SORT_STACK &&
	    (s->v = calloc(body->n, sizeof *s->v)) == NULL)
		return -1;
	for (i = 0; i < body->n; i++)
		s->v[i] = &body->v[i];
	s->n = body->n;
	qsort(s->v, s->n, sizeof *s->v, param_cmp);
	return 0;
}

static void
sorted_free(struct sorted *s)
{
	if (s->v != s->stack)
		free(s->v);
	s->v = NULL;
}

/* A new HMAC-SHA1 context keyed with token (wiped when freed); NULL on error. */
static EVP_MAC_CTX *
mac_new(const char *token)
{
	EVP_MAC_CTX	*ctx;
	OSSL_PARAM	 op[2];
	char		 digest[] = "SHA1";

	if (pthread_once(&sig_hmac_once, sig_hmac_fetch) != 0 ||
	    sig_hmac == NULL)
		return NULL;
	op[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    digest, 0);
	op[1] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_MAC_CTX_new(sig_hmac)) == NULL)
		return NULL;
	if (!EVP_MAC_init(ctx, (const unsigned char *)token, strlen(token),
	    op)) {
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static int
mac_update_str(EVP_MAC_CTX *ctx, const char *s)
{
	return EVP_MAC_update(ctx, (const unsigned char *)s, strlen(s));
}

/* Sign url + sorted under a copy of the keyed context into out; 0 or -1. */
static int
sign(const EVP_MAC_CTX *keyed, const char *url, const struct sorted *s,
    char out[SIGNATURE_LEN + 1])
{
	EVP_MAC_CTX	*ctx;
	unsigned char	 md[EVP_MAX_MD_SIZE];
	size_t		 mdlen, i;
	int		 rv = -1;

	out[0] = '\0';
	/* The copy starts from the keyed state: no key schedule, no fetch. */
	if ((ctx = EVP_MAC_CTX_dup(keyed)) == NULL ||
	    !mac_update_str(ctx, url))
		goto done;
	for (i = 0; i < s->n; i++) {
		/* twilio-node and twilio-python sign a repeated pair once. */
		if (i > 0 && param_cmp(&s->v[i - 1], &s->v[i]) == 0)
			continue;
		if (!mac_update_str(ctx, s->v[i]->name) ||
		    !mac_update_str(ctx, s->v[i]->value))
			goto done;
	}
	if (!EVP_MAC_final(ctx, md, &mdlen, sizeof md) || mdlen != SHA1_LEN)
		goto done;
	if (EVP_EncodeBlock((unsigned char *)out, md, SHA1_LEN) !=
	    SIGNATURE_LEN) {
		out[0] = '\0';
		goto done;
	}
	rv = 0;
done:
	OPENSSL_cleanse(md, sizeof md);
	EVP_MAC_CTX_free(ctx);
	return rv;
}

int
signature_compute(const char *token, const char *url,
    const struct params *body, char out[SIGNATURE_LEN + 1])
{
	EVP_MAC_CTX	*ctx;
	struct sorted	 s;
	int		 rv = -1;

	out[0] = '\0';
	if (token == NULL || url == NULL)
		return -1;
	if ((ctx = mac_new(token)) == NULL)
		return -1;
	if (sorted_init(&s, body) == 0) {
		rv = sign(ctx, url, &s, out);
		sorted_free(&s);
	}
	EVP_MAC_CTX_free(ctx);
	return rv;
}

int
signature_key(struct account *a)
{
	signature_unkey(a);
	if (a->token != NULL && (a->mac = mac_new(a->token)) == NULL)
		return -1;
	if (a->secondary != NULL &&
	    (a->secondary_mac = mac_new(a->secondary)) == NULL) {
		signature_unkey(a);
		return -1;
	}
	return 0;
}

void
signature_unkey(struct account *a)
{
	/* OpenSSL's HMAC wipes its key and pad states when freed. */
	EVP_MAC_CTX_free(a->mac);
	EVP_MAC_CTX_free(a->secondary_mac);
	a->mac = a->secondary_mac = NULL;
}

/* An allocated a[0..alen) + b[0..blen) + c; NULL when out of memory. */
static char *
join3(const char *a, size_t alen, const char *b, size_t blen, const char *c)
{
	size_t	 clen = strlen(c);
	char	*s;

	if ((s = malloc(alen + blen + clen + 1)) == NULL)
		return NULL;
	memcpy(s, a, alen);
	memcpy(s + alen, b, blen);
	memcpy(s + alen + blen, c, clen + 1);
	return s;
}

/*
 * The other port form of url into *other (allocated): the default port
 * added when it has none, its port removed when it has one; NULL for an
 * unknown scheme. -1 when out of memory.
 * Splits the authority like twilio-node: userinfo ends at the last '@', a
 * port starts at the first ':' after an IPv6 literal's ']'.
 */
static int
url_other_port(const char *url, char **other)
{
	const char	*sep, *auth, *end, *host, *colon, *p;
	const char	*def;
	size_t		 slen;

	*other = NULL;
	if ((sep = strstr(url, "://")) == NULL)
		return 0;
	slen = sep - url;
	if (slen == 5 && strncasecmp(url, "https", 5) == 0)
		def = ":443";
	else if (slen == 4 && strncasecmp(url, "http", 4) == 0)
		def = ":80";
	else
		return 0;

	auth = sep + 3;
	end = auth + strcspn(auth, "/?#");
	host = auth;
	for (p = auth; p < end; p++)
		if (*p == '@')
			host = p + 1;
	for (p = host; p < end; p++)
		if (*p == ']')
			host = p + 1;
	colon = memchr(host, ':', end - host);

	/*
	 * Without a port: the default added. With any port: none at all, as
	 * twilio-node's removePort() and twilio-python's remove_port() do, so
	 * a request to :8443 signed over the port-less URL is accepted too.
	 */
	if (colon == NULL)
		*other = join3(url, end - url, def, strlen(def), end);
	else
		*other = join3(url, colon - url, "", 0, end);
	return *other == NULL ? -1 : 0;
}

size_t
signature_url_candidates(const char *url, char *out[URL_CANDIDATES])
{
	out[0] = out[1] = NULL;
	if (url == NULL || (out[0] = strdup(url)) == NULL)
		return 0;
	if (url_other_port(url, &out[1]) == -1) {
		free(out[0]);
		out[0] = NULL;
		return 0;
	}
	return out[1] == NULL ? 1 : 2;
}

void
signature_url_candidates_free(char *out[URL_CANDIDATES], size_t n)
{
	size_t	i;

	for (i = 0; i < n && i < URL_CANDIDATES; i++) {
		free(out[i]);
		out[i] = NULL;
	}
}

/* 1 or 2 when sig is url's under key[0] or key[1], else 0; -1 on error. */
static int
verify_url(EVP_MAC_CTX *const key[2], const char *url,
    const struct sorted *s, const char *sig)
{
	char	want[SIGNATURE_LEN + 1];
	int	t, rv = 0;

	for (t = 0; t < 2 && rv == 0; t++) {
		if (key[t] == NULL)
			continue;
		if (sign(key[t], url, s, want) == -1)
			rv = -1;
		else if (CRYPTO_memcmp(want, sig, SIGNATURE_LEN) == 0)
			rv = t + 1;
	}
	OPENSSL_cleanse(want, sizeof want);
	return rv;
}

int
signature_verify(const struct account *acct, const char *url,
    const struct params *body, const char *sig)
{
	EVP_MAC_CTX	*key[2], *own[2] = { NULL, NULL };
	struct sorted	 s;
	char		*other;
	int		 rv = -1;

	if (acct == NULL || url == NULL)
		return -1;
	/* The length of a base64 HMAC-SHA1 is public; only bytes are secret. */
	if (sig == NULL || strnlen(sig, SIGNATURE_LEN + 1) != SIGNATURE_LEN)
		return 0;
	/* An account that signature_key has not seen is keyed for this call. */
	key[0] = acct->mac;
	key[1] = acct->secondary_mac;
	if ((key[0] == NULL && acct->token != NULL &&
	    (key[0] = own[0] = mac_new(acct->token)) == NULL) ||
	    (key[1] == NULL && acct->secondary != NULL &&
	    (key[1] = own[1] = mac_new(acct->secondary)) == NULL))
		goto done;
	if (sorted_init(&s, body) == -1)
		goto done;
	/* The URL as given first; its other port form only when that fails. */
	if ((rv = verify_url(key, url, &s, sig)) == 0) {
		if (url_other_port(url, &other) == -1)
			rv = -1;
		else if (other != NULL) {
			rv = verify_url(key, other, &s, sig);
			free(other);
		}
	}
	sorted_free(&s);
done:
	EVP_MAC_CTX_free(own[0]);
	EVP_MAC_CTX_free(own[1]);
	return rv;
}
