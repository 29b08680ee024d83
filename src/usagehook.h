/* usagehook.h: the data model shared by usagehookd and usagehookctl. */
#ifndef USAGEHOOK_H
#define USAGEHOOK_H

#include <stddef.h>
#include <stdint.h>

#define SID_LEN		34	/* "AC" or "UT" + 32 hex digits */
#define TOKEN_MAX	256	/* longest IdempotencyToken we accept, in bytes */

/* One decoded name=value pair; both NUL-terminated, in their params' blocks. */
struct param {
	char		*name;
	char		*value;
};

struct params_block;		/* callback.c: memory of names and values */

/* The parameters of a request in the order they arrived. */
struct params {
	struct param	*v;
	size_t		 n;
	size_t		 cap;
	struct params_block *blocks;	/* freed by params_free */
};

/* The UsageTrigger fields of a callback; pointers into its params or NULL. */
struct usage_fields {
	const char	*account_sid;
	const char	*usage_trigger_sid;
	const char	*idempotency_token;
	const char	*date_fired;
	const char	*recurring;
	const char	*usage_category;
	const char	*trigger_by;
	const char	*trigger_value;
	const char	*current_value;
	const char	*usage_record_uri;
};

/* One HTTP request as received, kept raw for show --raw and replay. */
struct callback {
	char		*method;	/* "POST", "GET", ... */
	char		*uri;		/* request-target as received */
	char		*url;		/* public URL the signature was checked against */
	char		*headers;	/* "Name: value\r\n" lines as received */
	char		*body;		/* raw body, NUL-terminated for convenience */
	size_t		 bodylen;
	char		*remote;	/* peer address */
	char		*signature;	/* X-Twilio-Signature or NULL */
	struct params	 params;	/* decoded body or query parameters */
	struct usage_fields f;
	int64_t		 received_at;	/* milliseconds since the epoch */
	int		 verified_by;	/* 1 primary token, 2 secondary, 0 */
	const char	*source;	/* "api" when recovered; NULL: "callback" */
};

/* Why a request was refused; a row of the rejected table. */
struct rejection {
	int64_t		 at;		/* milliseconds since the epoch */
	int		 status;	/* HTTP status we answered */
	const char	*remote;
	const char	*method;
	const char	*uri;
	const char	*reason;	/* short key: "signature", "missing-field" ... */
	const char	*detail;	/* for the operator: what was wrong, URLs tried */
	const char	*account_sid;	/* may be NULL */
	const char	*idempotency_token; /* may be NULL */
	/* For usagehookctl rejected to recompute the signature; may be NULL. */
	const char	*url;		/* the URL the signature was checked on */
	const char	*headers;	/* "Name: value\r\n" lines as received */
	const char	*body;		/* NULL when over REJECTED_BODY_MAX */
	size_t		 bodylen;
	const char	*signature;	/* X-Twilio-Signature */
};

/* A refused request's body is kept up to this size (Twilio's: ~1 KiB). */
#define REJECTED_BODY_MAX	8192

struct evp_mac_ctx_st;		/* OpenSSL's EVP_MAC_CTX */

/* An account whose callbacks we verify; tokens are wiped when freed. */
struct account {
	char		 sid[SID_LEN + 1];
	char		*token;
	char		*secondary;	/* NULL unless rotating */
	/* HMAC-SHA1 keyed once with token and secondary (signature_key). */
	struct evp_mac_ctx_st *mac;
	struct evp_mac_ctx_st *secondary_mac;
	/* For the REST API instead of sid and token: "SK..." or "". */
	char		 api_key_sid[SID_LEN + 1];
	char		*api_key_secret; /* NULL unless api_key_sid is set */
	/* A subaccount managed with this account's API credentials, or "". */
	char		 parent[SID_LEN + 1];
};

/* A UsageTrigger the config declares; triggers plan/apply make it so. */
struct trigger {
	char		*name;		/* FriendlyName, the key; unique */
	char		*usage_category;
	char		*trigger_value;	/* as written: "100", "+30" */
	char		*trigger_by;	/* count, usage or price; default usage */
	char		*recurring;	/* daily, monthly, yearly, alltime or "" */
	char		*callback_method; /* GET ... HEAD; default POST */
	char		*callback_url;	/* default public_url + path */
	char		 account[SID_LEN + 1]; /* default the first account's */
};

struct limits {
	size_t		 max_body;	/* bytes; default 64 KiB */
	size_t		 max_header;	/* bytes of all headers; default 8 KiB */
	int		 request_timeout; /* seconds; default 10 */
	int		 max_connections; /* default 1024 */
};

struct retention {
	int64_t		 callbacks;	/* seconds; default 400 days */
	int64_t		 rejected;	/* seconds; default 30 days */
};

/* How one rule value compares with a parameter. */
enum match_kind {
	MATCH_EXACT,		/* the same string */
	MATCH_GLOB,		/* fnmatch(3) pattern, e.g. "calls*" */
	MATCH_CMP		/* numeric comparison, e.g. ">= 100" */
};

enum cmp_op { CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_EQ, CMP_NE };

struct match_value {
	enum match_kind	 kind;
	char		*text;		/* MATCH_EXACT text or MATCH_GLOB pattern */
	enum cmp_op	 op;		/* MATCH_CMP */
	double		 number;	/* MATCH_CMP */
};

/* A condition on one parameter: it holds when any of the values match. */
struct match {
	char			*param;		/* Twilio's name, e.g. "UsageCategory" */
	struct match_value	*values;
	size_t			 nvalues;
};

enum action_kind { ACTION_EXEC, ACTION_HTTP, ACTION_APPEND, ACTION_LOG,
	ACTION_TWILIO };

/* How an http body template escapes each {Param}, by its content type. */
enum body_escape {
	ESCAPE_JSON,		/* application/json, ...+json: string escaping */
	ESCAPE_FORM,		/* application/x-www-form-urlencoded */
	ESCAPE_NONE		/* text/...: the value as it is */
};

/* What a twilio action does to the account. */
enum twilio_op { TWILIO_SUSPEND, TWILIO_ACTIVATE };

/* An extra header of an http action; a secret one is read from file. */
struct action_header {
	char		*name;
	char		*value;		/* NULL when file is set */
	char		*file;		/* read at each attempt, never logged */
};

struct action {
	enum action_kind	 kind;
	char			**argv;		/* exec: NULL-terminated, {Param} templates */
	size_t			 argc;
	char			*url;		/* http; NULL when url_file is set */
	char			*url_file;	/* http: the URL, read at each attempt */
	char			*body;		/* http: template; NULL = callback JSON */
	char			*content_type;	/* http: default application/json */
	enum body_escape	 escape;	/* http: of body, by content_type */
	enum twilio_op		 twilio;	/* twilio */
	char			*account;	/* twilio: template, "{AccountSid}" */
	int			 end_calls;	/* twilio suspend: complete its calls */
	char			*ca_file;	/* http: NULL = system CA store */
	struct action_header	*headers;	/* http */
	size_t			 nheaders;
	char			*path;		/* append */
	char			*template;	/* log */
	int			 timeout_ms;	/* exec, http; default 10 s */
	int			 max_attempts;	/* default from dispatch */
};

struct rule {
	char		*name;
	struct match	*matches;	/* all must hold */
	size_t		 nmatches;
	struct action	*actions;
	size_t		 nactions;
	int		 cont;		/* continue: try later rules too */
};

/* How the outbox runs jobs. */
struct dispatch {
	int		 concurrency;	/* jobs running at once; default 8 */
	int		 per_rule;	/* of one rule at once; default 2 */
	int		 max_attempts;	/* default 8 */
	int64_t		 backoff_ms;	/* first retry delay; default 30 s */
	int64_t		 max_backoff_ms; /* cap of one delay; default 30 min */
	/*
	 * How long an instance holds a job it took; after that any instance
	 * may run it again. Default: the longest action timeout + 30 s.
	 */
	int64_t		 lease_ms;
};

/* Reconciliation with Twilio's record of firings (reconcile.c). */
struct reconcile {
	int64_t		 interval;	/* seconds between passes; 0: off (default) */
	int64_t		 grace;		/* seconds a callback may be late; default 10m */
	int64_t		 max_age;	/* older firings are not recovered; default 7d */
};

/* A whole validated configuration file. */
struct config {
	char		*file;
	char		*listen;	/* "host:port" or "unix:/path" */
	char		*metrics_listen; /* the same, for /metrics; NULL: none */
	char		*public_url;	/* "scheme://host[:port]", no trailing '/'; NULL if unset */
	char		*path;		/* callback path, default "/twilio/usage" */
	char		*database;	/* SQLite path or PostgreSQL URI */
	char		*database_password_file; /* PostgreSQL; or NULL */
	struct netblock	*trusted_proxies; /* forwarded.h */
	size_t		 ntrusted_proxies;
	struct account	*accounts;
	size_t		 naccounts;
	struct limits	 limits;
	struct retention retention;
	struct rule	*rules;
	size_t		 nrules;
	struct dispatch	 dispatch;
	char		*twilio_api;	/* REST base URL, default api.twilio.com */
	char		*twilio_ca_file; /* NULL: the system CA store */
	struct trigger	*triggers;
	size_t		 ntriggers;
	struct reconcile reconcile;
};

#endif
