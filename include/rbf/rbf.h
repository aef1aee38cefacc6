/* SPDX-License-Identifier: MIT */
/*
 * rbf/rbf.h - umbrella header of rbf, a ring buffer framework for tracers.
 *
 *	#include <rbf/rbf.h>
 *
 *	struct rbf_channel_attr attr;
 *	struct rbf_channel *ch;
 *	rbf_channel_attr_init(&attr);
 *	if (rbf_channel_create(&attr, &ch) == 0) {
 *		uint64_t v = 42;
 *		rbf_write(ch, 1, &v, sizeof(v));
 *		...
 *	}
 */
#ifndef RBF_RBF_H
#define RBF_RBF_H

#include <rbf/common.h>
#include <rbf/format.h>
#include <rbf/channel.h>
#include <rbf/write.h>
#include <rbf/reader.h>
#include <rbf/backend.h>
#include <rbf/page.h>
#include <rbf/mmap_file.h>
#include <rbf/file.h>

#endif /* RBF_RBF_H */
