/* notify.h: the systemd service protocol (sd_notify, sd_listen_fds), no libsystemd. */
#ifndef NOTIFY_H
#define NOTIFY_H

#include <stdint.h>

/* The first descriptor systemd passes (SD_LISTEN_FDS_START). */
#define NOTIFY_LISTEN_FDS_START	3

/*
 * Take NOTIFY_SOCKET and WATCHDOG_USEC/WATCHDOG_PID from the environment and
 * remove them from it, so exec actions do not inherit them. Call once, before
 * any thread starts.
 */
void		 notify_init(void);
/*
 * Send one state message to the service manager, e.g. "READY=1\nSTATUS=...".
 * 1 sent, 0 not started by a service manager, -1 not sent (logged once).
 */
int		 notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The watchdog interval systemd asked for (WatchdogSec=) in µs; 0 if none. */
uint64_t	 notify_watchdog_usec(void);
/*
 * The sockets systemd passed to this process (LISTEN_FDS for our LISTEN_PID):
 * how many, as descriptors NOTIFY_LISTEN_FDS_START onwards, set close-on-exec;
 * 0 if none, -1 if the variables are malformed (logged). With names not
 * NULL, *names is set to an allocated array of n names from LISTEN_FDNAMES
 * ("unknown" where none was given); free it with notify_names_free.
 * LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are removed from the environment.
 */
int		 notify_listen_fds(char ***names);
/* Free what notify_listen_fds returned in *names; NULL is a no-op. */
void		 notify_names_free(char **names, int n);

#endif
