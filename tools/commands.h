/* commands.h - one function per konce subcommand, each in its own file, dispatched from konce.c. */
#ifndef KONCE_TOOLS_COMMANDS_H
#define KONCE_TOOLS_COMMANDS_H

/* Each returns the process exit status: 0 success, 1 failure, 2 bad usage. */
typedef int (*konce_cmd_fn)(int argc, char **argv);

int konce_cmd_keygen(int argc, char **argv);
int konce_cmd_pubkey(int argc, char **argv);

#endif
