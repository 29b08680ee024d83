/*
 * fuzz_signature_url.c: URL candidates and signature verification.
 * Input: URL, a newline, then a form body. Checks the contract besides
 * memory safety: the first candidate is the URL itself; a signature that
 * Twilio computed over either candidate (with and without the default
 * port), under the primary or the secondary token, verifies; a wrong one
 * does not.
 */
#include "config-sys.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "callback.h"
#include "signature.h"
#include "usagehook.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char	 primary[] = "0123456789abcdef0123456789abcdef";
	static char	 secondary[] = "fedcba9876543210fedcba9876543210";
	struct account	 acct;
	struct params	 p;
	const uint8_t	*nl;
	char		*url, *cand[URL_CANDIDATES], sig[SIGNATURE_LEN + 1];
	const char	*err;
	size_t		 ulen, n, i;
	int		 rv, body_ok;

	/* A URL is text: a NUL ends it early everywhere it is used. */
	nl = memchr(data, '\n', size);
	ulen = nl != NULL ? (size_t)(nl - data) : size;
	if (memchr(data, '\0', ulen) != NULL)
		return 0;
	if ((url = malloc(ulen + 1)) == NULL)
		return 0;
	memcpy(url, data, ulen);
	url[ulen] = '\0';
	memset(&p, 0, sizeof p);
	body_ok = nl != NULL && form_decode((const char *)nl + 1,
	    size - ulen - 1, &p, &err) == 0;

	memset(&acct, 0, sizeof acct);
	memcpy(acct.sid, "AC0123456789abcdef0123456789abcdef", SID_LEN + 1);
	acct.token = primary;
	acct.secondary = secondary;

	n = signature_url_candidates(url, cand);
	if (n < 1 || n > URL_CANDIDATES || strcmp(cand[0], url) != 0)
		abort();
	for (i = 0; i < n; i++) {
		if (signature_compute(primary, cand[i], body_ok ? &p : NULL,
		    sig) != 0 || strlen(sig) != SIGNATURE_LEN)
			abort();
		if (signature_verify(&acct, url, body_ok ? &p : NULL,
		    sig) != 1)
			abort();
		if (signature_compute(secondary, cand[i], body_ok ? &p : NULL,
		    sig) != 0)
			abort();
		rv = signature_verify(&acct, url, body_ok ? &p : NULL, sig);
		if (rv != 2)
			abort();
	}
	/* Flip one character: no longer Twilio's signature. */
	sig[0] = sig[0] == 'A' ? 'B' : 'A';
	if (signature_verify(&acct, url, body_ok ? &p : NULL, sig) != 0)
		abort();
	/* Wrong lengths and garbage are refused, never an error. */
	if (signature_verify(&acct, url, NULL, "") != 0 ||
	    signature_verify(&acct, url, NULL, (const char *)url) < 0)
		abort();
	signature_url_candidates_free(cand, n);
	params_free(&p);
	free(url);
	return 0;
}
