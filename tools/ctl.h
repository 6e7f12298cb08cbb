/* ctl.h - the client side of the control socket (protocol: docs/CONTROL.md).
 *
 * One JSON object per line each way, at most KONCE_CTL_LINE_MAX bytes; one response line per request,
 * which a send that asked for progress precedes with progress lines; several requests may share a
 * connection.  The konce_ctl_cli_* helpers print "konce CMD: ..." to
 * stderr themselves and return the exit status the command should use (see KONCE_EXIT_*).
 */
#ifndef KONCE_TOOLS_CTL_H
#define KONCE_TOOLS_CTL_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum { KONCE_CTL_LINE_MAX = 65536 };

/* Exit statuses of the CLI, documented in konce(1). */
enum {
	KONCE_EXIT_OK = 0,
	KONCE_EXIT_FAIL = 1,     /* the node answered with an error: unreachable peer, timeout, ... */
	KONCE_EXIT_USAGE = 2,    /* bad flag, bad argument, bad key text */
	KONCE_EXIT_NO_NODE = 3,  /* no node is running at the control socket */
};

struct konce_ctl {
	int fd;
	char path[108];
	char *buf;         /* bytes received after the last complete line */
	size_t len;
	volatile sig_atomic_t *stop; /* if set: a signal that makes *stop nonzero aborts a call */
	/* if set: called with each progress object that arrives before the response (see
	 * docs/CONTROL.md); each one also restarts the call's timeout */
	void (*on_progress)(void *ctx, json_t *progress);
	void *progress_ctx;
};

/* Connects to the socket at path.  0, or a negative errno with err set ("no node is running: ..." for
 * a missing socket or nobody listening). */
int konce_ctl_open(struct konce_ctl *c, const char *path, char *err, size_t errlen);
void konce_ctl_close(struct konce_ctl *c);

/* Sends req (one line) and returns the parsed response object, or NULL with err set: the node closed
 * the connection, did not answer within timeout_ms, or answered with something that is not a JSON
 * object on one line.  The caller json_decref()s the result. */
json_t *konce_ctl_call(struct konce_ctl *c, json_t *req, int timeout_ms, char *err, size_t errlen);

/* Takes the first complete line out of c->buf (the bytes received so far, c->len of them):
 * KONCE_CTL_MORE if there is none yet, KONCE_CTL_PROGRESS for a progress line (handed to
 * c->on_progress), KONCE_CTL_REPLY with the response object in *resp (the caller json_decref()s it);
 * or -EPROTO (a line that is not a JSON object; it is consumed) or -EMSGSIZE (KONCE_CTL_LINE_MAX
 * bytes and no line end), with err set.  konce_ctl_call() reads through it. */
enum { KONCE_CTL_MORE = 0, KONCE_CTL_REPLY = 1, KONCE_CTL_PROGRESS = 2 };
int konce_ctl_take_line(struct konce_ctl *c, json_t **resp, char *err, size_t errlen);

/* The options every control command shares. */
struct konce_ctl_opts {
	const char *control;   /* --control PATH */
	const char *config;    /* --config FILE: read only for its `control` and `data` keys */
	bool json;             /* --json */
	const char *peer;      /* if set, errors from the node are prefixed with it */
	void (*on_progress)(void *ctx, json_t *progress); /* as struct konce_ctl's */
	void *progress_ctx;
};

/* Parses the options every control-socket command shares: --json, -s/--control, -c/--config, -h/--help
 * (key text starting with '-' is not taken for an option).  Returns -1 with optind at the first operand,
 * or the exit status the command should return (0 after --help, KONCE_EXIT_USAGE for a bad flag). */
int konce_ctl_parse_opts(int argc, char **argv, struct konce_ctl_opts *o, void (*usage)(FILE *f));

/* Resolves the socket path (--control, else the config file's control, else the default next to the
 * config's or the default data directory) and connects.  Returns an exit status. */
int konce_ctl_cli_open(struct konce_ctl *c, const char *cmd, const struct konce_ctl_opts *o);

/* konce_ctl_call for a command (peer, if not NULL, prefixes the node's error): on a transport failure prints it and returns NULL with *status set;
 * on {"ok": false} prints the node's error message and returns NULL with *status = KONCE_EXIT_FAIL
 * (or KONCE_EXIT_USAGE for errno EINVAL).  On {"ok": true} returns the response. */
json_t *konce_ctl_cli_call(struct konce_ctl *c, const char *peer, const char *cmd, json_t *req, int timeout_ms,
			   int *status);

/* Opens, sends req (consumed: it is json_decref()ed), closes.  The response on success, else NULL with
 * *status set and the problem printed. */
json_t *konce_ctl_cli_request(const char *cmd, const struct konce_ctl_opts *o, json_t *req, int timeout_ms,
			      int *status);

/* Prints a response as JSON on stdout: indented, keys in the order the node sent them, reals to 9
 * significant digits.  Exit status. */
int konce_ctl_print_json(const char *cmd, json_t *resp);

#endif
