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
};

/* ok is 1 on success; error says why not (static or valid until return). */
typedef void (*action_done_fn)(int ok, const char *error, void *arg);

struct actions	*actions_new(struct event_base *);
/*
 * Start act for a callback with these params. done runs later on the event
 * loop exactly once, unless -1 is returned (could not even start: done is
 * not called and *error says why).
 */
int		 actions_run(struct actions *, const struct action *act,
		    const struct params *, const struct job_info *,
		    action_done_fn done, void *arg, const char **error);
/* Actions started and not yet done. */
size_t		 actions_running(const struct actions *);
/* Kill what still runs (SIGKILL), reap it, free; done is not called. */
void		 actions_free(struct actions *);

/* The callback as one JSON object of its parameters; allocated or NULL. */
char		*params_json(const struct params *, const struct job_info *);
/* tmpl with each {Param} replaced by its value ("" if absent); allocated. */
char		*template_expand(const char *tmpl, const struct params *);

#endif
