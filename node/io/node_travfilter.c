/* node_travfilter.c - the filtering test in the node: both sides of nat/filtertest.h.
 *
 * Client (a node that registers with rendezvous): once every configured rendezvous has reported a
 * reflexive address, it opens a fresh UDP socket S (same local IP as the node's socket, any port)
 * and runs the test core over it; bare FILTER datagrams go out of and come in on S, the ASKs ride
 * on the sessions with the rendezvous as KONCE_CLASS_RENDEZVOUS messages.  S is closed when the
 * core is done; the verdict stays for `konce netcheck`.  Run once per start of the node.
 *
 * Rendezvous (rendezvous = yes): answers ECHO_REQ on the node's socket with ECHO (same size, so no
 * amplification), and ASK / ASK_ALT on a session with a PROBE from the node's socket or from a
 * second socket on another port of the same IP, opened at start.  It probes only addresses with
 * the IP of the asking session (the asker's own NAT), and both bare echoes and asks are charged
 * to their source address (10 per second, burst 20).
 */
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nat/filtertest.h"
#include "node/io/node_int.h"
#include "node/io/node_trav.h"
#include "node/io/node_trav_int.h"
#include "node/base/ratelimit.h"

struct node_filt {
	struct node_trav *t;
	/* client */
	konce_ftest *ft;
	int fd;                   /* S, -1 when closed */
	struct event *ev_rx, *ev_timer;
	bool started;
	konce_addr local;         /* S's local address */
	/* rendezvous */
	int alt_fd;               /* the other port, -1 if none */
	konce_addr alt_local;
	konce_ratelimit *rl;
	uint64_t echoes, probes, refused;
};

static int udp_socket(const konce_addr *bind_to, konce_addr *local)
{
	struct sockaddr_storage ss;
	konce_addr b = *bind_to;
	b.port = 0;
	bool v6 = !konce_addr_is_v4(&b);
	size_t sl = konce_addr_to_sockaddr(&b, &ss, v6);
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int off = 0;
	if (v6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	socklen_t len = sizeof(ss);
	if (!sl || bind(fd, (struct sockaddr *)&ss, (socklen_t)sl) < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    konce_addr_from_sockaddr(local, (struct sockaddr *)&ss)) {
		int e = -errno;
		close(fd);
		return e ? e : -EINVAL;
	}
	return fd;
}

static void send_fd(int fd, const uint8_t *b, size_t n, const konce_addr *to, bool v6)
{
	struct sockaddr_storage ss;
	size_t sl = konce_addr_to_sockaddr(to, &ss, v6);
	if (sl)
		(void)sendto(fd, b, n, 0, (struct sockaddr *)&ss, (socklen_t)sl);
}

/* ---- client --------------------------------------------------------------------------------- */

static void client_stop(struct node_filt *f)
{
	if (f->ev_rx)
		event_free(f->ev_rx);
	if (f->ev_timer)
		event_free(f->ev_timer);
	f->ev_rx = f->ev_timer = NULL;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

static void client_pump(struct node_filt *f)
{
	struct node_trav *t = f->t;
	konce_ftest_out o;
	bool sent = false;
	while (konce_ftest_poll(f->ft, &o)) {
		if (!o.session) {
			if (f->fd >= 0)
				send_fd(f->fd, o.buf, o.len, &o.to, !konce_addr_is_v4(&f->local));
			continue;
		}
		struct peer *p = node_peer_find(t->n, t->core->rdv_pk[o.rdv]);
		if (p && p->conn && node_trav_send_msg(t->n, p->conn, o.buf, o.len) == 0)
			sent = true;
	}
	if (konce_ftest_state(f->ft) == KONCE_FTEST_DONE && f->fd >= 0) {
		char as[KONCE_ADDR_STRLEN];
		konce_addr x = {0};
		konce_ftest_mapping(f->ft, &x);
		node_log(t->n, KONCE_LOG_INFO, "NAT filtering: %s (tested on a fresh mapping %s)",
			 konce_filtering_name(konce_ftest_result(f->ft)), konce_addr_str(&x, as));
		client_stop(f);
	} else if (konce_ftest_state(f->ft) != KONCE_FTEST_DONE && f->ev_timer) {
		uint64_t at = konce_ftest_next_timer(f->ft), now = node_now_us();
		uint64_t d = at > now ? at - now : 0;
		struct timeval tv = {(time_t)(d / 1000000u), (suseconds_t)(d % 1000000u)};
		event_add(f->ev_timer, &tv);
	}
	if (sent)
		node_io_kick(t->n);
}

static void on_rx(evutil_socket_t fd, short what, void *arg)
{
	struct node_filt *f = arg;
	uint8_t buf[2048];
	struct sockaddr_storage ss;
	(void)what;
	for (int i = 0; i < 16 && f->fd >= 0; i++) {
		socklen_t sl = sizeof(ss);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);
		konce_addr from;
		if (n < 0)
			break;
		if (!konce_addr_from_sockaddr(&from, (struct sockaddr *)&ss))
			konce_ftest_input_bare(f->ft, buf, (size_t)n, &from, node_now_us());
	}
	client_pump(f);
}

static void on_ftimer(evutil_socket_t fd, short what, void *arg)
{
	struct node_filt *f = arg;
	(void)fd;
	(void)what;
	konce_ftest_timer(f->ft, node_now_us());
	client_pump(f);
}

int node_travfilter_mapping(struct node_trav *t, konce_addr *x)
{
	struct node_filt *f = t->filt;
	if (!f || !f->ft)
		return -ENOENT;
	return konce_ftest_mapping(f->ft, x) == 0 ? 0 : 1;
}

void node_travfilter_kick(struct node_trav *t)
{
	struct node_filt *f = t->filt;
	konce_addr a, local;
	if (!f || f->started || !t->core->rc || !t->core->nrdv)
		return;
	for (unsigned i = 0; i < t->core->nrdv; i++)
		if (konce_rdvc_reflexive(t->core->rc, i, &a))
			return; /* not every rendezvous answered yet */
	f->started = true;
	if (konce_udp_local(t->n->udp, &local))
		return;
	int fd = udp_socket(&local, &f->local);
	if (fd < 0) {
		node_log(t->n, KONCE_LOG_WARN, "filtering test: cannot open a socket: %s", strerror(-fd));
		return;
	}
	f->fd = fd;
	f->ev_rx = event_new(t->n->base, fd, EV_READ | EV_PERSIST, on_rx, f);
	f->ev_timer = evtimer_new(t->n->base, on_ftimer, f);
	if (!f->ev_rx || !f->ev_timer || event_add(f->ev_rx, NULL) ||
	    konce_ftest_new(&f->ft, konce_env_default(), t->core->rdv_addr, t->core->nrdv, node_now_us())) {
		client_stop(f);
		return;
	}
	konce_ftest_timer(f->ft, node_now_us());
	client_pump(f);
}

/* ---- rendezvous ----------------------------------------------------------------------------- */

static void reply_bare(struct node_filt *f, uint8_t op, uint64_t token, const konce_addr *addr, const konce_addr *to,
		       int fd)
{
	uint8_t b[KONCE_FILT_SIZE];
	konce_rdv_msg m = {.type = KONCE_RDV_FILTER, .flags = op, .id = token};
	if (addr)
		m.addr = *addr;
	size_t n = konce_rdv_encode(&m, b, sizeof(b));
	if (!n)
		return;
	if (fd >= 0)
		send_fd(fd, b, n, to, !konce_addr_is_v4(&f->alt_local));
	else
		konce_udp_queue(f->t->n->udp, b, n, to);
}

void node_travfilter_datagram(struct node_trav *t, const uint8_t *pkt, size_t len, const konce_addr *from)
{
	struct node_filt *f = t->filt;
	konce_rdv_msg m;
	if (!f || !t->core->srv || konce_rdv_decode(&m, pkt, len) || m.flags != KONCE_FILT_OP_ECHO_REQ)
		return; /* a FILTER datagram on the node socket is ours either way: dropped */
	if (konce_ratelimit_charge(f->rl, from, 1, node_now_us())) {
		f->refused++;
		return;
	}
	f->echoes++;
	reply_bare(f, KONCE_FILT_OP_ECHO, m.id, from, from, -1);
}

void node_travfilter_message(struct node_trav *t, struct peer *from, const uint8_t *body, size_t len)
{
	struct node_filt *f = t->filt;
	konce_rdv_msg m;
	if (!f || konce_rdv_decode(&m, body, len))
		return;
	if (m.flags == KONCE_FILT_OP_SENT) {
		for (unsigned i = 0; f->ft && i < t->core->nrdv; i++)
			if (!memcmp(from->pk, t->core->rdv_pk[i], KONCE_KEY_BYTES)) {
				konce_ftest_input_session(f->ft, i, body, len, node_now_us());
				client_pump(f);
			}
		return;
	}
	if (!t->core->srv || (m.flags != KONCE_FILT_OP_ASK && m.flags != KONCE_FILT_OP_ASK_ALT))
		return;
	/* only the asker's own public IP; charged like a bare echo */
	if (memcmp(m.addr.ip, from->addr.ip, 16) || konce_ratelimit_charge(f->rl, &from->addr, 1, node_now_us())) {
		f->refused++;
		return;
	}
	konce_addr src;
	if (m.flags == KONCE_FILT_OP_ASK_ALT) {
		if (f->alt_fd < 0) {
			f->refused++;
			return;
		}
		reply_bare(f, KONCE_FILT_OP_PROBE, m.id, NULL, &m.addr, f->alt_fd);
		src = f->alt_local;
	} else {
		reply_bare(f, KONCE_FILT_OP_PROBE, m.id, NULL, &m.addr, -1);
		if (konce_udp_local(t->n->udp, &src))
			memset(&src, 0, sizeof(src));
	}
	f->probes++;
	uint8_t b[KONCE_FILT_SIZE];
	konce_rdv_msg s = {.type = KONCE_RDV_FILTER, .flags = KONCE_FILT_OP_SENT, .id = m.id, .addr = src};
	size_t n = konce_rdv_encode(&s, b, sizeof(b));
	if (n && from->conn)
		node_trav_send_msg(t->n, from->conn, b, n);
}

/* ---- setup and answers ---------------------------------------------------------------------- */

int node_travfilter_new(struct node_trav *t)
{
	struct node_filt *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->t = t;
	f->fd = f->alt_fd = -1;
	t->filt = f;
	if (!t->core->srv)
		return 0;
	konce_addr local;
	int e = konce_ratelimit_new(&f->rl, konce_env_default(), 1024, 10, 20);
	if (e)
		return e;
	if (konce_udp_local(t->n->udp, &local) == 0) {
		int fd = udp_socket(&local, &f->alt_local);
		if (fd >= 0)
			f->alt_fd = fd;
		else
			node_log(t->n, KONCE_LOG_WARN, "filtering test service: no second port (%s): ASK_ALT refused",
				 strerror(-fd));
	}
	return 0;
}

void node_travfilter_free(struct node_trav *t)
{
	struct node_filt *f = t->filt;
	if (!f)
		return;
	client_stop(f);
	konce_ftest_free(f->ft);
	if (f->alt_fd >= 0)
		close(f->alt_fd);
	konce_ratelimit_free(f->rl);
	free(f);
	t->filt = NULL;
}

json_t *node_travfilter_json(struct node_trav *t)
{
	struct node_filt *f = t->filt;
	if (!f || !t->core->rc)
		return json_pack("{s:s}", "result", "not measured");
	if (!f->ft)
		return json_pack("{s:s}", "result", f->started ? "not measured" : "waiting for registration");
	konce_addr x;
	bool orx, arx, osent, asent;
	konce_ftest_seen(f->ft, &orx, &arx, &osent, &asent);
	char as[KONCE_ADDR_STRLEN];
	bool done = konce_ftest_state(f->ft) == KONCE_FTEST_DONE;
	return json_pack("{s:s,s:o,s:{s:b,s:b,s:b,s:b}}", "result",
			 done ? konce_filtering_name(konce_ftest_result(f->ft)) : "measuring", "mapping",
			 konce_ftest_mapping(f->ft, &x) ? json_null() : json_string(konce_addr_str(&x, as)), "probes",
			 "other_ip_received", orx, "other_port_received", arx, "other_ip_sent", osent,
			 "other_port_sent", asent);
}

json_t *node_travfilter_service_json(struct node_trav *t)
{
	struct node_filt *f = t->filt;
	if (!f || !t->core->srv)
		return json_null();
	char as[KONCE_ADDR_STRLEN];
	return json_pack("{s:I,s:I,s:I,s:o}", "filter_echoes", (json_int_t)f->echoes, "filter_probes",
			 (json_int_t)f->probes, "filter_refused", (json_int_t)f->refused, "filter_alt_port",
			 f->alt_fd >= 0 ? json_string(konce_addr_str(&f->alt_local, as)) : json_null());
}
