/* ctl_output.c: usagehookctl's output: aligned tables and JSON. */
#include "config-sys.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "xmalloc.h"

struct table_note {
	size_t	 row;		/* printed after this many rows */
	char	*text;
};

struct table {
	size_t			 ncols;
	char			**heads;	/* NULL: no header line */
	int			*right;		/* right-aligned columns */
	char			**cells;	/* nrows * ncols */
	size_t			 nrows;
	size_t			 cap;
	struct table_note	*notes;
	size_t			 nnotes;
};

struct table *
table_new(size_t ncols, const char *const *heads)
{
	struct table	*t;
	size_t		 i;

	t = xcalloc(1, sizeof *t);
	t->ncols = ncols;
	t->right = xcalloc(ncols, sizeof *t->right);
	if (heads != NULL) {
		t->heads = xcalloc(ncols, sizeof *t->heads);
		for (i = 0; i < ncols; i++) {
			t->right[i] = heads[i][0] == '^';
			t->heads[i] = xstrdup(heads[i] + t->right[i]);
		}
	}
	return t;
}

/* A cell as shown: control characters (a terminal's escapes) become '?'. */
static char *
cell_text(const char *s)
{
	char	*out, *p;

	if (s == NULL || *s == '\0')
		return xstrdup("-");
	out = xstrdup(s);
	for (p = out; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return out;
}

void
table_add(struct table *t, const char *const *cells)
{
	size_t	i;

	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = xreallocarray(t->cells, t->cap * t->ncols,
		    sizeof *t->cells);
	}
	for (i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = cell_text(cells[i]);
	t->nrows++;
}

void
table_note(struct table *t, const char *fmt, ...)
{
	va_list	 ap;
	char	*s, *p;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	if (s == NULL)
		return;
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	t->notes = xreallocarray(t->notes, t->nnotes + 1, sizeof *t->notes);
	t->notes[t->nnotes].row = t->nrows;
	t->notes[t->nnotes].text = s;
	t->nnotes++;
}

/* Width on a terminal: UTF-8 continuation bytes take no column. */
static size_t
width(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* One line; the last column is not padded, so no trailing blanks. */
static void
print_line(const struct table *t, FILE *f, char *const *cells,
    const size_t *w)
{
	size_t	i, pad, k;

	for (i = 0; i < t->ncols; i++) {
		pad = w[i] - width(cells[i]);
		if (t->right[i])
			for (k = 0; k < pad; k++)
				fputc(' ', f);
		fputs(cells[i], f);
		if (i + 1 == t->ncols)
			break;
		if (!t->right[i])
			for (k = 0; k < pad; k++)
				fputc(' ', f);
		fputs("  ", f);
	}
	fputc('\n', f);
}

void
table_print(const struct table *t, FILE *f)
{
	size_t	*w, i, r, note = 0, cw;

	w = xcalloc(t->ncols, sizeof *w);
	for (i = 0; i < t->ncols; i++) {
		if (t->heads != NULL)
			w[i] = width(t->heads[i]);
		for (r = 0; r < t->nrows; r++)
			if ((cw = width(t->cells[r * t->ncols + i])) > w[i])
				w[i] = cw;
	}
	if (t->heads != NULL)
		print_line(t, f, t->heads, w);
	for (r = 0; r < t->nrows; r++) {
		print_line(t, f, &t->cells[r * t->ncols], w);
		for (; note < t->nnotes && t->notes[note].row <= r + 1; note++)
			fprintf(f, "    %s\n", t->notes[note].text);
	}
	free(w);
}

void
table_free(struct table *t)
{
	size_t	i;

	if (t == NULL)
		return;
	for (i = 0; t->heads != NULL && i < t->ncols; i++)
		free(t->heads[i]);
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	for (i = 0; i < t->nnotes; i++)
		free(t->notes[i].text);
	free(t->heads);
	free(t->right);
	free(t->cells);
	free(t->notes);
	free(t);
}

const char *
fmt_time(int64_t ms, int frac, char buf[32])
{
	struct tm	tm;
	time_t		t = (time_t)(ms / 1000);
	size_t		n;

	if (ms <= 0 || gmtime_r(&t, &tm) == NULL) {
		buf[0] = '\0';
		return buf;
	}
	n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac)
		snprintf(buf + n, 32 - n, ".%03dZ", (int)(ms % 1000));
	else
		snprintf(buf + n, 32 - n, "Z");
	return buf;
}

const char *
fmt_int(int64_t v, char buf[24])
{
	snprintf(buf, 24, "%" PRId64, v);
	return buf;
}

void
json_init(struct json *j, FILE *f)
{
	memset(j, 0, sizeof *j);
	j->f = f;
}

/* Before a value: the comma, newline and indent, then "key": in objects. */
static void
json_sep(struct json *j, const char *key)
{
	int	i;

	if (j->depth > 0) {
		if (j->compact)
			fputs(j->n[j->depth] > 0 ? ", " : "", j->f);
		else {
			fputs(j->n[j->depth] > 0 ? ",\n" : "\n", j->f);
			for (i = 0; i < j->depth; i++)
				fputs("  ", j->f);
		}
		j->n[j->depth]++;
	}
	if (key != NULL) {
		json_escape(j->f, key, strlen(key));
		fputs(": ", j->f);
	}
}

void
json_open(struct json *j, const char *key, int array)
{
	json_sep(j, key);
	fputc(array ? '[' : '{', j->f);
	if (j->depth + 1 >= JSON_DEPTH)
		abort();
	j->n[++j->depth] = 0;
}

void
json_close(struct json *j, int array)
{
	int	i;

	if (j->n[j->depth--] > 0 && !j->compact) {
		fputc('\n', j->f);
		for (i = 0; i < j->depth; i++)
			fputs("  ", j->f);
	}
	fputc(array ? ']' : '}', j->f);
}

void
json_strn(struct json *j, const char *key, const char *s, size_t len)
{
	json_sep(j, key);
	if (s == NULL)
		fputs("null", j->f);
	else
		json_escape(j->f, s, len);
}

void
json_str(struct json *j, const char *key, const char *s)
{
	json_strn(j, key, s, s != NULL ? strlen(s) : 0);
}

void
json_int(struct json *j, const char *key, int64_t v)
{
	json_sep(j, key);
	fprintf(j->f, "%" PRId64, v);
}

void
json_bool(struct json *j, const char *key, int v)
{
	json_sep(j, key);
	fputs(v ? "true" : "false", j->f);
}

void
json_time(struct json *j, const char *key, int64_t ms)
{
	char	buf[32];

	json_str(j, key, ms > 0 ? fmt_time(ms, 1, buf) : NULL);
}

void
json_params(struct json *j, const char *key, const struct params *p)
{
	size_t	i, k;

	json_open(j, key, 0);
	for (i = 0; i < p->n; i++) {
		for (k = 0; k < i; k++)
			if (strcmp(p->v[k].name, p->v[i].name) == 0)
				break;
		if (k == i)
			json_str(j, p->v[i].name, p->v[i].value);
	}
	json_close(j, 0);
}

void
json_end(struct json *j)
{
	fputc('\n', j->f);
}

/* Length of the valid UTF-8 sequence at s[0..len), or 0 if invalid. */
static size_t
utf8_len(const unsigned char *s, size_t len)
{
	uint32_t	c;
	size_t		n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF. */
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	return n;
}

void
json_escape(FILE *f, const char *str, size_t len)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 i = 0, n;

	fputc('"', f);
	while (i < len) {
		switch (s[i]) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (s[i] < 0x20 || s[i] == 0x7f) {
				fprintf(f, "\\u%04x", s[i]);
				break;
			}
			if ((n = utf8_len(s + i, len - i)) == 0) {
				fputs("\\ufffd", f);
				break;
			}
			fwrite(s + i, 1, n, f);
			i += n;
			continue;
		}
		i++;
	}
	fputc('"', f);
}

/*
 * A raw request's body, byte for byte; on a terminal a newline is added
 * when it does not end with one, so the prompt is not glued to it.
 */
void
print_raw_body(const char *body, size_t len)
{
	if (body != NULL && len > 0)
		fwrite(body, 1, len, stdout);
	if (isatty(STDOUT_FILENO) && (len == 0 || body == NULL ||
	    body[len - 1] != '\n'))
		putchar('\n');
}

/*
 * s cut to max bytes for a table cell, ending in "..." when cut (not inside
 * a UTF-8 sequence); s itself when it fits.
 */
const char *
fmt_cut(const char *s, size_t max, char *buf, size_t len)
{
	size_t	n;

	if (s == NULL || strlen(s) <= max || max < 4 || len < 4)
		return s;
	n = max - 3 < len - 4 ? max - 3 : len - 4;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	memcpy(buf, s, n);
	memcpy(buf + n, "...", 4);
	return buf;
}

/*
 * An IdempotencyToken short enough for a table: Twilio's own shape
 * "AC<32 hex>-FIRES-UT<32 hex>-2026-11-24" as "ACed70..-UTc142..-2026-11-24",
 * another long one cut in its middle; short ones as they are.
 */
const char *
fmt_token(const char *tok, char buf[TOKEN_SHORT + 1])
{
	size_t	len;

	if (tok == NULL || (len = strlen(tok)) <= TOKEN_SHORT)
		return tok;
	if (len > 76 && strncmp(tok, "AC", 2) == 0 &&
	    strncmp(tok + 34, "-FIRES-UT", 9) == 0 && tok[75] == '-' &&
	    len - 76 <= TOKEN_SHORT - 18) {
		snprintf(buf, TOKEN_SHORT + 1, "%.6s..-%.6s..-%s", tok,
		    tok + 41, tok + 76);
		return buf;
	}
	snprintf(buf, TOKEN_SHORT + 1, "%.*s...%s", TOKEN_SHORT / 2 - 2, tok,
	    tok + len - (TOKEN_SHORT - (TOKEN_SHORT / 2 - 2) - 3));
	return buf;
}
