/* ctl_accounts.c: usagehookctl accounts: list, suspend and activate them. */
#include "config-sys.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "config.h"
#include "ctl.h"
#include "triggers.h"
#include "xmalloc.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

struct aopts {
	const char	*sid;		/* suspend, activate */
	const char	*api_base;
	int		 end_calls;
	int		 json;
};

struct asub {
	const char	*name;
	int		(*run)(struct ctl *, const struct command *,
			    struct aopts *);
	const char	*opts;		/* the option letters it takes */
	int		 sid;		/* takes an AC... argument */
	const char	*usage;
};

static int	a_list(struct ctl *, const struct command *, struct aopts *);
static int	a_suspend(struct ctl *, const struct command *,
		    struct aopts *);
static int	a_activate(struct ctl *, const struct command *,
		    struct aopts *);

static const struct asub subs[] = {
	{ "list", a_list, "aj", 0,
	    "accounts list [--api-base URL] [--json]" },
	{ "suspend", a_suspend, "eaj", 1,
	    "accounts suspend AC... [--end-calls] [--api-base URL] [--json]" },
	{ "activate", a_activate, "aj", 1,
	    "accounts activate AC... [--api-base URL] [--json]" },
};

/* The account whose credentials manage a: its parent, or itself. */
static const struct account *
manager(const struct config *conf, const struct account *a)
{
	const struct account	*p;

	if (a->parent[0] != '\0' && (p = config_account(conf, a->parent)) !=
	    NULL)
		return p;
	return a;
}

/* A client with acct's credentials; NULL after a message. */
static struct twilio *
open_as(const struct command *cmd, const struct config *conf,
    const struct aopts *o, const struct account *acct)
{
	struct twilio	*tw;
	char		*err = NULL;

	if ((tw = twilio_open(o->api_base ? o->api_base : conf->twilio_api,
	    conf->twilio_ca_file, acct, &err)) == NULL) {
		cmd_fail(cmd, "%s", err);
		free(err);
	}
	return tw;
}

/* list: each configured account, with its status and name from Twilio. */
static int
a_list(struct ctl *ctl, const struct command *cmd, struct aopts *o)
{
	static const char *const heads[] = { "SID", "PARENT", "STATUS",
	    "NAME", "ERROR" };
	struct config		*conf;
	struct tw_account	*got;
	struct twilio		*tw;
	struct table		*t;
	struct json		 j;
	char			**errs;
	size_t			 i, failed = 0;
	int			 permanent;

	if ((conf = ctl_config(ctl)) == NULL)
		return EXIT_FAIL;
	got = xcalloc(conf->naccounts, sizeof *got);
	errs = xcalloc(conf->naccounts, sizeof *errs);
	for (i = 0; i < conf->naccounts; i++) {
		const struct account *a = &conf->accounts[i];

		if ((tw = open_as(cmd, conf, o, manager(conf, a))) == NULL)
			goto fail;
		if (account_fetch(tw, a->sid, &got[i], &permanent, &errs[i]) ==
		    -1)
			failed++;
		twilio_close(tw);
	}
	if (o->json) {
		json_init(&j, stdout);
		json_open(&j, NULL, 1);
		for (i = 0; i < conf->naccounts; i++) {
			json_open(&j, NULL, 0);
			json_str(&j, "sid", conf->accounts[i].sid);
			json_str(&j, "parent", conf->accounts[i].parent[0] ?
			    conf->accounts[i].parent : NULL);
			json_str(&j, "status", got[i].status);
			json_str(&j, "friendly_name", got[i].friendly_name);
			json_str(&j, "error", errs[i]);
			json_close(&j, 0);
		}
		json_close(&j, 1);
		json_end(&j);
	} else {
		t = table_new(failed > 0 ? 5 : 4, heads);
		for (i = 0; i < conf->naccounts; i++)
			table_add(t, (const char *[]){ conf->accounts[i].sid,
			    conf->accounts[i].parent, got[i].status,
			    got[i].friendly_name, errs[i] });
		table_print(t, stdout);
		table_free(t);
	}
	for (i = 0; i < conf->naccounts; i++) {
		tw_account_free(&got[i]);
		free(errs[i]);
	}
	free(got);
	free(errs);
	if (failed > 0)
		return cmd_fail(cmd, "%zu of %zu accounts could not be read",
		    failed, conf->naccounts);
	return EXIT_OK;
fail:
	for (i = 0; i < conf->naccounts; i++) {
		tw_account_free(&got[i]);
		free(errs[i]);
	}
	free(got);
	free(errs);
	return EXIT_FAIL;
}

/* suspend and activate: as the parent, then say what changed. */
static int
set_status(struct ctl *ctl, const struct command *cmd, struct aopts *o,
    const char *want)
{
	const struct account	*a;
	struct config		*conf;
	struct tw_account	 before, after;
	struct twilio		*tw;
	struct json		 j;
	char			 sid[SID_LEN + 1], *err = NULL;
	size_t			 i, ended = 0;
	int			 permanent, rc = EXIT_FAIL, ends = 0;

	if ((conf = ctl_config(ctl)) == NULL)
		return EXIT_FAIL;
	snprintf(sid, sizeof sid, "%s", o->sid);
	for (i = 2; sid[0] != '\0' && sid[1] != '\0' && sid[i] != '\0'; i++)
		if (sid[i] >= 'A' && sid[i] <= 'F')
			sid[i] = (char)(sid[i] - 'A' + 'a');
	if ((a = config_account(conf, sid)) == NULL)
		return cmd_fail(cmd, "%s is not one of the accounts in %s",
		    o->sid, conf->file);
	if (a->parent[0] == '\0')
		return cmd_fail(cmd, "%s has no parent in %s: a subaccount is "
		    "%s with its parent's credentials (add parent: AC... to "
		    "its entry)", a->sid, conf->file, want);
	if ((tw = open_as(cmd, conf, o, manager(conf, a))) == NULL)
		return EXIT_FAIL;
	memset(&before, 0, sizeof before);
	memset(&after, 0, sizeof after);
	/* What it was, for the operator; a failure here is not fatal. */
	if (account_fetch(tw, a->sid, &before, &permanent, &err) == -1) {
		free(err);
		err = NULL;
	}
	if (account_set_status(tw, a->sid, want, &after, &permanent,
	    &err) == -1) {
		cmd_fail(cmd, "%s %s: %s", strcmp(want, "active") == 0 ?
		    "activate" : "suspend", a->sid, err);
		goto out;
	}
	if (o->end_calls) {
		ends = 1;
		if (account_end_calls(tw, a->sid, &ended, NULL, &permanent,
		    &err) == -1) {
			cmd_fail(cmd, "%s is suspended, but ending its calls "
			    "failed after %zu: %s", a->sid, ended, err);
			goto out;
		}
	}
	if (o->json) {
		json_init(&j, stdout);
		json_open(&j, NULL, 0);
		json_str(&j, "sid", a->sid);
		json_str(&j, "parent", a->parent);
		json_str(&j, "status", after.status);
		json_str(&j, "previous_status", before.status);
		json_str(&j, "friendly_name", after.friendly_name);
		if (ends)
			json_int(&j, "calls_completed", (int64_t)ended);
		json_close(&j, 0);
		json_end(&j);
	} else {
		printf("%s: %s%s%s%s", a->sid, after.status, before.status ?
		    " (was " : "", before.status ? before.status : "",
		    before.status ? ")" : "");
		if (ends)
			printf("; %zu call%s in progress completed", ended,
			    ended == 1 ? "" : "s");
		printf("\n");
	}
	rc = EXIT_OK;
out:
	free(err);
	tw_account_free(&before);
	tw_account_free(&after);
	twilio_close(tw);
	return rc;
}

static int
a_suspend(struct ctl *ctl, const struct command *cmd, struct aopts *o)
{
	return set_status(ctl, cmd, o, "suspended");
}

static int
a_activate(struct ctl *ctl, const struct command *cmd, struct aopts *o)
{
	return set_status(ctl, cmd, o, "active");
}

/* accounts -h: every subcommand's usage. */
static int
accounts_help(FILE *f)
{
	size_t	i;

	for (i = 0; i < nitems(subs); i++)
		fprintf(f, "%s usagehookctl [-c CONFIG] %s\n",
		    i == 0 ? "usage:" : "      ", subs[i].usage);
	return f == stdout ? EXIT_OK : EXIT_USAGE;
}

int
cmd_accounts(struct ctl *ctl, const struct command *cmd, int argc,
    char **argv)
{
	static const struct option	 longopts[] = {
		{ "end-calls", no_argument, NULL, 'e' },
		{ "api-base", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct asub	*sub;
	struct command		 sc;
	struct aopts		 o;
	char			 name[32];
	size_t			 k;
	int			 ch, i, rc;

	if ((rc = ctl_subcommand(cmd, "accounts", argc, argv, subs, nitems(subs),
	    sizeof subs[0], accounts_help, &sc, name, sizeof name, &k)) != EXIT_OK)
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
		case 'e': o.end_calls = 1; break;
		case 'a': o.api_base = optarg; break;
		case 'j': o.json = 1; break;
		}
	}
	i = optind;
	if (sub->sid) {
		if (i >= argc)
			return cmd_usage(&sc, "which account? give its SID "
			    "(AC...)");
		o.sid = argv[i++];
		if (strlen(o.sid) != SID_LEN || strncmp(o.sid, "AC", 2) != 0 ||
		    strspn(o.sid + 2, "0123456789abcdefABCDEF") != 32)
			return cmd_usage(&sc, "'%s' is not an AccountSid (AC "
			    "followed by 32 hex digits)", o.sid);
	}
	if (i < argc)
		return cmd_usage(&sc, "unexpected argument '%s'", argv[i]);
	return sub->run(ctl, &sc, &o);
}
