/** \file traversal.h
 * The traversal part of the node's configuration: konce_node_config.traversal (konce.h includes this
 * header).  NAT traversal means serving as a rendezvous, registering with rendezvous nodes, and reaching
 * peers by key alone; docs/TRAVERSAL.md describes the design and docs/API.md the fields.
 */
#ifndef KONCE_TRAVERSAL_H
#define KONCE_TRAVERSAL_H

/** Traversal runs when rendezvous is nonzero or rendezvous_peers is a non-empty list; all zero = no
 * traversal.  The strings are borrowed for the duration of konce_node_new(); nothing is kept. */
typedef struct konce_traversal_config {
	int rendezvous;               /* nonzero: serve registrations, introductions and relaying */
	/* "KEY@IP:PORT[,KEY@IP:PORT...]" (numeric addresses, at most 4): register with these; the
	 * first is the primary (introductions and relaying).  NULL or "" = none. */
	const char *rendezvous_peers;
	/* nonzero: while registered with rendezvous, lease the node's UDP port on the home router
	 * (NAT-PMP, then UPnP-IGD; off the packet path) and offer it as a port-mapped candidate;
	 * the lease is deleted when the node stops */
	int portmap;
	/* The NAT mapping lifetime, learned by experiment with the primary rendezvous from a probe
	 * socket, drives the keepalives toward the rendezvous (docs/TRAVERSAL.md, "Mapping lifetime"):
	 * NULL, "" or "auto" = bounds 10..300 s, first experiment 20 s; "off" = fixed keepalives;
	 * "MIN:MAX" or "MIN:START:MAX" = those bounds in seconds (2 <= MIN < MAX <= 600).  A node
	 * that serves as a rendezvous always answers other nodes' experiments. */
	const char *lifetime;
	/* nonzero: register the node's host candidates (its bound address, or every up interface
	 * address) with the rendezvous.  The rendezvous hands candidates to every key it introduces,
	 * so this tells them our LAN addresses; it is what lets two hosts behind one NAT that does not
	 * hairpin reach each other directly.  0 (the default) = reflexive and port-mapped only. */
	int host_candidates;
	/* nonzero ("introductions = known"): refuse introductions (and relayed traffic) from keys this
	 * node does not know: no live session, never asked for, no completed handshake in the presence
	 * store and no petname.  The requester's send fails at once with KONCE_REASON_INTRO_REFUSED. */
	int introductions_known;
	/* rendezvous service: registration table slots (the most registrations it ever holds);
	 * 0 = 4096, rounded up to a power of two, at most 2^20 */
	unsigned rendezvous_capacity;
} konce_traversal_config;

#endif
