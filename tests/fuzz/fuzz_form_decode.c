/*
 * fuzz_form_decode.c: form/query decoding (callback.c) on hostile bytes.
 * Checks what callers rely on: all or nothing, no NUL inside a decoded
 * name or value, no value longer than its encoding; then the UsageTrigger
 * validation and the Content-Type test on the same bytes.
 */
#include "config-sys.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "callback.h"
#include "usagehook.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct callback	*cb;
	struct params	 p;
	const char	*err = NULL, *s = (const char *)data;
	char		*ct;
	size_t		 i, total = 0;

	memset(&p, 0, sizeof p);
	if (form_decode(s, size, &p, &err) == 0) {
		if (err != NULL)
			abort();
		for (i = 0; i < p.n; i++) {
			/* Decoding never grows: each byte of output costs one. */
			total += strlen(p.v[i].name) + strlen(p.v[i].value);
			if (params_get(&p, p.v[i].name) == NULL)
				abort();
		}
		if (total > size)
			abort();
	} else {
		/* All or nothing: a refusal leaves no half request behind. */
		if (err == NULL || p.n != 0)
			abort();
	}

	/* Validation takes what decoding gave, as the daemon does. */
	if ((cb = calloc(1, sizeof *cb)) == NULL)
		return 0;
	cb->params = p;
	(void)callback_validate(cb);
	if (cb->f.account_sid != NULL && params_get(&cb->params,
	    "AccountSid") != cb->f.account_sid)
		abort();
	callback_free(cb);

	if ((ct = malloc(size + 1)) != NULL) {
		memcpy(ct, data, size);
		ct[size] = '\0';
		(void)form_content_type(ct);
		(void)sid_valid(ct, "AC");
		free(ct);
	}
	return 0;
}
