/* SPDX-License-Identifier: MIT */
/*
 * frontend/channel.c - channel attributes, creation, destruction, and the
 * recording switch.
 *
 * Lifecycle and RCU: every write runs inside a liburcu-bp read-side
 * critical section, from reserve to commit.  The bulletproof flavor
 * registers threads on their first read-side section, so threads the
 * application never registered are covered.  Disabling recording clears
 * ch->enabled and waits for a grace period; destroying a channel does the
 * same and then frees the buffers, so no writer can still be inside one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu/urcu-bp.h>

#include "internal.h"

static uint64_t next_uid = 1;

RBF_API void rbf_channel_attr_init(struct rbf_channel_attr *attr)
{
	if (!attr)
		return;
	memset(attr, 0, sizeof(*attr));
	attr->size = sizeof(*attr);
	attr->backend = NULL;
	attr->subbuf_size = 64u << 10;
	attr->num_subbuf = 4;
	attr->mode = RBF_MODE_DISCARD;
	attr->alloc = RBF_ALLOC_PER_CPU;
	attr->clock = RBF_CLOCK_MONOTONIC;
	attr->max_nesting = RBF_NESTING_DEFAULT;
}

static bool pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static uint32_t log2u(uint32_t v)
{
	return 31u - (uint32_t)__builtin_clz(v);
}

/* Attributes may come from a newer caller with a larger struct: accept the
 * extra bytes only if they are zero. */
static int attr_size_ok(const struct rbf_channel_attr *attr)
{
	const unsigned char *p = (const unsigned char *)attr;
	size_t i;

	if (attr->size < sizeof(*attr) || attr->size > 4096)
		return 0;
	for (i = sizeof(*attr); i < attr->size; i++)
		if (p[i])
			return 0;
	return 1;
}

static int backend_ok(const struct rbf_backend *be)
{
	if (be->size < offsetof(struct rbf_backend, sync) ||
	    be->abi != RBF_BACKEND_ABI || !be->buffer_alloc ||
	    !be->buffer_free || !be->name)
		return 0;
	if (!(be->flags & RBF_BACKEND_F_CPU_DIRECT) &&
	    (!be->store || !be->load))
		return 0;
	return 1;
}

static int attr_check(const struct rbf_channel_attr *attr)
{
	const struct rbf_backend *be = attr->backend;

	if (!attr_size_ok(attr))
		return -EINVAL;
	if (!pow2(attr->subbuf_size) ||
	    attr->subbuf_size < RBF_SUBBUF_SIZE_MIN ||
	    attr->subbuf_size > RBF_SUBBUF_SIZE_MAX)
		return -EINVAL;
	if (!pow2(attr->num_subbuf) || attr->num_subbuf < RBF_NUM_SUBBUF_MIN ||
	    attr->num_subbuf > RBF_NUM_SUBBUF_MAX)
		return -EINVAL;
	if ((unsigned int)attr->mode > RBF_MODE_OVERWRITE ||
	    (unsigned int)attr->alloc > RBF_ALLOC_GLOBAL ||
	    (unsigned int)attr->clock > RBF_CLOCK_NONE)
		return -EINVAL;
	if (attr->max_nesting > RBF_NESTING_MAX || attr->flags)
		return -EINVAL;
	if (be && !backend_ok(be))
		return -EINVAL;
	return 0;
}

void rbf_channel_list_push(struct rbf_channel *ch, struct rbf_buffer *buf)
{
	buf->next = ch->list;
	rcu_assign_pointer(ch->list, buf);
}

struct rbf_channel *rbf_channel_alloc(void)
{
	struct rbf_channel *ch = calloc(1, sizeof(*ch));

	if (!ch)
		return NULL;
	ch->uid = uatomic_add_return(&next_uid, 1);
	pthread_mutex_init(&ch->rlock, NULL);
	return ch;
}

/* Geometry, modes and clock; attributes already checked.  @clock_freq:
 * the frequency of a TSC clock read from a file (0: measure it here). */
int rbf_channel_setup(struct rbf_channel *ch, uint32_t subbuf_size,
		      uint32_t num_subbuf, enum rbf_mode mode,
		      enum rbf_alloc alloc, enum rbf_clock clock,
		      uint64_t clock_freq)
{
	ch->subbuf_size = subbuf_size;
	ch->subbuf_order = log2u(subbuf_size);
	ch->num_subbuf = num_subbuf;
	ch->num_order = log2u(num_subbuf);
	ch->sb_mask = (uint64_t)subbuf_size - 1;
	ch->slot_mask = num_subbuf - 1;
	ch->mode = mode;
	ch->alloc = alloc;
	ch->clock = clock;
	ch->max_nesting = RBF_NESTING_DEFAULT;
	/* The largest record (extended header) after the sub-buffer header. */
	ch->max_payload = ch->subbuf_size - RBF_SB_HDR_SIZE - RBF_REC_EXT_SIZE;
	if (clock_freq) {
		ch->clock_freq = clock_freq;
		ch->tsc_ns_mult =
			clock == RBF_CLOCK_TSC ? 1e9 / (double)clock_freq : 1.0;
		return 0;
	}
	return 0;
}

static void free_buffers(struct rbf_channel *ch)
{
	struct rbf_buffer *buf = ch->list, *next;

	for (; buf; buf = next) {
		next = buf->next;
		rbf_buffer_destroy(buf);
	}
	ch->list = NULL;
}

static void channel_free(struct rbf_channel *ch)
{
	free_buffers(ch);
	if (ch->be->channel_fini)
		ch->be->channel_fini(ch->be_priv);
	free(ch->percpu);
	pthread_mutex_destroy(&ch->rlock);
	free(ch);
}

static int channel_create(const struct rbf_channel_attr *attr,
			  struct rbf_channel **out);

/* What a backend learns about the channel it serves. */
static void channel_describe(const struct rbf_channel *ch, uint32_t nbuf,
			     struct rbf_backend_chan *bc)
{
	struct timespec rt;
	uint64_t now;

	memset(bc, 0, sizeof(*bc));
	bc->subbuf_size = ch->subbuf_size;
	bc->num_subbuf = ch->num_subbuf;
	bc->mode = ch->mode;
	bc->alloc = ch->alloc;
	bc->clock = ch->clock;
	bc->nr_buffers = nbuf;
	bc->ctl_size = rbf_ctl_size(ch->num_subbuf);
	bc->clock_freq = ch->clock_freq;
	now = rbf_channel_ts_to_ns(ch, rbf_clock_read_slow(ch));
	clock_gettime(CLOCK_REALTIME, &rt);
	if (ch->clock != RBF_CLOCK_NONE)
		bc->clock_offset_ns =
			(int64_t)((uint64_t)rt.tv_sec * 1000000000ull +
				  (uint64_t)rt.tv_nsec - now);
}

RBF_API int rbf_channel_create(const struct rbf_channel_attr *attr,
			       struct rbf_channel **out)
{
	int saved = errno;
	int ret = channel_create(attr, out);

	errno = saved;
	return ret;
}

static int channel_create(const struct rbf_channel_attr *attr,
			  struct rbf_channel **out)
{
	struct rbf_channel *ch;
	uint32_t i, nbuf;
	int ret;

	if (!attr || !out)
		return -EINVAL;
	ret = attr_check(attr);
	if (ret)
		return ret;

	ch = rbf_channel_alloc();
	if (!ch)
		return -ENOMEM;
	rbf_channel_setup(ch, attr->subbuf_size, attr->num_subbuf, attr->mode,
			  attr->alloc, attr->clock, 0);
	ch->max_nesting = attr->max_nesting ? attr->max_nesting :
					      RBF_NESTING_DEFAULT;
	ch->be = attr->backend ? attr->backend : &rbf_backend_page;
	ch->cpu_direct = (ch->be->flags & RBF_BACKEND_F_CPU_DIRECT) != 0;
	ch->persistent = (ch->be->flags & RBF_BACKEND_F_PERSISTENT) != 0;

	ret = rbf_clock_setup(ch);
	if (ret)
		goto err_free;
	if (ch->alloc == RBF_ALLOC_PER_THREAD)
		ch->local_ok = RBF_HAVE_LOCAL_ATOMICS &&
			       rbf_membarrier_setup() == 0;
	nbuf = 0;
	if (ch->alloc == RBF_ALLOC_PER_CPU) {
		ch->nr_cpus = rbf_possible_cpus();
		nbuf = ch->nr_cpus;
	} else if (ch->alloc == RBF_ALLOC_GLOBAL) {
		ch->nr_cpus = 1;
		nbuf = 1;
	}
	if (ch->be->channel_init) {
		struct rbf_backend_chan bc;

		channel_describe(ch, nbuf, &bc);
		ret = ch->be->channel_init(&bc, attr->backend_config,
					   &ch->be_priv);
		if (ret) {
			ret = ret < 0 ? ret : -EIO;
			goto err_free;
		}
	}
	if (nbuf) {
		ch->percpu = calloc(nbuf, sizeof(*ch->percpu));
		if (!ch->percpu) {
			ret = -ENOMEM;
			goto err_fini;
		}
	}
	for (i = 0; i < nbuf; i++) {
		int cpu = ch->alloc == RBF_ALLOC_PER_CPU ? (int)i : -1;

		ret = rbf_buffer_create(ch, i, cpu, 0, &ch->percpu[i]);
		if (ret)
			goto err_fini;
		rbf_channel_list_push(ch, ch->percpu[i]);
	}
	ch->next_id = nbuf;
	ret = rbf_registry_add(ch);
	if (ret)
		goto err_fini;
	/* Publish: the buffers are initialized before writers see enabled. */
	cmm_smp_wmb();
	RBF_STORE(ch->enabled, 1);
	*out = ch;
	return 0;

err_fini:
	channel_free(ch);
	return ret;
err_free:
	pthread_mutex_destroy(&ch->rlock);
	free(ch);
	return ret;
}

RBF_API void rbf_channel_destroy(struct rbf_channel *ch)
{
	int saved = errno;

	if (!ch)
		return;
	rbf_registry_del(ch);
	RBF_STORE(ch->enabled, 0);
	/* Every writer that saw enabled == 1 has committed after this. */
	urcu_bp_synchronize_rcu();
	channel_free(ch);
	errno = saved;
}

RBF_API int rbf_channel_enable(struct rbf_channel *ch)
{
	if (!ch)
		return -EINVAL;
	RBF_STORE(ch->enabled, 1);
	return 0;
}

RBF_API int rbf_channel_disable(struct rbf_channel *ch)
{
	if (!ch)
		return -EINVAL;
	RBF_STORE(ch->enabled, 0);
	urcu_bp_synchronize_rcu();
	return 0;
}

RBF_API int rbf_channel_get_info(struct rbf_channel *ch,
				 struct rbf_channel_info *info)
{
	struct rbf_buffer *buf;
	uint32_t n = 0;

	if (!ch || !info || info->size < sizeof(*info))
		return -EINVAL;
	info->subbuf_size = ch->subbuf_size;
	info->num_subbuf = ch->num_subbuf;
	info->mode = ch->mode;
	info->alloc = ch->alloc;
	info->clock = ch->clock;
	info->max_nesting = ch->max_nesting;
	info->nr_cpus = ch->alloc == RBF_ALLOC_PER_CPU ? ch->nr_cpus : 0;
	info->clock_freq = ch->clock_freq;
	info->backend_name = ch->be->name;
	pthread_mutex_lock(&ch->rlock);
	for (buf = ch->list; buf; buf = buf->next)
		n++;
	pthread_mutex_unlock(&ch->rlock);
	info->nr_buffers = n;
	return 0;
}
