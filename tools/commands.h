/* commands.h - one function per konce subcommand, each in its own file, dispatched from konce.c. */
#ifndef KONCE_TOOLS_COMMANDS_H
#define KONCE_TOOLS_COMMANDS_H

/* Each returns the process exit status: 0 success, 1 failure, 2 bad usage. */
typedef int (*konce_cmd_fn)(int argc, char **argv);

int konce_cmd_keygen(int argc, char **argv);
int konce_cmd_pubkey(int argc, char **argv);
int konce_cmd_node(int argc, char **argv);
int konce_cmd_status(int argc, char **argv);
int konce_cmd_peers(int argc, char **argv);
int konce_cmd_connect(int argc, char **argv);
int konce_cmd_send(int argc, char **argv);
int konce_cmd_ping(int argc, char **argv);
int konce_cmd_alias(int argc, char **argv);
int konce_cmd_portmap(int argc, char **argv);
int konce_cmd_probe(int argc, char **argv); /* cmd_probe.c */
int konce_cmd_path(int argc, char **argv);     /* cmd_path.c */
int konce_cmd_netcheck(int argc, char **argv); /* cmd_netcheck.c */
int konce_cmd_group(int argc, char **argv);    /* cmd_group.c */

#endif
