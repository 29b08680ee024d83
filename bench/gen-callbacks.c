/*
 * gen-callbacks.c: write N unique, correctly signed UsageTrigger callbacks,
 * one a line: "SIGNATURE<TAB>FORM-BODY". The signature is the project's own
 * signature_compute() over URL + the body parameters, as Twilio signs a POST.
 *
 * usage: gen-callbacks -u URL -k TOKEN-FILE [-n N] [-p PREFIX] [-s SID]
 *            [-o FILE]
 */
#include "config-sys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "callback.h"
#include "signature.h"
#include "usagehook.h"

#define DEFAULT_SID	"AC0123456789abcdef0123456789abcdef"
#define DEFAULT_UTSID	"UT0123456789abcdef0123456789abcdef"

static void
usage(void)
{
	fprintf(stderr, "usage: gen-callbacks -u URL -k TOKEN-FILE [-n N] "
	    "[-p PREFIX] [-s ACCOUNT-SID] [-o FILE]\n");
	exit(2);
}

/* The token file, whole, without a trailing newline; allocated. */
static char *
read_token(const char *path)
{
	FILE	*f;
	char	 buf[1024];
	size_t	 n;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "gen-callbacks: %s: %s\n", path,
		    strerror(errno));
		exit(1);
	}
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	if (n == 0) {
		fprintf(stderr, "gen-callbacks: %s: empty token file\n", path);
		exit(1);
	}
	return strdup(buf);
}

/* Append s percent-encoded (RFC 3986 unreserved kept) to out. */
static void
put_encoded(FILE *out, const char *s)
{
	static const char	hex[] = "0123456789ABCDEF";
	unsigned char		c;

	for (; (c = (unsigned char)*s) != '\0'; s++) {
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~')
			putc(c, out);
		else {
			putc('%', out);
			putc(hex[c >> 4], out);
			putc(hex[c & 15], out);
		}
	}
}

static void
add(struct params *p, const char *name, const char *value)
{
	if (params_add(p, name, strlen(name), value, strlen(value)) == -1) {
		fprintf(stderr, "gen-callbacks: out of memory\n");
		exit(1);
	}
}

int
main(int argc, char *argv[])
{
	const char	*url = NULL, *token_file = NULL, *outpath = NULL;
	const char	*prefix = "bench", *sid = DEFAULT_SID;
	const char	*categories[] = { "sms", "calls", "totalprice",
			    "sms-outbound", "calls-inbound" };
	char		 tok[128], cur[32], uri[160], sig[SIGNATURE_LEN + 1];
	char		*token;
	struct params	 p;
	unsigned long	 n = 200000, i;
	size_t		 k;
	FILE		*out = stdout;
	int		 ch;

	while ((ch = getopt(argc, argv, "u:k:n:p:s:o:")) != -1) {
		switch (ch) {
		case 'u': url = optarg; break;
		case 'k': token_file = optarg; break;
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 'p': prefix = optarg; break;
		case 's': sid = optarg; break;
		case 'o': outpath = optarg; break;
		default: usage();
		}
	}
	if (url == NULL || token_file == NULL || optind != argc)
		usage();
	token = read_token(token_file);
	if (outpath != NULL && (out = fopen(outpath, "w")) == NULL) {
		fprintf(stderr, "gen-callbacks: %s: %s\n", outpath,
		    strerror(errno));
		return 1;
	}
	/* Big stdio buffer: 200k lines of ~600 bytes. */
	setvbuf(out, NULL, _IOFBF, 1 << 20);
	snprintf(uri, sizeof uri, "/2010-04-01/Accounts/%s/Usage/Records/"
	    "Today.json?Category=sms", sid);

	for (i = 0; i < n; i++) {
		memset(&p, 0, sizeof p);
		snprintf(tok, sizeof tok, "%s-%s-%010lu", prefix, DEFAULT_UTSID,
		    i);
		snprintf(cur, sizeof cur, "%lu.%02lu", 100 + i / 100, i % 100);
		add(&p, "AccountSid", sid);
		add(&p, "UsageTriggerSid", DEFAULT_UTSID);
		add(&p, "DateFired", "Mon, 24 Nov 2025 03:00:00 +0000");
		add(&p, "Recurring", "daily");
		add(&p, "UsageCategory", categories[i % 5]);
		add(&p, "TriggerBy", "price");
		add(&p, "TriggerValue", "100");
		add(&p, "CurrentValue", cur);
		add(&p, "UsageRecordUri", uri);
		add(&p, "IdempotencyToken", tok);
		if (signature_compute(token, url, &p, sig) == -1) {
			fprintf(stderr, "gen-callbacks: signature failed\n");
			return 1;
		}
		fputs(sig, out);
		putc('\t', out);
		for (k = 0; k < p.n; k++) {
			if (k > 0)
				putc('&', out);
			put_encoded(out, p.v[k].name);
			putc('=', out);
			put_encoded(out, p.v[k].value);
		}
		putc('\n', out);
		params_free(&p);
	}
	if (fflush(out) == EOF || (out != stdout && fclose(out) == EOF)) {
		fprintf(stderr, "gen-callbacks: write: %s\n", strerror(errno));
		return 1;
	}
	explicit_bzero(token, strlen(token));
	free(token);
	return 0;
}
