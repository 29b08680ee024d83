/* json_read.c: reading JSON documents (the answers of Twilio's REST API). */
#include "config-sys.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_read.h"
#include "xmalloc.h"

#define JV_DEPTH	64	/* deeper is not an API answer */

/* The text being parsed and where we are in it. */
struct jp {
	const char	*s;
	size_t		 len;
	size_t		 pos;
	int		 depth;
	char		*err;
};

static int	parse_value(struct jp *, struct jv *);

/* Record the first error with its byte offset; always -1. */
static int __attribute__((format(printf, 2, 3)))
jp_error(struct jp *p, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	if (p->err != NULL)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	xasprintf(&p->err, "invalid JSON at byte %zu: %s", p->pos,
	    msg != NULL ? msg : "?");
	free(msg);
	return -1;
}

static void
skip_space(struct jp *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' ||
	    p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
	    p->s[p->pos] == '\r'))
		p->pos++;
}

/* Match the literal word at pos. */
static int
literal(struct jp *p, const char *word)
{
	size_t	n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return jp_error(p, "unexpected character");
	p->pos += n;
	return 0;
}

/* Four hex digits at pos as a code unit; -1 if they are not there. */
static long
hex4(struct jp *p)
{
	long	v = 0;
	int	i, c;

	if (p->len - p->pos < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		c = (unsigned char)p->s[p->pos + (size_t)i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	p->pos += 4;
	return v;
}

/* Append code point c as UTF-8 to out[*n]. */
static void
put_utf8(char *out, size_t *n, uint32_t c)
{
	if (c < 0x80)
		out[(*n)++] = (char)c;
	else if (c < 0x800) {
		out[(*n)++] = (char)(0xc0 | (c >> 6));
		out[(*n)++] = (char)(0x80 | (c & 0x3f));
	} else if (c < 0x10000) {
		out[(*n)++] = (char)(0xe0 | (c >> 12));
		out[(*n)++] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[(*n)++] = (char)(0x80 | (c & 0x3f));
	} else {
		out[(*n)++] = (char)(0xf0 | (c >> 18));
		out[(*n)++] = (char)(0x80 | ((c >> 12) & 0x3f));
		out[(*n)++] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[(*n)++] = (char)(0x80 | (c & 0x3f));
	}
}

/* A string at pos (its opening quote); the decoded text is allocated. */
static int
parse_string(struct jp *p, char **out)
{
	char		*buf;
	size_t		 n = 0;
	long		 u, lo;
	unsigned char	 c;

	p->pos++;
	/* Decoding never makes the text longer than it was. */
	buf = xmalloc(p->len - p->pos + 1);
	while (p->pos < p->len) {
		c = (unsigned char)p->s[p->pos];
		if (c == '"') {
			p->pos++;
			buf[n] = '\0';
			*out = xreallocarray(buf, n + 1, 1);
			return 0;
		}
		if (c < 0x20) {
			free(buf);
			return jp_error(p, "control character in a string");
		}
		if (c != '\\') {
			buf[n++] = (char)c;
			p->pos++;
			continue;
		}
		if (++p->pos == p->len)
			break;
		c = (unsigned char)p->s[p->pos++];
		switch (c) {
		case '"': case '\\': case '/':
			buf[n++] = (char)c;
			break;
		case 'b': buf[n++] = '\b'; break;
		case 'f': buf[n++] = '\f'; break;
		case 'n': buf[n++] = '\n'; break;
		case 'r': buf[n++] = '\r'; break;
		case 't': buf[n++] = '\t'; break;
		case 'u':
			if ((u = hex4(p)) == -1)
				goto bad_escape;
			if (u >= 0xd800 && u <= 0xdbff) {
				if (p->len - p->pos < 2 ||
				    p->s[p->pos] != '\\' ||
				    p->s[p->pos + 1] != 'u')
					goto bad_escape;
				p->pos += 2;
				if ((lo = hex4(p)) < 0xdc00 || lo > 0xdfff)
					goto bad_escape;
				u = 0x10000 + ((u - 0xd800) << 10) +
				    (lo - 0xdc00);
			} else if (u >= 0xdc00 && u <= 0xdfff)
				goto bad_escape;
			if (u == 0) {
				free(buf);
				return jp_error(p, "NUL in a string");
			}
			/* 6 or 12 bytes of escape make at most 4 of UTF-8. */
			put_utf8(buf, &n, (uint32_t)u);
			break;
		default:
			goto bad_escape;
		}
	}
	free(buf);
	return jp_error(p, "unterminated string");
bad_escape:
	free(buf);
	return jp_error(p, "bad escape in a string");
}

/* Skip the digits at pos; how many there were. */
static size_t
digits(struct jp *p)
{
	size_t	start = p->pos;

	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
		p->pos++;
	return p->pos - start;
}

/* A number at pos, kept as written once its grammar is checked. */
static int
parse_number(struct jp *p, struct jv *v)
{
	size_t	start = p->pos;

	if (p->pos < p->len && p->s[p->pos] == '-')
		p->pos++;
	if (p->pos < p->len && p->s[p->pos] == '0')
		p->pos++;
	else if (digits(p) == 0)
		return jp_error(p, "bad number");
	if (p->pos < p->len && p->s[p->pos] == '.') {
		p->pos++;
		if (digits(p) == 0)
			return jp_error(p, "bad number");
	}
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len && (p->s[p->pos] == '+' ||
		    p->s[p->pos] == '-'))
			p->pos++;
		if (digits(p) == 0)
			return jp_error(p, "bad number");
	}
	v->type = JV_NUMBER;
	v->text = xstrndup(p->s + start, p->pos - start);
	return 0;
}

/* An array or object at pos (its bracket); members are appended to kids. */
static int
parse_container(struct jp *p, struct jv *v, int object)
{
	size_t	cap = 0;
	char	close = object ? '}' : ']';
	struct jv *kid;

	v->type = object ? JV_OBJECT : JV_ARRAY;
	if (++p->depth > JV_DEPTH)
		return jp_error(p, "nested deeper than %d", JV_DEPTH);
	p->pos++;
	skip_space(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		p->depth--;
		return 0;
	}
	for (;;) {
		if (v->nkids == cap) {
			cap = cap ? cap * 2 : 8;
			v->kids = xreallocarray(v->kids, cap, sizeof *v->kids);
		}
		kid = &v->kids[v->nkids++];
		memset(kid, 0, sizeof *kid);
		skip_space(p);
		if (object) {
			if (p->pos >= p->len || p->s[p->pos] != '"')
				return jp_error(p, "expected a member name");
			if (parse_string(p, &kid->key) == -1)
				return -1;
			skip_space(p);
			if (p->pos >= p->len || p->s[p->pos] != ':')
				return jp_error(p, "expected ':'");
			p->pos++;
		}
		if (parse_value(p, kid) == -1)
			return -1;
		skip_space(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == close) {
			p->pos++;
			p->depth--;
			return 0;
		}
		return jp_error(p, "expected ',' or '%c'", close);
	}
}

static int
parse_value(struct jp *p, struct jv *v)
{
	skip_space(p);
	if (p->pos >= p->len)
		return jp_error(p, "unexpected end");
	switch (p->s[p->pos]) {
	case '{':
		return parse_container(p, v, 1);
	case '[':
		return parse_container(p, v, 0);
	case '"':
		v->type = JV_STRING;
		return parse_string(p, &v->text);
	case 't':
		v->type = JV_BOOL;
		v->text = xstrdup("true");
		return literal(p, "true");
	case 'f':
		v->type = JV_BOOL;
		v->text = xstrdup("false");
		return literal(p, "false");
	case 'n':
		v->type = JV_NULL;
		return literal(p, "null");
	default:
		return parse_number(p, v);
	}
}

struct jv *
jv_parse(const char *s, size_t len, char **err)
{
	struct jp	 p;
	struct jv	*v;

	memset(&p, 0, sizeof p);
	p.s = s;
	p.len = len;
	v = xcalloc(1, sizeof *v);
	if (parse_value(&p, v) == 0) {
		skip_space(&p);
		if (p.pos != p.len)
			jp_error(&p, "text after the value");
	}
	if (p.err != NULL) {
		jv_free(v);
		*err = p.err;
		return NULL;
	}
	return v;
}

/* Free what v owns, not v itself. */
static void
jv_clear(struct jv *v)
{
	size_t	i;

	for (i = 0; i < v->nkids; i++)
		jv_clear(&v->kids[i]);
	free(v->kids);
	free(v->key);
	free(v->text);
}

void
jv_free(struct jv *v)
{
	if (v == NULL)
		return;
	jv_clear(v);
	free(v);
}

const struct jv *
jv_get(const struct jv *v, const char *key)
{
	size_t	i;

	if (v == NULL || v->type != JV_OBJECT)
		return NULL;
	for (i = 0; i < v->nkids; i++)
		if (strcmp(v->kids[i].key, key) == 0)
			return &v->kids[i];
	return NULL;
}

const char *
jv_str(const struct jv *v, const char *key)
{
	const struct jv	*m = jv_get(v, key);

	if (m == NULL || (m->type != JV_STRING && m->type != JV_NUMBER))
		return NULL;
	return m->text;
}
