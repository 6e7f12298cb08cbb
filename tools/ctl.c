/* ctl.c - the control-socket client (see ctl.h and docs/CONTROL.md). */
#include "tools/ctl.h"
#include "tools/args.h"

#include <getopt.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tools/config.h"

int konce_ctl_open(struct konce_ctl *c, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	strcpy(c->path, path);
	c->buf = malloc(KONCE_CTL_LINE_MAX + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!c->buf || c->fd < 0) {
		int e = c->buf ? errno : ENOMEM;
		konce_ctl_close(c);
		snprintf(err, errlen, "cannot create a socket: %s", strerror(e));
		return -e;
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		konce_ctl_close(c);
		if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR)
			snprintf(err, errlen, "no node is running: cannot connect to %s (start one with `konce node`)",
				 path);
		else if (e == EACCES || e == EPERM)
			snprintf(err, errlen, "cannot connect to %s: %s (is the node running as another user?)", path,
				 strerror(e));
		else
			snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(e));
		return -e;
	}
	return 0;
}

void konce_ctl_close(struct konce_ctl *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	c->fd = -1;
	c->buf = NULL;
	c->len = 0;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

json_t *konce_ctl_call(struct konce_ctl *c, json_t *req, int timeout_ms, char *err, size_t errlen)
{
	char *line = json_dumps(req, JSON_COMPACT);
	if (!line) {
		snprintf(err, errlen, "cannot encode the request (text must be UTF-8)");
		return NULL;
	}
	size_t n = strlen(line);
	if (n >= KONCE_CTL_LINE_MAX) {
		free(line);
		snprintf(err, errlen, "request longer than the control protocol's %d bytes", KONCE_CTL_LINE_MAX);
		return NULL;
	}
	line[n] = '\n'; /* json_dumps' NUL becomes the line end; the buffer has n+1 bytes */
	int r = send_all(c->fd, line, n + 1);
	free(line);
	if (r) {
		snprintf(err, errlen, "writing to %s: %s (did the node stop?)", c->path, strerror(-r));
		return NULL;
	}

	long long deadline = now_ms() + timeout_ms;
	for (;;) {
		json_t *resp;
		int t = konce_ctl_take_line(c, &resp, err, errlen);
		if (t == KONCE_CTL_REPLY)
			return resp;
		if (t < 0)
			return NULL;
		if (t == KONCE_CTL_PROGRESS) {
			deadline = now_ms() + timeout_ms; /* each progress line restarts the timeout */
			continue;
		}
		long long left = deadline - now_ms();
		if (left <= 0) {
			snprintf(err, errlen, "the node did not answer within %d ms", timeout_ms);
			return NULL;
		}
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int pr = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (pr < 0 && errno == EINTR && c->stop && *c->stop) {
			snprintf(err, errlen, "interrupted");
			return NULL;
		}
		if (pr < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return NULL;
		}
		if (pr <= 0)
			continue;
		ssize_t got = recv(c->fd, c->buf + c->len, KONCE_CTL_LINE_MAX - c->len, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			snprintf(err, errlen, "the node closed the control connection%s%s", got ? ": " : "",
				 got ? strerror(errno) : " (did it stop?)");
			return NULL;
		}
		c->len += (size_t)got;
	}
}

int konce_ctl_cli_open(struct konce_ctl *c, const char *cmd, const struct konce_ctl_opts *o)
{
	struct konce_conf conf;
	char err[PATH_MAX + 256], file[PATH_MAX];
	int r = 0;

	konce_conf_init(&conf);
	if (o->config)
		r = konce_conf_load(&conf, o->config, true, err, sizeof(err));
	else if (!o->control && konce_paths_config_file(file, sizeof(file), NULL) == 0)
		r = konce_conf_load(&conf, file, false, err, sizeof(err));
	if (!r && o->control)
		r = konce_conf_set(&conf, "control", o->control, "--control", err, sizeof(err));
	if (!r)
		r = konce_conf_resolve(&conf, NULL, err, sizeof(err));
	if (r) {
		fprintf(stderr, "konce %s: %s\n", cmd, err);
		konce_conf_free(&conf);
		return r == -EINVAL && o->control ? KONCE_EXIT_USAGE : KONCE_EXIT_FAIL;
	}
	r = konce_ctl_open(c, conf.control, err, sizeof(err));
	konce_conf_free(&conf);
	if (r) {
		fprintf(stderr, "konce %s: %s\n", cmd, err);
		return r == -ENOENT || r == -ECONNREFUSED || r == -ENOTDIR ? KONCE_EXIT_NO_NODE : KONCE_EXIT_FAIL;
	}
	return KONCE_EXIT_OK;
}

json_t *konce_ctl_cli_call(struct konce_ctl *c, const char *peer, const char *cmd, json_t *req, int timeout_ms,
			   int *status)
{
	char err[512];
	json_t *resp = konce_ctl_call(c, req, timeout_ms, err, sizeof(err));
	if (!resp) {
		fprintf(stderr, "konce %s: %s\n", cmd, err);
		*status = KONCE_EXIT_FAIL;
		return NULL;
	}
	if (json_is_true(json_object_get(resp, "ok"))) {
		*status = KONCE_EXIT_OK;
		return resp;
	}
	const char *msg = json_string_value(json_object_get(resp, "error"));
	const char *eno = json_string_value(json_object_get(resp, "errno"));
	fprintf(stderr, "konce %s: %s%s%s%s%s%s\n", cmd, peer ? peer : "", peer ? ": " : "",
		msg ? msg : "the node refused the request", eno ? " (" : "", eno ? eno : "", eno ? ")" : "");
	*status = eno && !strcmp(eno, "EINVAL") ? KONCE_EXIT_USAGE : KONCE_EXIT_FAIL;
	json_decref(resp);
	return NULL;
}

json_t *konce_ctl_cli_request(const char *cmd, const struct konce_ctl_opts *o, json_t *req, int timeout_ms,
			      int *status)
{
	struct konce_ctl ctl;
	json_t *resp = NULL;
	if (!req) {
		fprintf(stderr, "konce %s: out of memory, or text that is not UTF-8\n", cmd);
		*status = KONCE_EXIT_FAIL;
		return NULL;
	}
	if ((*status = konce_ctl_cli_open(&ctl, cmd, o)) == KONCE_EXIT_OK) {
		ctl.on_progress = o->on_progress;
		ctl.progress_ctx = o->progress_ctx;
		resp = konce_ctl_cli_call(&ctl, o->peer, cmd, req, timeout_ms, status);
		konce_ctl_close(&ctl);
	}
	json_decref(req);
	return resp;
}

int konce_ctl_print_json(const char *cmd, json_t *resp)
{
	if (json_dumpf(resp, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9)) != 0 || putchar('\n') == EOF ||
	    fflush(stdout) != 0) {
		fprintf(stderr, "konce %s: writing to standard output: %s\n", cmd, strerror(errno));
		return KONCE_EXIT_FAIL;
	}
	return KONCE_EXIT_OK;
}

int konce_ctl_parse_opts(int argc, char **argv, struct konce_ctl_opts *o, void (*usage)(FILE *f))
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},          {"control", required_argument, NULL, 's'},
		{"config", required_argument, NULL, 'c'},  {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, status = -1;
	konce_args_hide_keys(argc, argv);
	while (status < 0 && (c = getopt_long(argc, argv, "s:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': o->json = true; break;
		case 's': o->control = optarg; break;
		case 'c': o->config = optarg; break;
		case 'h': usage(stdout); status = KONCE_EXIT_OK; break;
		default: usage(stderr); status = KONCE_EXIT_USAGE; break;
		}
	}
	konce_args_unhide_keys(argc, argv);
	return status;
}
