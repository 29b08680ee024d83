/* triggers.h: Twilio's UsageTrigger REST API, and plans to match the config. */
#ifndef TRIGGERS_H
#define TRIGGERS_H

#include <stddef.h>

#include "usagehook.h"

#define TWILIO_TIMEOUT_MS	30000	/* one request, connect included */
#define TWILIO_ATTEMPTS		4	/* tries of a request answered 429/5xx */
#define TWILIO_BACKOFF_MS	500	/* the first wait, doubled each time */
#define TWILIO_RETRY_AFTER_MAX	10	/* seconds of Retry-After we wait */
#define TWILIO_PAGES_MAX	1000	/* of one list; Twilio has 1000 at most */
#define TWILIO_BODY_MAX		(16 * 1024 * 1024)

/* A UsageTrigger as Twilio gives it: strings as received, NULL for null. */
struct ut {
	char	*sid;
	char	*account_sid;
	char	*friendly_name;
	char	*usage_category;
	char	*trigger_by;
	char	*trigger_value;
	char	*recurring;
	char	*callback_method;
	char	*callback_url;
	char	*current_value;
	char	*date_created;
	char	*date_updated;
	char	*date_fired;
	char	*uri;
	char	*usage_record_uri;
	char	*api_version;
};

/* A member of struct ut by its name in Twilio's JSON. */
struct ut_field {
	const char	*name;
	size_t		 offset;
};

/* Every member, in the order fetch prints them. */
extern const struct ut_field	ut_fields[];
extern const size_t		ut_nfields;

struct ut_list {
	struct ut	*v;
	size_t		 n;
};

/* What create sends; NULL members are left out (Twilio's defaults apply). */
struct ut_new {
	const char	*friendly_name;
	const char	*usage_category;
	const char	*trigger_value;
	const char	*trigger_by;
	const char	*recurring;
	const char	*callback_method;
	const char	*callback_url;
};

/* What update sends; NULL members stay as they are. */
struct ut_change {
	const char	*friendly_name;
	const char	*callback_method;
	const char	*callback_url;
};

struct twilio;

/* The pages of one list walked so far: each once, TWILIO_PAGES_MAX at most. */
struct pages {
	char	**seen;
	size_t	  n;
};
/* target is the next page to fetch; the walk owns it from now on. */
void		 pages_add(struct pages *, char *target);
/* 0 if next_page_uri next may be fetched, else -1 with an allocated *err. */
int		 pages_next_ok(const struct pages *, const char *next,
		    char **err);
void		 pages_free(struct pages *);

/*
 * A client for the triggers of account at base ("https://host[:port]"),
 * the server's certificate verified against ca_file (NULL: the system CA
 * store) and its name. It authenticates with the account's API key if it
 * has one, else with its SID and auth token. NULL with an allocated *err.
 */
struct twilio	*twilio_open(const char *base, const char *ca_file,
		    const struct account *, char **err);
/* Free the client, wiping its credentials; NULL is a no-op. */
void		 twilio_close(struct twilio *);

/*
 * The REST calls. Each runs its own event loop until the answer is in; an
 * answer 429 or 5xx is tried again after a backoff (or a short Retry-After).
 * 0, or -1 with an allocated one-line *err: Twilio's message, code and
 * more_info when it gave them. Results are allocated into *out.
 */
int		 twilio_list(struct twilio *, const char *category,
		    const char *recurring, const char *trigger_by,
		    struct ut_list *out, char **err);
int		 twilio_fetch(struct twilio *, const char *sid, struct ut *out,
		    char **err);
int		 twilio_create(struct twilio *, const struct ut_new *,
		    struct ut *out, char **err);
int		 twilio_update(struct twilio *, const char *sid,
		    const struct ut_change *, struct ut *out, char **err);
int		 twilio_delete(struct twilio *, const char *sid, char **err);

struct jv;
/*
 * Any other REST call: method "GET" or "POST" (with form, or NULL) on
 * target ("/2010-04-01/..."), retried as above. 0 with the 2xx answer's
 * JSON in *doc (free with jv_free), or -1 with an allocated one-line *err;
 * *status is the answer's HTTP status, 0 when none came.
 */
int		 twilio_call(struct twilio *, const char *method,
		    const char *target, const char *form, int *status,
		    struct jv **doc, char **err);

/* Free what u owns and zero it. */
void		 ut_free(struct ut *u);
void		 ut_list_free(struct ut_list *);

enum step_action {
	STEP_CREATE,		/* not on Twilio */
	STEP_UPDATE,		/* callback URL or method differ */
	STEP_REPLACE,		/* category, value, trigger_by or recurring
				   differ: Twilio cannot update them */
	STEP_DELETE,		/* not in the config, and calls this daemon */
	STEP_UNCHANGED
};

/* "create", "update", ... by enum step_action. */
extern const char *const step_names[];

/* One thing plan found to do, and what apply made of it. */
struct step {
	enum step_action	 action;
	const struct trigger	*want;		/* NULL for delete */
	const struct ut		*have;		/* NULL for create */
	size_t			 account;	/* index in the plan's accounts */
	char			*detail;	/* what differs, for people */
	int			 url, method;	/* update: these change */
	char			*new_sid;	/* create, replace: once done */
	char			*error;		/* why apply failed, or NULL */
	int			 applied;
};

/* Declared triggers against Twilio's, per account in scope. */
struct plan {
	const struct account	**accounts;
	struct twilio		**tw;
	struct ut_list		 *have;
	size_t			  naccounts;
	struct step		 *steps;
	size_t			  nsteps;
	size_t			  kept;		/* not ours, left alone */
};

/*
 * Compare the config's triggers with those Twilio lists for account (every
 * configured account when NULL) at base, keyed by FriendlyName. Triggers
 * not in the config are deleted when their callback URL is this daemon's
 * (public_url + path, or a declared callback_url), any of them with
 * prune_all. 0, or -1 with an allocated *err.
 */
int		 plan_make(const struct config *, const char *base,
		    const struct account *, int prune_all, struct plan *,
		    char **err);
/* Do the steps: creates, then updates, then deletes; how many failed. */
size_t		 plan_apply(struct plan *);
/* Free what the plan owns and zero it. */
void		 plan_free(struct plan *);

/* 1 if url calls this daemon: public_url + path, or a declared URL. */
int		 triggers_url_ours(const struct config *, const char *url);

/* A UsageRecord as Twilio gives it; numbers checked, strings as received. */
struct usage_record {
	char	*account_sid;
	char	*category;
	char	*description;
	char	*count;
	char	*count_unit;
	char	*usage;
	char	*usage_unit;
	char	*price;
	char	*price_unit;
	char	*start_date;
	char	*end_date;
};

struct usage_records {
	struct usage_record	*v;
	size_t			 n;
};

/*
 * The account's UsageRecords of period ("" for all of them, else "Today",
 * "Daily", ... as Twilio names the subresource), every page, filtered by
 * category, start and end (NULL: none). Each field bounded, count, usage
 * and price must be numbers. 0, or -1 with an allocated one-line *err.
 */
int		 twilio_usage_records(struct twilio *, const char *period,
		    const char *category, const char *start, const char *end,
		    struct usage_records *out, char **err);
void		 usage_record_free(struct usage_record *);
void		 usage_records_free(struct usage_records *);

#endif
