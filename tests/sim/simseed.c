/* simseed.c - which seeds a test runs, and the line that tells how to rerun a failing one.
 *
 * SIM_SEED=N runs only seed N; SIM_SEEDS=COUNT runs seeds 1..COUNT; otherwise the test's default
 * count.  The state below is the one global of the simulator: it belongs to the test process,
 * not to any simulation, and only remembers which seed loop is running so that a failure that
 * escapes it (a cmocka assert_* longjmps out) is still reported with its seed.
 */
#include <errno.h>
#include <stdlib.h>

#include "tests/sim/sim_int.h"

static struct {
	bool running, reported, hooked;
	uint64_t first, count, done, seed;
} cur;

void sim_report_failure(uint64_t seed, const char *what, const char *file, int line)
{
	if (what && file)
		fprintf(stderr, "sim: %s:%d: %s\n", file, line, what);
	else if (what)
		fprintf(stderr, "sim: %s\n", what);
	fprintf(stderr, "sim: failed with seed %llu (rerun: SIM_SEED=%llu %s)\n",
		(unsigned long long)seed, (unsigned long long)seed, program_invocation_name);
	fflush(stderr);
	if (cur.running && cur.seed == seed)
		cur.reported = true;
}

static void check_escaped(void)
{
	if (cur.running && !cur.reported)
		sim_report_failure(cur.seed, "a failure left the seed loop", NULL, 0);
	cur.running = false;
}

static bool env_u64(const char *name, uint64_t *out)
{
	const char *v = getenv(name);
	char *end;
	if (!v || !*v)
		return false;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 0);
	if (errno || *end) {
		fprintf(stderr, "sim: ignoring %s=%s (not a number)\n", name, v);
		return false;
	}
	*out = x;
	return true;
}

uint64_t sim_seeds_begin(uint64_t default_count)
{
	check_escaped();
	if (!cur.hooked) {
		atexit(check_escaped);
		cur.hooked = true;
	}
	cur.first = 1;
	cur.count = default_count;
	uint64_t v;
	if (env_u64("SIM_SEED", &v)) {
		cur.first = v;
		cur.count = 1;
	} else if (env_u64("SIM_SEEDS", &v)) {
		cur.count = v;
	}
	cur.done = 0;
	cur.running = true;
	cur.reported = false;
	return cur.first;
}

bool sim_seeds_next(uint64_t *seed)
{
	if (cur.done >= cur.count) {
		cur.running = false;
		return false;
	}
	*seed = cur.seed = cur.first + cur.done++;
	cur.reported = false;
	return true;
}
