/* This node's pod CIDR slice, found the way the CNI exposes it on the node, with no
 * Kubernetes API: the addresses the node holds inside the cluster CIDR and the routes of
 * that range in the main table. See podcidr.c for the rules. */
#ifndef SA_PODCIDR_H
#define SA_PODCIDR_H

#include <stddef.h>

#include "common/cidr.h"

#define PODCIDR_HOW_MAX 128

/* Finds the slice of the cluster CIDRs (n of them) that this node's pods live in, in the
 * network namespace the process runs in. On success *out is the slice and how (may be
 * NULL; PODCIDR_HOW_MAX bytes) says what it was found from. -ENOENT when the node has no
 * address or route inside the cluster CIDRs (no CNI yet, or no pod on it); -EAGAIN when what
 * there is does not make one slice (how says why); another -errno when netlink fails. */
int podcidr_detect(const struct cidr4 *cluster, size_t n, struct cidr4 *out, char *how)
	__attribute__((warn_unused_result));

#endif
