/* SPDX-License-Identifier: MIT */
/*
 * frontend/write.c - the write path: reserve, commit, one-call write.
 *
 * Algorithm (details and proofs in doc/design.md):
 *
 * Each buffer has a 64-bit write position (ctl->offset) counting bytes since
 * creation.  Sub-buffer sequence s covers positions [s*S, (s+1)*S) and lives
 * in ring slot s mod N.  A writer reserves by moving the position with one
 * compare-and-swap (LOCK CMPXCHG, or a plain CMPXCHG for per-thread buffers,
 * which is atomic against the thread's own signal handlers).  A reservation
 * that does not fit in the current sub-buffer also takes the padding up to
 * its end and the header of the next one: that writer *closes* the old
 * sub-buffer (writes its end fields, commits the padding) and *opens* the
 * new one (writes its begin fields, commits the header).
 *
 * Commit is one atomic add on the slot's commit word (records * 2^40 +
 * bytes).  Because completion is judged by the byte count of the slot, not
 * by the order of commits, writers may commit in any order: nested signal
 * handlers (which commit before the writer they interrupted), threads
 * preempted or migrated between reserve and commit, and many threads on
 * one buffer are all handled by the same rule: a sub-buffer is readable
 * when every byte of it has been committed.
 *
 * Before opening sequence w in slot i, the opener checks (before its CAS)
 * that generation w/N - 1 of slot i is fully committed; otherwise a writer
 * stalled a whole ring ago still owns bytes there, and the write fails
 * (-EBUSY) rather than corrupt them.  In discard mode it also checks that
 * the reader has taken sequence w - N (the slot's link tag is w); otherwise
 * the buffer is full (-ENOBUFS).  In overwrite mode every writer of w makes
 * sure, after its CAS and before touching data, that w - N has been read or
 * overwritten (head.c), pushing the head itself if needed.
 *
 * Timestamps are read inside the CAS loop, after loading the position, so a
 * successful CAS orders stamps like positions: stamps never decrease in
 * buffer order.  The compact 32-bit delta is used only when the stamp is
 * within 2^32 of ctl->last_ts, a stamp of some earlier event, which is never
 * newer than the event just before (see doc/design.md, "Timestamps").
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "rcu.h"

/* Relaxed sum of the lost counters, for sub-buffer headers. */
static uint64_t lost_total(struct rbf_ctl *ctl)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < RBF_LOST_NR; i++)
		sum += RBF_LOAD(ctl->stats.lost[i]);
	return sum;
}

void rbf_count_lost(struct rbf_buffer *buf, bool local,
		    enum rbf_lost_cause cause)
{
	uint64_t *p = &buf->ctl->stats.lost[cause];

	if (local)
		rbf_local_add_release(p, 1);
	else
		rbf_shared_add(p, 1);
}

static inline void commit_add(struct rbf_buffer *buf, uint32_t slot, uint64_t v,
			      bool local)
{
	uint64_t *cc = &buf->commits[slot].cc;

	/* Release: pairs with the reader's acquire load of the commit word
	 * (rbf_read_cc) before it trusts the sub-buffer's contents. */
	if (local)
		rbf_local_add_release(cc, v);
	else
		rbf_shared_add_release(cc, v);
}

static void sb_write_begin(struct rbf_buffer *buf, uint32_t phys, uint64_t seq,
			   uint64_t ts)
{
	struct rbf_channel *ch = buf->ch;
	uint64_t base = rbf_phys_off(ch, phys);
	struct rbf_subbuf_header h;

	memset(&h, 0, sizeof(h));
	h.magic = RBF_SUBBUF_MAGIC;
	h.header_size = RBF_SB_HDR_SIZE;
	h.seq = seq;
	h.ts_begin = ts;
	h.buffer_id = buf->id;
	if (buf->data) {
		struct rbf_subbuf_header *d =
			(struct rbf_subbuf_header *)(buf->data + base);

		/* content_size/subbuf_size belong to the closer. */
		d->magic = h.magic;
		d->header_size = h.header_size;
		d->flags = 0;
		d->seq = seq;
		d->ts_begin = ts;
		d->buffer_id = h.buffer_id;
		d->reserved = 0;
		return;
	}
	rbf_data_store(buf, base, &h, 8);
	rbf_data_store(buf, base + 16, &h.seq, 16);
	rbf_data_store(buf, base + 56, &h.buffer_id, 8);
}

static void sb_write_end(struct rbf_buffer *buf, uint32_t phys,
			 uint32_t content, uint64_t ts)
{
	struct rbf_channel *ch = buf->ch;
	uint64_t base = rbf_phys_off(ch, phys);
	struct rbf_subbuf_header h;

	h.content_size = content;
	h.subbuf_size = ch->subbuf_size;
	h.ts_end = ts;
	h.lost = lost_total(buf->ctl);
	h.overwritten = RBF_LOAD(buf->ctl->stats.overwritten);
	if (buf->data) {
		struct rbf_subbuf_header *d =
			(struct rbf_subbuf_header *)(buf->data + base);

		d->content_size = h.content_size;
		d->subbuf_size = h.subbuf_size;
		d->ts_end = h.ts_end;
		d->lost = h.lost;
		d->overwritten = h.overwritten;
		return;
	}
	rbf_data_store(buf, base + 8, &h.content_size, 8);
	rbf_data_store(buf, base + 32, &h.ts_end, 24);
}

/*
 * Close sequence @seq: its end fields, then commit the @pad bytes that
 * complete it.  Called by the writer (or flushing reader) whose reservation
 * took the end of the sub-buffer.
 */
static int sb_close(struct rbf_buffer *buf, uint64_t seq, uint32_t content,
		    uint64_t ts, uint32_t pad, bool local)
{
	uint64_t link;
	int ret;

	ret = rbf_slot_ensure(buf, seq, &link);
	if (rbf_unlikely(ret))
		return ret;
	sb_write_end(buf, rbf_link_phys(link), content, ts);
	if (pad)
		commit_add(buf, rbf_slot_of(buf->ch, seq), pad, local);
	return 0;
}

/*
 * Pre-CAS checks for opening sequence @w: the slot's previous generation
 * must be fully committed, and in discard mode read.
 */
static int can_open(struct rbf_buffer *buf, uint64_t w)
{
	struct rbf_channel *ch = buf->ch;
	uint32_t slot = rbf_slot_of(ch, w);
	uint64_t cc;

	if (ch->mode == RBF_MODE_DISCARD) {
		uint64_t l = rbf_load_acquire(&buf->links[slot]);

		if (!rbf_link_tag_is(l, w))
			return -ENOBUFS;
	}
	cc = rbf_read_cc(buf, slot);
	if (rbf_unlikely(!rbf_cc_at(ch, cc, rbf_gen_of(ch, w))))
		return -EBUSY;
	return 0;
}

static inline uint64_t clock_now(enum rbf_clock clock)
{
	if (clock == RBF_CLOCK_TSC)
		return rbf_rdtsc_ordered();
	if (clock == RBF_CLOCK_MONOTONIC) {
		struct timespec t;

		clock_gettime(CLOCK_MONOTONIC, &t);
		return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
	}
	return 0;
}

static inline enum rbf_lost_cause cause_of(int err)
{
	switch (err) {
	case -ENOBUFS:
		return RBF_LOST_FULL;
	case -EMSGSIZE:
		return RBF_LOST_TOO_BIG;
	case -EPERM:
		return RBF_LOST_DISABLED;
	case -ELOOP:
		return RBF_LOST_NESTING;
	case -ENOMEM:
		return RBF_LOST_NOMEM;
	default:
		return RBF_LOST_BUSY;
	}
}

static inline void leave(struct rbf_buffer *buf, uint32_t flags)
{
	if (flags & RBF_WCTX_PERTHREAD) {
		uint32_t *n = &buf->ctl->wr_nest;

		/* Release: a flushing reader that sees the owner outside
		 * every write also sees its commit (rbf_buffer_flush). */
		rbf_store_release32(n, RBF_LOAD(*n) - 1);
	} else {
		rbf_tls.nest--;
	}
	rbf_rcu_read_unlock();
}

static int reserve_switch(struct rbf_buffer *buf, uint64_t o, uint64_t begin,
			  uint64_t ts, bool local);

/* Store a record header into CPU memory: whole words, native order. */
static inline void rec_header_store(char *p, bool ext, uint64_t ts, uint16_t id,
				    size_t len)
{
	if (!ext) {
		struct rbf_record_header h = { (uint32_t)ts, id,
					       (uint16_t)len };

		memcpy(p, &h, sizeof(h));
	} else {
		struct rbf_record_header_ext h = { (uint32_t)ts, id,
						   RBF_REC_EXT,
						   (uint32_t)(ts >> 32),
						   (uint32_t)len };

		memcpy(p, &h, sizeof(h));
	}
}

/*
 * Persistent per-thread buffers: put a header at position @o *before* the
 * reservation CAS, so that a record is never reserved without a header
 * that gives its size, even if the process is killed right after the CAS
 * (crash recovery steps over uncommitted records by that size).
 *
 * Only the owner thread and its signal handlers write this buffer, and a
 * handler runs to completion on top of us, so "offset is still @o" can
 * only change by a handler that ran in between.  The store is a local
 * (non-LOCK) CMPXCHG against the word we read after checking the offset:
 * if a handler ran after that check and wrote its own header there, the
 * CMPXCHG fails and we retry; if one ran before it, the offset check
 * fails.  The word stored is a compact, uncommitted header whose length
 * spans the whole reservation; an extended header is written in full
 * after the CAS.  Returns false to retry the reservation.
 */
static inline bool pre_header(struct rbf_buffer *buf, uint64_t o, uint64_t ts,
			      uint16_t id, size_t len, bool ext, uint64_t rsz,
			      char **spec)
{
	struct rbf_channel *ch = buf->ch;
	uint64_t seq = o >> ch->subbuf_order;
	uint64_t l =
		rbf_load_acquire(&buf->links[(uint32_t)seq & ch->slot_mask]);
	/* Compact: the final header.  Extended: a compact stand-in whose
	 * length covers the reservation, replaced after the CAS. */
	struct rbf_record_header h = {
		(uint32_t)ts, id, (uint16_t)(ext ? rsz - RBF_REC_HDR_SIZE : len)
	};
	uint64_t *p, old, word;

	*spec = NULL;
	if (rbf_unlikely(!rbf_link_tag_is(l, seq) ||
			 rsz - RBF_REC_HDR_SIZE > RBF_REC_LEN_MASK))
		return true; /* not the plain case: header after the CAS */
	p = (uint64_t *)(buf->data +
			 ((uint64_t)rbf_link_phys(l) << ch->subbuf_order) +
			 (o & ch->sb_mask));
	old = RBF_LOAD(*p);
	cmm_barrier();
	if (RBF_LOAD(buf->ctl->offset) != o)
		return false;
	memcpy(&word, &h, sizeof(word));
	if (rbf_local_cmpxchg(p, old, word) != old)
		return false;
	*spec = (char *)p;
	return true;
}

/* Cold exits of do_reserve(), out of line to keep the fast path small. */
static __attribute__((noinline, cold)) int reserve_fail(struct rbf_buffer *buf,
							struct rbf_wctx *ctx,
							uint32_t flags, int err)
{
	ctx->priv_flags = 0;
	rbf_count_lost(buf, flags & RBF_WCTX_LOCAL, cause_of(err));
	if (flags & RBF_WCTX_ACTIVE)
		leave(buf, flags);
	else
		rbf_rcu_read_unlock();
	return err;
}

static __attribute__((noinline, cold)) int
reserve_nobuf(struct rbf_channel *ch, struct rbf_wctx *ctx, int err)
{
	/* No buffer yet, and none allocated for a lost write: counted on the
	 * channel. */
	ctx->priv_flags = 0;
	rbf_shared_add(&ch->lost_nobuf[err == -EPERM ? RBF_LOST_DISABLED :
						       RBF_LOST_NOMEM],
		       1);
	rbf_rcu_read_unlock();
	return err;
}

static __attribute__((noinline, cold)) int reserve_einval(struct rbf_wctx *ctx)
{
	if (ctx)
		ctx->priv_flags = 0;
	return -EINVAL;
}

/* Sub-buffer switch, and device-memory record headers: out of line. */
static __attribute__((noinline)) int
reserve_finish_slow(struct rbf_buffer *buf, struct rbf_wctx *ctx, uint64_t o,
		    uint64_t begin, uint64_t rsz, uint32_t hsz, uint16_t id,
		    size_t len, uint64_t ts, bool local);

static inline __attribute__((always_inline)) int
do_reserve(struct rbf_channel *ch, struct rbf_wctx *ctx, uint16_t id,
	   size_t len, uint64_t ts_user, const enum rbf_alloc alloc,
	   const enum rbf_clock clock)
{
	struct rbf_buffer *buf;
	struct rbf_ctl *ctl;
	uint32_t flags = RBF_WCTX_ACTIVE;
	uint64_t o, begin, ts, rsz, sb_mask, link;
	uint32_t nest, hsz;
	bool local = false, ext;
	char *spec = NULL;
	int err;

	if (rbf_unlikely(!ch || !ctx || id > RBF_EVENT_ID_MAX))
		return reserve_einval(ctx);

	rbf_rcu_read_lock();
	if (alloc == RBF_ALLOC_PER_THREAD) {
		buf = rbf_thread_buffer(ch, &err);
		if (rbf_unlikely(!buf))
			return reserve_nobuf(ch, ctx, err);
		ctl = buf->ctl;
		nest = RBF_LOAD(ctl->wr_nest);
		if (rbf_unlikely(nest >= ch->max_nesting))
			return reserve_fail(buf, ctx, 0, -ELOOP);
		RBF_STORE(ctl->wr_nest, nest + 1);
		flags |= RBF_WCTX_PERTHREAD;
		/*
		 * Compiler barrier only: the flushing reader's membarrier()
		 * stands for the full barrier this side would need (Dekker:
		 * our wr_nest store vs. our flush_req load; its flush_req
		 * store vs. its wr_nest load).
		 */
		cmm_barrier();
		if (rbf_likely(buf->local) && !RBF_LOAD(ctl->flush_req)) {
			local = true;
			flags |= RBF_WCTX_LOCAL;
		}
	} else {
		if (alloc == RBF_ALLOC_PER_CPU) {
			uint32_t cpu = (uint32_t)rbf_current_cpu();

			/* A CPU hot-added after creation shares a buffer. */
			if (rbf_unlikely(cpu >= ch->nr_cpus))
				cpu %= ch->nr_cpus;
			buf = ch->percpu[cpu];
		} else {
			buf = ch->percpu[0];
		}
		ctl = buf->ctl;
		nest = rbf_tls.nest;
		if (rbf_unlikely(nest >= ch->max_nesting))
			return reserve_fail(buf, ctx, 0, -ELOOP);
		rbf_tls.nest = nest + 1;
	}

	/* Pairs with rbf_channel_disable(): enabled = 0, then a grace
	 * period; a writer that saw 1 is inside the read-side section. */
	if (rbf_unlikely(!RBF_LOAD(ch->enabled)))
		return reserve_fail(buf, ctx, flags, -EPERM);
	if (rbf_unlikely(len > ch->max_payload))
		return reserve_fail(buf, ctx, flags, -EMSGSIZE);

	sb_mask = ch->sb_mask;
	for (;;) {
		uint64_t oin, prev;

		o = RBF_LOAD(ctl->offset);
		spec = NULL; /* from a failed try: not ours */
		if (clock == RBF_CLOCK_NONE) {
			ts = ts_user;
			ext = true;
		} else {
			uint64_t last = RBF_LOAD(ctl->last_ts);

			ts = clock_now(clock);
			ext = ts - last >= (1ull << 32) || ts < last ||
			      len > RBF_REC_COMPACT_MAX_LEN;
		}
		hsz = ext ? RBF_REC_EXT_SIZE : RBF_REC_HDR_SIZE;
		rsz = RBF_ALIGN(hsz + (uint64_t)len, RBF_REC_ALIGN);
		oin = o & sb_mask;
		/* Fits in the current sub-buffer (oin == 0: none open). */
		if (rbf_likely(oin - 1 < ch->subbuf_size - rsz)) {
			begin = o;
		} else {
			begin = (oin ? o + (ch->subbuf_size - oin) : o) +
				RBF_SB_HDR_SIZE;
			err = can_open(buf, rbf_seq_of(ch, begin));
			/* Judged on a stale position?  Another writer opened
			 * that sub-buffer meanwhile: just retry. */
			if (rbf_unlikely(err)) {
				if (RBF_LOAD(ctl->offset) != o)
					continue;
				return reserve_fail(buf, ctx, flags, err);
			}
		}
		if (alloc == RBF_ALLOC_PER_THREAD && ch->persistent &&
		    begin == o && buf->data &&
		    !pre_header(buf, o, ts, id, len, ext, rsz, &spec))
			continue;
		if (local)
			prev = rbf_local_cmpxchg(&ctl->offset, o, begin + rsz);
		else
			prev = rbf_shared_cmpxchg(&ctl->offset, o, begin + rsz);
		if (rbf_likely(prev == o))
			break;
	}
	RBF_STORE(ctl->last_ts, ts);

	ctx->len = (uint32_t)len;
	ctx->ts = ts;
	ctx->priv_flags = flags;
	ctx->priv_buf = buf;
	ctx->priv_pos = begin;
	ctx->priv_slot_len = rsz;

	/* Persistent per-thread buffer: the header is in place already. */
	if (alloc == RBF_ALLOC_PER_THREAD && spec &&
	    ((begin + rsz) & sb_mask) != 0) {
		if (rbf_unlikely(ext))
			rec_header_store(spec, ext, ts, id, len);
		ctx->data = spec + hsz;
		return 0;
	}

	/* Acquire: pairs with the CAS that gave this slot to our sequence
	 * (head.c); data is written only after it. */
	link = rbf_load_acquire(
		&buf->links[(uint32_t)(begin >> ch->subbuf_order) &
			    ch->slot_mask]);
	if (rbf_likely(begin == o && ((begin + rsz) & sb_mask) != 0 &&
		       buf->data &&
		       rbf_link_tag_is(link, begin >> ch->subbuf_order))) {
		char *p = buf->data +
			  ((uint64_t)rbf_link_phys(link) << ch->subbuf_order) +
			  (begin & sb_mask);
		rec_header_store(p, ext, ts, id, len);
		ctx->data = p + hsz;
		return 0;
	}
	err = reserve_finish_slow(buf, ctx, o, begin, rsz, hsz, id, len, ts,
				  local);
	if (rbf_unlikely(err)) {
		/*
		 * Only a corrupted control block (a damaged shared file)
		 * gets here, after the CAS: the space stays reserved and is
		 * never committed, so the reader will not receive the
		 * sub-buffer.
		 */
		return reserve_fail(buf, ctx, flags, -EIO);
	}
	return 0;
}

/*
 * After a successful CAS that crossed or reached a sub-buffer boundary:
 * close the old sub-buffer when the reservation took its end, then open the
 * new one (make sure its slot is free, write its begin fields, commit the
 * header).
 */
static int reserve_switch(struct rbf_buffer *buf, uint64_t o, uint64_t begin,
			  uint64_t ts, bool local)
{
	struct rbf_channel *ch = buf->ch;
	uint64_t oin = o & rbf_sb_mask(ch);
	uint64_t w = rbf_seq_of(ch, begin);
	uint64_t link;
	int ret;

	if (oin) {
		ret = sb_close(buf, rbf_seq_of(ch, o), (uint32_t)oin, ts,
			       (uint32_t)(ch->subbuf_size - oin), local);
		if (ret)
			return ret;
	}
	ret = rbf_slot_ensure(buf, w, &link);
	if (ret)
		return ret;
	sb_write_begin(buf, rbf_link_phys(link), w, ts);
	commit_add(buf, rbf_slot_of(ch, w), RBF_SB_HDR_SIZE, local);
	return 0;
}

/*
 * The rest of a reservation that crossed a sub-buffer boundary, ends one
 * exactly, waits for its slot (overwrite mode, ring full) or lives in
 * device memory.
 */
static __attribute__((noinline)) int
reserve_finish_slow(struct rbf_buffer *buf, struct rbf_wctx *ctx, uint64_t o,
		    uint64_t begin, uint64_t rsz, uint32_t hsz, uint16_t id,
		    size_t len, uint64_t ts, bool local)
{
	struct rbf_channel *ch = buf->ch;
	uint64_t mask = rbf_sb_mask(ch);
	uint64_t link, doff;
	int err;

	if (begin != o) {
		err = reserve_switch(buf, o, begin, ts, local);
		if (err)
			return err;
	}
	err = rbf_slot_ensure(buf, rbf_seq_of(ch, begin), &link);
	if (err)
		return err;
	/* The record fills its sub-buffer exactly: its writer closes it,
	 * before its own commit, so the sub-buffer cannot complete first. */
	if (((begin + rsz) & mask) == 0)
		sb_close(buf, rbf_seq_of(ch, begin), ch->subbuf_size, ts, 0,
			 local);

	doff = rbf_phys_off(ch, rbf_link_phys(link)) + (begin & mask);
	ctx->priv_data_off = doff + hsz;
	if (buf->data) {
		char *p = buf->data + doff;

		rec_header_store(p, hsz == RBF_REC_EXT_SIZE, ts, id, len);
		ctx->data = p + hsz;
	} else {
		struct rbf_record_header_ext h;

		h.ts_low = (uint32_t)ts;
		h.id = id;
		h.len = hsz == RBF_REC_EXT_SIZE ? RBF_REC_EXT : (uint16_t)len;
		h.ts_high = (uint32_t)(ts >> 32);
		h.length = (uint32_t)len;
		err = rbf_data_store(buf, doff, &h, hsz);
		ctx->data = NULL;
		if (err)
			return err;
	}
	return 0;
}

/* Header size of the reservation in @ctx: the record takes
 * RBF_ALIGN(header + len, 8) bytes, and headers are 8 or 16 bytes. */
static inline uint64_t hdr_size(const struct rbf_wctx *ctx)
{
	return ctx->priv_slot_len - RBF_ALIGN((uint64_t)ctx->len, 8);
}

/* The commit mark in device memory: read-modify-write of the header's
 * first word (the record is 8-byte aligned and owned by this writer). */
static __attribute__((noinline)) void mark_committed_dev(struct rbf_wctx *ctx)
{
	struct rbf_record_header h;
	uint64_t off = ctx->priv_data_off - hdr_size(ctx);

	if (rbf_data_load(ctx->priv_buf, off, &h, sizeof(h)))
		return;
	h.len |= RBF_REC_COMMITTED;
	rbf_data_store(ctx->priv_buf, off, &h, sizeof(h));
}

static inline __attribute__((always_inline)) int do_commit(struct rbf_wctx *ctx)
{
	struct rbf_buffer *buf;
	struct rbf_channel *ch;
	uint32_t flags;

	if (rbf_unlikely(!ctx || !(ctx->priv_flags & RBF_WCTX_ACTIVE)))
		return -EINVAL;
	buf = ctx->priv_buf;
	ch = buf->ch;
	flags = ctx->priv_flags;
	ctx->priv_flags = 0;
	/* The payload is stored before the mark (program order is enough:
	 * a crash reader runs after the writer is gone), the mark before
	 * the commit word (its release). */
	cmm_barrier();
	if (rbf_likely(ctx->data != NULL))
		*(uint16_t *)((char *)ctx->data - hdr_size(ctx) + 6) |=
			RBF_REC_COMMITTED;
	else
		mark_committed_dev(ctx);
	commit_add(buf, rbf_slot_of(ch, rbf_seq_of(ch, ctx->priv_pos)),
		   RBF_COMMIT_REC_ONE + ctx->priv_slot_len,
		   flags & RBF_WCTX_LOCAL);
	leave(buf, flags);
	return 0;
}

/* A channel attached by a reader process (mmap-file) takes no writes. */
static __attribute__((noinline, cold)) int write_attached(struct rbf_wctx *ctx)
{
	if (ctx)
		ctx->priv_flags = 0;
	return -EPERM;
}

RBF_API int rbf_reserve(struct rbf_channel *ch, struct rbf_wctx *ctx,
			uint16_t id, size_t len)
{
	if (rbf_unlikely(ch && ch->attached))
		return write_attached(ctx);
	return do_reserve(ch, ctx, id, len, 0, ch ? ch->alloc : 0,
			  ch ? ch->clock : 0);
}

RBF_API int rbf_reserve_ts(struct rbf_channel *ch, struct rbf_wctx *ctx,
			   uint16_t id, size_t len, uint64_t ts)
{
	if (!ch || ch->clock != RBF_CLOCK_NONE)
		return -EINVAL;
	if (rbf_unlikely(ch->attached))
		return write_attached(ctx);
	return do_reserve(ch, ctx, id, len, ts, ch->alloc, RBF_CLOCK_NONE);
}

RBF_API int rbf_commit(struct rbf_wctx *ctx)
{
	return do_commit(ctx);
}

/* Copy to device memory in whole aligned words, patching partial ends. */
static int store_unaligned(struct rbf_buffer *buf, uint64_t off,
			   const void *src, size_t n)
{
	const unsigned char *s = src;
	unsigned char word[8];
	int ret;

	while (n) {
		uint64_t base = off & ~7ull;
		size_t skip = (size_t)(off - base);
		size_t take = 8 - skip;

		if (take > n)
			take = n;
		if (skip == 0 && n >= 8) {
			size_t whole = n & ~(size_t)7;

			ret = rbf_data_store(buf, off, s, whole);
			if (ret)
				return ret;
			off += whole;
			s += whole;
			n -= whole;
			continue;
		}
		ret = rbf_data_load(buf, base, word, 8);
		if (ret)
			return ret;
		memcpy(word + skip, s, take);
		ret = rbf_data_store(buf, base, word, 8);
		if (ret)
			return ret;
		off += take;
		s += take;
		n -= take;
	}
	return 0;
}

RBF_API int rbf_wctx_write(struct rbf_wctx *ctx, size_t off, const void *src,
			   size_t n)
{
	if (!ctx || !(ctx->priv_flags & RBF_WCTX_ACTIVE) || (!src && n))
		return -EINVAL;
	if (off > ctx->len || n > ctx->len - off)
		return -EINVAL;
	if (ctx->data) {
		memcpy((char *)ctx->data + off, src, n);
		return 0;
	}
	return store_unaligned(ctx->priv_buf, ctx->priv_data_off + off, src, n);
}

/* memcpy without a call for the small payloads tracers write most. */
static inline void copy_small(void *dst, const void *src, size_t len)
{
	if (len == 8) {
		memcpy(dst, src, 8);
	} else if (len <= 16 && len >= 8) {
		memcpy(dst, src, 8);
		memcpy((char *)dst + len - 8, (const char *)src + len - 8, 8);
	} else if (len <= 64 && len >= 16) {
		size_t i;

		for (i = 0; i + 16 <= len; i += 16)
			memcpy((char *)dst + i, (const char *)src + i, 16);
		memcpy((char *)dst + len - 16, (const char *)src + len - 16,
		       16);
	} else {
		memcpy(dst, src, len);
	}
}

/* GCC cannot see that a successful do_reserve() filled the context. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
static inline __attribute__((always_inline)) int
write_common(struct rbf_channel *ch, uint16_t id, const void *src, size_t len,
	     uint64_t ts, const enum rbf_alloc alloc,
	     const enum rbf_clock clock)
{
	struct rbf_wctx ctx;
	int ret;

	if (rbf_unlikely(!src && len))
		return -EINVAL;
	ret = do_reserve(ch, &ctx, id, len, ts, alloc, clock);
	if (rbf_unlikely(ret))
		return ret;
	if (rbf_likely(ctx.data != NULL)) {
		copy_small(ctx.data, src, len);
	} else if (rbf_unlikely(store_unaligned(ctx.priv_buf, ctx.priv_data_off,
						src, len))) {
		/* The device refused the payload.  The space must still be
		 * committed (or the sub-buffer would never complete); the
		 * event is delivered with whatever the device holds. */
		do_commit(&ctx);
		return -EIO;
	}
	return do_commit(&ctx);
}

/*
 * One specialized copy of the write path per allocation mode and clock: the
 * channel's constant configuration then folds away, and each copy keeps only
 * its own state in registers.  rbf_write() picks one with direct calls.
 */
#define RBF_WRITE_VARIANT(name, a, c)                                          \
	static __attribute__((noinline)) int name(struct rbf_channel *ch,      \
						  uint16_t id,                 \
						  const void *src, size_t len, \
						  uint64_t ts)                 \
	{                                                                      \
		return write_common(ch, id, src, len, ts, a, c);               \
	}

RBF_WRITE_VARIANT(write_cpu_none, RBF_ALLOC_PER_CPU, RBF_CLOCK_NONE)
RBF_WRITE_VARIANT(write_cpu_tsc, RBF_ALLOC_PER_CPU, RBF_CLOCK_TSC)
RBF_WRITE_VARIANT(write_cpu_mono, RBF_ALLOC_PER_CPU, RBF_CLOCK_MONOTONIC)
RBF_WRITE_VARIANT(write_thr_none, RBF_ALLOC_PER_THREAD, RBF_CLOCK_NONE)
RBF_WRITE_VARIANT(write_thr_tsc, RBF_ALLOC_PER_THREAD, RBF_CLOCK_TSC)
RBF_WRITE_VARIANT(write_thr_mono, RBF_ALLOC_PER_THREAD, RBF_CLOCK_MONOTONIC)
RBF_WRITE_VARIANT(write_glb_none, RBF_ALLOC_GLOBAL, RBF_CLOCK_NONE)
RBF_WRITE_VARIANT(write_glb_tsc, RBF_ALLOC_GLOBAL, RBF_CLOCK_TSC)
RBF_WRITE_VARIANT(write_glb_mono, RBF_ALLOC_GLOBAL, RBF_CLOCK_MONOTONIC)

static inline int write_dispatch(struct rbf_channel *ch, uint16_t id,
				 const void *src, size_t len, uint64_t ts)
{
	if (rbf_unlikely(ch->attached))
		return write_attached(NULL);
	if (ch->alloc == RBF_ALLOC_PER_THREAD) {
		if (ch->clock == RBF_CLOCK_NONE)
			return write_thr_none(ch, id, src, len, ts);
		if (ch->clock == RBF_CLOCK_TSC)
			return write_thr_tsc(ch, id, src, len, ts);
		return write_thr_mono(ch, id, src, len, ts);
	}
	if (ch->alloc == RBF_ALLOC_PER_CPU) {
		if (ch->clock == RBF_CLOCK_NONE)
			return write_cpu_none(ch, id, src, len, ts);
		if (ch->clock == RBF_CLOCK_TSC)
			return write_cpu_tsc(ch, id, src, len, ts);
		return write_cpu_mono(ch, id, src, len, ts);
	}
	if (ch->clock == RBF_CLOCK_NONE)
		return write_glb_none(ch, id, src, len, ts);
	if (ch->clock == RBF_CLOCK_TSC)
		return write_glb_tsc(ch, id, src, len, ts);
	return write_glb_mono(ch, id, src, len, ts);
}

RBF_API int rbf_write(struct rbf_channel *ch, uint16_t id, const void *src,
		      size_t len)
{
	if (rbf_unlikely(!ch))
		return -EINVAL;
	return write_dispatch(ch, id, src, len, 0);
}

RBF_API int rbf_write_ts(struct rbf_channel *ch, uint16_t id, const void *src,
			 size_t len, uint64_t ts)
{
	if (!ch || ch->clock != RBF_CLOCK_NONE)
		return -EINVAL;
	return write_dispatch(ch, id, src, len, ts);
}
#pragma GCC diagnostic pop

/*
 * Reader-side switch: move the write position to the end of the current
 * sub-buffer and close it.  The caller guarantees that shared atomics are
 * safe on this buffer (per-CPU/global, or a per-thread buffer whose owner
 * is outside any write and sees flush_req).
 */
int rbf_switch_close(struct rbf_buffer *buf)
{
	struct rbf_channel *ch = buf->ch;
	struct rbf_ctl *ctl = buf->ctl;
	uint64_t mask = rbf_sb_mask(ch);

	for (;;) {
		uint64_t o = RBF_LOAD(ctl->offset);
		uint64_t oin = o & mask;
		uint64_t ts;

		if (oin == 0)
			return 0; /* closed by its last writer already */
		ts = ch->clock == RBF_CLOCK_NONE ? RBF_LOAD(ctl->last_ts) :
						   clock_now(ch->clock);
		if (rbf_shared_cmpxchg(&ctl->offset, o,
				       o + (ch->subbuf_size - oin)) != o)
			continue;
		return sb_close(buf, rbf_seq_of(ch, o), (uint32_t)oin, ts,
				(uint32_t)(ch->subbuf_size - oin), false);
	}
}
