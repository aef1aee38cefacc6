/* SPDX-License-Identifier: MIT */
/*
 * frontend/reader.c - the reader side: sub-buffer exchange, flush, buffer
 * enumeration and reaping.
 *
 * Reader protocol for one buffer (under the channel's reader lock):
 *
 *   s = read_seq; l = link[s mod N]
 *   tag(l) newer than s      -> s was overwritten (a writer decided it); s++
 *   tag(l) older than s      -> s not written yet: -EAGAIN
 *   UPDATE set               -> s being overwritten; s++
 *   commit word of s short   -> a writer has not committed yet: -EAGAIN
 *   HEAD missing             -> place it (s - 1 is decided: we passed it)
 *   CAS (P, HEAD, s) -> (spare, -, s+N)   the exchange; on failure retry
 *
 * The acquire load of the commit word pairs with every writer's release in
 * rbf_commit(): once the byte count says "complete", every record of the
 * sub-buffer and both header halves are visible.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu/urcu-bp.h>

#include "internal.h"

RBF_API int rbf_channel_buffers(struct rbf_channel *ch,
				struct rbf_buffer **bufs, size_t cap)
{
	struct rbf_buffer *buf;
	size_t n = 0, total = 0;

	if (!ch || (!bufs && cap))
		return -EINVAL;
	pthread_mutex_lock(&ch->rlock);
	if (ch->refresh)
		ch->refresh(ch);
	/* The list is newest first; report oldest (lowest id) first. */
	for (buf = ch->list; buf; buf = buf->next)
		total++;
	for (buf = ch->list; buf; buf = buf->next) {
		size_t pos = total - 1 - n++;

		if (pos < cap)
			bufs[pos] = buf;
	}
	pthread_mutex_unlock(&ch->rlock);
	return total > 0x7fffffff ? 0x7fffffff : (int)total;
}

RBF_API int rbf_buffer_get_info(struct rbf_buffer *buf,
				struct rbf_buffer_info *info)
{
	if (!buf || !info || info->size < sizeof(*info))
		return -EINVAL;
	info->id = buf->id;
	info->cpu = buf->cpu;
	info->tid = buf->tid;
	info->dead = RBF_LOAD(buf->dead);
	info->numa_node = buf->mem.numa_node;
	return 0;
}

/* Make the bytes of phys sub-buffer @phys (content @size) CPU-readable. */
static const void *subbuf_bytes(struct rbf_buffer *buf, uint32_t phys,
				uint32_t size, int *err)
{
	uint64_t off = rbf_phys_off(buf->ch, phys);

	if (buf->data)
		return buf->data + off;
	*err = rbf_data_load(buf, off, buf->rs.bounce,
			     RBF_ALIGN(size, (uint32_t)8));
	return *err ? NULL : buf->rs.bounce;
}

static int header_load(struct rbf_buffer *buf, uint32_t phys,
		       struct rbf_subbuf_header *h)
{
	uint64_t off = rbf_phys_off(buf->ch, phys);

	if (buf->data) {
		memcpy(h, buf->data + off, sizeof(*h));
		return 0;
	}
	return rbf_data_load(buf, off, h, sizeof(*h));
}

static int header_valid(struct rbf_buffer *buf,
			const struct rbf_subbuf_header *h, uint64_t seq)
{
	return h->magic == RBF_SUBBUF_MAGIC &&
	       h->header_size == RBF_SB_HDR_SIZE &&
	       h->content_size >= RBF_SB_HDR_SIZE &&
	       h->content_size <= buf->ch->subbuf_size &&
	       h->subbuf_size == buf->ch->subbuf_size && h->seq == seq;
}

int rbf_subbuf_get_locked(struct rbf_buffer *buf, struct rbf_subbuf *sb)
{
	struct rbf_channel *ch = buf->ch;
	struct rbf_ctl *ctl = buf->ctl;
	uint64_t *links = buf->links;
	uint64_t n = ch->num_subbuf;
	uint64_t budget = 64 * n + 4096;

	if (ctl->held || buf->rs.cur_valid)
		return -EBUSY;
	/* Device memory is read from a copy: allocate it before taking a
	 * sub-buffer, so that a failure cannot lose one. */
	if (!buf->data && !buf->rs.bounce) {
		buf->rs.bounce = malloc(ch->subbuf_size);
		if (!buf->rs.bounce)
			return -ENOMEM;
	}
	while (budget--) {
		uint64_t s = ctl->read_seq;
		uint64_t h = RBF_LOAD(ctl->head_seq);
		uint32_t slot;
		uint64_t l, t, cc, nl;
		uint32_t rec, phys;
		struct rbf_subbuf_header hdr;
		int err = 0;

		/* Everything below the head hint was decided: when writers
		 * lapped us, jump instead of stepping through it. */
		if ((int64_t)(h - s) > 0)
			ctl->read_seq = s = h;
		slot = rbf_slot_of(ch, s);
		l = rbf_load_acquire(&links[slot]);
		t = rbf_tag_to_seq(rbf_link_tag(l), s + n);

		if (t != s) {
			if ((int64_t)(t - s) > 0) {
				/* Overwritten: the pusher counted it. */
				ctl->read_seq = s + 1;
				continue;
			}
			return -EAGAIN;
		}
		if (l & RBF_LINK_UPDATE) {
			ctl->read_seq = s + 1;
			continue;
		}
		cc = rbf_read_cc(buf, slot);
		if (!rbf_seq_complete(ch, cc, s))
			return -EAGAIN;
		if (!(l & RBF_LINK_HEAD)) {
			rbf_shared_cmpxchg(&links[slot], l, l | RBF_LINK_HEAD);
			continue;
		}
		rec = rbf_cc_records(ch, cc, s);
		nl = rbf_link_make(ctl->spare, 0, s + n, rec);
		/* The exchange: races with a writer's push on this word. */
		if (rbf_shared_cmpxchg(&links[slot], l, nl) != l)
			continue;

		phys = rbf_link_phys(l);
		ctl->held = phys + 1;
		ctl->spare = UINT32_MAX;
		ctl->read_seq = s + 1;
		rec = (rec - rbf_link_rdec(l)) & RBF_LINK_RDEC_MASK;
		RBF_STORE(ctl->stats.read, ctl->stats.read + rec);
		RBF_STORE(ctl->stats.subbufs_read, ctl->stats.subbufs_read + 1);
		rbf_head_place(buf, s + 1);
		rbf_head_hint_advance(buf, s + 1);

		memset(sb, 0, sizeof(*sb));
		sb->priv_buf = buf;
		sb->priv_phys = phys;
		sb->priv_held = 1;
		sb->seq = s;
		sb->records = rec;
		if (header_load(buf, phys, &hdr) ||
		    !header_valid(buf, &hdr, s)) {
			/* Cannot happen unless the memory was corrupted. */
			rbf_subbuf_put_locked(buf, sb);
			return -EIO;
		}
		sb->size = hdr.content_size;
		sb->ts_begin = hdr.ts_begin;
		sb->ts_end = hdr.ts_end;
		sb->priv_ts = hdr.ts_begin;
		sb->priv_bytes =
			subbuf_bytes(buf, phys, hdr.content_size, &err);
		if (!sb->priv_bytes) {
			rbf_subbuf_put_locked(buf, sb);
			return err;
		}
		sb->data = buf->data ? sb->priv_bytes : NULL;
		if (ch->be->size >= sizeof(struct rbf_backend) && ch->be->sync)
			ch->be->sync(ch->be_priv, &buf->mem,
				     rbf_phys_off(ch, phys), ch->subbuf_size);
		return 0;
	}
	return -EIO;
}

int rbf_subbuf_put_locked(struct rbf_buffer *buf, struct rbf_subbuf *sb)
{
	struct rbf_ctl *ctl = buf->ctl;

	if (!sb->priv_held || sb->priv_buf != buf ||
	    ctl->held != sb->priv_phys + 1)
		return -EINVAL;
	/* Persistent buffers: the spare goes back to the ring zero-filled,
	 * so a record a writer reserves and is killed before storing reads
	 * as empty space to crash recovery (doc/design.md). */
	if (buf->ch->persistent && buf->data)
		memset(buf->data + rbf_phys_off(buf->ch, sb->priv_phys), 0,
		       buf->ch->subbuf_size);
	ctl->spare = sb->priv_phys;
	ctl->held = 0;
	sb->priv_held = 0;
	return 0;
}

RBF_API int rbf_subbuf_get(struct rbf_buffer *buf, struct rbf_subbuf *sb)
{
	int ret;
	int saved = errno;

	if (!buf || !sb)
		return -EINVAL;
	pthread_mutex_lock(&buf->ch->rlock);
	ret = rbf_subbuf_get_locked(buf, sb);
	pthread_mutex_unlock(&buf->ch->rlock);
	errno = saved;
	return ret;
}

RBF_API int rbf_subbuf_put(struct rbf_buffer *buf, struct rbf_subbuf *sb)
{
	int ret;

	if (!buf || !sb)
		return -EINVAL;
	pthread_mutex_lock(&buf->ch->rlock);
	ret = rbf_subbuf_put_locked(buf, sb);
	pthread_mutex_unlock(&buf->ch->rlock);
	return ret;
}

RBF_API int rbf_subbuf_read(const struct rbf_subbuf *sb, size_t off, void *dst,
			    size_t n)
{
	if (!sb || !sb->priv_held || !sb->priv_bytes || (!dst && n))
		return -EINVAL;
	if (off > sb->size || n > sb->size - off)
		return -EINVAL;
	memcpy(dst, (const char *)sb->priv_bytes + off, n);
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_us(long us)
{
	struct timespec ts = { 0, us * 1000 };

	nanosleep(&ts, NULL);
}

/* Durability hook after a flush: the backend syncs what it must. */
static int flush_sync(struct rbf_buffer *buf, int ret)
{
	const struct rbf_backend *be = buf->ch->be;

	if (ret || be->size < sizeof(struct rbf_backend) || !be->sync)
		return ret;
	return be->sync(buf->ch->be_priv, &buf->mem, 0,
			(size_t)(buf->ch->num_subbuf + 1) *
				buf->ch->subbuf_size);
}

static int flush_locked(struct rbf_buffer *buf);

int rbf_buffer_flush_locked(struct rbf_buffer *buf)
{
	return flush_sync(buf, flush_locked(buf));
}

static int flush_locked(struct rbf_buffer *buf)
{
	struct rbf_ctl *ctl = buf->ctl;
	uint64_t t0;
	int i, ret;

	/* A reader in another process cannot stop a live per-thread writer
	 * that uses non-LOCK instructions (mmap-file attach). */
	if (buf->ch->attached && buf->ch->alloc == RBF_ALLOC_PER_THREAD &&
	    !RBF_LOAD(buf->dead))
		return -EOPNOTSUPP;
	if (!buf->local || RBF_LOAD(buf->dead))
		return rbf_switch_close(buf);
	/*
	 * The owner writes with non-LOCK instructions, which another CPU's
	 * CAS could interleave with.  Ask it to use locked ones (flush_req),
	 * make the request visible to it with membarrier() (the full barrier
	 * its fast path omits), then wait until it is outside every write
	 * that may have started before the request.
	 */
	RBF_STORE(ctl->flush_req, 1);
	if (rbf_membarrier()) {
		RBF_STORE(ctl->flush_req, 0);
		return -EAGAIN;
	}
	for (i = 0, t0 = now_ns(); now_ns() - t0 < 10000000ull; i++) {
		/* Acquire: pairs with the owner's release of wr_nest. */
		if (rbf_load_acquire32(&ctl->wr_nest) == 0)
			break;
		if (i < 50)
			sched_yield();
		else
			sleep_us(10);
	}
	if (rbf_load_acquire32(&ctl->wr_nest) != 0) {
		RBF_STORE(ctl->flush_req, 0);
		return -EAGAIN;
	}
	ret = rbf_switch_close(buf);
	rbf_store_release32(&ctl->flush_req, 0);
	return ret;
}

RBF_API int rbf_buffer_flush(struct rbf_buffer *buf)
{
	int ret;
	int saved = errno;

	if (!buf)
		return -EINVAL;
	pthread_mutex_lock(&buf->ch->rlock);
	ret = rbf_buffer_flush_locked(buf);
	pthread_mutex_unlock(&buf->ch->rlock);
	errno = saved;
	return ret;
}

RBF_API int rbf_channel_flush(struct rbf_channel *ch)
{
	struct rbf_buffer *buf;
	int ret = 0, r, saved = errno;

	if (!ch)
		return -EINVAL;
	pthread_mutex_lock(&ch->rlock);
	if (ch->refresh)
		ch->refresh(ch);
	for (buf = ch->list; buf; buf = buf->next) {
		r = rbf_buffer_flush_locked(buf);
		if (r && !ret)
			ret = r;
	}
	pthread_mutex_unlock(&ch->rlock);
	errno = saved;
	return ret;
}

/* Everything committed has been taken by the reader and given back. */
static bool drained(struct rbf_buffer *buf)
{
	struct rbf_stats st;

	st.size = sizeof(st);
	rbf_buffer_stats_locked(buf, &st);
	return st.buffered == 0 && !buf->ctl->held && !buf->rs.cur_valid &&
	       !buf->rs.peek_valid;
}

static void unlink_buffer(struct rbf_channel *ch, struct rbf_buffer *victim)
{
	struct rbf_buffer *p;

	/* Writers only ever push at the head, with a CAS. */
	if (uatomic_cmpxchg(&ch->list, victim, victim->next) == victim)
		return;
	for (p = ch->list; p; p = p->next) {
		if (p->next == victim) {
			rcu_assign_pointer(p->next, victim->next);
			return;
		}
	}
}

RBF_API int rbf_channel_reap(struct rbf_channel *ch)
{
	struct rbf_buffer *buf, *next, *dead = NULL;
	int count = 0, saved = errno;

	if (!ch)
		return -EINVAL;
	if (ch->alloc != RBF_ALLOC_PER_THREAD || ch->attached)
		return 0;
	pthread_mutex_lock(&ch->rlock);
	for (buf = ch->list; buf; buf = next) {
		next = buf->next;
		if (!RBF_LOAD(buf->dead) && rbf_tid_alive(buf->tid))
			continue;
		RBF_STORE(buf->dead, 1);
		rbf_switch_close(buf);
		if (!drained(buf))
			continue;
		unlink_buffer(ch, buf);
		buf->next = dead;
		dead = buf;
		count++;
	}
	if (dead) {
		/* No writer may still hold a pointer to a freed buffer. */
		urcu_bp_synchronize_rcu();
		for (buf = dead; buf; buf = next) {
			struct rbf_stats st;

			next = buf->next;
			st.size = sizeof(st);
			rbf_buffer_stats_locked(buf, &st);
			rbf_stats_add(&ch->retired, &st);
			rbf_buffer_destroy(buf);
		}
	}
	pthread_mutex_unlock(&ch->rlock);
	errno = saved;
	return count;
}
