/* json_read.h: reading JSON documents (the answers of Twilio's REST API). */
#ifndef JSON_READ_H
#define JSON_READ_H

#include <stddef.h>

enum jv_type { JV_NULL, JV_BOOL, JV_NUMBER, JV_STRING, JV_ARRAY, JV_OBJECT };

/* One value; an object's members are its kids, each with its key. */
struct jv {
	enum jv_type	 type;
	char		*key;		/* member name inside an object, else NULL */
	char		*text;		/* string (UTF-8, no NUL), number as written,
					   "true"/"false"; NULL for the others */
	struct jv	*kids;		/* array items or object members */
	size_t		 nkids;
};

/*
 * Parse s[0..len) as one JSON value (RFC 8259; nesting up to 64 deep, no
 * NUL in strings). Returns an allocated tree, or NULL with an allocated
 * *err saying where and why. Free with jv_free.
 */
struct jv	*jv_parse(const char *s, size_t len, char **err);
/* Free a tree; NULL is a no-op. */
void		 jv_free(struct jv *);
/* The first member key of an object, or NULL (also when v is not one). */
const struct jv	*jv_get(const struct jv *v, const char *key);
/* The text of member key when it is a string or a number, else NULL. */
const char	*jv_str(const struct jv *v, const char *key);

#endif
