/* SPDX-License-Identifier: MIT */
/*
 * rbf/format.h - the bytes a reader finds in a sub-buffer.
 *
 * A sub-buffer is self-describing: it starts with a struct
 * rbf_subbuf_header, followed by records, each 8-byte aligned, up to
 * content_size; the rest of the sub-buffer is padding.  All fields are in
 * the writer's native byte order (the buffer's control block says which).
 *
 * Record header, compact form (8 bytes):
 *
 *	u32 ts_low   low 32 bits of the timestamp
 *	u16 id       client event id (0 .. 65534); RBF_EVENT_ID_PAD (65535)
 *	             marks padding that readers skip
 *	u16 len      payload length (bits 0-13); bit 14 = RBF_REC_COMMITTED;
 *	             bit 15 = RBF_REC_EXT
 *
 * The commit mark: a writer stores the header with RBF_REC_COMMITTED clear
 * when it reserves, and sets the bit when it commits, before the commit
 * counter says so.  Live readers only receive sub-buffers whose every byte
 * is committed, so they never see a clear bit; a reader of a file whose
 * writer died uses it to drop records that were reserved but never
 * committed.  A zero 8-byte word reads as an uncommitted empty record: the
 * walk of a never-written, zero-filled area steps over it 8 bytes at a
 * time.
 *
 * The compact timestamp is a 32-bit delta: the full stamp of a record is
 * the full stamp of the record before it in the same sub-buffer (for the
 * first record: the sub-buffer's ts_begin) plus (ts_low - previous ts_low)
 * modulo 2^32.  Writers use the extended form whenever the delta might not
 * fit, so a reader never has to guess.
 *
 * Extended form (16 bytes), for large deltas, large payloads (>= 16 KiB) and
 * every record of a RBF_CLOCK_NONE channel:
 *
 *	u32 ts_low, u16 id, u16 len = RBF_REC_EXT (| RBF_REC_COMMITTED)
 *	u32 ts_high  high 32 bits of the full timestamp
 *	u32 length   payload length
 *
 * The payload follows the header; the record occupies
 * RBF_ALIGN(header + payload, 8) bytes.
 */
#ifndef RBF_FORMAT_H
#define RBF_FORMAT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RBF_ALIGN(x, a) (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))

#define RBF_REC_ALIGN 8
#define RBF_REC_EXT 0x8000u
#define RBF_REC_COMMITTED 0x4000u
#define RBF_REC_LEN_MASK 0x3fffu
#define RBF_REC_COMPACT_MAX_LEN 0x3fffu
#define RBF_EVENT_ID_MAX 65534u
#define RBF_EVENT_ID_PAD 65535u

struct rbf_record_header {
	uint32_t ts_low;
	uint16_t id;
	uint16_t len;
};

struct rbf_record_header_ext {
	uint32_t ts_low;
	uint16_t id;
	uint16_t len; /* RBF_REC_EXT | (RBF_REC_COMMITTED) */
	uint32_t ts_high;
	uint32_t length;
};

#define RBF_SUBBUF_MAGIC 0x53464252u /* "RBFS" in little endian memory */

/**
 * struct rbf_subbuf_header - first bytes of every sub-buffer.
 * @magic:        RBF_SUBBUF_MAGIC.
 * @header_size:  sizeof(struct rbf_subbuf_header).
 * @flags:        reserved, 0.
 * @content_size: bytes used, this header included; the records end here.
 * @subbuf_size:  size of the sub-buffer in bytes.
 * @seq:          sequence number of this sub-buffer in its buffer (0, 1, ..);
 *                a gap between consecutive sub-buffers a reader receives
 *                means sub-buffers were overwritten in between.
 * @ts_begin:     timestamp of the first record.
 * @ts_end:       timestamp when the sub-buffer was closed (>= every record).
 * @lost:         cumulative number of events lost (all causes) by this
 *                buffer when the sub-buffer was closed.
 * @overwritten:  cumulative number of events overwritten in this buffer
 *                when the sub-buffer was closed.
 * @buffer_id:    id of the buffer within its channel.
 * @reserved:     0.
 *
 * The begin fields are written when the sub-buffer is opened, the end fields
 * (content_size, ts_end, lost, overwritten) when it is closed; a reader only
 * ever receives closed, fully committed sub-buffers.
 */
struct rbf_subbuf_header {
	uint32_t magic;
	uint16_t header_size;
	uint16_t flags;
	uint32_t content_size;
	uint32_t subbuf_size;
	uint64_t seq;
	uint64_t ts_begin;
	uint64_t ts_end;
	uint64_t lost;
	uint64_t overwritten;
	uint32_t buffer_id;
	uint32_t reserved;
};

#ifdef __cplusplus
}
#endif

#endif /* RBF_FORMAT_H */
