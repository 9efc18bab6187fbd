/* The agent's own XFRM policies (see xfrm.h), one NETLINK_XFRM request each. */
#include "agent/routing/xfrm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>

/* Sends one request and reads its ack: 0 or the kernel's -errno. */
static int talk(struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_XFRM);
	unsigned int portid;
	ssize_t n;
	int rc = 0;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0 || mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, NULL, NULL) < 0)
		rc = -errno;
out:
	mnl_socket_close(nl);
	return rc;
}

static void selector(struct xfrm_selector *sel, const struct xfrm_in_policy *p)
{
	sel->family = AF_INET;
	sel->saddr.a4 = htonl(p->src.addr);
	sel->prefixlen_s = p->src.len;
	sel->daddr.a4 = htonl(p->dst.addr);
	sel->prefixlen_d = p->dst.len;
}

static int update_one(const struct xfrm_in_policy *p, uint8_t dir)
{
	char buf[512] __attribute__((aligned(NLMSG_ALIGNTO))) = { 0 };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct xfrm_userpolicy_info *pi;
	struct xfrm_user_tmpl t = {
		.id.proto = IPPROTO_ESP,
		.family = AF_INET,
		.reqid = p->reqid,
		.mode = XFRM_MODE_TUNNEL,
		/* any algorithm: the SA's own negotiation decided that */
		.aalgos = ~0U, .ealgos = ~0U, .calgos = ~0U,
	};

	nlh->nlmsg_type = XFRM_MSG_UPDPOLICY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = 1;
	pi = mnl_nlmsg_put_extra_header(nlh, sizeof(*pi));
	selector(&pi->sel, p);
	pi->lft.soft_byte_limit = pi->lft.hard_byte_limit = XFRM_INF;
	pi->lft.soft_packet_limit = pi->lft.hard_packet_limit = XFRM_INF;
	pi->priority = p->priority;
	pi->dir = dir;
	pi->action = XFRM_POLICY_ALLOW;
	pi->share = XFRM_SHARE_ANY;
	mnl_attr_put(nlh, XFRMA_TMPL, sizeof(t), &t);
	mnl_attr_put_u32(nlh, XFRMA_IF_ID, p->if_id);
	return talk(nlh);
}

static int delete_one(const struct xfrm_in_policy *p, uint8_t dir)
{
	char buf[256] __attribute__((aligned(NLMSG_ALIGNTO))) = { 0 };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct xfrm_userpolicy_id *id;

	nlh->nlmsg_type = XFRM_MSG_DELPOLICY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = 2;
	id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	selector(&id->sel, p);
	id->dir = dir;
	/* a policy is found by its selector, direction and if_id */
	mnl_attr_put_u32(nlh, XFRMA_IF_ID, p->if_id);
	return talk(nlh);
}

int xfrm_in_policy_update(const struct xfrm_in_policy *p)
{
	int rc;

	if (!p->if_id || !p->reqid || p->src.len > 32 || p->dst.len > 32)
		return -EINVAL;
	rc = update_one(p, XFRM_POLICY_IN);
	return rc ? rc : update_one(p, XFRM_POLICY_FWD);
}

int xfrm_in_policy_delete(const struct xfrm_in_policy *p)
{
	int a = delete_one(p, XFRM_POLICY_IN), b = delete_one(p, XFRM_POLICY_FWD);

	if (a == -ENOENT && b == -ENOENT)
		return -ENOENT;
	return a && a != -ENOENT ? a : b == -ENOENT ? 0 : b;
}
