#!/usr/bin/env bash
# The netsim traversal matrix (test_traversal_matrix.sh) with one rendezvous: A and B register
# with R1 alone, so neither knows its NAT's mapping.  Every pair must still get its first answer
# within the relay's round trips, never after the 4 s give-up; the header of
# test_traversal_matrix.sh says which pairs end direct.
TRAVERSAL_NRDV=1 exec bash "$(dirname "$0")/test_traversal_matrix.sh"
