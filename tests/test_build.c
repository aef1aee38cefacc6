/* SPDX-License-Identifier: MIT */
/*
 * tests/test_build.c - the umbrella header compiles on its own as C and
 * the library links (test_build_cxx.cc does the same as C++).
 */
#include <rbf/rbf.h>

#include <criterion/criterion.h>

Test(build, version)
{
	unsigned int v = rbf_version();

	cr_assert_eq(v, (unsigned int)(RBF_VERSION_MAJOR << 16 |
				       RBF_VERSION_MINOR << 8 |
				       RBF_VERSION_PATCH));
}

Test(build, header_sizes)
{
	cr_assert_eq(sizeof(struct rbf_subbuf_header), 64u);
	cr_assert_eq(sizeof(struct rbf_record_header), 8u);
	cr_assert_eq(sizeof(struct rbf_record_header_ext), 16u);
	cr_assert_eq(RBF_ALIGN(13u, 8u), 16u);
	cr_assert_eq(RBF_ALIGN(16u, 8u), 16u);
}
