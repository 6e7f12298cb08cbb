/* numbered.h - the numbered messages of the sims that move a session under traffic
 * (test_transport_migration.c, test_transport_roam.c, test_node_migration.c): "c 17", "s 17", one
 * letter naming the sender, a space, the message's number. */
#ifndef KONCE_SIM_NUMBERED_H
#define KONCE_SIM_NUMBERED_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The number of a message from `who` in [min, max], or -1 when it is not one. */
static inline int numbered_msg(const uint8_t *data, size_t len, char who, int min, int max)
{
	char t[32];
	int k;
	if (len >= sizeof t || len < 1 || data[0] != (uint8_t)who)
		return -1;
	memcpy(t, data, len);
	t[len] = 0;
	return sscanf(t, "%*c %d", &k) == 1 && k >= min && k <= max ? k : -1;
}

#endif
