/* join.pml - a Promela model of a join (consensus/cjoin.c) racing view changes (consensus/cview.c),
 * checked exhaustively by `make spin` beside commit_viewchange.pml.
 *
 * What is modelled.  View 1 holds members 0, 1, 2; its coordinator is member 1 (epoch 1 mod 3).
 * J (member 3) holds a valid invitation.  The coordinator runs up to R rounds of the join vote:
 * a round opens when J's JOIN reaches it while it is in epoch 1, has promised nothing, has no
 * round open and has not spent the invitation; it asks every member (its own answer is its
 * policy's, given at once).  A member that has promised nothing answers JOIN_ASK with yes, no or
 * abstain (its policy, or an invitation it does not know yet because it joined after it:
 * nondeterministic, and free to differ between rounds); an abstention is an answer, never a yes.  A JOIN_VOTE carries no
 * round, so the coordinator may count, in a round, any answer a member ever sent (a late one from
 * an earlier round too).  The coordinator decides when every member has answered or whenever the
 * deadline passes: a counted "no" refuses J and spends the invitation; else a strict majority of
 * yes accepts J; else the round ends with no answer (J's next JOIN may open another).
 *
 * View 2 is decided by single-decree Paxos among view 1's members, as in commit_viewchange.pml,
 * with two proposers: the coordinator (ballot 1) and member 2 (ballot 2: a rival that suspects a
 * member, or a takeover of the coordinator's change).  Each builds a value from its promises (all
 * of view 1, or only the promisers: an eviction), the coordinator's plus J if it accepted J's
 * join, or adopts the highest accepted value among the promises (so member 2 may carry the
 * join's value to a decision).  A member that has promised votes on no join (its epoch is frozen).  The
 * log is left out: commit_viewchange.pml checks it, and a join is a view change like any other.
 * A crashed member is one that takes no further step.
 *
 * The joiner's side (cjoin.c "Giving up"), with -DWITHDRAW.  `make spin` checks the model twice,
 * each exhaustively: with R = 2 rounds and no withdrawal (15.0 million states), then with the
 * withdrawal, R = 1 and members that answer yes or no (an abstention counts as a missing yes: 10.1
 * million states); the withdrawal with R = 2 and abstentions passed 72 million states (6.7 GB)
 * without finishing, too much for CI.  J asks (ASKING) until its deadline, which may fall at
 * any step; then it withdraws (WITHDRAWING): JOIN_WITHDRAW goes to the coordinator of the latest
 * view J knows.  The coordinator of view 1 answers REFUSED(WITHDRAWN) only while it has promised
 * nothing (NORMAL) and has not accepted J (no change_join); it then ends an open round and opens no
 * more (the withdrawal is remembered).  J follows the view: once view 2 is decided without J, a
 * member of it may tell J so (jview = 2), and J's withdrawal goes to view 2's coordinator, which
 * holds no join of J (the model runs join rounds in epoch 1 only) and answers at once.  J takes the
 * seat of a decided view naming it while it asks or withdraws (SEATED); it gives up unanswered at
 * any step while withdrawing (GONE); a confirmed withdrawal is OUT.  A JOIN may still reach the
 * coordinator of view 1 late (duplicated or delayed), after J withdrew.
 *
 * Checked (assert):
 *   J1 a decided view names J only if the coordinator accepted J in a round that counted a strict
 *      majority of yes (its own among them, if yes) and no "no";
 *   J2 a decided view names J only if no round refused J (a refusal spends the invitation, so no
 *      later round can accept it);
 *   A3 one view per epoch: every decision of view 2 is the same value, joins included;
 *   W1 a decided view names J only if J's withdrawal was not confirmed, and a withdrawal is
 *      confirmed only if no decided view names J: the group never seats a joiner it told it had
 *      withdrawn (what is left is GONE, a joiner that gave up unanswered: the members remove it on
 *      its JOIN_WITHDRAW(OUT), a later view change, not modelled).
 */
#define N 3
#define J 3
#define JBIT (1 << J)
#define ALL ((1 << N) - 1)
#define MAJ (N / 2 + 1)
#define NB 2     /* ballots: 1 = member 1 (the coordinator), 2 = member 2 (a rival or a takeover) */
#define PROP(b) ((b) == 1 -> 1 : 2)
#ifndef R
#define R 2      /* rounds of the join vote */
#endif
#define IX(b, i) ((b) * N + (i))
/* The joiner J's states. */
#define ASKING 0
#define WITHDRAWING 1
#define SEATED 2
#define OUT 3        /* its withdrawal confirmed (REFUSED(WITHDRAWN)) */
#define GONE 4       /* gave up unanswered */

/* Members (persisted: the promise and the accepted ballot). */
byte promised[N], accb[N];
/* The join vote, at the coordinator (in memory) and on the wire. */
byte round;                  /* rounds opened */
bool open;                   /* a round is open */
bool spent;                  /* the coordinator spent the invitation (a refusal) */
bool accepted;               /* the coordinator accepted J: its ballot's value adds J */
byte sent[N];                /* bit 0: member i sent yes, bit 1: sent no, bit 2: abstained (any round) */
byte counted[N];             /* 0 none, 1 yes, 2 no, 3 abstain: the answer counted in the open round */
/* Paxos for view 2. */
bool prep[NB + 1];
bool pr[(NB + 1) * N];       /* member i promised ballot b, telling its accepted ballot: */
byte pacb[(NB + 1) * N];
byte av[NB + 1];             /* the value (a member bitmask) ACCEPT(b) carries; 0: none yet */
bool acc[(NB + 1) * N];
byte decided;                /* view 2's members; 0: not decided */
/* The joiner. */
byte jstate;                 /* ASKING .. GONE */
byte jview = 1;              /* the latest view J knows (1: its token's) */
bool wd_sent;                /* JOIN_WITHDRAW is on its way (resent until answered) */
bool withdrawn;              /* the coordinator of view 1 took it: no round opens after */
bool wd_ack;                 /* REFUSED(WITHDRAWN) is on its way to J */
/* Ghosts. */
bool refused;                /* some round refused J */
byte acc_yes, acc_no;        /* the answers counted by the round that accepted J */

hidden byte i, b, p, ncount, yes, no, bestb;

active proctype world()
{
	do
	/* ---- the join vote, at the coordinator ---- */
	:: atomic { /* J's JOIN reaches the coordinator: a round opens; its own policy answers */
		promised[1] == 0 && !open && !spent && !accepted && !withdrawn && round < R ->
		round++; open = true;
		for (i : 0 .. N - 1) { counted[i] = 0 };
		i = 0;
		if
		:: counted[1] = 1; sent[1] = sent[1] | 1
		:: counted[1] = 2; sent[1] = sent[1] | 2
		fi }
	:: atomic { /* a member answers JOIN_ASK (its policy); not once it has promised */
		select(i : 0 .. N - 1);
		if
		:: i != 1 && round > 0 && promised[i] == 0 ->
			if
			:: sent[i] = sent[i] | 1
			:: sent[i] = sent[i] | 2
#ifndef WITHDRAW
			:: sent[i] = sent[i] | 4 /* (not with WITHDRAW: an abstention is a missing yes) */
#endif
			fi
		:: else -> skip
		fi }
	:: atomic { /* a JOIN_VOTE reaches the coordinator: counted once in the open round */
		select(i : 0 .. N - 1);
		if
		:: open && promised[1] == 0 && counted[i] == 0 && (sent[i] & 1) -> counted[i] = 1
		:: open && promised[1] == 0 && counted[i] == 0 && (sent[i] & 2) -> counted[i] = 2
		:: open && promised[1] == 0 && counted[i] == 0 && (sent[i] & 4) -> counted[i] = 3
		:: else -> skip
		fi }
	:: atomic { /* the coordinator decides (every member answered, or the deadline passed) */
		open && promised[1] == 0 ->
		yes = 0; no = 0; ncount = 0;
		for (i : 0 .. N - 1) {
			if
			:: counted[i] == 1 -> yes++; ncount++
			:: counted[i] == 2 -> no++; ncount++
			:: counted[i] == 3 -> ncount++
			:: else -> skip
			fi
		};
		i = 0;
		if
		:: no > 0 -> refused = true; spent = true; open = false
		:: no == 0 && yes >= MAJ -> accepted = true; acc_yes = yes; acc_no = no; open = false
		:: no == 0 && yes < MAJ -> open = false /* the deadline: no answer */
		fi }

#ifdef WITHDRAW
	/* ---- the joiner gives up: withdraws, and the coordinator it asks answers ---- */
	:: atomic { /* J's deadline: it withdraws */
		jstate == ASKING -> jstate = WITHDRAWING; wd_sent = true }
	:: atomic { /* JOIN_WITHDRAW reaches view 1's coordinator (cj_on_withdraw): it answers only a
		   * joiner still waiting (a withdrawal that arrives after J gave up unanswered
		   * still ends the vote) */
		wd_sent && jview == 1 && promised[1] == 0 && !accepted && !withdrawn ->
		open = false; withdrawn = true; wd_ack = jstate == WITHDRAWING }
	:: atomic { /* a member of view 2 (decided without J) tells J of it (cj_learn_view) */
		jview == 1 && decided != 0 && !(decided & JBIT) && (jstate == ASKING || jstate == WITHDRAWING) ->
		jview = 2 }
	:: atomic { /* JOIN_WITHDRAW reaches view 2's coordinator: no join of J there, it answers */
		wd_sent && jview == 2 && jstate == WITHDRAWING && !wd_ack -> wd_ack = true }
	:: atomic { /* REFUSED(WITHDRAWN) reaches J: OUT, confirmed (what is still in flight to or from
		   * J changes nothing after: cleared, so that states differing only in it merge) */
		wd_ack && jstate == WITHDRAWING ->
		assert(!(decided & JBIT));                                         /* W1 */
		jstate = OUT; wd_ack = false; wd_sent = false }
	:: atomic { /* the decided view naming J reaches it: it takes the seat (a withdrawal still in
		   * flight only gets the view again, cgroup.c) */
		(decided & JBIT) && (jstate == ASKING || jstate == WITHDRAWING) ->
		jstate = SEATED; wd_ack = false; wd_sent = false }
	:: atomic { /* nobody answered within KONCE_GROUP_WITHDRAW_MS: it gives up unanswered (its
		   * withdrawal may still reach the coordinator) */
		jstate == WITHDRAWING -> jstate = GONE; wd_ack = false }
#endif

	/* ---- view change of view 1 (Paxos over view 1's members) ---- */
	:: atomic { /* PREPARE(b) from its proposer */
		select(b : 1 .. NB);
		p = PROP(b);
		if
		:: !prep[b] && promised[p] < b -> prep[b] = true
		:: else -> skip
		fi }
	:: atomic { /* an acceptor promises b (persisting it): its epoch is frozen */
		select(b : 1 .. NB); select(i : 0 .. N - 1);
		if
		:: prep[b] && promised[i] < b -> promised[i] = b; pr[IX(b, i)] = true; pacb[IX(b, i)] = accb[i]
		:: else -> skip
		fi }
	:: atomic { /* a strict majority of promises, the proposer's own among them: ACCEPT */
		select(b : 1 .. NB);
		p = PROP(b);
		ncount = 0; bestb = 0;
		for (i : 0 .. N - 1) {
			if
			:: pr[IX(b, i)] -> ncount++;
				if :: pacb[IX(b, i)] > bestb -> bestb = pacb[IX(b, i)] :: else -> skip fi
			:: else -> skip
			fi
		};
		i = 0;
		if
		:: prep[b] && av[b] == 0 && pr[IX(b, p)] && ncount >= MAJ && bestb > 0 ->
			av[b] = av[bestb] /* adopt the highest accepted value */
		:: prep[b] && av[b] == 0 && pr[IX(b, p)] && ncount >= MAJ && bestb == 0 ->
			if
			:: av[b] = ALL
			:: av[b] = 0;
				for (i : 0 .. N - 1) { if :: pr[IX(b, i)] -> av[b] = av[b] | (1 << i) :: else -> skip fi }
			fi;
			i = 0;
			if
			:: b == 1 && accepted -> av[b] = av[b] | JBIT /* cj_decide: the change admits J */
			:: else -> skip
			fi
		:: else -> skip
		fi }
	:: atomic { /* an acceptor accepts b (persisting it) */
		select(b : 1 .. NB); select(i : 0 .. N - 1);
		if
		:: av[b] != 0 && promised[i] <= b && !acc[IX(b, i)] -> promised[i] = b; accb[i] = b; acc[IX(b, i)] = true
		:: else -> skip
		fi }
	:: atomic { /* a strict majority of ACCEPTED: view 2 is decided */
		select(b : 1 .. NB);
		ncount = 0;
		for (i : 0 .. N - 1) { if :: acc[IX(b, i)] -> ncount++ :: else -> skip fi };
		i = 0;
		if
		:: av[b] != 0 && ncount >= MAJ ->
			assert(decided == 0 || decided == av[b]);                 /* A3 */
			assert(!(av[b] & JBIT) || (accepted && acc_yes >= MAJ && acc_no == 0)); /* J1 */
			assert(!(av[b] & JBIT) || !refused);                       /* J2 */
			assert(!(av[b] & JBIT) || jstate != OUT);                  /* W1 */
			decided = av[b]
		:: else -> skip
		fi }
	od
}
