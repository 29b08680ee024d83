/* reconcile.h: recover firings whose callback never came, from Twilio's record. */
#ifndef RECONCILE_H
#define RECONCILE_H

#include <stddef.h>
#include <stdint.h>

#include "usagehook.h"

struct store;
struct metrics;

/* What a pass made of one trigger that calls this daemon and has fired. */
enum rc_outcome {
	RC_RECOVERED,		/* stored with source api; its rules run */
	RC_WOULD_RECOVER,	/* --dry-run: would have been */
	RC_STORED,		/* its callback (or a recovery) is stored */
	RC_IN_GRACE,		/* fired less than grace ago: may still come */
	RC_TOO_OLD,		/* fired more than max_age ago */
	RC_INVALID,		/* Twilio's record does not parse: reported */
	RC_FAILED		/* the database failed */
};

extern const char *const rc_outcome_names[];

struct rc_item {
	char		 account[SID_LEN + 1];
	char		*sid;		/* UsageTriggerSid, printable */
	char		*name;		/* friendly_name, printable */
	char		*recurring;
	char		*date_fired;	/* as Twilio gave it, printable */
	int64_t		 fired_at;	/* ms; 0 when it does not parse */
	char		*token;		/* the recovered firing's, or NULL */
	enum rc_outcome	 outcome;
	char		*detail;	/* why, for people; or NULL */
};

struct rc_account {
	char		 sid[SID_LEN + 1];
	size_t		 listed;	/* triggers Twilio listed */
	size_t		 ours;		/* of those, calling this daemon */
	char		*error;		/* the REST call failed: why */
};

struct rc_report {
	struct rc_item	*items;
	size_t		 nitems;
	struct rc_account *accounts;
	size_t		 naccounts;
	size_t		 recovered;	/* or would be, with dry_run */
	size_t		 failures;	/* accounts not listed, claims failed */
	int		 busy;		/* another process holds the lease */
	char		*error;		/* the pass could not run at all */
};

struct rc_opts {
	int		 dry_run;
	const char	*api_base;	/* NULL: the config's twilio_api */
	const char	**accounts;	/* only these; NULL: every one */
	size_t		 naccounts;
	const char	*owner;		/* who holds the lease */
	volatile int	*stop;		/* stop between requests when set */
};

/* Lease length: longer than any pass (requests are bounded in time). */
#define RC_LEASE_MS	(15 * 60 * 1000)
/* At most this many triggers of one account are looked at. */
#define RC_TRIGGERS_MAX	10000

/*
 * One pass: list each account's UsageTriggers, and store as a callback
 * with source api each firing that calls this daemon, fired more than
 * grace and less than max_age ago, and is newer than what is stored of
 * its trigger; rules matched into jobs in the same transaction. 0 when
 * every account was listed and every claim stored; -1 otherwise (the
 * report says what). Logs each recovery as a warning.
 */
int		 reconcile_pass(const struct config *, struct store *,
		    const struct rc_opts *, struct rc_report *);
void		 rc_report_free(struct rc_report *);

struct reconciler;

/*
 * The daemon's thread: a pass every reconcile.interval (first one soon
 * after start), with its own configuration (loaded from file, again after
 * reconciler_reload) and its own database connection. Counts into m's
 * reconcile members, which it writes atomically.
 */
struct reconciler *reconciler_start(const char *config_file,
		    const char *database, struct metrics *m);
/* The daemon reloaded its configuration: load it again before the next pass. */
void		 reconciler_reload(struct reconciler *);
/* Stop: waits for a pass in flight a few seconds at most. */
void		 reconciler_stop(struct reconciler *);

#endif
