/* ctl_triggers.c: usagehookctl triggers: Twilio's UsageTriggers, by hand or declared. */
#include "config-sys.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "callback.h"
#include "config.h"
#include "ctl.h"
#include "rules.h"
#include "triggers.h"
#include "xmalloc.h"

#define NAME_MAX_CHARS	64	/* Twilio's limit for a FriendlyName */

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* The options of every subcommand; which ones each takes is in subs. */
struct topts {
	const char	*category;
	const char	*recurring;
	const char	*trigger_by;
	const char	*value;
	const char	*name;
	char		*method;	/* upper-cased in place */
	const char	*url;
	const char	*account;
	const char	*api_base;
	const char	*sid;		/* fetch, update, delete */
	int		 prune_all;
	int		 yes;		/* apply: do not ask before deleting */
	int		 json;
};

struct tsub {
	const char	*name;
	int		(*run)(struct ctl *, const struct command *,
			    struct topts *);
	const char	*opts;		/* the option letters it takes */
	int		 sid;		/* takes a UT... argument */
	const char	*usage;
};

/* A word option: its values, and how it is named in messages. */
struct word_opt {
	const char		*option;
	const char *const	*words;
	size_t			 nwords;
	const char		*list;
};

static int	t_list(struct ctl *, const struct command *, struct topts *);
static int	t_fetch(struct ctl *, const struct command *, struct topts *);
static int	t_create(struct ctl *, const struct command *, struct topts *);
static int	t_update(struct ctl *, const struct command *, struct topts *);
static int	t_delete(struct ctl *, const struct command *, struct topts *);
static int	t_plan(struct ctl *, const struct command *, struct topts *);
static int	t_apply(struct ctl *, const struct command *, struct topts *);

#define COMMON	" [--account AC...] [--api-base URL] [--json]"
static const struct tsub subs[] = {
	{ "list", t_list, "crbAaj", 0, "triggers list [--category C] "
	    "[--recurring R] [--trigger-by B]" COMMON },
	{ "fetch", t_fetch, "Aaj", 1, "triggers fetch UT..." COMMON },
	{ "create", t_create, "cvbrnmuAaj", 0, "triggers create --category C "
	    "--value V [--trigger-by count|usage|price] "
	    "[--recurring daily|monthly|yearly|alltime] [--name N] "
	    "[--method M] [--url URL]" COMMON },
	{ "update", t_update, "nmuAaj", 1, "triggers update UT... [--name N] "
	    "[--url URL] [--method M]" COMMON },
	{ "delete", t_delete, "Aaj", 1, "triggers delete UT..." COMMON },
	{ "plan", t_plan, "pAaj", 0, "triggers plan [--prune-all]" COMMON },
	{ "apply", t_apply, "pyAaj", 0, "triggers apply [--prune-all] [--yes]"
	    COMMON },
};
#undef COMMON

static const char *const trigger_bys[] = { "count", "usage", "price" };
static const char *const recurrings[] = { "daily", "monthly", "yearly",
	"alltime" };
static const char *const methods[] = { "GET", "POST", "PUT", "PATCH",
	"DELETE", "HEAD" };

static const struct word_opt opt_trigger_by = { "--trigger-by", trigger_bys,
	nitems(trigger_bys), "count, usage or price" };
static const struct word_opt opt_recurring = { "--recurring", recurrings,
	nitems(recurrings), "daily, monthly, yearly or alltime" };
static const struct word_opt opt_method = { "--method", methods,
	nitems(methods), "GET, POST, PUT, PATCH, DELETE or HEAD" };

/* A usage error unless v is one of o's words (any case for methods). */
static int
check_word(const struct command *cmd, const struct word_opt *o,
    const char *v)
{
	const char	*sug;
	size_t		 i;

	if (v == NULL)
		return 0;
	for (i = 0; i < o->nwords; i++)
		if (o == &opt_method ? strcasecmp(v, o->words[i]) == 0 :
		    strcmp(v, o->words[i]) == 0)
			return 0;
	if ((sug = config_suggest(v, o->words, o->nwords)) != NULL)
		cmd_usage(cmd, "%s %s: want %s; did you mean %s?", o->option,
		    v, o->list, sug);
	else
		cmd_usage(cmd, "%s %s: want %s", o->option, v, o->list);
	return -1;
}

/* Everything that can be checked without asking Twilio; -1 after a usage error. */
static int
check_local(const struct command *cmd, struct topts *o)
{
	const char	*sug, *c;
	char		*err = NULL, *m;
	size_t		 chars = 0;

	if (o->category != NULL && !category_known(o->category)) {
		if ((sug = category_suggest(o->category)) != NULL)
			cmd_usage(cmd, "--category %s: not a Twilio usage "
			    "category; did you mean %s?", o->category, sug);
		else
			cmd_usage(cmd, "--category %s: not a Twilio usage "
			    "category", o->category);
		return -1;
	}
	if (check_word(cmd, &opt_recurring, o->recurring) == -1 ||
	    check_word(cmd, &opt_trigger_by, o->trigger_by) == -1 ||
	    check_word(cmd, &opt_method, o->method) == -1)
		return -1;
	for (m = o->method; m != NULL && *m != '\0'; m++)
		if (*m >= 'a' && *m <= 'z')
			*m -= 'a' - 'A';
	if (o->value != NULL && !config_trigger_value_ok(o->value)) {
		cmd_usage(cmd, "--value %s: want a positive number (100, 2.50) "
		    "or an offset from the current usage (+30)", o->value);
		return -1;
	}
	if (o->url != NULL && !ctl_url_ok(o->url, &err)) {
		cmd_usage(cmd, "--url %s", err);
		free(err);
		return -1;
	}
	if (o->name != NULL) {
		for (c = o->name; *c != '\0'; c++) {
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				chars = NAME_MAX_CHARS + 1;
			else if (((unsigned char)*c & 0xc0) != 0x80)
				chars++;
		}
		if (chars == 0 || chars > NAME_MAX_CHARS) {
			cmd_usage(cmd, "--name: want 1 to %d characters, no "
			    "control characters", NAME_MAX_CHARS);
			return -1;
		}
	}
	if (o->sid != NULL && !sid_valid(o->sid, "UT")) {
		cmd_usage(cmd, "%s is not a UsageTrigger SID (UT followed by 32 "
		    "hex digits)", o->sid);
		return -1;
	}
	if (o->account != NULL && !sid_valid(o->account, "AC")) {
		cmd_usage(cmd, "--account %s is not an AccountSid (AC followed "
		    "by 32 hex digits)", o->account);
		return -1;
	}
	if (o->api_base != NULL && strncasecmp(o->api_base, "https://", 8)
	    != 0) {
		cmd_usage(cmd, "--api-base %s: want https://host[:port]",
		    o->api_base);
		return -1;
	}
	return 0;
}

/* The account of --account, else the config's first; NULL after a message. */
static const struct account *
pick_account(const struct command *cmd, const struct config *conf,
    const char *sid)
{
	char	 lower[SID_LEN + 1];
	size_t	 i;

	if (sid == NULL)
		return conf->naccounts > 0 ? &conf->accounts[0] : NULL;
	for (i = 0; i <= SID_LEN; i++)
		lower[i] = (char)(i >= 2 && sid[i] >= 'A' && sid[i] <= 'F' ?
		    sid[i] - 'A' + 'a' : sid[i]);
	for (i = 0; i < conf->naccounts; i++)
		if (strcmp(conf->accounts[i].sid, lower) == 0)
			return &conf->accounts[i];
	cmd_fail(cmd, "--account %s is not one of the accounts in %s", sid,
	    conf->file);
	return NULL;
}

/* A client for the account; NULL after a message. */
static struct twilio *
open_api(struct ctl *ctl, const struct command *cmd, const struct topts *o)
{
	const struct account	*acct;
	struct config		*conf;
	struct twilio		*tw;
	char			*err = NULL;

	if ((conf = ctl_config(ctl)) == NULL ||
	    (acct = pick_account(cmd, conf, o->account)) == NULL)
		return NULL;
	if ((tw = twilio_open(o->api_base ? o->api_base : conf->twilio_api,
	    conf->twilio_ca_file, acct, &err)) == NULL) {
		cmd_fail(cmd, "%s", err);
		free(err);
	}
	return tw;
}

/* A field of u by its table entry. */
static const char *
field(const struct ut *u, const struct ut_field *f)
{
	return *(char *const *)(const void *)((const char *)u + f->offset);
}

static void
json_ut(struct json *j, const char *key, const struct ut *u)
{
	size_t	i;

	json_open(j, key, 0);
	for (i = 0; i < ut_nfields; i++)
		json_str(j, ut_fields[i].name, field(u, &ut_fields[i]));
	json_close(j, 0);
}

/* One trigger: every field, one per line. */
static void
print_ut(const struct ut *u, int json)
{
	struct json	 j;
	struct table	*t;
	size_t		 i;

	if (json) {
		json_init(&j, stdout);
		json_ut(&j, NULL, u);
		json_end(&j);
		return;
	}
	t = table_new(2, NULL);
	for (i = 0; i < ut_nfields; i++)
		table_add(t, (const char *[]){ ut_fields[i].name,
		    field(u, &ut_fields[i]) });
	table_print(t, stdout);
	table_free(t);
}

/* Non-recurring shows as "-", whichever way Twilio says it. */
static int
t_list(struct ctl *ctl, const struct command *cmd, struct topts *o)
{
	static const char *const heads[] = { "SID", "NAME", "CATEGORY", "BY",
	    "^VALUE", "RECURRING", "^CURRENT", "METHOD", "CALLBACK URL" };
	struct ut_list	 l;
	struct twilio	*tw;
	struct table	*t;
	struct json	 j;
	char		*err = NULL;
	size_t		 i;

	if ((tw = open_api(ctl, cmd, o)) == NULL)
		return EXIT_FAIL;
	if (twilio_list(tw, o->category, o->recurring, o->trigger_by, &l,
	    &err) == -1) {
		twilio_close(tw);
		cmd_fail(cmd, "%s", err);
		free(err);
		return EXIT_FAIL;
	}
	twilio_close(tw);
	if (o->json) {
		json_init(&j, stdout);
		json_open(&j, NULL, 1);
		for (i = 0; i < l.n; i++)
			json_ut(&j, NULL, &l.v[i]);
		json_close(&j, 1);
		json_end(&j);
	} else {
		t = table_new(nitems(heads), heads);
		for (i = 0; i < l.n; i++) {
			const struct ut	*u = &l.v[i];

			table_add(t, (const char *[]){ u->sid,
			    u->friendly_name, u->usage_category, u->trigger_by,
			    u->trigger_value, u->recurring, u->current_value,
			    u->callback_method, u->callback_url });
		}
		table_print(t, stdout);
		table_free(t);
	}
	ut_list_free(&l);
	return EXIT_OK;
}

/* fetch, create and update answer with one trigger: print it. */
static int
done_one(const struct command *cmd, int rc, struct ut *u, char *err,
    int json)
{
	if (rc == -1) {
		cmd_fail(cmd, "%s", err);
		free(err);
		return EXIT_FAIL;
	}
	print_ut(u, json);
	ut_free(u);
	return EXIT_OK;
}

static int
t_fetch(struct ctl *ctl, const struct command *cmd, struct topts *o)
{
	struct twilio	*tw;
	struct ut	 u;
	char		*err = NULL;
	int		 rc;

	if ((tw = open_api(ctl, cmd, o)) == NULL)
		return EXIT_FAIL;
	rc = twilio_fetch(tw, o->sid, &u, &err);
	twilio_close(tw);
	return done_one(cmd, rc, &u, err, o->json);
}

static int
t_create(struct ctl *ctl, const struct command *cmd, struct topts *o)
{
	struct config	*conf;
	struct twilio	*tw;
	struct ut_new	 n;
	struct ut	 u;
	char		*url = NULL, *err = NULL;
	int		 rc;

	if (o->category == NULL || o->value == NULL)
		return cmd_usage(cmd, "--category and --value are required");
	if ((conf = ctl_config(ctl)) == NULL)
		return EXIT_FAIL;
	if (o->url == NULL && conf->public_url == NULL)
		return cmd_usage(cmd, "no --url, and %s has no public_url to "
		    "make the default (public_url + path) from", conf->file);
	if (o->url == NULL)
		xasprintf(&url, "%s%s", conf->public_url, conf->path);
	if ((tw = open_api(ctl, cmd, o)) == NULL) {
		free(url);
		return EXIT_FAIL;
	}
	memset(&n, 0, sizeof n);
	n.friendly_name = o->name;
	n.usage_category = o->category;
	n.trigger_value = o->value;
	n.trigger_by = o->trigger_by;
	n.recurring = o->recurring;
	n.callback_method = o->method != NULL ? o->method : "POST";
	n.callback_url = o->url != NULL ? o->url : url;
	rc = twilio_create(tw, &n, &u, &err);
	twilio_close(tw);
	free(url);
	return done_one(cmd, rc, &u, err, o->json);
}

static int
t_update(struct ctl *ctl, const struct command *cmd, struct topts *o)
{
	struct twilio		*tw;
	struct ut_change	 c;
	struct ut		 u;
	char			*err = NULL;
	int			 rc;

	if (o->name == NULL && o->url == NULL && o->method == NULL)
		return cmd_usage(cmd, "nothing to change: give --name, --url "
		    "or --method (Twilio cannot change a trigger's category "
		    "or value: create a new one)");
	if ((tw = open_api(ctl, cmd, o)) == NULL)
		return EXIT_FAIL;
	memset(&c, 0, sizeof c);
	c.friendly_name = o->name;
	c.callback_url = o->url;
	c.callback_method = o->method;
	rc = twilio_update(tw, o->sid, &c, &u, &err);
	twilio_close(tw);
	return done_one(cmd, rc, &u, err, o->json);
}

static int
t_delete(struct ctl *ctl, const struct command *cmd, struct topts *o)
{
	struct twilio	*tw;
	struct json	 j;
	char		*err = NULL;
	int		 rc;

	if ((tw = open_api(ctl, cmd, o)) == NULL)
		return EXIT_FAIL;
	rc = twilio_delete(tw, o->sid, &err);
	twilio_close(tw);
	if (rc == -1) {
		cmd_fail(cmd, "%s", err);
		free(err);
		return EXIT_FAIL;
	}
	if (o->json) {
		json_init(&j, stdout);
		json_open(&j, NULL, 0);
		json_str(&j, "sid", o->sid);
		json_bool(&j, "deleted", 1);
		json_close(&j, 0);
		json_end(&j);
	} else
		printf("deleted %s\n", o->sid);
	return EXIT_OK;
}

/* The name a step is known by: the config's, else Twilio's. */
static const char *
step_name(const struct step *s)
{
	return s->want != NULL ? s->want->name : s->have->friendly_name;
}

/* The SID a step ends with: a new one once created, else Twilio's. */
static const char *
step_sid(const struct step *s)
{
	if (s->new_sid != NULL)
		return s->new_sid;
	return s->have != NULL ? s->have->sid : NULL;
}

/* What apply made of a step, for the RESULT column; static or in buf. */
static const char *
step_result(const struct step *s, char *buf, size_t len)
{
	static const char *const done[] = { "created", "updated", "replaced",
	    "deleted", "-" };

	if (s->error != NULL) {
		snprintf(buf, len, "failed: %s%s%s%s", s->error,
		    s->new_sid != NULL ? " (the new trigger " : "",
		    s->new_sid != NULL ? s->new_sid : "",
		    s->new_sid != NULL ? " exists; the old one is left)" : "");
		return buf;
	}
	if (s->action == STEP_REPLACE) {
		snprintf(buf, len, "replaced %s", s->have->sid);
		return buf;
	}
	return s->applied || s->action == STEP_UNCHANGED ? done[s->action] :
	    "-";
}

/* The plan (or what apply did) as a table, a summary and a note. */
static void
print_plan(const struct plan *pl, int applied, int json)
{
	struct json	 j;
	struct table	*t;
	const struct step *s;
	size_t		 i, n[STEP_UNCHANGED + 1] = { 0 }, failed = 0;
	int		 many = pl->naccounts > 1;
	char		 buf[1024];

	for (i = 0; i < pl->nsteps; i++) {
		n[pl->steps[i].action]++;
		failed += pl->steps[i].error != NULL;
	}
	if (json) {
		json_init(&j, stdout);
		json_open(&j, NULL, 0);
		json_open(&j, "steps", 1);
		for (i = 0; i < pl->nsteps; i++) {
			s = &pl->steps[i];
			json_open(&j, NULL, 0);
			json_str(&j, "action", step_names[s->action]);
			json_str(&j, "name", step_name(s));
			json_str(&j, "account_sid",
			    pl->accounts[s->account]->sid);
			json_str(&j, "sid", s->have ? s->have->sid : NULL);
			json_str(&j, "detail", s->detail);
			if (applied) {
				json_str(&j, "new_sid", s->new_sid);
				json_bool(&j, "ok", s->error == NULL);
				json_str(&j, "error", s->error);
			}
			json_close(&j, 0);
		}
		json_close(&j, 1);
		json_int(&j, "kept", (int64_t)pl->kept);
		json_close(&j, 0);
		json_end(&j);
		return;
	}
	t = many ? table_new(5, (const char *[]){ "ACTION", "ACCOUNT", "NAME",
	    "SID", applied ? "RESULT" : "DETAIL" }) :
	    table_new(4, (const char *[]){ "ACTION", "NAME", "SID",
	    applied ? "RESULT" : "DETAIL" });
	for (i = 0; i < pl->nsteps; i++) {
		const char	*last;

		s = &pl->steps[i];
		last = applied ? step_result(s, buf, sizeof buf) : s->detail;
		if (many)
			table_add(t, (const char *[]){ step_names[s->action],
			    pl->accounts[s->account]->sid, step_name(s),
			    applied ? step_sid(s) : s->have ? s->have->sid :
			    NULL, last });
		else
			table_add(t, (const char *[]){ step_names[s->action],
			    step_name(s), applied ? step_sid(s) : s->have ?
			    s->have->sid : NULL, last });
	}
	table_print(t, stdout);
	table_free(t);
	if (applied)
		printf("apply: %zu created, %zu updated, %zu replaced, %zu "
		    "deleted, %zu unchanged, %zu failed\n", n[STEP_CREATE],
		    n[STEP_UPDATE], n[STEP_REPLACE], n[STEP_DELETE],
		    n[STEP_UNCHANGED], failed);
	else
		printf("plan: %zu to create, %zu to update, %zu to replace, "
		    "%zu to delete, %zu unchanged\n", n[STEP_CREATE],
		    n[STEP_UPDATE], n[STEP_REPLACE], n[STEP_DELETE],
		    n[STEP_UNCHANGED]);
	if (pl->kept > 0)
		printf("%zu trigger%s calling other URLs left alone "
		    "(--prune-all deletes %s)\n", pl->kept,
		    pl->kept == 1 ? "" : "s", pl->kept == 1 ? "it" : "them");
}

/*
 * Before apply deletes triggers (a delete, or the old one of a replace):
 * say which on stderr, and on a terminal ask unless --yes. 0 to go on.
 */
static int
confirm_deletes(const struct command *cmd, const struct plan *pl, int yes)
{
	const struct step	*s;
	char			 answer[16];
	size_t			 i, n = 0;

	for (i = 0; i < pl->nsteps; i++) {
		s = &pl->steps[i];
		if (s->action != STEP_DELETE && s->action != STEP_REPLACE)
			continue;
		if (n++ == 0)
			fprintf(stderr, "usagehookctl: %s will delete:\n",
			    cmd->name);
		fprintf(stderr, "  %s %s (%s)%s\n", s->have->sid,
		    s->have->friendly_name ? s->have->friendly_name : "-",
		    pl->accounts[s->account]->sid, s->action == STEP_REPLACE ?
		    " and create it again" : "");
	}
	if (n == 0 || yes || !isatty(STDIN_FILENO))
		return 0;
	fprintf(stderr, "Delete %zu trigger%s at Twilio? [y/N] ", n,
	    n == 1 ? "" : "s");
	fflush(stderr);
	if (fgets(answer, sizeof answer, stdin) != NULL &&
	    (answer[0] == 'y' || answer[0] == 'Y'))
		return 0;
	cmd_fail(cmd, "nothing applied (--yes applies without asking)");
	return -1;
}

/* plan and apply: the config's triggers against Twilio's. */
static int
plan_or_apply(struct ctl *ctl, const struct command *cmd, struct topts *o,
    int apply)
{
	const struct account	*only = NULL;
	struct config		*conf;
	struct plan		 pl;
	char			*err = NULL;
	size_t			 failed = 0;

	if ((conf = ctl_config(ctl)) == NULL)
		return EXIT_FAIL;
	if (o->account != NULL &&
	    (only = pick_account(cmd, conf, o->account)) == NULL)
		return EXIT_FAIL;
	if (plan_make(conf, o->api_base ? o->api_base : conf->twilio_api,
	    only, o->prune_all, &pl, &err) == -1) {
		cmd_fail(cmd, "%s", err);
		free(err);
		return EXIT_FAIL;
	}
	if (apply && confirm_deletes(cmd, &pl, o->yes) == -1) {
		plan_free(&pl);
		return EXIT_FAIL;
	}
	if (apply)
		failed = plan_apply(&pl);
	print_plan(&pl, apply, o->json);
	plan_free(&pl);
	if (failed > 0) {
		cmd_fail(cmd, "%zu step%s failed", failed, failed == 1 ? "" :
		    "s");
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int
t_plan(struct ctl *ctl, const struct command *cmd, struct topts *o)
{
	return plan_or_apply(ctl, cmd, o, 0);
}

static int
t_apply(struct ctl *ctl, const struct command *cmd, struct topts *o)
{
	return plan_or_apply(ctl, cmd, o, 1);
}

/* triggers -h: every subcommand's usage. */
static int
triggers_help(FILE *f)
{
	size_t	i;

	for (i = 0; i < nitems(subs); i++)
		fprintf(f, "%s usagehookctl [-c CONFIG] %s\n",
		    i == 0 ? "usage:" : "      ", subs[i].usage);
	return f == stdout ? EXIT_OK : EXIT_USAGE;
}

int
cmd_triggers(struct ctl *ctl, const struct command *cmd, int argc,
    char **argv)
{
	static const struct option	 longopts[] = {
		{ "category", required_argument, NULL, 'c' },
		{ "recurring", required_argument, NULL, 'r' },
		{ "trigger-by", required_argument, NULL, 'b' },
		{ "value", required_argument, NULL, 'v' },
		{ "name", required_argument, NULL, 'n' },
		{ "method", required_argument, NULL, 'm' },
		{ "url", required_argument, NULL, 'u' },
		{ "prune-all", no_argument, NULL, 'p' },
		{ "yes", no_argument, NULL, 'y' },
		{ "account", required_argument, NULL, 'A' },
		{ "api-base", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct tsub	*sub;
	struct command		 sc;
	struct topts		 o;
	char			 name[32];
	size_t			 k;
	int			 ch, i, rc;

	if ((rc = ctl_subcommand(cmd, "triggers", argc, argv, subs, nitems(subs),
	    sizeof subs[0], triggers_help, &sc, name, sizeof name, &k)) != EXIT_OK)
		return rc;
	sub = &subs[k];
	sc.usage = sub->usage;

	memset(&o, 0, sizeof o);
	argc--;
	argv++;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if ((rc = ctl_sub_option(&sc, longopts, sub->opts, ch,
		    argv)) != EXIT_OK)
			return rc;
		switch (ch) {
		case 'c': o.category = optarg; break;
		case 'r': o.recurring = optarg; break;
		case 'b': o.trigger_by = optarg; break;
		case 'v': o.value = optarg; break;
		case 'n': o.name = optarg; break;
		case 'm': o.method = optarg; break;
		case 'u': o.url = optarg; break;
		case 'p': o.prune_all = 1; break;
		case 'y': o.yes = 1; break;
		case 'A': o.account = optarg; break;
		case 'a': o.api_base = optarg; break;
		case 'j': o.json = 1; break;
		}
	}
	i = optind;
	if (sub->sid) {
		if (i >= argc)
			return cmd_usage(&sc, "which trigger? give its SID "
			    "(UT...)");
		o.sid = argv[i++];
	}
	if (i < argc)
		return cmd_usage(&sc, "unexpected argument '%s'", argv[i]);
	if (check_local(&sc, &o) == -1)
		return EXIT_USAGE;
	return sub->run(ctl, &sc, &o);
}
