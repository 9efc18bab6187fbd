/* GET <collection>: the whole list, or one page of it (?limit=N&continue=T). */
#ifndef SA_SRV_API_LIST_H
#define SA_SRV_API_LIST_H

#include "broker/server/server.h"

struct srv_resource;

void srv_api_list(struct srv_server *srv, const struct srv_resource *r,
		  const struct srv_request *rq, struct srv_reply *rp);

#endif
