/* Loads bpf/tc_counter into the kernel: runs it on crafted packets through BPF_PROG_RUN
 * and attaches it to tc on loopback inside a private network namespace. */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tests/bpf/tc_counter.h"
#include "tests/bpf/tc_counter.skel.h"
#include "tests/unit/harness.h"

static unsigned long long read_counter(struct tc_counter_bpf *skel, __u32 key)
{
	int ncpu = libbpf_num_possible_cpus();
	struct sa_counter vals[ncpu];
	unsigned long long sum = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.counters), &key, vals))
		return ~0ull;
	for (int i = 0; i < ncpu; i++)
		sum += vals[i].packets;
	return sum;
}

static size_t build_udp(unsigned char *buf, int with_eth)
{
	struct ethhdr eth = { .h_proto = htons(ETH_P_IP) };
	struct iphdr ip = {
		.version = 4, .ihl = 5, .ttl = 64, .protocol = IPPROTO_UDP,
		.tot_len = htons(sizeof(struct iphdr) + sizeof(struct udphdr) + 4),
		.saddr = htonl(0x0a000001), .daddr = htonl(0x0a000002),
	};
	struct udphdr udp = { .source = htons(1000), .dest = htons(2000),
			      .len = htons(sizeof(struct udphdr) + 4) };
	size_t off = 0;

	memset(buf, 0, 128);
	if (with_eth) {
		memcpy(buf, &eth, sizeof(eth));
		off = sizeof(eth);
	}
	memcpy(buf + off, &ip, sizeof(ip));
	memcpy(buf + off + sizeof(ip), &udp, sizeof(udp));
	return off + sizeof(ip) + sizeof(udp) + 4;
}

static void test_prog_run(void)
{
	unsigned char pkt[128], out[128];
	struct tc_counter_bpf *skel;
	size_t len;
	int err;

	if (geteuid() != 0)
		SKIP_TEST("needs root to load BPF");
	skel = tc_counter_bpf__open_and_load();
	REQUIRE(skel != NULL);

	len = build_udp(pkt, 1);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 3);
	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.tc_count), &opts);
	CHECK(err == 0);
	CHECK_EQ_INT(opts.retval, TC_ACT_OK);
	CHECK_EQ_INT(opts.data_size_out, len);
	CHECK(memcmp(pkt, out, len) == 0);	/* the packet is never changed */
	CHECK_EQ_INT(read_counter(skel, SA_CNT_UDP), 3);
	CHECK_EQ_INT(read_counter(skel, SA_CNT_TCP), 0);

	/* An IPv4 header with a bad length field is counted as malformed and passed on.
	 * (BPF_PROG_RUN itself refuses packets shorter than an IPv4 header.) */
	pkt[sizeof(struct ethhdr)] = 0x43;	/* version 4, ihl 3 */
	LIBBPF_OPTS(bpf_test_run_opts, o2, .data_in = pkt, .data_size_in = (__u32)len);
	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.tc_count), &o2);
	CHECK_EQ_INT(err, 0);
	CHECK_EQ_INT(o2.retval, TC_ACT_OK);
	CHECK_EQ_INT(read_counter(skel, SA_CNT_MALFORMED), 1);
	tc_counter_bpf__destroy(skel);
}

static void test_tc_attach_loopback(void)
{
	struct tc_counter_bpf *skel;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	struct ifreq ifr = { 0 };
	int s, err;

	if (geteuid() != 0)
		SKIP_TEST("needs root for a network namespace");
	/* A private netns: the attach never touches the machine's own interfaces. */
	REQUIRE(unshare(CLONE_NEWNET) == 0);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	REQUIRE(s >= 0);
	strcpy(ifr.ifr_name, "lo");
	REQUIRE(ioctl(s, SIOCGIFFLAGS, &ifr) == 0);
	ifr.ifr_flags |= IFF_UP;
	REQUIRE(ioctl(s, SIOCSIFFLAGS, &ifr) == 0);

	skel = tc_counter_bpf__open_and_load();
	REQUIRE(skel != NULL);
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)if_nametoindex("lo"),
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, topts, .prog_fd = bpf_program__fd(skel->progs.tc_count));
	err = bpf_tc_hook_create(&hook);
	CHECK(err == 0 || err == -EEXIST);
	CHECK(bpf_tc_attach(&hook, &topts) == 0);

	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 5; i++)
		CHECK(sendto(s, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)) == 1);
	CHECK(read_counter(skel, SA_CNT_UDP) >= 5);
	close(s);
	hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	bpf_tc_hook_destroy(&hook);
	tc_counter_bpf__destroy(skel);
}

int main(void)
{
	RUN(test_prog_run);
	RUN(test_tc_attach_loopback);
	return harness_done();
}
