/* SPDX-License-Identifier: MIT */
/*
 * tests/model/head.pml - SPIN model of rbf's head-flag / sub-buffer
 * exchange protocol (doc/design.md sections 1-3, 6 and 8).
 *
 * One buffer in OVERWRITE mode, N = 2 ring slots, N + 1 = 3 sub-buffers of
 * memory ("phys"), two writer processes and one reader process.  The model
 * follows, step for step, frontend/write.c (do_reserve, can_open,
 * reserve_switch, reserve_finish_slow, sb_close, do_commit), frontend/head.c
 * (rbf_slot_ensure{,_slow}, finalize, rbf_head_place,
 * rbf_head_hint_advance) and frontend/reader.c (rbf_subbuf_get_locked,
 * rbf_subbuf_put_locked, rbf_switch_close through rbf_buffer_flush).
 *
 * Abstractions (see README.md):
 *  - positions are counted in "units": a sub-buffer is S units (3 by
 *    default), one for its header and S - 1 for records; a record takes 1
 *    or 2 units (a fixed pattern per writer, or nondeterministic with
 *    RSZ_ANY), so reservations fit (fast path), fill a sub-buffer exactly,
 *    or do not fit and pad it;
 *  - the link word is packed like ctl.h, with the tag holding the full
 *    sequence number; rbf_tag_to_seq keeps its meaning ("nearest at or
 *    below hi"): a tag above hi reads as a sequence far in the past;
 *  - the commit word is bytes + CC_REC * records, as ctl.h, and
 *    rbf_cc_records() keeps its borrow when the bytes are short;
 *  - every shared load, CAS and atomic add is one step (d_step); purely
 *    local computation is folded into the step before it.  The model is
 *    sequentially consistent: the barrier pairs of design.md section 10
 *    are assumed, not checked;
 *  - record contents, timestamps, header fields and the discard mode are
 *    not modelled; "writing into phys p for sequence s" is a ghost check
 *    (GWRITE) that records that p now holds s's data.  The first data
 *    store of an interval is checked on its own step, the last one in the
 *    step of the commit that follows it.
 *
 * Ghost state checks (assertions):
 *  P1 every sequence is decided (read or overwritten) at most once;
 *  P2 the reader only takes complete, closed sequences, and the sub-buffer
 *     it holds contains the sequence it believes, untouched until put;
 *  P3 no writer writes into the reader's held sub-buffer or spare, into a
 *     decided sequence, or over another live undecided sequence, and all
 *     writers of one sequence write into the same phys;
 *  P4 the event count of every decision (reader's and pusher's) is exact;
 *     at quiescent points read + overwritten + buffered (derived from the
 *     links and commit words as stats.c does) equals the committed records;
 *     at the end, after a flush and a drain, every opened sequence was read
 *     or overwritten and committed + lost (-EBUSY) = attempted;
 *  P5 no -EIO path (corrupted control block) is reachable, and, with -DNP,
 *     no non-progress cycle exists (LOCKFREE=1: even without fairness,
 *     i.e. writers never wait for a preempted writer or reader).
 *
 * Configuration: -D flags to spin (K0, K1, W0PAT, W1PAT, S, FLUSHES,
 * RSZ_ANY, LOCKFREE, PROBE); run.sh picks the configurations it checks.
 */

#ifndef K0
#define K0	2	/* records written by writer 0 */
#endif
#ifndef K1
#define K1	2	/* records written by writer 1 */
#endif
#ifndef FLUSHES
#define FLUSHES	1	/* reader flushes while writers run */
#endif
#ifndef RSZ_ANY
#define RSZ_ANY	0	/* 1: every record 1 or 2 units, nondeterministically;
			 * 0: sizes fixed by W0PAT / W1PAT */
#endif
#ifndef W0PAT
#define W0PAT	7	/* bit k set: writer 0's record k is 2 units, else 1 */
#endif
#ifndef W1PAT
#define W1PAT	0	/* the same for writer 1 */
#endif
#ifndef S
#define S	3	/* units per sub-buffer: 1 header + S - 1 record units */
#endif
#define RSZ_FIXED(id, k)	((((id == 0 -> W0PAT : W1PAT) >> (k)) & 1) + 1)

#ifndef PROBE
#define PROBE	0	/* n > 0: fail when scenario n is reached (coverage;
			 * the scenarios are listed in README.md) */
#endif
#define REACHED(n)	assert(PROBE != (n))
#ifndef LOCKFREE
#define LOCKFREE 0	/* 1: the reader's -EAGAIN retry counts as progress
			 * (non-progress check without fairness: writers
			 * never wait for a preempted process) */
#endif

#define N	2	/* ring slots (num_subbuf) */
#define NPHYS	3	/* N + 1 sub-buffers of memory */
#define NW	2	/* writer processes */
#define NREC	(K0 + K1)
#define MAXSEQ	(NREC + N + 1)
#define NONE	255
#define FAR	(-100)	/* rbf_tag_to_seq() of a tag above hi */

/* Link word, as ctl.h: phys | HEAD | UPDATE | tag | rdec. */
#define L_PHYS(l)	((l) & 3)
#define L_HEAD		4
#define L_UPD		8
#define L_FLAGS		12
#define L_TAG(l)	(((l) >> 4) & 15)
#define L_RDEC(l)	((l) >> 8)
#define L_MAKE(p, f, t, r)	((p) | (f) | ((t) << 4) | ((r) << 8))
#define TAG_TO_SEQ(t, hi)	((t) <= (hi) -> (t) : FAR)

/* Commit word, as ctl.h: records * 2^40 + bytes. */
#define CC_REC		32
#define CC_BYTES(c)	((c) % CC_REC)
#define CC_RECS(c)	((c) / CC_REC)
#define GEN(s)		((s) / N)
/* rbf_cc_at / rbf_seq_complete / rbf_cc_records */
#define CC_AT(c, g)		(CC_BYTES(c) == (g) * S)
#define COMPLETE(c, s)		CC_AT(c, GEN(s) + 1)
#define REC_OF(c, s)	(CC_RECS(c) - (CC_BYTES(c) < (GEN(s) + 1) * S -> 1 : 0))

/* ---- shared state (struct rbf_ctl, links, commit words) ---- */
short link[N];
short cc[N];
byte offset;		/* write position, in units */
byte head_seq;		/* hint: every sequence below is decided */
byte spare = N;		/* reader private: phys of the spare */
byte held;		/* reader private: phys held + 1, or 0 */
/* stats: events and sub-buffers overwritten/read, writes lost (-EBUSY) */
byte st_over, st_sbover, st_read, st_sbread, st_busy;

/* ---- ghost state ---- */
byte g_pend[MAXSEQ];	/* pieces (header, records, padding) not committed */
byte g_rec[MAXSEQ];	/* records committed to the sequence */
byte g_fate[MAXSEQ];	/* 0 undecided, 1 read, 2 overwritten */
byte g_phys[MAXSEQ];	/* phys + 1 its writers write into, 0 none yet */
byte g_content[NPHYS];	/* sequence + 1 whose data phys holds, 0 none */
byte g_committed;	/* records committed in all */
byte g_inflight;	/* writers between reserve and commit/failure */
byte g_wdone;		/* writers finished */
byte g_nread, g_nover;	/* decisions made */
#if PROBE == 3
byte g_pusher[MAXSEQ];	/* _pid of the winning pusher */
#endif
#if PROBE == 10
byte g_wmask[MAXSEQ];	/* writers that wrote into the sequence */
#endif

/* Offset has passed the end of s (its last reservation is made). */
#define SEALED(s)	(offset >= ((s) + 1) * S)

/*
 * Data store into phys p on behalf of sequence s (P3): a statement list,
 * used inside the d_step of the access it belongs to.
 */
#define GWRITE(s, p)							\
	assert(g_fate[s] == 0);						\
	assert(held != (p) + 1 && spare != (p));			\
	assert(g_phys[s] == 0 || g_phys[s] == (p) + 1);			\
	assert(g_content[p] == 0 || g_content[p] == (s) + 1 ||		\
	       g_fate[g_content[p] - 1] != 0);				\
	g_phys[s] = (p) + 1;						\
	g_content[p] = (s) + 1

/* rbf_head_hint_advance(target) */
inline hint_advance(target)
{
	hb = 2 * N;
	do
	:: hb == 0 -> break
	:: else ->
		hb--;
		d_step { ha = head_seq; ok = (ha >= target) }
		if
		:: ok -> break
		:: else
		fi;
		d_step { la = link[ha % N]; ok = (L_TAG(la) == ha) }
		if
		:: ok -> break
		:: else
		fi;
		d_step {
			if
			:: head_seq == ha -> head_seq = ha + 1; REACHED(11)
			:: else
			fi
		}
	od;
	atomic { hb = 0; ha = 0; la = 0; ok = 0 }
}

/* rbf_head_place(seq) */
inline head_place(ps)
{
	d_step { la = link[(ps) % N];
		 ok = (L_TAG(la) == (ps) && (la & L_FLAGS) == 0) }
	if
	:: ok ->
		d_step {
			if
			:: link[(ps) % N] == la -> link[(ps) % N] = la | L_HEAD
			:: else
			fi
		}
	:: else
	fi;
	d_step { la = 0; ok = 0 }
}

/* finalize(h, l): (P, UPDATE, h) -> (P, -, h+N, rdec'), then move on. */
inline finalize()
{
	d_step {
		ccv = cc[fh % N];
		nl = L_MAKE(L_PHYS(fl), 0, fh + N, REC_OF(ccv, fh));
		ccv = 0
	}
	d_step {
		if
		:: link[fh % N] == fl ->
			link[fh % N] = nl;
#if PROBE == 3
			assert(g_pusher[fh] == _pid);
#endif
			skip
		:: else
		fi;
		nl = 0
	}
	hint_advance(fh + 1);
	head_place(fh + 1);
	d_step { fh = 0; fl = 0 }
}

/*
 * rbf_slot_ensure(sq) / rbf_slot_ensure_slow(): on return el is a link of
 * sq's slot whose tag is sq.
 */
inline ensure(sq)
{
	d_step { el = link[(sq) % N]; ok = (L_TAG(el) == (sq)) }
	if
	:: ok -> ok = 0
	:: else ->
		do
		:: atomic { el = link[(sq) % N]; ok = (L_TAG(el) == (sq)) }
		   if
		   :: ok -> break
		   :: else
		   fi;
		   /* -EIO (corrupted control block): must be unreachable */
		   assert((sq) >= N && TAG_TO_SEQ(L_TAG(el), (sq)) == (sq) - N);
		   h = head_seq;
		   d_step { lh = link[h % N]; ok = (L_TAG(lh) != h) }
		   if
		   :: ok ->
			/* h is finalized: move the hint on */
			d_step {
				if
				:: head_seq == h -> head_seq = h + 1; REACHED(9)
				:: else
				fi;
				ok = 0
			}
		   :: else ->
			if
			:: h > (sq) - N -> skip /* decided meanwhile */
			:: else ->
				if
				:: lh & L_UPD ->
					fh = h; fl = lh;
					finalize()
				:: (lh & L_FLAGS) == 0 ->
					/* head in transit: place it */
					d_step {
						if
						:: link[h % N] == lh ->
							link[h % N] = lh | L_HEAD;
							REACHED(6)
						:: else
						fi
					}
				:: (lh & L_FLAGS) == L_HEAD ->
					/* push; commit word read before the CAS */
					ccv = cc[h % N];
					d_step {
						if
						:: link[h % N] == lh ->
							link[h % N] = lh - L_HEAD + L_UPD;
							won = 1;
							/* P1, and h must be complete */
							assert(g_fate[h] == 0);
							g_fate[h] = 2;
							g_nover++;
#if PROBE == 3
							g_pusher[h] = _pid;
#endif
							REACHED(_pid == 3 -> 5 : 1);
							REACHED(held != 0 -> 15 : 255);
							assert(SEALED(h) && g_pend[h] == 0)
						:: else -> won = 0; ccv = 0
						fi
					}
					if
					:: won ->
						/* the winner alone counts */
						d_step {
							ev = REC_OF(ccv, h) - L_RDEC(lh);
							/* P4: exact count */
							assert(ev == g_rec[h]);
							st_over = st_over + ev;
							st_sbover++;
							ev = 0; ccv = 0; won = 0;
							fh = h; fl = lh - L_HEAD + L_UPD
						}
						finalize()
					:: else
					fi
				fi
			fi
		   fi;
		   d_step { h = 0; lh = 0 }
		od;
		ok = 0
	fi
}

/* ---- writers: rbf_write() = do_reserve + data + do_commit ---- */
proctype writer(byte id)
{
	byte k, rsz, o, oin, begin, w, sq, ph;
	short el, lh, nl, la, fl;
	short ccv;
	byte h, ha, hb, fh;
	bit ok, won;
	int ev;

	do
	:: k == (id == 0 -> K0 : K1) -> break
	:: else ->
		/* record size (g_inflight: ghost, between reserve and commit) */
		if
		:: RSZ_ANY -> d_step { rsz = 1; g_inflight++ }
		:: RSZ_ANY -> d_step { rsz = 2; g_inflight++ }
		:: else -> d_step { rsz = RSZ_FIXED(id, k); g_inflight++ }
		fi;
retry:
		atomic {
			o = offset;
			oin = o % S;
			if
			:: oin >= 1 && oin + rsz <= S -> begin = o
			:: else -> begin = (oin != 0 -> o + S - oin : o) + 1
			fi;
			w = begin / S
		}
		if
		:: begin != o ->
			/* can_open(w): previous generation fully committed */
			d_step { ccv = cc[w % N]; ok = CC_AT(ccv, GEN(w));
				 ccv = 0 }
			if
			:: ok -> ok = 0
			:: else ->
				if
				:: offset != o -> REACHED(12); goto retry
				:: else -> skip	/* judged on a current position */
				fi;
				/* -EBUSY, counted */
				d_step {
					REACHED(4);
					st_busy++;
					g_inflight--;
					o = 0; oin = 0; begin = 0; w = 0; rsz = 0
				}
				goto next
			fi
		:: else
		fi;
		/* the CAS on the write position */
		d_step {
			if
			:: offset == o ->
				offset = begin + rsz;
				won = 1;
				/* ghost: the pieces this reservation owes */
				if
				:: begin != o && oin != 0 -> g_pend[o / S]++
				:: else
				fi;
				if
				:: begin != o -> g_pend[w]++
				:: else
				fi;
				g_pend[w]++
			:: else -> won = 0
			fi
		}
		if
		:: won -> won = 0
		:: else -> goto retry
		fi;

		/* fast path: one acquire load of the link, then the record
		 * header goes into the phys it names */
		d_step {
			el = link[w % N];
			ok = (begin == o && (begin + rsz) % S != 0 &&
			      L_TAG(el) == w);
			if
			:: ok -> ph = L_PHYS(el); GWRITE(w, ph); REACHED(13)
			:: else
			fi;
			el = 0
		}
		if
		:: ok -> ok = 0
		:: else ->
			/* reserve_finish_slow */
			if
			:: begin != o ->
				/* reserve_switch: sb_close() of the old one:
				 * end fields, then the padding commit ... */
				if
				:: oin != 0 ->
					sq = o / S;
					ensure(sq);
					d_step {
						GWRITE(sq, L_PHYS(el));
						cc[sq % N] = cc[sq % N] + S - oin;
						g_pend[sq]--;
						sq = 0; el = 0
					}
				:: else
				fi;
				/* ... and open the new one: begin fields,
				 * then the header commit */
				ensure(w);
				d_step {
					GWRITE(w, L_PHYS(el));
					cc[w % N] = cc[w % N] + 1;
					g_pend[w]--;
					el = 0
				}
			:: else
			fi;
			ensure(w);
			d_step { ph = L_PHYS(el); el = 0 }
			if
			:: (begin + rsz) % S == 0 ->
				/* exact fill: sb_close(w, S, ts, 0) writes the
				 * end fields, then the record header */
				ensure(w);
				d_step {
					GWRITE(w, L_PHYS(el));
					GWRITE(w, ph);
					el = 0
				}
			:: else ->
				d_step { GWRITE(w, ph) } /* record header */
			fi
		fi;
		/* payload, then do_commit: one atomic add of 2^40 + bytes */
		d_step {
			GWRITE(w, ph);
			cc[w % N] = cc[w % N] + CC_REC + rsz;
			g_pend[w]--;
			g_rec[w]++;
			g_committed++;
#if PROBE == 10
			g_wmask[w] = g_wmask[w] | (1 << id);
#endif
			g_inflight--;
			o = 0; oin = 0; begin = 0; w = 0; ph = 0; rsz = 0
		}
next:
progress_w:
		k++
	od;
	g_wdone++
}

/* ---- reader ---- */

/* Statistics identity at a quiescent point (stats.c, design.md 8). */
inline stats_check()
{
	atomic {
		res = 0;
		if
		:: g_inflight == 0 ->
			i = 0;
			ev = 0;
			do
			:: i < N ->
				l = link[i];
				if
				:: (l & L_UPD) == 0 ->
					t = TAG_TO_SEQ(L_TAG(l),
						       offset / S + N);
					assert(t >= 0);
					ccv = cc[i];
					/* all records of the slot, minus rdec */
					ev = ev + CC_RECS(ccv) - L_RDEC(l)
				:: else
				fi;
				i++
			:: else -> break
			od;
			assert(st_read + st_over + ev == g_committed);
			i = 0; ev = 0; l = 0; t = 0; ccv = 0
		:: else
		fi
	}
}

/* rbf_switch_close(): the reader's flush of the current sub-buffer. */
inline flush()
{
	do
	:: atomic { o = offset; oin = o % S }
	   if
	   :: oin == 0 -> break
	   :: else
	   fi;
	   d_step {
		if
		:: offset == o ->
			offset = o + S - oin;
			won = 1;
			g_pend[o / S]++
		:: else -> won = 0
		fi
	   }
	   if
	   :: won ->
		won = 0;
		sq = o / S;
		ensure(sq);	/* may push the head itself */
		d_step {
			GWRITE(sq, L_PHYS(el)); /* end fields */
			cc[sq % N] = cc[sq % N] + S - oin;
			g_pend[sq]--;
			sq = 0; el = 0
		}
		break
	   :: else
	   fi
	od;
	atomic { o = 0; oin = 0 }
}

/* rbf_subbuf_get_locked(): res = 1 with ph held, or 0 for -EAGAIN. */
inline get()
{
	stats_check();
	do
	:: atomic {
		s = read_seq;
		h = head_seq;
		if
		:: h > s -> read_seq = h; s = h
		:: else
		fi;
		h = 0
	   }
	   d_step {
		l = link[s % N];
		REACHED(L_TAG(l) > s + N -> 8 : 255);
		REACHED(L_TAG(l) < s -> 14 : 255);
		t = TAG_TO_SEQ(L_TAG(l), s + N)
	   }
	   if
	   :: t != s ->
		if
		:: t > s -> read_seq = s + 1	/* overwritten */
		:: else -> break		/* -EAGAIN */
		fi
	   :: else ->
		if
		:: l & L_UPD -> read_seq = s + 1
		:: else ->
			d_step { ccv = cc[s % N]; ok = COMPLETE(ccv, s) }
			if
			:: !ok -> break		/* -EAGAIN */
			:: else -> ok = 0
			fi;
			if
			:: (l & L_HEAD) == 0 ->
				d_step {
					if
					:: link[s % N] == l ->
						link[s % N] = l | L_HEAD;
						REACHED(7)
					:: else
					fi
				}
			:: else ->
				d_step {
					rec = REC_OF(ccv, s);
					nl = L_MAKE(spare, 0, s + N, rec)
				}
				/* the exchange; held/spare are reader
				 * private, so they change in the same step */
				d_step {
					if
					:: link[s % N] == l ->
						link[s % N] = nl;
						won = 1;
						ph = L_PHYS(l);
						held = ph + 1;
						spare = NONE;
						/* P1 */
						assert(g_fate[s] == 0);
						g_fate[s] = 1;
						g_nread++;
						/* P2 */
						assert(SEALED(s) && g_pend[s] == 0);
						assert(g_phys[s] == ph + 1);
						assert(g_content[ph] == s + 1);
#if PROBE == 10
						assert(g_wmask[s] != 3);
#endif
						skip
					:: else ->
						won = 0;
						REACHED(L_TAG(link[s % N]) == s &&
							(link[s % N] & L_UPD) -> 2 : 255)
					fi;
					nl = 0
				}
				if
				:: won ->
					d_step {
						won = 0;
						read_seq = s + 1;
						ev = rec - L_RDEC(l);
						/* P4: exact count */
						assert(ev == g_rec[s]);
						st_read = st_read + ev;
						st_sbread++;
						ev = 0; rec = 0; ccv = 0
					}
					head_place(s + 1);
					hint_advance(s + 1);
					res = 1;
					break
				:: else
				fi
			fi
		fi
	   fi;
	   d_step { l = 0; t = 0; ccv = 0 }
	od;
	atomic { l = 0; t = 0; ccv = 0; rec = 0 }
}

/* Hold ph (reading it in place), then rbf_subbuf_put_locked(). */
inline read_put()
{
	/* the data is still s's while held (P2) */
	d_step {
		assert(g_content[ph] == s + 1 && held == ph + 1);
		spare = ph;
		held = 0;
		ph = 0
	}
}

proctype reader()
{
	byte s, o, oin, sq, ph, i, nf, rec;
	byte read_seq;	/* reader private (ctl->read_seq) */
	short l, el, lh, nl, la, fl;
	short ccv;
	byte h, ha, hb, fh;
	bit ok, won, res;
	int ev, t;

	/* while the writers run */
	do
	:: nf < FLUSHES -> flush(); nf++
	:: true ->
		get();
		if
		:: res ->
progress_r:
			read_put()
		:: else ->
			if
			:: g_wdone == NW -> break
			:: else ->
#if LOCKFREE
progress_eagain:	/* writers must progress without fairness */
#endif
				skip
			fi
		fi
	od;
	/* writers done: flush the last sub-buffer, drain */
	flush();
	do
	:: get();
	   if
	   :: res -> read_put()
	   :: else -> break
	   fi
	od;
	stats_check();
	/* end-state accounting (P4) */
	d_step {
		assert(offset % S == 0);
		i = 0;
		do
		:: i < offset / S ->
			assert(g_fate[i] != 0 && g_pend[i] == 0);
			i++
		:: else -> break
		od;
		do
		:: i < MAXSEQ ->
			assert(g_fate[i] == 0 && g_pend[i] == 0 && g_rec[i] == 0);
			i++
		:: else -> break
		od;
		assert(g_nread + g_nover == offset / S);
		assert(st_sbread == g_nread && st_sbover == g_nover);
		assert(st_read + st_over == g_committed);
		assert(g_committed + st_busy == NREC);
		i = 0
	}
}

init
{
	/* the packed fields must not overflow */
	assert(MAXSEQ + N < 16 && NREC < 16 && NPHYS <= 4);
	assert((MAXSEQ / N + 1) * S < CC_REC);
	atomic {
		/* buffer.c: link[i] = (i, i == 0 ? HEAD : 0, i, 0), spare N */
		link[0] = L_MAKE(0, L_HEAD, 0, 0);
		link[1] = L_MAKE(1, 0, 1, 0);
		run writer(0);
		run writer(1);
		run reader()
	}
}
