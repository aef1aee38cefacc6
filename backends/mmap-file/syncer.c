/* SPDX-License-Identifier: MIT */
/*
 * backends/mmap-file/syncer.c - RBF_DURABLE_SUBBUF: a thread that
 * msync()s every sub-buffer soon after it completes.
 *
 * Writers never make a system call for durability: this thread polls
 * each buffer's control block every millisecond.  For every sequence that
 * was closed since its last pass (write position past its end) it waits
 * until the commit word says complete, then msync()s the sub-buffer's
 * data and the control block.  A sequence the reader already took or a
 * writer overwrote is skipped (its slot's link has moved on).  The thread
 * blocks every signal, so the application's handlers never run on it.
 */
#include <errno.h>
#include <signal.h>
#include <time.h>

#include <urcu/uatomic.h>

#include "ctl.h"
#include "mmf_writer.h"

#define SYNCER_PERIOD_NS 1000000L

static int seq_complete(const struct rbf_ctl *ctl, uint64_t seq, uint32_t n,
			uint32_t size)
{
	const struct rbf_ctl_commit *c =
		(const void *)((const char *)ctl + ctl->commit_off);
	uint64_t cc = uatomic_read(&c[seq % n].cc);
	uint64_t end = (seq / n + 1) * (uint64_t)size;

	return ((cc - end) & RBF_COMMIT_BYTES_MASK) == 0;
}

/* One pass over buffer slot @i; returns the number of sub-buffers synced. */
static int sync_slot(struct mmf_chan *m, uint32_t i)
{
	const struct rbf_file_slot *s = &m->slots[i];
	const struct rbf_ctl *ctl = (const void *)(m->map + s->ctl_off);
	uint32_t n = m->chan.num_subbuf, size = m->chan.subbuf_size;
	uint64_t closed, seq, synced = 0;
	const uint64_t *links;

	if (uatomic_read(&s->state) == RBF_SLOT_FREE ||
	    uatomic_read(&ctl->magic) != RBF_CTL_MAGIC)
		return 0;
	links = (const void *)((const char *)ctl + ctl->link_off);
	closed = uatomic_read(&ctl->offset) / size;
	seq = m->synced[i];
	if (closed > n && seq < closed - n)
		seq = closed - n; /* older ones were reused meanwhile */
	for (; seq < closed; seq++) {
		uint64_t l = uatomic_read(&links[seq % n]);

		if (((l >> RBF_LINK_TAG_SHIFT) & RBF_LINK_TAG_MASK) !=
		    (seq & RBF_LINK_TAG_MASK))
			continue; /* read or overwritten already */
		if (!seq_complete(ctl, seq, n, size))
			break; /* a writer still commits: next pass */
		rbf_mmf_msync(m, s->data_off + (l & RBF_LINK_PHYS_MASK) * size,
			      size);
		synced++;
	}
	m->synced[i] = seq;
	if (synced)
		rbf_mmf_msync(m, s->ctl_off, m->ctl_size);
	return (int)synced;
}

static void *syncer_main(void *arg)
{
	struct mmf_chan *m = arg;
	struct timespec period = { 0, SYNCER_PERIOD_NS };

	while (!uatomic_read(&m->syncer_stop)) {
		uint32_t i, nr = uatomic_read(&m->hdr->nr_buffers);

		if (nr > m->max_buffers)
			nr = m->max_buffers;
		for (i = 0; i < nr; i++)
			sync_slot(m, i);
		nanosleep(&period, NULL);
	}
	return NULL;
}

int rbf_mmf_syncer_start(struct mmf_chan *m)
{
	sigset_t all, old;
	int ret;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&m->syncer, NULL, syncer_main, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return -ret;
	m->syncer_running = true;
	return 0;
}

void rbf_mmf_syncer_stop(struct mmf_chan *m)
{
	uint32_t i, nr;

	if (!m->syncer_running)
		return;
	uatomic_set(&m->syncer_stop, 1);
	pthread_join(m->syncer, NULL);
	m->syncer_running = false;
	/* Last pass: what completed since. */
	nr = uatomic_read(&m->hdr->nr_buffers);
	for (i = 0; i < nr && i < m->max_buffers; i++)
		sync_slot(m, i);
}
