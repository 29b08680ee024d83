/* rules.c: matching a callback against the rules of the configuration. */
#include "config-sys.h"

#include <fnmatch.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "callback.h"
#include "config.h"
#include "rules.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

typedef int	(*holds_fn)(const struct match_value *, const char *);
typedef int	(*cmp_fn)(double, double);

static int	holds_exact(const struct match_value *, const char *);
static int	holds_glob(const struct match_value *, const char *);
static int	holds_cmp(const struct match_value *, const char *);
static int	cmp_lt(double, double);
static int	cmp_le(double, double);
static int	cmp_gt(double, double);
static int	cmp_ge(double, double);
static int	cmp_eq(double, double);
static int	cmp_ne(double, double);

/* tools/gen-categories writes the list, sorted, from Twilio's documentation. */
static const char *const categories[] = {
#include "categories.inc"
};

/* How each kind of match value is tested, by enum match_kind. */
static const struct {
	enum match_kind	 kind;
	holds_fn	 holds;
} match_kinds[] = {
	{ MATCH_EXACT,	holds_exact },
	{ MATCH_GLOB,	holds_glob },
	{ MATCH_CMP,	holds_cmp },
};

/* The comparison operators, by enum cmp_op. */
static const struct {
	enum cmp_op	 op;
	cmp_fn		 cmp;
} cmp_ops[] = {
	{ CMP_LT,	cmp_lt },
	{ CMP_LE,	cmp_le },
	{ CMP_GT,	cmp_gt },
	{ CMP_GE,	cmp_ge },
	{ CMP_EQ,	cmp_eq },
	{ CMP_NE,	cmp_ne },
};

/* The operators, parameter value on the left. */
static int cmp_lt(double a, double b) { return a < b; }
static int cmp_le(double a, double b) { return a <= b; }
static int cmp_gt(double a, double b) { return a > b; }
static int cmp_ge(double a, double b) { return a >= b; }
static int cmp_eq(double a, double b) { return a == b; }
static int cmp_ne(double a, double b) { return a != b; }

/* The same string, byte for byte. */
static int
holds_exact(const struct match_value *mv, const char *value)
{
	return strcmp(mv->text, value) == 0;
}

/* An fnmatch(3) pattern without flags: '*' also crosses '/' and '.'. */
static int
holds_glob(const struct match_value *mv, const char *value)
{
	return fnmatch(mv->text, value, 0) == 0;
}

/* A value that is not wholly a number never satisfies a comparison. */
static int
holds_cmp(const struct match_value *mv, const char *value)
{
	double	d;
	size_t	i;

	if (config_parse_number(value, &d) == -1)
		return 0;
	for (i = 0; i < nitems(cmp_ops); i++)
		if (cmp_ops[i].op == mv->op)
			return cmp_ops[i].cmp(d, mv->number);
	return 0;
}

/* 1 if value satisfies m (any of its values), else 0; NULL value never. */
int
match_holds(const struct match *m, const char *value)
{
	const struct match_value	*mv;
	size_t				 i;

	if (value == NULL)
		return 0;
	for (mv = m->values; mv < m->values + m->nvalues; mv++)
		for (i = 0; i < nitems(match_kinds); i++)
			if (match_kinds[i].kind == mv->kind &&
			    match_kinds[i].holds(mv, value))
				return 1;
	return 0;
}

/* 1 if every match of the rule holds for params. */
int
rule_matches(const struct rule *r, const struct params *params)
{
	const char	*value;
	size_t		 i;

	for (i = 0; i < r->nmatches; i++) {
		value = params_get(params, r->matches[i].param);
		/* Twilio leaves Recurring out, or empty, for a one-off. */
		if (value == NULL &&
		    strcmp(r->matches[i].param, "Recurring") == 0)
			value = "";
		if (!match_holds(&r->matches[i], value))
			return 0;
	}
	return 1;
}

/* The rules that apply, in order; the first match stops unless it continues. */
size_t
rules_match(const struct config *conf, const struct params *params,
    const struct rule **out, size_t max)
{
	size_t	i, n = 0;

	for (i = 0; i < conf->nrules && n < max; i++) {
		if (!rule_matches(&conf->rules[i], params))
			continue;
		out[n++] = &conf->rules[i];
		if (!conf->rules[i].cont)
			break;
	}
	return n;
}

/* bsearch comparison of a string with an element of categories. */
static int
category_cmp(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

/* 1 if s is one of Twilio's UsageTrigger usage categories. */
int
category_known(const char *s)
{
	return bsearch(s, categories, nitems(categories), sizeof categories[0],
	    category_cmp) != NULL;
}

/* The known category closest to s (for "did you mean"), or NULL. */
const char *
category_suggest(const char *s)
{
	return config_suggest(s, categories, nitems(categories));
}

/* Twilio's usage categories, sorted; *n gets how many. */
const char *const *
category_list(size_t *n)
{
	*n = nitems(categories);
	return categories;
}
