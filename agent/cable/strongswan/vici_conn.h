/* A VICI client connection on charon's unix socket.
 *
 * Commands are synchronous with a timeout (VICI has no sequence numbers: one command at a
 * time per connection). Events the caller registered for (ike-updown, child-updown, ...)
 * that arrive while a command runs are queued; vici_conn_fd() becomes readable when the
 * socket has data or events are queued, and vici_conn_dispatch() delivers them, so the
 * agent's poll loop owns the connection. A command that times out leaves the byte stream
 * out of step, so the connection is marked broken: every later call fails with -ENOTCONN
 * and the caller reopens. No call blocks longer than its timeout. */
#ifndef SA_VICI_CONN_H
#define SA_VICI_CONN_H

#include <stddef.h>

#include "agent/cable/strongswan/vici_msg.h"

struct vici_conn;

/* Called with an event's name and decoded message; msg is freed after the call returns.
 * The callback may issue commands on the connection but must not close it. */
typedef void (*vici_event_cb)(void *ctx, const char *name, const struct vici_node *msg);

/* Connects to the socket at path. NULL and errno (ENAMETOOLONG, ENOENT, ECONNREFUSED, ...). */
struct vici_conn *vici_conn_open(const char *path);
/* NULL-safe. Queued events are dropped. */
void vici_conn_close(struct vici_conn *c);

/* Callback for events delivered by vici_conn_dispatch(). */
void vici_conn_set_event_cb(struct vici_conn *c, vici_event_cb cb, void *ctx);
/* A pollable fd (POLLIN): readable when vici_conn_dispatch() has something to do. */
int vici_conn_fd(const struct vici_conn *c);
/* Delivers queued events and reads whatever the socket has, without blocking.
 * 0, or -ECONNRESET (charon closed the socket), -EPROTO / -EBADMSG (garbage), -ENOTCONN. */
int vici_conn_dispatch(struct vici_conn *c) __attribute__((warn_unused_result));

/* (Un)registers for an event. 0, -ENOENT (EVENT_UNKNOWN), -ETIMEDOUT, other -errno. */
int vici_conn_register(struct vici_conn *c, const char *event, int timeout_ms)
	__attribute__((warn_unused_result));
int vici_conn_unregister(struct vici_conn *c, const char *event, int timeout_ms)
	__attribute__((warn_unused_result));

/* Runs a command. req may be NULL (empty message) and is not freed. On success *resp (if
 * resp is non-NULL) is the response tree, freed by the caller with vici_node_free().
 * 0, -EOPNOTSUPP (CMD_UNKNOWN), -ETIMEDOUT, -ECONNRESET, -EPROTO, -EBUSY (called from a
 * stream callback), -ENOTCONN (broken connection). */
int vici_conn_cmd(struct vici_conn *c, const char *cmd, struct vici_builder *req,
		  struct vici_node **resp, int timeout_ms) __attribute__((warn_unused_result));

/* A streamed command (list-sas, list-conns, ...): registers for event, runs cmd, calls
 * cb for every such event that arrives before the response, unregisters. */
int vici_conn_cmd_stream(struct vici_conn *c, const char *cmd, struct vici_builder *req,
			 const char *event, vici_event_cb cb, void *ctx,
			 struct vici_node **resp, int timeout_ms)
	__attribute__((warn_unused_result));

/* A command whose answer may take long (initiate): vici_conn_cmd_send() sends it and
 * returns; when vici_conn_fd() is readable, vici_conn_cmd_poll() returns 1 with the
 * response in *resp (the caller frees it), 0 while it is still running, or -errno. No other
 * command may run on the connection meanwhile: give such a command a connection of its
 * own. Events that arrive meanwhile are queued. */
int vici_conn_cmd_send(struct vici_conn *c, const char *cmd, struct vici_builder *req,
		       int timeout_ms) __attribute__((warn_unused_result));
int vici_conn_cmd_poll(struct vici_conn *c, struct vici_node **resp)
	__attribute__((warn_unused_result));

/* vici_conn_cmd() plus the usual "success = yes|no" check: -EREMOTEIO when charon says no,
 * with its errmsg copied into errbuf (may be NULL). */
int vici_conn_call(struct vici_conn *c, const char *cmd, struct vici_builder *req,
		   int timeout_ms, char *errbuf, size_t errlen)
	__attribute__((warn_unused_result));

#endif
