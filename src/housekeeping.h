/* housekeeping.h: WAL checkpoints and the daily retention purge. */
#ifndef HOUSEKEEPING_H
#define HOUSEKEEPING_H

#include "usagehook.h"

struct housekeeping;

/*
 * A thread with its own connection to the database: a PASSIVE checkpoint
 * every second (the writer does none, so no COMMIT waits on one), and the
 * purge of rows older than retention shortly after start, then daily.
 */
struct housekeeping *housekeeping_start(const char *database,
		    const char *password_file, const struct retention *);
/* Use these ages from the next purge on (SIGHUP). */
void		 housekeeping_set(struct housekeeping *, const struct retention *);
/* Stop the thread (a purge in progress finishes its batch) and free. */
void		 housekeeping_stop(struct housekeeping *);

#endif
