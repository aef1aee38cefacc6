/* SPDX-License-Identifier: MIT */
/*
 * frontend/head.c - the head-flag protocol on the ring's links.
 *
 * The ring has N slots; slot i's link word (ctl.h) names the sub-buffer of
 * memory (phys) currently in the slot, carries the HEAD and UPDATE flags,
 * and a tag: the oldest sequence number of the slot whose fate is not yet
 * decided.  A sequence is decided exactly once, by exactly one successful
 * compare-and-swap on its slot's link:
 *
 *   read:        the reader swaps its spare in:
 *                  (P, HEAD, s) -> (spare, -, s+N)         [rbf_subbuf_get]
 *   overwritten: a writer pushes the head:
 *                  (P, HEAD, s) -> (P, UPDATE, s)          [push]
 *                then anyone finalizes:
 *                  (P, UPDATE, s) -> (P, -, s+N)           [finalize]
 *
 * Both start from the same word (P, HEAD, s), so the reader and a pushing
 * writer can never both win sequence s: the reader's exchange and the
 * writer's push race on one CAS.  After the exchange the writer finds the
 * spare in the slot and writes there; the reader's sub-buffer is out of the
 * ring, so it is never overwritten.  After a push, the reader's CAS fails and
 * it skips s (counted as overwritten by the pusher, once, by the CAS winner).
 *
 * The HEAD flag marks the oldest undecided sequence.  Moving it to the next
 * slot is a separate CAS ((Q, -, s+1) -> (Q, HEAD, s+1)), legal for anyone
 * once s is decided; tags make every step idempotent and ABA-safe, so a
 * writer never waits for a preempted pusher or reader: it finishes their
 * steps itself (helping).  head_seq is only a hint (every sequence below it
 * is finalized) that keeps the search for the head O(1).
 *
 * Writers of sequence w only touch data after seeing their slot's tag equal
 * w (rbf_slot_ensure), i.e. after w - N was decided; in overwrite mode the
 * slow path below makes that happen by pushing the head as far as needed.
 */
#include <errno.h>

#include "internal.h"

/* Advance the hint past finalized sequences, up to @target. */
void rbf_head_hint_advance(struct rbf_buffer *buf, uint64_t target)
{
	struct rbf_channel *ch = buf->ch;
	uint64_t *links = buf->links;
	uint32_t budget = ch->num_subbuf * 2;

	while (budget--) {
		uint64_t h = RBF_LOAD(buf->ctl->head_seq);
		uint64_t l;

		if ((int64_t)(h - target) >= 0)
			return;
		l = rbf_load_acquire(&links[rbf_slot_of(ch, h)]);
		if (rbf_link_tag_is(l, h))
			return; /* h still undecided */
		rbf_shared_cmpxchg(&buf->ctl->head_seq, h, h + 1);
	}
}

/* Put HEAD on sequence @seq's link if it has no flag yet.  Legal only once
 * seq - 1 is decided. */
void rbf_head_place(struct rbf_buffer *buf, uint64_t seq)
{
	uint64_t *link = &buf->links[rbf_slot_of(buf->ch, seq)];
	uint64_t l = rbf_load_acquire(link);

	if (rbf_link_tag_is(l, seq) && !(l & RBF_LINK_FLAGS))
		rbf_shared_cmpxchg(link, l, l | RBF_LINK_HEAD);
}

/* (P, UPDATE, h) -> (P, -, h+N), then move the head on. */
static void finalize(struct rbf_buffer *buf, uint64_t h, uint64_t l)
{
	struct rbf_channel *ch = buf->ch;
	uint32_t slot = rbf_slot_of(ch, h);
	uint64_t *link = &buf->links[slot];
	/* Frozen while the link reads (P, UPDATE, h): writers of h+N wait
	 * for this CAS.  If someone else finalized first, our CAS fails and
	 * the (then stale) value is discarded. */
	uint64_t cc = rbf_read_cc(buf, slot);
	uint64_t nl = rbf_link_make(rbf_link_phys(l), 0, h + ch->num_subbuf,
				    rbf_cc_records(ch, cc, h));

	rbf_shared_cmpxchg(link, l, nl);
	rbf_head_hint_advance(buf, h + 1);
	rbf_head_place(buf, h + 1);
}

int rbf_slot_ensure_slow(struct rbf_buffer *buf, uint64_t w, uint64_t *out)
{
	struct rbf_channel *ch = buf->ch;
	struct rbf_ctl *ctl = buf->ctl;
	uint64_t *links = buf->links;
	uint64_t n = ch->num_subbuf;
	uint64_t *lw = &links[rbf_slot_of(ch, w)];
	uint64_t budget = 64 * n + 4096;

	while (budget--) {
		uint64_t l = rbf_load_acquire(lw);
		uint64_t h, lh, cc, *plh;

		if (rbf_link_tag_is(l, w)) {
			*out = l;
			return 0;
		}
		/* Only overwrite mode lets a writer reach an undecided slot;
		 * anything else is a corrupted control block. */
		if (ch->mode != RBF_MODE_OVERWRITE ||
		    rbf_tag_to_seq(rbf_link_tag(l), w) != w - n)
			return -EIO;

		h = RBF_LOAD(ctl->head_seq);
		plh = &links[rbf_slot_of(ch, h)];
		lh = rbf_load_acquire(plh);
		if (!rbf_link_tag_is(lh, h)) {
			/* h is finalized: move the hint on. */
			rbf_shared_cmpxchg(&ctl->head_seq, h, h + 1);
			continue;
		}
		if ((int64_t)(h - (w - n)) > 0)
			continue; /* w - N decided meanwhile; re-read */
		if (lh & RBF_LINK_UPDATE) {
			finalize(buf, h, lh);
			continue;
		}
		if (!(lh & RBF_LINK_HEAD)) {
			/* Head in transit: h - 1 is finalized (hint). */
			rbf_shared_cmpxchg(plh, lh, lh | RBF_LINK_HEAD);
			continue;
		}
		/*
		 * Push: h <= w - N is complete (the opener of h + N checked
		 * its slot before its CAS, and h + N <= w is open).  The
		 * commit word is read *before* the CAS: only while the link
		 * still reads (P, HEAD, h) is it frozen (writers of h are
		 * done, writers of h + N wait); once we set UPDATE, a helper
		 * may finalize and h + N may start committing.  The CAS
		 * winner alone counts the overwritten events.
		 */
		cc = rbf_read_cc(buf, rbf_slot_of(ch, h));
		if (rbf_shared_cmpxchg(plh, lh,
				       (lh & ~RBF_LINK_HEAD) |
					       RBF_LINK_UPDATE) == lh) {
			uint64_t ev = (rbf_cc_records(ch, cc, h) -
				       rbf_link_rdec(lh)) &
				      RBF_LINK_RDEC_MASK;

			rbf_shared_add(&ctl->stats.overwritten, ev);
			rbf_shared_add(&ctl->stats.subbufs_overwritten, 1);
			finalize(buf, h,
				 (lh & ~RBF_LINK_HEAD) | RBF_LINK_UPDATE);
		}
	}
	return -EIO;
}
