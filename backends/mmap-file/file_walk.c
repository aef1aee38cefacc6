/* SPDX-License-Identifier: MIT */
/*
 * backends/mmap-file/file_walk.c - the event walk of a ring file whose
 * writer may have died: which records are returned, which are dropped.
 *
 * The sub-buffers of a buffer are read oldest first (file_open.c lists
 * them).  In each one the walk goes record by record from the end of the
 * 64-byte header up to a limit:
 *
 *   complete (every byte committed): content_size from its header, which
 *     its closer wrote before the last byte was committed;
 *   the open one (holds the write position): the write position, exact;
 *   any other incomplete one: content_size if the end fields look written
 *     (in range, ts_end >= ts_begin), else the end of the sub-buffer,
 *     and the walk then stops where the records stop.
 *
 * A record is returned only if it carries the commit mark and can be
 * vouched for: its header is well formed (extended headers have no length
 * bits, the record fits before the limit), the first record (its opener's)
 * is stamped exactly ts_begin, and its stamp is not older than
 * the previous record's nor newer than an upper bound of the sub-buffer
 * (its ts_end when closed, else the next sub-buffer's ts_begin, else the
 * buffer's newest stamp plus RBF_FILE_TS_SLACK).  Stamps never decrease in
 * buffer order (doc/design.md, "Timestamps"), so a stale header left from
 * an older generation - whose compact delta jumps about 2^32 ahead, or
 * whose extended stamp goes back in time - fails the check.  RBF_CLOCK_NONE
 * channels carry the caller's stamps: nothing can be checked there.
 *
 * A record without the commit mark is stepped over by its length; a zero
 * word is an empty uncommitted record (8 bytes): a never-written header in
 * zero-filled space.  The walk of a sub-buffer stops at the first record
 * it cannot vouch for; the rest up to the limit is dropped (malformed).
 * The count of committed records from the commit word reconciles the walk:
 * a complete sub-buffer must yield exactly that many events (else it is
 * skipped whole), an incomplete one at least that many (else the walk is
 * counted as malformed).
 *
 * Two repairs cover writers killed at the worst moments (doc/file-format.md
 * section 8): a walk that stopped short of the committed records
 * resynchronizes on the next record it can vouch for if, and only if, the
 * rest of the walk then accounts exactly for the commit word's records and
 * bytes (resync()); and a sub-buffer whose opener died before writing its
 * header, while other writers committed records in it, gets its ts_begin
 * from the stamp that closed the sequence before it (sb_scan()).
 *
 * The cursor, the check and the recovery all run this one walk, so they
 * agree record for record.  Every loop is bounded by the sub-buffer size.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "file_internal.h"

enum rec_state {
	ST_END,
	ST_BAD,
	ST_EVENT,
	ST_PAD,
	ST_UNC,
	ST_ZERO,
};

/*
 * Decode the record at @pos of sub-buffer @base (walk limit @limit).
 * @prev: stamp of the previous committed record; @ts_hi: upper bound of
 * stamps (checked when @check_ts).
 */
static enum rec_state rec_step(const unsigned char *base, uint32_t pos,
			       uint32_t limit, uint64_t prev, uint64_t ts_hi,
			       int check_ts, struct rbf_fitem *it)
{
	struct rbf_record_header rh;
	uint64_t w0, rsz, ts;
	uint32_t len, hsz;

	if (pos >= limit)
		return ST_END;
	if (limit - pos < RBF_FILE_REC_SIZE || (pos & (RBF_REC_ALIGN - 1)))
		return ST_BAD;
	it->pos = pos;
	w0 = rbf_file_ld64(base + pos);
	if (w0 == 0) {
		it->size = RBF_FILE_REC_SIZE;
		return ST_ZERO;
	}
	memcpy(&rh, &w0, sizeof(rh));
	if (rh.len & RBF_REC_EXT) {
		struct rbf_record_header_ext x;
		uint64_t w1;

		if ((rh.len & RBF_REC_LEN_MASK) ||
		    limit - pos < RBF_FILE_REC_EXT_SIZE)
			return ST_BAD;
		w1 = rbf_file_ld64(base + pos + 8);
		memcpy(&x, &w0, 8);
		memcpy((char *)&x + 8, &w1, 8);
		len = x.length;
		hsz = RBF_FILE_REC_EXT_SIZE;
		ts = ((uint64_t)x.ts_high << 32) | x.ts_low;
	} else {
		len = rh.len & RBF_REC_LEN_MASK;
		hsz = RBF_FILE_REC_SIZE;
		ts = prev + (uint32_t)(rh.ts_low - (uint32_t)prev);
	}
	rsz = RBF_ALIGN((uint64_t)hsz + len, (uint64_t)RBF_REC_ALIGN);
	if (rsz > limit - pos)
		return ST_BAD;
	it->size = (uint32_t)rsz;
	if (!(rh.len & RBF_REC_COMMITTED))
		return ST_UNC;
	if (check_ts && (ts < prev || ts > ts_hi))
		return ST_BAD;
	/* The first record is its opener's, stamped ts_begin (= prev). */
	if (pos == RBF_FILE_SBH_SIZE && ts != prev)
		return ST_BAD;
	it->ts = ts;
	it->id = rh.id;
	it->len = len;
	it->data = base + pos + hsz;
	return rh.id == RBF_EVENT_ID_PAD ? ST_PAD : ST_EVENT;
}

static int begin_fields_ok(const struct rbf_subbuf_header *h, uint64_t seq,
			   uint32_t id)
{
	return h->magic == RBF_SUBBUF_MAGIC &&
	       h->header_size == RBF_FILE_SBH_SIZE && h->seq == seq &&
	       h->buffer_id == id;
}

/* Upper bound of the stamps of sub-buffer @s when it is not closed. */
static uint64_t open_ts_bound(const struct rbf_file *f,
			      const struct rbf_fbuf *b, const struct rbf_fsb *s,
			      uint64_t ts_begin, uint64_t run_ts)
{
	uint32_t n = f->hdr.num_subbuf;
	uint64_t next = s->seq + 1, base;
	uint32_t phys = rbf_link_phys(b->links[next % n]);
	struct rbf_subbuf_header h;

	/* The next sub-buffer's opener stamped after every record here. */
	if (phys <= n) {
		rbf_file_copy_words(&h, rbf_file_phys(f, b, phys), sizeof(h));
		if (begin_fields_ok(&h, next, b->id) && h.ts_begin >= ts_begin)
			return h.ts_begin;
	}
	base = b->ctl.last_ts;
	if (base < ts_begin)
		base = ts_begin;
	if (base < run_ts)
		base = run_ts;
	return base > UINT64_MAX - RBF_FILE_TS_SLACK ? UINT64_MAX :
						       base + RBF_FILE_TS_SLACK;
}

/* What a sub-buffer's walk is made of. */
struct scan_ctx {
	const unsigned char *base;
	uint32_t limit;
	uint64_t ts_hi;
	int check_ts;
	int complete;
};

/* Where a walk stopped and what it found. */
struct scan_res {
	uint32_t pos; /* where it stopped */
	enum rec_state st; /* ST_END or ST_BAD */
	uint32_t end; /* after the last committed record */
	uint64_t ts_last;
	uint64_t events, pads;
	uint64_t committed_bytes; /* events and pads */
	uint64_t uncommitted, uncommitted_bytes;
	uint32_t zrun; /* never-written bytes not yet counted */
	uint32_t skip_from, skip_to; /* resynchronized over this range */
};

/* Walk from @r->pos until the end or a record it cannot vouch for. */
static void scan_run(const struct scan_ctx *c, struct scan_res *r)
{
	struct rbf_fitem it;
	enum rec_state st;

	for (;;) {
		st = rec_step(c->base, r->pos, c->limit, r->ts_last, c->ts_hi,
			      c->check_ts, &it);
		if (c->complete && (st == ST_UNC || st == ST_ZERO))
			st = ST_BAD; /* all of it was committed */
		if (st == ST_END || st == ST_BAD)
			break;
		if (st == ST_ZERO) {
			r->zrun += it.size;
			r->pos += it.size;
			continue;
		}
		if (r->zrun) {
			r->uncommitted++;
			r->uncommitted_bytes += r->zrun;
			r->zrun = 0;
		}
		if (st == ST_UNC) {
			r->uncommitted++;
			r->uncommitted_bytes += it.size;
		} else {
			r->ts_last = it.ts;
			r->end = r->pos + it.size;
			r->committed_bytes += it.size;
			if (st == ST_EVENT)
				r->events++;
			else
				r->pads++;
		}
		r->pos += it.size;
	}
	r->st = st;
}

/*
 * Does the walk @r account exactly for the records and bytes the commit
 * word counts (with or without the sub-buffer header and the closing
 * padding, which are committed separately)?
 */
static int reconciles(const struct rbf_fsb *s, const struct rbf_fsb_sum *sum,
		      const struct scan_res *r)
{
	uint64_t pad = sum->end_valid ? (uint64_t)sum->hdr.subbuf_size -
						sum->hdr.content_size :
					0;
	uint64_t w = r->committed_bytes;

	if (!s->has_records || r->events != s->records)
		return 0;
	return w == s->bytes || w + RBF_FILE_SBH_SIZE == s->bytes ||
	       (pad && (w + pad == s->bytes ||
			w + RBF_FILE_SBH_SIZE + pad == s->bytes));
}

#define RESYNC_TRIES 16

/*
 * The walk of an incomplete sub-buffer stopped at a record it cannot vouch
 * for, short of the records the commit word counts: typically a record
 * whose writer was killed before storing its header, over stale bytes (a
 * multi-writer buffer in overwrite mode, or a sub-buffer's first record
 * whose opener died in the switch).  Look for the next record that can be
 * vouched for, and accept the skip only if the walk from there accounts
 * exactly for the committed records and bytes (with or without the
 * sub-buffer header and the closing padding): stale bytes would have to
 * form a chain of well-formed, committed, correctly stamped records that
 * ends exactly where the committed ones do.
 */
static void resync(const struct scan_ctx *c, const struct rbf_fsb *s,
		   const struct rbf_fsb_sum *sum, struct scan_res *r)
{
	uint32_t q, tries = 0;
	struct rbf_fitem it;

	for (q = r->pos + RBF_REC_ALIGN; q < c->limit && tries < RESYNC_TRIES;
	     q += RBF_REC_ALIGN) {
		struct scan_res t;

		if (rec_step(c->base, q, c->limit, r->ts_last, c->ts_hi,
			     c->check_ts, &it) != ST_EVENT)
			continue;
		tries++;
		t = *r;
		t.uncommitted++;
		t.uncommitted_bytes += t.zrun + (q - r->pos);
		t.zrun = 0;
		t.pos = q;
		scan_run(c, &t);
		if (reconciles(s, sum, &t)) {
			t.skip_from = r->pos;
			t.skip_to = q;
			*r = t;
			return;
		}
	}
}

/*
 * The stamp that closed sub-buffer @k - 1 when it is the sequence just
 * before @k: a lower bound of every stamp in @k, and the opener's own
 * stamp when the opener closed it.
 */
static int prev_ts_end(const struct rbf_file *f, const struct rbf_fbuf *b,
		       uint32_t k, int check_ts, uint64_t *ts)
{
	const struct rbf_fsb *p;
	struct rbf_subbuf_header h;

	if (k == 0 || b->sb[k - 1].seq + 1 != b->sb[k].seq)
		return -1;
	p = &b->sb[k - 1];
	rbf_file_copy_words(&h, rbf_file_phys(f, b, p->phys), sizeof(h));
	if (!begin_fields_ok(&h, p->seq, b->id) ||
	    h.subbuf_size != f->hdr.subbuf_size ||
	    (check_ts && h.ts_end < h.ts_begin))
		return -1;
	*ts = h.ts_end;
	return 0;
}

/*
 * Judge sub-buffer @k of @b and walk it once: fills @sum, *@ts_hi.
 * Returns 0, or -1 when the sub-buffer is skipped whole.
 */
static int sb_scan(const struct rbf_file *f, const struct rbf_fbuf *b,
		   uint32_t k, uint64_t run_ts, int check_ts,
		   struct rbf_fsb_sum *sum, uint64_t *ts_hi)
{
	const struct rbf_fsb *s = &b->sb[k];
	const unsigned char *base = rbf_file_phys(f, b, s->phys);
	struct rbf_subbuf_header *h = &sum->hdr;
	uint32_t S = f->hdr.subbuf_size, limit;
	int end_ok, known, bad = 0, loose = 0;
	struct scan_ctx ctx;
	struct scan_res r;

	memset(sum, 0, sizeof(*sum));
	rbf_file_copy_words(h, base, sizeof(*h));
	end_ok = h->content_size >= RBF_FILE_SBH_SIZE && h->content_size <= S &&
		 !(h->content_size & 7) && h->subbuf_size == S &&
		 (!check_ts || h->ts_end >= h->ts_begin);
	if (s->complete) {
		limit = end_ok ? h->content_size : S;
		known = 1;
		sum->end_valid = end_ok;
		bad = !end_ok;
	} else if (s->open_end) {
		limit = s->open_end < RBF_FILE_SBH_SIZE ? RBF_FILE_SBH_SIZE :
							  s->open_end;
		known = 1;
	} else if (end_ok) {
		limit = h->content_size;
		known = 1;
		sum->end_valid = 1;
	} else {
		limit = S;
		known = 0;
	}
	sum->limit = limit;
	sum->end = RBF_FILE_SBH_SIZE;
	sum->ts_begin = h->ts_begin;
	sum->ts_last = h->ts_begin;
	/* Nothing committed: at most reservations, whatever the header. */
	if (!s->complete && s->has_records && !s->bytes && !s->records) {
		sum->unopened = 1;
		return -1;
	}
	if (!begin_fields_ok(h, s->seq, b->id)) {
		/*
		 * Its opener was killed (or stalled, then killed) between its
		 * reservation and the header, and other writers committed
		 * records after it.  They are decoded from a stamp known to
		 * precede them: the ts_end of the sequence just before (the
		 * opener's own stamp when it closed that one), else the last
		 * stamp walked when that was the sequence just before.
		 * Without one, or when this sub-buffer's stamps could lie
		 * 2^32 or more above it (a compact delta would be ambiguous),
		 * the base is "loose": 2^32 - 1 below the upper bound of the
		 * stamps, and where stale bytes can be (overwrite mode, a
		 * reused sub-buffer) the walk must then account exactly for
		 * the committed records and bytes.
		 */
		if (s->complete || !s->has_records)
			return -1;
		if (prev_ts_end(f, b, k, check_ts, &h->ts_begin)) {
			if (k && b->sb[k - 1].seq + 1 == s->seq && run_ts)
				h->ts_begin = run_ts;
			else
				loose = 1;
		}
		if (loose)
			h->ts_begin = run_ts;
		h->magic = RBF_SUBBUF_MAGIC;
		h->header_size = RBF_FILE_SBH_SIZE;
		h->seq = s->seq;
		h->buffer_id = b->id;
		sum->rebuilt = 1;
		if (!s->open_end &&
		    !(end_ok && (loose || h->ts_end >= h->ts_begin))) {
			limit = S;
			known = 0;
			sum->end_valid = 0;
			sum->limit = limit;
		}
	}
	if (bad || (check_ts && h->ts_begin < run_ts))
		return -1;
	if (!check_ts)
		*ts_hi = UINT64_MAX;
	else if (sum->end_valid)
		*ts_hi = h->ts_end;
	else
		*ts_hi = open_ts_bound(f, b, s, h->ts_begin, run_ts);
	if (sum->rebuilt && check_ts &&
	    (loose || *ts_hi - h->ts_begin >= 1ull << 32)) {
		loose = 1;
		h->ts_begin = *ts_hi >= (1ull << 32) - 1 ?
				      *ts_hi - ((1ull << 32) - 1) :
				      0;
		if (h->ts_begin < run_ts)
			h->ts_begin = run_ts;
	}
	sum->ts_begin = h->ts_begin;
	sum->ts_last = h->ts_begin;

	memset(&ctx, 0, sizeof(ctx));
	ctx.base = base;
	ctx.limit = limit;
	ctx.ts_hi = *ts_hi;
	ctx.check_ts = check_ts;
	ctx.complete = s->complete;
	memset(&r, 0, sizeof(r));
	r.pos = RBF_FILE_SBH_SIZE;
	r.end = RBF_FILE_SBH_SIZE;
	r.ts_last = h->ts_begin;
	scan_run(&ctx, &r);
	if (r.st == ST_BAD && !s->complete && s->has_records &&
	    r.events < s->records)
		resync(&ctx, s, sum, &r);
	/* Never-written words: inside the content a record that was never
	 * stored; past the records (limit unknown) unused space. */
	if (r.zrun && known) {
		r.uncommitted++;
		r.uncommitted_bytes += r.zrun;
	}
	sum->events = r.events;
	sum->pads = r.pads;
	sum->uncommitted = r.uncommitted;
	sum->uncommitted_bytes = r.uncommitted_bytes;
	sum->end = r.end;
	sum->ts_last = r.ts_last;
	sum->skip_from = r.skip_from;
	sum->skip_to = r.skip_to;
	if (r.st == ST_BAD && known && !s->complete && reconciles(s, sum, &r)) {
		/* Every committed byte is accounted for before this point:
		 * the rest is a reservation whose header was never written
		 * (stale bytes in overwrite mode). */
		sum->uncommitted++;
		sum->uncommitted_bytes += limit - r.pos;
	} else if (r.st == ST_BAD &&
		   (known || (s->has_records && r.events < s->records))) {
		sum->malformed = 1;
		sum->malformed_bytes = limit - r.pos;
	}
	/* A loose base where stale bytes can be: only an exact account. */
	if (loose && f->hdr.mode == RBF_MODE_OVERWRITE &&
	    s->seq >= f->hdr.num_subbuf && !reconciles(s, sum, &r))
		return -1;
	if (s->has_records) {
		if (s->complete && r.events != s->records)
			return -1; /* the counts cannot both be true */
		if (!s->complete && r.events < s->records)
			sum->malformed = 1;
	}
	return 0;
}

void rbf_fwalk_init(struct rbf_fwalk *w, const struct rbf_file *f,
		    const struct rbf_fbuf *b)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->b = b;
	w->check_ts = f->hdr.clock != RBF_CLOCK_NONE;
}

void rbf_fwalk_next(struct rbf_fwalk *w, struct rbf_fitem *it)
{
	const struct rbf_fbuf *b = w->b;
	const struct rbf_fsb *s;
	enum rec_state st;

	memset(it, 0, offsetof(struct rbf_fitem, sum));
	if (!w->in_sb) {
		if (b->empty || w->k >= b->nsb) {
			it->kind = RBF_FITEM_END;
			return;
		}
		it->k = w->k;
		if (sb_scan(w->f, b, w->k, w->run_ts, w->check_ts, &w->sum,
			    &w->ts_hi)) {
			it->kind = RBF_FITEM_SB_BAD;
			it->sum = w->sum;
			w->k++;
			return;
		}
		w->in_sb = 1;
		w->pos = RBF_FILE_SBH_SIZE;
		w->end = w->sum.end;
		w->skip_from = w->sum.skip_from;
		w->skip_to = w->sum.skip_to;
		w->prev_ts = w->sum.ts_begin;
		it->kind = RBF_FITEM_SB_BEGIN;
		it->sum = w->sum;
		return;
	}
	s = &b->sb[w->k];
	it->k = w->k;
	if (w->skip_to > w->skip_from && w->pos == w->skip_from &&
	    w->skip_to <= w->end) {
		/* Resynchronized past a record that could not be read. */
		it->kind = RBF_FITEM_UNCOMMITTED;
		it->pos = w->pos;
		it->size = w->skip_to - w->skip_from;
		w->pos = w->skip_to;
		return;
	}
	st = rec_step(rbf_file_phys(w->f, b, s->phys), w->pos, w->end,
		      w->prev_ts, w->ts_hi, w->check_ts, it);
	if (s->complete && (st == ST_UNC || st == ST_ZERO))
		st = ST_BAD;
	switch (st) {
	case ST_EVENT:
	case ST_PAD:
		w->prev_ts = it->ts;
		w->pos += it->size;
		it->kind = st == ST_EVENT ? RBF_FITEM_EVENT : RBF_FITEM_PAD;
		return;
	case ST_UNC:
	case ST_ZERO:
		w->pos += it->size;
		it->kind = RBF_FITEM_UNCOMMITTED;
		return;
	default:
		/* The end, or (live file) a record that changed since the
		 * scan: the sub-buffer ends here. */
		it->kind = RBF_FITEM_SB_END;
		it->sum = w->sum;
		w->run_ts = w->prev_ts;
		w->in_sb = 0;
		w->k++;
		return;
	}
}

/* Events committed to the undecided slots (as frontend/stats.c). */
static uint64_t buffered_events(const struct rbf_file *f,
				const struct rbf_fbuf *b)
{
	uint32_t n = f->hdr.num_subbuf, i;
	uint64_t hi = b->nseq + n - 1, sum = 0;

	for (i = 0; i < n; i++) {
		uint64_t l = b->links[i];
		uint64_t t = rbf_file_tag_to_seq(rbf_link_tag(l), hi);

		if (l & RBF_LINK_UPDATE)
			continue;
		sum += (rbf_file_cc_records(f, b->cc[i], t) -
			rbf_link_rdec(l)) &
		       RBF_LINK_RDEC_MASK;
	}
	return sum;
}

void rbf_fwalk_report(const struct rbf_file *f, const struct rbf_fbuf *b,
		      struct rbf_file_report *rep)
{
	int check_ts = f->hdr.clock != RBF_CLOCK_NONE;
	uint64_t run_ts = 0, ts_hi, lost = 0;
	struct rbf_fsb_sum sum;
	uint32_t k;
	int i;

	if (b->empty)
		return;
	for (k = 0; k < b->nsb; k++) {
		if (sb_scan(f, b, k, run_ts, check_ts, &sum, &ts_hi)) {
			if (sum.unopened)
				rep->dropped_uncommitted++;
			else
				rep->bad_subbufs++;
			if (sum.limit > RBF_FILE_SBH_SIZE)
				rep->dropped_bytes +=
					sum.limit - RBF_FILE_SBH_SIZE;
			continue;
		}
		run_ts = sum.ts_last;
		rep->subbufs++;
		rep->events += sum.events;
		rep->dropped_uncommitted += sum.uncommitted;
		rep->dropped_malformed += sum.malformed;
		rep->dropped_bytes +=
			sum.uncommitted_bytes + sum.malformed_bytes;
	}
	for (i = 0; i < RBF_LOST_NR; i++)
		lost += b->ctl.stats.lost[i];
	rep->lost += lost;
	rep->overwritten += b->ctl.stats.overwritten;
	rep->read += b->ctl.stats.read;
	rep->written += lost + b->ctl.stats.overwritten + b->ctl.stats.read +
			buffered_events(f, b);
}

RBF_API int rbf_file_check(struct rbf_file *f, struct rbf_file_report *rep)
{
	uint32_t i;
	int c;

	if (!f || !rep || rep->size < sizeof(*rep))
		return -EINVAL;
	memset((char *)rep + sizeof(rep->size), 0,
	       sizeof(*rep) - sizeof(rep->size));
	for (i = 0; i < f->nbuf; i++)
		rbf_fwalk_report(f, &f->buf[i], rep);
	for (c = 0; c < RBF_LOST_NR; c++) {
		rep->lost += f->hdr.lost_nobuf[c];
		rep->written += f->hdr.lost_nobuf[c];
	}
	return 0;
}

/* Cursor state: bit 0: inside a sub-buffer. */
#define CUR_IN_SB 1u
#define CUR_MAGIC 0x52420000u /* upper half of priv_state */

RBF_API int rbf_file_cursor_init(struct rbf_file *f, uint32_t idx,
				 struct rbf_file_cursor *cur)
{
	if (!f || !cur || idx >= f->nbuf)
		return -EINVAL;
	memset(cur, 0, sizeof(*cur));
	cur->priv_buffer = idx;
	cur->priv_state = CUR_MAGIC;
	cur->priv_end_seq = f->buf[idx].nsb;
	return 0;
}

RBF_API int rbf_file_cursor_next(struct rbf_file *f,
				 struct rbf_file_cursor *cur,
				 struct rbf_file_event *ev)
{
	const struct rbf_fbuf *b;
	struct rbf_fwalk w;
	struct rbf_fitem it;
	uint32_t S;

	if (!f || !cur || !ev || cur->priv_buffer >= f->nbuf ||
	    (cur->priv_state & 0xffff0000u) != CUR_MAGIC)
		return -EINVAL;
	b = &f->buf[cur->priv_buffer];
	S = f->hdr.subbuf_size;
	if (cur->priv_end_seq != b->nsb || cur->priv_seq > b->nsb ||
	    cur->priv_pos > S || cur->priv_end > S ||
	    ((cur->priv_state & CUR_IN_SB) && cur->priv_seq >= b->nsb))
		return -EINVAL;
	rbf_fwalk_init(&w, f, b);
	w.k = (uint32_t)cur->priv_seq;
	w.in_sb = (cur->priv_state & CUR_IN_SB) != 0;
	w.pos = (uint32_t)cur->priv_pos;
	w.end = (uint32_t)cur->priv_end;
	w.prev_ts = cur->priv_prev_ts;
	w.run_ts = cur->priv_run_ts;
	w.ts_hi = cur->priv_ts_hi;
	w.skip_from = (uint32_t)(cur->priv_skip >> 32);
	w.skip_to = (uint32_t)cur->priv_skip;
	/* Bounded: each item advances a position or a sub-buffer. */
	for (;;) {
		rbf_fwalk_next(&w, &it);
		if (it.kind == RBF_FITEM_END || it.kind == RBF_FITEM_EVENT)
			break;
	}
	cur->priv_seq = w.k;
	cur->priv_state = CUR_MAGIC | (w.in_sb ? CUR_IN_SB : 0);
	cur->priv_pos = w.pos;
	cur->priv_end = w.end;
	cur->priv_prev_ts = w.prev_ts;
	cur->priv_run_ts = w.run_ts;
	cur->priv_ts_hi = w.ts_hi;
	cur->priv_skip = ((uint64_t)w.skip_from << 32) | w.skip_to;
	if (it.kind == RBF_FITEM_END)
		return 0;
	memset(ev, 0, sizeof(*ev));
	ev->buffer = cur->priv_buffer;
	ev->ts = it.ts;
	ev->id = it.id;
	ev->len = it.len;
	ev->data = it.data;
	ev->subbuf_seq = b->sb[it.k].seq;
	ev->offset = b->data_off + ((uint64_t)b->sb[it.k].phys << f->sb_order) +
		     it.pos;
	cur->priv_sb_off = ev->offset - it.pos;
	return 1;
}
