/* usagehookd.c: the daemon: parse arguments, start the parts, run the loop. */
#include "config-sys.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "actions.h"
#include "commit.h"
#include "config.h"
#include "dispatch.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "housekeeping.h"
#include "notify.h"
#include "reconcile.h"
#include "store.h"
#include "version.h"
#include "xmalloc.h"

#define DRAIN_SECONDS	10

struct daemon {
	const char		*config_file;
	struct config		*conf;
	char			*listening;	/* listen at start; NULL: systemd's */
	char			*database;	/* database at start */
	char			*metrics_listening; /* metrics_listen at start */
	struct event_base	*base;
	struct store		*store;
	struct committer	*committer;
	struct actions		*actions;
	struct dispatcher	*dispatcher;
	struct housekeeping	*housekeeping;
	struct reconciler	*reconciler;
	struct server		*server;
	struct metrics		 metrics;
	struct event		*drain_timer;
	struct event		*watchdog;
	struct timeval		 drain_deadline;
	int			 draining;
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: usagehookd [-v] [-c config] [-n | --check-config] "
	    "[--version]\n"
	    "  -c, --config FILE    configuration file (default %s;\n"
	    "                       $USAGEHOOKD_CONFIG overrides the default)\n"
	    "  -n, --check-config   check the configuration and exit\n"
	    "  -v, --verbose        log debug messages\n"
	    "  -V, --version        print the versions and exit\n",
	    config_default_file());
}

static void
commit_stats(size_t n, double seconds, void *arg)
{
	metrics_commit(arg, n, seconds);
}

/* 1 if both are NULL or equal strings. */
static int
same_string(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Re-read the configuration; a bad file is refused (-1), the old one stays. */
static int
reload(struct daemon *d)
{
	struct config	*conf;
	char		*errs = NULL, *line, *save, shown[1024], shown2[1024];
	size_t		 len = 0;
	FILE		*f;

	log_info("SIGHUP: reloading %s", d->config_file);
	if ((f = open_memstream(&errs, &len)) == NULL) {
		log_warn("reload: open_memstream");
		return -1;
	}
	conf = config_load(d->config_file, f);
	if (conf != NULL && config_key_accounts(conf) == -1) {
		fprintf(f, "%s: cannot key HMAC-SHA1 with the account tokens "
		    "(OpenSSL)\n", d->config_file);
		config_free(conf);
		conf = NULL;
	}
	fclose(f);
	if (conf == NULL) {
		for (line = strtok_r(errs, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			log_warnx("%s", line);
		log_warnx("reload refused: keeping the running configuration");
		free(errs);
		return -1;
	}
	free(errs);
	/* Against what runs, not the last file: a change undone is none. */
	if (d->listening != NULL && strcmp(conf->listen, d->listening) != 0)
		log_warnx("reload: listen changed to %s; still listening on "
		    "%s until a restart", conf->listen, d->listening);
	if (!same_string(conf->metrics_listen, d->metrics_listening))
		log_warnx("reload: metrics_listen changed to %s; restart to "
		    "apply", conf->metrics_listen ? conf->metrics_listen :
		    "none");
	if (strcmp(conf->database, d->database) != 0) {
		store_shown(conf->database, shown, sizeof shown);
		store_shown(d->database, shown2, sizeof shown2);
		log_warnx("reload: database changed to %s; still using %s "
		    "until a restart", shown, shown2);
	}
	server_set_config(d->server, conf);
	/* The dispatcher frees the old one once no running job uses it. */
	dispatcher_set_config(d->dispatcher, conf);
	housekeeping_set(d->housekeeping, &conf->retention);
	reconciler_reload(d->reconciler);
	d->conf = conf;
	d->metrics.triggers = conf->ntriggers;
	log_info("reloaded %s", d->config_file);
	return 0;
}

/* CLOCK_MONOTONIC in µs, which systemd wants with RELOADING=1. */
static uint64_t
monotonic_usec(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* WatchdogSec=: pinged from the loop, so a wedged loop gets us restarted. */
static void
watchdog_ping(evutil_socket_t fd, short events, void *arg)
{
	notify("WATCHDOG=1");
}

/* While draining: leave once every request read has been answered. */
static void
drain_check(evutil_socket_t fd, short events, void *arg)
{
	struct daemon	*d = arg;
	struct timeval	 now, tick = { 0, 20000 };

	event_base_gettimeofday_cached(d->base, &now);
	if ((server_inflight(d->server) == 0 &&
	    dispatcher_running(d->dispatcher) == 0 &&
	    committer_pending(d->committer) == 0) ||
	    evutil_timercmp(&now, &d->drain_deadline, >)) {
		event_base_loopexit(d->base, NULL);
		return;
	}
	evtimer_add(d->drain_timer, &tick);
}

static void
on_signal(evutil_socket_t sig, short events, void *arg)
{
	struct daemon	*d = arg;
	struct timeval	 limit = { DRAIN_SECONDS, 0 };

	if (sig == SIGHUP) {
		/* READY=1 after STOPPING=1 would tell systemd we are back. */
		if (d->draining) {
			log_info("SIGHUP while draining: not reloading");
			return;
		}
		notify("RELOADING=1\nMONOTONIC_USEC=%" PRIu64
		    "\nSTATUS=reloading %s", monotonic_usec(), d->config_file);
		if (reload(d) == 0)
			notify("READY=1\nSTATUS=reloaded %s", d->config_file);
		else
			notify("READY=1\nSTATUS=reload of %s refused; running "
			    "configuration kept (see the log)", d->config_file);
		return;
	}
	if (d->draining)
		return;
	log_info("%s: draining: no new connections, finishing requests "
	    "and actions in flight (at most %d s)", strsignal(sig),
	    DRAIN_SECONDS);
	d->draining = 1;
	notify("STOPPING=1\nSTATUS=draining: finishing requests and actions "
	    "in flight");
	server_stop_accepting(d->server);
	dispatcher_stop(d->dispatcher);
	event_base_gettimeofday_cached(d->base, &d->drain_deadline);
	evutil_timeradd(&d->drain_deadline, &limit, &d->drain_deadline);
	if ((d->drain_timer = evtimer_new(d->base, drain_check, d)) == NULL)
		fatalx("evtimer_new failed");
	drain_check(-1, 0, d);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config",		required_argument,	NULL, 'c' },
		{ "check-config",	no_argument,		NULL, 'n' },
		{ "verbose",		no_argument,		NULL, 'v' },
		{ "help",		no_argument,		NULL, 'h' },
		{ "version",		no_argument,		NULL, 'V' },
		{ NULL,			0,			NULL, 0 }
	};
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
	struct event	*sigev[sizeof signals / sizeof signals[0]];
	struct daemon	 d;
	struct event_config *evcfg;
	struct timeval	 wd;
	char		*err, **fdnames = NULL, shown[1024];
	const char	*where;
	uint64_t	 wd_usec;
	size_t		 i;
	int		 ch, check = 0, verbose = 0, recovered, nfds, fd;

	memset(&d, 0, sizeof d);
	d.config_file = config_default_file();
	while ((ch = getopt_long(argc, argv, "c:nvhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			d.config_file = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			version_print(stdout, "usagehookd");
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("usagehookd", verbose);

	if ((d.conf = config_load(d.config_file, stderr)) == NULL) {
		fprintf(stderr, "usagehookd: %s: configuration refused\n",
		    d.config_file);
		return 1;
	}
	if (config_key_accounts(d.conf) == -1)
		fatalx("%s: cannot key HMAC-SHA1 with the account tokens "
		    "(OpenSSL)", d.config_file);
	if (check) {
		printf("configuration OK\n");
		config_free(d.conf);
		return 0;
	}

	/* Before any thread starts: both take variables out of environ. */
	notify_init();
	if ((nfds = notify_listen_fds(&fdnames)) == -1)
		fatalx("cannot use the sockets systemd passed (LISTEN_FDS)");

	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() == -1)
		fatalx("libevent has no pthreads support");
	/* Folds evhttp's enable/disable per request into fewer epoll_ctl. */
	if ((evcfg = event_config_new()) == NULL ||
	    event_config_set_flag(evcfg,
	    EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == -1 ||
	    (d.base = event_base_new_with_config(evcfg)) == NULL)
		fatalx("event_base_new failed");
	event_config_free(evcfg);
	if ((d.store = store_open_auth(d.conf->database,
	    d.conf->database_password_file, 0, &err)) == NULL)
		fatalx("%s", err);
	/* Checkpoints run on the housekeeping thread, not inside a COMMIT. */
	if (store_autocheckpoint(d.store, 0) == -1)
		fatalx("database %s: %s", store_shown(d.conf->database,
		    shown, sizeof shown),
		    store_errmsg(d.store));
	if ((recovered = store_jobs_recover(d.store)) == -1)
		fatalx("database %s: %s", store_shown(d.conf->database,
		    shown, sizeof shown),
		    store_errmsg(d.store));
	if (recovered > 0)
		log_info("%d job(s) interrupted by the last stop will run "
		    "again", recovered);
	d.committer = committer_new(d.base, d.store, commit_stats, &d.metrics);
	if ((d.actions = actions_new(d.base)) == NULL)
		fatalx("cannot set up the action runner");
	d.housekeeping = housekeeping_start(d.conf->database,
	    d.conf->database_password_file, &d.conf->retention, d.committer);
	/* Its own thread and connection: the REST API never blocks the loop. */
	d.reconciler = reconciler_start(d.config_file, d.conf->database,
	    &d.metrics);
	d.dispatcher = dispatcher_new(d.base, d.committer, d.actions,
	    &d.metrics, d.conf);
	d.server = server_new(d.base, d.conf, d.committer, d.dispatcher,
	    &d.metrics);
	/* Sockets from a .socket unit win over the listen key. */
	for (fd = NOTIFY_LISTEN_FDS_START;
	    fd < NOTIFY_LISTEN_FDS_START + nfds; fd++) {
		if (server_listen_fd(d.server, fd) == -1)
			fatalx("cannot serve socket %d (%s) passed by systemd",
			    fd, fdnames[fd - NOTIFY_LISTEN_FDS_START]);
		log_info("serving socket %d (%s) passed by systemd; 'listen' "
		    "is not used", fd, fdnames[fd - NOTIFY_LISTEN_FDS_START]);
	}
	notify_names_free(fdnames, nfds);
	d.database = xstrdup(d.conf->database);
	d.metrics.started = time(NULL);
	d.metrics.triggers = d.conf->ntriggers;
	d.listening = nfds > 0 ? NULL : xstrdup(d.conf->listen);
	where = nfds > 0 ? "sockets passed by systemd" : d.conf->listen;
	if (nfds == 0 && server_listen(d.server, d.conf->listen) == -1)
		fatalx("cannot listen on %s (key 'listen' in %s)",
		    d.conf->listen, d.config_file);
	if (d.conf->metrics_listen != NULL) {
		if (server_listen_metrics(d.server, d.conf->metrics_listen)
		    == -1)
			fatalx("cannot listen on %s (key 'metrics_listen' in "
			    "%s)", d.conf->metrics_listen, d.config_file);
		log_info("/metrics and /healthz also on %s",
		    d.conf->metrics_listen);
		d.metrics_listening = xstrdup(d.conf->metrics_listen);
	}
	for (i = 0; i < sizeof signals / sizeof signals[0]; i++) {
		sigev[i] = evsignal_new(d.base, signals[i], on_signal, &d);
		if (sigev[i] == NULL || evsignal_add(sigev[i], NULL) == -1)
			fatalx("cannot install signal handlers");
	}
	if ((wd_usec = notify_watchdog_usec()) > 0) {
		/* Twice per interval, as systemd recommends. */
		wd.tv_sec = wd_usec / 2 / 1000000;
		wd.tv_usec = wd_usec / 2 % 1000000;
		if ((d.watchdog = event_new(d.base, -1, EV_PERSIST,
		    watchdog_ping, &d)) == NULL ||
		    event_add(d.watchdog, &wd) == -1)
			fatalx("cannot set up the watchdog timer");
	}
	log_info("listening on %s; callbacks on %s%s; database %s",
	    where, d.conf->public_url ? d.conf->public_url : "",
	    d.conf->path, store_shown(d.conf->database, shown, sizeof shown));
	notify("READY=1\nSTATUS=listening on %s; database %s", where, shown);

	event_base_dispatch(d.base);

	/* No new recovery while what runs is settled. */
	reconciler_stop(d.reconciler);
	/* Kill what still runs (it reruns next start), then settle commits. */
	dispatcher_stop(d.dispatcher);
	actions_free(d.actions);
	/* Before the writer goes: housekeeping may still ask it for work. */
	housekeeping_stop(d.housekeeping);
	committer_free(d.committer);
	server_free(d.server);
	dispatcher_free(d.dispatcher);
	store_close(d.store);
	for (i = 0; i < sizeof signals / sizeof signals[0]; i++)
		event_free(sigev[i]);
	if (d.drain_timer != NULL)
		event_free(d.drain_timer);
	if (d.watchdog != NULL)
		event_free(d.watchdog);
	event_base_free(d.base);
	free(d.listening);
	free(d.database);
	free(d.metrics_listening);
	metrics_free(&d.metrics);
	log_info("stopped");
	return 0;
}
