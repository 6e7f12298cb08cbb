/* fake_getenv.h - a fake environment for the code that takes a getenv function (tools/paths.c,
 * tools/config.c): fake_getenv() looks names up in fake_vars, a NULL-terminated list of name,
 * value pairs the test sets (header only). */
#ifndef KONCE_TEST_FAKE_GETENV_H
#define KONCE_TEST_FAKE_GETENV_H

#include <stddef.h>
#include <string.h>

static const char *const *fake_vars;

static const char *fake_getenv(const char *name)
{
	for (size_t i = 0; fake_vars[i]; i += 2)
		if (!strcmp(fake_vars[i], name))
			return fake_vars[i + 1];
	return NULL;
}

#endif
