/* SPDX-License-Identifier: MIT */
/*
 * backends/mmap-file/layout.h - the bytes of an rbf ring file.
 *
 * doc/file-format.md describes the same thing for readers in other
 * languages; keep both in step.
 *
 *	offset 0                struct rbf_file_header (one 4 KiB page)
 *	table_off               struct rbf_file_slot[max_buffers]
 *	region_off + i * region_size
 *	                        buffer slot i: its control block (struct
 *	                        rbf_ctl, frontend/ctl.h; ctl_size bytes, page
 *	                        aligned), then nr_data = num_subbuf + 1
 *	                        sub-buffers of subbuf_size bytes
 *
 * Everything is in the writer's byte order, which the header records; the
 * fields a reader needs first (magic, version, byte order) are at fixed
 * offsets.  Offsets are from the start of the file, never pointers.
 */
#ifndef RBF_MMAP_FILE_LAYOUT_H
#define RBF_MMAP_FILE_LAYOUT_H

#include <stdint.h>

#define RBF_FILE_MAGIC "RBF-RING" /* 8 bytes, no NUL */
#define RBF_FILE_VERSION 1u
#define RBF_FILE_HEADER_SIZE 4096u
#define RBF_FILE_PAGE 4096u

/* struct rbf_file_slot.state */
#define RBF_SLOT_FREE 0u
#define RBF_SLOT_LIVE 1u /* claimed; its buffer is (or was) written */
#define RBF_SLOT_DEAD 2u /* per-thread: the thread exited */

/*
 * struct rbf_file_header - page 0.  Fields up to @hdr_crc are written once
 * at creation and covered by @hdr_crc (CRC-32C); the rest changes while
 * the file is in use.
 */
struct rbf_file_header {
	char magic[8]; /* RBF_FILE_MAGIC */
	uint32_t version; /* RBF_FILE_VERSION */
	uint8_t word_size; /* sizeof(void *) of the writer */
	uint8_t byte_order; /* 1: little endian, 2: big endian */
	uint16_t header_size; /* RBF_FILE_HEADER_SIZE */
	uint64_t file_size;
	uint32_t subbuf_size;
	uint32_t num_subbuf;
	uint32_t mode; /* enum rbf_mode */
	uint32_t alloc; /* enum rbf_alloc */
	uint32_t clock; /* enum rbf_clock */
	uint32_t durability; /* enum rbf_durability */
	uint32_t max_buffers; /* slots in the table */
	uint32_t nr_cpus; /* per-CPU: CPUs, else 0 */
	uint64_t table_off;
	uint64_t region_off;
	uint64_t region_size;
	uint64_t ctl_size; /* page aligned; the control block's own size is
			    * in struct rbf_ctl.ctl_size */
	uint64_t clock_freq; /* ticks per second; 0: RBF_CLOCK_NONE */
	int64_t clock_offset_ns; /* realtime = ts_to_ns(ts) + offset */
	uint64_t create_time_ns; /* CLOCK_REALTIME */
	uint8_t uuid[16];
	uint32_t slot_size; /* sizeof(struct rbf_file_slot) */
	uint32_t hdr_crc; /* CRC-32C of the bytes before this field */

	/* Mutable part. */
	uint32_t state; /* enum rbf_file_state */
	uint32_t nr_buffers; /* slots claimed (atomic add) */
	int32_t writer_pid;
	int32_t reader_pid; /* attached reader, 0: none (CAS) */
	uint64_t open_count; /* times a writer opened the file */
	uint64_t lost_nobuf[8]; /* events lost before any buffer existed */
};

/* One buffer slot: 64 bytes. */
struct rbf_file_slot {
	uint32_t state; /* RBF_SLOT_* */
	uint32_t buffer_id;
	int32_t cpu; /* per-CPU: CPU, else -1 */
	int32_t tid; /* per-thread: thread id, else 0 */
	uint64_t ctl_off; /* == region_off + i * region_size */
	uint64_t data_off; /* == ctl_off + ctl_size */
	uint64_t pad[4];
};

_Static_assert(sizeof(struct rbf_file_slot) == 64, "slot size");
_Static_assert(sizeof(struct rbf_file_header) <= RBF_FILE_HEADER_SIZE,
	       "header size");

#endif /* RBF_MMAP_FILE_LAYOUT_H */
