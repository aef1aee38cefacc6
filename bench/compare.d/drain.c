/* SPDX-License-Identifier: MIT */
/*
 * bench/compare.d/drain.c - rbf's reader thread draining sub-buffers to a
 * file (see drain.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drain.h"
#include "harness.h"

#define DRAIN_MAX_BUFFERS 4096

static int write_all(struct drain *d, const void *p, size_t n)
{
	const char *c = p;
	uint64_t t0 = h_now_ns();
	ssize_t w;

	if (d->file_cap && d->file_pos + n > d->file_cap) {
		if (lseek(d->fd, 0, SEEK_SET) < 0)
			return -errno;
		d->file_pos = 0;
	}
	while (n) {
		w = write(d->fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		c += w;
		n -= (size_t)w;
		d->file_pos += (uint64_t)w;
	}
	d->io_ns += h_now_ns() - t0;
	return 0;
}

/* Take, store and give back every full sub-buffer of @buf; count them. */
static int drain_buffer(struct drain *d, struct rbf_buffer *buf)
{
	struct rbf_subbuf sb;
	const void *bytes;
	int n = 0, ret;

	while ((ret = rbf_subbuf_get(buf, &sb)) == 0) {
		bytes = sb.data;
		if (!bytes && d->fd >= 0) {
			/* Not CPU memory: copy it out first. */
			if (d->bounce_size < sb.size) {
				free(d->bounce);
				d->bounce = malloc(sb.size);
				d->bounce_size = d->bounce ? sb.size : 0;
			}
			ret = d->bounce ? rbf_subbuf_read(&sb, 0, d->bounce,
							  sb.size) :
					  -ENOMEM;
			bytes = d->bounce;
		}
		if (ret == 0 && d->fd >= 0)
			ret = write_all(d, bytes, sb.size);
		d->subbufs++;
		d->records += sb.records;
		d->bytes += sb.size;
		rbf_subbuf_put(buf, &sb);
		if (ret < 0)
			return ret;
		n++;
	}
	return ret == -EAGAIN ? n : ret;
}

/* One pass over every buffer; returns sub-buffers taken or -errno. */
static int drain_pass(struct drain *d)
{
	static struct rbf_buffer *bufs[DRAIN_MAX_BUFFERS];
	int nb, i, got = 0, ret;

	nb = rbf_channel_buffers(d->ch, bufs, DRAIN_MAX_BUFFERS);
	if (nb < 0)
		return nb;
	if (nb > DRAIN_MAX_BUFFERS)
		nb = DRAIN_MAX_BUFFERS;
	for (i = 0; i < nb; i++) {
		ret = drain_buffer(d, bufs[i]);
		if (ret < 0)
			return ret;
		got += ret;
	}
	return got;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *drain_main(void *arg)
{
	struct drain *d = arg;
	struct timespec idle = { 0, (long)d->idle_us * 1000 };
	int ret;

	if (d->cpu >= 0)
		h_pin(d->cpu);
	while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
		ret = drain_pass(d);
		if (ret < 0) {
			d->err = ret;
			break;
		}
		if (ret == 0)
			nanosleep(&idle, NULL);
	}
	d->cpu_ns += thread_cpu_ns();
	return NULL;
}

int drain_start(struct drain *d)
{
	int ret;

	atomic_init(&d->stop, false);
	d->subbufs = d->records = d->bytes = d->io_ns = d->cpu_ns = 0;
	d->file_pos = 0;
	d->err = 0;
	ret = pthread_create(&d->tid, NULL, drain_main, d);
	return -ret;
}

int drain_stop(struct drain *d, bool final)
{
	uint64_t cpu0 = thread_cpu_ns();
	int ret;

	atomic_store(&d->stop, true);
	pthread_join(d->tid, NULL);
	if (final && !d->err) {
		ret = rbf_channel_flush(d->ch);
		if (ret < 0)
			d->err = ret;
		while (!d->err && (ret = drain_pass(d)) > 0)
			;
		if (ret < 0 && !d->err)
			d->err = ret;
		d->cpu_ns += thread_cpu_ns() - cpu0;
	}
	free(d->bounce);
	d->bounce = NULL;
	d->bounce_size = 0;
	return d->err;
}

/* Count the records of one sub-buffer image; -1 when malformed. */
static int64_t count_records(const unsigned char *sb, uint32_t content,
			     uint32_t hdr_size)
{
	struct rbf_record_header h;
	struct rbf_record_header_ext x;
	uint64_t p = hdr_size, len, hsz, rsz;
	int64_t n = 0;
	uint16_t flags;
	bool committed;

	while (p < content) {
		if (content - p < sizeof(h))
			return -1;
		memcpy(&h, sb + p, sizeof(h));
		flags = h.len;
#ifdef RBF_REC_COMMITTED
		committed = flags & RBF_REC_COMMITTED;
		flags &= (uint16_t)~RBF_REC_COMMITTED;
#else
		committed = true;
#endif
		if (flags & RBF_REC_EXT) {
			if (content - p < sizeof(x))
				return -1;
			memcpy(&x, sb + p, sizeof(x));
			len = x.length;
			hsz = sizeof(x);
		} else {
			len = flags;
			hsz = sizeof(h);
		}
		rsz = RBF_ALIGN(hsz + len, (uint64_t)RBF_REC_ALIGN);
		if (rsz > content - p)
			return -1;
#ifdef RBF_EVENT_ID_PAD
		if (h.id == RBF_EVENT_ID_PAD)
			committed = false;
#endif
		n += committed;
		p += rsz;
	}
	return n;
}

int64_t drain_count_file(const char *path)
{
	struct rbf_subbuf_header h;
	unsigned char *sb = NULL;
	int64_t total = 0, n;
	FILE *f = fopen(path, "rb");

	if (!f)
		return -1;
	while (fread(&h, sizeof(h), 1, f) == 1) {
		if (h.magic != RBF_SUBBUF_MAGIC || h.header_size < sizeof(h) ||
		    h.content_size < h.header_size ||
		    h.content_size > h.subbuf_size) {
			total = -1;
			break;
		}
		free(sb);
		sb = malloc(h.content_size);
		if (!sb) {
			total = -1;
			break;
		}
		memcpy(sb, &h, sizeof(h));
		if (fread(sb + sizeof(h), 1, h.content_size - sizeof(h), f) !=
		    h.content_size - sizeof(h)) {
			total = -1;
			break;
		}
		n = count_records(sb, h.content_size, h.header_size);
		if (n < 0) {
			total = -1;
			break;
		}
		total += n;
	}
	if (total >= 0 && ferror(f))
		total = -1;
	free(sb);
	fclose(f);
	return total;
}
