/* SPDX-License-Identifier: MIT */
/*
 * backends/mmap-file/file_internal.h - the offline reader of ring files
 * (file_open.c: mapping and validation; file_walk.c: the event walk;
 * file_recover.c: the clean copy).
 *
 * These files never include liburcu or the frontend's internal.h: they are
 * built alone into the fuzz target (tests/fuzz/run.sh).  The few pieces of
 * sequence arithmetic they need are repeated below from frontend/internal.h.
 *
 * Everything dynamic in a control block (positions, links, commit words,
 * reader fields) is copied once, at open, into struct rbf_fbuf: the walk
 * works on that snapshot, so a file whose writer still runs can change
 * under it without the walk ever reading an index twice and getting two
 * answers.  Sub-buffer contents are read from the mapping word by word
 * (relaxed atomic loads into locals), every value checked before use.
 */
#ifndef RBF_MMF_FILE_INTERNAL_H
#define RBF_MMF_FILE_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "ctl.h"
#include "mmf.h"

#define RBF_FILE_SBH_SIZE ((uint32_t)sizeof(struct rbf_subbuf_header))
#define RBF_FILE_REC_SIZE ((uint32_t)sizeof(struct rbf_record_header))
#define RBF_FILE_REC_EXT_SIZE ((uint32_t)sizeof(struct rbf_record_header_ext))

/* Largest compact pad record: 8-byte header + RBF_REC_LEN_MASK bytes. */
#define RBF_FILE_PAD_MAX \
	((uint32_t)((RBF_FILE_REC_SIZE + RBF_REC_LEN_MASK) & ~7u))

/*
 * Margin above the newest known stamp of a buffer that a record of the
 * open sub-buffer may carry (clock units).  A stale compact header decodes
 * about 2^32 ticks ahead of its neighbours; genuine records are within
 * microseconds of the writer's last stamp.
 */
#define RBF_FILE_TS_SLACK (1ull << 31)

/* Where a sub-buffer the walk reads came from. */
enum rbf_fsb_kind {
	RBF_FSB_RING = 0, /* undecided, in its ring slot */
	RBF_FSB_HELD = 1, /* taken by the reader, not given back */
};

/* One sub-buffer the walk reads, in sequence order. */
struct rbf_fsb {
	uint64_t seq;
	uint32_t phys;
	uint32_t slot; /* seq % num_subbuf */
	uint32_t kind; /* enum rbf_fsb_kind */
	uint32_t complete; /* every byte committed (held: by protocol) */
	uint32_t bytes; /* committed bytes (ring only) */
	uint32_t records; /* committed records (ring only) */
	uint32_t has_records; /* @records is known (ring only) */
	uint32_t open_end; /* ring position inside it: exact end, else 0 */
};

/* One buffer (a used slot of the table) and its control block snapshot. */
struct rbf_fbuf {
	uint32_t slot; /* index in the slot table */
	uint32_t id;
	int cpu;
	int tid;
	int dead;
	int empty; /* control block never initialized: no events */
	uint64_t ctl_off;
	uint64_t data_off;
	struct rbf_ctl ctl; /* snapshot of the fixed part */
	uint64_t *links; /* snapshot, num_subbuf words */
	uint64_t *cc; /* snapshot of the commit words */
	uint64_t nseq; /* sequences started: ceil(offset / subbuf_size) */
	uint32_t held_phys; /* UINT32_MAX: none */
	uint64_t held_seq;
	uint32_t spare_phys; /* UINT32_MAX: none */
	uint32_t nsb;
	struct rbf_fsb *sb; /* the sub-buffers to read, oldest first */
};

struct rbf_file {
	const unsigned char *map;
	size_t len;
	void *owned; /* munmap()ed (mapped) or free()d (copied) at close */
	size_t owned_len;
	int mapped;
	int live;
	struct rbf_file_header hdr;
	uint32_t sb_order;
	uint32_t nbuf;
	struct rbf_fbuf *buf;
};

/* Relaxed loads from the (possibly live) mapping; @p is aligned. */
static inline uint64_t rbf_file_ld64(const void *p)
{
	return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
}

static inline uint32_t rbf_file_ld32(const void *p)
{
	return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
}

/* Copy @n bytes (a multiple of 8, both ends 8-aligned) word by word. */
static inline void rbf_file_copy_words(void *dst, const void *src, size_t n)
{
	const uint64_t *s = src;
	size_t i;

	for (i = 0; i < n / 8; i++) {
		uint64_t v = __atomic_load_n(&s[i], __ATOMIC_RELAXED);

		memcpy((char *)dst + i * 8, &v, 8);
	}
}

/* Sequence arithmetic (as frontend/internal.h). */
static inline uint64_t rbf_file_gen(const struct rbf_file *f, uint64_t seq)
{
	return seq / f->hdr.num_subbuf;
}

/* Bytes of generation gen(@seq) committed so far (mod 2^40). */
static inline uint64_t rbf_file_cc_bytes(const struct rbf_file *f, uint64_t cc,
					 uint64_t seq)
{
	return (cc - rbf_file_gen(f, seq) * f->hdr.subbuf_size) &
	       RBF_COMMIT_BYTES_MASK;
}

/* Records counted in @cc up to its byte count (mod 2^24). */
static inline uint32_t rbf_file_cc_records(const struct rbf_file *f,
					   uint64_t cc, uint64_t seq)
{
	uint64_t total = rbf_file_gen(f, seq) * f->hdr.subbuf_size +
			 rbf_file_cc_bytes(f, cc, seq);

	return (uint32_t)(((cc - total) >> RBF_COMMIT_REC_SHIFT) &
			  RBF_LINK_RDEC_MASK);
}

static inline uint64_t rbf_file_tag_to_seq(uint64_t tag, uint64_t hi)
{
	return hi - ((hi - tag) & RBF_LINK_TAG_MASK);
}

/* Data of phys sub-buffer @phys of @b in the mapping. */
static inline const unsigned char *
rbf_file_phys(const struct rbf_file *f, const struct rbf_fbuf *b, uint32_t phys)
{
	return f->map + b->data_off + ((uint64_t)phys << f->sb_order);
}

/* file_open.c */
RBF_MMF_HIDDEN void rbf_file_errf(struct rbf_file_error *err, int64_t off,
				  const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
RBF_MMF_HIDDEN int rbf_file_snapshot(struct rbf_file *f,
				     struct rbf_file_error *err);

/*
 * file_walk.c: the walk of one buffer, shared by the cursor, the check
 * and the recovery so that all three agree record for record.
 */
enum rbf_fitem_kind {
	RBF_FITEM_END = 0, /* no more sub-buffers */
	RBF_FITEM_SB_BEGIN, /* entering sub-buffer @k */
	RBF_FITEM_EVENT, /* a committed event */
	RBF_FITEM_PAD, /* a padding record (committed, skipped) */
	RBF_FITEM_UNCOMMITTED, /* a reserved, uncommitted record or a run of
				* never-written words inside the content */
	RBF_FITEM_SB_END, /* leaving sub-buffer @k (summary filled) */
	RBF_FITEM_SB_BAD, /* sub-buffer @k skipped whole */
};

/* Summary of one sub-buffer, valid with RBF_FITEM_SB_END / SB_BAD. */
struct rbf_fsb_sum {
	uint32_t end; /* content end: after the last committed record */
	uint32_t limit; /* where the walk had to stop at the latest */
	uint64_t events;
	uint64_t pads;
	uint64_t uncommitted;
	uint64_t uncommitted_bytes;
	uint32_t malformed; /* 1: stopped at a record it could not vouch for */
	uint64_t malformed_bytes;
	uint64_t ts_begin;
	uint64_t ts_last; /* stamp of the last committed record */
	int end_valid; /* end fields of the header were written */
	int unopened; /* SB_BAD: never opened, nothing committed in it */
	int rebuilt; /* begin fields never written: ts_begin from the
		      * previous sub-buffer's ts_end */
	uint32_t skip_from, skip_to; /* walk resynchronized over this */
	struct rbf_subbuf_header hdr; /* as read */
};

struct rbf_fitem {
	enum rbf_fitem_kind kind;
	uint32_t k; /* index into b->sb */
	uint32_t pos; /* record offset in the sub-buffer */
	uint32_t size; /* record bytes */
	uint64_t ts;
	uint16_t id;
	uint32_t len;
	const unsigned char *data;
	struct rbf_fsb_sum sum;
};

struct rbf_fwalk {
	const struct rbf_file *f;
	const struct rbf_fbuf *b;
	uint32_t k;
	int in_sb;
	uint32_t pos;
	uint32_t end; /* trusted end of the current sub-buffer */
	uint64_t prev_ts; /* stamp chain inside the sub-buffer */
	uint64_t run_ts; /* newest stamp of the buffer so far */
	uint64_t ts_hi; /* upper bound of the current sub-buffer's stamps */
	int check_ts;
	uint32_t skip_from, skip_to; /* see struct rbf_fsb_sum */
	struct rbf_fsb_sum sum;
};

RBF_MMF_HIDDEN void rbf_fwalk_init(struct rbf_fwalk *w,
				   const struct rbf_file *f,
				   const struct rbf_fbuf *b);
RBF_MMF_HIDDEN void rbf_fwalk_next(struct rbf_fwalk *w, struct rbf_fitem *it);
/* Walk @b completely and add its numbers to @rep (size untouched). */
RBF_MMF_HIDDEN void rbf_fwalk_report(const struct rbf_file *f,
				     const struct rbf_fbuf *b,
				     struct rbf_file_report *rep);

#endif /* RBF_MMF_FILE_INTERNAL_H */
