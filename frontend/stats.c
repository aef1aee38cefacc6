/* SPDX-License-Identifier: MIT */
/*
 * frontend/stats.c - statistics of buffers and channels.
 *
 * Counted where they happen: losses by the failing writer, overwritten
 * events by the writer whose CAS pushed the head (once per sub-buffer),
 * read events by the reader's exchange.  Committed events are not counted
 * on the write path at all: every commit adds 2^40 to its slot's commit word,
 * so the events of a sub-buffer are known exactly when it is decided
 * (ctl.h), and the events still buffered are derived from the commit words
 * of undecided slots.  Hence committed = read + overwritten + buffered, and
 * written = committed + lost, exactly whenever no write is between reserve
 * and commit.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static uint64_t buffered_events(struct rbf_buffer *buf)
{
	struct rbf_channel *ch = buf->ch;
	struct rbf_ctl *ctl = buf->ctl;
	uint64_t *links = buf->links;
	uint64_t hi = rbf_seq_of(ch, RBF_LOAD(ctl->offset)) + ch->num_subbuf;
	uint64_t sum = 0;
	uint32_t i;

	for (i = 0; i < ch->num_subbuf; i++) {
		uint64_t l = rbf_load_acquire(&links[i]);
		uint64_t seq, gen0, cc, bytes, rec;

		if (l & RBF_LINK_UPDATE)
			continue; /* decided: counted as overwritten */
		/* N divides 2^22: the tag also names the slot. */
		seq = rbf_tag_to_seq(rbf_link_tag(l), hi);
		cc = rbf_read_cc(buf, i);
		gen0 = rbf_gen_of(ch, seq) * ch->subbuf_size;
		/* Bytes committed to this generation so far. */
		bytes = gen0 + ((cc - gen0) & RBF_COMMIT_BYTES_MASK);
		rec = ((cc - bytes) >> RBF_COMMIT_REC_SHIFT) &
		      RBF_LINK_RDEC_MASK;
		sum += (rec - rbf_link_rdec(l)) & RBF_LINK_RDEC_MASK;
	}
	return sum;
}

void rbf_buffer_stats_locked(struct rbf_buffer *buf, struct rbf_stats *st)
{
	struct rbf_ctl_stats *cs = &buf->ctl->stats;
	int i;

	memset((char *)st + sizeof(st->size), 0,
	       sizeof(*st) - sizeof(st->size));
	for (i = 0; i < RBF_LOST_NR; i++) {
		st->lost[i] = RBF_LOAD(cs->lost[i]);
		st->lost_total += st->lost[i];
	}
	st->read = RBF_LOAD(cs->read);
	st->overwritten = RBF_LOAD(cs->overwritten);
	st->subbufs_read = RBF_LOAD(cs->subbufs_read);
	st->subbufs_overwritten = RBF_LOAD(cs->subbufs_overwritten);
	st->buffered = buffered_events(buf);
	st->committed = st->read + st->overwritten + st->buffered;
	st->written = st->committed + st->lost_total;
}

void rbf_stats_add(struct rbf_stats *dst, const struct rbf_stats *src)
{
	int i;

	dst->written += src->written;
	dst->committed += src->committed;
	dst->read += src->read;
	dst->overwritten += src->overwritten;
	for (i = 0; i < RBF_LOST_NR; i++)
		dst->lost[i] += src->lost[i];
	dst->lost_total += src->lost_total;
	dst->buffered += src->buffered;
	dst->subbufs_read += src->subbufs_read;
	dst->subbufs_overwritten += src->subbufs_overwritten;
}

RBF_API int rbf_buffer_stats(struct rbf_buffer *buf, struct rbf_stats *st)
{
	if (!buf || !st || st->size < sizeof(*st))
		return -EINVAL;
	pthread_mutex_lock(&buf->ch->rlock);
	rbf_buffer_stats_locked(buf, st);
	pthread_mutex_unlock(&buf->ch->rlock);
	return 0;
}

RBF_API int rbf_channel_stats(struct rbf_channel *ch, struct rbf_stats *st)
{
	struct rbf_buffer *buf;
	struct rbf_stats one;
	int i;

	if (!ch || !st || st->size < sizeof(*st))
		return -EINVAL;
	memset((char *)st + sizeof(st->size), 0,
	       sizeof(*st) - sizeof(st->size));
	one.size = sizeof(one);
	pthread_mutex_lock(&ch->rlock);
	if (ch->refresh)
		ch->refresh(ch);
	for (buf = ch->list; buf; buf = buf->next) {
		rbf_buffer_stats_locked(buf, &one);
		rbf_stats_add(st, &one);
	}
	rbf_stats_add(st, &ch->retired);
	pthread_mutex_unlock(&ch->rlock);
	for (i = 0; i < RBF_LOST_NR; i++) {
		uint64_t n = RBF_LOAD(ch->lost_nobuf[i]);

		st->lost[i] += n;
		st->lost_total += n;
		st->written += n;
	}
	return 0;
}
