/* actions.h: running exec, http, append and log actions off the event loop. */
#ifndef ACTIONS_H
#define ACTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "usagehook.h"

struct event_base;
struct actions;

/* What the job is, for logs, environment and JSON. */
struct job_info {
	int64_t		 id;
	const char	*rule;
	int		 attempt;	/* 1 for the first run */
	/* twilio: the accounts and API; must outlive the run. May be NULL. */
	const struct config *conf;
	/* The callback the job is of; 0 (and NULL) when not known. */
	int64_t		 callback_id;
	int64_t		 received_at;	/* ms since the epoch */
	const char	*source;	/* how it came: "callback" */
};

/*
 * ok is 1 on success, 0 on a failure a retry may cure, -1 on one no retry
 * can (an unparseable URL, Twilio's 4xx): the job goes dead at once. error
 * says why not (static or valid until return).
 */
typedef void (*action_done_fn)(int ok, const char *error, void *arg);

/*
 * The runner for base, which must come from event_base_new after
 * evthread_use_pthreads (append hands results back from a thread). Reaps
 * the children it spawns through a SIGCHLD event on base, and ignores
 * SIGPIPE for the process. NULL on failure.
 */
struct actions	*actions_new(struct event_base *);
/*
 * Start act for a callback with these params. done runs later on the event
 * loop exactly once, never from inside actions_run, unless -1 or -2 is
 * returned (could not even start: done is not called and *error says why;
 * it stays valid until the next actions_run; -2: no retry can fix it). act, params and job_info may be freed
 * once this returns.
 */
int		 actions_run(struct actions *, const struct action *act,
		    const struct params *, const struct job_info *,
		    action_done_fn done, void *arg, const char **error);
/* Actions started and not yet done. */
size_t		 actions_running(const struct actions *);
/*
 * Stop what still runs and free; done is not called. An exec's process
 * group gets SIGKILL and is reaped, an http exchange is dropped, an append
 * is waited for (it is one write and an fdatasync).
 */
void		 actions_free(struct actions *);

/*
 * The callback as one JSON object of its parameters (the first of each
 * name), plus "usagehook":{"job","rule","attempt"} when job_info is given,
 * with "id" (the callback's), "received_at" (ISO 8601 UTC) and "source"
 * when it knows them; allocated, NULL when out of memory.
 */
char		*params_json(const struct params *, const struct job_info *);
/*
 * tmpl with each {Name} ([A-Za-z0-9_]+) replaced by its value ("" if
 * absent); "{{" is a literal "{", any other "{" stays as it is. Allocated,
 * NULL when out of memory.
 */
char		*template_expand(const char *tmpl, const struct params *);
/*
 * An http body: template_expand with each value escaped for esc (JSON
 * string escaping, percent-encoding, or none). Allocated, NULL when out
 * of memory.
 */
char		*body_expand(const char *tmpl, const struct params *,
		    enum body_escape esc);
/* How values are escaped for Content-Type ct; -1 when we do not know. */
int		 body_escape_for(const char *ct, enum body_escape *out);
/*
 * url for logs and listings: whole, unless it has a query or userinfo
 * ("https://hooks.slack.com/..."). Allocated, NULL when out of memory.
 */
char		*url_shown(const char *url);
/* An http action's URL as url_shown; a URL file shows its origin only. */
char		*action_url_shown(const struct action *);

#endif
