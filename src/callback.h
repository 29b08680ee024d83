/* callback.h: form and query decoding, UsageTrigger field validation. */
#ifndef CALLBACK_H
#define CALLBACK_H

#include <stddef.h>

#include "usagehook.h"

/*
 * Decode application/x-www-form-urlencoded text s[0..len) ("+" is a space,
 * %XX a byte) appending to p. Returns 0, or -1 with *err set to a static
 * message on broken percent-encoding, a NUL byte, or memory exhaustion.
 */
int		 form_decode(const char *s, size_t len, struct params *p,
		    const char **err);
/* Append a copy of name/value; -1 when out of memory. */
int		 params_add(struct params *, const char *name, size_t nlen,
		    const char *value, size_t vlen);
/* The first value of name, or NULL. */
const char	*params_get(const struct params *, const char *name);
void		 params_free(struct params *);

/* 1 if Twilio sends this method's parameters in the body, not the query. */
int		 method_has_body(const char *method);
/*
 * The parameters of a request as received: the form body for POST, PUT and
 * PATCH, the query string of uri for the others. 0, or -1 with *err set.
 */
int		 request_params(const char *method, const char *uri,
		    const char *body, size_t bodylen, struct params *p,
		    const char **err);

/* 1 if a Content-Type header names a form body (charset allowed), else 0. */
int		 form_content_type(const char *ct);

/*
 * Point cb->f at the UsageTrigger fields in cb->params and check them: all
 * ten present once each (Recurring may be empty, the others not), sids,
 * Recurring and TriggerBy from their lists, numbers for TriggerValue and
 * CurrentValue, and a token shaped AC...-FIRES-UT...-... naming this
 * request's sids if it starts with AC; other parameters are ignored.
 * Returns NULL when valid, or a message naming the bad field (and quoting
 * a bad value); not to be freed, valid until the next call in this thread.
 * cb->f is filled either way, so a rejection can still name the account.
 */
const char	*callback_validate(struct callback *cb);
/* 1 if s is prefix + 32 hex digits (e.g. "AC"), else 0. */
int		 sid_valid(const char *s, const char *prefix);

/* Free cb and everything it owns; NULL is a no-op. */
void		 callback_free(struct callback *cb);

#endif
