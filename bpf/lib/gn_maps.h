/* globalnet: the maps shared by the tc egress and ingress programs, and the counter bump.
 * gn_ct is a plain HASH with a fixed size (not LRU): a full table refuses new flows and
 * counts it, it never evicts an established flow. User space sizes it before load. */
#ifndef SA_BPF_GN_MAPS_H
#define SA_BPF_GN_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bpf/globalnet.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 131072);
	__type(key, struct gn_ct_key);
	__type(value, struct gn_ct_entry);
} gn_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GN_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} gn_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gn_config);
} gn_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GN_MAX_EGRESS_IPS);
	__type(key, __u32);
	__type(value, __be32);
} gn_egress_pool SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct gn_lpm_key);
	__type(value, struct gn_remote_val);
} gn_remote SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct gn_lpm_key);
	__type(value, struct gn_src_egress_val);
} gn_src_egress SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __be32);
	__type(value, struct gn_ingress_val);
} gn_ingress SEC(".maps");

/* LRU: fragment state lives for the few microseconds between a datagram's fragments. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct gn_frag_key);
	__type(value, struct gn_frag_val);
} gn_frag SEC(".maps");

static __always_inline void gn_stat_inc(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&gn_stats, &idx);

	if (c)
		*c += 1;	/* per-CPU slot: no atomics needed */
}

#endif
