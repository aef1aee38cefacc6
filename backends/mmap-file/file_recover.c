/* SPDX-License-Identifier: MIT */
/*
 * backends/mmap-file/file_recover.c - write a clean, consistent copy of a
 * ring file (rbf_file_recover).
 *
 * The copy has the same layout.  In each buffer the sub-buffers the walk
 * reads (file_walk.c) become complete and closed:
 *
 *  - every uncommitted record (or run of never-written words) before the
 *    last committed record is overwritten by padding records (event id
 *    RBF_EVENT_ID_PAD, commit mark set, ts_low of the previous committed
 *    record, so the stamp deltas after it decode as before);
 *  - content_size ends after the last committed record; what follows
 *    (a malformed tail, uncommitted reservations, stale bytes) is zeroed;
 *  - the end fields are set (ts_end at least the last record's stamp);
 *  - the commit word says "complete" with exactly the events returned;
 *  - a sub-buffer the walk skipped whole becomes an empty closed one.
 *
 * The write position moves to the end of the newest such sub-buffer
 * (reservations beyond it were never written: dropped), slots that hold
 * nothing to read get the sequence numbers that follow, zero-filled
 * memory and commit words with no bytes, a slot being overwritten is
 * finalized, and the HEAD flag marks the oldest sub-buffer.
 *
 * A sub-buffer the reader held (taken, not given back) is put back into
 * the ring as the oldest readable one when its slot is free, its events
 * taken off the read counter: a reader that attaches to the copy gets
 * them.  Otherwise (every slot holds a newer readable sub-buffer) it stays
 * held: rbf_file_open() on the copy still returns its events, a reader
 * that attaches treats it as consumed.
 *
 * Header: state CLEAN, no reader; the checksummed part is unchanged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_internal.h"

struct out {
	int fd;
	unsigned char *zero; /* ZERO_CHUNK zero bytes */
};

#define ZERO_CHUNK (64u << 10)

static int write_at(struct out *o, const void *buf, size_t len, uint64_t off)
{
	return rbf_mmf_pwrite_all(o->fd, buf, len, off);
}

static int zero_at(struct out *o, uint64_t off, uint64_t len)
{
	while (len) {
		size_t n = len > ZERO_CHUNK ? ZERO_CHUNK : (size_t)len;
		int ret = write_at(o, o->zero, n, off);

		if (ret)
			return ret;
		off += n;
		len -= n;
	}
	return 0;
}

/* Padding records over [@pos, @pos + @size) of @sb (@size % 8 == 0). */
static void pad_fill(unsigned char *sb, uint32_t pos, uint32_t size,
		     uint32_t ts_low)
{
	while (size) {
		uint32_t chunk = size > RBF_FILE_PAD_MAX ? RBF_FILE_PAD_MAX :
							   size;
		struct rbf_record_header h;

		/* Never leave a piece too small for a header. */
		if (size - chunk && size - chunk < RBF_FILE_REC_SIZE)
			chunk -= RBF_REC_ALIGN;
		h.ts_low = ts_low;
		h.id = RBF_EVENT_ID_PAD;
		h.len = (uint16_t)((chunk - RBF_FILE_REC_SIZE) |
				   RBF_REC_COMMITTED);
		memcpy(sb + pos, &h, sizeof(h));
		memset(sb + pos + RBF_FILE_REC_SIZE, 0,
		       chunk - RBF_FILE_REC_SIZE);
		pos += chunk;
		size -= chunk;
	}
}

static uint64_t lost_total(const struct rbf_fbuf *b)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < RBF_LOST_NR; i++)
		sum += b->ctl.stats.lost[i];
	return sum;
}

/* What the walk produced for sub-buffer k. */
struct sb_out {
	uint64_t events;
};

/* Scratch after the nr_data entries of @so: one slot index per ring slot
 * (allocated together in rbf_file_recover). */
static uint32_t *so_slots(struct sb_out *so, uint32_t n)
{
	return (uint32_t *)(so + n + 1);
}

static uint64_t commit_off(uint32_t n)
{
	return sizeof(struct rbf_ctl) +
	       RBF_ALIGN((uint64_t)n * 8, (uint64_t)RBF_CACHELINE);
}

/*
 * Rewrite the readable sub-buffers of @b in the copy; fills @so[k].
 * @sb: scratch of subbuf_size bytes.
 */
static int subbufs_write(const struct rbf_file *f, const struct rbf_fbuf *b,
			 struct out *o, unsigned char *sb, struct sb_out *so)
{
	uint32_t S = f->hdr.subbuf_size;
	struct rbf_subbuf_header h;
	struct rbf_fwalk w;
	struct rbf_fitem it;
	uint32_t last_end = RBF_FILE_SBH_SIZE;
	uint64_t ts_last = 0;
	int ret;

	rbf_fwalk_init(&w, f, b);
	for (;;) {
		const struct rbf_fsb *s;
		uint64_t off;

		rbf_fwalk_next(&w, &it);
		if (it.kind == RBF_FITEM_END)
			return 0;
		s = &b->sb[it.k];
		off = b->data_off + ((uint64_t)s->phys << f->sb_order);
		switch (it.kind) {
		case RBF_FITEM_SB_BEGIN:
			rbf_file_copy_words(sb, rbf_file_phys(f, b, s->phys),
					    S);
			last_end = RBF_FILE_SBH_SIZE;
			ts_last = it.sum.ts_begin;
			so[it.k].events = 0;
			break;
		case RBF_FITEM_EVENT:
		case RBF_FITEM_PAD:
			so[it.k].events += it.kind == RBF_FITEM_EVENT;
			last_end = it.pos + it.size;
			ts_last = it.ts;
			break;
		case RBF_FITEM_UNCOMMITTED:
			/* w.prev_ts: the stamp the next record decodes
			 * against; padding keeps it. */
			pad_fill(sb, it.pos, it.size, (uint32_t)w.prev_ts);
			break;
		case RBF_FITEM_SB_END:
			memcpy(&h, sb, sizeof(h));
			/* Begin fields: as walked (rebuilt if the opener
			 * never wrote them). */
			h.magic = RBF_SUBBUF_MAGIC;
			h.header_size = RBF_FILE_SBH_SIZE;
			h.seq = s->seq;
			h.ts_begin = it.sum.ts_begin;
			h.buffer_id = b->id;
			h.content_size = last_end;
			h.subbuf_size = S;
			if (!it.sum.end_valid) {
				h.ts_end = 0;
				h.lost = lost_total(b);
				h.overwritten = b->ctl.stats.overwritten;
			}
			if (h.ts_end < ts_last)
				h.ts_end = ts_last;
			if (h.ts_end < h.ts_begin)
				h.ts_end = h.ts_begin;
			memcpy(sb, &h, sizeof(h));
			memset(sb + last_end, 0, S - last_end);
			ret = write_at(o, sb, S, off);
			if (ret)
				return ret;
			break;
		case RBF_FITEM_SB_BAD:
			/* Unreadable: an empty, closed sub-buffer that
			 * keeps the stamps in order. */
			memset(sb, 0, S);
			memset(&h, 0, sizeof(h));
			h.magic = RBF_SUBBUF_MAGIC;
			h.header_size = RBF_FILE_SBH_SIZE;
			h.content_size = RBF_FILE_SBH_SIZE;
			h.subbuf_size = S;
			h.seq = s->seq;
			h.ts_begin = w.run_ts;
			h.ts_end = w.run_ts;
			h.lost = lost_total(b);
			h.overwritten = b->ctl.stats.overwritten;
			h.buffer_id = b->id;
			memcpy(sb, &h, sizeof(h));
			so[it.k].events = 0;
			ret = write_at(o, sb, S, off);
			if (ret)
				return ret;
			break;
		default:
			break;
		}
	}
}

/* A control block as rbf_buffer_create() initializes it. */
static void ctl_fresh_init(const struct rbf_file *f, const struct rbf_fbuf *b,
			   unsigned char *blk)
{
	uint32_t n = f->hdr.num_subbuf, i;
	struct rbf_ctl c;
	uint64_t l;

	memset(&c, 0, sizeof(c));
	c.magic = RBF_CTL_MAGIC;
	c.layout_version = RBF_CTL_LAYOUT_VERSION;
	c.word_size = f->hdr.word_size;
	c.byte_order = f->hdr.byte_order;
	c.ctl_size = (uint32_t)rbf_ctl_size(n);
	c.subbuf_size = f->hdr.subbuf_size;
	c.num_subbuf = n;
	c.nr_data = n + 1;
	c.mode = f->hdr.mode;
	c.clock = f->hdr.clock;
	c.buffer_id = b->id;
	c.link_off = sizeof(struct rbf_ctl);
	c.commit_off = sizeof(struct rbf_ctl) +
		       RBF_ALIGN((uint64_t)n * 8, (uint64_t)RBF_CACHELINE);
	c.spare = n;
	memset(blk, 0, c.ctl_size);
	memcpy(blk, &c, sizeof(c));
	for (i = 0; i < n; i++) {
		l = rbf_link_make(i, i == 0 ? RBF_LINK_HEAD : 0, i, 0);
		memcpy(blk + c.link_off + 8ull * i, &l, 8);
	}
}

static int buffer_recover(const struct rbf_file *f, const struct rbf_fbuf *b,
			  struct out *o, unsigned char *sb, unsigned char *blk,
			  unsigned char *used, struct sb_out *so)
{
	uint32_t n = f->hdr.num_subbuf, nr_data = n + 1, i, k, first = 0;
	uint64_t S = f->hdr.subbuf_size, next, h_out;
	uint32_t ctl_size = (uint32_t)rbf_ctl_size(n);
	const struct rbf_fsb *held = NULL;
	uint32_t *ring_slot = so_slots(so, n);
	uint64_t link;
	struct rbf_ctl c;
	int put_back = 0, ret, nring = 0;
	uint64_t hi = b->nseq + n - 1;

	if (b->empty) {
		ctl_fresh_init(f, b, blk);
		ret = write_at(o, blk, ctl_size, b->ctl_off);
		if (!ret)
			ret = zero_at(o, b->data_off, (uint64_t)nr_data * S);
		return ret;
	}
	ret = subbufs_write(f, b, o, sb, so);
	if (ret)
		return ret;

	/* Which slot holds which readable sub-buffer. */
	for (i = 0; i < n; i++)
		ring_slot[i] = UINT32_MAX;
	for (k = 0; k < b->nsb; k++) {
		const struct rbf_fsb *s = &b->sb[k];

		if (s->kind == RBF_FSB_HELD) {
			held = s;
			continue;
		}
		if (!nring)
			first = k;
		/* Strictly validated: consecutive sequences. */
		if (nring && s->seq != b->sb[first].seq + (uint64_t)nring)
			return -EIO;
		ring_slot[s->slot] = k;
		nring++;
	}
	if (held && ring_slot[held->slot] == UINT32_MAX &&
	    (!nring || b->sb[first].seq == held->seq + 1))
		put_back = 1;

	/* Next sequence to write, and the oldest to read. */
	if (nring) {
		next = b->sb[first].seq + (uint64_t)nring;
	} else if (put_back) {
		next = held->seq + 1;
	} else {
		next = UINT64_MAX;
		for (i = 0; i < n; i++) {
			uint64_t l = b->links[i];
			uint64_t t = rbf_file_tag_to_seq(rbf_link_tag(l), hi);

			if (l & RBF_LINK_UPDATE)
				t += n; /* finalize */
			if (t < next)
				next = t;
		}
	}
	h_out = put_back ? held->seq : nring ? b->sb[first].seq : next;

	memset(used, 0, nr_data);
	rbf_file_copy_words(blk, f->map + b->ctl_off, ctl_size);
	for (i = 0; i < n; i++) {
		uint64_t l = b->links[i];
		uint64_t t = rbf_file_tag_to_seq(rbf_link_tag(l), hi);
		uint32_t phys = rbf_link_phys(l), rdec = rbf_link_rdec(l);
		uint64_t seq, cc, flags;

		if (ring_slot[i] != UINT32_MAX) {
			const struct rbf_fsb *s = &b->sb[ring_slot[i]];

			seq = s->seq;
			cc = ((uint64_t)((rdec + so[ring_slot[i]].events) &
					 RBF_LINK_RDEC_MASK)
			      << RBF_COMMIT_REC_SHIFT) +
			     (rbf_file_gen(f, seq) + 1) * S;
		} else if (put_back && i == held->slot) {
			/* The link's rdec counts the held events already. */
			seq = held->seq;
			phys = held->phys;
			cc = ((uint64_t)rdec << RBF_COMMIT_REC_SHIFT) +
			     (rbf_file_gen(f, seq) + 1) * S;
			rdec = (rdec - (uint32_t)so[held - b->sb].events) &
			       RBF_LINK_RDEC_MASK;
		} else {
			if (l & RBF_LINK_UPDATE)
				rdec = rbf_file_cc_records(f, b->cc[i], t);
			/* The first sequence of this slot not yet written. */
			seq = next + ((i - next % n + n) % n);
			cc = ((uint64_t)rdec << RBF_COMMIT_REC_SHIFT) +
			     rbf_file_gen(f, seq) * S;
		}
		flags = seq == h_out ? RBF_LINK_HEAD : 0;
		link = rbf_link_make(phys, flags, seq, rdec);
		if (phys < nr_data)
			used[phys] = 1;
		memcpy(blk + sizeof(struct rbf_ctl) + 8ull * i, &link, 8);
		memcpy(blk + commit_off(n) + sizeof(struct rbf_ctl_commit) * i,
		       &cc, 8);
	}

	memcpy(&c, blk, sizeof(c));
	c.stats = b->ctl.stats; /* as repaired by the snapshot */
	c.offset = next * S;
	c.wr_nest = 0;
	c.flush_req = 0;
	c.read_seq = h_out;
	c.head_seq = h_out;
	c.held = 0;
	c.spare = UINT32_MAX;
	if (held && !put_back) {
		c.held = held->phys + 1;
		used[held->phys] = 1;
	}
	if (held && put_back) {
		uint64_t ev = so[held - b->sb].events;

		/* The reader counted them when it took the sub-buffer (the
		 * snapshot repaired the counter if it was killed first). */
		c.stats.read = c.stats.read > ev ? c.stats.read - ev : 0;
		if (c.stats.subbufs_read)
			c.stats.subbufs_read--;
	}
	for (i = 0; i < nr_data; i++) {
		if (used[i])
			continue;
		if (c.spare == UINT32_MAX && !c.held)
			c.spare = i;
	}
	memcpy(blk, &c, sizeof(c));
	ret = write_at(o, blk, ctl_size, b->ctl_off);
	if (ret)
		return ret;

	/* Memory that holds nothing to read goes back zero-filled. */
	for (i = 0; i < nr_data; i++)
		used[i] = 0;
	for (k = 0; k < b->nsb; k++)
		used[b->sb[k].phys] = 1;
	for (i = 0; i < nr_data; i++) {
		if (used[i])
			continue;
		ret = zero_at(o, b->data_off + (uint64_t)i * S, S);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * A live file (its writer or reader runs): recover from a private copy of
 * the whole image whose control blocks pass the strict checks, so that
 * the walk and the bytes copied agree.  Retried while they move.
 */
static int live_image(const struct rbf_file *f, struct rbf_file **out)
{
	int tries, ret = -EAGAIN;

	for (tries = 0; tries < 20; tries++) {
		unsigned char *img = malloc(f->len);

		if (!img)
			return -ENOMEM;
		rbf_file_copy_words(img, f->map, f->len & ~(size_t)7);
		memcpy(img + (f->len & ~(size_t)7),
		       f->map + (f->len & ~(size_t)7), f->len & 7);
		ret = rbf_file_open_mem(img, f->len, out, NULL);
		if (!ret) {
			(*out)->owned = img; /* freed by rbf_file_close() */
			return 0;
		}
		free(img);
		if (ret != -EINVAL)
			return ret;
	}
	return -EAGAIN;
}

RBF_API int rbf_file_recover(struct rbf_file *f, const char *out_path,
			     struct rbf_file_report *rep)
{
	struct rbf_file *src = f;
	struct rbf_file_header h;
	unsigned char *sb = NULL, *blk = NULL, *used = NULL;
	struct sb_out *so = NULL;
	struct out o = { -1, NULL };
	uint64_t off;
	uint32_t i;
	int ret, err;

	if (!f || !out_path || (rep && rep->size < sizeof(*rep)))
		return -EINVAL;
	if (f->live) {
		ret = live_image(f, &src);
		if (ret)
			return ret;
	}
	o.fd = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (o.fd < 0) {
		ret = -errno;
		goto out_free;
	}
	o.zero = calloc(1, ZERO_CHUNK);
	sb = malloc(src->hdr.subbuf_size);
	blk = malloc(rbf_ctl_size(src->hdr.num_subbuf));
	used = malloc(src->hdr.num_subbuf + 1);
	so = calloc(1, (src->hdr.num_subbuf + 1) * sizeof(*so) +
			       src->hdr.num_subbuf * sizeof(uint32_t));
	if (!o.zero || !sb || !blk || !used || !so) {
		ret = -ENOMEM;
		goto out_unlink;
	}
	/* Room first: a full file system fails here, cleanly. */
	err = posix_fallocate(o.fd, 0, (off_t)src->len);
	if (err) {
		ret = -err;
		goto out_unlink;
	}
	for (off = 0; off < src->len; off += 1u << 20) {
		size_t n = src->len - off > (1u << 20) ?
				   1u << 20 :
				   (size_t)(src->len - off);

		ret = write_at(&o, src->map + off, n, off);
		if (ret)
			goto out_unlink;
	}
	for (i = 0; i < src->nbuf; i++) {
		ret = buffer_recover(src, &src->buf[i], &o, sb, blk, used, so);
		if (ret)
			goto out_unlink;
	}
	h = src->hdr;
	h.state = RBF_FILE_STATE_CLEAN;
	h.reader_pid = 0;
	h.hdr_crc = rbf_crc32c(&h, RBF_FILE_HDR_CRC_LEN);
	ret = write_at(&o, &h, sizeof(h), 0);
	if (ret)
		goto out_unlink;
	if (fsync(o.fd)) {
		ret = -errno;
		goto out_unlink;
	}
	if (close(o.fd)) {
		o.fd = -1;
		ret = -errno;
		goto out_unlink;
	}
	o.fd = -1;
	if (rep)
		rbf_file_check(src, rep);
	ret = 0;
	goto out_free;

out_unlink:
	if (o.fd >= 0)
		close(o.fd);
	unlink(out_path);
out_free:
	free(o.zero);
	free(sb);
	free(blk);
	free(used);
	free(so);
	if (src != f)
		rbf_file_close(src);
	return ret;
}
