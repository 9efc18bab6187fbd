// SPDX-License-Identifier: GPL-2.0
/* tc_counter: counts packets by IP protocol on a tc hook. It never changes or drops a
 * packet. On an L3 device (TUN) the packet starts at the IP header; set is_l3 then. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "tests/bpf/tc_counter.h"

const volatile __u32 is_l3 = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SA_CNT_MAX);
	__type(key, __u32);
	__type(value, struct sa_counter);
} counters SEC(".maps");

static __always_inline __u32 classify(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct iphdr *ip = data;

	if (!is_l3) {
		struct ethhdr *eth = data;

		if ((void *)(eth + 1) > end)
			return SA_CNT_MALFORMED;
		if (eth->h_proto != bpf_htons(ETH_P_IP))
			return SA_CNT_OTHER;
		ip = (void *)(eth + 1);
	} else if (skb->protocol != bpf_htons(ETH_P_IP)) {
		return SA_CNT_OTHER;
	}
	if ((void *)(ip + 1) > end || ip->ihl < 5 || ip->version != 4)
		return SA_CNT_MALFORMED;
	switch (ip->protocol) {
	case IPPROTO_TCP:  return SA_CNT_TCP;
	case IPPROTO_UDP:  return SA_CNT_UDP;
	case IPPROTO_ICMP: return SA_CNT_ICMP;
	default:           return SA_CNT_IP_OTHER;
	}
}

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	__u32 key = classify(skb);
	struct sa_counter *c = bpf_map_lookup_elem(&counters, &key);

	if (c) {
		c->packets++;
		c->bytes += skb->len;
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
