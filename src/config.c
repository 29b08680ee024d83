/* config.c: the YAML configuration file, parsed and validated. */
#include "config-sys.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/http.h>
#include <yaml.h>

#include "actions.h"
#include "callback.h"
#include "config.h"
#include "forwarded.h"
#include "json_read.h"
#include "log.h"
#include "signature.h"
#include "store.h"
#include "xmalloc.h"

#define CONFIG_FILE_MAX	(1024 * 1024)	/* larger is not a config file */
#define TOKEN_FILE_MAX	4096		/* an auth token is 32 characters */
#define SHOW_MAX	80		/* longest value echoed in a message */
#define KEYWORDS_MAX	32		/* keys per mapping: bits of a mask */
#define SUGGEST_MAX	128		/* longest word we look for a neighbour of */
#define TEMPLATE_NAME	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
			"0123456789_"	/* what may stand between { and } */
#define TEMPLATE_MAX	256		/* a longer {Name} is text to actions.c */
#define BODY_TEMPLATE_MAX 16384		/* bytes of an http body template */

#define DEFAULT_LISTEN		"127.0.0.1:8080"
#define DEFAULT_PATH		"/twilio/usage"
#define DEFAULT_MAX_BODY	(64 * 1024)
#define DEFAULT_MAX_HEADER	(8 * 1024)
#define DEFAULT_TIMEOUT		10
#define DEFAULT_MAX_CONN	1024
#define DEFAULT_KEEP_CALLBACKS	(400 * 86400LL)
#define DEFAULT_RECONCILE_GRACE	(10 * 60)
#define DEFAULT_RECONCILE_AGE	(7 * 86400LL)
#define DEFAULT_KEEP_REJECTED	(30 * 86400LL)
#define DEFAULT_CONCURRENCY	8
#define DEFAULT_PER_RULE	2
#define DEFAULT_MAX_ATTEMPTS	8
#define DEFAULT_BACKOFF_MS	(30 * 1000LL)
#define DEFAULT_MAX_BACKOFF_MS	(30 * 60 * 1000LL)
#define DEFAULT_ACTION_TIMEOUT	(10 * 1000)	/* milliseconds */
#define DEFAULT_LEASE_MARGIN_MS	(30 * 1000)	/* dispatch.lease over it */
#define DEFAULT_TWILIO_API	"https://api.twilio.com"
#define DEFAULT_TRIGGER_BY	"usage"		/* Twilio's default */
#define DEFAULT_CALLBACK_METHOD	"POST"		/* Twilio's default */
#define FRIENDLY_NAME_MAX	64		/* characters, Twilio's limit */
#define CREDENTIALS_ENV		"CREDENTIALS_DIRECTORY"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* One parse of one file: where messages go and how many there were. */
struct parse {
	const char	*file;		/* as given, for messages */
	char		*dir;		/* absolute directory of file */
	FILE		*errs;
	int		 nerrors;
	yaml_document_t	*doc;
	char		 show[4][SHOW_MAX * 4 + 8];
	int		 nshow;
	struct trigger_parse *tps;	/* triggers, checked once all is read */
	size_t		 ntps;
	yaml_node_t	*dispatch;	/* checked against the rules' timeouts */
	yaml_mark_t	*parents;	/* accounts[i].parent's value, or line 0 */
	int		*has_parent;
	size_t		 nparents;
	struct twilio_check *tcs;	/* twilio actions, checked at the end */
	size_t		 ntcs;
	yaml_mark_t	 metrics_listen_mark;
	yaml_node_t	*reconcile;	/* its value node, checked at the end */
};

/* A twilio action: which accounts it can reach is known once all is read. */
struct twilio_check {
	struct rule	*r;
	size_t		 action;
	yaml_mark_t	 mark;		/* of the twilio key */
	yaml_mark_t	 account;	/* of account:, when given */
	int		 has_account;
};

/* A value with a unit: "64KiB" or "10s". */
struct unit {
	const char	*suffix;
	uint64_t	 mult;
};

enum number_kind {
	NUM_SIZE,
	NUM_DURATION,
	NUM_MILLIS,		/* a duration kept in milliseconds */
	NUM_COUNT,
};

enum number_store {
	STORE_SIZE,		/* size_t */
	STORE_INT,		/* int */
	STORE_INT64,		/* int64_t */
};

/* A numeric key of limits or retention: how to parse, check and store it. */
struct number {
	enum number_kind	 kind;
	enum number_store	 store;
	size_t			 offset;
	int64_t			 min;
	int64_t			 max;
	const char		*range;		/* min..max as the operator writes it */
};

/* One key a mapping may hold and what to do with its value. */
struct keyword {
	const char	*name;
	void		(*handler)(struct parse *, const struct keyword *,
			    yaml_node_t *, yaml_node_t *, void *);
	int		 required;
	int		 flags;
	const struct number *num;
};

#define KW_SECONDARY	0x01	/* the rotating token, not the primary */
#define KW_NUMERIC	0x02	/* match: numeric comparisons allowed */
#define KW_CATEGORY	0x04	/* match: values should be usage categories */
#define KW_TRIGGER_BY	0x08	/* match: values should be count/usage/price */
#define KW_KIND		0x10	/* action: the key that says what it does */
#define KW_API_KEY	0x20	/* the API key's secret, not a token */
#define KW_RECURRING	0x40	/* trigger: recurring */
#define KW_METHOD	0x80	/* trigger: callback_method */
#define KW_FOR(kind)	(0x100 << (kind))	/* action: option valid for kind */
#define KW_FOR_ALL	(KW_FOR(ACTION_EXEC) | KW_FOR(ACTION_HTTP) | \
			    KW_FOR(ACTION_APPEND) | KW_FOR(ACTION_LOG) | \
			    KW_FOR(ACTION_TWILIO))

/* Per-account state while its mapping is read. */
struct account_parse {
	struct account	*a;
	yaml_node_t	*sid;		/* value node of a valid sid */
	yaml_node_t	*primary;	/* key node: auth_token_file or _env */
	yaml_node_t	*secondary;	/* key node: secondary_token_* */
	yaml_node_t	*api_sid;	/* key node: api_key_sid */
	yaml_node_t	*api_secret;	/* key node: api_key_secret_file */
	yaml_node_t	*parent;	/* value node of a valid parent */
};

/* Per-trigger state: defaults that need keys read later are set at the end. */
struct trigger_parse {
	struct trigger	*t;
	char		 where[32];	/* "triggers[3]", for messages */
	yaml_node_t	*node;		/* the trigger's mapping */
	yaml_node_t	*name;		/* value node of a valid name */
	yaml_node_t	*account;	/* value node of a valid account */
};

/* A trigger key that takes one of a few words (Twilio's enumerations). */
struct choice {
	int			 flag;		/* KW_TRIGGER_BY, ... */
	size_t			 offset;	/* of the char * in struct trigger */
	const char *const	*words;
	size_t			 nwords;
	int			 upper;		/* stored upper-case, any case taken */
	int			 empty;		/* "" and null allowed */
	const char		*list;		/* the words, for messages */
};

/* Per-rule state while its mapping is read. */
struct rule_parse {
	struct rule	*r;
	char		 where[32];	/* "rules[3]", for messages */
	yaml_node_t	*name;		/* value node of a valid name */
};

/* Per-action state while its mapping is read. */
struct action_parse {
	struct action	*a;
	yaml_node_t	*kind;		/* key node: exec, http, append, log, twilio */
	yaml_node_t	*body;		/* value node of body */
	int		 bad_type;	/* content_type was refused */
	yaml_node_t	*account;	/* value node of account */
	yaml_node_t	*keys[KEYWORDS_MAX]; /* key node of each option given */
};

/* A comparison operator as written in a match value. */
struct cmp_name {
	const char	*name;
	enum cmp_op	 op;
};

/* Values a match key should take: others are warned about, not refused. */
struct vocabulary {
	int			 flag;		/* KW_CATEGORY, KW_TRIGGER_BY */
	const char		*is_not;	/* "'x' is not ..." */
	const char		*none;		/* "'x*' matches ..." */
	const char *const	*words;
	size_t			 nwords;
};

static void	kw_metrics_listen(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	check_metrics_listen(struct parse *, const struct config *);
static void	kw_listen(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_public_url(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_path(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_database(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_database_password_file(struct parse *,
		    const struct keyword *, yaml_node_t *, yaml_node_t *,
		    void *);
static char	*secret_path(struct parse *, const char *, yaml_node_t *,
		    const char *, int *);
static void	kw_trusted_proxies(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_accounts(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_limits(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_reconcile(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_retention(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_number(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_sid(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_token_file(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_token_env(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_rules(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_dispatch(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_rule_name(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_match(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_actions(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_continue(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_param(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_exec(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	check_secret_over_http(struct parse *,
		    const struct action_parse *);
static void	kw_http(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_append(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_log(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_action_number(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_headers(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_header_file(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_twilio(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_twilio_account(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_end_calls(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_body(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_content_type(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_url_file(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_parent(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	check_body(struct parse *, struct action_parse *);
static void	kw_ca_file(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static int	check_readable(struct parse *, yaml_node_t *, const char *,
		    const char *);
static void	kw_api_key_sid(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_twilio_api(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_twilio_ca_file(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_triggers(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_trigger_name(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_trigger_category(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_trigger_value(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_trigger_choice(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_callback_url(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);
static void	kw_trigger_account(struct parse *, const struct keyword *,
		    yaml_node_t *, yaml_node_t *, void *);

static const struct unit size_units[] = {
	{ "",		1 },
	{ "B",		1 },
	{ "K",		1024 },
	{ "KB",		1024 },
	{ "KiB",	1024 },
	{ "M",		1024 * 1024 },
	{ "MB",		1024 * 1024 },
	{ "MiB",	1024 * 1024 },
	{ NULL,		0 }
};

static const struct unit duration_units[] = {
	{ "",		1 },
	{ "s",		1 },
	{ "m",		60 },
	{ "h",		3600 },
	{ "d",		86400 },
	{ NULL,		0 }
};

static const struct unit millis_units[] = {
	{ "",		1000 },
	{ "ms",		1 },
	{ "s",		1000 },
	{ "m",		60 * 1000 },
	{ "h",		3600 * 1000 },
	{ "d",		86400 * 1000 },
	{ NULL,		0 }
};

static const struct number num_max_body = {
	NUM_SIZE, STORE_SIZE, offsetof(struct limits, max_body),
	1024, 64 * 1024 * 1024, "1KiB..64MiB"
};
static const struct number num_max_header = {
	NUM_SIZE, STORE_SIZE, offsetof(struct limits, max_header),
	1024, 1024 * 1024, "1KiB..1MiB"
};
static const struct number num_request_timeout = {
	NUM_DURATION, STORE_INT, offsetof(struct limits, request_timeout),
	1, 3600, "1s..1h"
};
static const struct number num_max_connections = {
	NUM_COUNT, STORE_INT, offsetof(struct limits, max_connections),
	1, 1000000, "1..1000000"
};
static const struct number num_keep_callbacks = {
	NUM_DURATION, STORE_INT64, offsetof(struct retention, callbacks),
	3600, 36500 * 86400LL, "1h..36500d"
};
static const struct number num_keep_rejected = {
	NUM_DURATION, STORE_INT64, offsetof(struct retention, rejected),
	3600, 36500 * 86400LL, "1h..36500d"
};
/* reconcile: 0 turns it off; a pass a second at most. */
static const struct number num_reconcile_interval = {
	NUM_DURATION, STORE_INT64, offsetof(struct reconcile, interval),
	0, 86400, "0 (off) or 1s..1d"
};
static const struct number num_reconcile_grace = {
	NUM_DURATION, STORE_INT64, offsetof(struct reconcile, grace),
	0, 86400, "0..1d"
};
static const struct number num_reconcile_age = {
	NUM_DURATION, STORE_INT64, offsetof(struct reconcile, max_age),
	3600, 36500 * 86400LL, "1h..36500d"
};

static const struct number num_concurrency = {
	NUM_COUNT, STORE_INT, offsetof(struct dispatch, concurrency),
	1, 1024, "1..1024"
};
static const struct number num_per_rule = {
	NUM_COUNT, STORE_INT, offsetof(struct dispatch, per_rule),
	1, 1024, "1..1024"
};
static const struct number num_max_attempts = {
	NUM_COUNT, STORE_INT, offsetof(struct dispatch, max_attempts),
	1, 100, "1..100"
};
static const struct number num_backoff = {
	NUM_MILLIS, STORE_INT64, offsetof(struct dispatch, backoff_ms),
	10, 86400 * 1000LL, "10ms..1d"
};
static const struct number num_max_backoff = {
	NUM_MILLIS, STORE_INT64, offsetof(struct dispatch, max_backoff_ms),
	10, 30 * 86400 * 1000LL, "10ms..30d"
};
static const struct number num_lease = {
	NUM_MILLIS, STORE_INT64, offsetof(struct dispatch, lease_ms),
	1000, 86400 * 1000LL, "1s..1d"
};
static const struct number num_action_timeout = {
	NUM_MILLIS, STORE_INT, offsetof(struct action, timeout_ms),
	10, 86400 * 1000LL, "10ms..1d"
};
static const struct number num_action_attempts = {
	NUM_COUNT, STORE_INT, offsetof(struct action, max_attempts),
	1, 100, "1..100"
};

static const struct keyword top_keys[] = {
	{ "listen",		kw_listen,		0, 0, NULL },
	{ "metrics_listen",	kw_metrics_listen,	0, 0, NULL },
	{ "public_url",		kw_public_url,		0, 0, NULL },
	{ "path",		kw_path,		0, 0, NULL },
	{ "database",		kw_database,		1, 0, NULL },
	{ "database_password_file", kw_database_password_file, 0, 0, NULL },
	{ "trusted_proxies",	kw_trusted_proxies,	0, 0, NULL },
	{ "accounts",		kw_accounts,		1, 0, NULL },
	{ "limits",		kw_limits,		0, 0, NULL },
	{ "retention",		kw_retention,		0, 0, NULL },
	{ "twilio_api",		kw_twilio_api,		0, 0, NULL },
	{ "twilio_ca_file",	kw_twilio_ca_file,	0, 0, NULL },
	{ "triggers",		kw_triggers,		0, 0, NULL },
	{ "rules",		kw_rules,		0, 0, NULL },
	{ "dispatch",		kw_dispatch,		0, 0, NULL },
	{ "reconcile",		kw_reconcile,		0, 0, NULL },
	{ NULL,			NULL,			0, 0, NULL }
};

static const struct keyword account_keys[] = {
	{ "sid",		kw_sid,		1, 0,		NULL },
	{ "auth_token_file",	kw_token_file,	0, 0,		NULL },
	{ "auth_token_env",	kw_token_env,	0, 0,		NULL },
	{ "secondary_token_file", kw_token_file, 0, KW_SECONDARY, NULL },
	{ "secondary_token_env", kw_token_env,	0, KW_SECONDARY, NULL },
	{ "api_key_sid",	kw_api_key_sid,	0, 0,		NULL },
	{ "api_key_secret_file", kw_token_file,	0, KW_API_KEY,	NULL },
	{ "parent",		kw_parent,	0, 0,		NULL },
	{ NULL,			NULL,		0, 0,		NULL }
};

static const struct keyword trigger_keys[] = {
	{ "name",		kw_trigger_name,	1, 0,		NULL },
	{ "usage_category",	kw_trigger_category,	1, 0,		NULL },
	{ "trigger_value",	kw_trigger_value,	1, 0,		NULL },
	{ "trigger_by",		kw_trigger_choice,	0, KW_TRIGGER_BY, NULL },
	{ "recurring",		kw_trigger_choice,	0, KW_RECURRING, NULL },
	{ "callback_method",	kw_trigger_choice,	0, KW_METHOD,	NULL },
	{ "callback_url",	kw_callback_url,	0, 0,		NULL },
	{ "account",		kw_trigger_account,	0, 0,		NULL },
	{ NULL,			NULL,			0, 0,		NULL }
};

static const struct keyword limit_keys[] = {
	{ "max_body",		kw_number, 0, 0, &num_max_body },
	{ "max_header",		kw_number, 0, 0, &num_max_header },
	{ "request_timeout",	kw_number, 0, 0, &num_request_timeout },
	{ "max_connections",	kw_number, 0, 0, &num_max_connections },
	{ NULL,			NULL,	   0, 0, NULL }
};

static const struct keyword retention_keys[] = {
	{ "callbacks",		kw_number, 0, 0, &num_keep_callbacks },
	{ "rejected",		kw_number, 0, 0, &num_keep_rejected },
	{ NULL,			NULL,	   0, 0, NULL }
};

static const struct keyword reconcile_keys[] = {
	{ "interval",		kw_number, 0, 0, &num_reconcile_interval },
	{ "grace",		kw_number, 0, 0, &num_reconcile_grace },
	{ "max_age",		kw_number, 0, 0, &num_reconcile_age },
	{ NULL,			NULL,	   0, 0, NULL }
};

static const struct keyword dispatch_keys[] = {
	{ "concurrency",	kw_number, 0, 0, &num_concurrency },
	{ "per_rule",		kw_number, 0, 0, &num_per_rule },
	{ "max_attempts",	kw_number, 0, 0, &num_max_attempts },
	{ "backoff",		kw_number, 0, 0, &num_backoff },
	{ "max_backoff",	kw_number, 0, 0, &num_max_backoff },
	{ "lease",		kw_number, 0, 0, &num_lease },
	{ NULL,			NULL,	   0, 0, NULL }
};

static const struct keyword rule_keys[] = {
	{ "name",		kw_rule_name,	1, 0, NULL },
	{ "match",		kw_match,	0, 0, NULL },
	{ "actions",		kw_actions,	1, 0, NULL },
	{ "continue",		kw_continue,	0, 0, NULL },
	{ NULL,			NULL,		0, 0, NULL }
};

/* Twilio's UsageTrigger callback parameters: match keys, template names. */
static const struct keyword param_keys[] = {
	{ "AccountSid",		kw_param, 0, 0,			NULL },
	{ "UsageTriggerSid",	kw_param, 0, 0,			NULL },
	{ "DateFired",		kw_param, 0, 0,			NULL },
	{ "Recurring",		kw_param, 0, 0,			NULL },
	{ "UsageCategory",	kw_param, 0, KW_CATEGORY,	NULL },
	{ "TriggerBy",		kw_param, 0, KW_TRIGGER_BY,	NULL },
	{ "TriggerValue",	kw_param, 0, KW_NUMERIC,	NULL },
	{ "CurrentValue",	kw_param, 0, KW_NUMERIC,	NULL },
	{ "UsageRecordUri",	kw_param, 0, 0,			NULL },
	{ "IdempotencyToken",	kw_param, 0, 0,			NULL },
	{ NULL,			NULL,	  0, 0,			NULL }
};

/* The kind keys come first: their order names the kinds in messages. */
static const struct keyword action_keys[] = {
	{ "exec",	kw_exec,   0, KW_KIND | KW_FOR(ACTION_EXEC), NULL },
	{ "http",	kw_http,   0, KW_KIND | KW_FOR(ACTION_HTTP), NULL },
	{ "append",	kw_append, 0, KW_KIND | KW_FOR(ACTION_APPEND), NULL },
	{ "log",	kw_log,	   0, KW_KIND | KW_FOR(ACTION_LOG), NULL },
	{ "twilio",	kw_twilio, 0, KW_KIND | KW_FOR(ACTION_TWILIO), NULL },
	{ "timeout",	kw_action_number, 0,
	    KW_FOR(ACTION_EXEC) | KW_FOR(ACTION_HTTP), &num_action_timeout },
	{ "max_attempts", kw_action_number, 0, KW_FOR_ALL,
	    &num_action_attempts },
	{ "headers",	kw_headers,	0, KW_FOR(ACTION_HTTP), NULL },
	{ "ca_file",	kw_ca_file,	0, KW_FOR(ACTION_HTTP), NULL },
	{ "body",	kw_body,	0, KW_FOR(ACTION_HTTP), NULL },
	{ "content_type", kw_content_type, 0, KW_FOR(ACTION_HTTP), NULL },
	{ "account",	kw_twilio_account, 0, KW_FOR(ACTION_TWILIO), NULL },
	{ "end_calls",	kw_end_calls,	0, KW_FOR(ACTION_TWILIO), NULL },
	{ NULL,		NULL,		0, 0, NULL }
};

static const struct keyword url_file_keys[] = {
	{ "file",	kw_url_file,	1, 0, NULL },
	{ NULL,		NULL,		0, 0, NULL }
};

static const struct keyword header_keys[] = {
	{ "file",	kw_header_file,	1, 0, NULL },
	{ NULL,		NULL,		0, 0, NULL }
};

/* Longest first, so that "<=" is not read as "<" and "=". */
static const struct cmp_name cmp_names[] = {
	{ "<=",	CMP_LE },
	{ ">=",	CMP_GE },
	{ "==",	CMP_EQ },
	{ "!=",	CMP_NE },
	{ "<",	CMP_LT },
	{ ">",	CMP_GT },
	{ NULL,	CMP_EQ }
};

/* Headers the http action sets itself. */
static const char *const reserved_headers[] = {
	"Host", "Content-Length", "Content-Type", "Transfer-Encoding",
	"Connection"
};

/* tools/gen-categories writes the list from Twilio's documentation. */
static const char *const categories[] = {
#include "categories.inc"
};

static const char *const trigger_bys[] = { "count", "usage", "price" };

static const char *const recurrings[] = { "daily", "monthly", "yearly",
	"alltime" };
static const char *const callback_methods[] = { "GET", "POST", "PUT",
	"PATCH", "DELETE", "HEAD" };

static const struct choice choices[] = {
	{ KW_TRIGGER_BY, offsetof(struct trigger, trigger_by), trigger_bys,
	    nitems(trigger_bys), 0, 0, "count, usage or price" },
	{ KW_RECURRING, offsetof(struct trigger, recurring), recurrings,
	    nitems(recurrings), 0, 1, "daily, monthly, yearly, alltime or "
	    "empty (not recurring)" },
	{ KW_METHOD, offsetof(struct trigger, callback_method),
	    callback_methods, nitems(callback_methods), 1, 0,
	    "GET, POST, PUT, PATCH, DELETE or HEAD" },
};

static const struct vocabulary vocabularies[] = {
	{ KW_CATEGORY, "a Twilio usage category", "no Twilio usage category",
	    categories, nitems(categories) },
	{ KW_TRIGGER_BY, "one of count, usage, price",
	    "none of count, usage, price", trigger_bys, nitems(trigger_bys) },
};

/* One "file:line:col: message" line; marks are 0-based, operators count from 1. */
static void __attribute__((format(printf, 3, 4)))
perr(struct parse *p, yaml_mark_t mark, const char *fmt, ...)
{
	va_list	ap;

	fprintf(p->errs, "%s:%zu:%zu: ", p->file, mark.line + 1,
	    mark.column + 1);
	va_start(ap, fmt);
	vfprintf(p->errs, fmt, ap);
	va_end(ap);
	fputc('\n', p->errs);
	p->nerrors++;
}

/* "file:line:col: warning: message": worth a look, but the file loads. */
static void __attribute__((format(printf, 3, 4)))
pwarn(struct parse *p, yaml_mark_t mark, const char *fmt, ...)
{
	va_list	ap;

	fprintf(p->errs, "%s:%zu:%zu: warning: ", p->file, mark.line + 1,
	    mark.column + 1);
	va_start(ap, fmt);
	vfprintf(p->errs, fmt, ap);
	va_end(ap);
	fputc('\n', p->errs);
}

/* A value fit to echo on one line: control bytes escaped, long ones cut. */
static const char *
show(struct parse *p, const char *s)
{
	char		*buf = p->show[p->nshow++ % 4];
	size_t		 i, n = 0;
	unsigned char	 c;

	for (i = 0; s[i] != '\0'; i++) {
		if (i == SHOW_MAX) {
			memcpy(buf + n, "...", 3);
			n += 3;
			break;
		}
		c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == '\\')
			n += (size_t)sprintf(buf + n, "\\x%02x", c);
		else
			buf[n++] = (char)c;
	}
	buf[n] = '\0';
	return buf;
}

/* YAML's null: an empty plain scalar, "~" or "null". */
static int
is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	size_t	i;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	for (i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
		if (strcmp((const char *)n->data.scalar.value, nulls[i]) == 0)
			return 1;
	return 0;
}

/* What a node is, for "expected X, got Y". */
static const char *
node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	default:
		return is_null(n) ? "null" : "a string";
	}
}

/* The text of a key node; keys are checked to be scalars before use. */
static const char *
key_name(const yaml_node_t *k)
{
	return (const char *)k->data.scalar.value;
}

/* The string value of a node ("" if allowed), or NULL after saying why not. */
static const char *
string_value(struct parse *p, const char *name, yaml_node_t *v,
    int allow_empty)
{
	const char	*s;

	if (v->type != YAML_SCALAR_NODE || is_null(v)) {
		perr(p, v->start_mark, "%s: expected a string, got %s",
		    name, node_kind(v));
		return NULL;
	}
	s = (const char *)v->data.scalar.value;
	if (strlen(s) != v->data.scalar.length) {
		perr(p, v->start_mark, "%s: contains a NUL character", name);
		return NULL;
	}
	if (*s == '\0' && !allow_empty) {
		perr(p, v->start_mark, "%s: must not be empty", name);
		return NULL;
	}
	return s;
}

/* The non-empty string value of a node, or NULL after saying why not. */
static const char *
scalar(struct parse *p, const char *name, yaml_node_t *v)
{
	return string_value(p, name, v, 0);
}

/* Edit distance, letters compared without case; row holds strlen(a) + 1. */
static size_t
distance(const char *a, size_t alen, const char *b, size_t *row)
{
	size_t	i, j, diag, up, best;

	for (i = 0; i <= alen; i++)
		row[i] = i;
	for (j = 0; b[j] != '\0'; j++) {
		diag = row[0];
		row[0] = j + 1;
		for (i = 1; i <= alen; i++) {
			up = row[i];
			best = diag + (tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j]));
			if (row[i] + 1 < best)
				best = row[i] + 1;
			if (row[i - 1] + 1 < best)
				best = row[i - 1] + 1;
			row[i] = best;
			diag = up;
		}
	}
	return row[alen];
}

/* The closest of words[0..n) to s, if close enough to be a typo; else NULL. */
const char *
config_suggest(const char *s, const char *const *words, size_t n)
{
	size_t		 row[SUGGEST_MAX + 1], len, limit, d, best = SIZE_MAX;
	const char	*pick = NULL;
	size_t		 i;

	if ((len = strlen(s)) == 0 || len > SUGGEST_MAX)
		return NULL;
	/* Two edits or a third of the word, never all of it: "x" is not "pv". */
	limit = len / 3 > 2 ? len / 3 : 2;
	if (limit >= len)
		limit = len - 1;
	for (i = 0; i < n; i++) {
		if ((d = distance(s, len, words[i], row)) < best) {
			best = d;
			pick = words[i];
		}
	}
	return best <= limit ? pick : NULL;
}

/* The names of a keyword table, for config_suggest; returns how many. */
static size_t
keyword_names(const struct keyword *table, const char **names)
{
	size_t	n;

	for (n = 0; table[n].name != NULL && n < KEYWORDS_MAX; n++)
		names[n] = table[n].name;
	return n;
}

/* "unknown key": with a likely spelling when there is one, else the list. */
static void
unknown_key(struct parse *p, yaml_node_t *k, const char *where,
    const struct keyword *table)
{
	const struct keyword	*kw;
	const char		*names[KEYWORDS_MAX] = { NULL }, *sug;
	char			 expect[512];
	size_t			 n;

	n = keyword_names(table, names);
	sug = config_suggest(key_name(k), names, n);
	if (sug != NULL) {
		perr(p, k->start_mark, "unknown key '%s'%s%s; did you mean "
		    "'%s'?", show(p, key_name(k)), where ? " in " : "",
		    where ? where : "", sug);
		return;
	}
	expect[0] = '\0';
	for (kw = table; kw->name != NULL; kw++) {
		if (kw != table)
			strncat(expect, ", ", sizeof expect -
			    strlen(expect) - 1);
		strncat(expect, kw->name, sizeof expect - strlen(expect) - 1);
	}
	perr(p, k->start_mark, "unknown key '%s'%s%s; expected one of: %s",
	    show(p, key_name(k)), where ? " in " : "", where ? where : "",
	    expect);
}

/* Walk a mapping against a table of keywords; every problem is reported. */
static void
parse_mapping(struct parse *p, yaml_node_t *node, const char *where,
    const struct keyword *table, void *arg)
{
	yaml_node_pair_t	*pair, *prev;
	yaml_node_t		*k, *v, *pk;
	const struct keyword	*kw;
	uint32_t		 seen = 0;
	size_t			 i;

	if (node->type != YAML_MAPPING_NODE) {
		perr(p, node->start_mark, "%s: expected a mapping, got %s",
		    where, node_kind(node));
		return;
	}
	for (pair = node->data.mapping.pairs.start;
	    pair < node->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(p->doc, pair->key);
		v = yaml_document_get_node(p->doc, pair->value);
		if (k->type != YAML_SCALAR_NODE) {
			perr(p, k->start_mark, "keys must be strings, got %s",
			    node_kind(k));
			continue;
		}
		for (prev = node->data.mapping.pairs.start; prev < pair;
		    prev++) {
			pk = yaml_document_get_node(p->doc, prev->key);
			if (pk->type == YAML_SCALAR_NODE &&
			    strcmp(key_name(pk), key_name(k)) == 0)
				break;
		}
		if (prev < pair) {
			perr(p, k->start_mark, "duplicate key '%s' (first at "
			    "line %zu)", show(p, key_name(k)),
			    pk->start_mark.line + 1);
			continue;
		}
		for (kw = table; kw->name != NULL; kw++)
			if (strcmp(kw->name, key_name(k)) == 0)
				break;
		if (kw->name == NULL) {
			unknown_key(p, k, where, table);
			continue;
		}
		seen |= UINT32_C(1) << (kw - table);
		kw->handler(p, kw, k, v, arg);
	}
	for (i = 0; table[i].name != NULL; i++) {
		if (table[i].required && !(seen & (UINT32_C(1) << i)))
			perr(p, node->start_mark, "%s%smissing required key "
			    "'%s'", where ? where : "", where ? ": " : "",
			    table[i].name);
	}
}

/* An allocated absolute path: relative ones are taken from the config's directory. */
static char *
resolve_path(struct parse *p, const char *rel)
{
	char	*base, *slash, *out;

	if (rel[0] == '/')
		return xstrdup(rel);
	/* The directory is a realpath, so leading ".." can be folded safely. */
	base = xstrdup(p->dir);
	for (;;) {
		if (strcmp(rel, ".") == 0)
			rel += 1;
		else if (strncmp(rel, "./", 2) == 0)
			rel += 2;
		else if (strcmp(rel, "..") == 0 || strncmp(rel, "../", 3) == 0) {
			rel += rel[2] == '/' ? 3 : 2;
			if ((slash = strrchr(base, '/')) != NULL)
				slash[slash == base ? 1 : 0] = '\0';
		} else
			break;
		while (*rel == '/')
			rel++;
	}
	if (*rel == '\0')
		out = base;
	else {
		xasprintf(&out, "%s%s%s", base,
		    strcmp(base, "/") == 0 ? "" : "/", rel);
		free(base);
	}
	return out;
}

/* The leading digits of s; -1 when there are none or they overflow. */
static int
parse_digits(const char *s, uint64_t *v, const char **end)
{
	uint64_t	n = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*v = n;
	*end = s;
	return 0;
}

/* Digits and a unit from a table, multiplied out without overflow. */
static int
parse_unit(const char *s, const struct unit *units, uint64_t limit,
    uint64_t *v)
{
	const struct unit	*u;
	const char		*end;
	uint64_t		 n;

	if (s == NULL || parse_digits(s, &n, &end) == -1)
		return -1;
	for (u = units; u->suffix != NULL; u++)
		if (strcmp(end, u->suffix) == 0)
			break;
	if (u->suffix == NULL || n > limit / u->mult)
		return -1;
	*v = n * u->mult;
	return 0;
}

/* "64KiB" -> bytes; K, KB and KiB are all 1024. */
int
config_parse_size(const char *s, size_t *bytes)
{
	uint64_t	v;

	if (parse_unit(s, size_units, SIZE_MAX, &v) == -1)
		return -1;
	*bytes = (size_t)v;
	return 0;
}

/* "10s", "5m", "2h", "400d" or plain seconds. */
int
config_parse_duration(const char *s, int64_t *seconds)
{
	uint64_t	v;

	if (parse_unit(s, duration_units, INT64_MAX, &v) == -1)
		return -1;
	*seconds = (int64_t)v;
	return 0;
}

/* A decimal number that is the whole of s ("100", "-2.5", "1e3"). */
int
config_parse_number(const char *s, double *d)
{
	char	*end;
	double	 x;

	/* strtod would also take spaces, hex, "inf" and "nan". */
	if (*s == '\0' || s[strspn(s, "0123456789+-.eE")] != '\0')
		return -1;
	x = strtod(s, &end);
	if (end == s || *end != '\0' || !isfinite(x))
		return -1;
	*d = x;
	return 0;
}

/* A number of a struct at base: parsed by kind, range-checked, stored. */
static void
set_number(struct parse *p, const struct keyword *kw, yaml_node_t *v,
    void *base)
{
	const struct number	*num = kw->num;
	const char		*s, *end;
	uint64_t		 u;
	size_t			 sz;
	int64_t			 d;
	char			*field = (char *)base + num->offset;

	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	switch (num->kind) {
	case NUM_SIZE:
		if (config_parse_size(s, &sz) == -1) {
			perr(p, v->start_mark, "%s: '%s' is not a size (digits "
			    "with an optional B, K, KB, KiB, M, MB or MiB)",
			    kw->name, show(p, s));
			return;
		}
		u = sz;
		break;
	case NUM_DURATION:
		if (config_parse_duration(s, &d) == -1) {
			perr(p, v->start_mark, "%s: '%s' is not a duration "
			    "(digits with an optional s, m, h or d)",
			    kw->name, show(p, s));
			return;
		}
		u = (uint64_t)d;
		break;
	case NUM_MILLIS:
		if (parse_unit(s, millis_units, INT64_MAX, &u) == -1) {
			perr(p, v->start_mark, "%s: '%s' is not a duration "
			    "(digits with an optional ms, s, m, h or d)",
			    kw->name, show(p, s));
			return;
		}
		break;
	case NUM_COUNT:
	default:
		if (parse_digits(s, &u, &end) == -1 || *end != '\0') {
			perr(p, v->start_mark, "%s: '%s' is not a whole number",
			    kw->name, show(p, s));
			return;
		}
		break;
	}
	if (u < (uint64_t)num->min || u > (uint64_t)num->max) {
		perr(p, v->start_mark, "%s: '%s' is out of range (%s)",
		    kw->name, show(p, s), num->range);
		return;
	}
	switch (num->store) {
	case STORE_SIZE:
		*(size_t *)(void *)field = (size_t)u;
		break;
	case STORE_INT:
		*(int *)(void *)field = (int)u;
		break;
	case STORE_INT64:
		*(int64_t *)(void *)field = (int64_t)u;
		break;
	}
}

/* limits, retention and dispatch numbers: the struct is the argument. */
static void
kw_number(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	set_number(p, kw, v, arg);
}

/* A host name or IP literal without brackets; IPv6 has its own rule. */
static int
valid_host(const char *h, size_t len)
{
	char		buf[256];
	struct in_addr	a4;
	size_t		i;
	int		dotted = 1;

	if (len == 0 || len >= sizeof buf || h[0] == '-' || h[0] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		if ((h[i] >= 'a' && h[i] <= 'z') ||
		    (h[i] >= 'A' && h[i] <= 'Z') || h[i] == '-' || h[i] == '_')
			dotted = 0;
		else if (!((h[i] >= '0' && h[i] <= '9') || h[i] == '.'))
			return 0;
	}
	/* "10.0.0.300" is neither a name nor an address. */
	if (dotted) {
		memcpy(buf, h, len);
		buf[len] = '\0';
		return inet_pton(AF_INET, buf, &a4) == 1;
	}
	return 1;
}

/* Why s is not host[:port] or [v6]:port, or NULL when it is. */
static const char *
hostport_error(const char *s, int needport)
{
	const char	*end, *colon, *port = NULL;
	char		 buf[INET6_ADDRSTRLEN + 1];
	struct in6_addr	 a6;
	uint64_t	 n;

	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return "'[' without ']'";
		if ((size_t)(end - s - 1) >= sizeof buf)
			return "the part in [] is not an IPv6 address";
		memcpy(buf, s + 1, (size_t)(end - s - 1));
		buf[end - s - 1] = '\0';
		if (inet_pton(AF_INET6, buf, &a6) != 1)
			return "the part in [] is not an IPv6 address";
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return "unexpected text after ']'";
	} else {
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			return "an IPv6 address needs brackets, as in [::1]:8080";
		if (!valid_host(s, colon ? (size_t)(colon - s) : strlen(s)))
			return "the host is not a host name or IP address";
		if (colon != NULL)
			port = colon + 1;
	}
	if (port == NULL)
		return needport ? "the port is missing" : NULL;
	if (parse_digits(port, &n, &end) == -1 || *end != '\0' || n < 1 ||
	    n > 65535)
		return "the port is not a number from 1 to 65535";
	return NULL;
}

/* An address to listen on into *dst: host:port, [v6]:port or unix:/path. */
static void
parse_listen(struct parse *p, const char *name, yaml_node_t *v, char **dst)
{
	struct sockaddr_un	 sun;
	const char		*s, *why;
	char			*path;

	if ((s = scalar(p, name, v)) == NULL)
		return;
	if (strncmp(s, "unix:", 5) == 0) {
		if (s[5] == '\0') {
			perr(p, v->start_mark, "%s: 'unix:' needs a socket "
			    "path, as in unix:/run/usagehookd/http.sock", name);
			return;
		}
		path = resolve_path(p, s + 5);
		if (strlen(path) >= sizeof sun.sun_path) {
			perr(p, v->start_mark, "%s: socket path %s is "
			    "longer than %zu bytes", name, show(p, path),
			    sizeof sun.sun_path - 1);
			free(path);
			return;
		}
		free(*dst);
		xasprintf(dst, "unix:%s", path);
		free(path);
		return;
	}
	if ((why = hostport_error(s, 1)) != NULL) {
		perr(p, v->start_mark, "%s: '%s' is not host:port, "
		    "[address]:port or unix:/path: %s", name, show(p, s), why);
		return;
	}
	free(*dst);
	*dst = xstrdup(s);
}

/* listen: host:port, [v6]:port or unix:/path (relative to the config). */
static void
kw_listen(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct config	*conf = arg;

	parse_listen(p, kw->name, v, &conf->listen);
}

/* metrics_listen: a listener of its own for /metrics and /healthz. */
static void
kw_metrics_listen(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct config	*conf = arg;

	parse_listen(p, kw->name, v, &conf->metrics_listen);
	if (conf->metrics_listen != NULL)
		p->metrics_listen_mark = v->start_mark;
}

/* metrics_listen may not be the callback listener itself. */
static void
check_metrics_listen(struct parse *p, const struct config *conf)
{
	if (conf->metrics_listen != NULL &&
	    strcmp(conf->metrics_listen, conf->listen) == 0)
		perr(p, p->metrics_listen_mark, "metrics_listen: %s is the "
		    "callback listener (listen) too; give it an address of its "
		    "own, or leave metrics_listen out (/metrics is served on "
		    "listen anyway)", conf->metrics_listen);
}

/*
 * Why url is not http(s)://host[:port], or NULL; one trailing '/' is cut
 * from url in place. path_why says what a path would mean for this key.
 */
static const char *
origin_error(char *url, const char *path_why)
{
	const char	*rest;
	size_t		 len, i;

	if (strncasecmp(url, "https://", 8) == 0)
		rest = url + 8;
	else if (strncasecmp(url, "http://", 7) == 0)
		rest = url + 7;
	else
		return "the scheme must be http:// or https://";
	len = strlen(url);
	if (len > (size_t)(rest - url) && url[len - 1] == '/')
		url[--len] = '\0';
	for (i = 0; rest[i] != '\0'; i++) {
		switch (rest[i]) {
		case '/':
			return path_why;
		case '?':
			return "it has a query";
		case '#':
			return "it has a fragment";
		case '@':
			return "it has user information";
		}
	}
	return hostport_error(rest, 0);
}

/* public_url: the scheme://host[:port] Twilio signs; one trailing '/' is dropped. */
static void
kw_public_url(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct config	*conf = arg;
	const char	*s, *why;
	char		*url;

	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	url = xstrdup(s);
	if ((why = origin_error(url, "it has a path (the callback path is "
	    "the key 'path')")) != NULL) {
		perr(p, v->start_mark, "public_url: '%s' is not "
		    "http(s)://host[:port]: %s", show(p, s), why);
		free(url);
		return;
	}
	free(conf->public_url);
	conf->public_url = url;
}

/* twilio_api: the REST API's https://host[:port]; another one for tests. */
static void
kw_twilio_api(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct config	*conf = arg;
	const char	*s, *why;
	char		*url;

	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	url = xstrdup(s);
	why = origin_error(url, "it has a path (the API paths are "
	    "/2010-04-01/...)");
	/* The auth token goes with every request: never in clear text. */
	if (why == NULL && strncasecmp(url, "https://", 8) != 0)
		why = "the scheme must be https:// (requests carry the "
		    "credentials)";
	if (why != NULL) {
		perr(p, v->start_mark, "twilio_api: '%s' is not "
		    "https://host[:port]: %s", show(p, s), why);
		free(url);
		return;
	}
	free(conf->twilio_api);
	conf->twilio_api = url;
}

/* twilio_ca_file: PEM certificates to verify twilio_api with (tests). */
static void
kw_twilio_ca_file(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct config	*conf = arg;
	const char	*s;
	char		*path;

	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	path = resolve_path(p, s);
	if (check_readable(p, v, kw->name, path) == -1) {
		free(path);
		return;
	}
	free(conf->twilio_ca_file);
	conf->twilio_ca_file = path;
}

/* path: the request path Twilio posts to. */
static void
kw_path(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct config	*conf = arg;
	const char	*s, *c;

	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	if (s[0] != '/') {
		perr(p, v->start_mark, "path: '%s' must start with '/'",
		    show(p, s));
		return;
	}
	for (c = s; *c != '\0'; c++) {
		if (*c == '?' || *c == '#' || (unsigned char)*c <= 0x20 ||
		    *c == 0x7f) {
			perr(p, v->start_mark, "path: '%s' must be a plain "
			    "path, without query, fragment, spaces or control "
			    "characters", show(p, s));
			return;
		}
	}
	free(conf->path);
	conf->path = xstrdup(s);
}

/*
 * database: the SQLite file, relative to the config's directory, or a
 * PostgreSQL URI (postgresql:// or postgres://), kept as written.
 */
static void
kw_database(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct config	*conf = arg;
	const char	*s;

	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	free(conf->database);
	conf->database = store_is_remote(s) ? xstrdup(s) : resolve_path(p, s);
}

/* database_password_file: PostgreSQL's password, read at each connection. */
static void
kw_database_password_file(struct parse *p, const struct keyword *kw,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct config	*conf = arg;
	const char	*s;
	char		*path;
	int		 expanded;

	if ((s = scalar(p, kw->name, v)) == NULL ||
	    (path = secret_path(p, kw->name, v, s, &expanded)) == NULL)
		return;
	if (access(path, R_OK) == -1) {
		perr(p, v->start_mark, "%s %s: cannot read: %s", kw->name,
		    show(p, path), strerror(errno));
		free(path);
		return;
	}
	free(conf->database_password_file);
	conf->database_password_file = path;
}

/*
 * The number of items of sequence v, the value of key name; 0 after an
 * error when v is not a sequence ("expected WHAT", default "a sequence") or,
 * with empty set, has no item ("name: EMPTY"). Empty without it is just 0.
 */
static size_t
sequence_items(struct parse *p, yaml_node_t *v, const char *name,
    const char *what, const char *empty)
{
	size_t	count;

	if (v->type != YAML_SEQUENCE_NODE) {
		perr(p, v->start_mark, "%s: expected %s, got %s", name,
		    what != NULL ? what : "a sequence", node_kind(v));
		return 0;
	}
	count = (size_t)(v->data.sequence.items.top -
	    v->data.sequence.items.start);
	if (count == 0 && empty != NULL)
		perr(p, v->start_mark, "%s: %s", name, empty);
	return count;
}

/* trusted_proxies: peers whose X-Forwarded-* headers we believe. */
static void
kw_trusted_proxies(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct config	*conf = arg;
	yaml_node_item_t *item;
	yaml_node_t	*n;
	const char	*s;
	size_t		 count;

	if ((count = sequence_items(p, v, "trusted_proxies", NULL, NULL)) == 0)
		return;
	conf->trusted_proxies = xcalloc(count, sizeof *conf->trusted_proxies);
	for (item = v->data.sequence.items.start;
	    item < v->data.sequence.items.top; item++) {
		n = yaml_document_get_node(p->doc, *item);
		if ((s = scalar(p, kw->name, n)) == NULL)
			continue;
		if (forwarded_parse_block(s,
		    &conf->trusted_proxies[conf->ntrusted_proxies]) == -1) {
			perr(p, n->start_mark, "trusted_proxies: '%s' is not "
			    "an IP address, address/prefix or 'unix'",
			    show(p, s));
			continue;
		}
		conf->ntrusted_proxies++;
	}
}

/* sid: "AC" and 32 hex digits; stored with lowercase hex as Twilio sends it. */
static void
kw_sid(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct account_parse	*ap = arg;
	const char		*s;
	size_t			 i;
	int			 ok;

	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	ok = strlen(s) == SID_LEN && strncmp(s, "AC", 2) == 0;
	for (i = 2; ok && i < SID_LEN; i++)
		ok = (s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F');
	if (!ok) {
		perr(p, v->start_mark, "sid: '%s' is not an AccountSid (AC "
		    "followed by 32 hex digits)", show(p, s));
		return;
	}
	memcpy(ap->a->sid, s, SID_LEN + 1);
	for (i = 2; i < SID_LEN; i++)
		if (ap->a->sid[i] >= 'A' && ap->a->sid[i] <= 'F')
			ap->a->sid[i] = (char)(ap->a->sid[i] - 'A' + 'a');
	ap->sid = v;
}

/* Claim the primary or secondary slot; a second source for it is an error. */
static char **
token_slot(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    struct account_parse *ap)
{
	yaml_node_t	**have;
	int		  secondary = kw->flags & KW_SECONDARY;

	/* The API key's secret has one source only: the duplicate-key check. */
	if (kw->flags & KW_API_KEY) {
		ap->api_secret = k;
		return &ap->a->api_key_secret;
	}
	have = secondary ? &ap->secondary : &ap->primary;
	if (*have != NULL) {
		perr(p, k->start_mark, "%s: give only one of %s and %s "
		    "(already set by %s at line %zu)", kw->name,
		    secondary ? "secondary_token_file" : "auth_token_file",
		    secondary ? "secondary_token_env" : "auth_token_env",
		    key_name(*have), (*have)->start_mark.line + 1);
		return NULL;
	}
	*have = k;
	return secondary ? &ap->a->secondary : &ap->a->token;
}

/* An allocated token from raw bytes, or NULL after saying what is wrong with it. */
static char *
finish_token(struct parse *p, yaml_node_t *v, const char *key,
    const char *where, const char *what, char *buf, size_t len)
{
	size_t	i;

	while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t' ||
	    buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len == 0) {
		perr(p, v->start_mark, "%s %s: %s is empty", key,
		    show(p, where), what);
		return NULL;
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)buf[i] <= 0x20 || buf[i] == 0x7f) {
			perr(p, v->start_mark, "%s %s: the token contains "
			    "spaces, line breaks or control characters", key,
			    show(p, where));
			return NULL;
		}
	}
	return xstrndup(buf, len);
}

/* 1 if path is in systemd's credentials directory (it sets the modes). */
static int
in_credentials(const char *path)
{
	const char	*dir = getenv(CREDENTIALS_ENV);
	size_t		 len;

	if (strncmp(path, "/run/credentials/", 17) == 0)
		return 1;
	if (dir == NULL || *dir == '\0')
		return 0;
	len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	return strncmp(path, dir, len) == 0 && path[len] == '/';
}

/*
 * The allocated path of a secret file: a leading $CREDENTIALS_DIRECTORY/
 * or ${CREDENTIALS_DIRECTORY}/ is replaced by that variable (systemd's
 * LoadCredential= sets it); NULL after saying why not.
 */
static char *
secret_path(struct parse *p, const char *key, yaml_node_t *v, const char *s,
    int *expanded)
{
	static const char *const forms[] = { "$" CREDENTIALS_ENV "/",
	    "${" CREDENTIALS_ENV "}/" };
	const char	*dir, *rest = NULL;
	char		*path;
	size_t		 i, len;

	*expanded = 0;
	for (i = 0; i < nitems(forms) && rest == NULL; i++)
		if (strncmp(s, forms[i], strlen(forms[i])) == 0)
			rest = s + strlen(forms[i]);
	if (rest == NULL)
		return resolve_path(p, s);
	*expanded = 1;
	if ((dir = getenv(CREDENTIALS_ENV)) == NULL || *dir == '\0') {
		perr(p, v->start_mark, "%s %s: $%s is not set: systemd's "
		    "LoadCredential= sets it for the service; outside it, run "
		    "with %s=/etc/usagehookd (the directory holding the file)",
		    key, show(p, s), CREDENTIALS_ENV, CREDENTIALS_ENV);
		return NULL;
	}
	len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	xasprintf(&path, "%.*s%s%s", (int)len, dir,
	    strcmp(dir, "/") == 0 ? "" : "/", rest);
	return path;
}

/* auth_token_file, secondary_token_file, api_key_secret_file: the whole file. */
static void
kw_token_file(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct account_parse	*ap = arg;
	struct stat		 sb;
	char			 buf[TOKEN_FILE_MAX + 1];
	char			**slot, *path;
	const char		*s;
	size_t			 len = 0;
	ssize_t			 n;
	int			 fd, expanded;

	if ((slot = token_slot(p, kw, k, ap)) == NULL ||
	    (s = scalar(p, kw->name, v)) == NULL ||
	    (path = secret_path(p, kw->name, v, s, &expanded)) == NULL)
		return;
	/* O_NONBLOCK: a FIFO named by mistake must not hang start-up. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		perr(p, v->start_mark, "%s %s: cannot read: %s%s", kw->name,
		    show(p, path), strerror(errno), s[0] == '$' && !expanded ?
		    " (only a leading $" CREDENTIALS_ENV "/ is expanded)" : "");
		free(path);
		return;
	}
	if (fstat(fd, &sb) == -1) {
		perr(p, v->start_mark, "%s %s: cannot read: %s", kw->name,
		    show(p, path), strerror(errno));
		goto done;
	}
	if (!S_ISREG(sb.st_mode)) {
		perr(p, v->start_mark, "%s %s: cannot read: %s", kw->name,
		    show(p, path), S_ISDIR(sb.st_mode) ? strerror(EISDIR) :
		    "not a regular file");
		goto done;
	}
	/* A secret others can read is no secret; systemd sets its own modes. */
	if ((sb.st_mode & 077) != 0 && in_credentials(path))
		pwarn(p, v->start_mark, "%s %s is %s by %s (mode %04o); "
		    "systemd manages this credential", kw->name, show(p, path),
		    (sb.st_mode & 044) ? "readable" : "writable",
		    (sb.st_mode & 007) ? "others" : "its group",
		    (unsigned)(sb.st_mode & 07777));
	else if ((sb.st_mode & 077) != 0) {
		perr(p, v->start_mark, "%s %s is %s by %s (mode %04o): "
		    "chmod 600 %s", kw->name, show(p, path),
		    (sb.st_mode & 044) ? "readable" : "writable",
		    (sb.st_mode & 007) ? "others" : "its group",
		    (unsigned)(sb.st_mode & 07777), show(p, path));
		goto done;
	}
	while (len < sizeof buf) {
		n = read(fd, buf + len, sizeof buf - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			perr(p, v->start_mark, "%s %s: cannot read: %s",
			    kw->name, show(p, path), strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > TOKEN_FILE_MAX) {
		perr(p, v->start_mark, "%s %s: larger than %d bytes; expected "
		    "one token", kw->name, show(p, path), TOKEN_FILE_MAX);
		goto done;
	}
	*slot = finish_token(p, v, kw->name, path, "file", buf, len);
 done:
	explicit_bzero(buf, sizeof buf);
	close(fd);
	free(path);
}

/* auth_token_env / secondary_token_env: the token is in our environment. */
static void
kw_token_env(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct account_parse	*ap = arg;
	char			**slot, *copy;
	const char		*s, *val;

	if ((slot = token_slot(p, kw, k, ap)) == NULL ||
	    (s = scalar(p, kw->name, v)) == NULL)
		return;
	if ((val = getenv(s)) == NULL) {
		perr(p, v->start_mark, "%s %s: environment variable is not "
		    "set", kw->name, show(p, s));
		return;
	}
	copy = xstrdup(val);
	*slot = finish_token(p, v, kw->name, s, "environment variable", copy,
	    strlen(copy));
	freezero_str(copy);
}

/* 1 if s is prefix and 32 hex digits, the shape of every Twilio SID. */
static int
twilio_sid(const char *s, const char *prefix)
{
	size_t	i;

	if (strlen(s) != SID_LEN || strncmp(s, prefix, 2) != 0)
		return 0;
	for (i = 2; i < SID_LEN; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* api_key_sid: an API key ("SK" and 32 hex digits) for the REST API. */
static void
kw_api_key_sid(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct account_parse	*ap = arg;
	const char		*s;

	ap->api_sid = k;
	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	if (!twilio_sid(s, "SK")) {
		perr(p, v->start_mark, "api_key_sid: '%s' is not an API key "
		    "SID (SK followed by 32 hex digits)", show(p, s));
		return;
	}
	memcpy(ap->a->api_key_sid, s, SID_LEN + 1);
}

/* parent: the account whose API credentials manage this subaccount. */
static void
kw_parent(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct account_parse	*ap = arg;
	const char		*s;
	size_t			 i;

	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	if (!twilio_sid(s, "AC")) {
		perr(p, v->start_mark, "parent: '%s' is not an AccountSid (AC "
		    "followed by 32 hex digits)", show(p, s));
		return;
	}
	memcpy(ap->a->parent, s, SID_LEN + 1);
	for (i = 2; i < SID_LEN; i++)
		ap->a->parent[i] = (char)tolower((unsigned char)
		    ap->a->parent[i]);
	ap->parent = v;
}

/* accounts: a non-empty list; each needs a sid and one primary token. */
static void
kw_accounts(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct config		*conf = arg;
	struct account_parse	*st;
	yaml_node_t		*n;
	char			 where[64];
	size_t			 count, i, j;

	if ((count = sequence_items(p, v, "accounts", NULL,
	    "at least one account is required")) == 0)
		return;
	conf->accounts = xcalloc(count, sizeof(struct account));
	conf->naccounts = count;
	st = xcalloc(count, sizeof(*st));
	free(p->parents);
	free(p->has_parent);
	p->parents = xcalloc(count, sizeof *p->parents);
	p->has_parent = xcalloc(count, sizeof *p->has_parent);
	p->nparents = count;
	for (i = 0; i < count; i++) {
		n = yaml_document_get_node(p->doc,
		    v->data.sequence.items.start[i]);
		snprintf(where, sizeof where, "accounts[%zu]", i);
		st[i].a = &conf->accounts[i];
		parse_mapping(p, n, where, account_keys, &st[i]);
		if (n->type == YAML_MAPPING_NODE && st[i].primary == NULL)
			perr(p, n->start_mark, "%s: missing auth_token_file "
			    "or auth_token_env", where);
		/* Keys are read in any order: pairing is checked afterwards. */
		if (st[i].api_sid != NULL && st[i].api_secret == NULL)
			perr(p, st[i].api_sid->start_mark, "%s: api_key_sid "
			    "needs api_key_secret_file", where);
		else if (st[i].api_secret != NULL && st[i].api_sid == NULL)
			perr(p, st[i].api_secret->start_mark, "%s: "
			    "api_key_secret_file needs api_key_sid", where);
		if (st[i].parent != NULL) {
			p->parents[i] = st[i].parent->start_mark;
			p->has_parent[i] = 1;
		}
		for (j = 0; st[i].sid != NULL && j < i; j++) {
			if (st[j].sid != NULL &&
			    strcmp(st[i].a->sid, st[j].a->sid) == 0) {
				perr(p, st[i].sid->start_mark, "sid: account "
				    "%s is listed twice (first at line %zu)",
				    st[i].a->sid, st[j].sid->start_mark.line + 1);
				break;
			}
		}
	}
	free(st);
}

/* limits: sizes, the request timeout and the connection cap. */
static void
kw_limits(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct config	*conf = arg;

	parse_mapping(p, v, "limits", limit_keys, &conf->limits);
}

/* retention: how long callbacks and rejected requests are kept. */
static void
kw_retention(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct config	*conf = arg;

	parse_mapping(p, v, "retention", retention_keys, &conf->retention);
}

/* reconcile: how often Twilio's record of firings is checked. */
static void
kw_reconcile(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct config	*conf = arg;

	p->reconcile = v;
	parse_mapping(p, v, "reconcile", reconcile_keys, &conf->reconcile);
}

/*
 * reconcile on: it must know which triggers call this daemon (public_url
 * or a trigger's callback_url) and must not recover a firing whose
 * callback may still be on its way (grace below the interval is fine).
 */
static void
check_reconcile(struct parse *p, struct config *conf)
{
	const yaml_node_t	*n = p->reconcile;
	size_t			 i;

	if (n == NULL || conf->reconcile.interval == 0)
		return;
	for (i = 0; i < conf->ntriggers; i++)
		if (conf->triggers[i].callback_url != NULL)
			break;
	if (conf->public_url == NULL && i == conf->ntriggers)
		perr(p, n->start_mark, "reconcile: needs public_url (or a "
		    "trigger with a callback_url) to know which of Twilio's "
		    "triggers call this daemon");
	if (conf->reconcile.max_age <= conf->reconcile.grace)
		perr(p, n->start_mark, "reconcile: max_age (%llds) must be "
		    "longer than grace (%llds)",
		    (long long)conf->reconcile.max_age,
		    (long long)conf->reconcile.grace);
}

/* A readable regular file now: 0, or -1 after saying why not. */
static int
check_readable(struct parse *p, yaml_node_t *v, const char *key,
    const char *path)
{
	struct stat	 sb;
	int		 fd, ret = -1;

	/* O_NONBLOCK: a FIFO named by mistake must not hang start-up. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		perr(p, v->start_mark, "%s %s: cannot read: %s", key,
		    show(p, path), strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1)
		perr(p, v->start_mark, "%s %s: cannot read: %s", key,
		    show(p, path), strerror(errno));
	else if (!S_ISREG(sb.st_mode))
		perr(p, v->start_mark, "%s %s: cannot read: %s", key,
		    show(p, path), S_ISDIR(sb.st_mode) ? strerror(EISDIR) :
		    "not a regular file");
	else
		ret = 0;
	close(fd);
	return ret;
}

/* Each {Name} must be a parameter; "{{" and other braces are text. */
static void
check_template(struct parse *p, const char *key, yaml_node_t *v,
    const char *s)
{
	const struct keyword	*kw;
	const char		*open, *names[KEYWORDS_MAX] = { NULL }, *sug;
	char			*name;
	size_t			 len, n;

	for (open = strchr(s, '{'); open != NULL;
	    open = strchr(open + 1, '{')) {
		if (open[1] == '{') {
			open++;
			continue;
		}
		len = strspn(open + 1, TEMPLATE_NAME);
		if (len == 0 || open[1 + len] != '}' || len >= TEMPLATE_MAX)
			continue;
		for (kw = param_keys; kw->name != NULL; kw++)
			if (strlen(kw->name) == len &&
			    strncmp(kw->name, open + 1, len) == 0)
				break;
		if (kw->name != NULL)
			continue;
		name = xstrndup(open + 1, len);
		n = keyword_names(param_keys, names);
		sug = config_suggest(name, names, n);
		if (sug != NULL)
			perr(p, v->start_mark, "%s: '{%s}' is not a callback "
			    "parameter; did you mean '{%s}'?", key,
			    show(p, name), sug);
		else
			perr(p, v->start_mark, "%s: '{%s}' is not a "
			    "callback parameter (AccountSid, UsageTriggerSid, "
			    "DateFired, Recurring, UsageCategory, TriggerBy, "
			    "TriggerValue, CurrentValue, UsageRecordUri, "
			    "IdempotencyToken)", key, show(p, name));
		free(name);
	}
}

/* true or false, as YAML writes them. */
static int
parse_bool(struct parse *p, const char *name, yaml_node_t *v, int *out)
{
	static const struct {
		const char	*text;
		int		 value;
	} words[] = {
		{ "true", 1 }, { "True", 1 }, { "TRUE", 1 },
		{ "false", 0 }, { "False", 0 }, { "FALSE", 0 },
	};
	const char	*s;
	size_t		 i;

	if ((s = scalar(p, name, v)) == NULL)
		return -1;
	for (i = 0; i < nitems(words); i++) {
		if (strcmp(s, words[i].text) == 0) {
			*out = words[i].value;
			return 0;
		}
	}
	perr(p, v->start_mark, "%s: expected true or false, got '%s'", name,
	    show(p, s));
	return -1;
}

/* rules: tried in order for each callback; names are unique. */
static void
kw_rules(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct config		*conf = arg;
	struct rule_parse	*st;
	yaml_node_t		*n;
	size_t			 count, i, j;

	if ((count = sequence_items(p, v, "rules", NULL, NULL)) == 0)
		return;
	conf->rules = xcalloc(count, sizeof(struct rule));
	conf->nrules = count;
	st = xcalloc(count, sizeof(*st));
	for (i = 0; i < count; i++) {
		n = yaml_document_get_node(p->doc,
		    v->data.sequence.items.start[i]);
		snprintf(st[i].where, sizeof st[i].where, "rules[%zu]", i);
		st[i].r = &conf->rules[i];
		parse_mapping(p, n, st[i].where, rule_keys, &st[i]);
		for (j = 0; st[i].name != NULL && j < i; j++) {
			if (st[j].name != NULL &&
			    strcmp(st[i].r->name, st[j].r->name) == 0) {
				perr(p, st[i].name->start_mark, "name: rule "
				    "'%s' is listed twice (first at line %zu)",
				    st[i].r->name,
				    st[j].name->start_mark.line + 1);
				break;
			}
		}
	}
	free(st);
}

/* name: the rule's key in jobs and logs; letters, digits, '.', '_', '-'. */
static void
kw_rule_name(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct rule_parse	*rp = arg;
	const char		*s;

	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	if (s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-")] != '\0') {
		perr(p, v->start_mark, "name: '%s' may only contain letters, "
		    "digits, '.', '_' and '-'", show(p, s));
		return;
	}
	rp->r->name = xstrdup(s);
	rp->name = v;
}

/* match: Twilio parameter -> value or list of values; all must hold. */
static void
kw_match(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct rule_parse	*rp = arg;
	char			 where[64];
	size_t			 count;

	snprintf(where, sizeof where, "%s.match", rp->where);
	if (v->type == YAML_MAPPING_NODE) {
		count = (size_t)(v->data.mapping.pairs.top -
		    v->data.mapping.pairs.start);
		rp->r->matches = xcalloc(count ? count : 1,
		    sizeof(struct match));
	}
	parse_mapping(p, v, where, param_keys, rp);
}

/* An unknown category or TriggerBy is a warning: the rule would never fire. */
static void
check_vocabulary(struct parse *p, const struct keyword *kw, yaml_node_t *v,
    const struct match_value *mv)
{
	const struct vocabulary	*voc;
	const char		*sug;
	size_t			 i;

	for (voc = vocabularies; voc < vocabularies + nitems(vocabularies);
	    voc++)
		if (kw->flags & voc->flag)
			break;
	if (voc == vocabularies + nitems(vocabularies) ||
	    mv->kind == MATCH_CMP)
		return;
	for (i = 0; i < voc->nwords; i++) {
		if (mv->kind == MATCH_GLOB ?
		    fnmatch(mv->text, voc->words[i], 0) == 0 :
		    strcmp(mv->text, voc->words[i]) == 0)
			return;
	}
	if (mv->kind == MATCH_GLOB) {
		pwarn(p, v->start_mark, "%s '%s' matches %s", kw->name,
		    show(p, mv->text), voc->none);
		return;
	}
	if ((sug = config_suggest(mv->text, voc->words, voc->nwords)) != NULL)
		pwarn(p, v->start_mark, "%s '%s' is not %s; did you mean "
		    "'%s'?", kw->name, show(p, mv->text), voc->is_not, sug);
	else
		pwarn(p, v->start_mark, "%s '%s' is not %s", kw->name,
		    show(p, mv->text), voc->is_not);
}

/* One value of a match: "<op> number", a glob, or exact text. */
static int
parse_match_value(struct parse *p, const struct keyword *kw, yaml_node_t *v,
    struct match_value *mv)
{
	const struct cmp_name	*c;
	const char		*s, *num;

	if ((s = string_value(p, kw->name, v, 1)) == NULL)
		return -1;
	for (c = cmp_names; c->name != NULL; c++)
		if (strncmp(s, c->name, strlen(c->name)) == 0)
			break;
	if (c->name != NULL) {
		if (!(kw->flags & KW_NUMERIC)) {
			perr(p, v->start_mark, "%s: '%s' is a numeric "
			    "comparison; only TriggerValue and CurrentValue "
			    "are numbers", kw->name, show(p, s));
			return -1;
		}
		num = s + strlen(c->name);
		num += strspn(num, " ");
		if (config_parse_number(num, &mv->number) == -1) {
			perr(p, v->start_mark, "%s: '%s' is not a comparison "
			    "(<, <=, >, >=, == or != and a number)", kw->name,
			    show(p, s));
			return -1;
		}
		mv->kind = MATCH_CMP;
		mv->op = c->op;
	} else if (strpbrk(s, "*?[") != NULL)
		mv->kind = MATCH_GLOB;
	else if ((kw->flags & KW_NUMERIC) && !config_trigger_value_ok(s)) {
		/* "=> 500", "500+": a comparison that would never match. */
		perr(p, v->start_mark, "%s: '%s' is not a number or a "
		    "comparison (<, <=, >, >=, == or != and a number, as in "
		    "\">= 500\")", kw->name, show(p, s));
		return -1;
	} else
		mv->kind = MATCH_EXACT;
	mv->text = xstrdup(s);
	check_vocabulary(p, kw, v, mv);
	return 0;
}

/* A match key: one value or a non-empty list of them (any of). */
static void
kw_param(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct rule_parse	*rp = arg;
	struct match		*m;
	yaml_node_item_t	*item;
	size_t			 count = 1;

	if (v->type == YAML_SEQUENCE_NODE) {
		count = (size_t)(v->data.sequence.items.top -
		    v->data.sequence.items.start);
		if (count == 0) {
			perr(p, v->start_mark, "%s: expected at least one "
			    "value", kw->name);
			return;
		}
	} else if (v->type != YAML_SCALAR_NODE || is_null(v)) {
		perr(p, v->start_mark, "%s: expected a string or a sequence "
		    "of strings, got %s", kw->name, node_kind(v));
		return;
	}
	m = &rp->r->matches[rp->r->nmatches++];
	m->param = xstrdup(kw->name);
	m->values = xcalloc(count, sizeof(struct match_value));
	if (v->type == YAML_SCALAR_NODE) {
		if (parse_match_value(p, kw, v, &m->values[0]) == 0)
			m->nvalues++;
		return;
	}
	for (item = v->data.sequence.items.start;
	    item < v->data.sequence.items.top; item++)
		if (parse_match_value(p, kw, yaml_document_get_node(p->doc,
		    *item), &m->values[m->nvalues]) == 0)
			m->nvalues++;
}

/* Each option given must be valid for the kind, known only at the end. */
static void
check_action_options(struct parse *p, const struct action_parse *ap)
{
	const struct keyword	*kw, *kind;
	char			 valid[64];

	for (kw = action_keys; kw->name != NULL; kw++) {
		if (ap->keys[kw - action_keys] == NULL ||
		    (kw->flags & KW_FOR(ap->a->kind)))
			continue;
		valid[0] = '\0';
		for (kind = action_keys; kind->flags & KW_KIND; kind++) {
			if (!(kw->flags & kind->flags & KW_FOR_ALL))
				continue;
			if (valid[0] != '\0')
				strncat(valid, ", ", sizeof valid -
				    strlen(valid) - 1);
			strncat(valid, kind->name, sizeof valid -
			    strlen(valid) - 1);
		}
		perr(p, ap->keys[kw - action_keys]->start_mark, "%s: not "
		    "valid for %s actions (only for %s)", kw->name,
		    key_name(ap->kind), valid);
	}
}

/* The index of end_calls in action_keys. */
static size_t
end_calls_key(void)
{
	const struct keyword	*kw;

	for (kw = action_keys; strcmp(kw->name, "end_calls") != 0; kw++)
		;
	return (size_t)(kw - action_keys);
}

/* actions: what a matching callback does, each run as a job of the outbox. */
static void
kw_actions(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct rule_parse	*rp = arg;
	struct action_parse	 ap;
	yaml_node_t		*n;
	char			 where[64];
	size_t			 count, i;
	int			 nerrors;

	if ((count = sequence_items(p, v, "actions", NULL,
	    "at least one action is required")) == 0)
		return;
	rp->r->actions = xcalloc(count, sizeof(struct action));
	rp->r->nactions = count;
	for (i = 0; i < count; i++) {
		n = yaml_document_get_node(p->doc,
		    v->data.sequence.items.start[i]);
		snprintf(where, sizeof where, "%s.actions[%zu]", rp->where, i);
		memset(&ap, 0, sizeof ap);
		ap.a = &rp->r->actions[i];
		/* max_attempts stays 0: dispatch (maybe below) has it. */
		ap.a->timeout_ms = DEFAULT_ACTION_TIMEOUT;
		nerrors = p->nerrors;
		parse_mapping(p, n, where, action_keys, &ap);
		if (n->type != YAML_MAPPING_NODE)
			continue;
		if (ap.kind == NULL)
			perr(p, n->start_mark, "%s: needs one of exec, http, "
			    "append, log or twilio", where);
		else {
			check_action_options(p, &ap);
			check_secret_over_http(p, &ap);
		}
		if (ap.kind != NULL && ap.a->kind == ACTION_HTTP)
			check_body(p, &ap);
		if (ap.kind != NULL && ap.a->kind == ACTION_TWILIO &&
		    ap.a->twilio == TWILIO_ACTIVATE && ap.a->end_calls)
			perr(p, ap.keys[end_calls_key()]->start_mark,
			    "end_calls: only with twilio: suspend (an active "
			    "account's calls are its business)");
		/* An action already refused gets no second message. */
		if (ap.kind != NULL && ap.a->kind == ACTION_TWILIO &&
		    p->nerrors == nerrors) {
			struct twilio_check *tc;

			if (ap.a->account == NULL)
				ap.a->account = xstrdup("{AccountSid}");
			p->tcs = xreallocarray(p->tcs, p->ntcs + 1,
			    sizeof *p->tcs);
			tc = &p->tcs[p->ntcs++];
			memset(tc, 0, sizeof *tc);
			tc->r = rp->r;
			tc->action = i;
			tc->mark = ap.kind->start_mark;
			if (ap.account != NULL) {
				tc->account = ap.account->start_mark;
				tc->has_account = 1;
			}
		}
	}
}

/* continue: true to try the later rules after this one matched. */
static void
kw_continue(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct rule_parse	*rp = arg;

	parse_bool(p, kw->name, v, &rp->r->cont);
}

/* Claim the action's kind; a second kind key is an error. */
static int
claim_kind(struct parse *p, yaml_node_t *k, struct action_parse *ap,
    enum action_kind kind)
{
	if (ap->kind != NULL) {
		perr(p, k->start_mark, "%s: give only one of exec, http, "
		    "append, log and twilio (already set by %s at line %zu)",
		    key_name(k), key_name(ap->kind),
		    ap->kind->start_mark.line + 1);
		return -1;
	}
	ap->kind = k;
	ap->a->kind = kind;
	return 0;
}

/* The program of an exec action: absolute, and executable right now. */
static void
check_program(struct parse *p, yaml_node_t *v, const char *s)
{
	struct stat	sb;

	if (s[0] != '/') {
		perr(p, v->start_mark, "exec: '%s' must be an absolute path "
		    "(there is no PATH search)", show(p, s));
		return;
	}
	if (stat(s, &sb) == -1)
		perr(p, v->start_mark, "exec %s: cannot execute: %s",
		    show(p, s), strerror(errno));
	else if (!S_ISREG(sb.st_mode))
		perr(p, v->start_mark, "exec %s: cannot execute: %s",
		    show(p, s), S_ISDIR(sb.st_mode) ? strerror(EISDIR) :
		    "not a regular file");
	else if (access(s, X_OK) == -1)
		perr(p, v->start_mark, "exec %s: cannot execute: %s",
		    show(p, s), strerror(errno));
}

/* exec: [program, arg, ...] run without a shell; args may be templates. */
static void
kw_exec(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct action_parse	*ap = arg;
	struct action		*a = ap->a;
	yaml_node_t		*n;
	const char		*s;
	size_t			 count, i;

	if (claim_kind(p, k, ap, ACTION_EXEC) == -1)
		return;
	if ((count = sequence_items(p, v, "exec",
	    "a sequence (program and arguments)",
	    "needs at least the program to run")) == 0)
		return;
	a->argv = xcalloc(count + 1, sizeof(char *));
	for (i = 0; i < count; i++) {
		n = yaml_document_get_node(p->doc,
		    v->data.sequence.items.start[i]);
		/* An empty argument is an argument; an empty program is not. */
		if ((s = string_value(p, kw->name, n, i > 0)) == NULL)
			continue;
		if (i == 0)
			check_program(p, n, s);
		check_template(p, kw->name, n, s);
		a->argv[a->argc++] = xstrdup(s);
	}
}

/*
 * The first byte of the path and query that libevent's URI parser refuses
 * ({ } | < > " ^ ` \\ [ ] and bytes above 0x7f must be percent-encoded; a
 * '%' must start %XX), as a message in buf, or NULL when there is none.
 */
static const char *
url_path_error(const char *s, const char *path, char *buf, size_t len)
{
	const char	*c;

	for (c = path; *c != '\0'; c++) {
		if (isalnum((unsigned char)*c) ||
		    strchr("-._~!$&'()*+,;=:@/?", *c) != NULL)
			continue;
		if (*c == '%' && isxdigit((unsigned char)c[1]) &&
		    isxdigit((unsigned char)c[2])) {
			c += 2;
			continue;
		}
		if (*c == '%')
			snprintf(buf, len, "its '%%' at character %zu does not "
			    "start a %%XX escape (write %%25 for a '%%')",
			    (size_t)(c - s) + 1);
		else if ((unsigned char)*c < 0x80)
			snprintf(buf, len, "its '%c' at character %zu is not "
			    "allowed in a URL: write it as %%%02X", *c,
			    (size_t)(c - s) + 1, (unsigned char)*c);
		else
			snprintf(buf, len, "its byte 0x%02x at character %zu "
			    "is not allowed in a URL: write it as %%%02X",
			    (unsigned char)*c, (size_t)(c - s) + 1,
			    (unsigned char)*c);
		return buf;
	}
	return NULL;
}

/* Why s is not an http(s)://host[:port][/path][?query] URL, or NULL. */
static const char *
url_error(const char *s)
{
	/* Static: the message may quote the bad character. */
	static char	 buf[128];
	struct evhttp_uri *uri;
	const char	*rest, *c, *why;
	char		*host;
	size_t		 len;

	if (strncasecmp(s, "https://", 8) == 0)
		rest = s + 8;
	else if (strncasecmp(s, "http://", 7) == 0)
		rest = s + 7;
	else
		return "the scheme must be http:// or https://";
	for (c = s; *c != '\0'; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return "it has spaces or control characters";
	if (strchr(s, '#') != NULL)
		return "it has a fragment";
	len = strcspn(rest, "/?");
	if (memchr(rest, '@', len) != NULL)
		return "it has user information (use headers with a file "
		    "for credentials)";
	host = xstrndup(rest, len);
	why = hostport_error(host, 0);
	free(host);
	if (why != NULL)
		return why;
	if ((why = url_path_error(s, rest + len, buf, sizeof buf)) != NULL)
		return why;
	/* What the http action will do with it: it must parse there. */
	if ((uri = evhttp_uri_parse(s)) == NULL)
		return "libevent cannot parse it";
	evhttp_uri_free(uri);
	return NULL;
}

/* 1 if the URL's host is a loopback address or localhost. */
static int
url_loopback(const char *url)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;
	const char	*rest = strstr(url, "://");
	char		*host;
	int		 lo = 0;

	rest = rest != NULL ? rest + 3 : url;
	if (*rest == '[')
		host = xstrndup(rest + 1, strcspn(rest + 1, "]"));
	else
		host = xstrndup(rest, strcspn(rest, ":/?"));
	if (strcasecmp(host, "localhost") == 0)
		lo = 1;
	else if (inet_pton(AF_INET, host, &a4) == 1)
		lo = (ntohl(a4.s_addr) >> 24) == 127;
	else if (inet_pton(AF_INET6, host, &a6) == 1)
		lo = IN6_IS_ADDR_LOOPBACK(&a6);
	free(host);
	return lo;
}

/*
 * A secret header (file:) for a plain http:// URL crosses the network in
 * clear text: a warning (loopback, where nothing leaves the host, is fine).
 */
static void
check_secret_over_http(struct parse *p, const struct action_parse *ap)
{
	const struct keyword	*kw;
	const struct action	*a = ap->a;
	size_t			 i;

	if (a->kind != ACTION_HTTP || a->url == NULL ||
	    strncasecmp(a->url, "http://", 7) != 0 || url_loopback(a->url))
		return;
	for (kw = action_keys; kw->name != NULL; kw++)
		if (strcmp(kw->name, "headers") == 0)
			break;
	for (i = 0; i < a->nheaders; i++) {
		if (a->headers[i].file == NULL || kw->name == NULL ||
		    ap->keys[kw - action_keys] == NULL)
			continue;
		pwarn(p, ap->keys[kw - action_keys]->start_mark, "headers %s: "
		    "a secret read from %s is sent to %s in clear text; use "
		    "https://", show(p, a->headers[i].name),
		    show(p, a->headers[i].file), show(p, a->url));
	}
}

/* http: POST the callback as JSON to this URL. */
static void
kw_http(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct action_parse	*ap = arg;
	const char		*s, *why;

	if (claim_kind(p, k, ap, ACTION_HTTP) == -1)
		return;
	/* A URL with a secret in it (Slack's) comes from a file. */
	if (v->type == YAML_MAPPING_NODE) {
		parse_mapping(p, v, "http", url_file_keys, ap);
		return;
	}
	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	if ((why = url_error(s)) != NULL) {
		perr(p, v->start_mark, "http: '%s' is not an http:// or "
		    "https:// URL: %s", show(p, s), why);
		return;
	}
	ap->a->url = xstrdup(s);
}

/* http: {file: PATH}: the URL is read from PATH at each attempt. */
static void
kw_url_file(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct action_parse	*ap = arg;
	const char		*s;
	char			*path;
	int			 expanded;

	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	/* A secret like a token: $CREDENTIALS_DIRECTORY/ works here too. */
	if ((path = secret_path(p, "http file", v, s, &expanded)) == NULL)
		return;
	if (check_readable(p, v, "http file", path) == -1) {
		free(path);
		return;
	}
	free(ap->a->url_file);
	ap->a->url_file = path;
}

/* body: a {Param} template sent instead of the callback's JSON. */
static void
kw_body(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct action_parse	*ap = arg;
	const char		*s;

	ap->keys[kw - action_keys] = k;
	if ((s = string_value(p, kw->name, v, 1)) == NULL)
		return;
	if (strlen(s) > BODY_TEMPLATE_MAX) {
		perr(p, v->start_mark, "body: longer than %d bytes",
		    BODY_TEMPLATE_MAX);
		return;
	}
	check_template(p, kw->name, v, s);
	free(ap->a->body);
	ap->a->body = xstrdup(s);
	ap->body = v;
}

/* content_type: of the body; it says how each {Param} is escaped. */
static void
kw_content_type(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct action_parse	*ap = arg;
	const char		*s, *c;

	ap->keys[kw - action_keys] = k;
	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	for (c = s; *c != '\0'; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			perr(p, v->start_mark, "content_type: the value "
			    "contains line breaks or control characters");
			return;
		}
	}
	if (body_escape_for(s, &ap->a->escape) == -1) {
		perr(p, v->start_mark, "content_type: '%s': usagehookd knows "
		    "how to escape values for application/json (and "
		    "*/*+json), application/x-www-form-urlencoded and text/*",
		    show(p, s));
		ap->bad_type = 1;
		return;
	}
	free(ap->a->content_type);
	ap->a->content_type = xstrdup(s);
}

/* A JSON body template must stay JSON whatever the values are. */
static void
check_body(struct parse *p, struct action_parse *ap)
{
	struct params	 sample = { NULL, 0, 0, NULL };
	const struct keyword *kw;
	struct jv	*doc;
	char		*filled, *err = NULL;

	if (ap->a->body == NULL || ap->body == NULL || ap->bad_type ||
	    ap->a->escape != ESCAPE_JSON)
		return;
	/* Every parameter holds what only a JSON string can take. */
	for (kw = param_keys; kw->name != NULL; kw++)
		if (params_add(&sample, kw->name, strlen(kw->name),
		    "\"\\\n\xc3\xa9", 5) == -1)
			fatalx("out of memory");
	if ((filled = body_expand(ap->a->body, &sample, ESCAPE_JSON)) == NULL)
		fatalx("out of memory");
	if ((doc = jv_parse(filled, strlen(filled), &err)) == NULL) {
		perr(p, ap->body->start_mark, "body: not valid JSON once its "
		    "placeholders are filled (%s); put each {Param} inside a "
		    "JSON string (\"...{Param}...\"), or set content_type",
		    err != NULL ? err : "?");
		free(err);
	}
	jv_free(doc);
	free(filled);
	params_free(&sample);
}

/* twilio: suspend or activate an account as its parent. */
static void
kw_twilio(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct action_parse	*ap = arg;
	const char		*s;

	if (claim_kind(p, k, ap, ACTION_TWILIO) == -1 ||
	    (s = scalar(p, kw->name, v)) == NULL)
		return;
	if (strcmp(s, "suspend") == 0)
		ap->a->twilio = TWILIO_SUSPEND;
	else if (strcmp(s, "activate") == 0)
		ap->a->twilio = TWILIO_ACTIVATE;
	else
		perr(p, v->start_mark, "twilio: '%s' is not suspend or "
		    "activate", show(p, s));
}

/* account: whose status a twilio action sets: "{AccountSid}" or AC... */
static void
kw_twilio_account(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct action_parse	*ap = arg;
	const char		*s;

	ap->keys[kw - action_keys] = k;
	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	if (strcmp(s, "{AccountSid}") != 0 && !twilio_sid(s, "AC")) {
		perr(p, v->start_mark, "account: '%s' is not \"{AccountSid}\" "
		    "(the callback's account) or an AccountSid", show(p, s));
		return;
	}
	free(ap->a->account);
	ap->a->account = xstrdup(s);
	/* Stored as Twilio sends SIDs: lower-case hex. */
	if (s[0] == 'A')
		for (char *c = ap->a->account + 2; *c != '\0'; c++)
			*c = (char)tolower((unsigned char)*c);
	ap->account = v;
}

/* end_calls: after a suspend, complete the account's calls in progress. */
static void
kw_end_calls(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct action_parse	*ap = arg;

	ap->keys[kw - action_keys] = k;
	parse_bool(p, kw->name, v, &ap->a->end_calls);
}

/* append: a JSON-lines file, relative to the config, in an existing directory. */
static void
kw_append(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct action_parse	*ap = arg;
	struct stat		 sb;
	const char		*s;
	char			*path, *dir, *slash;

	if (claim_kind(p, k, ap, ACTION_APPEND) == -1 ||
	    (s = scalar(p, kw->name, v)) == NULL)
		return;
	path = resolve_path(p, s);
	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	slash[slash == dir ? 1 : 0] = '\0';
	if (stat(dir, &sb) == -1) {
		perr(p, v->start_mark, "append %s: directory %s: %s",
		    show(p, path), show(p, dir), strerror(errno));
		goto bad;
	}
	if (!S_ISDIR(sb.st_mode)) {
		perr(p, v->start_mark, "append %s: %s is not a directory",
		    show(p, path), show(p, dir));
		goto bad;
	}
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		perr(p, v->start_mark, "append %s: %s", show(p, path),
		    strerror(EISDIR));
		goto bad;
	}
	free(dir);
	ap->a->path = path;
	return;
 bad:
	free(dir);
	free(path);
}

/* log: a {Param} template logged at info level. */
static void
kw_log(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct action_parse	*ap = arg;
	const char		*s;

	if (claim_kind(p, k, ap, ACTION_LOG) == -1 ||
	    (s = scalar(p, kw->name, v)) == NULL)
		return;
	check_template(p, kw->name, v, s);
	ap->a->template = xstrdup(s);
}

/* timeout, max_attempts: numbers of the action. */
static void
kw_action_number(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct action_parse	*ap = arg;

	ap->keys[kw - action_keys] = k;
	set_number(p, kw, v, ap->a);
}

/* Whether s is an HTTP header name (RFC 9110 token). */
static int
valid_header_name(const char *s)
{
	return *s != '\0' && s[strspn(s, "!#$%&'*+-.^_`|~0123456789"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")] == '\0';
}

/* One header: name -> value, or name -> {file: PATH} for a secret. */
static void
parse_header(struct parse *p, yaml_node_t *k, yaml_node_t *v,
    struct action_header *h)
{
	const char	*name = key_name(k), *s, *c;
	char		 where[128];
	size_t		 i;

	if (!valid_header_name(name)) {
		perr(p, k->start_mark, "headers: '%s' is not a header name",
		    show(p, name));
		return;
	}
	for (i = 0; i < nitems(reserved_headers); i++) {
		if (strcasecmp(name, reserved_headers[i]) == 0) {
			perr(p, k->start_mark, "headers: %s is set by "
			    "usagehookd", reserved_headers[i]);
			return;
		}
	}
	h->name = xstrdup(name);
	if (v->type == YAML_MAPPING_NODE) {
		snprintf(where, sizeof where, "headers %s", show(p, name));
		parse_mapping(p, v, where, header_keys, h);
		return;
	}
	if (v->type != YAML_SCALAR_NODE || is_null(v)) {
		perr(p, v->start_mark, "headers %s: expected a string or "
		    "{file: PATH}, got %s", show(p, name), node_kind(v));
		return;
	}
	if ((s = scalar(p, name, v)) == NULL)
		return;
	for (c = s; *c != '\0'; c++) {
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f) {
			perr(p, v->start_mark, "headers %s: the value contains "
			    "line breaks or control characters",
			    show(p, name));
			return;
		}
	}
	h->value = xstrdup(s);
}

/* headers: extra request headers of an http action. */
static void
kw_headers(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct action_parse	*ap = arg;
	struct action		*a = ap->a;
	yaml_node_pair_t	*pair, *prev;
	yaml_node_t		*hk, *pk;
	size_t			 count;

	ap->keys[kw - action_keys] = k;
	if (v->type != YAML_MAPPING_NODE) {
		perr(p, v->start_mark, "headers: expected a mapping, got %s",
		    node_kind(v));
		return;
	}
	count = (size_t)(v->data.mapping.pairs.top -
	    v->data.mapping.pairs.start);
	if (count == 0)
		return;
	a->headers = xcalloc(count, sizeof(struct action_header));
	for (pair = v->data.mapping.pairs.start;
	    pair < v->data.mapping.pairs.top; pair++) {
		hk = yaml_document_get_node(p->doc, pair->key);
		if (hk->type != YAML_SCALAR_NODE) {
			perr(p, hk->start_mark, "keys must be strings, got %s",
			    node_kind(hk));
			continue;
		}
		/* Header names are case-insensitive: X-Key and x-key clash. */
		for (prev = v->data.mapping.pairs.start; prev < pair; prev++) {
			pk = yaml_document_get_node(p->doc, prev->key);
			if (pk->type == YAML_SCALAR_NODE &&
			    strcasecmp(key_name(pk), key_name(hk)) == 0)
				break;
		}
		if (prev < pair) {
			perr(p, hk->start_mark, "duplicate header '%s' (first "
			    "at line %zu)", show(p, key_name(hk)),
			    pk->start_mark.line + 1);
			continue;
		}
		parse_header(p, hk, yaml_document_get_node(p->doc,
		    pair->value), &a->headers[a->nheaders++]);
	}
}

/* file: a secret header value, read at each attempt; readable now. */
static void
kw_header_file(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct action_header	*h = arg;
	const char		*s;
	char			*path;

	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	path = resolve_path(p, s);
	if (check_readable(p, v, kw->name, path) == -1) {
		free(path);
		return;
	}
	h->file = path;
}

/* ca_file: PEM certificates to verify the server with, not the system's. */
static void
kw_ca_file(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct action_parse	*ap = arg;
	const char		*s;
	char			*path;

	ap->keys[kw - action_keys] = k;
	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	path = resolve_path(p, s);
	if (check_readable(p, v, kw->name, path) == -1) {
		free(path);
		return;
	}
	free(ap->a->ca_file);
	ap->a->ca_file = path;
}

/* dispatch: how the outbox runs jobs: concurrency, retries and backoff. */
static void
kw_dispatch(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct config	*conf = arg;
	int		 nerrors = p->nerrors;

	parse_mapping(p, v, "dispatch", dispatch_keys, &conf->dispatch);
	p->dispatch = v;
	if (p->nerrors == nerrors &&
	    conf->dispatch.backoff_ms > conf->dispatch.max_backoff_ms)
		perr(p, v->start_mark, "dispatch: backoff must not be longer "
		    "than max_backoff (default 30m)");
}

/* triggers: the UsageTriggers `usagehookctl triggers apply` keeps on Twilio. */
static void
kw_triggers(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct config		*conf = arg;
	struct trigger_parse	*st;
	yaml_node_t		*n;
	size_t			 count, i, j;

	if ((count = sequence_items(p, v, "triggers", NULL, NULL)) == 0)
		return;
	conf->triggers = xcalloc(count, sizeof(struct trigger));
	conf->ntriggers = count;
	st = xcalloc(count, sizeof(*st));
	for (i = 0; i < count; i++) {
		n = yaml_document_get_node(p->doc,
		    v->data.sequence.items.start[i]);
		snprintf(st[i].where, sizeof st[i].where, "triggers[%zu]", i);
		st[i].t = &conf->triggers[i];
		st[i].node = n;
		parse_mapping(p, n, st[i].where, trigger_keys, &st[i]);
		for (j = 0; st[i].name != NULL && j < i; j++) {
			if (st[j].name != NULL &&
			    strcmp(st[i].t->name, st[j].t->name) == 0) {
				perr(p, st[i].name->start_mark, "name: trigger "
				    "'%s' is listed twice (first at line %zu); "
				    "the name is the key of plan and apply",
				    show(p, st[i].t->name),
				    st[j].name->start_mark.line + 1);
				break;
			}
		}
	}
	p->tps = st;
	p->ntps = count;
}

/* name: the FriendlyName, which plan and apply match triggers by. */
static void
kw_trigger_name(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct trigger_parse	*tp = arg;
	const char		*s, *c;
	size_t			 chars = 0;

	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	for (c = s; *c != '\0'; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			perr(p, v->start_mark, "name: '%s' contains control "
			    "characters", show(p, s));
			return;
		}
		if (((unsigned char)*c & 0xc0) != 0x80)
			chars++;
	}
	if (chars > FRIENDLY_NAME_MAX) {
		perr(p, v->start_mark, "name: '%s' is longer than Twilio's "
		    "%d characters for a FriendlyName", show(p, s),
		    FRIENDLY_NAME_MAX);
		return;
	}
	tp->t->name = xstrdup(s);
	tp->name = v;
}

/* usage_category: one Twilio lists; anything else it would refuse. */
static void
kw_trigger_category(struct parse *p, const struct keyword *kw,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct trigger_parse	*tp = arg;
	const char		*s, *sug;
	size_t			 i;

	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	for (i = 0; i < nitems(categories); i++)
		if (strcmp(s, categories[i]) == 0)
			break;
	if (i == nitems(categories)) {
		if ((sug = config_suggest(s, categories, nitems(categories)))
		    != NULL)
			perr(p, v->start_mark, "usage_category: '%s' is not a "
			    "Twilio usage category; did you mean '%s'?",
			    show(p, s), sug);
		else
			perr(p, v->start_mark, "usage_category: '%s' is not a "
			    "Twilio usage category", show(p, s));
		return;
	}
	tp->t->usage_category = xstrdup(s);
}

/* 1 if s is a trigger value: digits, maybe a fraction, maybe a leading '+'. */
int
config_trigger_value_ok(const char *s)
{
	size_t	n;

	if (*s == '+')
		s++;
	if ((n = strspn(s, "0123456789")) == 0)
		return 0;
	s += n;
	if (*s == '.') {
		if ((n = strspn(s + 1, "0123456789")) == 0)
			return 0;
		s += 1 + n;
	}
	return *s == '\0';
}

/* trigger_value: a number, or "+N" for N more than the usage at creation. */
static void
kw_trigger_value(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct trigger_parse	*tp = arg;
	const char		*s;

	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	if (!config_trigger_value_ok(s)) {
		perr(p, v->start_mark, "trigger_value: '%s' is not a positive "
		    "number (as in 100 or 2.50) or an offset from the current "
		    "usage (as in +30)", show(p, s));
		return;
	}
	tp->t->trigger_value = xstrdup(s);
}

/* trigger_by, recurring, callback_method: one of Twilio's words. */
static void
kw_trigger_choice(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct trigger_parse	*tp = arg;
	const struct choice	*ch;
	const char		*s, *sug;
	char			**field;
	size_t			 i;

	for (ch = choices; !(ch->flag & kw->flags); ch++)
		;
	field = (char **)(void *)((char *)tp->t + ch->offset);
	if (ch->empty && is_null(v)) {
		free(*field);
		*field = xstrdup("");
		return;
	}
	if ((s = string_value(p, kw->name, v, ch->empty)) == NULL)
		return;
	for (i = 0; i < ch->nwords; i++)
		if (ch->upper ? strcasecmp(s, ch->words[i]) == 0 :
		    strcmp(s, ch->words[i]) == 0)
			break;
	if (*s != '\0' && i == ch->nwords) {
		if ((sug = config_suggest(s, ch->words, ch->nwords)) != NULL)
			perr(p, v->start_mark, "%s: '%s' is not one of %s; "
			    "did you mean '%s'?", kw->name, show(p, s),
			    ch->list, sug);
		else
			perr(p, v->start_mark, "%s: '%s' is not one of %s",
			    kw->name, show(p, s), ch->list);
		return;
	}
	free(*field);
	*field = xstrdup(*s == '\0' ? "" : ch->words[i]);
}

/* callback_url: where Twilio calls; default public_url + path. */
static void
kw_callback_url(struct parse *p, const struct keyword *kw, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct trigger_parse	*tp = arg;
	const char		*s, *why;

	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	if ((why = url_error(s)) != NULL) {
		perr(p, v->start_mark, "callback_url: '%s' is not an http:// "
		    "or https:// URL: %s", show(p, s), why);
		return;
	}
	tp->t->callback_url = xstrdup(s);
}

/* account: the AccountSid that owns the trigger; one of accounts. */
static void
kw_trigger_account(struct parse *p, const struct keyword *kw,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct trigger_parse	*tp = arg;
	const char		*s;
	size_t			 i;

	if ((s = scalar(p, kw->name, v)) == NULL)
		return;
	if (!twilio_sid(s, "AC")) {
		perr(p, v->start_mark, "account: '%s' is not an AccountSid "
		    "(AC followed by 32 hex digits)", show(p, s));
		return;
	}
	for (i = 0; i < SID_LEN + 1; i++)
		tp->t->account[i] = (char)tolower((unsigned char)s[i]);
	tp->t->account[0] = 'A';
	tp->t->account[1] = 'C';
	tp->account = v;
}

/* Whether the action's timeout bounds it (append and log need none). */
static int
action_timed(const struct action *a)
{
	return a->kind != ACTION_APPEND && a->kind != ACTION_LOG;
}

/*
 * An explicit dispatch.lease must outlast every action: a job still
 * running when its lease ends would run again on another instance.
 */
static void
check_lease(struct parse *p, struct config *conf)
{
	const struct action	*a;
	size_t			 i, j;

	if (conf->dispatch.lease_ms == 0 || p->dispatch == NULL)
		return;
	for (i = 0; i < conf->nrules; i++)
		for (j = 0; j < conf->rules[i].nactions; j++) {
			a = &conf->rules[i].actions[j];
			if (!action_timed(a) ||
			    a->timeout_ms < conf->dispatch.lease_ms)
				continue;
			perr(p, p->dispatch->start_mark, "dispatch: lease "
			    "(%lldms) must be longer than the timeout of rule "
			    "%s action %zu (%dms): a job still running would "
			    "run again on another instance",
			    (long long)conf->dispatch.lease_ms,
			    conf->rules[i].name, j + 1, a->timeout_ms);
			return;
		}
}

/* Trigger defaults from keys that may come later: URL, account, words. */
static void
check_triggers(struct parse *p, struct config *conf)
{
	struct trigger_parse	*tp;
	struct trigger		*t;
	size_t			 i;

	for (i = 0; i < p->ntps; i++) {
		tp = &p->tps[i];
		t = tp->t;
		if (t->trigger_by == NULL)
			t->trigger_by = xstrdup(DEFAULT_TRIGGER_BY);
		if (t->recurring == NULL)
			t->recurring = xstrdup("");
		if (t->callback_method == NULL)
			t->callback_method = xstrdup(DEFAULT_CALLBACK_METHOD);
		if (tp->node->type != YAML_MAPPING_NODE)
			continue;
		if (t->callback_url == NULL && conf->public_url != NULL)
			xasprintf(&t->callback_url, "%s%s", conf->public_url,
			    conf->path);
		else if (t->callback_url == NULL)
			perr(p, tp->node->start_mark, "%s: no callback_url, and "
			    "no public_url to make the default (public_url + "
			    "path) from", tp->where);
		if (tp->account != NULL) {
			if (config_account(conf, t->account) == NULL)
				perr(p, tp->account->start_mark, "account: %s "
				    "is not one of accounts", t->account);
		} else if (conf->naccounts > 0)
			memcpy(t->account, conf->accounts[0].sid, SID_LEN + 1);
	}
}

/* Parents are listed accounts and end at a top account (no cycle). */
static void
check_parents(struct parse *p, struct config *conf)
{
	const struct account	*a;
	size_t			 i, hops;

	for (i = 0; i < conf->naccounts && i < p->nparents; i++) {
		if (!p->has_parent[i])
			continue;
		a = &conf->accounts[i];
		if (strcmp(a->parent, a->sid) == 0) {
			perr(p, p->parents[i], "parent: account %s cannot be "
			    "its own parent", a->sid);
			continue;
		}
		if (config_account(conf, a->parent) == NULL) {
			perr(p, p->parents[i], "parent: %s is not one of "
			    "accounts (the parent's credentials manage the "
			    "subaccount, so list the parent too)", a->parent);
			continue;
		}
		for (hops = 0; a != NULL && a->parent[0] != '\0' &&
		    hops <= conf->naccounts; hops++)
			a = config_account(conf, a->parent);
		if (hops > conf->naccounts)
			perr(p, p->parents[i], "parent: accounts[%zu] (%s) is "
			    "in a cycle of parents", i, conf->accounts[i].sid);
	}
}

/* The exact AccountSid values a rule's match allows, or NULL (any). */
static const struct match *
account_match(const struct rule *r)
{
	size_t	i, j;

	for (i = 0; i < r->nmatches; i++) {
		if (strcmp(r->matches[i].param, "AccountSid") != 0)
			continue;
		for (j = 0; j < r->matches[i].nvalues; j++)
			if (r->matches[i].values[j].kind != MATCH_EXACT)
				return NULL;
		return &r->matches[i];
	}
	return NULL;
}

/* Why a twilio action may not act on sid, or NULL when it may. */
static const char *
twilio_target_error(const struct config *conf, const char *sid)
{
	const struct account	*a;
	char			 low[SID_LEN + 1];
	size_t			 i;

	snprintf(low, sizeof low, "%s", sid);
	for (i = 2; i < SID_LEN && low[i] != '\0'; i++)
		low[i] = (char)tolower((unsigned char)low[i]);
	if ((a = config_account(conf, low)) == NULL)
		return "is not one of accounts";
	if (a->parent[0] == '\0')
		return "has no parent (a twilio action acts only on a "
		    "subaccount, with its parent's credentials)";
	return NULL;
}

/* Every account a twilio action can reach must have a parent. */
static void
check_twilio_actions(struct parse *p, struct config *conf)
{
	const struct twilio_check	*tc;
	const struct action		*act;
	const struct match		*m;
	const char			*why;
	size_t				 i, j;

	for (i = 0; i < p->ntcs; i++) {
		tc = &p->tcs[i];
		act = &tc->r->actions[tc->action];
		if (act->account != NULL &&
		    strcmp(act->account, "{AccountSid}") != 0) {
			if ((why = twilio_target_error(conf, act->account)) !=
			    NULL)
				perr(p, tc->has_account ? tc->account :
				    tc->mark, "account: %s %s", act->account,
				    why);
			continue;
		}
		/* {AccountSid}: the accounts whose callbacks the rule takes. */
		if ((m = account_match(tc->r)) != NULL) {
			for (j = 0; j < m->nvalues; j++)
				if ((why = twilio_target_error(conf,
				    m->values[j].text)) != NULL)
					perr(p, tc->has_account ? tc->account
					    : tc->mark, "twilio: rule %s "
					    "matches AccountSid %s, which %s",
					    tc->r->name ? tc->r->name : "?",
					    m->values[j].text, why);
			continue;
		}
		for (j = 0; j < conf->naccounts; j++) {
			if (conf->accounts[j].parent[0] != '\0')
				continue;
			perr(p, tc->has_account ? tc->account : tc->mark,
			    "twilio: rule %s can fire for account %s, which "
			    "has no parent: match AccountSid to the "
			    "subaccounts it may act on, or name one in account:",
			    tc->r->name ? tc->r->name : "?",
			    conf->accounts[j].sid);
			break;
		}
	}
}

/* An allocated config with every default set, like settings_init(). */
static struct config *
config_new(void)
{
	struct config	*conf;

	conf = xcalloc(1, sizeof(*conf));
	conf->listen = xstrdup(DEFAULT_LISTEN);
	conf->path = xstrdup(DEFAULT_PATH);
	conf->limits.max_body = DEFAULT_MAX_BODY;
	conf->limits.max_header = DEFAULT_MAX_HEADER;
	conf->limits.request_timeout = DEFAULT_TIMEOUT;
	conf->limits.max_connections = DEFAULT_MAX_CONN;
	conf->retention.callbacks = DEFAULT_KEEP_CALLBACKS;
	conf->retention.rejected = DEFAULT_KEEP_REJECTED;
	conf->reconcile.grace = DEFAULT_RECONCILE_GRACE;
	conf->reconcile.max_age = DEFAULT_RECONCILE_AGE;
	conf->dispatch.concurrency = DEFAULT_CONCURRENCY;
	conf->dispatch.per_rule = DEFAULT_PER_RULE;
	conf->dispatch.max_attempts = DEFAULT_MAX_ATTEMPTS;
	conf->dispatch.backoff_ms = DEFAULT_BACKOFF_MS;
	conf->dispatch.max_backoff_ms = DEFAULT_MAX_BACKOFF_MS;
	conf->twilio_api = xstrdup(DEFAULT_TWILIO_API);
	return conf;
}

/* Defaults that depend on other keys, which may come later in the file. */
static void
config_finish(struct config *conf)
{
	size_t	i, j;

	int64_t	longest = DEFAULT_ACTION_TIMEOUT;

	for (i = 0; i < conf->nrules; i++)
		for (j = 0; j < conf->rules[i].nactions; j++) {
			if (conf->rules[i].actions[j].max_attempts == 0)
				conf->rules[i].actions[j].max_attempts =
				    conf->dispatch.max_attempts;
			if (action_timed(&conf->rules[i].actions[j]) &&
			    conf->rules[i].actions[j].timeout_ms > longest)
				longest = conf->rules[i].actions[j].timeout_ms;
		}
	/* A job outlives its lease only when its instance died. */
	if (conf->dispatch.lease_ms == 0)
		conf->dispatch.lease_ms = longest + DEFAULT_LEASE_MARGIN_MS;
}

/* The whole file as an allocated string, or NULL after reporting why not. */
static char *
read_config_file(const char *path, FILE *errs, size_t *lenp)
{
	char	*buf = NULL;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		fprintf(errs, "%s: cannot open: %s\n", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 8192;
			buf = xreallocarray(buf, 1, cap + 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			fprintf(errs, "%s: cannot read: %s\n", path,
			    strerror(errno));
			goto bad;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_FILE_MAX) {
			fprintf(errs, "%s: larger than %d bytes; is this the "
			    "configuration file?\n", path, CONFIG_FILE_MAX);
			goto bad;
		}
	}
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return buf;
 bad:
	close(fd);
	free(buf);
	return NULL;
}

/* The allocated absolute directory holding path, symlinks resolved. */
static char *
config_dir(const char *path)
{
	char	*dir, *slash, *real, *out, cwd[PATH_MAX];

	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) == NULL) {
		free(dir);
		dir = xstrdup(".");
	} else
		slash[slash == dir ? 1 : 0] = '\0';
	if ((real = realpath(dir, NULL)) != NULL) {
		free(dir);
		return real;
	}
	/* The file was just read, so this is only a race; keep it lexical. */
	if (dir[0] == '/' || getcwd(cwd, sizeof cwd) == NULL)
		return dir;
	xasprintf(&out, "%s/%s", cwd, dir);
	free(dir);
	return out;
}

/* What to do about libyaml's commonest complaints, in our words. */
static const char *
syntax_hint(const char *problem, const char *text, size_t len, size_t at)
{
	static const struct {
		const char	*problem;	/* libyaml's text, a prefix */
		const char	*chars;		/* at the mark; NULL: any */
		const char	*hint;
	} hints[] = {
		{ "found character that cannot start any token", "\t",
		    "YAML indents with spaces, not tabs" },
		{ "found character that cannot start any token", "<>=!@`%|&*",
		    "quote the value: a comparison such as \">= 500\" or a "
		    "value starting with one of < > = ! @ ` % | & * must be in "
		    "quotes" },
		{ "mapping values are not allowed", NULL,
		    "quote a value that contains \": \" (a URL, a message), "
		    "or check the indentation of this line" },
		{ "did not find expected ',' or '}'", NULL,
		    "in { … } separate entries with ',' and quote values "
		    "containing ',', ':', '{' or '}'" },
		{ "did not find expected ',' or ']'", NULL,
		    "in [ … ] separate items with ',' and quote items "
		    "containing ',', ':', '[' or ']'" },
		{ "did not find expected node content", NULL,
		    "a value is missing here, or one containing ':' (such as "
		    "\"::1\") must be quoted" },
		{ "did not find expected '-' indicator", NULL,
		    "check the indentation: the items of a list start with "
		    "'- ' in one column" },
		{ "did not find expected key", NULL,
		    "check the indentation: this line does not line up with "
		    "the keys above it" },
		{ "could not find expected ':'", NULL,
		    "a key needs ': ' after it, or a line was indented or "
		    "wrapped by mistake" },
		{ "found unexpected end of stream", NULL,
		    "a quote or bracket opened earlier is never closed" },
		{ "found unknown escape character", NULL,
		    "in \"double quotes\" a backslash starts an escape: use "
		    "'single quotes' or write \\\\" },
	};
	size_t	i;
	char	c = at < len ? text[at] : '\0';

	if (problem == NULL)
		return NULL;
	for (i = 0; i < sizeof hints / sizeof hints[0]; i++) {
		if (strncmp(problem, hints[i].problem,
		    strlen(hints[i].problem)) != 0)
			continue;
		if (hints[i].chars == NULL ||
		    (c != '\0' && strchr(hints[i].chars, c) != NULL))
			return hints[i].hint;
	}
	return NULL;
}

/* A libyaml parser error as file:line:col; reader errors only carry an offset. */
static void
syntax_error(struct parse *p, const yaml_parser_t *parser, const char *text,
    size_t len)
{
	yaml_mark_t	mark;
	const char	*hint;
	size_t		i;

	if (parser->error == YAML_MEMORY_ERROR)
		fatalx("config: out of memory");
	mark = parser->problem_mark;
	if (parser->error == YAML_READER_ERROR) {
		memset(&mark, 0, sizeof mark);
		for (i = 0; i < parser->problem_offset && i < len; i++) {
			if (text[i] == '\n') {
				mark.line++;
				mark.column = 0;
			} else if (((unsigned char)text[i] & 0xc0) != 0x80)
				mark.column++;
		}
	}
	hint = syntax_hint(parser->problem, text, len, mark.index);
	if (parser->context != NULL)
		perr(p, mark, "syntax error: %s (%s at line %zu, column %zu)%s%s",
		    parser->problem ? parser->problem : "malformed YAML",
		    parser->context, parser->context_mark.line + 1,
		    parser->context_mark.column + 1, hint ? "; " : "",
		    hint ? hint : "");
	else
		perr(p, mark, "syntax error: %s%s%s",
		    parser->problem ? parser->problem : "malformed YAML",
		    hint ? "; " : "", hint ? hint : "");
}

/* Read, parse and check the file; every problem is printed, then NULL. */
struct config *
config_load(const char *path, FILE *errs)
{
	struct parse	 p;
	yaml_parser_t	 parser;
	yaml_document_t	 doc, extra;
	yaml_node_t	*root;
	struct config	*conf = NULL;
	const char	*base;
	char		*text;
	size_t		 len;

	if ((text = read_config_file(path, errs, &len)) == NULL)
		return NULL;
	memset(&p, 0, sizeof p);
	p.file = path;
	p.errs = errs;
	p.dir = config_dir(path);
	p.doc = &doc;
	if (!yaml_parser_initialize(&parser))
		fatalx("config: out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text,
	    len);
	if (!yaml_parser_load(&parser, &doc)) {
		syntax_error(&p, &parser, text, len);
		goto done;
	}
	if ((root = yaml_document_get_root_node(&doc)) == NULL) {
		fprintf(errs, "%s:1:1: empty configuration\n", path);
		p.nerrors++;
	} else if (root->type != YAML_MAPPING_NODE) {
		perr(&p, root->start_mark, "the configuration must be a "
		    "mapping of keys, got %s", node_kind(root));
	} else {
		conf = config_new();
		base = (base = strrchr(path, '/')) ? base + 1 : path;
		xasprintf(&conf->file, "%s%s%s", p.dir,
		    strcmp(p.dir, "/") == 0 ? "" : "/", base);
		parse_mapping(&p, root, NULL, top_keys, conf);
		check_triggers(&p, conf);
		check_lease(&p, conf);
		check_metrics_listen(&p, conf);
		check_parents(&p, conf);
		check_twilio_actions(&p, conf);
		check_reconcile(&p, conf);
		config_finish(conf);
	}
	yaml_document_delete(&doc);
	/* A second "---" document would be silently ignored otherwise. */
	if (!yaml_parser_load(&parser, &extra))
		syntax_error(&p, &parser, text, len);
	else {
		if ((root = yaml_document_get_root_node(&extra)) != NULL)
			perr(&p, root->start_mark, "only one YAML document is "
			    "allowed");
		yaml_document_delete(&extra);
	}
 done:
	yaml_parser_delete(&parser);
	free(text);
	free(p.dir);
	free(p.tps);
	free(p.parents);
	free(p.has_parent);
	free(p.tcs);
	if (p.nerrors > 0) {
		config_free(conf);
		return NULL;
	}
	return conf;
}

/* Free what an action owns; header values are wiped, they may be keys. */
static void
action_free(struct action *a)
{
	size_t	i;

	for (i = 0; i < a->argc; i++)
		free(a->argv[i]);
	free(a->argv);
	free(a->url);
	free(a->url_file);
	free(a->body);
	free(a->content_type);
	free(a->account);
	free(a->ca_file);
	for (i = 0; i < a->nheaders; i++) {
		free(a->headers[i].name);
		freezero_str(a->headers[i].value);
		free(a->headers[i].file);
	}
	free(a->headers);
	free(a->path);
	free(a->template);
}

/* Free what a rule owns. */
static void
rule_free(struct rule *r)
{
	size_t	i, j;

	free(r->name);
	for (i = 0; i < r->nmatches; i++) {
		free(r->matches[i].param);
		for (j = 0; j < r->matches[i].nvalues; j++)
			free(r->matches[i].values[j].text);
		free(r->matches[i].values);
	}
	free(r->matches);
	for (i = 0; i < r->nactions; i++)
		action_free(&r->actions[i]);
	free(r->actions);
}

/* Free what a declared trigger owns. */
static void
trigger_free(struct trigger *t)
{
	free(t->name);
	free(t->usage_category);
	free(t->trigger_value);
	free(t->trigger_by);
	free(t->recurring);
	free(t->callback_method);
	free(t->callback_url);
}

/* Free a config, wiping the tokens; NULL is a no-op. */
void
config_free(struct config *conf)
{
	size_t	i;

	if (conf == NULL)
		return;
	for (i = 0; i < conf->nrules; i++)
		rule_free(&conf->rules[i]);
	free(conf->rules);
	for (i = 0; i < conf->ntriggers; i++)
		trigger_free(&conf->triggers[i]);
	free(conf->triggers);
	free(conf->twilio_api);
	free(conf->twilio_ca_file);
	free(conf->file);
	free(conf->listen);
	free(conf->metrics_listen);
	free(conf->public_url);
	free(conf->path);
	free(conf->database);
	free(conf->database_password_file);
	free(conf->trusted_proxies);
	for (i = 0; i < conf->naccounts; i++) {
		signature_unkey(&conf->accounts[i]);
		freezero_str(conf->accounts[i].token);
		freezero_str(conf->accounts[i].secondary);
		freezero_str(conf->accounts[i].api_key_secret);
	}
	free(conf->accounts);
	free(conf);
}

/*
 * Key HMAC-SHA1 once per account token, for the daemon's verifications;
 * not in config_load, so usagehookctl does not pay OpenSSL's start-up.
 */
int
config_key_accounts(struct config *conf)
{
	size_t	i;

	for (i = 0; i < conf->naccounts; i++)
		if (signature_key(&conf->accounts[i]) == -1)
			return -1;
	return 0;
}

/* The account with exactly this AccountSid, or NULL. */
const struct account *
config_account(const struct config *conf, const char *sid)
{
	size_t	i;

	for (i = 0; i < conf->naccounts; i++)
		if (strcmp(conf->accounts[i].sid, sid) == 0)
			return &conf->accounts[i];
	return NULL;
}
