/* ctl.h: usagehookctl's commands and what they share. */
#ifndef CTL_H
#define CTL_H

#include <stddef.h>
#include <stdint.h>
#include <getopt.h>
#include <stdio.h>

#include "signature.h"
#include "usagehook.h"

#define EXIT_OK		0
#define EXIT_FAIL	1
#define EXIT_USAGE	2

#define CTL_LIMIT_DEFAULT	50	/* rows list, rejected and jobs show */

struct store;

/* What every command gets: the global options, the config and database. */
struct ctl {
	const char	*config_file;
	int		 config_given;	/* -c was on the command line */
	const char	*database;	/* -d: instead of the config's */
	struct config	*conf;
	struct store	*store;
};

struct command {
	const char	*name;
	int		(*handler)(struct ctl *, const struct command *, int,
			    char **);
	const char	*usage;
};

/* ctl.c */
/* The config, loaded on first use; NULL after printing its errors. */
struct config	*ctl_config(struct ctl *);
/*
 * The config if one can be had without failing: -c given, or the default
 * file present; NULL (silently) otherwise, or after its errors with -c.
 */
struct config	*ctl_config_optional(struct ctl *, int *failed);
/*
 * The database of -d, else of the config, opened once; read-only opens
 * never create or migrate. NULL after a message on stderr.
 */
struct store	*ctl_store(struct ctl *, const struct command *, int readonly);
void		 ctl_free(struct ctl *);
int		 cmd_usage(const struct command *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
int		 cmd_fail(const struct command *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 cmd_warn(const struct command *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
/* getopt's complaint about argv as a usage error of cmd. */
int		 bad_option(const struct command *, int ch, char **argv);
/* Print the command's usage on stdout for -h; EXIT_OK. */
int		 cmd_help(const struct command *);
int64_t		 ctl_now_ms(void);
/* "2h", "7d", "90" (seconds) -> ms; -1 if malformed or not positive. */
int		 ctl_parse_duration(const char *, int64_t *ms);
/*
 * A point in time: "2026-11-24", "2026-11-24T03:00:00Z" (also with a
 * space, without seconds or Z: always UTC), or a duration ago ("2h").
 */
int		 ctl_parse_since(const char *, int64_t now_ms, int64_t *ms);
/*
 * A command with subcommands ("triggers list"): find argv[1] in table, n
 * entries stride bytes apart, each starting with its name (const char *),
 * and fill sc (named "group sub" in name) for messages. EXIT_OK with
 * *index, or an exit code after help (printed by help) or an error.
 */
int		 ctl_subcommand(const struct command *, const char *group,
		    int argc, char **argv, const void *table, size_t n,
		    size_t stride, int (*help)(FILE *), struct command *sc,
		    char *name, size_t namelen, size_t *index);
/*
 * An option ch (from getopt_long over longopts) of subcommand sc, which
 * takes the option letters in allowed: EXIT_OK, or the usage error.
 */
int		 ctl_sub_option(const struct command *sc,
		    const struct option *longopts, const char *allowed, int ch,
		    char **argv);
/* An option's time value (ctl_parse_since) into *ms, or a usage error. */
int		 ctl_time_arg(const struct command *, const char *option,
		    const char *value, int64_t *ms);
/* A whole number in [min, max]; -1 if malformed or out of range. */
int		 ctl_parse_long(const char *, long min, long max, long *out);
/* The value of header name in a stored "Name: value\r\n" block; allocated. */
char		*ctl_header_get(const char *block, const char *name);
/* The "/path" of a request-target, without its query; allocated. */
char		*ctl_uri_path(const char *uri);

/* ctl_output.c */
struct table;
/* heads[0..ncols), NULL for none; a head "^NAME" is right-aligned. */
struct table	*table_new(size_t ncols, const char *const *heads);
/* Append a row of ncols cells (copied; NULL or "" shows as "-"). */
void		 table_add(struct table *, const char *const *cells);
/* A line printed under the last row, indented. */
void		 table_note(struct table *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
/* Print aligned; control characters in cells show as '?'. */
void		 table_print(const struct table *, FILE *);
void		 table_free(struct table *);
/* ms since the epoch as "2026-11-24T03:00:00Z" (frac: ".123" too). */
const char	*fmt_time(int64_t ms, int frac, char buf[32]);
/* A number as text in buf. */
const char	*fmt_int(int64_t, char buf[24]);
/* s cut to max bytes with "..." (into buf of len), or s when it fits. */
const char	*fmt_cut(const char *s, size_t max, char *buf, size_t len);
#define TOKEN_SHORT	36	/* a token's width in tables without --wide */
/* A long IdempotencyToken shortened for a table, or tok when it fits. */
const char	*fmt_token(const char *tok, char buf[TOKEN_SHORT + 1]);

#define JSON_DEPTH	16

/* A JSON writer: pretty-printed, one document, then a newline. */
struct json {
	FILE	*f;
	int	 compact;		/* one line, as json lines want */
	int	 depth;
	int	 n[JSON_DEPTH];		/* values written at each depth */
};

void		 json_init(struct json *, FILE *);
/* key names the member inside an object; NULL inside an array or at top. */
void		 json_open(struct json *, const char *key, int array);
void		 json_close(struct json *, int array);
/* A string, or null when s is NULL; invalid UTF-8 becomes U+FFFD. */
void		 json_str(struct json *, const char *key, const char *s);
void		 json_strn(struct json *, const char *key, const char *s,
		    size_t len);
void		 json_int(struct json *, const char *key, int64_t);
void		 json_bool(struct json *, const char *key, int);
/* A time as ISO 8601 UTC string, null for 0. */
void		 json_time(struct json *, const char *key, int64_t ms);
/* The first value of each parameter name, as one object. */
void		 json_params(struct json *, const char *key,
		    const struct params *);
void		 json_end(struct json *);
/* The one JSON string escaper: s[0..len) quoted onto f. */
void		 json_escape(FILE *, const char *s, size_t len);
/* A stored body onto stdout as is, plus a newline on a terminal. */
void		 print_raw_body(const char *body, size_t len);

/* ctl_send.c */
int		 cmd_categories(struct ctl *, const struct command *, int,
		    char **);
int		 cmd_check_config(struct ctl *, const struct command *, int,
		    char **);
int		 cmd_sign(struct ctl *, const struct command *, int, char **);
int		 cmd_send(struct ctl *, const struct command *, int, char **);
/*
 * Sign url (and params, NULL for GET-style requests) into sig with the
 * token file, else the token of the config account whose sid is sid (the
 * first account when sid is NULL), its secondary token if asked. The token
 * is wiped before returning; -1 after a message.
 */
int		 ctl_sign(struct ctl *, const struct command *,
		    const char *token_file, const char *sid, int secondary,
		    const char *url, const struct params *params,
		    char sig[SIGNATURE_LEN + 1]);
/* listen as an address to connect to: wildcards become loopback; allocated. */
char		*ctl_listen_connect(const char *listen);
/* The URL the daemon will reconstruct for its path; allocated. */
char		*ctl_default_url(const struct config *);
/* 1 if url is an http(s) URL we can send to, else 0 and an allocated *err. */
int		 ctl_url_ok(const char *url, char **err);

/* ctl_inspect.c */
int		 cmd_list(struct ctl *, const struct command *, int, char **);
int		 cmd_show(struct ctl *, const struct command *, int, char **);
int		 cmd_rejected(struct ctl *, const struct command *, int,
		    char **);
int		 cmd_jobs(struct ctl *, const struct command *, int, char **);
int		 cmd_retry(struct ctl *, const struct command *, int, char **);
int		 cmd_stats(struct ctl *, const struct command *, int, char **);
int		 cmd_purge(struct ctl *, const struct command *, int, char **);
/* ctl_copy.c */
int		 cmd_copy_db(struct ctl *, const struct command *, int, char **);

/* ctl_tail.c */
int		 cmd_tail(struct ctl *, const struct command *, int, char **);

/* ctl_triggers.c */
/* triggers list|fetch|create|update|delete|plan|apply: Twilio's REST API. */
int		 cmd_triggers(struct ctl *, const struct command *, int,
		    char **);

/* ctl_accounts.c */
/* accounts list|suspend|activate: Twilio's Accounts, as their parents. */
int		 cmd_accounts(struct ctl *, const struct command *, int,
		    char **);

/* ctl_reconcile.c */
/* reconcile: recover missed firings from Twilio's record now. */
int		 cmd_reconcile(struct ctl *, const struct command *, int,
		    char **);
/* ctl_usage.c */
/* usage: Twilio's UsageRecords as a table of what each category cost. */
int		 cmd_usage_records(struct ctl *, const struct command *, int,
		    char **);

/* ctl_replay.c */
int		 cmd_replay(struct ctl *, const struct command *, int, char **);
int		 cmd_rerun(struct ctl *, const struct command *, int, char **);
int		 cmd_test_rules(struct ctl *, const struct command *, int,
		    char **);

struct callback_row;
/* The single callback argument after the options: EXIT_OK or usage (2). */
int		 ctl_callback_arg(const struct command *, int, char **,
		    const char **key);
/* The callback named by key (id or IdempotencyToken) into r; an exit code. */
int		 ctl_find_callback(struct ctl *, const struct command *,
		    const char *key, int readonly, struct callback_row *);

#endif
