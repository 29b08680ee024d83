/* signature.h: Twilio's X-Twilio-Signature, computed and verified. */
#ifndef SIGNATURE_H
#define SIGNATURE_H

#include <stddef.h>

#include "usagehook.h"

#define SIGNATURE_LEN	28	/* base64 of a 20-byte HMAC-SHA1 */
#define URL_CANDIDATES	2	/* the URL as given and its other port form */

/*
 * Twilio's signature of url followed by each body parameter sorted by name
 * (byte order), name then value, HMAC-SHA1 under token, base64 into out.
 * body may be NULL (GET-style methods). Returns 0, or -1 on failure.
 */
int	signature_compute(const char *token, const char *url,
	    const struct params *body, char out[SIGNATURE_LEN + 1]);

/*
 * Key HMAC-SHA1 once with the account's token and secondary token, so that
 * each verification only copies the keyed state. 0, or -1 on failure.
 */
int	signature_key(struct account *);
/* Free what signature_key made, wiping the keys; unkeyed is a no-op. */
void	signature_unkey(struct account *);

/*
 * The URLs a signature may have been computed over: url itself and url with
 * its default port (:443 for https, :80 for http) added when it has no
 * port, or its port (any) removed, as Twilio's own validators do. Fills out[] with allocated strings;
 * returns how many (1 or 2), or 0 when out of memory.
 */
size_t	signature_url_candidates(const char *url, char *out[URL_CANDIDATES]);
void	signature_url_candidates_free(char *out[URL_CANDIDATES], size_t n);

/*
 * Verify sig for a request under an account: every URL candidate, the
 * primary token then the secondary, keyed by signature_key or, when not,
 * for this call. Constant-time comparison. Returns 1 for the primary
 * token, 2 for the secondary, 0 when nothing matches, -1 on an internal
 * failure.
 */
int	signature_verify(const struct account *, const char *url,
	    const struct params *body, const char *sig);

#endif
