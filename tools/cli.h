/* cli.h - small helpers shared by the konce subcommands. */
#ifndef KONCE_TOOLS_CLI_H
#define KONCE_TOOLS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "konce/konce.h"

/* The key file a command uses: the -f argument if given, else the default from paths.h.  On failure
 * prints "konce CMD: ..." to stderr and returns 1 (the exit status); 0 on success. */
int konce_cli_key_file(char *out, size_t len, const char *cmd, const char *opt);

/* Prints a public key to stdout: the key text alone on a line, or with json
 * {"public_key": "...", "file": "..."}.  Returns the exit status (0, or 1 if stdout failed). */
int konce_cli_print_key(const char *cmd, const uint8_t pub[KONCE_KEY_BYTES], const char *file, bool json);

/* A byte count or rate for people, into out[KONCE_CLI_BYTES_LEN]: "512 B", "1.5 MB" (SI units, as
 * network rates are given), or with binary "1.5 MiB" (sizes of files).  Returns out. */
enum { KONCE_CLI_BYTES_LEN = 32 };
const char *konce_cli_bytes(char out[KONCE_CLI_BYTES_LEN], double bytes, bool binary);

#endif
