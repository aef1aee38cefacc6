/* SPDX-License-Identifier: MIT */
/*
 * rbf/page.h - the "page" backend: anonymous memory placed on the NUMA node
 * of the CPU a buffer serves (libnuma), optionally on huge pages.
 */
#ifndef RBF_PAGE_H
#define RBF_PAGE_H

#include <rbf/backend.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Back buffers with hugetlbfs pages (MAP_HUGETLB); creation fails with
 * -ENOMEM when the system has none reserved. */
#define RBF_PAGE_F_HUGETLB (1u << 0)
/* Ask for transparent huge pages (madvise(MADV_HUGEPAGE)); best effort. */
#define RBF_PAGE_F_THP (1u << 1)

/**
 * struct rbf_page_config - optional configuration of the page backend.
 * @size:      sizeof(struct rbf_page_config).
 * @flags:     RBF_PAGE_F_*.
 * @numa_node: node to place every buffer on; -1 (the default) places a
 *             per-CPU buffer on its CPU's node and other buffers on the node
 *             of the allocating thread.  A node that does not exist or has
 *             no memory makes channel creation fail with -EINVAL.  Ignored
 *             where NUMA is unavailable.
 *
 * Placement is best effort (a preferred-node policy: the kernel falls back
 * to another node when the target one is full).  The topology is read with
 * libnuma when the channel is created; buffer allocation itself makes only
 * system calls, so it stays async-signal-safe, and the library never makes
 * libnuma print.
 */
struct rbf_page_config {
	size_t size;
	uint32_t flags;
	int numa_node;
};

/* The page backend; the default when a channel names no backend. */
RBF_API extern const struct rbf_backend rbf_backend_page;

/**
 * rbf_page_config_init() - fill @cfg with defaults (no flags, node -1).
 */
RBF_API void rbf_page_config_init(struct rbf_page_config *cfg);

#ifdef __cplusplus
}
#endif

#endif /* RBF_PAGE_H */
