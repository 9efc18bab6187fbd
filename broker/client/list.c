/* Lists, page by page (?limit=N&continue=T): a collection of any size arrives in responses
 * that each fit BRK_MAX_RESPONSE, so a large list no longer blinds the informers. The pages
 * are merged into one list object whose metadata.resourceVersion is the first page's (the
 * broker reports that revision on every page: a watch from it sees every change made while
 * the pages were read). A continue token that expired (410) starts the list again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/client/client_int.h"
#include "common/log.h"

#define RESTARTS 3

/* Moves the items of page into items. */
static void take_items(cJSON *items, cJSON *page)
{
	cJSON *pi = cJSON_GetObjectItemCaseSensitive(page, "items"), *it;

	while (cJSON_IsArray(pi) && (it = pi->child)) {
		cJSON_DetachItemViaPointer(pi, it);
		cJSON_AddItemToArray(items, it);
	}
}

/* One pass over every page; -ERANGE when a continue token expired. */
static int list_pass(struct brk_client *c, CURL *h, atomic_bool *stop, const char *resource,
		     cJSON **out, struct brk_status *st)
{
	char path[BRK_CONTINUE_MAX + 256], cont[BRK_CONTINUE_MAX + 1] = "";
	cJSON *list = NULL, *page = NULL;
	int ret = 0;

	for (unsigned n = 0;; n++) {
		struct brk_req r = { .method = "GET", .path = path, .stop = stop };
		const char *next;

		if (snprintf(path, sizeof(path), BRK_API_PREFIX "/%s?limit=%d%s%s", resource,
			     BRK_LIST_PAGE, cont[0] ? "&continue=" : "", cont) >= (int)sizeof(path)) {
			ret = -ENAMETOOLONG;
			break;
		}
		ret = brk_do_request(c, h, &r, st);
		if (ret)
			break;
		page = cJSON_ParseWithLength(r.resp, r.resp_len);
		free(r.resp);
		if (!cJSON_IsObject(page) || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(page, "items"))) {
			snprintf(st->message, sizeof(st->message), "the broker's list of %s is not a list",
				 resource);
			ret = -EBADMSG;
			break;
		}
		next = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(page, "metadata"), "continue"));
		if (next && (strlen(next) > BRK_CONTINUE_MAX || !*next ||
			     strspn(next, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(next))) {
			snprintf(st->message, sizeof(st->message), "the broker's continue token is malformed");
			ret = -EBADMSG;
			break;
		}
		snprintf(cont, sizeof(cont), "%s", next ? next : "");
		if (!list) {
			list = page;	/* the first page carries the list's metadata */
		} else {
			take_items(cJSON_GetObjectItemCaseSensitive(list, "items"), page);
			cJSON_Delete(page);
		}
		page = NULL;
		if (!cont[0])
			break;
		if (n > 1000000) {
			ret = -ELOOP;
			break;
		}
	}
	cJSON_Delete(page);
	if (ret) {
		cJSON_Delete(list);
		return ret;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(list, "metadata"),
						"continue");
	*out = list;
	return 0;
}

int brk_list_all(struct brk_client *c, CURL *h, atomic_bool *stop, const char *resource,
		 cJSON **out, struct brk_status *st)
{
	int ret = -ERANGE;

	*out = NULL;
	for (int i = 0; i < RESTARTS && ret == -ERANGE; i++) {
		ret = list_pass(c, h, stop, resource, out, st);
		if (ret == -ERANGE)
			pr_debug("list %s: the continue token expired; listing again\n", resource);
	}
	return ret;
}
