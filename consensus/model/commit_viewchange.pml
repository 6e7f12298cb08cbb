/* commit_viewchange.pml - a Promela model of the consensus core's commit and view change
 * (consensus/ccommit.c, consensus/cview.c; docs/CONSENSUS.md), checked exhaustively by
 * `make spin` for N = 3 and N = 4 members.
 *
 * What is modelled.  View 1 holds all N members; its coordinator (member 1 mod N = 1) proposes
 * seq 1 .. S.  A member appends only at last + 1, persists, and acks; once it has promised a
 * ballot it acks nothing more in epoch 1 (the epoch is frozen).  The coordinator commits a seq
 * when every member of the view has acked it, and a member learns the commit index from any later
 * message (the model lets a promise report any commit index up to what has reached the member).
 * View 2 is decided by single-decree Paxos among view 1's members: two proposers
 * (members 0 and 2, ballots 1 and 2), PREPARE / PROMISE carrying the acceptor's accepted ballot
 * (and so its value), commit index and log end; ACCEPT / ACCEPTED; a strict majority at each
 * phase.  The value is the one of the highest accepted ballot among the promises, else
 * (members, commit = the highest commit index, tail end = the longest log); the members are
 * chosen nondeterministically: all of view 1, or only the promisers (the others evicted).  A
 * member of view 2 installs it (its log becomes the value's: everything up to the tail end), the
 * coordinator of view 2 (position 2 mod |members|) re-proposes the tail, may append a new entry
 * after it, and commits with all-ack too.
 *
 * Abstraction.  Within one epoch there is one coordinator and a member appends only at last + 1,
 * so every log of epoch 1 is a prefix of the coordinator's sequence: a log is its end (last), and
 * the entry at seq s is "the epoch-1 entry s".  A view's log is the epoch-1 entries up to its tail
 * end, then epoch 2's new entry.  An entry is named by the epoch that created it (1 or 2); losing
 * a committed entry shows as committing a 2 where a 1 was committed (A1) or a view whose log ends
 * before a committed seq (A4).
 *
 * Messages are not channels: every message, once sent, stays receivable (its enabling state is
 * persistent), and any receive may happen at any time, any number of times, or never, so loss,
 * duplication, reordering and delay are covered.  A crashed member is one that takes no further
 * step (all of its state is persisted, as the core persists votes, views and entries).
 *
 * Checked (assert):
 *   A1 agreement: every commit at seq s, in either epoch, commits the same entry;
 *   A3 one view per epoch: every decision of view 2 is the same value;
 *   A4 no loss: a decided view's log holds every entry committed so far, and so does every member
 *      that installs it.
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

typedef Val { byte mem; byte c; byte l; bool set };

/* Members (all persisted). */
byte last[N], inst[N], promised[N], accb[N];
byte ack1[N], ack2[N];        /* the highest seq member i acked in epoch 1, 2 */
/* Epoch 1. */
byte prop1;                  /* the coordinator has proposed seq 1 .. prop1 */
byte commit1;
/* Paxos for view 2. */
bool prep[NB + 1];
bool pr[(NB + 1) * N];       /* member i promised ballot b, telling: */
byte pacb[(NB + 1) * N];     /*   its accepted ballot (whose value is av[pacb]) */
byte pcmt[(NB + 1) * N];     /*   its commit index */
byte plast[(NB + 1) * N];    /*   its log end */
Val av[NB + 1];              /* the value ACCEPT(b) carries */
bool acc[(NB + 1) * N];      /* member i accepted b */
Val decided;                 /* view 2 */
/* Epoch 2. */
byte coord2;
byte new2;                   /* seq of epoch 2's new entry (0: none yet) */
byte commit2;
/* Ghosts: which epoch's entry was committed at seq s. */
byte committed[S + 1];
byte maxcommitted;

/* Scratch, assigned before use in every step: kept out of the state vector. */
hidden byte i, j, b, s, p, ncount, bestb, k, low;

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
	:: atomic { /* the coordinator proposes the next seq, appending it to its own log */
		inst[1] == 1 && promised[1] == 0 && prop1 < S ->
		prop1++; last[1] = prop1; ack1[1] = prop1 }
	:: atomic { /* a member receives PROPOSE(last + 1) and acks; not once it has promised */
		select(i : 0 .. N - 1);
		if
		:: inst[i] == 1 && promised[i] == 0 && last[i] < prop1 -> last[i]++; ack1[i] = last[i]
		:: else -> skip
		fi }
	:: atomic { /* the coordinator has every ACK up to low: commits */
		inst[1] == 1 && promised[1] == 0 ->
		low = S;
		for (i : 0 .. N - 1) { if :: ack1[i] < low -> low = ack1[i] :: else -> skip fi };
		k = 0;
		do
		:: commit1 < low -> commit1++; commit_at(commit1, 1)
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
			promised[i] = b; pr[IX(b, i)] = true; pacb[IX(b, i)] = accb[i];
			plast[IX(b, i)] = last[i];
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
			av[b].mem = av[bestb].mem; av[b].c = av[bestb].c; av[b].l = av[bestb].l; av[b].set = true
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
			assert(decided.mem == av[b].mem && decided.c == av[b].c && decided.l == av[b].l)
		:: av[b].set && ncount >= MAJ && !decided.set ->
			assert(av[b].l >= maxcommitted); /* A4 */
			decided.mem = av[b].mem; decided.c = av[b].c; decided.l = av[b].l; decided.set = true;
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
			last[i] = decided.l; ack2[i] = decided.l; inst[i] = 2
		:: else -> skip
		fi }

	/* ---- epoch 2 ---- */
	:: atomic { /* its coordinator appends a new entry after the tail */
		decided.set && inst[coord2] == 2 && new2 == 0 && decided.l < S ->
		new2 = decided.l + 1; last[coord2] = new2; ack2[coord2] = new2 }
	:: atomic { /* a member of view 2 receives the new entry's PROPOSE and acks */
		select(i : 0 .. N - 1);
		if
		:: inst[i] == 2 && new2 != 0 && last[i] + 1 == new2 -> last[i] = new2; ack2[i] = new2
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
		:: commit2 < low -> commit2++; commit_at(commit2, (commit2 == new2 -> 2 : 1))
		:: else -> break
		od }
	od
}
