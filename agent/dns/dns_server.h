/* The DNS server's transport: one UDP socket (recvmmsg/sendmmsg, replies from the
 * address the query came to) and one TCP listener (length-prefixed messages, several per
 * connection, idle connections closed), run by one epoll loop on one thread together with
 * the file descriptors its owner adds (the broker feed, signals). */
#ifndef SA_DNS_SERVER_H
#define SA_DNS_SERVER_H

#include <netinet/in.h>
#include <stdbool.h>

#include "agent/dns/dns_wire.h"

#define DNS_TCP_CONNS_MAX	128
#define DNS_TCP_IDLE_S		10

struct dns_server;

/* Binds UDP and TCP on addr. NULL with errno (EADDRINUSE, EACCES, ...). */
struct dns_server *dns_server_open(const struct sockaddr_in *addr, struct dns_records *db);
void dns_server_close(struct dns_server *s);
/* The port actually bound (addr's port 0 picks one). */
uint16_t dns_server_port(const struct dns_server *s);
/* Calls cb(ctx) from the loop whenever fd is readable. 0 or -errno. */
int dns_server_add_fd(struct dns_server *s, int fd, void (*cb)(void *ctx), void *ctx)
	__attribute__((warn_unused_result));
/* Runs until dns_server_stop() (from a callback). 0 or -errno. */
int dns_server_run(struct dns_server *s) __attribute__((warn_unused_result));
void dns_server_stop(struct dns_server *s);
const struct dns_wire_stats *dns_server_stats(const struct dns_server *s);

/* "ADDR:PORT" (IPv4) -> addr. 0 or -EINVAL. */
int dns_parse_listen(const char *s, struct sockaddr_in *addr) __attribute__((warn_unused_result));

#endif
