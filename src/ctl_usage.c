/* ctl_usage.c: usagehookctl usage: what each usage category cost. */
#include "config-sys.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "callback.h"
#include "ctl.h"
#include "rules.h"
#include "triggers.h"
#include "xmalloc.h"

#define ACCOUNTS_MAX	64

/* The periods: our word, Twilio's subresource. */
static const struct {
	const char	*word;
	const char	*sub;
} periods[] = {
	{ "today",	"Today" },
	{ "yesterday",	"Yesterday" },
	{ "this-month",	"ThisMonth" },
	{ "last-month",	"LastMonth" },
	{ "daily",	"Daily" },
	{ "monthly",	"Monthly" },
	{ "yearly",	"Yearly" },
	{ "all-time",	"AllTime" },
};

/* A date Twilio takes: YYYY-MM-DD that exists, or an offset like -30days. */
static int
date_ok(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int	y, m, d, n = 0;
	size_t	k;

	if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) == 3 && n == 10 &&
	    strlen(s) == 10 && s[4] == '-' && s[7] == '-' &&
	    strspn(s, "0123456789-") == 10 && m >= 1 && m <= 12 && d >= 1 &&
	    d <= mdays[m - 1] && (m != 2 || d < 29 || (y % 4 == 0 &&
	    (y % 100 != 0 || y % 400 == 0))))
		return 1;
	k = (s[0] == '-' || s[0] == '+') ? 1 : 0;
	n = (int)strspn(s + k, "0123456789");
	return n >= 1 && n <= 5 && strcmp(s + k + n, "days") == 0;
}

/* Sort by price, highest first; then by category. */
static int
by_price(const void *a, const void *b)
{
	const struct usage_record *x = a, *y = b;
	double	px = strtod(x->price, NULL), py = strtod(y->price, NULL);

	if (px != py)
		return px < py ? 1 : -1;
	return strcmp(x->category, y->category);
}

/* "12 calls": a number with its unit. */
static const char *
with_unit(const char *n, const char *unit, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", n, unit != NULL && *unit ? " " : "",
	    unit != NULL ? unit : "");
	return buf;
}

/* The total: Twilio's own totalprice row when listed, else the rows'. */
static void
total(const struct usage_records *l, double *sum, const char **unit,
    int *from_total)
{
	size_t	i;

	*sum = 0;
	*unit = NULL;
	*from_total = 0;
	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].category, "totalprice") == 0) {
			*sum = strtod(l->v[i].price, NULL);
			*unit = l->v[i].price_unit;
			*from_total = 1;
			return;
		}
	for (i = 0; i < l->n; i++) {
		*sum += strtod(l->v[i].price, NULL);
		if (*unit == NULL)
			*unit = l->v[i].price_unit;
	}
}

static void
json_records(struct json *j, const char *sid, const char *period,
    const struct usage_records *l)
{
	const char	*unit;
	double		 sum;
	char		 buf[64];
	int		 from_total;
	size_t		 i;

	json_open(j, NULL, 0);
	json_str(j, "account_sid", sid);
	json_str(j, "period", period);
	json_open(j, "records", 1);
	for (i = 0; i < l->n; i++) {
		json_open(j, NULL, 0);
		json_str(j, "category", l->v[i].category);
		json_str(j, "description", l->v[i].description);
		json_str(j, "count", l->v[i].count);
		json_str(j, "count_unit", l->v[i].count_unit);
		json_str(j, "usage", l->v[i].usage);
		json_str(j, "usage_unit", l->v[i].usage_unit);
		json_str(j, "price", l->v[i].price);
		json_str(j, "price_unit", l->v[i].price_unit);
		json_str(j, "start_date", l->v[i].start_date);
		json_str(j, "end_date", l->v[i].end_date);
		json_close(j, 0);
	}
	json_close(j, 1);
	total(l, &sum, &unit, &from_total);
	snprintf(buf, sizeof buf, "%.4f", sum);
	json_open(j, "total", 0);
	json_str(j, "price", buf);
	json_str(j, "price_unit", unit);
	json_str(j, "from", from_total ? "totalprice" : "rows");
	json_close(j, 0);
	json_close(j, 0);
}

static void
print_records(const char *sid, const char *period,
    const struct usage_records *l, int several)
{
	static const char *const heads[] = { "CATEGORY", "DESCRIPTION",
	    "^COUNT", "^USAGE", "^PRICE" };
	struct table	*t;
	const char	*unit;
	double		 sum;
	char		 c[96], u[96], p[96], d[48];
	int		 from_total;
	size_t		 i;

	if (several)
		printf("%s%s (%s)\n", sid == NULL ? "" : "account ", sid,
		    period);
	t = table_new(5, heads);
	for (i = 0; i < l->n; i++) {
		const char *cells[5] = { l->v[i].category,
		    fmt_cut(l->v[i].description, 40, d, sizeof d),
		    with_unit(l->v[i].count, l->v[i].count_unit, c, sizeof c),
		    with_unit(l->v[i].usage, l->v[i].usage_unit, u, sizeof u),
		    with_unit(l->v[i].price, l->v[i].price_unit, p,
		    sizeof p) };
		table_add(t, cells);
	}
	total(l, &sum, &unit, &from_total);
	table_note(t, "total %.4f%s%s (%s)", sum, unit != NULL ? " " : "",
	    unit != NULL ? unit : "", from_total ? "Twilio's totalprice" :
	    l->n == 0 ? "no records" : "sum of the rows");
	table_print(t, stdout);
	table_free(t);
}

/* usage [PERIOD]: Twilio's UsageRecords, every page, sorted by price. */
int
cmd_usage_records(struct ctl *ctl, const struct command *cmd, int argc,
    char **argv)
{
	static const struct option	 longopts[] = {
		{ "category", required_argument, NULL, 'C' },
		{ "start-date", required_argument, NULL, 's' },
		{ "end-date", required_argument, NULL, 'e' },
		{ "account", required_argument, NULL, 'A' },
		{ "api-base", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*category = NULL, *start = NULL, *end = NULL;
	const char		*api = NULL, *sug, *word = "today";
	const char		*sub = "Today", *only[ACCOUNTS_MAX];
	const struct account	*acct;
	struct config		*conf;
	struct twilio		*tw;
	struct usage_records	 l = { NULL, 0 };
	struct json		 j;
	char			*err = NULL, *s, *arg;
	size_t			 nonly = 0, i, k, n;
	int			 ch, json = 0, rc = EXIT_OK;

	optind = 0;
	while (rc == EXIT_OK &&
	    (ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'C':
			category = optarg;
			break;
		case 's':
		case 'e':
			if (!date_ok(optarg))
				rc = cmd_usage(cmd, "--%s %s: want YYYY-MM-DD "
				    "or an offset such as -30days",
				    ch == 's' ? "start-date" : "end-date",
				    optarg);
			*(ch == 's' ? &start : &end) = optarg;
			break;
		case 'A':
			arg = optarg;
			while (rc == EXIT_OK &&
			    (s = strsep(&arg, ",")) != NULL) {
				if (*s == '\0')
					continue;
				if (!sid_valid(s, "AC"))
					rc = cmd_usage(cmd, "--account %s is "
					    "not an AccountSid (AC followed by "
					    "32 hex digits)", s);
				else if (nonly == ACCOUNTS_MAX)
					rc = cmd_usage(cmd, "--account: at "
					    "most %d", ACCOUNTS_MAX);
				else
					only[nonly++] = s;
			}
			break;
		case 'a':
			if (strncasecmp(optarg, "https://", 8) != 0)
				rc = cmd_usage(cmd, "--api-base %s: want "
				    "https://host[:port]", optarg);
			api = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			return cmd_help(cmd);
		default:
			rc = bad_option(cmd, ch, argv);
			break;
		}
	}
	if (rc == EXIT_OK && optind < argc) {
		for (i = 0; i < sizeof periods / sizeof periods[0]; i++)
			if (strcmp(argv[optind], periods[i].word) == 0)
				break;
		if (i == sizeof periods / sizeof periods[0])
			rc = cmd_usage(cmd, "%s: want today, yesterday, "
			    "this-month, last-month, daily, monthly, yearly "
			    "or all-time", argv[optind]);
		else {
			word = periods[i].word;
			sub = periods[i].sub;
		}
		if (rc == EXIT_OK && ++optind < argc)
			rc = cmd_usage(cmd, "unexpected argument '%s'",
			    argv[optind]);
	}
	if (rc != EXIT_OK)
		return rc;
	if (category != NULL && !category_known(category)) {
		sug = category_suggest(category);
		cmd_warn(cmd, "%s is not one of Twilio's usage categories%s%s%s",
		    category, sug ? " (did you mean " : "", sug ? sug : "",
		    sug ? "?)" : "");
	}
	if ((conf = ctl_config(ctl)) == NULL)
		return EXIT_FAIL;
	for (i = 0; i < nonly; i++) {
		for (k = 0; k < conf->naccounts; k++)
			if (strcasecmp(conf->accounts[k].sid, only[i]) == 0)
				break;
		if (k == conf->naccounts)
			return cmd_fail(cmd, "--account %s is not one of the "
			    "accounts in %s", only[i], conf->file);
	}
	n = nonly > 0 ? nonly : conf->naccounts;
	if (json) {
		json_init(&j, stdout);
		json_open(&j, NULL, 0);
		json_open(&j, "accounts", 1);
	}
	for (i = 0; i < n; i++) {
		acct = &conf->accounts[0];
		for (k = 0; k < conf->naccounts; k++)
			if (nonly == 0 ? k == i : strcasecmp(
			    conf->accounts[k].sid, only[i]) == 0)
				acct = &conf->accounts[k];
		if ((tw = twilio_open(api ? api : conf->twilio_api,
		    conf->twilio_ca_file, acct, &err)) == NULL ||
		    twilio_usage_records(tw, sub, category, start, end, &l,
		    &err) == -1) {
			rc = cmd_fail(cmd, "account %s: %s", acct->sid, err);
			free(err);
			err = NULL;
			twilio_close(tw);
			continue;
		}
		twilio_close(tw);
		qsort(l.v, l.n, sizeof *l.v, by_price);
		if (json)
			json_records(&j, acct->sid, word, &l);
		else
			print_records(acct->sid, word, &l, n > 1);
		usage_records_free(&l);
	}
	if (json) {
		json_close(&j, 1);
		json_close(&j, 0);
		json_end(&j);
	}
	return rc;
}
