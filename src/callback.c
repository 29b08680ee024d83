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

/* Memory that decoded names and values point into, freed with the params. */
struct params_block {
	struct params_block	*next;
	char			 data[];
};

/* An unlinked block of size bytes; NULL when out of memory. */
static struct params_block *
block_new(size_t size)
{
	if (size > SIZE_MAX - sizeof(struct params_block))
		return NULL;
	return malloc(sizeof(struct params_block) + size);
}

/* Hand b to p: it is freed by params_free. */
static void
block_link(struct params *p, struct params_block *b)
{
	b->next = p->blocks;
	p->blocks = b;
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
	struct params_block	*b;

	if (params_grow(p) == -1)
		return -1;
	/* One block for both: "name\0value\0". */
	if (nlen > SIZE_MAX - 2 || vlen > SIZE_MAX - 2 - nlen ||
	    (b = block_new(nlen + vlen + 2)) == NULL)
		return -1;
	if (nlen > 0)
		memcpy(b->data, name, nlen);
	b->data[nlen] = '\0';
	if (vlen > 0)
		memcpy(b->data + nlen + 1, value, vlen);
	b->data[nlen + 1 + vlen] = '\0';
	block_link(p, b);
	p->v[p->n].name = b->data;
	p->v[p->n].value = b->data + nlen + 1;
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

void
params_free(struct params *p)
{
	struct params_block	*b, *next;

	if (p == NULL)
		return;
	for (b = p->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(p->v);
	p->v = NULL;
	p->blocks = NULL;
	p->n = p->cap = 0;
}

/*
 * Decode one form component s[0..len) ('+' is a space, %XX a byte) to *d,
 * NUL-terminated, and move *d past it. -1 with *err set on bad input.
 */
static int
form_component(const char *s, size_t len, char **d, const char **err)
{
	char	*o = *d;
	size_t	 i;
	int	 hi, lo;

	for (i = 0; i < len; i++, o++) {
		if (s[i] == '+')
			*o = ' ';
		else if (s[i] != '%')
			*o = s[i];
		else if (len - i < 3 ||
		    (hi = hexval((unsigned char)s[i + 1])) == -1 ||
		    (lo = hexval((unsigned char)s[i + 2])) == -1) {
			*err = err_percent;
			return -1;
		} else {
			*o = (char)(hi << 4 | lo);
			i += 2;
		}
		/* A NUL would silently cut the value short everywhere after. */
		if (*o == '\0') {
			*err = err_nul;
			return -1;
		}
	}
	*o++ = '\0';
	*d = o;
	return 0;
}

int
form_decode(const char *s, size_t len, struct params *p, const char **err)
{
	struct params_block	*b;
	const char		*pair, *amp, *eq, *dummy;
	char			*d, *name, *value;
	size_t			 n0 = p->n, i = 0, plen, nlen;

	if (err == NULL)
		err = &dummy;
	*err = NULL;
	if (len == 0)
		return 0;
	/*
	 * One block for every name and value. Decoding never grows a pair
	 * and "name=value&" becomes "name\0value\0": len + 1 bytes suffice.
	 */
	if (len == SIZE_MAX || (b = block_new(len + 1)) == NULL) {
		*err = err_nomem;
		return -1;
	}
	d = b->data;
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
		name = d;
		if (form_component(pair, nlen, &d, err) == -1)
			goto bad;
		/* Without '=' the value is empty: the name's own NUL. */
		value = d - 1;
		if (eq != NULL) {
			value = d;
			if (form_component(eq + 1, plen - nlen - 1, &d,
			    err) == -1)
				goto bad;
		}
		if (params_grow(p) == -1) {
			*err = err_nomem;
			goto bad;
		}
		p->v[p->n].name = name;
		p->v[p->n].value = value;
		p->n++;
	}
	block_link(p, b);
	return 0;
bad:
	free(b);
	/* All or nothing: the caller never sees half a request. */
	p->n = n0;
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

/*
 * How a UsageTrigger parameter is checked. All ten are required, once each:
 * X-Twilio-Signature covers names and values run together, so a missing or
 * loosely checked parameter lets a captured request be re-split (a name and
 * its value moved into a neighbour's value) and still verify.
 */
enum usage_check {
	CHECK_SID,		/* sid_prefix + 32 hex digits */
	CHECK_TOKEN,		/* 1 to TOKEN_MAX bytes; see token_check */
	CHECK_ENUM,		/* one of words */
	CHECK_NUMBER,		/* [-]digits[.digits] */
	CHECK_TEXT		/* any non-empty value */
};

static const char *const recurring_words[] = {
	"", "daily", "monthly", "yearly", "alltime", NULL
};
static const char *const trigger_by_words[] = {
	"count", "usage", "price", NULL
};

/* The UsageTrigger parameters Twilio sends, and where they go. */
static const struct usage_param {
	const char		*name;
	size_t			 off;		/* in struct usage_fields */
	enum usage_check	 check;
	const char		*sid_prefix;
	const char *const	*words;
} usage_params[] = {
	{ "AccountSid", offsetof(struct usage_fields, account_sid),
	    CHECK_SID, "AC", NULL },
	{ "UsageTriggerSid", offsetof(struct usage_fields, usage_trigger_sid),
	    CHECK_SID, "UT", NULL },
	{ "IdempotencyToken", offsetof(struct usage_fields, idempotency_token),
	    CHECK_TOKEN, NULL, NULL },
	{ "DateFired", offsetof(struct usage_fields, date_fired),
	    CHECK_TEXT, NULL, NULL },
	{ "Recurring", offsetof(struct usage_fields, recurring),
	    CHECK_ENUM, NULL, recurring_words },
	{ "UsageCategory", offsetof(struct usage_fields, usage_category),
	    CHECK_TEXT, NULL, NULL },
	{ "TriggerBy", offsetof(struct usage_fields, trigger_by),
	    CHECK_ENUM, NULL, trigger_by_words },
	{ "TriggerValue", offsetof(struct usage_fields, trigger_value),
	    CHECK_NUMBER, NULL, NULL },
	{ "CurrentValue", offsetof(struct usage_fields, current_value),
	    CHECK_NUMBER, NULL, NULL },
	{ "UsageRecordUri", offsetof(struct usage_fields, usage_record_uri),
	    CHECK_TEXT, NULL, NULL },
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

/* 1 if s is an optional '-', digits, and optionally '.' and digits. */
static int
number_valid(const char *s)
{
	size_t	n;

	if (*s == '-')
		s++;
	if ((n = strspn(s, "0123456789")) == 0)
		return 0;
	s += n;
	if (*s == '.') {
		s++;
		if ((n = strspn(s, "0123456789")) == 0)
			return 0;
		s += n;
	}
	return *s == '\0';
}

/* 1 if s is one of the NULL-terminated words. */
static int
word_valid(const char *s, const char *const *words)
{
	for (; *words != NULL; words++)
		if (strcmp(s, *words) == 0)
			return 1;
	return 0;
}

/* "a, b or c" of the words, an empty word written "empty". */
static void
words_list(char *buf, size_t size, const char *const *words)
{
	size_t	i, n, j = 0;

	for (n = 0; words[n] != NULL; n++)
		continue;
	buf[0] = '\0';
	for (i = 0; i < n && j < size; i++)
		j += snprintf(buf + j, size - j, "%s%s",
		    i == 0 ? "" : i + 1 == n ? " or " : ", ",
		    *words[i] == '\0' ? "empty" : words[i]);
}

/*
 * A token that starts like Twilio's documented one
 * (AccountSid-FIRES-UsageTriggerSid-suffix) must be exactly that, with this
 * request's sids: a truncated one ("AC...-FI") is a re-split, not a firing.
 * NULL when fine, else why.
 */
static const char *
token_check(const struct usage_fields *f)
{
	static const char	 fires[] = "-FIRES-";
	const char		*t = f->idempotency_token;

	if (strncmp(t, "AC", 2) != 0)
		return NULL;
	if (strncmp(t, f->account_sid, SID_LEN) != 0 ||
	    strncmp(t + SID_LEN, fires, sizeof fires - 1) != 0 ||
	    strncmp(t + SID_LEN + sizeof fires - 1, f->usage_trigger_sid,
	    SID_LEN) != 0 ||
	    t[SID_LEN + sizeof fires - 1 + SID_LEN] != '-' ||
	    t[SID_LEN + sizeof fires - 1 + SID_LEN + 1] == '\0')
		return "starts with AC but is not AccountSid-FIRES-"
		    "UsageTriggerSid-... with this request's sids";
	return NULL;
}

const char *
callback_validate(struct callback *cb)
{
	/* Per thread: the message may quote the bad value. */
	static __thread char	 msg[320];
	char			 quoted[QUOTE_MAX * 4 + 8], list[80];
	const struct usage_param *u;
	const char		**field, *v, *why;
	size_t			 count[NUSAGE_PARAMS] = { 0 };
	size_t			 i, k;

	if (cb == NULL)
		return "no callback";
	memset(&cb->f, 0, sizeof cb->f);
	for (i = 0; i < cb->params.n; i++) {
		for (k = 0; k < NUSAGE_PARAMS; k++) {
			u = &usage_params[k];
			/* The first letter first: it tells most names apart. */
			if (cb->params.v[i].name[0] != u->name[0] ||
			    strcmp(cb->params.v[i].name, u->name) != 0)
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
		/* Quoted only for a message: this runs for every callback. */
		switch (u->check) {
		case CHECK_SID:
			if (sid_valid(v, u->sid_prefix))
				continue;
			quote_value(quoted, sizeof quoted, v);
			snprintf(msg, sizeof msg,
			    "%s '%s' is not %s followed by %d hex digits",
			    u->name, quoted, u->sid_prefix, SID_HEX);
			return msg;
		case CHECK_ENUM:
			if (word_valid(v, u->words))
				continue;
			words_list(list, sizeof list, u->words);
			quote_value(quoted, sizeof quoted, v);
			snprintf(msg, sizeof msg, "%s '%s' is not %s",
			    u->name, quoted, list);
			return msg;
		case CHECK_NUMBER:
			if (number_valid(v))
				continue;
			quote_value(quoted, sizeof quoted, v);
			snprintf(msg, sizeof msg, "%s '%s' is not a number",
			    u->name, quoted);
			return msg;
		case CHECK_TEXT:
		case CHECK_TOKEN:
			if (*v == '\0') {
				snprintf(msg, sizeof msg, "%s empty", u->name);
				return msg;
			}
			break;
		}
		if (u->check == CHECK_TOKEN && strlen(v) > TOKEN_MAX) {
			snprintf(msg, sizeof msg, "%s longer than %d bytes",
			    u->name, TOKEN_MAX);
			return msg;
		}
	}
	/* The sids are valid by now: the token can be compared with them. */
	if ((why = token_check(&cb->f)) != NULL) {
		quote_value(quoted, sizeof quoted, cb->f.idempotency_token);
		snprintf(msg, sizeof msg, "IdempotencyToken '%s' %s", quoted,
		    why);
		return msg;
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
