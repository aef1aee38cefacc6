/* SPDX-License-Identifier: MIT */
/*
 * backends/mmap-file/file_open.c - opening a ring file without its writer:
 * mapping (read-only), validation, and the snapshot of every buffer's
 * control block that the walk (file_walk.c) reads.
 *
 * Validation happens in two layers:
 *
 *  - constant fields (header, slot table, the self-description of every
 *    control block): always checked strictly;
 *  - fields that writers and the reader move (positions, links, commit
 *    words, spare/held): checked strictly when nobody can be moving them
 *    (the file is closed, or its writer and reader are dead).  When a
 *    writer or reader is alive they are only a best-effort snapshot:
 *    inconsistent parts are left out of the walk instead of refusing the
 *    file.
 *
 * The table of a buffer is consistent when its link words name distinct
 * sub-buffers, the tags (sequence numbers) of the N slots form a window of
 * N consecutive sequences (tag(i) = i mod N), only the oldest slot carries
 * a flag, the commit word of each slot holds at most one sub-buffer's
 * worth of bytes for the slot's sequence, and the links plus the reader's
 * spare and held sub-buffers name every sub-buffer exactly once.  A reader
 * killed inside its exchange (between the link CAS and the stores of
 * held/spare/read_seq) leaves a known, tolerated inconsistency: the spare
 * is also in the ring, and the sub-buffer it took is named nowhere or only
 * by held; the sub-buffer's own header then says which sequence it holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_internal.h"

void rbf_file_errf(struct rbf_file_error *err, int64_t off, const char *fmt,
		   ...)
{
	va_list ap;

	if (!err)
		return;
	err->offset = off;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

static int is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static uint32_t log2_u32(uint32_t v)
{
	uint32_t n = 0;

	while (v > 1) {
		v >>= 1;
		n++;
	}
	return n;
}

static int native_order(void)
{
	uint16_t one = 1;

	return *(uint8_t *)&one ? RBF_BYTE_ORDER_LE : RBF_BYTE_ORDER_BE;
}

/* kill(pid, 0): also true for a process we may not signal. */
static int pid_alive(int32_t pid)
{
	if (pid <= 0)
		return 0;
	return kill(pid, 0) == 0 || errno == EPERM;
}

#define HOFF(field) ((int64_t)offsetof(struct rbf_file_header, field))

/*
 * Check the file header of @map (@len bytes) and copy it to @h.
 * Returns 0, -EINVAL or -EPROTONOSUPPORT.
 */
static int header_check(const unsigned char *map, size_t len,
			struct rbf_file_header *h, struct rbf_file_error *err)
{
	uint64_t table_bytes, regions, end;
	uint32_t crc;

	if (len == 0) {
		rbf_file_errf(err, 0, "empty file");
		return -EINVAL;
	}
	if (len < sizeof(h->magic) ||
	    memcmp(map, RBF_FILE_MAGIC, sizeof(h->magic))) {
		rbf_file_errf(err, 0, "wrong magic: not an rbf ring file");
		return -EINVAL;
	}
	if (len < sizeof(*h)) {
		uint64_t said = 0;

		if (len >= (size_t)HOFF(file_size) + 8)
			memcpy(&said, map + HOFF(file_size), 8);
		if (said)
			rbf_file_errf(err, (int64_t)len,
				      "truncated: %zu bytes, header says %llu",
				      len, (unsigned long long)said);
		else
			rbf_file_errf(err, (int64_t)len,
				      "truncated: %zu bytes, shorter than the "
				      "file header",
				      len);
		return -EINVAL;
	}
	memcpy(h, map, sizeof(*h));
	if (h->byte_order != RBF_BYTE_ORDER_LE &&
	    h->byte_order != RBF_BYTE_ORDER_BE) {
		rbf_file_errf(err, HOFF(byte_order), "bad byte order %u",
			      h->byte_order);
		return -EINVAL;
	}
	if (h->byte_order != native_order()) {
		rbf_file_errf(err, HOFF(byte_order),
			      "unsupported byte order: %s endian file",
			      h->byte_order == RBF_BYTE_ORDER_BE ? "big" :
								   "little");
		return -EPROTONOSUPPORT;
	}
	if (h->version != RBF_FILE_VERSION) {
		rbf_file_errf(err, HOFF(version), "unsupported version %u",
			      h->version);
		return -EPROTONOSUPPORT;
	}
	if (h->word_size != sizeof(void *)) {
		rbf_file_errf(err, HOFF(word_size),
			      "unsupported word size %u (this reader: %zu)",
			      h->word_size, sizeof(void *));
		return -EPROTONOSUPPORT;
	}
	if (h->header_size != RBF_FILE_HEADER_SIZE) {
		rbf_file_errf(err, HOFF(header_size), "bad header size %u",
			      h->header_size);
		return -EINVAL;
	}
	if (len < RBF_FILE_HEADER_SIZE) {
		rbf_file_errf(err, (int64_t)len,
			      "truncated: %zu bytes, header says %llu", len,
			      (unsigned long long)h->file_size);
		return -EINVAL;
	}
	crc = rbf_crc32c(map, RBF_FILE_HDR_CRC_LEN);
	if (crc != h->hdr_crc) {
		rbf_file_errf(err, HOFF(hdr_crc),
			      "header checksum mismatch (stored %08x, "
			      "computed %08x)",
			      h->hdr_crc, crc);
		return -EINVAL;
	}
	if (h->file_size != len) {
		rbf_file_errf(
			err, (int64_t)len, "%s: %zu bytes, header says %llu",
			len < h->file_size ? "truncated" : "size mismatch", len,
			(unsigned long long)h->file_size);
		return -EINVAL;
	}
	if (!is_pow2(h->subbuf_size) || h->subbuf_size < RBF_SUBBUF_SIZE_MIN ||
	    h->subbuf_size > RBF_SUBBUF_SIZE_MAX) {
		rbf_file_errf(err, HOFF(subbuf_size), "bad sub-buffer size %u",
			      h->subbuf_size);
		return -EINVAL;
	}
	if (!is_pow2(h->num_subbuf) || h->num_subbuf < RBF_NUM_SUBBUF_MIN ||
	    h->num_subbuf > RBF_NUM_SUBBUF_MAX) {
		rbf_file_errf(err, HOFF(num_subbuf),
			      "bad number of sub-buffers %u", h->num_subbuf);
		return -EINVAL;
	}
	if (h->mode > RBF_MODE_OVERWRITE) {
		rbf_file_errf(err, HOFF(mode), "bad mode %u", h->mode);
		return -EINVAL;
	}
	if (h->alloc > RBF_ALLOC_GLOBAL) {
		rbf_file_errf(err, HOFF(alloc), "bad allocation mode %u",
			      h->alloc);
		return -EINVAL;
	}
	if (h->clock > RBF_CLOCK_NONE) {
		rbf_file_errf(err, HOFF(clock), "bad clock %u", h->clock);
		return -EINVAL;
	}
	if (h->durability > RBF_DURABLE_FLUSH) {
		rbf_file_errf(err, HOFF(durability), "bad durability %u",
			      h->durability);
		return -EINVAL;
	}
	if (h->clock != RBF_CLOCK_NONE && h->clock_freq == 0) {
		rbf_file_errf(err, HOFF(clock_freq), "clock frequency is 0");
		return -EINVAL;
	}
	if (h->slot_size != sizeof(struct rbf_file_slot)) {
		rbf_file_errf(err, HOFF(slot_size), "bad slot size %u",
			      h->slot_size);
		return -EINVAL;
	}
	if (h->state != RBF_FILE_STATE_OPEN &&
	    h->state != RBF_FILE_STATE_CLEAN) {
		rbf_file_errf(err, HOFF(state), "bad state %u", h->state);
		return -EINVAL;
	}
	if (h->max_buffers == 0 || h->max_buffers > 1u << 20) {
		rbf_file_errf(err, HOFF(max_buffers),
			      "bad number of buffer slots %u", h->max_buffers);
		return -EINVAL;
	}
	if (h->nr_buffers > h->max_buffers) {
		rbf_file_errf(err, HOFF(nr_buffers),
			      "%u buffers in a table of %u slots",
			      h->nr_buffers, h->max_buffers);
		return -EINVAL;
	}
	if (h->ctl_size < rbf_ctl_size(h->num_subbuf) ||
	    h->ctl_size % RBF_FILE_PAGE || h->ctl_size > (1ull << 32)) {
		rbf_file_errf(err, HOFF(ctl_size),
			      "bad control block size %llu",
			      (unsigned long long)h->ctl_size);
		return -EINVAL;
	}
	table_bytes = (uint64_t)h->max_buffers * sizeof(struct rbf_file_slot);
	if (h->table_off < RBF_FILE_HEADER_SIZE || h->table_off % 64 ||
	    h->table_off > len || table_bytes > len - h->table_off) {
		rbf_file_errf(err, HOFF(table_off),
			      "slot table at offset %llu out of range",
			      (unsigned long long)h->table_off);
		return -EINVAL;
	}
	if (h->region_off % RBF_FILE_PAGE ||
	    h->region_off < h->table_off + table_bytes || h->region_off > len) {
		rbf_file_errf(err, HOFF(region_off),
			      "buffer regions at offset %llu out of range or "
			      "overlapping the slot table",
			      (unsigned long long)h->region_off);
		return -EINVAL;
	}
	if (h->region_size % RBF_FILE_PAGE || h->region_size < h->ctl_size ||
	    (h->region_size - h->ctl_size) / h->subbuf_size <
		    (uint64_t)h->num_subbuf + 1) {
		rbf_file_errf(err, HOFF(region_size),
			      "bad buffer region size %llu",
			      (unsigned long long)h->region_size);
		return -EINVAL;
	}
	if (__builtin_mul_overflow(h->region_size, (uint64_t)h->max_buffers,
				   &regions) ||
	    __builtin_add_overflow(h->region_off, regions, &end) || end > len) {
		rbf_file_errf(err, HOFF(region_size),
			      "%u buffer regions of %llu bytes do not fit in "
			      "%zu bytes",
			      h->max_buffers,
			      (unsigned long long)h->region_size, len);
		return -EINVAL;
	}
	if (h->alloc == RBF_ALLOC_PER_CPU &&
	    (h->nr_cpus == 0 || h->nr_cpus > h->max_buffers)) {
		rbf_file_errf(err, HOFF(nr_cpus), "bad number of CPUs %u",
			      h->nr_cpus);
		return -EINVAL;
	}
	return 0;
}

#define COFF(field) ((int64_t)offsetof(struct rbf_ctl, field))

/* The self-description of a control block (constant after creation). */
static int ctl_const_check(const struct rbf_file *f, const struct rbf_fbuf *b,
			   struct rbf_file_error *err)
{
	const struct rbf_file_header *h = &f->hdr;
	const struct rbf_ctl *c = &b->ctl;
	int64_t o = (int64_t)b->ctl_off;
	uint64_t commit_off =
		sizeof(struct rbf_ctl) +
		RBF_ALIGN((uint64_t)h->num_subbuf * 8, (uint64_t)RBF_CACHELINE);

	if (c->magic != RBF_CTL_MAGIC) {
		rbf_file_errf(err, o,
			      "buffer %u: control block at offset %lld: "
			      "wrong magic",
			      b->slot, (long long)o);
		return -EINVAL;
	}
	if (c->layout_version != RBF_CTL_LAYOUT_VERSION) {
		rbf_file_errf(err, o + COFF(layout_version),
			      "buffer %u: unsupported control block version "
			      "%u",
			      b->slot, c->layout_version);
		return -EPROTONOSUPPORT;
	}
	if (c->word_size != h->word_size || c->byte_order != h->byte_order) {
		rbf_file_errf(err, o + COFF(word_size),
			      "buffer %u: control block word size or byte "
			      "order differs from the file's",
			      b->slot);
		return -EINVAL;
	}
	if (c->ctl_size != rbf_ctl_size(h->num_subbuf) ||
	    c->subbuf_size != h->subbuf_size ||
	    c->num_subbuf != h->num_subbuf || c->nr_data != h->num_subbuf + 1 ||
	    c->mode != h->mode || c->clock != h->clock) {
		rbf_file_errf(err, o + COFF(ctl_size),
			      "buffer %u: control block at offset %lld: "
			      "geometry differs from the file header's",
			      b->slot, (long long)o);
		return -EINVAL;
	}
	if (c->link_off != sizeof(struct rbf_ctl) ||
	    c->commit_off != commit_off) {
		rbf_file_errf(err, o + COFF(link_off),
			      "buffer %u: control block at offset %lld: bad "
			      "array offsets %llu/%llu",
			      b->slot, (long long)o,
			      (unsigned long long)c->link_off,
			      (unsigned long long)c->commit_off);
		return -EINVAL;
	}
	if (c->buffer_id != b->id) {
		rbf_file_errf(err, o + COFF(buffer_id),
			      "buffer %u: control block says buffer id %u, "
			      "the slot table %u",
			      b->slot, c->buffer_id, b->id);
		return -EINVAL;
	}
	return 0;
}

/* Does the header at @p say sub-buffer @seq of buffer @b? */
static int subbuf_header_seq(const struct rbf_file *f, const struct rbf_fbuf *b,
			     uint32_t phys, uint64_t *seq)
{
	struct rbf_subbuf_header sh;

	rbf_file_copy_words(&sh, rbf_file_phys(f, b, phys), sizeof(sh));
	if (sh.magic != RBF_SUBBUF_MAGIC ||
	    sh.header_size != RBF_FILE_SBH_SIZE || sh.buffer_id != b->id)
		return -1;
	*seq = sh.seq;
	return 0;
}

/*
 * The counters of decided sub-buffers, against the links.  Each decision
 * (the reader's exchange, a writer's push and finalize) stores in the
 * slot's link the records committed to the slot so far, so the rdec of
 * all links, plus the records of a sub-buffer whose push is not yet
 * finalized, is the number of events read or overwritten (mod 2^24 per
 * slot).  A process killed right after deciding a sub-buffer and before
 * adding its events to stats.overwritten (a pusher; another writer may
 * have finalized its push since) or stats.read (the reader) leaves the
 * counter short by exactly those events: add them back, to the reader's
 * counter when the reader was inside its exchange (or the buffer is in
 * discard mode, where only the reader decides), else to the writers'.
 */
static void counters_repair(const struct rbf_file *f, struct rbf_fbuf *b)
{
	uint32_t n = f->hdr.num_subbuf, i;
	uint64_t hi = b->nseq + n - 1;
	uint32_t decided = 0, upd = 0, d;
	struct rbf_ctl_stats *st = &b->ctl.stats;
	int have_upd = 0;

	for (i = 0; i < n; i++) {
		uint64_t l = b->links[i];

		decided += rbf_link_rdec(l);
		if (l & RBF_LINK_UPDATE) {
			uint64_t t = rbf_file_tag_to_seq(rbf_link_tag(l), hi);

			upd = (rbf_file_cc_records(f, b->cc[i], t) -
			       rbf_link_rdec(l)) &
			      RBF_LINK_RDEC_MASK;
			decided += upd;
			have_upd = 1;
		}
	}
	d = (decided - (uint32_t)st->read - (uint32_t)st->overwritten) &
	    RBF_LINK_RDEC_MASK;
	if (!d || d >= 1u << 23)
		return; /* consistent, or counters ahead: leave them */
	if (f->hdr.mode == RBF_MODE_DISCARD ||
	    (b->held_phys != UINT32_MAX && !(have_upd && d == upd))) {
		st->read += d;
		st->subbufs_read++;
	} else {
		st->overwritten += d;
		st->subbufs_overwritten++;
	}
}

static int fsb_cmp(const void *a, const void *b)
{
	const struct rbf_fsb *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * The dynamic part of a buffer: check (strict unless @f->live) and list
 * the sub-buffers to read.  @used: scratch, 2 * nr_data bytes.
 */
static int table_build(struct rbf_file *f, struct rbf_fbuf *b,
		       unsigned char *used, struct rbf_file_error *err)
{
	const struct rbf_file_header *h = &f->hdr;
	const struct rbf_ctl *c = &b->ctl;
	uint32_t n = h->num_subbuf, nr_data = n + 1, i, missing = 0;
	uint32_t miss_phys = UINT32_MAX, min_slot = 0;
	uint64_t S = h->subbuf_size, o = c->offset, hi, min_t = UINT64_MAX;
	uint64_t max_t = 0, link_base = b->ctl_off + c->link_off;
	uint64_t commit_base = b->ctl_off + c->commit_off;
	uint64_t cur;
	int strict = !f->live, spare_dup = 0;
	uint32_t held_p, spare_p;
	unsigned char *taken = used + nr_data; /* read by the walk */

	b->nseq = o / S + (o % S != 0);
	cur = b->nseq - 1; /* meaningless when nseq == 0 */
	hi = b->nseq + n - 1;
	b->held_phys = UINT32_MAX;
	b->spare_phys = UINT32_MAX;
	memset(used, 0, 2 * (size_t)nr_data);

	if (strict && (o % RBF_REC_ALIGN ||
		       (o % S && o % S < RBF_FILE_SBH_SIZE + RBF_REC_ALIGN))) {
		rbf_file_errf(err, (int64_t)b->ctl_off + COFF(offset),
			      "buffer %u: bad write position %llu", b->slot,
			      (unsigned long long)o);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		uint64_t l = b->links[i];
		uint64_t t = rbf_file_tag_to_seq(rbf_link_tag(l), hi);
		uint32_t p = rbf_link_phys(l);
		int64_t off = (int64_t)(link_base + 8ull * i);

		if (p >= nr_data || used[p]) {
			if (!strict)
				continue;
			if (p >= nr_data)
				rbf_file_errf(err, off,
					      "corrupt sub-buffer table at "
					      "offset %lld: index %u out of "
					      "range",
					      (long long)off, p);
			else
				rbf_file_errf(err, off,
					      "corrupt sub-buffer table at "
					      "offset %lld: index %u twice",
					      (long long)off, p);
			return -EINVAL;
		}
		used[p] = 1;
		if (strict &&
		    (t % n != i || (l & RBF_LINK_FLAGS) == RBF_LINK_FLAGS)) {
			rbf_file_errf(err, off,
				      "corrupt sub-buffer table at offset "
				      "%lld: bad link word %016llx for slot %u",
				      (long long)off, (unsigned long long)l, i);
			return -EINVAL;
		}
		if (t < min_t) {
			min_t = t;
			min_slot = i;
		}
		if (t > max_t)
			max_t = t;
	}
	if (strict && max_t - min_t >= n) {
		rbf_file_errf(err, (int64_t)link_base,
			      "corrupt sub-buffer table at offset %lld: slot "
			      "sequences %llu..%llu span more than the ring",
			      (long long)link_base, (unsigned long long)min_t,
			      (unsigned long long)max_t);
		return -EINVAL;
	}
	if (strict && b->nseq && max_t > cur + n) {
		rbf_file_errf(err, (int64_t)link_base,
			      "corrupt sub-buffer table at offset %lld: slot "
			      "sequence %llu beyond the write position",
			      (long long)link_base, (unsigned long long)max_t);
		return -EINVAL;
	}
	for (i = 0; strict && i < n; i++) {
		uint64_t l = b->links[i];
		uint64_t t = rbf_file_tag_to_seq(rbf_link_tag(l), hi);
		uint64_t bytes = rbf_file_cc_bytes(f, b->cc[i], t);
		uint32_t rec = (rbf_file_cc_records(f, b->cc[i], t) -
				rbf_link_rdec(l)) &
			       RBF_LINK_RDEC_MASK;
		int64_t off = (int64_t)(commit_base + 64ull * i);

		if ((l & RBF_LINK_FLAGS) && i != min_slot) {
			off = (int64_t)(link_base + 8ull * i);
			rbf_file_errf(err, off,
				      "corrupt sub-buffer table at offset "
				      "%lld: head flag on slot %u, not on the "
				      "oldest",
				      (long long)off, i);
			return -EINVAL;
		}
		if (bytes > S || (uint64_t)rec * RBF_REC_ALIGN > bytes ||
		    ((!b->nseq || t > cur) && bytes)) {
			rbf_file_errf(err, off,
				      "corrupt commit count at offset %lld: "
				      "%llu bytes, %u records for sub-buffer "
				      "%llu",
				      (long long)off, (unsigned long long)bytes,
				      rec, (unsigned long long)t);
			return -EINVAL;
		}
		if (t < c->read_seq && !(l & RBF_LINK_UPDATE)) {
			rbf_file_errf(err, (int64_t)b->ctl_off + COFF(read_seq),
				      "buffer %u: read position %llu beyond "
				      "unread sub-buffer %llu",
				      b->slot, (unsigned long long)c->read_seq,
				      (unsigned long long)t);
			return -EINVAL;
		}
	}

	/* The reader's sub-buffers. */
	held_p = c->held ? c->held - 1 : UINT32_MAX;
	spare_p = c->spare;
	if (held_p != UINT32_MAX && held_p >= nr_data) {
		if (strict) {
			rbf_file_errf(err, (int64_t)b->ctl_off + COFF(held),
				      "buffer %u: held sub-buffer %u out of "
				      "range",
				      b->slot, held_p);
			return -EINVAL;
		}
		held_p = UINT32_MAX;
	}
	if (held_p != UINT32_MAX && used[held_p]) {
		if (strict) {
			rbf_file_errf(err, (int64_t)b->ctl_off + COFF(held),
				      "corrupt sub-buffer table at offset "
				      "%lld: index %u twice (held and in the "
				      "ring)",
				      (long long)b->ctl_off + COFF(held),
				      held_p);
			return -EINVAL;
		}
		held_p = UINT32_MAX;
	}
	if (spare_p != UINT32_MAX && spare_p >= nr_data) {
		if (strict) {
			rbf_file_errf(err, (int64_t)b->ctl_off + COFF(spare),
				      "buffer %u: spare sub-buffer %u out of "
				      "range",
				      b->slot, spare_p);
			return -EINVAL;
		}
		spare_p = UINT32_MAX;
	}
	/* Reader killed inside rbf_subbuf_put(): spare == held. */
	if (spare_p != UINT32_MAX && spare_p == held_p)
		held_p = UINT32_MAX;
	/* Reader killed inside its exchange: the spare is in the ring. */
	if (spare_p != UINT32_MAX && used[spare_p]) {
		spare_p = UINT32_MAX;
		spare_dup = 1;
	}
	if (held_p != UINT32_MAX)
		used[held_p] = 1;
	if (spare_p != UINT32_MAX)
		used[spare_p] = 1;
	for (i = 0; i < nr_data; i++) {
		if (!used[i]) {
			missing++;
			miss_phys = i;
		}
	}
	if (missing == 1 && spare_dup && held_p == UINT32_MAX) {
		/* The CAS of the exchange succeeded, held not yet stored. */
		held_p = miss_phys;
		missing = 0;
	}
	if (missing && strict) {
		rbf_file_errf(err, (int64_t)link_base,
			      "corrupt sub-buffer table at offset %lld: %u "
			      "sub-buffer(s) missing (sub-buffer %u is in no "
			      "slot, not held, not spare)",
			      (long long)link_base, missing, miss_phys);
		return -EINVAL;
	}
	b->spare_phys = spare_p;

	/* The sub-buffers to read: undecided, started, not taken. */
	b->nsb = 0;
	for (i = 0; i < n && b->nseq; i++) {
		uint64_t l = b->links[i];
		uint64_t t = rbf_file_tag_to_seq(rbf_link_tag(l), hi);
		uint32_t p = rbf_link_phys(l);
		struct rbf_fsb *s;
		uint64_t bytes;

		if (t > cur || t < c->read_seq || (l & RBF_LINK_UPDATE) ||
		    p >= nr_data || t % n != i || taken[p])
			continue;
		taken[p] = 1;
		bytes = rbf_file_cc_bytes(f, b->cc[i], t);
		if (bytes > S)
			continue; /* live: torn snapshot */
		s = &b->sb[b->nsb++];
		memset(s, 0, sizeof(*s));
		s->seq = t;
		s->phys = p;
		s->slot = i;
		s->kind = RBF_FSB_RING;
		s->bytes = (uint32_t)bytes;
		s->complete = bytes == S;
		s->records = (rbf_file_cc_records(f, b->cc[i], t) -
			      rbf_link_rdec(l)) &
			     RBF_LINK_RDEC_MASK;
		s->has_records = 1;
		if (t == cur && o % S)
			s->open_end = (uint32_t)(o % S);
	}
	if (held_p != UINT32_MAX) {
		uint64_t hs;
		uint32_t k;
		int ok = !subbuf_header_seq(f, b, held_p, &hs) &&
			 (hs + 1 == c->read_seq || hs == c->read_seq);

		for (k = 0; ok && k < b->nsb; k++)
			ok = b->sb[k].seq != hs;
		ok = ok && !taken[held_p];
		if (ok) {
			struct rbf_fsb *s = &b->sb[b->nsb++];

			memset(s, 0, sizeof(*s));
			s->seq = hs;
			s->phys = held_p;
			s->slot = (uint32_t)(hs % n);
			s->kind = RBF_FSB_HELD;
			s->complete = 1;
			b->held_phys = held_p;
			b->held_seq = hs;
		}
		/* Else not a sub-buffer the reader can have taken last:
		 * nothing to read in it. */
	}
	qsort(b->sb, b->nsb, sizeof(*b->sb), fsb_cmp);
	if (strict)
		counters_repair(f, b);
	return 0;
}

/*
 * Copy buffer @b's control block out of the mapping.  The arrays are read
 * at the offsets the geometry gives; ctl_const_check() makes sure the
 * block says the same.
 */
static void ctl_snapshot(struct rbf_file *f, struct rbf_fbuf *b)
{
	uint32_t n = f->hdr.num_subbuf, i;
	const unsigned char *base = f->map + b->ctl_off;
	uint64_t link_off = sizeof(struct rbf_ctl);
	uint64_t commit_off =
		link_off + RBF_ALIGN((uint64_t)n * 8, (uint64_t)RBF_CACHELINE);

	rbf_file_copy_words(&b->ctl, base, sizeof(b->ctl));
	for (i = 0; i < n; i++) {
		b->links[i] = rbf_file_ld64(base + link_off + 8ull * i);
		b->cc[i] = rbf_file_ld64(base + commit_off +
					 sizeof(struct rbf_ctl_commit) * i);
	}
}

/* Nothing was ever written: a control block being initialized. */
static int ctl_fresh(const struct rbf_file *f, const struct rbf_fbuf *b)
{
	uint32_t i;

	if (b->ctl.offset || b->ctl.read_seq || b->ctl.held)
		return 0;
	for (i = 0; i < f->hdr.num_subbuf; i++)
		if (b->cc[i])
			return 0;
	return 1;
}

static void bufs_free(struct rbf_file *f)
{
	uint32_t i;

	for (i = 0; f->buf && i < f->nbuf; i++) {
		free(f->buf[i].links);
		free(f->buf[i].cc);
		free(f->buf[i].sb);
	}
	free(f->buf);
	f->buf = NULL;
	f->nbuf = 0;
}

int rbf_file_snapshot(struct rbf_file *f, struct rbf_file_error *err)
{
	const struct rbf_file_header *h = &f->hdr;
	uint32_t n = h->num_subbuf, i, nr = h->nr_buffers;
	unsigned char *used;
	int ret = 0;

	bufs_free(f);
	f->sb_order = log2_u32(h->subbuf_size);
	f->buf = calloc(nr ? nr : 1, sizeof(*f->buf));
	used = malloc(2 * ((size_t)n + 1));
	if (!f->buf || !used) {
		free(used);
		return -ENOMEM;
	}
	for (i = 0; i < nr; i++) {
		uint64_t soff = h->table_off + (uint64_t)i * h->slot_size;
		uint64_t ctl_off = h->region_off + (uint64_t)i * h->region_size;
		struct rbf_file_slot s;
		struct rbf_fbuf *b;

		rbf_file_copy_words(&s, f->map + soff, sizeof(s));
		if (s.state == RBF_SLOT_FREE)
			continue; /* claimed, not set up yet */
		if (s.state != RBF_SLOT_LIVE && s.state != RBF_SLOT_DEAD) {
			rbf_file_errf(err, (int64_t)soff,
				      "corrupt slot table at offset %llu: "
				      "state %u",
				      (unsigned long long)soff, s.state);
			ret = -EINVAL;
			break;
		}
		if (s.ctl_off != ctl_off ||
		    s.data_off != ctl_off + h->ctl_size) {
			rbf_file_errf(
				err, (int64_t)soff + 16,
				"corrupt slot table at offset %llu: "
				"buffer at %llu/%llu, expected %llu/%llu",
				(unsigned long long)soff + 16,
				(unsigned long long)s.ctl_off,
				(unsigned long long)s.data_off,
				(unsigned long long)ctl_off,
				(unsigned long long)(ctl_off + h->ctl_size));
			ret = -EINVAL;
			break;
		}
		b = &f->buf[f->nbuf];
		memset(b, 0, sizeof(*b));
		b->slot = i;
		b->id = s.buffer_id;
		b->cpu = s.cpu;
		b->tid = s.tid;
		b->dead = s.state == RBF_SLOT_DEAD;
		b->ctl_off = ctl_off;
		b->data_off = ctl_off + h->ctl_size;
		b->held_phys = UINT32_MAX;
		b->spare_phys = UINT32_MAX;
		b->links = calloc(n, sizeof(*b->links));
		b->cc = calloc(n, sizeof(*b->cc));
		b->sb = calloc(n + 1, sizeof(*b->sb));
		f->nbuf++;
		if (!b->links || !b->cc || !b->sb) {
			ret = -ENOMEM;
			break;
		}
		ctl_snapshot(f, b);
		if (b->ctl.magic == 0 && ctl_fresh(f, b)) {
			b->empty = 1; /* slot claimed, block not written yet */
			continue;
		}
		ret = ctl_const_check(f, b, err);
		if (ret && h->state == RBF_FILE_STATE_OPEN && ctl_fresh(f, b)) {
			/* Killed (or still busy) initializing it. */
			b->empty = 1;
			ret = 0;
			continue;
		}
		if (ret)
			break;
		ret = table_build(f, b, used, err);
		if (ret)
			break;
	}
	free(used);
	if (ret)
		bufs_free(f);
	return ret;
}

static int file_setup(struct rbf_file *f, int check_alive,
		      struct rbf_file_error *err)
{
	int ret;

	ret = header_check(f->map, f->len, &f->hdr, err);
	if (ret)
		return ret;
	f->live = 0;
	if (check_alive && ((f->hdr.state == RBF_FILE_STATE_OPEN &&
			     pid_alive(f->hdr.writer_pid)) ||
			    pid_alive(f->hdr.reader_pid)))
		f->live = 1;
	return rbf_file_snapshot(f, err);
}

int rbf_mmf_validate(const void *map, size_t len, int live,
		     struct rbf_file_error *err)
{
	struct rbf_file f;
	int ret;

	if (!map || ((uintptr_t)map & 7)) {
		rbf_file_errf(err, -1, "bad mapping");
		return -EINVAL;
	}
	memset(&f, 0, sizeof(f));
	f.map = map;
	f.len = len;
	ret = header_check(f.map, f.len, &f.hdr, err);
	if (ret)
		return ret;
	f.live = live != 0;
	ret = rbf_file_snapshot(&f, err);
	bufs_free(&f);
	return ret;
}

RBF_API int rbf_file_open_mem(const void *mem, size_t len,
			      struct rbf_file **out, struct rbf_file_error *err)
{
	struct rbf_file *f;
	int ret;

	if (err) {
		err->offset = -1;
		err->msg[0] = 0;
	}
	if (!out || (!mem && len)) {
		rbf_file_errf(err, -1, "invalid argument");
		return -EINVAL;
	}
	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	if ((uintptr_t)mem & 7) {
		/* Word loads need 8-byte alignment: work on a copy. */
		f->owned = malloc(len ? len : 1);
		if (!f->owned) {
			free(f);
			return -ENOMEM;
		}
		memcpy(f->owned, mem, len);
		f->owned_len = len;
		mem = f->owned;
	}
	f->map = mem ? mem : (const unsigned char *)"";
	f->len = len;
	ret = file_setup(f, 0, err);
	if (ret) {
		rbf_file_close(f);
		return ret;
	}
	*out = f;
	return 0;
}

RBF_API int rbf_file_open(const char *path, struct rbf_file **out,
			  struct rbf_file_error *err)
{
	struct rbf_file *f;
	struct stat st;
	void *p;
	int fd, ret;

	if (err) {
		err->offset = -1;
		err->msg[0] = 0;
	}
	if (!path || !out) {
		rbf_file_errf(err, -1, "invalid argument");
		return -EINVAL;
	}
	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		rbf_file_errf(err, -1, "%s", strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		close(fd);
		rbf_file_errf(err, -1, "%s", strerror(-ret));
		return ret;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		rbf_file_errf(err, -1, "is a directory");
		return -EISDIR;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		rbf_file_errf(err, -1, "not a regular file");
		return -EINVAL;
	}
	if (st.st_size == 0) {
		close(fd);
		rbf_file_errf(err, 0, "empty file");
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > SIZE_MAX / 2) {
		close(fd);
		rbf_file_errf(err, -1, "file too large to map");
		return -EFBIG;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	/* Read-only shared mapping: sees a live writer, can never write. */
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	ret = p == MAP_FAILED ? -errno : 0;
	close(fd);
	if (ret) {
		free(f);
		rbf_file_errf(err, -1, "mmap: %s", strerror(-ret));
		return ret;
	}
	f->owned = p;
	f->owned_len = (size_t)st.st_size;
	f->mapped = 1;
	f->map = p;
	f->len = (size_t)st.st_size;
	ret = file_setup(f, 1, err);
	if (ret) {
		rbf_file_close(f);
		return ret;
	}
	*out = f;
	return 0;
}

RBF_API void rbf_file_close(struct rbf_file *f)
{
	if (!f)
		return;
	bufs_free(f);
	if (f->mapped)
		munmap(f->owned, f->owned_len);
	else
		free(f->owned);
	free(f);
}

RBF_API int rbf_file_get_info(const struct rbf_file *f,
			      struct rbf_file_info *info)
{
	const struct rbf_file_header *h;

	if (!f || !info || info->size < sizeof(*info))
		return -EINVAL;
	h = &f->hdr;
	memset((char *)info + sizeof(info->size), 0,
	       sizeof(*info) - sizeof(info->size));
	info->version = h->version;
	info->word_size = h->word_size;
	info->big_endian = h->byte_order == RBF_BYTE_ORDER_BE;
	info->subbuf_size = h->subbuf_size;
	info->num_subbuf = h->num_subbuf;
	info->mode = (enum rbf_mode)h->mode;
	info->alloc = (enum rbf_alloc)h->alloc;
	info->clock = (enum rbf_clock)h->clock;
	info->durability = h->durability;
	info->nr_buffers = f->nbuf;
	info->max_buffers = h->max_buffers;
	info->nr_cpus = h->nr_cpus;
	info->state = (enum rbf_file_state)h->state;
	info->writer_alive = f->mapped && h->state == RBF_FILE_STATE_OPEN &&
			     pid_alive(h->writer_pid);
	info->writer_pid = h->writer_pid;
	memcpy(info->uuid, h->uuid, sizeof(info->uuid));
	info->create_time_ns = h->create_time_ns;
	info->clock_freq = h->clock_freq;
	info->clock_offset_ns = h->clock_offset_ns;
	info->file_size = h->file_size;
	return 0;
}

RBF_API uint64_t rbf_file_ts_to_ns(const struct rbf_file *f, uint64_t ts)
{
	uint64_t freq;

	if (!f)
		return ts;
	freq = f->hdr.clock_freq;
	if (f->hdr.clock == RBF_CLOCK_NONE || freq == 0 ||
	    freq == 1000000000ull)
		return ts;
#ifdef __SIZEOF_INT128__
	return (uint64_t)((unsigned __int128)ts * 1000000000u / freq);
#else
	return (uint64_t)((long double)ts * 1e9L / (long double)freq);
#endif
}

RBF_API int rbf_file_buffer_get_info(struct rbf_file *f, uint32_t idx,
				     struct rbf_file_buffer_info *info)
{
	const struct rbf_fbuf *b;
	int i;

	if (!f || !info || info->size < sizeof(*info) || idx >= f->nbuf)
		return -EINVAL;
	b = &f->buf[idx];
	memset((char *)info + sizeof(info->size), 0,
	       sizeof(*info) - sizeof(info->size));
	info->id = b->id;
	info->cpu = b->cpu;
	info->tid = b->tid;
	info->dead = b->dead;
	if (!b->empty) {
		info->write_pos = b->ctl.offset;
		info->read_seq = b->ctl.read_seq;
		for (i = 0; i < RBF_LOST_NR; i++)
			info->lost[i] = b->ctl.stats.lost[i];
		info->overwritten = b->ctl.stats.overwritten;
		info->read = b->ctl.stats.read;
	}
	info->report.size = sizeof(info->report);
	rbf_fwalk_report(f, b, &info->report);
	return 0;
}
