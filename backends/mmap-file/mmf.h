/* SPDX-License-Identifier: MIT */
/*
 * backends/mmap-file/mmf.h - declarations shared by the files of the
 * mmap-file backend (writer side: backend.c, syncer.c; reader side:
 * attach.c, drain.c; offline: file_open.c, file_walk.c, file_recover.c).
 */
#ifndef RBF_MMF_H
#define RBF_MMF_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <rbf/rbf.h>
#include <rbf/file.h>
#include <rbf/mmap_file.h>

#include "layout.h"

#define RBF_MMF_HIDDEN __attribute__((visibility("hidden")))

/* pwrite() all of @len bytes at @off, retrying short writes and EINTR.
 * Returns 0 or -errno (-EIO if the file stops growing). */
static inline int rbf_mmf_pwrite_all(int fd, const void *buf, size_t len,
				     uint64_t off)
{
	const unsigned char *p = (const unsigned char *)buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* crc32c.c */
RBF_MMF_HIDDEN uint32_t rbf_crc32c(const void *buf, size_t len);

/* Byte offset of hdr_crc: the CRC covers everything before it. */
#define RBF_FILE_HDR_CRC_LEN offsetof(struct rbf_file_header, hdr_crc)

/*
 * file_open.c: validate a whole file image (header, slot table, every
 * used buffer's control block).  @live: the writer may be running, so
 * fields writers move (positions, commit words, links) may change under
 * the check; only the constant ones are checked strictly.  Returns 0 or
 * -EINVAL / -EPROTONOSUPPORT with @err filled.
 */
RBF_MMF_HIDDEN int rbf_mmf_validate(const void *map, size_t len, int live,
				    struct rbf_file_error *err);

/* drain.c: the state of a channel's drain (opaque), freed with it. */
struct mmf_drain;
RBF_MMF_HIDDEN void rbf_mmf_drain_free(struct mmf_drain *d);

/* What the drain needs of a file-backed channel, writer or reader side. */
struct mmf_source {
	int fd;
	char *map;
	struct rbf_file_header *hdr;
	struct rbf_file_slot *slots;
	uint32_t max_buffers;
	struct mmf_drain **drain; /* created by the first drain */
};

/* attach.c: the file behind @ch (either side); -EINVAL if none. */
RBF_MMF_HIDDEN int rbf_mmf_source(struct rbf_channel *ch,
				  struct mmf_source *src);

/* Is process @pid alive (kill(pid, 0) says so)? */
RBF_MMF_HIDDEN int rbf_mmf_pid_alive(int pid);

#endif /* RBF_MMF_H */
