/* notify.c: sd_notify over NOTIFY_SOCKET and sd_listen_fds, without libsystemd. */
#include "config-sys.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "xmalloc.h"

/* A status line longer than this is cut; systemd takes far more. */
#define NOTIFY_MAX	1024

static struct sockaddr_un	 notify_addr;
static socklen_t		 notify_addrlen;	/* 0: nobody listens */
static uint64_t			 notify_wd_usec;
static int			 notify_failing;	/* warned already */

/* A decimal number with nothing around it; -1 if s is not one. */
static int
parse_u64(const char *s, uint64_t *out)
{
	unsigned long long	 v;
	char			*end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* NOTIFY_SOCKET as an address: "/path", or "@name" in the abstract namespace. */
static int
notify_address(const char *s)
{
	size_t	len = strlen(s);

	memset(&notify_addr, 0, sizeof notify_addr);
	notify_addr.sun_family = AF_UNIX;
	if ((s[0] != '/' && s[0] != '@') || len < 2 ||
	    len >= sizeof notify_addr.sun_path)
		return -1;
	memcpy(notify_addr.sun_path, s, len);
	if (s[0] == '@') {
		/* Abstract: a leading NUL, and the length counts no trailing one. */
		notify_addr.sun_path[0] = '\0';
		notify_addrlen = offsetof(struct sockaddr_un, sun_path) + len;
	} else
		notify_addrlen = offsetof(struct sockaddr_un, sun_path) + len + 1;
	return 0;
}

void
notify_init(void)
{
	const char	*s, *pid;
	uint64_t	 usec, p;

	if ((s = getenv("NOTIFY_SOCKET")) != NULL && notify_address(s) == -1) {
		notify_addrlen = 0;
		log_warnx("NOTIFY_SOCKET=%s: neither a socket path nor an "
		    "@abstract name; the service manager is not told of "
		    "readiness", s);
	}
	s = getenv("WATCHDOG_USEC");
	pid = getenv("WATCHDOG_PID");
	if (s != NULL) {
		if (parse_u64(s, &usec) == -1 || usec == 0)
			log_warnx("WATCHDOG_USEC=%s: not a positive number; "
			    "no watchdog pings", s);
		/* Set for another process (our parent, say): not ours to answer. */
		else if (pid != NULL && (parse_u64(pid, &p) == -1 ||
		    p != (uint64_t)getpid()))
			log_debug("WATCHDOG_PID=%s is not this process; no "
			    "watchdog pings", pid);
		else
			notify_wd_usec = usec;
	}
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

int
notify(const char *fmt, ...)
{
	char		 msg[NOTIFY_MAX];
	va_list		 ap;
	ssize_t		 r = -1;
	int		 fd, n, saved;

	if (notify_addrlen == 0)
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof msg)
		n = sizeof msg - 1;
	/* A fresh socket each time, as sd_notify does: nothing to keep open. */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) != -1) {
		r = sendto(fd, msg, (size_t)n, MSG_NOSIGNAL,
		    (struct sockaddr *)&notify_addr, notify_addrlen);
		saved = errno;
		close(fd);
		errno = saved;
	}
	if (r == n) {
		if (notify_failing)
			log_info("notify: the service manager is reachable "
			    "again");
		notify_failing = 0;
		return 1;
	}
	/* Once, not on every watchdog ping. */
	if (!notify_failing)
		log_warn("notify: cannot send \"%.*s\" to NOTIFY_SOCKET",
		    (int)strcspn(msg, "\n"), msg);
	notify_failing = 1;
	return -1;
}

uint64_t
notify_watchdog_usec(void)
{
	return notify_addrlen == 0 ? 0 : notify_wd_usec;
}

/* LISTEN_FDNAMES split at ':' into n allocated names; missing ones "unknown". */
static char **
split_names(const char *s, int n)
{
	char		**v;
	const char	 *p = s;
	size_t		  len;
	int		  i, given = 0;

	v = xcalloc((size_t)n, sizeof *v);
	for (i = 0; i < n; i++) {
		if (p != NULL) {
			len = strcspn(p, ":");
			v[i] = len > 0 ? xstrndup(p, len) : xstrdup("unknown");
			given++;
			p = p[len] == ':' ? p + len + 1 : NULL;
		} else
			v[i] = xstrdup("unknown");
	}
	if (s != NULL && (given != n || p != NULL))
		log_warnx("LISTEN_FDNAMES=%s names %s sockets than LISTEN_FDS=%d",
		    s, p != NULL ? "more" : "fewer", n);
	return v;
}

int
notify_listen_fds(char ***names)
{
	const char	*spid = getenv("LISTEN_PID");
	const char	*sfds = getenv("LISTEN_FDS");
	const char	*snames = getenv("LISTEN_FDNAMES");
	uint64_t	 pid, nfds;
	int		 n = 0, fd, flags;

	if (names != NULL)
		*names = NULL;
	if (spid == NULL || sfds == NULL)
		goto done;
	if (parse_u64(spid, &pid) == -1 || parse_u64(sfds, &nfds) == -1 ||
	    nfds > INT_MAX - NOTIFY_LISTEN_FDS_START) {
		log_warnx("LISTEN_PID=%s LISTEN_FDS=%s: not numbers", spid,
		    sfds);
		n = -1;
		goto done;
	}
	/* Inherited from a parent that was activated: not ours. */
	if (pid != (uint64_t)getpid())
		goto done;
	for (fd = NOTIFY_LISTEN_FDS_START;
	    fd < NOTIFY_LISTEN_FDS_START + (int)nfds; fd++) {
		/* Exec actions must not inherit the listening sockets. */
		if ((flags = fcntl(fd, F_GETFD)) == -1 ||
		    fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == -1) {
			log_warn("LISTEN_FDS=%s: descriptor %d", sfds, fd);
			n = -1;
			goto done;
		}
	}
	n = (int)nfds;
	if (names != NULL && n > 0)
		*names = split_names(snames, n);
done:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return n;
}

void
notify_names_free(char **names, int n)
{
	int	i;

	if (names == NULL)
		return;
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
