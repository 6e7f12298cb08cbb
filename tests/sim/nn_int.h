/* nn_int.h - what node_harness.c and nn_groups.c (its groups with a store) share. */
#ifndef KONCE_SIM_NN_INT_H
#define KONCE_SIM_NN_INT_H

#include "tests/sim/node_harness.h"

/* One group note polled from the core: queued on the store and told to the persist table. */
void nn_groups_note(ncnode *n, const konce_nc_gnote *g);
/* One group event of the core, for the API (konce_ncgapi_event: owed state first, notices). */
void nn_groups_event(ncnode *n, const konce_nc_event *ev);
/* A kick or a replay asked for the loop's next turn. */
bool nn_groups_due(const ncnode *n);
/* The loop's turn: the replay asked for; then the caller drains. */
void nn_groups_run(ncnode *n);
/* The groups' end (node_groups_stop, or a crash), the store closed, the state freed. */
void nn_groups_stop(ncnode *n, bool crash);
/* node_harness.c: drains and rearms; rearms (a kick or replay due: at now). */
void nn_drain_rearm(ncnode *n, uint64_t now);
void nn_rearm(ncnode *n);

#endif
