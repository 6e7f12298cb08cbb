/* gh_int.h - what group_harness.c, gh_store.c and gh_setup.c share inside the group harness
 * (group_harness.h is its interface to the tests). */
#ifndef GH_INT_H
#define GH_INT_H

#include "tests/sim/group_harness.h"

/* group_harness.c: the network, the application and the checks. */
/* Records a violation (the first one's text is kept); never aborts. */
void gh_violation(gh *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets node i's core's wall clock to gh_wall(). */
void gh_set_wall(gh *s, unsigned i);
/* A new core for node i on its store (its pending records dropped first). */
konce_group *gh_make_core(gh *s, unsigned i);
void gh_record_view(gh *s, unsigned i, uint64_t epoch);
/* Takes node i's output: sends its messages and checks its events. */
void gh_drain(gh *s, unsigned i);
/* SQLite mode: node i's application rebuilds its state from its store after a restart
 * (konce_store_group_replay) and it is checked against every other node's after that seq. */
void gh_app_replay(gh *s, unsigned i);
gh_msg gh_q_pop(gh *s);

/* gh_store.c: the stores. */
void gh_put_bytes(uint8_t **dst, size_t *dlen, const uint8_t *src, size_t len);
int gh_store_apply(gh_store *st, const gh_rec *r);
void gh_store_drop_pending(gh_store *st);
konce_group_persist gh_store_persist(gh_store *st);
int gh_db_open(gh *s, unsigned i);
void gh_db_close(gh *s, unsigned i);
void gh_db_compare(gh *s, unsigned i);

/* gh_writer.c: the asynchronous stores' persist table, flush event and writer (gwriter.h). */
void gh_writer_init(gh *s, gh_store *st);
void gh_writer_noted(gh *s, gh_store *st, const gh_rec *r);
/* A crash or a new core: the writer's queue (returned: how many records) and the table go. */
size_t gh_writer_drop(gh_store *st);

#endif
