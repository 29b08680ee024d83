/* http.h: evhttp routes, limits, responses, /healthz, /metrics. */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>

struct event_base;
struct config;
struct committer;
struct dispatcher;
struct metrics;
struct server;

/* A server answering on base; conf is borrowed until replaced. */
struct server	*server_new(struct event_base *, struct config *,
		    struct committer *, struct dispatcher *, struct metrics *);
/* Listen on "host:port", "[v6]:port" or "unix:/path"; -1 with a logged reason. */
int		 server_listen(struct server *, const char *listen);
/* Serve /metrics and /healthz (only) on a listener of their own. */
int		 server_listen_metrics(struct server *, const char *listen);
/* Serve a listening TCP or Unix socket handed over by systemd (sd_listen_fds),
 * as well as any given before; -1 logged. */
int		 server_listen_fd(struct server *, int fd);
/* Use conf from now on (SIGHUP); the caller frees the old one. */
void		 server_set_config(struct server *, struct config *conf);
/* Stop accepting new connections; requests already read still finish. */
void		 server_stop_accepting(struct server *);
/* Callback requests read and not yet answered. */
size_t		 server_inflight(const struct server *);
void		 server_free(struct server *);

#endif
