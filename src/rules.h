/* rules.h: matching a callback against the rules of the configuration. */
#ifndef RULES_H
#define RULES_H

#include <stddef.h>

#include "usagehook.h"

/* 1 if value satisfies m (any of its values), else 0; NULL value never. */
int		 match_holds(const struct match *m, const char *value);
/* 1 if every match of the rule holds for params. */
int		 rule_matches(const struct rule *, const struct params *);
/*
 * The rules that apply to params, in order: stop at the first match unless
 * it says continue. Fills out[0..max) and returns how many matched.
 */
size_t		 rules_match(const struct config *, const struct params *,
		    const struct rule **out, size_t max);

/* 1 if s is one of Twilio's UsageTrigger usage categories. */
int		 category_known(const char *s);
/* The known category closest to s (for "did you mean"), or NULL. */
const char	*category_suggest(const char *s);
/* Twilio's usage categories, sorted; *n gets how many. */
const char *const *category_list(size_t *n);

#endif
