/* SPDX-License-Identifier: MIT */
/*
 * frontend/thread.c - per-thread buffers and what they need from the
 * process: thread-local caches, thread exit, membarrier(2).
 *
 * A thread's first write to a per-thread channel creates its buffer
 * (rbf_buffer_create: mmap only, no malloc, no lock) and pushes it onto the
 * channel's buffer list with a compare-and-swap.  The thread caches
 * (channel uid -> buffer) in a small TLS array; channel uids are never
 * reused, so a stale entry of a destroyed channel never matches.
 *
 * Thread exit: a pthread key destructor marks the thread's buffers dead,
 * checking under the registry lock that their channel still exists (a
 * channel unregisters itself before freeing its buffers).  The reader frees
 * dead buffers once drained (rbf_channel_reap), after an RCU grace period.
 * Buffers a thread could not cache (more than RBF_TLS_CACHE per-thread
 * channels) are found dead by probing the thread id.
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <urcu/urcu-bp.h>

#include "internal.h"
#include "rcu.h"

__thread struct rbf_tls rbf_tls __attribute__((tls_model("initial-exec")));

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *registry;
static size_t registry_nr, registry_cap;

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static __thread int exit_key_set;

static bool registered_locked(uint64_t uid)
{
	size_t i;

	for (i = 0; i < registry_nr; i++)
		if (registry[i] == uid)
			return true;
	return false;
}

int rbf_registry_add(struct rbf_channel *ch)
{
	int ret = 0;

	pthread_mutex_lock(&registry_lock);
	if (registry_nr == registry_cap) {
		size_t cap = registry_cap ? registry_cap * 2 : 16;
		uint64_t *n = realloc(registry, cap * sizeof(*n));

		if (!n) {
			ret = -ENOMEM;
			goto out;
		}
		registry = n;
		registry_cap = cap;
	}
	registry[registry_nr++] = ch->uid;
out:
	pthread_mutex_unlock(&registry_lock);
	return ret;
}

void rbf_registry_del(struct rbf_channel *ch)
{
	size_t i;

	pthread_mutex_lock(&registry_lock);
	for (i = 0; i < registry_nr; i++) {
		if (registry[i] == ch->uid) {
			registry[i] = registry[--registry_nr];
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
}

static void thread_exit(void *arg)
{
	struct rbf_tls *t = &rbf_tls;
	uint32_t i;

	(void)arg;
	pthread_mutex_lock(&registry_lock);
	for (i = 0; i < t->nr; i++) {
		if (registered_locked(t->cache[i].uid))
			rbf_store_release32((uint32_t *)&t->cache[i].buf->dead,
					    1);
	}
	t->nr = 0;
	t->last_uid = 0;
	pthread_mutex_unlock(&registry_lock);
}

static void key_create(void)
{
	if (pthread_key_create(&exit_key, thread_exit) != 0)
		exit_key = (pthread_key_t)-1;
}

static int gettid_raw(void)
{
	return (int)syscall(SYS_gettid);
}

bool rbf_tid_alive(int tid)
{
	int saved = errno;
	long r = syscall(SYS_tgkill, (long)getpid(), (long)tid, 0L);
	bool alive = r == 0 || errno != ESRCH;

	errno = saved;
	return alive;
}

/*
 * Entries are written uid-last, with compiler barriers, so that a signal
 * handler interrupting us never matches a half-written entry.  When the
 * cache is full an entry is evicted round-robin; the evicted buffer is then
 * found on the channel list, and its death by the thread-id probe.
 */
static void cache_insert(struct rbf_channel *ch, struct rbf_buffer *buf)
{
	struct rbf_tls *t = &rbf_tls;
	uint32_t i;

	if (t->nr < RBF_TLS_CACHE) {
		i = t->nr;
	} else {
		i = t->evict++ % RBF_TLS_CACHE;
		t->cache[i].uid = 0;
		cmm_barrier();
	}
	t->cache[i].buf = buf;
	cmm_barrier();
	t->cache[i].uid = ch->uid;
	cmm_barrier();
	if (t->nr < RBF_TLS_CACHE)
		t->nr++;
}

static struct rbf_buffer *thread_buffer_slow(struct rbf_channel *ch, int *err)
{
	struct rbf_buffer *buf, *head;
	int tid = gettid_raw();
	int saved = errno;
	int ret;

	/* Not cached (cache full): look for ours on the channel's list. */
	for (buf = rcu_dereference(ch->list); buf;
	     buf = rcu_dereference(buf->next))
		if (buf->tid == tid && !RBF_LOAD(buf->dead))
			return buf;
	/* Do not allocate a buffer for a write that will be refused. */
	if (!RBF_LOAD(ch->enabled)) {
		*err = -EPERM;
		return NULL;
	}

	ret = rbf_buffer_create(ch, uatomic_add_return(&ch->next_id, 1) - 1, -1,
				tid, &buf);
	if (ret) {
		*err = -ENOMEM;
		errno = saved;
		return NULL;
	}
	do {
		head = RBF_LOAD(ch->list);
		buf->next = head;
		/* Full barrier: the buffer is initialized before it is
		 * published to readers walking the list. */
	} while (uatomic_cmpxchg(&ch->list, head, buf) != head);

	cache_insert(ch, buf);
	if (!exit_key_set) {
		pthread_once(&key_once, key_create);
		if (exit_key != (pthread_key_t)-1 &&
		    pthread_setspecific(exit_key, (void *)1) == 0)
			exit_key_set = 1;
	}
	errno = saved;
	return buf;
}

/*
 * The inline lookup checks one last-hit entry; this looks through the
 * cache, then the channel.  The last-hit pair is written buf first, uid
 * last, so that a signal handler never pairs a uid with another buffer.
 */
struct rbf_buffer *rbf_thread_buffer_slow(struct rbf_channel *ch, int *err)
{
	struct rbf_tls *t = &rbf_tls;
	struct rbf_buffer *buf = NULL;
	uint32_t i;

	for (i = 0; i < t->nr; i++) {
		if (t->cache[i].uid == ch->uid) {
			buf = t->cache[i].buf;
			break;
		}
	}
	if (!buf)
		buf = thread_buffer_slow(ch, err);
	if (buf) {
		t->last_uid = 0;
		cmm_barrier();
		t->last_buf = buf;
		cmm_barrier();
		t->last_uid = ch->uid;
	}
	return buf;
}

RBF_API int rbf_thread_prepare(struct rbf_channel *ch)
{
	int err = 0;

	if (!ch)
		return -EINVAL;
	rbf_rcu_reader();
	if (ch->alloc != RBF_ALLOC_PER_THREAD)
		return 0;
	rbf_rcu_read_lock();
	rbf_thread_buffer(ch, &err);
	rbf_rcu_read_unlock();
	return err;
}

struct urcu_bp_reader *rbf_rcu_reader_slow(void)
{
	struct urcu_bp_reader *r = URCU_TLS(urcu_bp_reader);

	if (!r) {
		urcu_bp_register_thread();
		r = URCU_TLS(urcu_bp_reader);
	}
	rbf_tls.self = *RBF_URCU_FIELD(r, pthread_t, tid);
	rbf_tls.urcu = r;
	return r;
}

static pthread_once_t mb_once = PTHREAD_ONCE_INIT;
static int mb_ok;

static void mb_setup(void)
{
	int saved = errno;
	long mask = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	if (mask > 0 && (mask & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	    syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
		    0, 0) == 0)
		mb_ok = 1;
	errno = saved;
}

int rbf_membarrier_setup(void)
{
	pthread_once(&mb_once, mb_setup);
	return mb_ok ? 0 : -ENOSYS;
}

int rbf_membarrier(void)
{
	int saved = errno;
	long r = syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0,
			 0);

	errno = saved;
	return r == 0 ? 0 : -EIO;
}
