/* SPDX-License-Identifier: MIT */
/*
 * backends/mmap-file/drain.c - append completed sub-buffers to a trace
 * directory without copying them through user space.
 *
 * The reader takes a complete sub-buffer by exchange (rbf_subbuf_get): it
 * is then out of the ring, and its bytes sit in the ring file at a known
 * offset.  copy_file_range() moves them from the ring file to the stream
 * file inside the kernel (on file systems that support it, without even
 * touching the page cache twice); where it is refused (different file
 * system types on old kernels), splice() through a pipe does the same,
 * and a plain write() from the mapping is the last resort.  Then the
 * sub-buffer goes back to the ring (rbf_subbuf_put).
 *
 * A stream file that cannot take the sub-buffer (ENOSPC, EIO) is cut back
 * to its previous length, and the sub-buffer stays held: the next call
 * appends it first.  Nothing is lost, nothing is half-written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "mmf.h"

/* Move @len bytes at @off_in of @in to the end (@off_out) of @out. */
static int copy_range(int in, uint64_t off_in, int out, uint64_t off_out,
		      size_t len, int *zero_copy)
{
	loff_t oi = (loff_t)off_in, oo = (loff_t)off_out;
	size_t left = len;
	int pipefd[2];

	while (left) {
		ssize_t n = copy_file_range(in, &oi, out, &oo, left, 0);

		if (n > 0) {
			left -= (size_t)n;
			continue;
		}
		if (n == 0)
			return -EIO; /* the ring file is shorter than it says */
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
		    errno != EOPNOTSUPP)
			return -errno;
		break;
	}
	if (!left) {
		*zero_copy = 1;
		return 0;
	}
	/* splice through a pipe: still no copy through user space. */
	if (pipe2(pipefd, O_CLOEXEC) == 0) {
		int ret = 0;

		while (left) {
			ssize_t n = splice(in, &oi, pipefd[1], NULL, left,
					   SPLICE_F_MOVE);
			ssize_t m;

			if (n <= 0) {
				if (n < 0 && errno == EINTR)
					continue;
				ret = n < 0 ? -errno : -EIO;
				break;
			}
			while (n > 0) {
				m = splice(pipefd[0], NULL, out, &oo, (size_t)n,
					   SPLICE_F_MOVE);
				if (m <= 0) {
					if (m < 0 && errno == EINTR)
						continue;
					ret = m < 0 ? -errno : -EIO;
					break;
				}
				n -= m;
				left -= (size_t)m;
			}
			if (ret)
				break;
		}
		close(pipefd[0]);
		close(pipefd[1]);
		if (!ret) {
			*zero_copy = 1;
			return 0;
		}
		if (ret != -EINVAL && ret != -ENOSYS)
			return ret;
	}
	return 1; /* caller copies from the mapping */
}

/*
 * Per buffer slot: the sub-buffer held but not appended yet (the stream's
 * file system was full), and the stream file, kept open between calls
 * with its length (the drain is its only writer).
 */
struct mmf_drain_slot {
	struct rbf_subbuf sb;
	int valid;
	int fd; /* -1: not open */
	uint64_t end;
};

struct mmf_drain {
	dev_t dev; /* the trace directory the fds belong to */
	ino_t ino;
	int metadata_done;
	uint32_t nr;
	struct mmf_drain_slot slot[];
};

static void drain_close_streams(struct mmf_drain *d)
{
	uint32_t i;

	for (i = 0; i < d->nr; i++) {
		if (d->slot[i].fd >= 0)
			close(d->slot[i].fd);
		d->slot[i].fd = -1;
	}
	d->metadata_done = 0;
}

void rbf_mmf_drain_free(struct mmf_drain *d)
{
	if (!d)
		return;
	drain_close_streams(d);
	free(d);
}

static struct mmf_drain *drain_state(struct mmf_source *src)
{
	struct mmf_drain *d = *src->drain;
	uint32_t i;

	if (d)
		return d;
	d = calloc(1, sizeof(*d) + src->max_buffers * sizeof(d->slot[0]));
	if (!d)
		return NULL;
	d->nr = src->max_buffers;
	for (i = 0; i < d->nr; i++)
		d->slot[i].fd = -1;
	*src->drain = d;
	return d;
}

/* The metadata file: the ring file's header page, once. */
static int metadata_write(int dirfd, const struct rbf_file_header *hdr)
{
	char page[RBF_FILE_HEADER_SIZE];
	int fd, ret;

	fd = openat(dirfd, "metadata", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0644);
	if (fd < 0)
		return errno == EEXIST ? 0 : -errno;
	/* The constant part, as the writer wrote it; the rest as of now. */
	memset(page, 0, sizeof(page));
	memcpy(page, hdr, sizeof(*hdr));
	ret = rbf_mmf_pwrite_all(fd, page, sizeof(page), 0);
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	if (ret)
		unlinkat(dirfd, "metadata", 0);
	return ret;
}

/* Append held sub-buffer @sb of @buf to its stream file (@ds). */
static int append(struct mmf_source *src, int dirfd, struct rbf_buffer *buf,
		  uint32_t slot, struct mmf_drain_slot *ds,
		  struct rbf_drain_stats *st)
{
	const struct rbf_subbuf *sb = &ds->sb;
	uint64_t off_in;
	int ret, zc = 0;

	if (ds->fd < 0) {
		char name[32];
		struct stat fs;

		snprintf(name, sizeof(name), "stream-%u", buf->id);
		ds->fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC,
				0644);
		if (ds->fd < 0)
			return -errno;
		if (fstat(ds->fd, &fs)) {
			ret = -errno;
			close(ds->fd);
			ds->fd = -1;
			return ret;
		}
		ds->end = (uint64_t)fs.st_size;
	}
	off_in = src->slots[slot].data_off +
		 ((uint64_t)sb->priv_phys << buf->ch->subbuf_order);
	ret = copy_range(src->fd, off_in, ds->fd, ds->end, sb->size, &zc);
	if (ret == 1)
		ret = rbf_mmf_pwrite_all(ds->fd, src->map + off_in, sb->size,
					 ds->end);
	if (ret) {
		/* Leave the stream as it was: whole sub-buffers only. */
		if (ftruncate(ds->fd, (off_t)ds->end) == 0)
			(void)0;
		return ret;
	}
	ds->end += sb->size;
	st->subbufs++;
	st->bytes += sb->size;
	st->events += sb->records;
	st->zero_copy += zc ? 1u : 0u;
	return 0;
}

RBF_API int rbf_mmap_file_drain(struct rbf_channel *ch, int dirfd,
				struct rbf_drain_stats *st)
{
	struct rbf_drain_stats local;
	struct mmf_source src;
	struct mmf_drain *d;
	struct rbf_buffer *buf;
	struct stat dst;
	int ret = 0, moved = 0;

	if (!ch || dirfd < 0 || (st && st->size < sizeof(*st)))
		return -EINVAL;
	if (rbf_mmf_source(ch, &src))
		return -EINVAL;
	if (fstat(dirfd, &dst))
		return -errno;
	if (!S_ISDIR(dst.st_mode))
		return -ENOTDIR;
	if (!st) {
		memset(&local, 0, sizeof(local));
		local.size = sizeof(local);
		st = &local;
	}
	pthread_mutex_lock(&ch->rlock);
	d = drain_state(&src);
	if (!d) {
		pthread_mutex_unlock(&ch->rlock);
		return -ENOMEM;
	}
	if (d->dev != dst.st_dev || d->ino != dst.st_ino) {
		/* Another trace directory: its own streams. */
		drain_close_streams(d);
		d->dev = dst.st_dev;
		d->ino = dst.st_ino;
	}
	if (!d->metadata_done) {
		ret = metadata_write(dirfd, src.hdr);
		if (ret) {
			pthread_mutex_unlock(&ch->rlock);
			return ret;
		}
		d->metadata_done = 1;
	}
	if (ch->refresh)
		ch->refresh(ch);
	for (buf = ch->list; buf && !ret; buf = buf->next) {
		uint32_t slot = (uint32_t)(uintptr_t)buf->mem.handle;
		struct mmf_drain_slot *p;

		if (slot >= d->nr)
			continue;
		p = &d->slot[slot];
		for (;;) {
			if (!p->valid) {
				int r = rbf_subbuf_get_locked(buf, &p->sb);

				if (r == -EAGAIN)
					break;
				if (r) {
					ret = r;
					break;
				}
				p->valid = 1;
			}
			ret = append(&src, dirfd, buf, slot, p, st);
			if (ret)
				break; /* kept held: appended next time */
			rbf_subbuf_put_locked(buf, &p->sb);
			p->valid = 0;
			moved++;
		}
	}
	pthread_mutex_unlock(&ch->rlock);
	return ret ? ret : moved;
}
