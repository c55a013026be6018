/*
 * applier_op.c - one change-set operation as a chain of SCIM calls.
 *
 *   resolve   portal ids of every resource the operation refers to (the
 *             group and members, guardianOf children), from the cache or
 *             by GET ?filter=externalId eq "..."
 *   UPSERT    look up by externalId (or use the reconcile preload); absent:
 *             POST with everything lasync owns and a userName derived from
 *             the externalId (409 -> look up by userName and go on as
 *             present); present: PATCH only the owned attributes whose
 *             portal value differs - strong ones set or removed, sticky
 *             ones only set, create-only ones never
 *   PATCH     absolute values of owned paths; a path lasync does not own is
 *             refused here, whatever the change set says (R9)
 *   members   ADD / REMOVE single LAS members; SET compares the group's
 *             actual LAS members (members with a LAS externalId) with the
 *             wanted ones and leaves members added in the portal alone
 *
 * Each step's callback either starts the next request or ends the
 * operation with applier_job_op_done().  Writes (the create's POST, the
 * PATCHes) go through applier_write(), which may carry them in a SCIM
 * Bulk; the callbacks get the same answer either way.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applier.h"
#include "lasync_attr.h"
#include "lasync_log.h"
#include "lasync_mem.h"

typedef enum {
	STEP_RESOLVE,
	STEP_LOOKUP,
	STEP_CREATE,
	STEP_LOOKUP_USERNAME,
	STEP_PATCH,
	STEP_GET_GROUP,
} op_step;

typedef struct need {
	char *external_id;
	Lasync__V1__ResourceType type;
} need;

struct oprun {
	ajob *aj;
	size_t idx;
	const Lasync__V1__Operation *op;
	op_step step;
	lasync_http_xfer *x;
	need *needs;
	size_t n_needs, next_need;
	json_t *doc;		/* the resource as the portal has it */
	char *id;
	bool retried;
	bool created;
	bool patched;
	unsigned added, removed;	/* members written */
	size_t prune_i;			/* R5 prune: next portal group */
	bool link_tried;		/* took a look at a linked resource */
	bool linked;			/* took over an existing resource */
	bool queued;			/* parked in the link queue */
};

bool applier_op_linked(const oprun *run)
{
	return run->linked;
}

bool applier_op_queued(const oprun *run)
{
	return run->queued;
}

void applier_op_members(const oprun *run, unsigned *added, unsigned *removed)
{
	*added = run->added;
	*removed = run->removed;
}

bool applier_op_created(const oprun *run)
{
	return run->created;
}

bool applier_op_creating(const oprun *run)
{
	return run->step == STEP_CREATE;
}

bool applier_op_patched(const oprun *run)
{
	return run->patched;
}

static void run_resolve(oprun *run);
static void run_main(oprun *run);

static void finish(oprun *run, op_outcome o, int retry_after_ms,
		   const char *reason)
{
	ajob *aj = run->aj;
	size_t idx = run->idx;

	applier_job_op_done(aj, idx, o, retry_after_ms, reason);
}

static void fail(oprun *run, op_outcome o, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(oprun *run, op_outcome o, const char *fmt, ...)
{
	char reason[512], full[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
		&lasync__v1__op_type__descriptor, (int)run->op->type);

	snprintf(full, sizeof(full), "%s %s: %s", ev ? ev->name : "op",
		 run->op->external_id, reason);
	finish(run, o, 0, full);
}

void applier_op_free(oprun *run)
{
	if (run == NULL)
		return;
	for (size_t i = 0; i < run->n_needs; i++)
		free(run->needs[i].external_id);
	free(run->needs);
	json_decref(run->doc);
	free(run->id);
	free(run);
}

void applier_op_cancel(ajob *aj, oprun *run)
{
	if (run != NULL && run->x != NULL) {
		lasync_http_cancel(applier_http(aj), run->x);
		run->x = NULL;
	}
}

/* --- references ------------------------------------------------------ */

static void need_add(oprun *run, const char *ext, Lasync__V1__ResourceType t)
{
	for (size_t i = 0; i < run->n_needs; i++)
		if (strcmp(run->needs[i].external_id, ext) == 0)
			return;
	run->needs = lasync_xreallocarray(run->needs, run->n_needs + 1,
					  sizeof(*run->needs));
	run->needs[run->n_needs].external_id = lasync_xstrdup(ext);
	run->needs[run->n_needs].type = t;
	run->n_needs++;
}

/* collect_needs - what this operation refers to besides itself */
static void collect_needs(oprun *run)
{
	const Lasync__V1__Operation *op = run->op;

	if (op->type != LASYNC__V1__OP_TYPE__OP_UPSERT &&
	    op->type != LASYNC__V1__OP_TYPE__OP_PATCH &&
	    op->type != LASYNC__V1__OP_TYPE__OP_PRUNE_MEMBERS)
		need_add(run, op->external_id, op->resource);
	for (size_t i = 0; i < op->n_members; i++)
		need_add(run, op->members[i]->external_id,
			 op->members[i]->type);
	/* externalIds inside values (guardianOf) refer to users */
	for (size_t i = 0; i < op->n_set; i++) {
		const lasync_attr_def *def =
			lasync_attr_find((lasync_res_type)op->resource,
					 op->set[i]->path);

		if (def == NULL || def->shape != LASYNC_SHAPE_MULTI)
			continue;
		json_t *v = json_loads(op->set[i]->json, JSON_DECODE_ANY, NULL);
		size_t k;
		json_t *e;

		json_array_foreach(v, k, e) {
			const char *x = json_string_value(
				json_object_get(e, "externalId"));

			if (x != NULL)
				need_add(run, x,
					 LASYNC__V1__RESOURCE_TYPE__RESOURCE_USER);
		}
		json_decref(v);
	}
}

/* known_id - the portal id of ext from the cache or the preload */
static const char *known_id(ajob *aj, const char *ext)
{
	const char *id = applier_ids_get(aj->ids, ext);

	if (id == NULL && aj->preloaded) {
		json_t *doc = json_object_get(aj->portal, ext);

		id = json_string_value(json_object_get(doc, "id"));
	}
	return id;
}

static const char *ref_fn(void *ctx, const char *ext)
{
	return known_id(ctx, ext);
}

/* resolvable - a MULTI value without the references the portal does not
 * have (a profile parked in the link queue, or not created yet); the
 * resource is marked dirty so the next sync writes the whole value.
 * Returns a string the caller frees. */
static char *resolvable(oprun *run, const lasync_attr_def *def,
			const char *value)
{
	json_t *v, *kept;
	size_t i;
	json_t *e;
	bool dropped = false;
	char *out;

	if (def->shape != LASYNC_SHAPE_MULTI || value == NULL)
		return value ? lasync_xstrdup(value) : NULL;
	v = json_loads(value, JSON_DECODE_ANY, NULL);
	if (!json_is_array(v)) {
		json_decref(v);
		return lasync_xstrdup(value);
	}
	kept = json_array();
	json_array_foreach(v, i, e) {
		const char *x = json_string_value(json_object_get(e, "externalId"));

		if (x != NULL && known_id(run->aj, x) == NULL) {
			dropped = true;
			continue;
		}
		json_array_append(kept, e);
	}
	if (dropped) {
		lasync_warn("reference_deferred",
			    "tenant=%s ext=%s path=%s reason=\"referenced "
			    "profile not in the portal yet\"",
			    run->aj->tenant->tenant_id, run->op->external_id,
			    def->path);
		applier_dirty(run->aj, run->op->external_id);
	}
	out = json_array_size(kept) ? lasync_json_canon(kept) : NULL;
	json_decref(kept);
	json_decref(v);
	return out;
}

static void on_resolve(void *ctx, const lasync_http_result *r)
{
	oprun *run = ctx;
	ajob *aj = run->aj;
	need *n = &run->needs[run->next_need];
	char reason[256];
	scim_verdict v;

	run->x = NULL;
	v = applier_scim_judge(r, reason, sizeof(reason));
	if (v == SCIM_TRANSIENT) {
		finish(run, OP_TRANSIENT, (int)r->retry_after_s * 1000, reason);
		return;
	}
	if (v != SCIM_OK) {
		fail(run, OP_PERMANENT, "lookup of %s: %s", n->external_id,
		     reason);
		return;
	}
	json_t *list = json_loadb(r->body, r->len, 0, NULL);
	json_t *first = applier_scim_first(list);
	const char *id = json_string_value(json_object_get(first, "id"));

	if (id != NULL)
		applier_ids_put(aj->ids, applier_redis(aj), aj->ids_key,
				n->external_id, id);
	json_decref(list);
	run->next_need++;
	run_resolve(run);
}

/* run_resolve - resolve the next unknown reference, then go on */
static void run_resolve(oprun *run)
{
	ajob *aj = run->aj;

	run->step = STEP_RESOLVE;
	while (run->next_need < run->n_needs) {
		need *n = &run->needs[run->next_need];

		if (known_id(aj, n->external_id) != NULL || aj->preloaded) {
			/* With a preload, absent from it is absent. */
			run->next_need++;
			continue;
		}
		char *url = applier_scim_url(aj->tenant->portal_base_url,
					     n->type, NULL, "externalId",
					     n->external_id);

		run->x = applier_request(aj, "GET", url, NULL, on_resolve, run);
		free(url);
		return;
	}
	run_main(run);
}

/* --- writes ---------------------------------------------------------- */

static void on_patch(void *ctx, const lasync_http_result *r);

static void send_patch(oprun *run, json_t *ops)
{
	ajob *aj = run->aj;
	json_t *body = json_object();
	char *url = applier_scim_url(aj->tenant->portal_base_url,
				     run->op->resource, run->id, NULL, NULL);

	json_object_set_new(body, "schemas",
			    json_pack("[s]", "urn:ietf:params:scim:api:"
					     "messages:2.0:PatchOp"));
	json_object_set_new(body, "Operations", ops);
	run->step = STEP_PATCH;
	run->patched = true;
	applier_write(aj, "PATCH", url, body, on_patch, run, &run->x);
	json_decref(body);
	free(url);
}

/* desired_value - the value the operation sets for path, or NULL */
static const char *desired_value(const Lasync__V1__Operation *op,
				 const char *path)
{
	for (size_t i = 0; i < op->n_set; i++)
		if (strcmp(op->set[i]->path, path) == 0)
			return op->set[i]->json;
	return NULL;
}

/* resource_kind - LASYNC_KIND_* of the operation's resource */
static unsigned resource_kind(const Lasync__V1__Operation *op,
			      const json_t *doc)
{
	if (op->resource == LASYNC__V1__RESOURCE_TYPE__RESOURCE_GROUP)
		return LASYNC_KIND_GROUP;
	const char *k = desired_value(op, LASYNC_A_KIND);

	if (k != NULL) {
		json_t *v = json_loads(k, JSON_DECODE_ANY, NULL);
		unsigned bit = lasync_attr_kind_bit(json_string_value(v));

		json_decref(v);
		return bit;
	}
	json_t *ext = json_object_get(doc, LASYNC_SCHEMA_USER_EXT);

	return lasync_attr_kind_bit(
		json_string_value(json_object_get(ext, "kind")));
}

/* reconcile_patch - PATCH what differs between the portal's doc and the
 * wanted owned values */
static void reconcile_patch(oprun *run)
{
	ajob *aj = run->aj;
	const Lasync__V1__Operation *op = run->op;
	unsigned kind = resource_kind(op, run->doc);
	json_t *ops = json_array();
	size_t n;
	const lasync_attr_def *tab = lasync_attr_table(&n);
	char err[256];

	if (!lasync_streq(json_string_value(json_object_get(run->doc,
							    "externalId")),
			  op->external_id))
		json_array_append_new(
			ops, json_pack("{s:s,s:s,s:s}", "op", "replace", "path",
				       "externalId", "value",
				       op->external_id));
	for (size_t i = 0; i < n; i++) {
		const lasync_attr_def *def = &tab[i];

		if ((int)def->res != (int)op->resource ||
		    def->owner == LASYNC_OWN_CREATE ||
		    !lasync_attr_applies(def, kind, applier_vendor(aj)))
			continue;
		char *want = resolvable(run, def, desired_value(op, def->path));
		char *have = lasync_attr_extract(def, run->doc);
		bool differ = !lasync_streq(want, have);

		free(have);
		if (!differ || (want == NULL && def->owner == LASYNC_OWN_STICKY)) {
			free(want);
			continue;
		}
		if (lasync_attr_patch_ops(def, want, ref_fn, aj, ops, err,
					  sizeof(err)) != 0) {
			free(want);
			json_decref(ops);
			fail(run, OP_PERMANENT, "%s", err);
			return;
		}
		free(want);
	}
	if (json_array_size(ops) == 0) {
		json_decref(ops);
		finish(run, OP_DONE, 0, NULL);
		return;
	}
	send_patch(run, ops);
}

static void on_lookup(void *ctx, const lasync_http_result *r);
static void do_create(oprun *run);
static void take_over_or_create(oprun *run);

static void lookup(oprun *run, op_step step, const char *attr,
		   const char *value)
{
	ajob *aj = run->aj;
	char *url = applier_scim_url(aj->tenant->portal_base_url,
				     run->op->resource, NULL, attr, value);

	run->step = step;
	run->x = applier_request(aj, "GET", url, NULL, on_lookup, run);
	free(url);
}

static void on_lookup(void *ctx, const lasync_http_result *r)
{
	oprun *run = ctx;
	ajob *aj = run->aj;
	char reason[256];
	scim_verdict v;

	run->x = NULL;
	v = applier_scim_judge(r, reason, sizeof(reason));
	if (v == SCIM_TRANSIENT) {
		finish(run, OP_TRANSIENT, (int)r->retry_after_s * 1000, reason);
		return;
	}
	if (v != SCIM_OK) {
		fail(run, OP_PERMANENT, "lookup: %s", reason);
		return;
	}
	json_t *list = json_loadb(r->body, r->len, 0, NULL);
	json_t *first = applier_scim_first(list);
	const char *id = json_string_value(json_object_get(first, "id"));

	if (id == NULL) {
		json_decref(list);
		if (run->step == STEP_LOOKUP_USERNAME) {
			fail(run, OP_PERMANENT,
			     "portal refused the create as a duplicate but has "
			     "no resource with its userName");
			return;
		}
		if (run->op->type != LASYNC__V1__OP_TYPE__OP_UPSERT) {
			fail(run, OP_PERMANENT, "not found in the portal");
			return;
		}
		take_over_or_create(run);
		return;
	}
	json_decref(run->doc);
	run->doc = json_incref(first);
	free(run->id);
	run->id = lasync_xstrdup(id);
	applier_ids_put(aj->ids, applier_redis(aj), aj->ids_key,
			run->op->external_id, id);
	json_decref(list);
	run_main(run);
}

/* created_doc - what a reconcile keeps of a resource it created, for
 * the rest of the part: a group whole (SET_MEMBERS reads its members); of
 * a user only what the retire step reads (a user by its userName, and
 * whether it is active).  A first import creates every profile of the
 * school, and keeping each whole response made the applier's memory grow
 * with the size of the schools it applies at once. */
static json_t *created_doc(const oprun *run, json_t *doc)
{
	json_t *slim;

	if (run->op->resource != LASYNC__V1__RESOURCE_TYPE__RESOURCE_USER)
		return json_incref(doc);
	slim = json_object();
	json_object_set(slim, "id", json_object_get(doc, "id"));
	if (json_object_get(doc, "userName") != NULL)
		json_object_set(slim, "userName", json_object_get(doc, "userName"));
	if (json_object_get(doc, "active") != NULL)
		json_object_set(slim, "active", json_object_get(doc, "active"));
	return slim;
}

static void on_create(void *ctx, const lasync_http_result *r)
{
	oprun *run = ctx;
	ajob *aj = run->aj;
	char reason[256];
	scim_verdict v;

	run->x = NULL;
	v = applier_scim_judge(r, reason, sizeof(reason));
	if (v == SCIM_CONFLICT &&
	    run->op->resource == LASYNC__V1__RESOURCE_TYPE__RESOURCE_USER) {
		/* Created before (Redis lost the record): go on as present. */
		char *un = applier_scim_username(run->op->external_id);

		lookup(run, STEP_LOOKUP_USERNAME, "userName", un);
		free(un);
		return;
	}
	if (v == SCIM_TRANSIENT) {
		finish(run, OP_TRANSIENT, (int)r->retry_after_s * 1000, reason);
		return;
	}
	if (v != SCIM_OK) {
		fail(run, OP_PERMANENT, "create: %s", reason);
		return;
	}
	json_t *doc = json_loadb(r->body, r->len, 0, NULL);
	const char *id = json_string_value(json_object_get(doc, "id"));

	if (id == NULL) {
		json_decref(doc);
		fail(run, OP_PERMANENT, "create: response without an id");
		return;
	}
	applier_ids_put(aj->ids, applier_redis(aj), aj->ids_key,
			run->op->external_id, id);
	if (aj->preloaded)
		json_object_set_new(aj->portal, run->op->external_id,
				    created_doc(run, doc));
	json_decref(doc);
	run->created = true;
	finish(run, OP_DONE, 0, NULL);
}

static void on_link_get(void *ctx, const lasync_http_result *r)
{
	oprun *run = ctx;
	ajob *aj = run->aj;
	char reason[256];
	scim_verdict v;

	run->x = NULL;
	v = applier_scim_judge(r, reason, sizeof(reason));
	if (v == SCIM_TRANSIENT) {
		finish(run, OP_TRANSIENT, (int)r->retry_after_s * 1000, reason);
		return;
	}
	json_t *doc = v == SCIM_OK ? json_loadb(r->body, r->len, 0, NULL) : NULL;
	const char *ext = json_string_value(json_object_get(doc, "externalId"));

	if (doc == NULL || (ext != NULL && strcmp(ext, run->op->external_id))) {
		/* Gone, or taken by another LAS resource since: create. */
		lasync_warn("link_target_unusable",
			    "tenant=%s ext=%s portal_status=%ld",
			    aj->tenant->tenant_id, run->op->external_id,
			    r->status);
		json_decref(doc);
		do_create(run);
		return;
	}
	json_decref(run->doc);
	run->doc = doc;
	free(run->id);
	run->id = lasync_xstrdup(json_string_value(json_object_get(doc, "id")));
	run->linked = true;
	applier_ids_put(aj->ids, applier_redis(aj), aj->ids_key,
			run->op->external_id, run->id);
	if (aj->preloaded)
		json_object_set(aj->portal, run->op->external_id, doc);
	lasync_info("resource_linked", "tenant=%s ext=%s id=%s",
		    aj->tenant->tenant_id, run->op->external_id, run->id);
	reconcile_patch(run);
}

/* take_over_or_create - the portal does not know this externalId: take
 * over the portal group it was linked to at first-run (R19) or the
 * profile it correlates with (R20), park it in the link queue, or create
 * it */
static void take_over_or_create(oprun *run)
{
	ajob *aj = run->aj;
	const Lasync__V1__Operation *op = run->op;
	const char *pid = NULL, *what = "create";

	if (run->link_tried) {
		do_create(run);
		return;
	}
	if (op->resource == LASYNC__V1__RESOURCE_TYPE__RESOURCE_GROUP) {
		pid = applier_group_link(aj, op->external_id);
		what = pid ? "link" : "create";
	} else {
		what = applier_link_decision(aj, op->external_id, &pid);
	}
	if (strcmp(what, "queue") == 0) {
		applier_link_queue(aj, op->external_id);
		run->queued = true;
		finish(run, OP_DONE, 0, NULL);
		return;
	}
	if (strcmp(what, "link") != 0 || pid == NULL) {
		do_create(run);
		return;
	}
	run->link_tried = true;
	char *url = applier_scim_url(aj->tenant->portal_base_url, op->resource,
				     pid, NULL, NULL);

	run->step = STEP_LOOKUP;
	run->x = applier_request(aj, "GET", url, NULL, on_link_get, run);
	free(url);
}

/* do_create - POST the resource with everything lasync owns */
static void do_create(oprun *run)
{
	ajob *aj = run->aj;
	const Lasync__V1__Operation *op = run->op;
	bool user = op->resource == LASYNC__V1__RESOURCE_TYPE__RESOURCE_USER;
	json_t *body = json_object();
	char err[256];

	json_object_set_new(
		body, "schemas",
		json_pack("[s]", user ? "urn:ietf:params:scim:schemas:core:2.0:"
					"User"
				      : "urn:ietf:params:scim:schemas:core:2.0:"
					"Group"));
	json_object_set_new(body, "externalId", json_string(op->external_id));
	if (user) {
		char *un = applier_scim_username(op->external_id);

		json_object_set_new(body, "userName", json_string(un));
		free(un);
	}
	for (size_t i = 0; i < op->n_set; i++) {
		const lasync_attr_def *def = lasync_attr_find(
			(lasync_res_type)op->resource, op->set[i]->path);

		/* correlation hints travel with the state, never to the portal */
		if (strncmp(op->set[i]->path, "hint:", 5) == 0)
			continue;
		if (def == NULL) {
			json_decref(body);
			fail(run, OP_PERMANENT,
			     "refusing to write %s: not an attribute lasync "
			     "owns",
			     op->set[i]->path);
			return;
		}
		char *val = resolvable(run, def, op->set[i]->json);

		if (val != NULL &&
		    lasync_attr_put(def, val, ref_fn, aj, body, err,
				    sizeof(err)) != 0) {
			free(val);
			json_decref(body);
			fail(run, OP_PERMANENT, "%s", err);
			return;
		}
		free(val);
	}
	char *url = applier_scim_url(aj->tenant->portal_base_url, op->resource,
				     NULL, NULL, NULL);

	run->step = STEP_CREATE;
	applier_write(aj, "POST", url, body, on_create, run, &run->x);
	free(url);
	json_decref(body);
}

static void on_patch(void *ctx, const lasync_http_result *r)
{
	oprun *run = ctx;
	ajob *aj = run->aj;
	char reason[256];
	scim_verdict v;

	run->x = NULL;
	v = applier_scim_judge(r, reason, sizeof(reason));
	if (v == SCIM_NOT_FOUND && !run->retried) {
		/* Our cached id is stale: find the resource again. */
		run->retried = true;
		applier_ids_forget(aj->ids, applier_redis(aj), aj->ids_key,
				   run->op->external_id);
		free(run->id);
		run->id = NULL;
		json_decref(run->doc);
		run->doc = NULL;
		if (aj->preloaded)
			json_object_del(aj->portal, run->op->external_id);
		lookup(run, STEP_LOOKUP, "externalId", run->op->external_id);
		return;
	}
	if (v == SCIM_TRANSIENT) {
		finish(run, OP_TRANSIENT, (int)r->retry_after_s * 1000, reason);
		return;
	}
	if (v != SCIM_OK) {
		fail(run, OP_PERMANENT, "patch: %s", reason);
		return;
	}
	finish(run, OP_DONE, 0, NULL);
}

/* --- operations ------------------------------------------------------ */

static void patch_op(oprun *run)
{
	ajob *aj = run->aj;
	const Lasync__V1__Operation *op = run->op;
	json_t *ops = json_array();
	char err[256];

	for (size_t i = 0; i < op->n_set + op->n_remove; i++) {
		const char *path = i < op->n_set ? op->set[i]->path
						 : op->remove[i - op->n_set];
		const char *val = i < op->n_set ? op->set[i]->json : NULL;
		const lasync_attr_def *def =
			lasync_attr_find((lasync_res_type)op->resource, path);

		if (def == NULL || def->owner == LASYNC_OWN_CREATE) {
			json_decref(ops);
			fail(run, OP_PERMANENT,
			     "refusing to write %s: not an attribute lasync "
			     "owns",
			     path);
			return;
		}
		char *v = resolvable(run, def, val);

		if (lasync_attr_patch_ops(def, v, ref_fn, aj, ops, err,
					  sizeof(err)) != 0) {
			free(v);
			json_decref(ops);
			fail(run, OP_PERMANENT, "%s", err);
			return;
		}
		free(v);
	}
	if (json_array_size(ops) == 0) {
		json_decref(ops);
		finish(run, OP_DONE, 0, NULL);
		return;
	}
	send_patch(run, ops);
}

static json_t *member_value(const char *id, Lasync__V1__ResourceType t)
{
	return json_pack("{s:s,s:s}", "value", id, "type",
			 t == LASYNC__V1__RESOURCE_TYPE__RESOURCE_GROUP ? "Group"
									: "User");
}

static bool keep_kind(const Lasync__V1__Operation *op, const char *ext)
{
	const char *a = strchr(ext, ':');
	const char *b = a ? strchr(a + 1, ':') : NULL;

	if (b == NULL)
		return false;
	for (size_t i = 0; i < op->n_keep_kinds; i++)
		if (strlen(op->keep_kinds[i]) == (size_t)(b - a - 1) &&
		    strncmp(op->keep_kinds[i], a + 1, (size_t)(b - a - 1)) == 0)
			return true;
	return false;
}

bool applier_las_linked(ajob *aj, const char *ext)
{
	const char *vn = lasync_vendor_name(applier_vendor(aj));
	size_t n = strlen(vn);

	return (strncmp(ext, vn, n) == 0 && ext[n] == ':') ||
	       strncmp(ext, "lasync:", 7) == 0;
}

static void on_get_group(void *ctx, const lasync_http_result *r);

/* members_op - ADD, REMOVE or SET the group's LAS members */
static void members_op(oprun *run)
{
	ajob *aj = run->aj;
	const Lasync__V1__Operation *op = run->op;
	const char *gid = known_id(aj, op->external_id);
	json_t *ops = json_array();

	if (gid == NULL) {
		json_decref(ops);
		fail(run, OP_PERMANENT, "group not found in the portal");
		return;
	}
	if (run->id == NULL)
		run->id = lasync_xstrdup(gid);
	if (op->type == LASYNC__V1__OP_TYPE__OP_SET_MEMBERS &&
	    run->doc == NULL) {
		json_t *pre = aj->preloaded
				      ? json_object_get(aj->portal,
							op->external_id)
				      : NULL;

		if (pre == NULL) {
			char *url = applier_scim_url(
				aj->tenant->portal_base_url, op->resource,
				run->id, NULL, NULL);

			json_decref(ops);
			run->step = STEP_GET_GROUP;
			run->x = applier_request(aj, "GET", url, NULL,
						 on_get_group, run);
			free(url);
			return;
		}
		run->doc = json_incref(pre);
	}
	json_t *add = json_array();

	if (op->type == LASYNC__V1__OP_TYPE__OP_REMOVE_MEMBERS) {
		for (size_t i = 0; i < op->n_members; i++) {
			const char *id = known_id(aj, op->members[i]->external_id);

			if (id == NULL)
				continue; /* not in the portal: not a member */
			char path[200];

			snprintf(path, sizeof(path), "members[value eq \"%s\"]",
				 id);
			json_array_append_new(ops,
					      json_pack("{s:s,s:s}", "op",
							"remove", "path", path));
			run->removed++;
		}
	} else {
		/* ADD and SET: every wanted member must exist. */
		json_t *have = json_object(); /* portal member ids present */
		size_t k;
		json_t *m;

		json_array_foreach(json_object_get(run->doc, "members"), k, m) {
			const char *v = json_string_value(
				json_object_get(m, "value"));

			if (v != NULL)
				json_object_set_new(have, v, json_true());
		}
		json_t *want = json_object();

		for (size_t i = 0; i < op->n_members; i++) {
			const char *id = known_id(aj, op->members[i]->external_id);

			if (id == NULL) {
				/* Parked in the link queue, or not created:
				 * the group is written whole next sync. */
				lasync_warn("member_deferred",
					    "tenant=%s group=%s member=%s",
					    aj->tenant->tenant_id,
					    op->external_id,
					    op->members[i]->external_id);
				applier_dirty(aj, op->external_id);
				continue;
			}
			json_object_set_new(want, id, json_true());
			if (json_object_get(have, id) == NULL)
				json_array_append_new(
					add, member_value(id,
							  op->members[i]->type));
		}
		if (op->type == LASYNC__V1__OP_TYPE__OP_SET_MEMBERS) {
			json_array_foreach(json_object_get(run->doc, "members"),
					   k, m) {
				const char *v = json_string_value(
					json_object_get(m, "value"));
				const char *ext =
					v ? applier_ids_external(aj->ids, v)
					  : NULL;

				/* Members added in the portal, and kinds
				 * lasync must not touch (R12), stay. */
				if (ext == NULL || !applier_las_linked(aj, ext) ||
				    keep_kind(op, ext) ||
				    json_object_get(want, v) != NULL)
					continue;
				char path[200];

				snprintf(path, sizeof(path),
					 "members[value eq \"%s\"]", v);
				json_array_append_new(
					ops, json_pack("{s:s,s:s}", "op",
						       "remove", "path", path));
				run->removed++;
			}
		}
		json_decref(have);
		json_decref(want);
	}
	run->added = (unsigned)json_array_size(add);
	if (json_array_size(add) > 0)
		json_array_append_new(ops, json_pack("{s:s,s:s,s:o}", "op", "add",
						     "path", "members", "value",
						     add));
	else
		json_decref(add);
	if (json_array_size(ops) == 0) {
		json_decref(ops);
		finish(run, OP_DONE, 0, NULL);
		return;
	}
	send_patch(run, ops);
}

static void on_get_group(void *ctx, const lasync_http_result *r)
{
	oprun *run = ctx;
	char reason[256];
	scim_verdict v;

	run->x = NULL;
	v = applier_scim_judge(r, reason, sizeof(reason));
	if (v == SCIM_TRANSIENT) {
		finish(run, OP_TRANSIENT, (int)r->retry_after_s * 1000, reason);
		return;
	}
	if (v != SCIM_OK) {
		fail(run, OP_PERMANENT, "get group: %s", reason);
		return;
	}
	run->doc = json_loadb(r->body, r->len, 0, NULL);
	if (run->doc == NULL)
		run->doc = json_object();
	members_op(run);
}

static void prune_next(oprun *run);

static void on_prune_patch(void *ctx, const lasync_http_result *r)
{
	oprun *run = ctx;
	char reason[256];
	scim_verdict v;

	run->x = NULL;
	v = applier_scim_judge(r, reason, sizeof(reason));
	if (v == SCIM_TRANSIENT) {
		finish(run, OP_TRANSIENT, (int)r->retry_after_s * 1000, reason);
		return;
	}
	if (v != SCIM_OK && v != SCIM_NOT_FOUND) {
		fail(run, OP_PERMANENT, "prune: %s", reason);
		return;
	}
	prune_next(run);
}

/* portal_composite - a portal-made samengestelde groep (kind, or groups
 * among its members): R5 leaves those alone */
static bool portal_composite(const json_t *g)
{
	const json_t *m;
	size_t i;
	const char *kind = json_string_value(json_object_get(
		json_object_get(g, LASYNC_SCHEMA_GROUP_EXT), "kind"));

	if (kind != NULL && strcmp(kind, "samengesteld") == 0)
		return true;
	json_array_foreach(json_object_get(g, "members"), i, m) {
		const char *t = json_string_value(json_object_get(m, "type"));

		if (t != NULL && strcmp(t, "Group") == 0)
			return true;
	}
	return false;
}

/* prune_next - R5: a LAS-linked student is a member of exactly the
 * jaargroepen the LAS gives: take LAS-linked students out of the next
 * portal-made jaargroep that holds any (portal composites stay) */
static void prune_next(oprun *run)
{
	ajob *aj = run->aj;

	while (aj->unlinked_groups &&
	       run->prune_i < json_array_size(aj->unlinked_groups)) {
		json_t *g = json_array_get(aj->unlinked_groups, run->prune_i++);
		json_t *ops = json_array(), *m;
		size_t i;

		if (portal_composite(g)) {
			json_decref(ops);
			continue;
		}
		json_array_foreach(json_object_get(g, "members"), i, m) {
			const char *v = json_string_value(
				json_object_get(m, "value"));
			const char *ext = v ? applier_ids_external(aj->ids, v)
					    : NULL;
			char path[200];

			if (ext == NULL || !applier_las_linked(aj, ext) ||
			    strstr(ext, ":student:") == NULL)
				continue;
			snprintf(path, sizeof(path), "members[value eq \"%s\"]",
				 v);
			json_array_append_new(ops,
					      json_pack("{s:s,s:s}", "op",
							"remove", "path", path));
			run->removed++;
		}
		if (json_array_size(ops) == 0) {
			json_decref(ops);
			continue;
		}
		json_t *body = json_pack("{s:[s],s:o}", "schemas",
					 "urn:ietf:params:scim:api:messages:2.0:"
					 "PatchOp",
					 "Operations", ops);
		char *url = applier_scim_url(
			aj->tenant->portal_base_url,
			LASYNC__V1__RESOURCE_TYPE__RESOURCE_GROUP,
			json_string_value(json_object_get(g, "id")), NULL, NULL);

		run->patched = true;
		run->x = applier_request(aj, "PATCH", url, body, on_prune_patch,
					 run);
		applier_count_write(aj, "PATCH");
		free(url);
		json_decref(body);
		return;
	}
	finish(run, OP_DONE, 0, NULL);
}

/* run_main - the operation proper, once references are resolved */
static void run_main(oprun *run)
{
	ajob *aj = run->aj;
	const Lasync__V1__Operation *op = run->op;

	switch (op->type) {
	case LASYNC__V1__OP_TYPE__OP_UPSERT:
		if (run->doc != NULL) {
			reconcile_patch(run);
			return;
		}
		if (aj->preloaded) {
			json_t *pre = json_object_get(aj->portal, op->external_id);

			if (pre == NULL) {
				take_over_or_create(run);
				return;
			}
			run->doc = json_incref(pre);
			free(run->id);
			run->id = lasync_xstrdup(
				json_string_value(json_object_get(pre, "id")));
			reconcile_patch(run);
			return;
		}
		lookup(run, STEP_LOOKUP, "externalId", op->external_id);
		return;
	case LASYNC__V1__OP_TYPE__OP_PATCH:
		if (run->id == NULL) {
			const char *id = known_id(aj, op->external_id);

			if (id == NULL) {
				lookup(run, STEP_LOOKUP, "externalId",
				       op->external_id);
				return;
			}
			run->id = lasync_xstrdup(id);
		}
		patch_op(run);
		return;
	case LASYNC__V1__OP_TYPE__OP_ADD_MEMBERS:
	case LASYNC__V1__OP_TYPE__OP_REMOVE_MEMBERS:
	case LASYNC__V1__OP_TYPE__OP_SET_MEMBERS:
		members_op(run);
		return;
	case LASYNC__V1__OP_TYPE__OP_PRUNE_MEMBERS:
		prune_next(run);
		return;
	default:
		fail(run, OP_PERMANENT, "unknown operation type %d",
		     (int)op->type);
	}
}

void applier_op_start(ajob *aj, size_t idx)
{
	oprun *run = lasync_xcalloc(1, sizeof(*run));

	run->aj = aj;
	run->idx = idx;
	run->op = aj->cs->ops[idx];
	aj->runs[idx] = run;
	collect_needs(run);
	run_resolve(run);
}
