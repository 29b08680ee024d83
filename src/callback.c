/* callback.c: form and query decoding, UsageTrigger field validation. */
#include "config-sys.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "callback.h"

#define SID_HEX		(SID_LEN - 2)	/* hex digits after the prefix */
#define QUOTE_MAX	48		/* bytes of a bad value quoted back */

static const char err_percent[] = "malformed percent-encoding";
static const char err_nul[] = "NUL byte in parameter";
static const char err_nomem[] = "out of memory";

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* An allocated NUL-terminated copy of s[0..len); NULL when out of memory. */
static char *
memdup_str(const char *s, size_t len)
{
	char	*p;

	if (len == SIZE_MAX || (p = malloc(len + 1)) == NULL)
		return NULL;
	if (len > 0)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* Room for one more parameter; -1 when out of memory. */
static int
params_grow(struct params *p)
{
	struct param	*v;
	size_t		 cap;

	if (p->n < p->cap)
		return 0;
	if (p->cap == 0)
		cap = 16;
	else if (p->cap > SIZE_MAX / 2 / sizeof *v)
		return -1;
	else
		cap = p->cap * 2;
	if ((v = realloc(p->v, cap * sizeof *v)) == NULL)
		return -1;
	p->v = v;
	p->cap = cap;
	return 0;
}

int
params_add(struct params *p, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
	char	*n, *v;

	if (params_grow(p) == -1)
		return -1;
	if ((n = memdup_str(name, nlen)) == NULL)
		return -1;
	if ((v = memdup_str(value, vlen)) == NULL) {
		free(n);
		return -1;
	}
	p->v[p->n].name = n;
	p->v[p->n].value = v;
	p->n++;
	return 0;
}

const char *
params_get(const struct params *p, const char *name)
{
	size_t	i;

	if (p == NULL || name == NULL)
		return NULL;
	for (i = 0; i < p->n; i++)
		if (strcmp(p->v[i].name, name) == 0)
			return p->v[i].value;
	return NULL;
}

/* Drop the parameters from index n on. */
static void
params_truncate(struct params *p, size_t n)
{
	while (p->n > n) {
		p->n--;
		free(p->v[p->n].name);
		free(p->v[p->n].value);
	}
}

void
params_free(struct params *p)
{
	if (p == NULL)
		return;
	params_truncate(p, 0);
	free(p->v);
	p->v = NULL;
	p->n = p->cap = 0;
}

/*
 * Decode one form component s[0..len) ('+' is a space, %XX a byte) into an
 * allocated string in *out. -1 with *err set on bad input or no memory.
 */
static int
form_component(const char *s, size_t len, char **out, const char **err)
{
	char	*d;
	size_t	 i, j;
	int	 hi, lo;

	*out = NULL;
	if (len == SIZE_MAX || (d = malloc(len + 1)) == NULL) {
		*err = err_nomem;
		return -1;
	}
	for (i = j = 0; i < len; i++, j++) {
		if (s[i] == '+')
			d[j] = ' ';
		else if (s[i] != '%')
			d[j] = s[i];
		else if (len - i < 3 ||
		    (hi = hexval((unsigned char)s[i + 1])) == -1 ||
		    (lo = hexval((unsigned char)s[i + 2])) == -1) {
			*err = err_percent;
			goto bad;
		} else {
			d[j] = (char)(hi << 4 | lo);
			i += 2;
		}
		/* A NUL would silently cut the value short everywhere after. */
		if (d[j] == '\0') {
			*err = err_nul;
			goto bad;
		}
	}
	d[j] = '\0';
	*out = d;
	return 0;
bad:
	free(d);
	return -1;
}

int
form_decode(const char *s, size_t len, struct params *p, const char **err)
{
	const char	*pair, *amp, *eq, *dummy;
	char		*name = NULL, *value = NULL;
	size_t		 n0 = p->n, i = 0, plen, nlen;

	if (err == NULL)
		err = &dummy;
	*err = NULL;
	while (i < len) {
		pair = s + i;
		if ((amp = memchr(pair, '&', len - i)) == NULL) {
			plen = len - i;
			i = len;
		} else {
			plen = amp - pair;
			i += plen + 1;
		}
		if (plen == 0)
			continue;
		eq = memchr(pair, '=', plen);
		nlen = eq == NULL ? plen : (size_t)(eq - pair);
		if (form_component(pair, nlen, &name, err) == -1)
			goto bad;
		if (form_component(eq == NULL ? "" : eq + 1,
		    eq == NULL ? 0 : plen - nlen - 1, &value, err) == -1)
			goto bad;
		if (params_grow(p) == -1) {
			*err = err_nomem;
			goto bad;
		}
		p->v[p->n].name = name;
		p->v[p->n].value = value;
		p->n++;
		name = value = NULL;
	}
	return 0;
bad:
	free(name);
	free(value);
	/* All or nothing: the caller never sees half a request. */
	params_truncate(p, n0);
	return -1;
}

int
form_content_type(const char *ct)
{
	static const char	type[] = "application/x-www-form-urlencoded";

	if (ct == NULL)
		return 0;
	ct += strspn(ct, " \t");
	if (strncasecmp(ct, type, sizeof type - 1) != 0)
		return 0;
	ct += sizeof type - 1;
	ct += strspn(ct, " \t");
	return *ct == '\0' || *ct == ';';
}

int
sid_valid(const char *s, const char *prefix)
{
	size_t	plen, i;

	if (s == NULL || prefix == NULL)
		return 0;
	plen = strlen(prefix);
	if (strncmp(s, prefix, plen) != 0)
		return 0;
	s += plen;
	for (i = 0; i < SID_HEX; i++)
		if (hexval((unsigned char)s[i]) == -1)
			return 0;
	return s[SID_HEX] == '\0';
}

/* How a UsageTrigger parameter is checked. */
enum usage_check {
	CHECK_NONE,		/* optional, taken as sent */
	CHECK_SID,		/* required: sid_prefix + 32 hex digits */
	CHECK_TOKEN		/* required: 1 to TOKEN_MAX bytes */
};

/* The UsageTrigger parameters Twilio sends, and where they go. */
static const struct usage_param {
	const char	*name;
	size_t		 off;		/* in struct usage_fields */
	enum usage_check check;
	const char	*sid_prefix;
} usage_params[] = {
	{ "AccountSid",
	    offsetof(struct usage_fields, account_sid), CHECK_SID, "AC" },
	{ "UsageTriggerSid",
	    offsetof(struct usage_fields, usage_trigger_sid), CHECK_SID, "UT" },
	{ "IdempotencyToken",
	    offsetof(struct usage_fields, idempotency_token), CHECK_TOKEN,
	    NULL },
	{ "DateFired", offsetof(struct usage_fields, date_fired), CHECK_NONE,
	    NULL },
	{ "Recurring", offsetof(struct usage_fields, recurring), CHECK_NONE,
	    NULL },
	{ "UsageCategory", offsetof(struct usage_fields, usage_category),
	    CHECK_NONE, NULL },
	{ "TriggerBy", offsetof(struct usage_fields, trigger_by), CHECK_NONE,
	    NULL },
	{ "TriggerValue", offsetof(struct usage_fields, trigger_value),
	    CHECK_NONE, NULL },
	{ "CurrentValue", offsetof(struct usage_fields, current_value),
	    CHECK_NONE, NULL },
	{ "UsageRecordUri", offsetof(struct usage_fields, usage_record_uri),
	    CHECK_NONE, NULL },
};
#define NUSAGE_PARAMS	(sizeof usage_params / sizeof usage_params[0])

/* s shortened and with non-printable bytes escaped, safe to log. */
static void
quote_value(char *buf, size_t size, const char *s)
{
	size_t	 i, j = 0;

	for (i = 0; s[i] != '\0' && j + 8 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == QUOTE_MAX) {
			memcpy(buf + j, "...", 3);
			j += 3;
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
			buf[j++] = (char)c;
		else
			j += snprintf(buf + j, size - j, "\\x%02x", c);
	}
	buf[j] = '\0';
}

const char *
callback_validate(struct callback *cb)
{
	/* Per thread: the message may quote the bad value. */
	static __thread char	 msg[320];
	char			 quoted[QUOTE_MAX * 4 + 8];
	const struct usage_param *u;
	const char		**field, *v;
	size_t			 count[NUSAGE_PARAMS] = { 0 };
	size_t			 i, k;

	if (cb == NULL)
		return "no callback";
	memset(&cb->f, 0, sizeof cb->f);
	for (i = 0; i < cb->params.n; i++) {
		for (k = 0; k < NUSAGE_PARAMS; k++) {
			u = &usage_params[k];
			if (strcmp(cb->params.v[i].name, u->name) != 0)
				continue;
			field = (const char **)((char *)&cb->f + u->off);
			if (count[k]++ == 0)
				*field = cb->params.v[i].value;
			break;
		}
	}

	for (k = 0; k < NUSAGE_PARAMS; k++) {
		u = &usage_params[k];
		v = *(const char **)((char *)&cb->f + u->off);
		if (u->check == CHECK_NONE)
			continue;
		if (count[k] == 0) {
			snprintf(msg, sizeof msg, "%s missing", u->name);
			return msg;
		}
		/* Two values leave it ambiguous which one to record and claim. */
		if (count[k] > 1) {
			snprintf(msg, sizeof msg, "%s given %zu times",
			    u->name, count[k]);
			return msg;
		}
		if (u->check == CHECK_SID && !sid_valid(v, u->sid_prefix)) {
			quote_value(quoted, sizeof quoted, v);
			snprintf(msg, sizeof msg,
			    "%s '%s' is not %s followed by %d hex digits",
			    u->name, quoted, u->sid_prefix, SID_HEX);
			return msg;
		}
		if (u->check == CHECK_TOKEN && *v == '\0') {
			snprintf(msg, sizeof msg, "%s empty", u->name);
			return msg;
		}
		if (u->check == CHECK_TOKEN && strlen(v) > TOKEN_MAX) {
			snprintf(msg, sizeof msg, "%s longer than %d bytes",
			    u->name, TOKEN_MAX);
			return msg;
		}
	}
	return NULL;
}

void
callback_free(struct callback *cb)
{
	if (cb == NULL)
		return;
	free(cb->method);
	free(cb->uri);
	free(cb->url);
	free(cb->headers);
	free(cb->body);
	free(cb->remote);
	free(cb->signature);
	params_free(&cb->params);
	free(cb);
}

int
method_has_body(const char *method)
{
	return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
	    strcmp(method, "PATCH") == 0;
}

int
request_params(const char *method, const char *uri, const char *body,
    size_t bodylen, struct params *p, const char **err)
{
	const char	*q;

	if (method_has_body(method))
		return form_decode(body, bodylen, p, err);
	if ((q = strchr(uri, '?')) == NULL)
		return 0;
	q++;
	/* A fragment is never sent, but never part of the query either. */
	return form_decode(q, strcspn(q, "#"), p, err);
}
