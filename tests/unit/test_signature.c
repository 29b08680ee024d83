/* test_signature.c: X-Twilio-Signature against Twilio's own library. */
#include "config-sys.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "callback.h"
#include "signature.h"

#define FIXTURES_MAX	64
#define VALID_MAX	4
#define OTHER_TOKEN	"0000000000000000ffffffffffffffff"

/* One case of tests/fixtures/signatures.txt (format described there). */
struct fixture {
	char		*name;
	char		*method;
	char		*token;
	char		*url;
	char		*body;
	int		 signed_body;	/* "signed-params body" */
	struct params	 params;	/* the "param" lines */
	char		*signature;
	char		*valid[VALID_MAX];
	size_t		 nvalid;
};

static struct fixture	fixtures[FIXTURES_MAX];
static size_t		nfixtures;

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The fixture's %XX encoding undone (no '+' rule); NULL if malformed. */
static char *
pct_decode(const char *s, size_t len)
{
	char	*d;
	size_t	 i, j;
	int	 hi, lo;

	if ((d = malloc(len + 1)) == NULL)
		return NULL;
	for (i = j = 0; i < len; i++) {
		if (s[i] != '%') {
			d[j++] = s[i];
			continue;
		}
		if (len - i < 3 || (hi = hexval(s[i + 1])) == -1 ||
		    (lo = hexval(s[i + 2])) == -1) {
			free(d);
			return NULL;
		}
		d[j++] = (char)(hi << 4 | lo);
		i += 2;
	}
	d[j] = '\0';
	return d;
}

static void
fixture_free(struct fixture *f)
{
	size_t	i;

	free(f->name);
	free(f->method);
	free(f->token);
	free(f->url);
	free(f->body);
	free(f->signature);
	params_free(&f->params);
	for (i = 0; i < f->nvalid; i++)
		free(f->valid[i]);
	memset(f, 0, sizeof *f);
}

/* One "key value" line into f; -1 if it is not understood. */
static int
fixture_line(struct fixture *f, const char *key, const char *val)
{
	static const struct {
		const char	*key;
		size_t		 off;
	} fields[] = {
		{ "case", offsetof(struct fixture, name) },
		{ "method", offsetof(struct fixture, method) },
		{ "token", offsetof(struct fixture, token) },
		{ "url", offsetof(struct fixture, url) },
		{ "body", offsetof(struct fixture, body) },
		{ "signature", offsetof(struct fixture, signature) },
	};
	const char	*sp;
	char		*name, *value, **slot;
	size_t		 i;
	int		 rv;

	for (i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		if (strcmp(key, fields[i].key) != 0)
			continue;
		slot = (char **)((char *)f + fields[i].off);
		if (*slot != NULL)
			return -1;
		return (*slot = pct_decode(val, strlen(val))) == NULL ? -1 : 0;
	}
	if (strcmp(key, "signed-params") == 0) {
		f->signed_body = strcmp(val, "body") == 0;
		return f->signed_body || strcmp(val, "none") == 0 ? 0 : -1;
	}
	if (strcmp(key, "valid") == 0) {
		if (f->nvalid == VALID_MAX)
			return -1;
		f->valid[f->nvalid] = pct_decode(val, strlen(val));
		return f->valid[f->nvalid++] == NULL ? -1 : 0;
	}
	if (strcmp(key, "param") == 0) {
		/* "param NAME VALUE", or "param NAME" for an empty value. */
		sp = val + strcspn(val, " ");
		name = pct_decode(val, sp - val);
		if (*sp == ' ')
			sp++;
		value = pct_decode(sp, strlen(sp));
		rv = name == NULL || value == NULL ? -1 :
		    params_add(&f->params, name, strlen(name), value,
		    strlen(value));
		free(name);
		free(value);
		return rv;
	}
	return -1;
}

/* Group setup: read every case of signatures.txt. */
static int
load_fixtures(void **state)
{
	const char	*top = getenv("top_srcdir");
	char		 path[4096];
	char		*line = NULL, *sp;
	size_t		 cap = 0, lineno = 0;
	ssize_t		 len;
	FILE		*fp;
	struct fixture	*f = NULL;
	int		 rv = -1;

	snprintf(path, sizeof path, "%s/tests/fixtures/signatures.txt",
	    top != NULL && *top != '\0' ? top : ".");
	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "# %s: cannot open (set top_srcdir)\n", path);
		return -1;
	}
	while ((len = getline(&line, &cap, fp)) != -1) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (f == NULL) {
			if (strncmp(line, "case ", 5) != 0 ||
			    nfixtures == FIXTURES_MAX)
				goto bad;
			f = &fixtures[nfixtures++];
		}
		if (strcmp(line, "end") == 0) {
			if (f->name == NULL || f->method == NULL ||
			    f->token == NULL || f->url == NULL ||
			    f->body == NULL || f->signature == NULL ||
			    f->nvalid == 0)
				goto bad;
			f = NULL;
			continue;
		}
		/* "key value", or "key" alone for an empty value. */
		if ((sp = strchr(line, ' ')) != NULL)
			*sp++ = '\0';
		if (fixture_line(f, line, sp != NULL ? sp : "") == -1)
			goto bad;
	}
	if (f == NULL && nfixtures > 0)
		rv = 0;
	else
		fprintf(stderr, "# %s: unterminated or empty\n", path);
	goto done;
bad:
	fprintf(stderr, "# %s:%zu: not understood\n", path, lineno);
done:
	free(line);
	fclose(fp);
	return rv;
}

static int
free_fixtures(void **state)
{
	size_t	i;

	for (i = 0; i < nfixtures; i++)
		fixture_free(&fixtures[i]);
	nfixtures = 0;
	return 0;
}

static const struct fixture *
fixture_named(const char *name)
{
	size_t	i;

	for (i = 0; i < nfixtures; i++)
		if (strcmp(fixtures[i].name, name) == 0)
			return &fixtures[i];
	fail_msg("fixture %s missing from signatures.txt", name);
	return NULL;
}

/* What the daemon decodes: the raw body, or the URL's query string. */
static void
decode_request(const struct fixture *f, struct params *p)
{
	const char	*raw, *q, *err = NULL;

	if (f->signed_body)
		raw = f->body;
	else
		raw = (q = strchr(f->url, '?')) != NULL ? q + 1 : "";
	if (form_decode(raw, strlen(raw), p, &err) != 0)
		fail_msg("%s: form_decode: %s", f->name, err);
}

/* The parameters to sign: the body's, or none for GET-style methods. */
static const struct params *
signed_params(const struct fixture *f, const struct params *p)
{
	return f->signed_body ? p : NULL;
}

static void
test_fixture_file_has_the_required_cases(void **state)
{
	static const char *required[] = {
		"post-https-without-port", "post-https-with-443",
		"post-http-with-80", "post-query-in-callback-url",
		"post-utf8-values", "post-empty-values",
		"post-spaces-as-plus", "post-spaces-as-pct20",
		"post-literal-plus", "post-decimal-price",
		"post-repeated-names", "get-query-only", "put-body",
		"patch-body", "delete-query-only", "post-custom-port",
		"post-custom-port-signed-without-it",
	};
	size_t	i;

	assert_true(nfixtures >= sizeof required / sizeof required[0]);
	for (i = 0; i < sizeof required / sizeof required[0]; i++)
		assert_non_null(fixture_named(required[i]));
}

static void
test_fixture_raw_bodies_decode_like_the_library_saw_them(void **state)
{
	struct params	 p = { 0 };
	size_t		 i, k;

	for (i = 0; i < nfixtures; i++) {
		const struct fixture *f = &fixtures[i];

		decode_request(f, &p);
		assert_int_equal(p.n, f->params.n);
		for (k = 0; k < p.n; k++) {
			assert_string_equal(p.v[k].name, f->params.v[k].name);
			assert_string_equal(p.v[k].value,
			    f->params.v[k].value);
		}
		params_free(&p);
	}
}

static void
test_fixture_signatures_match_twilio_library(void **state)
{
	struct params	 p = { 0 };
	char		 sig[SIGNATURE_LEN + 1];
	size_t		 i;

	for (i = 0; i < nfixtures; i++) {
		const struct fixture *f = &fixtures[i];

		print_message("# %s\n", f->name);
		decode_request(f, &p);
		assert_int_equal(signature_compute(f->token, f->url,
		    signed_params(f, &p), sig), 0);
		assert_string_equal(sig, f->signature);
		params_free(&p);
	}
}

static void
test_fixture_port_variants_verify_like_validate_request(void **state)
{
	struct account	 acct = { .sid = "", .token = NULL };
	struct params	 p = { 0 };
	size_t		 i, k;

	for (i = 0; i < nfixtures; i++) {
		const struct fixture *f = &fixtures[i];

		acct.token = f->token;
		decode_request(f, &p);
		for (k = 0; k < f->nvalid; k++) {
			print_message("# %s: %s\n", f->name, f->valid[k]);
			assert_int_equal(signature_verify(&acct, f->valid[k],
			    signed_params(f, &p), f->signature), 1);
		}
		params_free(&p);
	}
	/* The cases that must have a port variant do. */
	assert_int_equal(fixture_named("post-https-without-port")->nvalid, 2);
	assert_int_equal(fixture_named("post-https-with-443")->nvalid, 2);
	assert_int_equal(fixture_named("post-http-with-80")->nvalid, 2);
	assert_int_equal(fixture_named("get-query-only")->nvalid, 2);
}

static void
test_fixture_callbacks_are_valid_usage_triggers(void **state)
{
	struct callback	 cb;
	size_t		 i;

	for (i = 0; i < nfixtures; i++) {
		memset(&cb, 0, sizeof cb);
		decode_request(&fixtures[i], &cb.params);
		assert_null(callback_validate(&cb));
		assert_non_null(cb.f.idempotency_token);
		params_free(&cb.params);
	}
}

static void
test_space_encodings_sign_alike(void **state)
{
	const struct fixture	*plus = fixture_named("post-spaces-as-plus");
	const struct fixture	*pct = fixture_named("post-spaces-as-pct20");

	assert_string_not_equal(plus->body, pct->body);
	assert_string_equal(plus->signature, pct->signature);
}

static void
test_wrong_token_does_not_verify(void **state)
{
	struct account	 acct = { .token = OTHER_TOKEN };
	struct params	 p = { 0 };
	size_t		 i;

	for (i = 0; i < nfixtures; i++) {
		decode_request(&fixtures[i], &p);
		assert_int_equal(signature_verify(&acct, fixtures[i].url,
		    signed_params(&fixtures[i], &p), fixtures[i].signature),
		    0);
		params_free(&p);
	}
}

static void
test_tampered_parameters_do_not_verify(void **state)
{
	const struct fixture	*f = fixture_named("post-https-without-port");
	struct account		 acct = { .token = f->token };
	struct params		 p = { 0 };
	char			*old;
	size_t			 k;

	decode_request(f, &p);
	assert_int_equal(signature_verify(&acct, f->url, &p, f->signature), 1);
	/* Every single value changed by one byte breaks the signature. */
	for (k = 0; k < p.n; k++) {
		old = p.v[k].value;
		assert_int_equal(asprintf(&p.v[k].value, "%s0", old) > 0, 1);
		assert_int_equal(signature_verify(&acct, f->url, &p,
		    f->signature), 0);
		free(p.v[k].value);
		p.v[k].value = old;
	}
	/* CurrentValue=1000.75 instead of 100.75. */
	for (k = 0; k < p.n; k++)
		if (strcmp(p.v[k].name, "CurrentValue") == 0)
			break;
	assert_true(k < p.n);
	assert_string_equal(p.v[k].value, "100.75");
	old = p.v[k].value;
	p.v[k].value = strdup("1000.75");
	assert_non_null(p.v[k].value);
	assert_int_equal(signature_verify(&acct, f->url, &p, f->signature), 0);
	free(p.v[k].value);
	p.v[k].value = old;
	params_free(&p);

	/* An extra parameter, or a missing one, breaks it too. */
	decode_request(f, &p);
	assert_int_equal(params_add(&p, "Extra", 5, "", 0), 0);
	assert_int_equal(signature_verify(&acct, f->url, &p, f->signature), 0);
	/* Hide the last two (Extra and IdempotencyToken) for a moment. */
	p.n -= 2;
	assert_int_equal(signature_verify(&acct, f->url, &p, f->signature), 0);
	p.n += 2;
	params_free(&p);
}

static void
test_other_urls_do_not_verify(void **state)
{
	static const char *urls[] = {
		"https://hooks.example.com/twilio/usage/",
		"https://hooks.example.com/twilio/Usage",
		"https://hooks.example.com/twilio/usage?",
		"https://hooks.example.com/twilio/usage?a=b",
		"http://hooks.example.com/twilio/usage",
		"https://hooks.example.org/twilio/usage",
		"https://hooks.example.com:8443/twilio/usage/",
		"http://hooks.example.com:8443/twilio/usage",
	};
	const struct fixture	*f = fixture_named("post-https-without-port");
	struct account		 acct = { .token = f->token };
	struct params		 p = { 0 };
	size_t			 i;

	decode_request(f, &p);
	for (i = 0; i < sizeof urls / sizeof urls[0]; i++) {
		print_message("# %s\n", urls[i]);
		assert_int_equal(signature_verify(&acct, urls[i], &p,
		    f->signature), 0);
	}
	params_free(&p);
}

static void
test_custom_port_verifies_like_twilio_validators(void **state)
{
	const struct fixture	*f = fixture_named("post-custom-port");
	const struct fixture	*g =
	    fixture_named("post-custom-port-signed-without-it");
	struct account		 acct = { .token = f->token };
	struct params		 p = { 0 };
	const char		*bare_url =
	    "https://hooks.example.com/twilio/usage";

	decode_request(f, &p);
	/* Signed over :8443: only a request to :8443 verifies. */
	assert_int_equal(f->nvalid, 1);
	assert_int_equal(signature_verify(&acct, f->url, &p, f->signature), 1);
	assert_int_equal(signature_verify(&acct, bare_url, &p, f->signature),
	    0);
	assert_int_equal(signature_verify(&acct,
	    "https://hooks.example.com:443/twilio/usage", &p, f->signature), 0);
	/* Signed without the port, requested at :8443: twilio-node accepts. */
	assert_int_equal(signature_verify(&acct, f->url, &p, g->signature), 1);
	assert_int_equal(signature_verify(&acct,
	    "https://hooks.example.com:9443/twilio/usage", &p, g->signature),
	    1);
	params_free(&p);
}

static void
test_missing_or_malformed_signature_does_not_verify(void **state)
{
	const struct fixture	*f = fixture_named("post-https-without-port");
	struct account		 acct = { .token = f->token };
	struct params		 p = { 0 };
	char			 sig[64];
	size_t			 i;

	decode_request(f, &p);
	assert_int_equal(signature_verify(&acct, f->url, &p, NULL), 0);
	assert_int_equal(signature_verify(&acct, f->url, &p, ""), 0);
	/* One byte short, one byte long. */
	snprintf(sig, sizeof sig, "%.*s", SIGNATURE_LEN - 1, f->signature);
	assert_int_equal(signature_verify(&acct, f->url, &p, sig), 0);
	snprintf(sig, sizeof sig, "%s=", f->signature);
	assert_int_equal(signature_verify(&acct, f->url, &p, sig), 0);
	snprintf(sig, sizeof sig, " %s", f->signature);
	assert_int_equal(signature_verify(&acct, f->url, &p, sig), 0);
	/* Any one character changed. */
	for (i = 0; i < SIGNATURE_LEN; i++) {
		snprintf(sig, sizeof sig, "%s", f->signature);
		sig[i] = sig[i] == 'A' ? 'B' : 'A';
		assert_int_equal(signature_verify(&acct, f->url, &p, sig), 0);
	}
	/* The signature of the GET form (no parameters) is not this one. */
	assert_int_equal(signature_compute(f->token, f->url, NULL, sig), 0);
	assert_int_equal(signature_verify(&acct, f->url, &p, sig), 0);
	params_free(&p);
}

static void
test_secondary_token_verifies_during_rotation(void **state)
{
	const struct fixture	*f = fixture_named("post-https-with-443");
	struct account		 acct = { .sid = "" };
	struct params		 p = { 0 };

	decode_request(f, &p);
	acct.token = OTHER_TOKEN;
	acct.secondary = f->token;
	assert_int_equal(signature_verify(&acct, f->url, &p, f->signature), 2);
	/* The secondary token also covers the other port form. */
	assert_int_equal(signature_verify(&acct,
	    "https://hooks.example.com/twilio/usage", &p, f->signature), 2);
	acct.token = f->token;
	acct.secondary = OTHER_TOKEN;
	assert_int_equal(signature_verify(&acct, f->url, &p, f->signature), 1);
	acct.token = OTHER_TOKEN;
	assert_int_equal(signature_verify(&acct, f->url, &p, f->signature), 0);
	acct.secondary = NULL;
	assert_int_equal(signature_verify(&acct, f->url, &p, f->signature), 0);
	params_free(&p);
}

static void
test_keyed_account_verifies_like_unkeyed(void **state)
{
	struct account	 acct = { .sid = "" };
	struct params	 p = { 0 };
	size_t		 i, k;

	for (i = 0; i < nfixtures; i++) {
		const struct fixture *f = &fixtures[i];

		decode_request(f, &p);
		/* Primary, then secondary during a rotation; each keyed once. */
		acct.token = f->token;
		acct.secondary = NULL;
		assert_int_equal(signature_key(&acct), 0);
		assert_non_null(acct.mac);
		assert_null(acct.secondary_mac);
		for (k = 0; k < f->nvalid; k++)
			assert_int_equal(signature_verify(&acct, f->valid[k],
			    signed_params(f, &p), f->signature), 1);
		acct.token = OTHER_TOKEN;
		acct.secondary = f->token;
		assert_int_equal(signature_key(&acct), 0);
		assert_non_null(acct.secondary_mac);
		for (k = 0; k < f->nvalid; k++)
			assert_int_equal(signature_verify(&acct, f->valid[k],
			    signed_params(f, &p), f->signature), 2);
		/* The keys, not the token strings, are what is used. */
		acct.secondary = NULL;
		assert_int_equal(signature_verify(&acct, f->url,
		    signed_params(f, &p), f->signature), 2);
		signature_unkey(&acct);
		assert_null(acct.mac);
		assert_null(acct.secondary_mac);
		assert_int_equal(signature_verify(&acct, f->url,
		    signed_params(f, &p), f->signature), 0);
		params_free(&p);
	}
	signature_unkey(&acct);
}

static void
test_repeated_names_sign_sorted_and_once_like_twilio_node(void **state)
{
	const struct fixture	*f = fixture_named("post-repeated-names");
	struct params		 p = { 0 }, q = { 0 };
	char			 sig[SIGNATURE_LEN + 1];
	size_t			 i;

	/* Tag=b&Tag=a&Tag=b&Tag= is signed as "Tag" "Taga" "Tagb". */
	decode_request(f, &p);
	for (i = p.n; i-- > 0; )
		assert_int_equal(params_add(&q, p.v[i].name,
		    strlen(p.v[i].name), p.v[i].value,
		    strlen(p.v[i].value)), 0);
	assert_int_equal(signature_compute(f->token, f->url, &q, sig), 0);
	assert_string_equal(sig, f->signature);
	/* Dropping the duplicate "Tag=b" changes nothing either. */
	for (i = 0; i < p.n; i++)
		if (strcmp(p.v[i].name, "Tag") == 0 &&
		    strcmp(p.v[i].value, "b") == 0)
			break;
	assert_true(i < p.n);
	/* Its name and value stay in p's memory until params_free. */
	memmove(&p.v[i], &p.v[i + 1], (p.n - i - 1) * sizeof p.v[0]);
	p.n--;
	assert_int_equal(signature_compute(f->token, f->url, &p, sig), 0);
	assert_string_equal(sig, f->signature);
	params_free(&p);
	params_free(&q);
}

static void
test_twilio_documentation_example(void **state)
{
	struct params	 p = { 0 };
	const char	*body = "CallSid=CA1234567890ABCDE&Caller=%2B12349013030"
	    "&Digits=1234&From=%2B12349013030&To=%2B18005551212";
	char		 sig[SIGNATURE_LEN + 1];

	/* Twilio's own worked example ("Validating requests"). */
	assert_int_equal(form_decode(body, strlen(body), &p, NULL), 0);
	assert_int_equal(signature_compute("12345",
	    "https://mycompany.com/myapp.php?foo=1&bar=2", &p, sig), 0);
	assert_string_equal(sig, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
	params_free(&p);
	/* An empty key as node's crypto.createHmac computes it. */
	assert_int_equal(signature_compute("", "https://a/b", NULL, sig), 0);
	assert_string_equal(sig, "89dwp7zYdFPGVUHfzpKGapbmuGs=");
}

static void
test_get_style_signs_the_url_alone(void **state)
{
	struct params	 empty = { 0 };
	char		 a[SIGNATURE_LEN + 1], b[SIGNATURE_LEN + 1];

	assert_int_equal(signature_compute("t", "https://h/p?a=1", NULL, a),
	    0);
	assert_int_equal(signature_compute("t", "https://h/p?a=1", &empty, b),
	    0);
	assert_string_equal(a, b);
}

static void
test_bad_arguments_fail_without_crashing(void **state)
{
	struct account	 acct = { .token = "t" };
	char		 sig[SIGNATURE_LEN + 1];

	assert_int_equal(signature_compute(NULL, "https://h/", NULL, sig), -1);
	assert_int_equal(signature_compute("t", NULL, NULL, sig), -1);
	assert_int_equal(signature_verify(NULL, "https://h/", NULL,
	    "nKjwoqg7SWj8O1RuqTTZ0E+Ikrw="), -1);
	assert_int_equal(signature_verify(&acct, NULL, NULL,
	    "nKjwoqg7SWj8O1RuqTTZ0E+Ikrw="), -1);
}

static void
test_url_candidates_table(void **state)
{
	static const struct {
		const char	*url;
		const char	*other;	/* NULL: one candidate only */
	} cases[] = {
		{ "https://h.example.com/p", "https://h.example.com:443/p" },
		{ "https://h.example.com:443/p", "https://h.example.com/p" },
		{ "http://h.example.com/p", "http://h.example.com:80/p" },
		{ "http://h.example.com:80/p?q=1", "http://h.example.com/p?q=1" },
		{ "https://h.example.com:8443/p", "https://h.example.com/p" },
		{ "http://h.example.com:443/p", "http://h.example.com/p" },
		{ "https://h.example.com:80/p", "https://h.example.com/p" },
		{ "https://h.example.com:4430/p", "https://h.example.com/p" },
		{ "https://h.example.com:44/p?a=:1", "https://h.example.com/p?a=:1" },
		{ "https://h.example.com", "https://h.example.com:443" },
		{ "https://h.example.com:443", "https://h.example.com" },
		{ "https://h.example.com?x=1", "https://h.example.com:443?x=1" },
		{ "https://h.example.com/p?x=1&u=https://o:443/",
		    "https://h.example.com:443/p?x=1&u=https://o:443/" },
		{ "https://h.example.com/p#f", "https://h.example.com:443/p#f" },
		{ "https://h.example.com/a@b:443/c",
		    "https://h.example.com:443/a@b:443/c" },
		{ "https://[::1]/p", "https://[::1]:443/p" },
		{ "https://[::1]:443/p", "https://[::1]/p" },
		{ "http://[2001:db8::1]/p?a=b", "http://[2001:db8::1]:80/p?a=b" },
		{ "https://[2001:db8::443]:8443/p", "https://[2001:db8::443]/p" },
		{ "https://user:pw@h.example.com/p",
		    "https://user:pw@h.example.com:443/p" },
		{ "https://user:pw@h.example.com:443/p",
		    "https://user:pw@h.example.com/p" },
		{ "https://u@x:443@h.example.com/p",
		    "https://u@x:443@h.example.com:443/p" },
		{ "https://user:443@[::1]:443/p", "https://user:443@[::1]/p" },
		{ "HTTPS://H.example.com/p", "HTTPS://H.example.com:443/p" },
		{ "https://h.example.com:/p", "https://h.example.com/p" },
		{ "ftp://h.example.com/p", NULL },
		{ "h.example.com/p", NULL },
		{ "", NULL },
	};
	char	*out[URL_CANDIDATES];
	size_t	 i, n;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		print_message("# %s\n", cases[i].url);
		n = signature_url_candidates(cases[i].url, out);
		assert_int_equal(n, cases[i].other == NULL ? 1 : 2);
		assert_string_equal(out[0], cases[i].url);
		if (cases[i].other != NULL)
			assert_string_equal(out[1], cases[i].other);
		else
			assert_null(out[1]);
		signature_url_candidates_free(out, n);
	}
	assert_int_equal(signature_url_candidates(NULL, out), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_file_has_the_required_cases),
		cmocka_unit_test(
		    test_fixture_raw_bodies_decode_like_the_library_saw_them),
		cmocka_unit_test(test_fixture_signatures_match_twilio_library),
		cmocka_unit_test(
		    test_fixture_port_variants_verify_like_validate_request),
		cmocka_unit_test(
		    test_fixture_callbacks_are_valid_usage_triggers),
		cmocka_unit_test(test_space_encodings_sign_alike),
		cmocka_unit_test(test_wrong_token_does_not_verify),
		cmocka_unit_test(test_tampered_parameters_do_not_verify),
		cmocka_unit_test(test_other_urls_do_not_verify),
		cmocka_unit_test(test_custom_port_verifies_like_twilio_validators),
		cmocka_unit_test(
		    test_missing_or_malformed_signature_does_not_verify),
		cmocka_unit_test(test_secondary_token_verifies_during_rotation),
		cmocka_unit_test(test_keyed_account_verifies_like_unkeyed),
		cmocka_unit_test(
		    test_repeated_names_sign_sorted_and_once_like_twilio_node),
		cmocka_unit_test(test_twilio_documentation_example),
		cmocka_unit_test(test_get_style_signs_the_url_alone),
		cmocka_unit_test(test_bad_arguments_fail_without_crashing),
		cmocka_unit_test(test_url_candidates_table),
	};

	return cmocka_run_group_tests(tests, load_fixtures, free_fixtures);
}
