/* ctl.c: what usagehookctl's commands share: config, database, messages. */
#include "config-sys.h"

#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "store.h"
#include "xmalloc.h"

struct config *
ctl_config(struct ctl *ctl)
{
	if (ctl->conf == NULL)
		ctl->conf = config_load(ctl->config_file, stderr);
	return ctl->conf;
}

/* -d alone means "this database, no config": tokens may be unreadable. */
struct config *
ctl_config_optional(struct ctl *ctl, int *failed)
{
	*failed = 0;
	if (ctl->conf != NULL)
		return ctl->conf;
	if (ctl->database != NULL && !ctl->config_given)
		return NULL;
	if (ctl_config(ctl) == NULL)
		*failed = 1;
	return ctl->conf;
}

struct store *
ctl_store(struct ctl *ctl, const struct command *cmd, int readonly)
{
	struct config	*conf;
	struct stat	 sb;
	const char	*path;
	char		*err = NULL;

	if (ctl->store != NULL)
		return ctl->store;
	if ((path = ctl->database) == NULL) {
		if ((conf = ctl_config(ctl)) == NULL)
			return NULL;
		path = conf->database;
	}
	/* A mistyped -d must not leave a new empty database behind. */
	if (!store_is_remote(path) && stat(path, &sb) == -1) {
		cmd_fail(cmd, "database %s: %s (has usagehookd run with this "
		    "configuration?)", path, strerror(errno));
		return NULL;
	}
	/* The config's password file, when there is a config. */
	conf = ctl->conf;
	if ((ctl->store = store_open_auth(path, conf != NULL ?
	    conf->database_password_file : NULL, readonly, &err)) == NULL) {
		cmd_fail(cmd, "%s", err);
		free(err);
	}
	return ctl->store;
}

void
ctl_free(struct ctl *ctl)
{
	store_close(ctl->store);
	ctl->store = NULL;
	config_free(ctl->conf);
	ctl->conf = NULL;
}

/* "usagehookctl: CMD: message" on stderr. */
static void __attribute__((format(printf, 3, 0)))
vsay(const struct command *cmd, const char *prefix, const char *fmt,
    va_list ap)
{
	fprintf(stderr, "usagehookctl: %s: %s", cmd->name, prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* A usage error in a command: say why, show its usage, exit code 2. */
int
cmd_usage(const struct command *cmd, const char *fmt, ...)
{
	va_list	ap;

	if (fmt != NULL) {
		va_start(ap, fmt);
		vsay(cmd, "", fmt, ap);
		va_end(ap);
	}
	fprintf(stderr, "usage: usagehookctl [-c CONFIG] [-d DATABASE] %s\n",
	    cmd->usage);
	return EXIT_USAGE;
}

/* A failure in a command: one line on stderr, exit code 1. */
int
cmd_fail(const struct command *cmd, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsay(cmd, "", fmt, ap);
	va_end(ap);
	return EXIT_FAIL;
}

void
cmd_warn(const struct command *cmd, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsay(cmd, "warning: ", fmt, ap);
	va_end(ap);
}

int
bad_option(const struct command *cmd, int ch, char **argv)
{
	const char	*arg = argv[optind - 1];

	if (ch == ':')
		return cmd_usage(cmd, "option %s needs a value", arg);
	if (optopt != 0 && strncmp(arg, "--", 2) != 0)
		return cmd_usage(cmd, "unknown option -%c", optopt);
	return cmd_usage(cmd, "unknown option %s", arg);
}

int
cmd_help(const struct command *cmd)
{
	printf("usage: usagehookctl [-c CONFIG] [-d DATABASE] %s\n",
	    cmd->usage);
	return EXIT_OK;
}

int64_t
ctl_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
ctl_parse_duration(const char *s, int64_t *ms)
{
	int64_t	sec;

	if (config_parse_duration(s, &sec) == -1 || sec <= 0 ||
	    sec > INT64_MAX / 1000)
		return -1;
	*ms = sec * 1000;
	return 0;
}

/* "Z", "+HH:MM", "-HHMM" or nothing (UTC) at s; offset east in seconds. */
static int
parse_zone(const char *s, long *offset)
{
	int	h, m, n = 0;

	*offset = 0;
	if (*s == '\0' || strcmp(s, "Z") == 0 || strcmp(s, "z") == 0)
		return 0;
	if ((*s != '+' && *s != '-') ||
	    (sscanf(s + 1, "%2d:%2d%n", &h, &m, &n) != 2 &&
	    sscanf(s + 1, "%2d%2d%n", &h, &m, &n) != 2) ||
	    s[1 + n] != '\0' || h > 23 || m > 59)
		return -1;
	*offset = (h * 3600L + m * 60L) * (*s == '-' ? -1 : 1);
	return 0;
}

int
ctl_parse_since(const char *s, int64_t now, int64_t *ms)
{
	struct tm	 tm;
	const char	*p;
	long		 offset, frac = 0;
	int		 n;
	time_t		 t;

	if (ctl_parse_duration(s, ms) == 0) {
		*ms = now - *ms;
		return 0;
	}
	memset(&tm, 0, sizeof tm);
	if ((p = strptime(s, "%Y-%m-%d", &tm)) == NULL)
		return -1;
	if (*p == 'T' || *p == ' ') {
		if ((p = strptime(p + 1, "%H:%M", &tm)) == NULL)
			return -1;
		if (*p == ':' && (p = strptime(p + 1, "%S", &tm)) == NULL)
			return -1;
		if (*p == '.') {
			n = 0;
			if (sscanf(p + 1, "%3ld%n", &frac, &n) != 1)
				return -1;
			for (; n < 3; n++)
				frac *= 10;
			p += 1 + strspn(p + 1, "0123456789");
		}
	}
	if (parse_zone(p, &offset) == -1)
		return -1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*ms = ((int64_t)t - offset) * 1000 + frac;
	return 0;
}

int
ctl_parse_long(const char *s, long min, long max, long *out)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

char *
ctl_header_get(const char *block, const char *name)
{
	const char	*line, *eol, *v;
	size_t		 nlen = strlen(name), len;

	for (line = block; line != NULL && *line != '\0'; line = eol) {
		eol = strchr(line, '\n');
		if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			v = line + nlen + 1;
			v += strspn(v, " \t");
			len = eol ? (size_t)(eol - v) : strlen(v);
			if (len > 0 && v[len - 1] == '\r')
				len--;
			return xstrndup(v, len);
		}
		if (eol != NULL)
			eol++;
	}
	return NULL;
}

char *
ctl_uri_path(const char *uri)
{
	if (uri == NULL)
		return NULL;
	return xstrndup(uri, strcspn(uri, "?#"));
}

int
ctl_callback_arg(const struct command *cmd, int argc, char **argv,
    const char **key)
{
	if (optind >= argc)
		return cmd_usage(cmd, "which callback? give its "
		    "IdempotencyToken or id");
	if (optind + 1 < argc)
		return cmd_usage(cmd, "unexpected argument '%s'",
		    argv[optind + 1]);
	*key = argv[optind];
	return EXIT_OK;
}

int
ctl_find_callback(struct ctl *ctl, const struct command *cmd, const char *key,
    int readonly, struct callback_row *r)
{
	struct store	*s;
	int		 found;

	if ((s = ctl_store(ctl, cmd, readonly)) == NULL)
		return EXIT_FAIL;
	if ((found = store_callback_find(s, key, r)) == -1)
		return cmd_fail(cmd, "%s", store_errmsg(s));
	if (found == 0)
		return cmd_fail(cmd, "no callback with id or IdempotencyToken "
		    "%s", key);
	return EXIT_OK;
}

int
ctl_time_arg(const struct command *cmd, const char *option, const char *value,
    int64_t *ms)
{
	if (ctl_parse_since(value, ctl_now_ms(), ms) == -1)
		return cmd_usage(cmd, "%s %s: want a date (2026-11-24, "
		    "2026-11-24T03:00:00Z) or a duration ago (30m, 2h, 7d)",
		    option, value);
	return EXIT_OK;
}

int
ctl_subcommand(const struct command *cmd, const char *group, int argc,
    char **argv, const void *table, size_t n, size_t stride,
    int (*help)(FILE *), struct command *sc, char *name, size_t namelen,
    size_t *index)
{
	const char	*sub;
	size_t		 i;

	if (argc < 2) {
		fprintf(stderr, "usagehookctl: %s: which one?\n", group);
		return help(stderr);
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return help(stdout);
	for (i = 0; i < n; i++) {
		sub = *(const char *const *)(const void *)
		    ((const char *)table + i * stride);
		if (strcmp(argv[1], sub) == 0)
			break;
	}
	if (i == n) {
		fprintf(stderr, "usagehookctl: %s: unknown subcommand %s\n",
		    group, argv[1]);
		return help(stderr);
	}
	snprintf(name, namelen, "%s %s", group, argv[1]);
	*sc = *cmd;
	sc->name = name;
	*index = i;
	return EXIT_OK;
}

int
ctl_sub_option(const struct command *sc, const struct option *longopts,
    const char *allowed, int ch, char **argv)
{
	int	i;

	if (ch == 'h')
		return cmd_help(sc);
	if (ch == ':' || ch == '?')
		return bad_option(sc, ch, argv);
	if (strchr(allowed, ch) == NULL) {
		for (i = 0; longopts[i].val != ch; i++)
			;
		return cmd_usage(sc, "--%s is not an option of %s",
		    longopts[i].name, sc->name);
	}
	return EXIT_OK;
}
