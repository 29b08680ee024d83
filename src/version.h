/* version.h: --version, and which configuration file is the default. */
#ifndef VERSION_H
#define VERSION_H

#include <stdio.h>

/* Print "prog VERSION" and the versions of the libraries in use. */
void		 version_print(FILE *, const char *prog);
/* The configuration file used without -c: $USAGEHOOKD_CONFIG or the default. */
const char	*config_default_file(void);

#endif
