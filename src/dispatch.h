/* dispatch.h: the outbox dispatcher: runs due jobs, retries, dead letters. */
#ifndef DISPATCH_H
#define DISPATCH_H

#include <stddef.h>

#include "usagehook.h"

struct event_base;
struct committer;
struct actions;
struct metrics;
struct dispatcher;

/*
 * Run the jobs of the outbox with the actions of conf. The dispatcher owns
 * every config handed to it: one replaced by dispatcher_set_config is freed
 * once no running job uses it any more.
 */
struct dispatcher *dispatcher_new(struct event_base *, struct committer *,
		    struct actions *, struct metrics *, struct config *conf);
void		 dispatcher_set_config(struct dispatcher *, struct config *);
/* New jobs were committed: look for due jobs now. */
void		 dispatcher_kick(struct dispatcher *);
/* Start no more jobs; running ones finish. */
void		 dispatcher_stop(struct dispatcher *);
size_t		 dispatcher_running(const struct dispatcher *);
/* Free the dispatcher and its configs; call after actions_free. */
void		 dispatcher_free(struct dispatcher *);

const char	*action_kind_name(enum action_kind);
/* Delay before attempt+1 after attempt failed: doubling, capped, jittered. */
int64_t		 dispatch_backoff_ms(const struct dispatch *, int attempt);

#endif
