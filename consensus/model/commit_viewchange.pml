/* commit_viewchange.pml - a Promela model of the consensus core's commit and view change
 * (consensus/ccommit.c, consensus/cview.c; docs/CONSENSUS.md), checked exhaustively by
 * `make spin` for N = 3 and N = 4 members.
 *
 * What is modelled.  View 1 holds all N members; its coordinator (member 1 mod N = 1) proposes
 * seq 1 .. S.  It sends PROPOSE for a seq as it appends it to its in-memory log, and makes its
 * own copy durable in a later, separate step (the overlap of cgroup.h invariant 6): its own ack
 * is the end of its durable log (dur1), never its in-memory one.  It may crash once, between any
 * two steps, in particular after a PROPOSE left and before its own write was durable: it loses
 * the in-memory tail beyond dur1 and restarts in epoch 1 (incarnation 2) from its durable state;
 * a restarted coordinator is sealed (cgroup.h invariant 8): it proposes nothing more in epoch 1.
 * Compiled with -DNOGUARD the restarted coordinator proposes again from dur1 + 1, and spin finds
 * the divergence (A1 or A5): the model sees the danger the guard closes (`spin -DN=3 -DS=1
 * -DNOGUARD -a commit_viewchange.pml && cc -O2 -DSAFETY -o pan pan.c && ./pan -m200000 -w24`:
 * "assertion violated" at depth 40).  A member appends only
 * at last + 1, persists, and acks; once it has promised a ballot it acks nothing more in epoch 1
 * (the epoch is frozen).  The coordinator commits a seq when every member of the view has acked
 * it, and a member learns the commit index from any later message (the model lets a promise
 * report any commit index up to what has reached the member).  View 2 is decided by
 * single-decree Paxos among view 1's members: two proposers (members 0 and 2, ballots 1 and 2),
 * PREPARE / PROMISE carrying the acceptor's accepted ballot (and so its value), commit index and
 * log (its entries); ACCEPT / ACCEPTED; a strict majority at each phase.  The value is the one of
 * the highest accepted ballot among the promises, else (members, commit = the highest commit
 * index, tail end = the longest log, the tail's entries from the promises); the members are
 * chosen nondeterministically: all of view 1, or only the promisers (the others evicted).  A
 * member of view 2 installs it (its log up to the value's commit index stays, what it lacks there
 * comes by state transfer; after it, the value's tail), the coordinator of view 2 (position
 * 2 mod |members|) re-proposes the tail, may append a new entry after it, and commits with
 * all-ack too (its own write is modelled as atomic with the append there: epoch 1 already has
 * every interleaving of the overlap).
 *
 * Entries.  An entry is named by who created it: 1 = epoch 1's coordinator in its first
 * incarnation, 2 = in its second (only without the guard), 3 = epoch 2's coordinator.  ent[]
 * holds each member's log entry by entry; a PROPOSE, once sent, stays receivable (sent[s] is the
 * set of incarnations that sent one for seq s).
 *
 * Messages are not channels: every message, once sent, stays receivable (its enabling state is
 * persistent), and any receive may happen at any time, any number of times, or never, so loss,
 * duplication, reordering and delay are covered.  A crashed member other than the coordinator is
 * one that takes no further step (it persists before it acks or votes, so a crash loses nothing
 * another member saw).  The coordinator's promise is sent only once its vote is durable, which is
 * after every entry it appended before (persist calls are durable in call order): the promise
 * step makes its whole log durable.
 *
 * Checked (assert):
 *   A1 agreement: at every commit of seq s, in either epoch, every member of the view holds the
 *      same entry at s, and every commit at s commits the same entry;
 *   A3 one view per epoch: every decision of view 2 is the same value;
 *   A4 no loss: a decided view's log holds every entry committed so far, at its seq, and so does
 *      every member that installs it;
 *   A5 promisers agree: every promise that carries seq s carries the same entry (one entry per
 *      (epoch, seq)).
 */
#ifndef N
#define N 3
#endif
#ifndef S
#define S 2      /* seqs 1..S */
#endif
#define NB 2     /* ballots: 1 = member 0, 2 = member 2 */
#define MAJ (N / 2 + 1)
#define IX(b, i) ((b) * N + (i))
#define E(i, q) ((i) * S + (q) - 1)             /* ent[]: member i, seq q */
#define PE(b, i, q) (((b) * N + (i)) * S + (q) - 1) /* pent[]: ballot b, member i, seq q */

typedef Val { byte mem; byte c; byte l; bool set; byte e[S + 1] };

/* Members (all persisted, but for the coordinator's in-memory tail beyond dur1). */
byte last[N], inst[N], promised[N], accb[N];
byte ent[N * S];
byte ack1[N], ack2[N];        /* the highest seq member i acked in epoch 1, 2 */
/* Epoch 1. */
byte sent[S + 1];            /* PROPOSE(s) sent by incarnation k: bit k */
byte dur1;                   /* the coordinator's durable log end */
byte inc = 1;                /* the coordinator's incarnation */
bool sealed;                 /* restarted in epoch 1: proposes nothing more in it */
byte commit1;
/* Paxos for view 2. */
bool prep[NB + 1];
bool pr[(NB + 1) * N];       /* member i promised ballot b, telling: */
byte pacb[(NB + 1) * N];     /*   its accepted ballot (whose value is av[pacb]) */
byte pcmt[(NB + 1) * N];     /*   its commit index */
byte plast[(NB + 1) * N];    /*   its log end */
byte pent[(NB + 1) * N * S]; /*   its log */
Val av[NB + 1];              /* the value ACCEPT(b) carries */
bool acc[(NB + 1) * N];      /* member i accepted b */
Val decided;                 /* view 2 */
/* Epoch 2. */
byte coord2;
byte new2;                   /* seq of epoch 2's new entry (0: none yet) */
byte commit2;
/* Ghosts: which entry was committed at seq s. */
byte committed[S + 1];
byte maxcommitted;

/* Scratch, assigned before use in every step: kept out of the state vector. */
hidden byte i, j, b, s, p, ncount, bestb, k, low, q;

inline commit_at(q, e) {
	assert(committed[q] == 0 || committed[q] == e); /* A1 */
	committed[q] = e;
	if :: q > maxcommitted -> maxcommitted = q :: else -> skip fi
}

active proctype world()
{
	for (i : 0 .. N - 1) { inst[i] = 1 };
	k = 0;
	do
	/* ---- epoch 1 ---- */
	:: atomic { /* the coordinator gives the next seq and sends PROPOSE, its own write not done */
		inst[1] == 1 && promised[1] == 0 && !sealed && last[1] < S ->
		last[1]++; ent[E(1, last[1])] = inc; sent[last[1]] = sent[last[1]] | (1 << inc) }
	:: atomic { /* the coordinator's own write of its next entry is durable: its own ack */
		inst[1] == 1 && dur1 < last[1] -> dur1++; ack1[1] = dur1 }
	:: atomic { /* the coordinator crashes, losing its in-memory tail, and restarts in epoch 1 */
		inst[1] == 1 && inc == 1 && dur1 < last[1] ->
		for (q : dur1 + 1 .. last[1]) { ent[E(1, q)] = 0 };
		last[1] = dur1; inc = 2;
#ifndef NOGUARD
		sealed = true
#endif
		}
	:: atomic { /* a member receives PROPOSE(last + 1) of either incarnation and acks; not once
		     * it has promised */
		select(i : 0 .. N - 1);
		if
		:: i != 1 && inst[i] == 1 && promised[i] == 0 && last[i] < S && (sent[last[i] + 1] & 2) ->
			last[i]++; ent[E(i, last[i])] = 1; ack1[i] = last[i]
		:: i != 1 && inst[i] == 1 && promised[i] == 0 && last[i] < S && (sent[last[i] + 1] & 4) ->
			last[i]++; ent[E(i, last[i])] = 2; ack1[i] = last[i]
		:: else -> skip
		fi }
	:: atomic { /* the coordinator has every ACK up to low (its own: its durable log): commits */
		inst[1] == 1 && promised[1] == 0 ->
		low = S;
		for (i : 0 .. N - 1) { if :: ack1[i] < low -> low = ack1[i] :: else -> skip fi };
		k = 0;
		do
		:: commit1 < low -> commit1++;
			for (i : 0 .. N - 1) { assert(ent[E(i, commit1)] == ent[E(1, commit1)]) }; /* A1 */
			commit_at(commit1, ent[E(1, commit1)])
		:: else -> break
		od }
	/* ---- view change of view 1 ---- */
	:: atomic { /* PREPARE(b) from its proposer */
		select(b : 1 .. NB);
		p = (b == 2 -> 2 : 0);
		if
		:: !prep[b] && inst[p] == 1 && promised[p] < b -> prep[b] = true
		:: else -> skip
		fi }
	:: atomic { /* an acceptor promises b (persisting it), answering with its state */
		select(b : 1 .. NB); select(i : 0 .. N - 1);
		if
		:: prep[b] && inst[i] == 1 && promised[i] < b ->
			if :: i == 1 -> dur1 = last[1]; ack1[1] = dur1 :: else -> skip fi; /* vote after entries */
			promised[i] = b; pr[IX(b, i)] = true; pacb[IX(b, i)] = accb[i];
			plast[IX(b, i)] = last[i];
			for (q : 1 .. S) { pent[PE(b, i, q)] = ent[E(i, q)] };
			/* The commit index it knows: the commit index rides on every message, so a
			 * member knows any value up to min(commit1, its log end), depending on which
			 * messages reached it. */
			low = (commit1 < last[i] -> commit1 : last[i]);
			select(k : 0 .. low);
			pcmt[IX(b, i)] = k
		:: else -> skip
		fi }
	:: atomic { /* the proposer holds a strict majority of promises, its own among them: ACCEPT */
		select(b : 1 .. NB);
		p = (b == 2 -> 2 : 0);
		ncount = 0; bestb = 0;
		for (i : 0 .. N - 1) {
			if
			:: pr[IX(b, i)] -> ncount++;
				if :: pacb[IX(b, i)] > bestb -> bestb = pacb[IX(b, i)] :: else -> skip fi
			:: else -> skip
			fi
		};
		k = 0;
		if
		:: prep[b] && !av[b].set && pr[IX(b, p)] && ncount >= MAJ && bestb > 0 ->
			/* adopt the value of the highest accepted ballot */
			av[b].mem = av[bestb].mem; av[b].c = av[bestb].c; av[b].l = av[bestb].l;
			for (q : 1 .. S) { av[b].e[q] = av[bestb].e[q] };
			av[b].set = true
		:: prep[b] && !av[b].set && pr[IX(b, p)] && ncount >= MAJ && bestb == 0 ->
			/* build: the highest commit index, the longest log, the members */
			av[b].c = 0; av[b].l = 0;
			for (i : 0 .. N - 1) {
				if
				:: pr[IX(b, i)] ->
					if :: pcmt[IX(b, i)] > av[b].c -> av[b].c = pcmt[IX(b, i)] :: else -> skip fi;
					if :: plast[IX(b, i)] > av[b].l -> av[b].l = plast[IX(b, i)] :: else -> skip fi
				:: else -> skip
				fi
			};
			/* the tail (c, l]: each seq from the promises that carry it (after their commit
			 * index); they must agree (A5) */
			for (q : 1 .. S) {
				av[b].e[q] = 0;
				for (i : 0 .. N - 1) {
					if
					:: q > av[b].c && q <= av[b].l && pr[IX(b, i)] && pcmt[IX(b, i)] < q &&
					   plast[IX(b, i)] >= q ->
						assert(av[b].e[q] == 0 || av[b].e[q] == pent[PE(b, i, q)]); /* A5 */
						av[b].e[q] = pent[PE(b, i, q)]
					:: else -> skip
					fi
				}
			};
			k = 0;
			if
			:: av[b].mem = (1 << N) - 1
			:: av[b].mem = 0;
				for (i : 0 .. N - 1) { if :: pr[IX(b, i)] -> av[b].mem = av[b].mem | (1 << i) :: else -> skip fi }
			fi;
			av[b].set = true
		:: else -> skip
		fi }
	:: atomic { /* an acceptor accepts b (persisting it) */
		select(b : 1 .. NB); select(i : 0 .. N - 1);
		if
		:: av[b].set && inst[i] == 1 && promised[i] <= b && !acc[IX(b, i)] ->
			promised[i] = b; accb[i] = b; acc[IX(b, i)] = true
		:: else -> skip
		fi }
	:: atomic { /* the proposer holds a strict majority of ACCEPTED: view 2 is decided */
		select(b : 1 .. NB);
		ncount = 0;
		for (i : 0 .. N - 1) { if :: acc[IX(b, i)] -> ncount++ :: else -> skip fi };
		k = 0;
		if
		:: av[b].set && ncount >= MAJ && decided.set -> /* A3 */
			assert(decided.mem == av[b].mem && decided.c == av[b].c && decided.l == av[b].l);
			for (q : 1 .. S) { assert(decided.e[q] == av[b].e[q]) }
		:: av[b].set && ncount >= MAJ && !decided.set ->
			assert(av[b].l >= maxcommitted); /* A4 */
			for (q : 1 .. S) { /* A4: the tail holds the committed entries at their seqs */
				assert(q <= av[b].c || q > av[b].l || committed[q] == 0 || av[b].e[q] == committed[q])
			};
			decided.mem = av[b].mem; decided.c = av[b].c; decided.l = av[b].l; decided.set = true;
			for (q : 1 .. S) { decided.e[q] = av[b].e[q] };
			ncount = 0;
			for (i : 0 .. N - 1) { if :: decided.mem & (1 << i) -> ncount++ :: else -> skip fi };
			low = 2 % ncount; ncount = 0;
			for (i : 0 .. N - 1) {
				if
				:: decided.mem & (1 << i) -> if :: ncount == low -> coord2 = i :: else -> skip fi; ncount++
				:: else -> skip
				fi
			}
		:: else -> skip
		fi }
	:: atomic { /* NEWVIEW reaches a member of view 2: its log becomes the view's */
		select(i : 0 .. N - 1);
		if
		:: decided.set && inst[i] == 1 && (decided.mem & (1 << i)) ->
			assert(decided.l >= maxcommitted); /* A4 */
			for (q : 1 .. S) {
				if
				:: q <= decided.c && q <= last[i] -> /* kept: committed, so the same (A4) */
					assert(ent[E(i, q)] == committed[q])
				:: q <= decided.c && q > last[i] -> ent[E(i, q)] = committed[q] /* state transfer */
				:: q > decided.c && q <= decided.l -> ent[E(i, q)] = decided.e[q]
				:: q > decided.l -> ent[E(i, q)] = 0
				fi
			};
			last[i] = decided.l; ack2[i] = decided.l; inst[i] = 2
		:: else -> skip
		fi }

	/* ---- epoch 2 ---- */
	:: atomic { /* its coordinator appends a new entry after the tail */
		decided.set && inst[coord2] == 2 && new2 == 0 && decided.l < S ->
		new2 = decided.l + 1; last[coord2] = new2; ent[E(coord2, new2)] = 3; ack2[coord2] = new2 }
	:: atomic { /* a member of view 2 receives the new entry's PROPOSE and acks */
		select(i : 0 .. N - 1);
		if
		:: inst[i] == 2 && new2 != 0 && last[i] + 1 == new2 -> last[i] = new2; ent[E(i, new2)] = 3; ack2[i] = new2
		:: else -> skip
		fi }
	:: atomic { /* the coordinator of view 2 commits what every member of view 2 acked */
		decided.set && inst[coord2] == 2 ->
		low = S;
		for (i : 0 .. N - 1) {
			if
			:: (decided.mem & (1 << i)) && inst[i] != 2 -> low = 0
			:: (decided.mem & (1 << i)) && inst[i] == 2 && ack2[i] < low -> low = ack2[i]
			:: else -> skip
			fi
		};
		k = 0;
		do
		:: commit2 < low -> commit2++;
			for (i : 0 .. N - 1) { /* A1 */
				assert(!(decided.mem & (1 << i)) || ent[E(i, commit2)] == ent[E(coord2, commit2)])
			};
			commit_at(commit2, ent[E(coord2, commit2)])
		:: else -> break
		od }
	od
}
