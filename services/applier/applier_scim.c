/*
 * applier_scim.c - what lasync needs to know about SCIM 2.0 (RFC 7644):
 * URLs, the userName it derives, list responses, and what an answer
 * means for an operation.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applier.h"
#include "lasync_mem.h"

char *applier_scim_url(const char *base, Lasync__V1__ResourceType type,
		       const char *id, const char *filter_attr,
		       const char *filter_value)
{
	const char *coll = type == LASYNC__V1__RESOURCE_TYPE__RESOURCE_GROUP
				   ? "Groups"
				   : "Users";

	if (id != NULL) {
		char *e = curl_easy_escape(NULL, id, 0);
		char *u = lasync_xasprintf("%s/%s/%s", base, coll, e);

		curl_free(e);
		return u;
	}
	if (filter_attr != NULL) {
		/* Values here are externalIds and derived userNames: ids,
		 * never personal data, so a query string is fine (DESIGN §5
		 * sends personal data through POST /.search only). */
		char *q = lasync_xasprintf("%s eq \"%s\"", filter_attr,
					   filter_value);
		char *e = curl_easy_escape(NULL, q, 0);
		char *u = lasync_xasprintf("%s/%s?filter=%s", base, coll, e);

		curl_free(e);
		free(q);
		return u;
	}
	return lasync_xasprintf("%s/%s", base, coll);
}

char *applier_scim_username(const char *external_id)
{
	return lasync_xasprintf("lasync:%s", external_id);
}

json_t *applier_scim_first(json_t *list)
{
	json_t *res = json_object_get(list, "Resources");

	return json_is_array(res) && json_array_size(res) > 0
		       ? json_array_get(res, 0)
		       : NULL;
}

scim_verdict applier_scim_judge(const lasync_http_result *r, char *reason,
				size_t len)
{
	if (r->curl != CURLE_OK) {
		snprintf(reason, len, "portal unreachable: %s", r->error);
		return lasync_http_transient(r) ? SCIM_TRANSIENT
						: SCIM_PERMANENT;
	}
	if (r->status >= 200 && r->status < 300)
		return SCIM_OK;
	json_t *doc = json_loadb(r->body, r->len, 0, NULL);
	const char *st = json_string_value(json_object_get(doc, "scimType"));

	snprintf(reason, len, "portal answered HTTP %ld%s%s", r->status,
		 st ? " scimType=" : "", st ? st : "");
	json_decref(doc);
	if (r->status == 404)
		return SCIM_NOT_FOUND;
	if (r->status == 409)
		return SCIM_CONFLICT;
	if (lasync_http_transient(r))
		return SCIM_TRANSIENT;
	return SCIM_PERMANENT;
}
