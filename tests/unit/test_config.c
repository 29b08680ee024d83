/* test_config.c: config_load on real files in a temporary directory. */
#include "config-sys.h"

#include <sys/socket.h>

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "forwarded.h"

#define SID_A	"AC0123456789abcdef0123456789abcdef"
#define SID_B	"ACfedcba9876543210fedcba9876543210"
#define TOKEN	"0123456789abcdef0123456789abcdef"

/* A temporary directory with a token file, and the last load's messages. */
struct env {
	char	 dir[256];		/* realpath of the mkdtemp directory */
	char	 conf[PATH_MAX];	/* dir/usagehookd.yaml */
	char	*errs;			/* what config_load printed */
	size_t	 errslen;
};

/* Write text to dir/name, creating parent directories named in name. */
static void
write_file(struct env *e, const char *name, const char *text)
{
	char	 path[PATH_MAX], *slash;
	FILE	*fp;

	snprintf(path, sizeof path, "%s/%s", e->dir, name);
	for (slash = strchr(path + strlen(e->dir) + 1, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(path, 0700) == -1 && errno != EEXIST)
			fail_msg("mkdir %s: %s", path, strerror(errno));
		*slash = '/';
	}
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	/* Token files others may read are refused: write them as a secret. */
	assert_int_equal(chmod(path, 0600), 0);
}

/* Load a config file by path, keeping what it printed in e->errs. */
static struct config *
load_path(struct env *e, const char *path)
{
	struct config	*conf;
	FILE		*errs;

	free(e->errs);
	e->errs = NULL;
	errs = open_memstream(&e->errs, &e->errslen);
	assert_non_null(errs);
	conf = config_load(path, errs);
	assert_int_equal(fclose(errs), 0);
	return conf;
}

/* Write yaml as dir/usagehookd.yaml and load it. */
static struct config *
load(struct env *e, const char *yaml)
{
	write_file(e, "usagehookd.yaml", yaml);
	return load_path(e, e->conf);
}

/* The messages must be exactly these "LINE:COL: text" lines, after the file name. */
static void
assert_errors(struct env *e, const char *expected)
{
	char		*want = NULL;
	size_t		 wantlen = 0;
	FILE		*fp;
	const char	*line, *nl;

	fp = open_memstream(&want, &wantlen);
	assert_non_null(fp);
	for (line = expected; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		assert_non_null(nl);
		fprintf(fp, "%s:%.*s\n", e->conf, (int)(nl - line), line);
	}
	fclose(fp);
	assert_non_null(e->errs);
	assert_string_equal(e->errs, want);
	free(want);
}

/* Load yaml, expect failure and exactly these messages. */
static void
assert_refused(struct env *e, const char *yaml, const char *expected)
{
	struct config	*conf;

	conf = load(e, yaml);
	assert_errors(e, expected);
	assert_null(conf);
}

/* Load yaml and expect success with nothing printed. */
static struct config *
assert_loads(struct env *e, const char *yaml)
{
	struct config	*conf;

	conf = load(e, yaml);
	assert_string_equal(e->errs, "");
	assert_non_null(conf);
	return conf;
}

static int
setup(void **state)
{
	struct env	*e;
	char		 tmpl[] = "/tmp/test_config.XXXXXX", *real;

	e = calloc(1, sizeof(*e));
	assert_non_null(e);
	assert_non_null(mkdtemp(tmpl));
	assert_non_null(real = realpath(tmpl, NULL));
	assert_true(strlen(real) < sizeof e->dir);
	strcpy(e->dir, real);
	free(real);
	snprintf(e->conf, sizeof e->conf, "%s/usagehookd.yaml", e->dir);
	write_file(e, "token", TOKEN "\n");
	*state = e;
	return 0;
}

/* nftw callback: remove whatever it is, children first. */
static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
teardown(void **state)
{
	struct env	*e = *state;

	nftw(e->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(e->errs);
	free(e);
	return 0;
}

static void
test_minimal_config_gets_defaults(void **state)
{
	struct env	*e = *state;
	struct config	*conf;
	char		 want[PATH_MAX * 2];

	conf = assert_loads(e,
	    "database: usagehookd.db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: token\n");
	assert_string_equal(conf->file, e->conf);
	assert_string_equal(conf->listen, "127.0.0.1:8080");
	assert_null(conf->public_url);
	assert_string_equal(conf->path, "/twilio/usage");
	snprintf(want, sizeof want, "%s/usagehookd.db", e->dir);
	assert_string_equal(conf->database, want);
	assert_int_equal(conf->ntrusted_proxies, 0);
	assert_int_equal(conf->naccounts, 1);
	assert_string_equal(conf->accounts[0].sid, SID_A);
	assert_string_equal(conf->accounts[0].token, TOKEN);
	assert_null(conf->accounts[0].secondary);
	assert_int_equal(conf->limits.max_body, 64 * 1024);
	assert_int_equal(conf->limits.max_header, 8 * 1024);
	assert_int_equal(conf->limits.request_timeout, 10);
	assert_int_equal(conf->limits.max_connections, 1024);
	assert_int_equal(conf->retention.callbacks, 400 * 86400);
	assert_int_equal(conf->retention.rejected, 30 * 86400);
	config_free(conf);
}

static void
test_full_config_stores_every_key(void **state)
{
	struct env	*e = *state;
	struct config	*conf;

	write_file(e, "secondary", "next-token\n");
	setenv("UH_TEST_TOKEN_B", "env-token\n", 1);
	conf = assert_loads(e,
	    "# every key this version knows\n"
	    "listen: \"[::1]:9000\"\n"
	    "public_url: https://hooks.example.com:8443/\n"
	    "path: /hooks/twilio\n"
	    "database: /var/lib/usagehookd/usagehookd.db\n"
	    "trusted_proxies: [127.0.0.1, \"::1\", 10.0.0.0/8, "
	    "\"fd00::/8\", unix]\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: token\n"
	    "  - sid: " SID_B "\n"
	    "    auth_token_env: UH_TEST_TOKEN_B\n"
	    "    secondary_token_file: secondary\n"
	    "limits:\n"
	    "  max_body: 1MiB\n"
	    "  max_header: 16K\n"
	    "  request_timeout: 2m\n"
	    "  max_connections: 50\n"
	    "retention: { callbacks: 90d, rejected: 12h }\n");
	unsetenv("UH_TEST_TOKEN_B");
	assert_string_equal(conf->listen, "[::1]:9000");
	assert_string_equal(conf->public_url, "https://hooks.example.com:8443");
	assert_string_equal(conf->path, "/hooks/twilio");
	assert_string_equal(conf->database,
	    "/var/lib/usagehookd/usagehookd.db");
	assert_int_equal(conf->ntrusted_proxies, 5);
	/* Parsed once, at load: family, prefix length, bytes. */
	assert_int_equal(conf->trusted_proxies[0].family, AF_INET);
	assert_int_equal(conf->trusted_proxies[0].bits, 32);
	assert_memory_equal(conf->trusted_proxies[0].bytes, "\177\0\0\1", 4);
	assert_int_equal(conf->trusted_proxies[1].family, AF_INET6);
	assert_int_equal(conf->trusted_proxies[1].bits, 128);
	assert_int_equal(conf->trusted_proxies[1].bytes[15], 1);
	assert_int_equal(conf->trusted_proxies[2].family, AF_INET);
	assert_int_equal(conf->trusted_proxies[2].bits, 8);
	assert_int_equal(conf->trusted_proxies[2].bytes[0], 10);
	assert_int_equal(conf->trusted_proxies[3].family, AF_INET6);
	assert_int_equal(conf->trusted_proxies[3].bits, 8);
	assert_int_equal(conf->trusted_proxies[3].bytes[0], 0xfd);
	assert_int_equal(conf->trusted_proxies[4].family, 0);	/* unix */
	assert_int_equal(conf->naccounts, 2);
	assert_string_equal(conf->accounts[1].sid, SID_B);
	assert_string_equal(conf->accounts[1].token, "env-token");
	assert_string_equal(conf->accounts[1].secondary, "next-token");
	assert_null(conf->accounts[0].secondary);
	assert_int_equal(conf->limits.max_body, 1024 * 1024);
	assert_int_equal(conf->limits.max_header, 16 * 1024);
	assert_int_equal(conf->limits.request_timeout, 120);
	assert_int_equal(conf->limits.max_connections, 50);
	assert_int_equal(conf->retention.callbacks, 90 * 86400);
	assert_int_equal(conf->retention.rejected, 12 * 3600);
	config_free(conf);
}

static void
test_relative_paths_resolve_against_config_directory(void **state)
{
	struct env	*e = *state;
	struct config	*conf;
	char		 cwd[PATH_MAX], want[PATH_MAX * 2];

	write_file(e, "secrets/primary", TOKEN);
	write_file(e, "etc/usagehookd/usagehookd.yaml",
	    "listen: unix:run/http.sock\n"
	    "database: ../../var/usagehookd.db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: ./../../secrets/primary\n");
	/* Load by a relative name from elsewhere: cwd must not matter. */
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(e->dir), 0);
	conf = load_path(e, "etc/../etc/usagehookd/usagehookd.yaml");
	assert_int_equal(chdir("/"), 0);
	assert_string_equal(e->errs, "");
	assert_non_null(conf);
	snprintf(want, sizeof want, "unix:%s/etc/usagehookd/run/http.sock",
	    e->dir);
	assert_string_equal(conf->listen, want);
	snprintf(want, sizeof want, "%s/var/usagehookd.db", e->dir);
	assert_string_equal(conf->database, want);
	snprintf(want, sizeof want, "%s/etc/usagehookd/usagehookd.yaml",
	    e->dir);
	assert_string_equal(conf->file, want);
	assert_string_equal(conf->accounts[0].token, TOKEN);
	config_free(conf);
	assert_int_equal(chdir(cwd), 0);
}

static void
test_secondary_token_is_loaded_and_trimmed(void **state)
{
	struct env	*e = *state;
	struct config	*conf;

	write_file(e, "next", "next-token \t\r\n\n");
	conf = assert_loads(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: token\n"
	    "    secondary_token_file: next\n");
	assert_string_equal(conf->accounts[0].secondary, "next-token");
	config_free(conf);
}

static void
test_unknown_key_reports_line_and_column(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: token\n"
	    "    colour: blue\n"
	    "lisen: 127.0.0.1:80\n",
	    "5:5: unknown key 'colour' in accounts[0]; expected one of: sid, "
	    "auth_token_file, auth_token_env, secondary_token_file, "
	    "secondary_token_env, api_key_sid, api_key_secret_file, parent\n"
	    "6:1: unknown key 'lisen'; did you mean 'listen'?\n");
}

static void
test_wrong_type_says_expected_and_got(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "listen:\n"
	    "  host: 127.0.0.1\n"
	    "path: [a, b]\n"
	    "public_url:\n"
	    "database: db\n"
	    "accounts: {sid: " SID_A "}\n"
	    "limits: 10\n"
	    "trusted_proxies: 127.0.0.1\n",
	    "2:3: listen: expected a string, got a mapping\n"
	    "3:7: path: expected a string, got a sequence\n"
	    "4:12: public_url: expected a string, got null\n"
	    "6:11: accounts: expected a sequence, got a mapping\n"
	    "7:9: limits: expected a mapping, got a string\n"
	    "8:18: trusted_proxies: expected a sequence, got a string\n");
}

static void
test_missing_database_points_at_enclosing_mapping(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "# no database\n"
	    "listen: 127.0.0.1:8080\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: token\n",
	    "2:1: missing required key 'database'\n");
}

static void
test_missing_accounts_is_an_error(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "database: db\n",
	    "1:1: missing required key 'accounts'\n");
}

static void
test_empty_accounts_is_an_error(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "database: db\n"
	    "accounts: []\n",
	    "2:11: accounts: at least one account is required\n");
}

static void
test_account_needs_sid_and_a_token(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - auth_token_file: token\n"
	    "  - sid: " SID_A "\n"
	    "  - just a string\n",
	    "3:5: accounts[0]: missing required key 'sid'\n"
	    "4:5: accounts[1]: missing auth_token_file or auth_token_env\n"
	    "5:5: accounts[2]: expected a mapping, got a string\n");
}

static void
test_malformed_sid_is_rejected(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: ACxyz\n"
	    "    auth_token_file: token\n"
	    "  - sid: UT0123456789abcdef0123456789abcdef\n"
	    "    auth_token_file: token\n"
	    "  - sid: AC0123456789abcdef0123456789abcdeg\n"
	    "    auth_token_file: token\n",
	    "3:10: sid: 'ACxyz' is not an AccountSid (AC followed by 32 hex "
	    "digits)\n"
	    "5:10: sid: 'UT0123456789abcdef0123456789abcdef' is not an "
	    "AccountSid (AC followed by 32 hex digits)\n"
	    "7:10: sid: 'AC0123456789abcdef0123456789abcdeg' is not an "
	    "AccountSid (AC followed by 32 hex digits)\n");
}

static void
test_uppercase_hex_sid_is_stored_as_twilio_sends_it(void **state)
{
	struct env	*e = *state;
	struct config	*conf;

	conf = assert_loads(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: AC0123456789ABCDEF0123456789ABCDEF\n"
	    "    auth_token_file: token\n");
	assert_string_equal(conf->accounts[0].sid, SID_A);
	assert_non_null(config_account(conf, SID_A));
	config_free(conf);
}

static void
test_unreadable_token_file_names_path_and_reason(void **state)
{
	struct env	*e = *state;
	char		 want[PATH_MAX * 4];

	assert_int_equal(mkdir(strcat(strcpy(want, e->dir), "/adir"), 0700),
	    0);
	snprintf(want, sizeof want,
	    "4:22: auth_token_file %s/missing: cannot read: No such file or "
	    "directory\n"
	    "6:22: auth_token_file %s/adir: cannot read: Is a directory\n",
	    e->dir, e->dir);
	assert_refused(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: missing\n"
	    "  - sid: " SID_B "\n"
	    "    auth_token_file: adir\n",
	    want);
}

static void
test_empty_token_file_is_rejected(void **state)
{
	struct env	*e = *state;
	char		 want[PATH_MAX * 2];

	write_file(e, "empty", " \n\n");
	snprintf(want, sizeof want,
	    "4:22: auth_token_file %s/empty: file is empty\n", e->dir);
	assert_refused(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: empty\n",
	    want);
}

static void
test_token_value_never_appears_in_messages(void **state)
{
	struct env	*e = *state;
	char		 want[PATH_MAX * 2];

	write_file(e, "twolines", "sekrit-one\nsekrit-two\n");
	setenv("UH_TEST_SPACED", "sekrit three", 1);
	snprintf(want, sizeof want,
	    "4:22: auth_token_file %s/twolines: the token contains spaces, "
	    "line breaks or control characters\n"
	    "6:21: auth_token_env UH_TEST_SPACED: the token contains spaces, "
	    "line breaks or control characters\n", e->dir);
	assert_refused(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: twolines\n"
	    "  - sid: " SID_B "\n"
	    "    auth_token_env: UH_TEST_SPACED\n",
	    want);
	unsetenv("UH_TEST_SPACED");
	assert_null(strstr(e->errs, "sekrit"));
}

static void
test_auth_token_env_is_read(void **state)
{
	struct env	*e = *state;
	struct config	*conf;

	setenv("UH_TEST_TOKEN", TOKEN "\n", 1);
	conf = assert_loads(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_env: UH_TEST_TOKEN\n"
	    "    secondary_token_env: UH_TEST_TOKEN\n");
	unsetenv("UH_TEST_TOKEN");
	assert_string_equal(conf->accounts[0].token, TOKEN);
	assert_string_equal(conf->accounts[0].secondary, TOKEN);
	config_free(conf);
}

static void
test_auth_token_env_missing_or_empty_names_variable(void **state)
{
	struct env	*e = *state;

	unsetenv("UH_TEST_UNSET");
	setenv("UH_TEST_EMPTY", "", 1);
	assert_refused(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_env: UH_TEST_UNSET\n"
	    "  - sid: " SID_B "\n"
	    "    auth_token_env: UH_TEST_EMPTY\n",
	    "4:21: auth_token_env UH_TEST_UNSET: environment variable is not "
	    "set\n"
	    "6:21: auth_token_env UH_TEST_EMPTY: environment variable is "
	    "empty\n");
	unsetenv("UH_TEST_EMPTY");
}

static void
test_token_file_and_env_together_is_an_error(void **state)
{
	struct env	*e = *state;

	setenv("UH_TEST_TOKEN", TOKEN, 1);
	assert_refused(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: token\n"
	    "    auth_token_env: UH_TEST_TOKEN\n"
	    "    secondary_token_env: UH_TEST_TOKEN\n"
	    "    secondary_token_file: token\n",
	    "5:5: auth_token_env: give only one of auth_token_file and "
	    "auth_token_env (already set by auth_token_file at line 4)\n"
	    "7:5: secondary_token_file: give only one of secondary_token_file "
	    "and secondary_token_env (already set by secondary_token_env at "
	    "line 6)\n");
	unsetenv("UH_TEST_TOKEN");
}

static void
test_bad_size_and_duration_are_reported(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "limits:\n"
	    "  max_body: 64 KiB\n"
	    "  max_header: 8XB\n"
	    "  request_timeout: 10 minutes\n"
	    "  max_connections: many\n"
	    "retention:\n"
	    "  callbacks: -1d\n"
	    "  rejected: 99999999999999999999d\n",
	    "4:13: max_body: '64 KiB' is not a size (digits with an optional "
	    "B, K, KB, KiB, M, MB or MiB)\n"
	    "5:15: max_header: '8XB' is not a size (digits with an optional "
	    "B, K, KB, KiB, M, MB or MiB)\n"
	    "6:20: request_timeout: '10 minutes' is not a duration (digits "
	    "with an optional s, m, h or d)\n"
	    "7:20: max_connections: 'many' is not a whole number\n"
	    "9:14: callbacks: '-1d' is not a duration (digits with an "
	    "optional s, m, h or d)\n"
	    "10:13: rejected: '99999999999999999999d' is not a duration "
	    "(digits with an optional s, m, h or d)\n");
}

static void
test_out_of_range_values_are_reported(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "limits:\n"
	    "  max_body: 65MiB\n"
	    "  max_header: 1023\n"
	    "  request_timeout: 0s\n"
	    "  max_connections: 1000001\n"
	    "retention: {callbacks: 59m, rejected: 36501d}\n",
	    "4:13: max_body: '65MiB' is out of range (1KiB..64MiB)\n"
	    "5:15: max_header: '1023' is out of range (1KiB..1MiB)\n"
	    "6:20: request_timeout: '0s' is out of range (1s..1h)\n"
	    "7:20: max_connections: '1000001' is out of range (1..1000000)\n"
	    "8:24: callbacks: '59m' is out of range (1h..36500d)\n"
	    "8:39: rejected: '36501d' is out of range (1h..36500d)\n");
}

static void
test_range_bounds_are_accepted(void **state)
{
	struct env	*e = *state;
	struct config	*conf;

	conf = assert_loads(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "limits: {max_body: 64MiB, max_header: 1KiB, "
	    "request_timeout: 1h, max_connections: 1000000}\n");
	assert_int_equal(conf->limits.max_body, 64 * 1024 * 1024);
	assert_int_equal(conf->limits.max_header, 1024);
	assert_int_equal(conf->limits.request_timeout, 3600);
	assert_int_equal(conf->limits.max_connections, 1000000);
	config_free(conf);
}

static void
test_yaml_syntax_error_reports_line(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: token\n"
	    "   listen: 127.0.0.1:8080\n",
	    "5:4: syntax error: did not find expected '-' indicator (while "
	    "parsing a block collection at line 3, column 3); check the "
	    "indentation: the items of a list start with '- ' in one "
	    "column\n");
	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}\n"
	    "limits: {}\n",
	    "3:1: syntax error: did not find expected ',' or ']' (while "
	    "parsing a flow sequence at line 2, column 11); in [ … ] "
	    "separate items with ',' and quote items containing ',', ':', "
	    "'[' or ']'\n");
}

static void
test_all_errors_reported_not_only_first(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "listen: localhost\n"
	    "path: twilio\n"
	    "colour: blue\n"
	    "accounts:\n"
	    "  - sid: AC123\n"
	    "    auth_token_file: token\n"
	    "limits: {max_body: 1GiB}\n",
	    "1:9: listen: 'localhost' is not host:port, [address]:port or "
	    "unix:/path: the port is missing\n"
	    "2:7: path: 'twilio' must start with '/'\n"
	    "3:1: unknown key 'colour'; expected one of: listen, "
	    "metrics_listen, public_url, "
	    "path, database, database_password_file, trusted_proxies, accounts, "
	    "limits, retention, "
	    "twilio_api, twilio_ca_file, triggers, rules, dispatch, "
	    "reconcile\n"
	    "5:10: sid: 'AC123' is not an AccountSid (AC followed by 32 hex "
	    "digits)\n"
	    "7:20: max_body: '1GiB' is not a size (digits with an optional B, "
	    "K, KB, KiB, M, MB or MiB)\n"
	    "1:1: missing required key 'database'\n");
}

static void
test_duplicate_account_sid_is_an_error(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: token\n"
	    "  - sid: AC0123456789ABCDEF0123456789abcdef\n"
	    "    auth_token_file: token\n",
	    "5:10: sid: account " SID_A " is listed twice (first at line 3)\n");
}

static void
test_duplicate_key_is_an_error(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "database: other\n"
	    "limits: {max_body: 1MiB, max_body: 2MiB}\n",
	    "3:1: duplicate key 'database' (first at line 1)\n"
	    "4:26: duplicate key 'max_body' (first at line 4)\n");
}

static void
test_trusted_proxies_bad_address_is_rejected(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "trusted_proxies:\n"
	    "  - 127.0.0.1\n"
	    "  - 10.0.0.300\n"
	    "  - 10.0.0.0/33\n"
	    "  - \"::1/129\"\n"
	    "  - proxy.example.com\n"
	    "  - [unix]\n",
	    "5:5: trusted_proxies: '10.0.0.300' is not an IP address, "
	    "address/prefix or 'unix'\n"
	    "6:5: trusted_proxies: '10.0.0.0/33' is not an IP address, "
	    "address/prefix or 'unix'\n"
	    "7:5: trusted_proxies: '::1/129' is not an IP address, "
	    "address/prefix or 'unix'\n"
	    "8:5: trusted_proxies: 'proxy.example.com' is not an IP address, "
	    "address/prefix or 'unix'\n"
	    "9:5: trusted_proxies: expected a string, got a sequence\n");
}

static void
test_public_url_with_path_or_query_is_rejected(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "public_url: https://hooks.example.com/twilio/usage\n"
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n",
	    "1:13: public_url: 'https://hooks.example.com/twilio/usage' is not "
	    "http(s)://host[:port]: it has a path (the callback path is the "
	    "key 'path')\n");
	assert_refused(e,
	    "public_url: ftp://hooks.example.com\n"
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n",
	    "1:13: public_url: 'ftp://hooks.example.com' is not "
	    "http(s)://host[:port]: the scheme must be http:// or https://\n");
	assert_refused(e,
	    "public_url: http://hooks.example.com?x=1\n"
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n",
	    "1:13: public_url: 'http://hooks.example.com?x=1' is not "
	    "http(s)://host[:port]: it has a query\n");
	assert_refused(e,
	    "public_url: http://hooks.example.com:99999\n"
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n",
	    "1:13: public_url: 'http://hooks.example.com:99999' is not "
	    "http(s)://host[:port]: the port is not a number from 1 to "
	    "65535\n");
}

static void
test_public_url_loses_one_trailing_slash(void **state)
{
	struct env	*e = *state;
	struct config	*conf;

	conf = assert_loads(e,
	    "public_url: http://[2001:db8::1]:8080/\n"
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n");
	assert_string_equal(conf->public_url, "http://[2001:db8::1]:8080");
	config_free(conf);
}

static void
test_listen_forms_are_checked(void **state)
{
	struct env	*e = *state;
	struct config	*conf;

	conf = assert_loads(e,
	    "listen: unix:/run/usagehookd/http.sock\n"
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n");
	assert_string_equal(conf->listen, "unix:/run/usagehookd/http.sock");
	config_free(conf);
	conf = assert_loads(e,
	    "listen: 0.0.0.0:80\n"
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n");
	assert_string_equal(conf->listen, "0.0.0.0:80");
	config_free(conf);
	assert_refused(e,
	    "listen: ::1:8080\n"
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n",
	    "1:9: listen: '::1:8080' is not host:port, [address]:port or "
	    "unix:/path: an IPv6 address needs brackets, as in [::1]:8080\n");
	assert_refused(e,
	    "listen: \"unix:\"\n"
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n",
	    "1:9: listen: 'unix:' needs a socket path, as in "
	    "unix:/run/usagehookd/http.sock\n");
	assert_refused(e,
	    "listen: 127.0.0.1:0\n"
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n",
	    "1:9: listen: '127.0.0.1:0' is not host:port, [address]:port or "
	    "unix:/path: the port is not a number from 1 to 65535\n");
}

static void
test_path_must_be_a_plain_absolute_path(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "path: /twilio?x=1\n"
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n",
	    "1:7: path: '/twilio?x=1' must be a plain path, without query, "
	    "fragment, spaces or control characters\n");
}

static void
test_control_characters_are_escaped_in_messages(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "path: \"a\\nb\"\n"
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n",
	    "1:7: path: 'a\\x0ab' must start with '/'\n");
}

static void
test_missing_config_file_reports_cannot_open(void **state)
{
	struct env	*e = *state;
	struct config	*conf;
	char		 path[PATH_MAX], want[PATH_MAX * 2];

	snprintf(path, sizeof path, "%s/nope.yaml", e->dir);
	conf = load_path(e, path);
	assert_null(conf);
	snprintf(want, sizeof want,
	    "%s: cannot open: No such file or directory\n", path);
	assert_string_equal(e->errs, want);
}

static void
test_empty_file_reports_empty_configuration(void **state)
{
	struct env	*e = *state;

	assert_refused(e, "", "1:1: empty configuration\n");
	assert_refused(e, "# only a comment\n", "1:1: empty configuration\n");
}

static void
test_non_mapping_document_is_refused(void **state)
{
	struct env	*e = *state;

	assert_refused(e, "- listen\n",
	    "1:1: the configuration must be a mapping of keys, got a "
	    "sequence\n");
}

static void
test_second_yaml_document_is_refused(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "---\n"
	    "database: other\n",
	    "4:1: only one YAML document is allowed\n");
}

static void
test_config_account_finds_by_exact_sid(void **state)
{
	struct env	*e = *state;
	struct config	*conf;

	setenv("UH_TEST_TOKEN", "second", 1);
	conf = assert_loads(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - {sid: " SID_A ", auth_token_file: token}\n"
	    "  - {sid: " SID_B ", auth_token_env: UH_TEST_TOKEN}\n");
	unsetenv("UH_TEST_TOKEN");
	assert_ptr_equal(config_account(conf, SID_A), &conf->accounts[0]);
	assert_string_equal(config_account(conf, SID_B)->token, "second");
	assert_null(config_account(conf, "AC0123456789ABCDEF0123456789ABCDEF"));
	assert_null(config_account(conf, ""));
	config_free(conf);
}

static void
test_config_free_null_is_a_noop(void **state)
{
	config_free(NULL);
}

static void
test_config_parse_size_table(void **state)
{
	static const struct {
		const char	*in;
		int		 ret;
		size_t		 out;
	} cases[] = {
		{ "0",		 0, 0 },
		{ "512",	 0, 512 },
		{ "512B",	 0, 512 },
		{ "1K",		 0, 1024 },
		{ "64KB",	 0, 64 * 1024 },
		{ "64KiB",	 0, 64 * 1024 },
		{ "1M",		 0, 1024 * 1024 },
		{ "2MB",	 0, 2 * 1024 * 1024 },
		{ "64MiB",	 0, 64 * 1024 * 1024 },
		{ "18446744073709551615", 0, SIZE_MAX },
		{ "18446744073709551616", -1, 0 },
		{ "18014398509481984KiB", -1, 0 },
		{ "",		-1, 0 },
		{ "K",		-1, 0 },
		{ "-1",		-1, 0 },
		{ "+1",		-1, 0 },
		{ " 1",		-1, 0 },
		{ "1 KiB",	-1, 0 },
		{ "1kib",	-1, 0 },
		{ "1GiB",	-1, 0 },
		{ "1.5M",	-1, 0 },
		{ "1KiBB",	-1, 0 },
	};
	size_t	i, out;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		out = 12345;
		if (config_parse_size(cases[i].in, &out) != cases[i].ret)
			fail_msg("config_parse_size(\"%s\") should return %d",
			    cases[i].in, cases[i].ret);
		if (cases[i].ret == 0 && out != cases[i].out)
			fail_msg("config_parse_size(\"%s\") = %zu, want %zu",
			    cases[i].in, out, cases[i].out);
		if (cases[i].ret == -1 && out != 12345)
			fail_msg("config_parse_size(\"%s\") wrote on failure",
			    cases[i].in);
	}
}

static void
test_config_parse_duration_table(void **state)
{
	static const struct {
		const char	*in;
		int		 ret;
		int64_t		 out;
	} cases[] = {
		{ "0",		 0, 0 },
		{ "10",		 0, 10 },
		{ "10s",	 0, 10 },
		{ "5m",		 0, 300 },
		{ "2h",		 0, 7200 },
		{ "400d",	 0, 400 * 86400LL },
		{ "9223372036854775807", 0, INT64_MAX },
		{ "9223372036854775808", -1, 0 },
		{ "106751991167301d", -1, 0 },
		{ "",		-1, 0 },
		{ "s",		-1, 0 },
		{ "-5s",	-1, 0 },
		{ "5 s",	-1, 0 },
		{ "5S",		-1, 0 },
		{ "1w",		-1, 0 },
		{ "1h30m",	-1, 0 },
		{ "1.5h",	-1, 0 },
	};
	size_t	i;
	int64_t	out;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		out = 12345;
		if (config_parse_duration(cases[i].in, &out) != cases[i].ret)
			fail_msg("config_parse_duration(\"%s\") should return "
			    "%d", cases[i].in, cases[i].ret);
		if (cases[i].ret == 0 && out != cases[i].out)
			fail_msg("config_parse_duration(\"%s\") = %lld, want "
			    "%lld", cases[i].in, (long long)out,
			    (long long)cases[i].out);
		if (cases[i].ret == -1 && out != 12345)
			fail_msg("config_parse_duration(\"%s\") wrote on "
			    "failure", cases[i].in);
	}
}

/* A file in the test directory with these permission bits. */
static void
write_mode(struct env *e, const char *name, const char *text, mode_t mode)
{
	char	path[PATH_MAX];

	write_file(e, name, text);
	snprintf(path, sizeof path, "%s/%s", e->dir, name);
	assert_int_equal(chmod(path, mode), 0);
}

static void
test_rules_actions_and_dispatch_are_stored(void **state)
{
	struct env		*e = *state;
	struct config		*conf;
	const struct rule	*r;
	const struct action	*a;
	char			 want[PATH_MAX * 2];

	write_mode(e, "bin/page", "#!/bin/sh\n", 0755);
	write_file(e, "secrets/hook", "s3cret\n");
	write_file(e, "ca.pem", "-----BEGIN CERTIFICATE-----\n");
	snprintf(want, sizeof want,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "rules:\n"
	    "  - name: sms-spend.v2_x\n"
	    "    match:\n"
	    "      UsageCategory: [sms, \"sms-*\"]\n"
	    "      TriggerBy: price\n"
	    "      CurrentValue: \">= 100\"\n"
	    "      TriggerValue: \"<5.5\"\n"
	    "      Recurring: \"\"\n"
	    "    actions:\n"
	    "      - exec: [%s/bin/page, --severity, high, \"{CurrentValue}\", "
	    "\"\"]\n"
	    "        timeout: 1500ms\n"
	    "      - http: https://ops.example.com:8443/hooks/usage?x=1\n"
	    "        headers:\n"
	    "          X-Plain: hello\n"
	    "          Authorization: {file: secrets/hook}\n"
	    "        ca_file: ./ca.pem\n"
	    "        max_attempts: 3\n"
	    "      - append: usage.jsonl\n"
	    "      - log: \"sms spend {CurrentValue} passed {TriggerValue}\"\n"
	    "    continue: true\n"
	    "  - name: all\n"
	    "    actions: [{http: http://127.0.0.1:9/x, timeout: 2s}]\n"
	    "dispatch:\n"
	    "  concurrency: 16\n"
	    "  per_rule: 1\n"
	    "  max_attempts: 5\n"
	    "  backoff: 500ms\n"
	    "  max_backoff: 1h\n", e->dir);
	conf = assert_loads(e, want);
	assert_int_equal(conf->nrules, 2);
	r = &conf->rules[0];
	assert_string_equal(r->name, "sms-spend.v2_x");
	assert_true(r->cont);
	assert_int_equal(r->nmatches, 5);
	assert_string_equal(r->matches[0].param, "UsageCategory");
	assert_int_equal(r->matches[0].nvalues, 2);
	assert_int_equal(r->matches[0].values[0].kind, MATCH_EXACT);
	assert_string_equal(r->matches[0].values[0].text, "sms");
	assert_int_equal(r->matches[0].values[1].kind, MATCH_GLOB);
	assert_string_equal(r->matches[0].values[1].text, "sms-*");
	assert_string_equal(r->matches[1].param, "TriggerBy");
	assert_string_equal(r->matches[1].values[0].text, "price");
	assert_int_equal(r->matches[2].values[0].kind, MATCH_CMP);
	assert_int_equal(r->matches[2].values[0].op, CMP_GE);
	assert_true(r->matches[2].values[0].number == 100.0);
	assert_int_equal(r->matches[3].values[0].op, CMP_LT);
	assert_true(r->matches[3].values[0].number == 5.5);
	assert_string_equal(r->matches[4].param, "Recurring");
	assert_int_equal(r->matches[4].values[0].kind, MATCH_EXACT);
	assert_string_equal(r->matches[4].values[0].text, "");
	assert_int_equal(r->nactions, 4);

	a = &r->actions[0];
	assert_int_equal(a->kind, ACTION_EXEC);
	assert_int_equal(a->argc, 5);
	snprintf(want, sizeof want, "%s/bin/page", e->dir);
	assert_string_equal(a->argv[0], want);
	assert_string_equal(a->argv[1], "--severity");
	assert_string_equal(a->argv[3], "{CurrentValue}");
	assert_string_equal(a->argv[4], "");
	assert_null(a->argv[5]);
	assert_int_equal(a->timeout_ms, 1500);
	assert_int_equal(a->max_attempts, 5);	/* dispatch's, read later */

	a = &r->actions[1];
	assert_int_equal(a->kind, ACTION_HTTP);
	assert_string_equal(a->url,
	    "https://ops.example.com:8443/hooks/usage?x=1");
	assert_int_equal(a->nheaders, 2);
	assert_string_equal(a->headers[0].name, "X-Plain");
	assert_string_equal(a->headers[0].value, "hello");
	assert_null(a->headers[0].file);
	assert_string_equal(a->headers[1].name, "Authorization");
	assert_null(a->headers[1].value);
	snprintf(want, sizeof want, "%s/secrets/hook", e->dir);
	assert_string_equal(a->headers[1].file, want);
	snprintf(want, sizeof want, "%s/ca.pem", e->dir);
	assert_string_equal(a->ca_file, want);
	assert_int_equal(a->max_attempts, 3);
	assert_int_equal(a->timeout_ms, 10000);

	a = &r->actions[2];
	assert_int_equal(a->kind, ACTION_APPEND);
	snprintf(want, sizeof want, "%s/usage.jsonl", e->dir);
	assert_string_equal(a->path, want);

	a = &r->actions[3];
	assert_int_equal(a->kind, ACTION_LOG);
	assert_string_equal(a->template,
	    "sms spend {CurrentValue} passed {TriggerValue}");

	r = &conf->rules[1];
	assert_string_equal(r->name, "all");
	assert_false(r->cont);
	assert_int_equal(r->nmatches, 0);
	assert_int_equal(r->actions[0].timeout_ms, 2000);

	assert_int_equal(conf->dispatch.concurrency, 16);
	assert_int_equal(conf->dispatch.per_rule, 1);
	assert_int_equal(conf->dispatch.max_attempts, 5);
	assert_int_equal(conf->dispatch.backoff_ms, 500);
	assert_int_equal(conf->dispatch.max_backoff_ms, 3600 * 1000);
	config_free(conf);
}

static void
test_dispatch_defaults_without_rules(void **state)
{
	struct env	*e = *state;
	struct config	*conf;

	conf = assert_loads(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "rules: []\n");
	assert_int_equal(conf->nrules, 0);
	assert_null(conf->rules);
	assert_int_equal(conf->dispatch.concurrency, 8);
	assert_int_equal(conf->dispatch.per_rule, 2);
	assert_int_equal(conf->dispatch.max_attempts, 8);
	assert_int_equal(conf->dispatch.backoff_ms, 30 * 1000);
	assert_int_equal(conf->dispatch.max_backoff_ms, 30 * 60 * 1000);
	config_free(conf);
	conf = assert_loads(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "rules: [{name: r, actions: [{log: x}]}]\n");
	assert_int_equal(conf->rules[0].actions[0].max_attempts, 8);
	assert_int_equal(conf->rules[0].actions[0].timeout_ms, 10000);
	config_free(conf);
}

static void
test_unknown_match_key_suggests_parameter(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "rules:\n"
	    "  - name: r\n"
	    "    match:\n"
	    "      UsageCatgory: sms\n"
	    "      usagecategory: sms\n"
	    "      Colour: blue\n"
	    "      CurrentValue: \">= 1\"\n"
	    "      CurrentValue: \">= 2\"\n"
	    "    actions: [{log: x}]\n",
	    "6:7: unknown key 'UsageCatgory' in rules[0].match; did you mean "
	    "'UsageCategory'?\n"
	    "7:7: unknown key 'usagecategory' in rules[0].match; did you mean "
	    "'UsageCategory'?\n"
	    "8:7: unknown key 'Colour' in rules[0].match; expected one of: "
	    "AccountSid, UsageTriggerSid, DateFired, Recurring, UsageCategory, "
	    "TriggerBy, TriggerValue, CurrentValue, UsageRecordUri, "
	    "IdempotencyToken\n"
	    "10:7: duplicate key 'CurrentValue' (first at line 9)\n");
}

static void
test_comparison_only_for_numeric_parameters(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "rules:\n"
	    "  - name: r\n"
	    "    match:\n"
	    "      UsageCategory: \">= 100\"\n"
	    "      DateFired: [\"!= x\"]\n"
	    "      CurrentValue: [\">= 1\", \"> lots\", \"<=\", \"== 1 2\"]\n"
	    "      TriggerValue: \"< 0x10\"\n"
	    "    actions: [{log: x}]\n",
	    "6:22: UsageCategory: '>= 100' is a numeric comparison; only "
	    "TriggerValue and CurrentValue are numbers\n"
	    "7:19: DateFired: '!= x' is a numeric comparison; only "
	    "TriggerValue and CurrentValue are numbers\n"
	    "8:30: CurrentValue: '> lots' is not a comparison (<, <=, >, >=, "
	    "== or != and a number)\n"
	    "8:40: CurrentValue: '<=' is not a comparison (<, <=, >, >=, == "
	    "or != and a number)\n"
	    "8:46: CurrentValue: '== 1 2' is not a comparison (<, <=, >, >=, "
	    "== or != and a number)\n"
	    "9:21: TriggerValue: '< 0x10' is not a comparison (<, <=, >, >=, "
	    "== or != and a number)\n");
}

static void
test_match_value_types_are_checked(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "rules:\n"
	    "  - name: r\n"
	    "    match:\n"
	    "      UsageCategory:\n"
	    "      TriggerBy: {a: b}\n"
	    "      Recurring: []\n"
	    "      CurrentValue: [[1]]\n"
	    "    actions: [{log: x}]\n"
	    "  - name: s\n"
	    "    match: [UsageCategory]\n"
	    "    actions: [{log: x}]\n"
	    "    continue: maybe\n",
	    "6:21: UsageCategory: expected a string or a sequence of strings, "
	    "got null\n"
	    "7:18: TriggerBy: expected a string or a sequence of strings, got "
	    "a mapping\n"
	    "8:18: Recurring: expected at least one value\n"
	    "9:22: CurrentValue: expected a string, got a sequence\n"
	    "12:12: rules[1].match: expected a mapping, got a sequence\n"
	    "14:15: continue: expected true or false, got 'maybe'\n");
}

static void
test_exec_program_must_be_absolute_and_executable(void **state)
{
	struct env	*e = *state;
	char		 yaml[PATH_MAX * 4], want[PATH_MAX * 4];

	write_mode(e, "notexec", "#!/bin/sh\n", 0644);
	assert_int_equal(mkdir(strcat(strcpy(want, e->dir), "/adir"), 0700),
	    0);
	snprintf(yaml, sizeof yaml,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "rules:\n"
	    "  - name: r\n"
	    "    actions:\n"
	    "      - exec: [bin/page, x]\n"
	    "      - exec: [%s/missing]\n"
	    "      - exec: [%s/notexec]\n"
	    "      - exec: [%s/adir]\n"
	    "      - exec: []\n"
	    "      - exec: /bin/true\n"
	    "      - exec: [\"\"]\n",
	    e->dir, e->dir, e->dir);
	snprintf(want, sizeof want,
	    "6:16: exec: 'bin/page' must be an absolute path (there is no PATH "
	    "search)\n"
	    "7:16: exec %s/missing: cannot execute: No such file or "
	    "directory\n"
	    "8:16: exec %s/notexec: cannot execute: Permission denied\n"
	    "9:16: exec %s/adir: cannot execute: Is a directory\n"
	    "10:15: exec: needs at least the program to run\n"
	    "11:15: exec: expected a sequence (program and arguments), got a "
	    "string\n"
	    "12:16: exec: must not be empty\n",
	    e->dir, e->dir, e->dir);
	assert_refused(e, yaml, want);
}

static void
test_append_path_resolves_and_needs_its_directory(void **state)
{
	struct env	*e = *state;
	struct config	*conf;
	char		 want[PATH_MAX * 4];

	write_file(e, "etc/usagehookd.yaml",
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: ../token}]\n"
	    "rules:\n"
	    "  - name: r\n"
	    "    actions: [{append: ../usage.jsonl}, "
	    "{append: /tmp/abs.jsonl}]\n");
	snprintf(want, sizeof want, "%s/etc/usagehookd.yaml", e->dir);
	conf = load_path(e, want);
	assert_string_equal(e->errs, "");
	assert_non_null(conf);
	snprintf(want, sizeof want, "%s/usage.jsonl", e->dir);
	assert_string_equal(conf->rules[0].actions[0].path, want);
	assert_string_equal(conf->rules[0].actions[1].path, "/tmp/abs.jsonl");
	config_free(conf);

	write_file(e, "plainfile", "x");
	assert_int_equal(mkdir(strcat(strcpy(want, e->dir), "/out"), 0700),
	    0);
	snprintf(want, sizeof want,
	    "4:34: append %s/nodir/usage.jsonl: directory %s/nodir: No such "
	    "file or directory\n"
	    "5:34: append %s/plainfile/usage.jsonl: %s/plainfile is not a "
	    "directory\n"
	    "6:34: append %s/out: Is a directory\n",
	    e->dir, e->dir, e->dir, e->dir, e->dir);
	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "rules:\n"
	    "  - {name: a, actions: [{append: nodir/usage.jsonl}]}\n"
	    "  - {name: b, actions: [{append: plainfile/usage.jsonl}]}\n"
	    "  - {name: c, actions: [{append: out}]}\n",
	    want);
}

static void
test_option_not_valid_for_kind_is_an_error(void **state)
{
	struct env	*e = *state;

	write_file(e, "ca.pem", "x");
	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "rules:\n"
	    "  - name: r\n"
	    "    actions:\n"
	    "      - headers: {X-A: b}\n"
	    "        exec: [/bin/sh]\n"
	    "      - log: hello\n"
	    "        timeout: 5s\n"
	    "        max_attempts: 2\n"
	    "      - append: out.jsonl\n"
	    "        ca_file: ca.pem\n"
	    "      - http: http://127.0.0.1:1/\n"
	    "        timeout: 5s\n"
	    "        colour: red\n",
	    "6:9: headers: not valid for exec actions (only for http)\n"
	    "9:9: timeout: not valid for log actions (only for exec, http)\n"
	    "12:9: ca_file: not valid for append actions (only for http)\n"
	    "15:9: unknown key 'colour' in rules[0].actions[3]; expected one "
	    "of: exec, http, append, log, twilio, timeout, max_attempts, "
	    "headers, ca_file, body, content_type, account, end_calls\n");
}

static void
test_rule_needs_name_and_actions(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "rules:\n"
	    "  - name: no-actions\n"
	    "    match: {UsageCategory: sms}\n"
	    "  - name: empty\n"
	    "    actions: []\n"
	    "  - actions: [{log: x}]\n"
	    "  - name: bad name!\n"
	    "    actions:\n"
	    "      - timeout: 5s\n"
	    "      - log: x\n"
	    "        append: y.jsonl\n"
	    "      - nothing\n"
	    "  - just a string\n",
	    "4:5: rules[0]: missing required key 'actions'\n"
	    "7:14: actions: at least one action is required\n"
	    "8:5: rules[2]: missing required key 'name'\n"
	    "9:11: name: 'bad name!' may only contain letters, digits, '.', "
	    "'_' and '-'\n"
	    "11:9: rules[3].actions[0]: needs one of exec, http, append, log "
	    "or twilio\n"
	    "13:9: append: give only one of exec, http, append, log and "
	    "twilio (already set by log at line 12)\n"
	    "14:9: rules[3].actions[2]: expected a mapping, got a string\n"
	    "15:5: rules[4]: expected a mapping, got a string\n");
}

static void
test_duplicate_rule_name_is_an_error(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "rules:\n"
	    "  - name: page\n"
	    "    actions: [{log: x}]\n"
	    "  - name: other\n"
	    "    actions: [{log: x}]\n"
	    "  - name: page\n"
	    "    actions: [{log: y}]\n",
	    "8:11: name: rule 'page' is listed twice (first at line 4)\n");
}

static void
test_template_with_unknown_parameter_is_an_error(void **state)
{
	struct env	*e = *state;
	struct config	*conf;

	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "rules:\n"
	    "  - name: r\n"
	    "    actions:\n"
	    "      - exec: [/bin/echo, \"{UsageCatgory}\", \"x{Price}y\"]\n"
	    "      - log: \"{CurrentValue} {currentvalue} {AccountSid}\"\n",
	    "6:27: exec: '{UsageCatgory}' is not a callback parameter; did you "
	    "mean '{UsageCategory}'?\n"
	    "6:45: exec: '{Price}' is not a callback parameter (AccountSid, "
	    "UsageTriggerSid, DateFired, Recurring, UsageCategory, TriggerBy, "
	    "TriggerValue, CurrentValue, UsageRecordUri, IdempotencyToken)\n"
	    "7:14: log: '{currentvalue}' is not a callback parameter; did you "
	    "mean '{CurrentValue}'?\n");
	/* Braces around anything but a name are plain text. */
	conf = assert_loads(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "rules:\n"
	    "  - name: r\n"
	    "    actions:\n"
	    "      - exec: [/bin/echo, '{\"a\": 1}', \"{}\", \"{ x }\", "
	    "\"{{IdempotencyToken}}\", \"{{Literal}\"]\n"
	    "      - log: \"{not a name} {UsageCategory\"\n");
	config_free(conf);
}

static void
test_unknown_category_is_a_warning_with_suggestion(void **state)
{
	struct env	*e = *state;
	struct config	*conf;
	char		*want = NULL;
	size_t		 len = 0;
	FILE		*fp;

	conf = load(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "rules:\n"
	    "  - name: r\n"
	    "    match:\n"
	    "      UsageCategory: [sms, smss, \"calls-*\", \"smx*\", "
	    "bogus-thing-here]\n"
	    "      TriggerBy: [price, prices, cost]\n"
	    "    actions: [{log: x}]\n");
	assert_non_null(conf);
	assert_int_equal(conf->rules[0].matches[0].nvalues, 5);
	assert_string_equal(conf->rules[0].matches[0].values[1].text, "smss");
	config_free(conf);
	fp = open_memstream(&want, &len);
	fprintf(fp,
	    "%s:6:28: warning: UsageCategory 'smss' is not a Twilio usage "
	    "category; did you mean 'sms'?\n"
	    "%s:6:45: warning: UsageCategory 'smx*' matches no Twilio usage "
	    "category\n"
	    "%s:6:53: warning: UsageCategory 'bogus-thing-here' is not a "
	    "Twilio usage category\n"
	    "%s:7:26: warning: TriggerBy 'prices' is not one of count, usage, "
	    "price; did you mean 'price'?\n"
	    "%s:7:34: warning: TriggerBy 'cost' is not one of count, usage, "
	    "price; did you mean 'count'?\n", e->conf, e->conf, e->conf, e->conf, e->conf);
	fclose(fp);
	assert_string_equal(e->errs, want);
	free(want);

	/* With an error as well, both are printed and the file is refused. */
	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "rules:\n"
	    "  - name: r\n"
	    "    match: {UsageCategory: smss}\n"
	    "    actions: [{lg: x}]\n",
	    "5:28: warning: UsageCategory 'smss' is not a Twilio usage "
	    "category; did you mean 'sms'?\n"
	    "6:16: unknown key 'lg' in rules[0].actions[0]; did you mean "
	    "'log'?\n"
	    "6:15: rules[0].actions[0]: needs one of exec, http, append, log "
	    "or twilio\n");
}

static void
test_http_url_and_headers_are_checked(void **state)
{
	struct env	*e = *state;
	char		 want[PATH_MAX * 4];

	snprintf(want, sizeof want,
	    "6:15: http: 'ftp://example.com/' is not an http:// or https:// "
	    "URL: the scheme must be http:// or https://\n"
	    "7:15: http: 'https://user:pw@example.com/' is not an http:// or "
	    "https:// URL: it has user information (use headers with a file "
	    "for credentials)\n"
	    "8:15: http: 'https://' is not an http:// or https:// URL: the "
	    "host is not a host name or IP address\n"
	    "9:15: http: 'http://a b/' is not an http:// or https:// URL: it "
	    "has spaces or control characters\n"
	    "12:11: headers: 'Bad Name' is not a header name\n"
	    "13:11: headers: Content-Type is set by usagehookd\n"
	    "14:28: file %s/nothere: cannot read: No such file or directory\n"
	    "16:11: duplicate header 'x-dup' (first at line 15)\n"
	    "17:18: headers X-Null: expected a string or {file: PATH}, got "
	    "null\n"
	    "18:19: unknown key 'path' in headers X-Map; expected one of: file\n"
	    "18:18: headers X-Map: missing required key 'file'\n"
	    "19:18: ca_file %s/nothere.pem: cannot read: No such file or "
	    "directory\n",
	    e->dir, e->dir);
	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "rules:\n"
	    "  - name: r\n"
	    "    actions:\n"
	    "      - http: ftp://example.com/\n"
	    "      - http: https://user:pw@example.com/\n"
	    "      - http: https://\n"
	    "      - http: \"http://a b/\"\n"
	    "      - http: http://[::1]:8080/ok\n"
	    "        headers:\n"
	    "          Bad Name: x\n"
	    "          content-type: text/plain\n"
	    "          X-Secret: {file: nothere}\n"
	    "          X-Dup: a\n"
	    "          x-dup: b\n"
	    "          X-Null:\n"
	    "          X-Map: {path: x}\n"
	    "        ca_file: nothere.pem\n",
	    want);
}

static void
test_http_url_libevent_cannot_parse_is_refused(void **state)
{
	struct env	*e = *state;

	/* Each of these made the action fail at every attempt at run time. */
	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "rules:\n"
	    "  - name: r\n"
	    "    actions:\n"
	    "      - http: https://ops.example.com/hook/{CurrentValue}\n"
	    "      - http: https://ops.example.com/a|b\n"
	    "      - http: \"https://ops.example.com/<x>\"\n"
	    "      - http: 'https://ops.example.com/q?a=\"b\"'\n"
	    "      - http: https://ops.example.com/x^y\n"
	    "      - http: https://ops.example.com/`id`\n"
	    "      - http: https://ops.example.com/50%\n"
	    "      - http: \"https://ops.example.com/caf\\xe9\"\n"
	    "      - http: https://ops.example.com/a\\b\n"
	    "    continue: true\n"
	    "  - name: fine\n"
	    "    actions:\n"
	    "      - http: \"https://ops.example.com/a-b_c.d~e/!$&'()*+,;=:@/"
	    "%7B?x=%20&y=z\"\n",
	    "6:15: http: 'https://ops.example.com/hook/{CurrentValue}' is not "
	    "an http:// or https:// URL: its '{' at character 30 is not "
	    "allowed in a URL: write it as %7B\n"
	    "7:15: http: 'https://ops.example.com/a|b' is not an http:// or "
	    "https:// URL: its '|' at character 26 is not allowed in a URL: "
	    "write it as %7C\n"
	    "8:15: http: 'https://ops.example.com/<x>' is not an http:// or "
	    "https:// URL: its '<' at character 25 is not allowed in a URL: "
	    "write it as %3C\n"
	    "9:15: http: 'https://ops.example.com/q?a=\"b\"' is not an "
	    "http:// or https:// URL: its '\"' at character 29 is not allowed "
	    "in a URL: write it as %22\n"
	    "10:15: http: 'https://ops.example.com/x^y' is not an http:// or "
	    "https:// URL: its '^' at character 26 is not allowed in a URL: "
	    "write it as %5E\n"
	    "11:15: http: 'https://ops.example.com/`id`' is not an http:// or "
	    "https:// URL: its '`' at character 25 is not allowed in a URL: "
	    "write it as %60\n"
	    "12:15: http: 'https://ops.example.com/50%' is not an http:// or "
	    "https:// URL: its '%' at character 27 does not start a %XX "
	    "escape (write %25 for a '%')\n"
	    "13:15: http: 'https://ops.example.com/caf\xc3\xa9' is not an "
	    "http:// or https:// URL: its byte 0xc3 at character 28 is not "
	    "allowed in a URL: write it as %C3\n"
	    "14:15: http: 'https://ops.example.com/a\\x5cb' is not an http:// "
	    "or https:// URL: its '\\' at character 26 is not allowed in a "
	    "URL: write it as %5C\n");
}

static void
test_secret_header_over_plain_http_is_a_warning(void **state)
{
	struct env	*e = *state;
	struct config	*conf;
	char		 want[PATH_MAX * 5];

	conf = load(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "rules:\n"
	    "  - name: r\n"
	    "    actions:\n"
	    "      - http: http://ops.example.com/hook\n"
	    "        headers: {X-Secret: {file: token}, X-Plain: a}\n"
	    "      - headers: {X-Secret: {file: token}}\n"
	    "        http: HTTP://10.0.0.7:8080/hook\n"
	    "      - http: https://ops.example.com/hook\n"
	    "        headers: {X-Secret: {file: token}}\n"
	    "      - http: http://127.0.0.1:9000/hook\n"
	    "        headers: {X-Secret: {file: token}}\n"
	    "      - http: http://[::1]:9000/hook\n"
	    "        headers: {X-Secret: {file: token}}\n"
	    "      - http: http://ops.example.com/hook\n"
	    "        headers: {X-Plain: a}\n");
	assert_non_null(conf);
	config_free(conf);
	snprintf(want, sizeof want,
	    "%s:7:9: warning: headers X-Secret: a secret read from "
	    "%s/token is sent to http://ops.example.com/hook in clear text; "
	    "use https://\n"
	    "%s:8:9: warning: headers X-Secret: a secret read from "
	    "%s/token is sent to HTTP://10.0.0.7:8080/hook in clear text; "
	    "use https://\n", e->conf, e->dir, e->conf, e->dir);
	assert_string_equal(e->errs, want);
}

static void
test_dispatch_and_action_numbers_are_range_checked(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "rules:\n"
	    "  - name: r\n"
	    "    actions:\n"
	    "      - {log: x, max_attempts: 0}\n"
	    "      - {exec: [/bin/true], timeout: 5ms}\n"
	    "      - {exec: [/bin/true], timeout: 1.5s}\n"
	    "dispatch:\n"
	    "  concurrency: 0\n"
	    "  per_rule: 1025\n"
	    "  max_attempts: 101\n"
	    "  backoff: 1x\n"
	    "  max_backof: 1h\n",
	    "6:32: max_attempts: '0' is out of range (1..100)\n"
	    "7:38: timeout: '5ms' is out of range (10ms..1d)\n"
	    "8:38: timeout: '1.5s' is not a duration (digits with an optional "
	    "ms, s, m, h or d)\n"
	    "10:16: concurrency: '0' is out of range (1..1024)\n"
	    "11:13: per_rule: '1025' is out of range (1..1024)\n"
	    "12:17: max_attempts: '101' is out of range (1..100)\n"
	    "13:12: backoff: '1x' is not a duration (digits with an optional "
	    "ms, s, m, h or d)\n"
	    "14:3: unknown key 'max_backof' in dispatch; did you mean "
	    "'max_backoff'?\n");
	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "dispatch: {backoff: 1h}\n",
	    "3:11: dispatch: backoff must not be longer than max_backoff "
	    "(default 30m)\n");
}

static void
test_triggers_are_stored_with_twilio_defaults(void **state)
{
	struct env	*e = *state;
	struct config	*conf;
	struct trigger	*t;

	conf = assert_loads(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: token\n"
	    "  - sid: " SID_B "\n"
	    "    auth_token_file: token\n"
	    "triggers:\n"
	    "  - name: sms-spend\n"
	    "    usage_category: sms\n"
	    "    trigger_value: 100\n"
	    "  - name: calls in a month\n"
	    "    usage_category: calls\n"
	    "    trigger_value: +30\n"
	    "    trigger_by: price\n"
	    "    recurring: monthly\n"
	    "    callback_method: get\n"
	    "    callback_url: https://other.example.com/hook?x=1\n"
	    "    account: ACFEDCBA9876543210FEDCBA9876543210\n"
	    "  - name: once\n"
	    "    usage_category: totalprice\n"
	    "    trigger_value: \"2.50\"\n"
	    "    recurring:\n"
	    "path: /hook\n"
	    "public_url: https://hooks.example.com/\n");
	assert_int_equal(conf->ntriggers, 3);
	t = &conf->triggers[0];
	assert_string_equal(t->name, "sms-spend");
	assert_string_equal(t->usage_category, "sms");
	assert_string_equal(t->trigger_value, "100");
	assert_string_equal(t->trigger_by, "usage");
	assert_string_equal(t->recurring, "");
	assert_string_equal(t->callback_method, "POST");
	/* public_url and path come after triggers in the file. */
	assert_string_equal(t->callback_url, "https://hooks.example.com/hook");
	assert_string_equal(t->account, SID_A);
	t = &conf->triggers[1];
	assert_string_equal(t->name, "calls in a month");
	assert_string_equal(t->trigger_value, "+30");
	assert_string_equal(t->trigger_by, "price");
	assert_string_equal(t->recurring, "monthly");
	assert_string_equal(t->callback_method, "GET");
	assert_string_equal(t->callback_url,
	    "https://other.example.com/hook?x=1");
	assert_string_equal(t->account, SID_B);
	t = &conf->triggers[2];
	assert_string_equal(t->trigger_value, "2.50");
	assert_string_equal(t->recurring, "");
	assert_string_equal(conf->twilio_api, "https://api.twilio.com");
	assert_null(conf->twilio_ca_file);
	config_free(conf);
}

static void
test_trigger_unknown_category_is_an_error_with_suggestion(void **state)
{
	struct env	*e = *state;

	/* Twilio would refuse it: an error, unlike in a rule's match. */
	assert_refused(e,
	    "public_url: https://hooks.example.com\n"
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "triggers:\n"
	    "  - { name: a, usage_category: smss, trigger_value: 1 }\n"
	    "  - { name: b, usage_category: zzzzzzzz, trigger_value: 1 }\n",
	    "5:32: usage_category: 'smss' is not a Twilio usage category; "
	    "did you mean 'sms'?\n"
	    "6:32: usage_category: 'zzzzzzzz' is not a Twilio usage "
	    "category\n");
}

static void
test_trigger_values_and_words_are_checked(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "public_url: https://hooks.example.com\n"
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "triggers:\n"
	    "  - name: a\n"
	    "    usage_category: sms\n"
	    "    trigger_value: -5\n"
	    "    trigger_by: cost\n"
	    "    recurring: weekly\n"
	    "    callback_method: FETCH\n"
	    "    callback_url: ftp://example.com/\n"
	    "    colour: red\n"
	    "  - name: b\n"
	    "    usage_category: sms\n"
	    "    trigger_value: 1e3\n"
	    "  - name: c\n",
	    "7:20: trigger_value: '-5' is not a positive number (as in 100 or "
	    "2.50) or an offset from the current usage (as in +30)\n"
	    "8:17: trigger_by: 'cost' is not one of count, usage or price; "
	    "did you mean 'count'?\n"
	    "9:16: recurring: 'weekly' is not one of daily, monthly, yearly, "
	    "alltime or empty (not recurring)\n"
	    "10:22: callback_method: 'FETCH' is not one of GET, POST, PUT, "
	    "PATCH, DELETE or HEAD; did you mean 'PATCH'?\n"
	    "11:19: callback_url: 'ftp://example.com/' is not an http:// or "
	    "https:// URL: the scheme must be http:// or https://\n"
	    "12:5: unknown key 'colour' in triggers[0]; expected one of: name, "
	    "usage_category, trigger_value, trigger_by, recurring, "
	    "callback_method, callback_url, account\n"
	    "15:20: trigger_value: '1e3' is not a positive number (as in 100 "
	    "or 2.50) or an offset from the current usage (as in +30)\n"
	    "16:5: triggers[2]: missing required key 'usage_category'\n"
	    "16:5: triggers[2]: missing required key 'trigger_value'\n");
}

static void
test_trigger_without_url_needs_public_url(void **state)
{
	struct env	*e = *state;
	struct config	*conf;

	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "triggers:\n"
	    "  - { name: a, usage_category: sms, trigger_value: 1 }\n"
	    "  - { name: b, usage_category: sms, trigger_value: 1,\n"
	    "      callback_url: \"http://127.0.0.1:8080/twilio/usage\" }\n",
	    "4:5: triggers[0]: no callback_url, and no public_url to make the "
	    "default (public_url + path) from\n");
	conf = assert_loads(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "triggers:\n"
	    "  - { name: b, usage_category: sms, trigger_value: 1,\n"
	    "      callback_url: \"http://127.0.0.1:8080/twilio/usage\" }\n");
	assert_string_equal(conf->triggers[0].callback_url,
	    "http://127.0.0.1:8080/twilio/usage");
	config_free(conf);
}

static void
test_trigger_names_are_unique_and_short(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "public_url: https://hooks.example.com\n"
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "triggers:\n"
	    "  - { name: same, usage_category: sms, trigger_value: 1 }\n"
	    "  - { name: same, usage_category: mms, trigger_value: 2 }\n"
	    "  - { name: 12345678901234567890123456789012345678901234567890"
	    "123456789012345, usage_category: sms, trigger_value: 1 }\n",
	    "6:13: name: trigger 'same' is listed twice (first at line 5); the "
	    "name is the key of plan and apply\n"
	    "7:13: name: '123456789012345678901234567890123456789012345678901"
	    "23456789012345' is longer than Twilio's 64 characters for a "
	    "FriendlyName\n");
}

static void
test_trigger_account_must_be_configured(void **state)
{
	struct env	*e = *state;

	assert_refused(e,
	    "public_url: https://hooks.example.com\n"
	    "database: db\n"
	    "triggers:\n"
	    "  - { name: a, usage_category: sms, trigger_value: 1,\n"
	    "      account: " SID_B " }\n"
	    "  - { name: b, usage_category: sms, trigger_value: 1,\n"
	    "      account: AC12 }\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n",
	    "7:16: account: 'AC12' is not an AccountSid (AC followed by 32 "
	    "hex digits)\n"
	    "5:16: account: " SID_B " is not one of accounts\n");
}

static void
test_twilio_api_is_an_https_origin(void **state)
{
	struct env	*e = *state;
	struct config	*conf;
	char		 want[PATH_MAX * 2];

	write_file(e, "ca.pem", "not checked until used\n");
	conf = assert_loads(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "twilio_api: https://127.0.0.1:8443/\n"
	    "twilio_ca_file: ca.pem\n");
	assert_string_equal(conf->twilio_api, "https://127.0.0.1:8443");
	snprintf(want, sizeof want, "%s/ca.pem", e->dir);
	assert_string_equal(conf->twilio_ca_file, want);
	config_free(conf);
	snprintf(want, sizeof want, "3:13: twilio_api: 'http://api.twilio.com' "
	    "is not https://host[:port]: the scheme must be https:// (requests "
	    "carry the credentials)\n"
	    "4:17: twilio_ca_file %s/nothere.pem: cannot read: No such file or "
	    "directory\n", e->dir);
	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "twilio_api: http://api.twilio.com\n"
	    "twilio_ca_file: nothere.pem\n", want);
}

static void
test_reconcile_is_off_by_default_and_range_checked(void **state)
{
	struct env	*e = *state;
	struct config	*conf;

	conf = assert_loads(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n");
	assert_int_equal(conf->reconcile.interval, 0);
	assert_int_equal(conf->reconcile.grace, 600);
	assert_int_equal(conf->reconcile.max_age, 7 * 86400);
	config_free(conf);
	conf = assert_loads(e,
	    "database: db\n"
	    "public_url: https://hooks.example.com\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "reconcile: { interval: 5m, grace: 0, max_age: 2d }\n");
	assert_int_equal(conf->reconcile.interval, 300);
	assert_int_equal(conf->reconcile.grace, 0);
	assert_int_equal(conf->reconcile.max_age, 2 * 86400);
	config_free(conf);
	assert_refused(e,
	    "database: db\n"
	    "public_url: https://hooks.example.com\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "reconcile: { interval: 2d, grace: soon, max_age: 10m, every: 1 }\n",
	    "4:24: interval: '2d' is out of range (0 (off) or 1s..1d)\n"
	    "4:35: grace: 'soon' is not a duration (digits with an optional "
	    "s, m, h or d)\n"
	    "4:50: max_age: '10m' is out of range (1h..36500d)\n"
	    "4:55: unknown key 'every' in reconcile; expected one of: "
	    "interval, grace, max_age\n");
	assert_refused(e,
	    "database: db\n"
	    "accounts: [{sid: " SID_A ", auth_token_file: token}]\n"
	    "reconcile:\n"
	    "  interval: 1m\n",
	    "4:3: reconcile: needs public_url (or a trigger with a "
	    "callback_url) to know which of Twilio's triggers call this "
	    "daemon\n");
}

static void
test_api_key_needs_sid_and_secret_file(void **state)
{
	struct env	*e = *state;
	struct config	*conf;

	write_file(e, "sk", "apikeysecretapikeysecretapikeyse\n");
	conf = assert_loads(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: token\n"
	    "    api_key_sid: SK0123456789abcdef0123456789abcdef\n"
	    "    api_key_secret_file: sk\n"
	    "  - sid: " SID_B "\n"
	    "    auth_token_file: token\n");
	assert_string_equal(conf->accounts[0].api_key_sid,
	    "SK0123456789abcdef0123456789abcdef");
	assert_string_equal(conf->accounts[0].api_key_secret,
	    "apikeysecretapikeysecretapikeyse");
	assert_string_equal(conf->accounts[1].api_key_sid, "");
	assert_null(conf->accounts[1].api_key_secret);
	config_free(conf);
	assert_refused(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: token\n"
	    "    api_key_sid: SK0123456789abcdef0123456789abcdef\n"
	    "  - sid: " SID_B "\n"
	    "    auth_token_file: token\n"
	    "    api_key_secret_file: sk\n"
	    "  - sid: AC00000000000000000000000000000000\n"
	    "    auth_token_file: token\n"
	    "    api_key_sid: " SID_A "\n"
	    "    api_key_secret_file: sk\n",
	    "5:5: accounts[0]: api_key_sid needs api_key_secret_file\n"
	    "8:5: accounts[1]: api_key_secret_file needs api_key_sid\n"
	    "11:18: api_key_sid: '" SID_A "' is not an API key SID (SK "
	    "followed by 32 hex digits)\n");
}

static void
test_credentials_directory_expands_in_token_files_only(void **state)
{
	struct env	*e = *state;
	struct config	*conf;
	char		 creds[PATH_MAX], yaml[1024], want[PATH_MAX * 2];

	write_file(e, "creds/primary", "credentialtoken\n");
	write_file(e, "creds/next", "nexttoken\n");
	write_file(e, "creds/sk", "apikeysecret\n");
	snprintf(creds, sizeof creds, "%s/creds/", e->dir);
	setenv("CREDENTIALS_DIRECTORY", creds, 1);
	conf = assert_loads(e,
	    "database: $CREDENTIALS_DIRECTORY/db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: $CREDENTIALS_DIRECTORY/primary\n"
	    "    secondary_token_file: ${CREDENTIALS_DIRECTORY}/next\n"
	    "    api_key_sid: SK0123456789abcdef0123456789abcdef\n"
	    "    api_key_secret_file: $CREDENTIALS_DIRECTORY/sk\n");
	assert_string_equal(conf->accounts[0].token, "credentialtoken");
	assert_string_equal(conf->accounts[0].secondary, "nexttoken");
	assert_string_equal(conf->accounts[0].api_key_secret, "apikeysecret");
	/* Nowhere else: the database path keeps its '$'. */
	snprintf(want, sizeof want, "%s/$CREDENTIALS_DIRECTORY/db", e->dir);
	assert_string_equal(conf->database, want);
	config_free(conf);

	/* The expanded path is the one a "cannot read" names. */
	snprintf(yaml, sizeof yaml,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: $CREDENTIALS_DIRECTORY/missing\n");
	snprintf(want, sizeof want, "4:22: auth_token_file %s/creds/missing: "
	    "cannot read: No such file or directory\n", e->dir);
	assert_refused(e, yaml, want);

	/* Unset or empty: say who sets it and what to do outside systemd. */
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_refused(e, yaml,
	    "4:22: auth_token_file $CREDENTIALS_DIRECTORY/missing: "
	    "$CREDENTIALS_DIRECTORY is not set: systemd's LoadCredential= "
	    "sets it for the service; outside it, run with "
	    "CREDENTIALS_DIRECTORY=/etc/usagehookd (the directory holding the "
	    "file)\n");
	setenv("CREDENTIALS_DIRECTORY", "", 1);
	assert_refused(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: ${CREDENTIALS_DIRECTORY}/primary\n",
	    "4:22: auth_token_file ${CREDENTIALS_DIRECTORY}/primary: "
	    "$CREDENTIALS_DIRECTORY is not set: systemd's LoadCredential= "
	    "sets it for the service; outside it, run with "
	    "CREDENTIALS_DIRECTORY=/etc/usagehookd (the directory holding the "
	    "file)\n");
	unsetenv("CREDENTIALS_DIRECTORY");

	/* Another variable is a file name like any other. */
	snprintf(want, sizeof want, "4:22: auth_token_file %s/$HOME/token: "
	    "cannot read: No such file or directory (only a leading "
	    "$CREDENTIALS_DIRECTORY/ is expanded)\n", e->dir);
	assert_refused(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: $HOME/token\n", want);
}

static void
test_token_file_others_can_read_is_refused(void **state)
{
	struct env	*e = *state;
	struct config	*conf;
	char		 creds[PATH_MAX], want[PATH_MAX * 4];

	write_file(e, "open", TOKEN "\n");
	assert_int_equal(chmod(e->dir, 0755), 0);
	assert_int_equal(chmod(strcat(strcpy(creds, e->dir), "/open"), 0644),
	    0);
	write_file(e, "group", TOKEN "\n");
	snprintf(creds, sizeof creds, "%s/group", e->dir);
	assert_int_equal(chmod(creds, 0640), 0);
	snprintf(want, sizeof want,
	    "4:22: auth_token_file %s/open is readable by others (mode 0644): "
	    "chmod 600 %s/open\n"
	    "5:27: secondary_token_file %s/group is readable by its group "
	    "(mode 0640): chmod 600 %s/group\n", e->dir, e->dir, e->dir,
	    e->dir);
	assert_refused(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: open\n"
	    "    secondary_token_file: group\n", want);

	/* systemd manages the modes of its credentials: only a warning. */
	write_file(e, "creds/shared", TOKEN "\n");
	snprintf(creds, sizeof creds, "%s/creds/shared", e->dir);
	assert_int_equal(chmod(creds, 0644), 0);
	snprintf(creds, sizeof creds, "%s/creds", e->dir);
	setenv("CREDENTIALS_DIRECTORY", creds, 1);
	conf = load(e,
	    "database: db\n"
	    "accounts:\n"
	    "  - sid: " SID_A "\n"
	    "    auth_token_file: $CREDENTIALS_DIRECTORY/shared\n");
	unsetenv("CREDENTIALS_DIRECTORY");
	snprintf(want, sizeof want, "4:22: warning: auth_token_file "
	    "%s/creds/shared is readable by others (mode 0644); systemd "
	    "manages this credential\n", e->dir);
	assert_errors(e, want);
	assert_non_null(conf);
	assert_string_equal(conf->accounts[0].token, TOKEN);
	config_free(conf);
}

/*
 * A sample from etc/ loads, or fails only for files that exist once deployed
 * (the token, a credential, the state directory): every message must name
 * one of paths, and the token's must be there.
 */
static void
check_sample(struct env *e, const char *name, const char *token,
    const char *const *paths)
{
	struct config		*conf;
	char			 path[PATH_MAX];
	const char		*srcdir, *line, *nl;
	const char *const	*pp;

	if ((srcdir = getenv("srcdir")) == NULL)
		srcdir = ".";
	snprintf(path, sizeof path, "%s/etc/%s", srcdir, name);
	if (access(path, R_OK) == -1)
		skip();
	conf = load_path(e, path);
	if (conf == NULL) {
		assert_non_null(strstr(e->errs, token));
		for (line = e->errs; *line != '\0'; line = nl + 1) {
			assert_non_null(nl = strchr(line, '\n'));
			for (pp = paths; *pp != NULL; pp++)
				if (memmem(line, (size_t)(nl - line), *pp,
				    strlen(*pp)) != NULL)
					break;
			if (*pp == NULL)
				fail_msg("%s: not only deployment paths are "
				    "missing: %.*s", name, (int)(nl - line),
				    line);
		}
		return;
	}
	assert_string_equal(e->errs, "");
	config_free(conf);
}

static void
test_sample_usagehookd_yaml_misses_only_deployed_files(void **state)
{
	struct env		*e = *state;
	char			 creds[PATH_MAX];
	static const char *const unset[] = {
		": auth_token_file $CREDENTIALS_DIRECTORY/twilio-auth-token: "
		    "$CREDENTIALS_DIRECTORY is not set: systemd's "
		    "LoadCredential= sets it",
		NULL
	};
	/* With the token where systemd puts it, the sample loads as is. */
	static const char *const set[] = {
		NULL
	};

	/* Outside the service the credential directory is not known... */
	unsetenv("CREDENTIALS_DIRECTORY");
	check_sample(e, "usagehookd.yaml", "twilio-auth-token", unset);
	/* ...and with it set, the token is read from there. */
	write_file(e, "creds/twilio-auth-token", TOKEN "\n");
	snprintf(creds, sizeof creds, "%s/creds", e->dir);
	setenv("CREDENTIALS_DIRECTORY", creds, 1);
	check_sample(e, "usagehookd.yaml", "/run/credentials/", set);
	unsetenv("CREDENTIALS_DIRECTORY");
}

static void
test_sample_demo_yaml_misses_only_what_dev_creates(void **state)
{
	/* ./dev creates var/ and var/demo-auth-token before it runs the daemon. */
	static const char *const paths[] = {
		"/var/demo-auth-token: cannot read: No such file or directory",
		"/var/usage.jsonl: directory ",
		NULL
	};

	check_sample(*state, "demo.yaml", "/var/demo-auth-token", paths);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_minimal_config_gets_defaults),
		T(test_full_config_stores_every_key),
		T(test_relative_paths_resolve_against_config_directory),
		T(test_secondary_token_is_loaded_and_trimmed),
		T(test_unknown_key_reports_line_and_column),
		T(test_wrong_type_says_expected_and_got),
		T(test_missing_database_points_at_enclosing_mapping),
		T(test_missing_accounts_is_an_error),
		T(test_empty_accounts_is_an_error),
		T(test_account_needs_sid_and_a_token),
		T(test_malformed_sid_is_rejected),
		T(test_uppercase_hex_sid_is_stored_as_twilio_sends_it),
		T(test_unreadable_token_file_names_path_and_reason),
		T(test_empty_token_file_is_rejected),
		T(test_token_value_never_appears_in_messages),
		T(test_auth_token_env_is_read),
		T(test_auth_token_env_missing_or_empty_names_variable),
		T(test_token_file_and_env_together_is_an_error),
		T(test_bad_size_and_duration_are_reported),
		T(test_out_of_range_values_are_reported),
		T(test_range_bounds_are_accepted),
		T(test_yaml_syntax_error_reports_line),
		T(test_all_errors_reported_not_only_first),
		T(test_duplicate_account_sid_is_an_error),
		T(test_duplicate_key_is_an_error),
		T(test_trusted_proxies_bad_address_is_rejected),
		T(test_public_url_with_path_or_query_is_rejected),
		T(test_public_url_loses_one_trailing_slash),
		T(test_listen_forms_are_checked),
		T(test_path_must_be_a_plain_absolute_path),
		T(test_control_characters_are_escaped_in_messages),
		T(test_missing_config_file_reports_cannot_open),
		T(test_empty_file_reports_empty_configuration),
		T(test_non_mapping_document_is_refused),
		T(test_second_yaml_document_is_refused),
		T(test_config_account_finds_by_exact_sid),
		T(test_config_free_null_is_a_noop),
		T(test_config_parse_size_table),
		T(test_config_parse_duration_table),
		T(test_rules_actions_and_dispatch_are_stored),
		T(test_dispatch_defaults_without_rules),
		T(test_unknown_match_key_suggests_parameter),
		T(test_comparison_only_for_numeric_parameters),
		T(test_match_value_types_are_checked),
		T(test_exec_program_must_be_absolute_and_executable),
		T(test_append_path_resolves_and_needs_its_directory),
		T(test_option_not_valid_for_kind_is_an_error),
		T(test_rule_needs_name_and_actions),
		T(test_duplicate_rule_name_is_an_error),
		T(test_template_with_unknown_parameter_is_an_error),
		T(test_unknown_category_is_a_warning_with_suggestion),
		T(test_http_url_and_headers_are_checked),
		T(test_http_url_libevent_cannot_parse_is_refused),
		T(test_secret_header_over_plain_http_is_a_warning),
		T(test_dispatch_and_action_numbers_are_range_checked),
		T(test_triggers_are_stored_with_twilio_defaults),
		T(test_trigger_unknown_category_is_an_error_with_suggestion),
		T(test_trigger_values_and_words_are_checked),
		T(test_trigger_without_url_needs_public_url),
		T(test_trigger_names_are_unique_and_short),
		T(test_trigger_account_must_be_configured),
		T(test_twilio_api_is_an_https_origin),
		T(test_api_key_needs_sid_and_secret_file),
		T(test_reconcile_is_off_by_default_and_range_checked),
		T(test_credentials_directory_expands_in_token_files_only),
		T(test_token_file_others_can_read_is_refused),
		T(test_sample_usagehookd_yaml_misses_only_deployed_files),
		T(test_sample_demo_yaml_misses_only_what_dev_creates),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
