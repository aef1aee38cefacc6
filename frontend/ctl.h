/* SPDX-License-Identifier: MIT */
/*
 * frontend/ctl.h - the control block of one buffer.
 *
 * Everything the frontend shares between writers and the reader lives here.
 * It is position independent (indices and byte offsets, never pointers) and
 * starts with a self-describing header (magic, layout version, word size,
 * byte order, geometry), so that a backend may place it in a shared file and
 * another process can validate it and read the buffer.
 *
 * Layout (offsets from the start of the block, all 64-byte aligned):
 *
 *	struct rbf_ctl                  header, hot writer line, reader line,
 *	                                statistics
 *	uint64_t link[num_subbuf]       the ring's links (see "link word")
 *	struct rbf_ctl_commit[num_subbuf] one commit counter per ring slot,
 *	                                each on its own cache line
 *
 * Link word (one per ring slot i; moved only with compare-and-swap):
 *
 *	bits  0..15  phys: which sub-buffer of memory is in this slot
 *	bit  16      HEAD: this slot holds the reader's next sub-buffer
 *	bit  17      UPDATE: a writer is pushing the head past this slot
 *	bits 18..39  tag: low 22 bits of the oldest sequence number mapping to
 *	             this slot whose fate (read or overwritten) is undecided
 *	bits 40..63  rdec: records committed to this slot when its last
 *	             sub-buffer was decided, modulo 2^24
 *
 * Commit word (one per slot, cumulative over all generations of the slot):
 *
 *	value = records * 2^40 + bytes   (mod 2^64)
 *
 * A writer commits an event with one atomic add of (2^40 + record bytes);
 * header and padding commits add bytes only.  The low 40 bits are the bytes
 * committed mod 2^40; sequence s of generation g = s / num_subbuf is
 * complete when they equal (g + 1) * subbuf_size mod 2^40.  Once complete,
 * records = (value - (g + 1) * subbuf_size) >> 40 exactly (mod 2^24).
 */
#ifndef RBF_FRONTEND_CTL_H
#define RBF_FRONTEND_CTL_H

#include <stdint.h>
#include <stddef.h>

#define RBF_CTL_MAGIC 0x43464252u /* "RBFC" */
#define RBF_CTL_LAYOUT_VERSION 1u
#define RBF_BYTE_ORDER_LE 1u
#define RBF_BYTE_ORDER_BE 2u
#define RBF_CACHELINE 64u

#define RBF_LINK_PHYS_MASK 0xffffull
#define RBF_LINK_HEAD (1ull << 16)
#define RBF_LINK_UPDATE (1ull << 17)
#define RBF_LINK_FLAGS (RBF_LINK_HEAD | RBF_LINK_UPDATE)
#define RBF_LINK_TAG_SHIFT 18
#define RBF_LINK_TAG_BITS 22
#define RBF_LINK_TAG_MASK ((1ull << RBF_LINK_TAG_BITS) - 1)
#define RBF_LINK_RDEC_SHIFT 40
#define RBF_LINK_RDEC_MASK 0xffffffull

#define RBF_COMMIT_REC_SHIFT 40
#define RBF_COMMIT_REC_ONE (1ull << RBF_COMMIT_REC_SHIFT)
#define RBF_COMMIT_BYTES_MASK (RBF_COMMIT_REC_ONE - 1)

struct rbf_ctl_commit {
	uint64_t cc;
	uint8_t pad[RBF_CACHELINE - sizeof(uint64_t)];
};

struct rbf_ctl_stats {
	uint64_t lost[8]; /* enum rbf_lost_cause; writers */
	uint64_t overwritten; /* events, added by pushing writers */
	uint64_t subbufs_overwritten;
	uint64_t read; /* events, reader only */
	uint64_t subbufs_read; /* reader only */
	uint64_t pad[4];
};

struct rbf_ctl {
	/* Self-description, written once at creation. */
	uint32_t magic;
	uint16_t layout_version;
	uint8_t word_size;
	uint8_t byte_order;
	uint32_t ctl_size;
	uint32_t subbuf_size;
	uint32_t num_subbuf;
	uint32_t nr_data;
	uint32_t mode;
	uint32_t clock;
	uint32_t buffer_id;
	uint32_t flags;
	uint64_t link_off; /* byte offset of link[] */
	uint64_t commit_off; /* byte offset of commit[] */
	uint8_t pad0[RBF_CACHELINE - 56];

	/* Writer line. */
	uint64_t offset; /* write position (bytes since creation) */
	uint64_t last_ts; /* a stamp of some already reserved event */
	uint32_t wr_nest; /* per-thread buffers: owner's write nesting */
	uint32_t flush_req; /* per-thread buffers: reader flush request */
	uint8_t pad1[RBF_CACHELINE - 24];

	/* Reader line. */
	uint64_t read_seq; /* next sequence number the reader takes */
	uint64_t head_seq; /* hint: no undecided sequence is below it */
	uint32_t spare; /* phys index of the reader's spare */
	uint32_t held; /* phys index held by the reader + 1, or 0 */
	uint8_t pad2[RBF_CACHELINE - 24];

	struct rbf_ctl_stats stats;
};

_Static_assert(sizeof(struct rbf_ctl) % RBF_CACHELINE == 0, "ctl padding");
_Static_assert(offsetof(struct rbf_ctl, offset) == RBF_CACHELINE, "ctl line");

static inline uint64_t *rbf_ctl_links(struct rbf_ctl *ctl)
{
	return (uint64_t *)((char *)ctl + ctl->link_off);
}

static inline struct rbf_ctl_commit *rbf_ctl_commits(struct rbf_ctl *ctl)
{
	return (struct rbf_ctl_commit *)((char *)ctl + ctl->commit_off);
}

static inline uint64_t rbf_ctl_size(uint32_t num_subbuf)
{
	uint64_t links = ((uint64_t)num_subbuf * 8 + RBF_CACHELINE - 1) &
			 ~(uint64_t)(RBF_CACHELINE - 1);

	return sizeof(struct rbf_ctl) + links +
	       (uint64_t)num_subbuf * sizeof(struct rbf_ctl_commit);
}

/* Link word helpers. */
static inline uint32_t rbf_link_phys(uint64_t l)
{
	return (uint32_t)(l & RBF_LINK_PHYS_MASK);
}

static inline uint64_t rbf_link_tag(uint64_t l)
{
	return (l >> RBF_LINK_TAG_SHIFT) & RBF_LINK_TAG_MASK;
}

static inline int rbf_link_tag_is(uint64_t l, uint64_t seq)
{
	return rbf_link_tag(l) == (seq & RBF_LINK_TAG_MASK);
}

static inline uint32_t rbf_link_rdec(uint64_t l)
{
	return (uint32_t)(l >> RBF_LINK_RDEC_SHIFT);
}

static inline uint64_t rbf_link_make(uint32_t phys, uint64_t flags,
				     uint64_t seq, uint32_t rdec)
{
	return (uint64_t)phys | flags |
	       ((seq & RBF_LINK_TAG_MASK) << RBF_LINK_TAG_SHIFT) |
	       ((uint64_t)(rdec & RBF_LINK_RDEC_MASK) << RBF_LINK_RDEC_SHIFT);
}

#endif /* RBF_FRONTEND_CTL_H */
