/*
 * lasync_state.c - portal states: build, sort, look up, and (de)serialise
 * as lasync.v1.PortalState for the expected state kept in Redis.
 *
 * Resources are found through a sorted array after lasync_state_finish();
 * while building, lasync_state_resource() uses a small open-addressing hash
 * so that building a 5,000-user school stays linear.
 */
#include "lasync_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lasync/v1/ops.pb-c.h"
#include "lasync_log.h"
#include "lasync_mem.h"

/* Build-time index: externalId+type -> resource, rebuilt on growth. */
typedef struct state_index {
	lasync_sres **slots;
	size_t cap;
} state_index;

static uint64_t hash_key(lasync_res_type type, const char *s)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)type;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* The index lives beside the state; kept out of the public struct. */
struct state_ext {
	lasync_state st;
	state_index idx;
};

static state_index *state_idx(lasync_state *st)
{
	return &((struct state_ext *)st)->idx;
}

static void index_insert(state_index *ix, lasync_sres *r)
{
	size_t mask = ix->cap - 1;
	size_t i = (size_t)hash_key(r->type, r->external_id) & mask;

	while (ix->slots[i] != NULL)
		i = (i + 1) & mask;
	ix->slots[i] = r;
}

static void index_rebuild(lasync_state *st, size_t want)
{
	state_index *ix = state_idx(st);
	size_t cap = 64;

	while (cap < want * 2)
		cap *= 2;
	free(ix->slots);
	ix->slots = lasync_xcalloc(cap, sizeof(*ix->slots));
	ix->cap = cap;
	for (size_t i = 0; i < st->n_res; i++)
		index_insert(ix, st->res[i]);
}

lasync_state *lasync_state_new(const char *tenant_id)
{
	struct state_ext *x = lasync_xcalloc(1, sizeof(*x));

	if (tenant_id != NULL)
		x->st.tenant_id = lasync_xstrdup(tenant_id);
	x->st.sorted = true;
	return &x->st;
}

static void sres_free(lasync_sres *r)
{
	for (size_t i = 0; i < r->n_attrs; i++) {
		free(r->attrs[i].path);
		free(r->attrs[i].json);
	}
	for (size_t i = 0; i < r->n_members; i++)
		free(r->members[i].external_id);
	free(r->attrs);
	free(r->members);
	free(r->external_id);
	free(r);
}

void lasync_state_free(lasync_state *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->n_res; i++)
		sres_free(st->res[i]);
	free(st->res);
	free(st->tenant_id);
	free(st->sync_id);
	free(state_idx(st)->slots);
	free(st);
}

lasync_sres *lasync_state_resource(lasync_state *st, lasync_res_type type,
				   const char *external_id)
{
	state_index *ix = state_idx(st);

	if (ix->cap == 0 || (st->n_res + 1) * 2 > ix->cap)
		index_rebuild(st, st->n_res + 1);
	size_t mask = ix->cap - 1;
	size_t i = (size_t)hash_key(type, external_id) & mask;

	for (; ix->slots[i] != NULL; i = (i + 1) & mask) {
		lasync_sres *r = ix->slots[i];

		if (r->type == type && strcmp(r->external_id, external_id) == 0)
			return r;
	}
	lasync_sres *r = lasync_xcalloc(1, sizeof(*r));

	r->type = type;
	r->external_id = lasync_xstrdup(external_id);
	lasync_grow(&st->res, &st->cap_res, st->n_res + 1);
	st->res[st->n_res++] = r;
	ix->slots[i] = r;
	st->sorted = false;
	return r;
}

void lasync_state_set(lasync_sres *r, const char *path, const char *json)
{
	for (size_t i = 0; i < r->n_attrs; i++) {
		if (strcmp(r->attrs[i].path, path) == 0) {
			free(r->attrs[i].json);
			r->attrs[i].json = lasync_xstrdup(json);
			return;
		}
	}
	lasync_grow(&r->attrs, &r->cap_attrs, r->n_attrs + 1);
	r->attrs[r->n_attrs].path = lasync_xstrdup(path);
	r->attrs[r->n_attrs].json = lasync_xstrdup(json);
	r->n_attrs++;
}

void lasync_state_set_json(lasync_sres *r, const char *path, json_t *value)
{
	char *s = lasync_json_canon(value);

	if (s == NULL)
		lasync_panic_oom();
	lasync_state_set(r, path, s);
	free(s);
	json_decref(value);
}

void lasync_state_set_string(lasync_sres *r, const char *path, const char *s)
{
	lasync_state_set_json(r, path, json_string(s));
}

void lasync_state_set_bool(lasync_sres *r, const char *path, bool b)
{
	lasync_state_set(r, path, b ? "true" : "false");
}

void lasync_state_member(lasync_sres *r, const char *external_id,
			 lasync_res_type type)
{
	lasync_grow(&r->members, &r->cap_members, r->n_members + 1);
	r->members[r->n_members].external_id = lasync_xstrdup(external_id);
	r->members[r->n_members].type = type;
	r->n_members++;
}

static int cmp_res(const void *a, const void *b)
{
	const lasync_sres *x = *(lasync_sres *const *)a;
	const lasync_sres *y = *(lasync_sres *const *)b;

	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	return strcmp(x->external_id, y->external_id);
}

static int cmp_attr(const void *a, const void *b)
{
	return strcmp(((const lasync_sattr *)a)->path,
		      ((const lasync_sattr *)b)->path);
}

static int cmp_member(const void *a, const void *b)
{
	const lasync_smember *x = a, *y = b;
	int c = strcmp(x->external_id, y->external_id);

	if (c != 0)
		return c;
	return (int)x->type - (int)y->type;
}

static void sres_finish(lasync_sres *r)
{
	size_t o = 0;

	/* qsort(NULL, 0, ...) is undefined behaviour: guard the empty case */
	if (r->n_attrs > 1)
		qsort(r->attrs, r->n_attrs, sizeof(*r->attrs), cmp_attr);
	if (r->n_members > 1)
		qsort(r->members, r->n_members, sizeof(*r->members),
		      cmp_member);
	for (size_t i = 0; i < r->n_members; i++) {
		if (o > 0 && cmp_member(&r->members[o - 1], &r->members[i]) == 0) {
			free(r->members[i].external_id);
			continue;
		}
		r->members[o++] = r->members[i];
	}
	r->n_members = o;
}

void lasync_state_finish(lasync_state *st)
{
	for (size_t i = 0; i < st->n_res; i++)
		sres_finish(st->res[i]);
	if (!st->sorted && st->n_res > 1)
		qsort(st->res, st->n_res, sizeof(*st->res), cmp_res);
	st->sorted = true;
}

lasync_sres *lasync_state_find(const lasync_state *st, lasync_res_type type,
			       const char *external_id)
{
	size_t lo = 0, hi = st->n_res;

	if (!st->sorted)
		lasync_panic("state_unsorted", "fn=lasync_state_find");
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const lasync_sres *r = st->res[mid];
		int c = r->type != type ? (r->type < type ? -1 : 1)
					: strcmp(r->external_id, external_id);

		if (c == 0)
			return st->res[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *lasync_sres_get(const lasync_sres *r, const char *path)
{
	for (size_t i = 0; i < r->n_attrs; i++)
		if (strcmp(r->attrs[i].path, path) == 0)
			return r->attrs[i].json;
	return NULL;
}

unsigned lasync_sres_kind(const lasync_sres *r)
{
	if (r->type == LASYNC_RES_GROUP)
		return LASYNC_KIND_GROUP;
	const char *k = lasync_sres_get(r, LASYNC_A_KIND);

	if (k == NULL)
		return 0;
	if (strcmp(k, "\"student\"") == 0)
		return LASYNC_KIND_STUDENT;
	if (strcmp(k, "\"guardian\"") == 0)
		return LASYNC_KIND_GUARDIAN;
	if (strcmp(k, "\"staff\"") == 0)
		return LASYNC_KIND_STAFF;
	return 0;
}

/*
 * Wire form.  The protobuf structs borrow the state's strings while packing,
 * so encoding copies nothing but the pointer arrays.
 */
uint8_t *lasync_state_encode(lasync_state *st, size_t *len)
{
	Lasync__V1__PortalState ps = LASYNC__V1__PORTAL_STATE__INIT;
	Lasync__V1__StateResource *rs, **rps;
	size_t n_attr = 0, n_mem = 0;
	uint8_t *buf;

	lasync_state_finish(st);
	for (size_t i = 0; i < st->n_res; i++) {
		n_attr += st->res[i]->n_attrs;
		n_mem += st->res[i]->n_members;
	}
	rs = lasync_xcalloc(st->n_res + 1, sizeof(*rs));
	rps = lasync_xcalloc(st->n_res + 1, sizeof(*rps));
	Lasync__V1__Attr *as = lasync_xcalloc(n_attr + 1, sizeof(*as));
	Lasync__V1__Attr **aps = lasync_xcalloc(n_attr + 1, sizeof(*aps));
	Lasync__V1__MemberRef *ms = lasync_xcalloc(n_mem + 1, sizeof(*ms));
	Lasync__V1__MemberRef **mps = lasync_xcalloc(n_mem + 1, sizeof(*mps));
	size_t ai = 0, mi = 0;

	ps.tenant_id = st->tenant_id ? st->tenant_id : "";
	ps.generation = st->generation;
	ps.sync_id = st->sync_id ? st->sync_id : "";
	for (size_t i = 0; i < st->n_res; i++) {
		lasync_sres *r = st->res[i];

		lasync__v1__state_resource__init(&rs[i]);
		rs[i].type = (Lasync__V1__ResourceType)r->type;
		rs[i].external_id = r->external_id;
		rs[i].attrs = &aps[ai];
		rs[i].n_attrs = r->n_attrs;
		for (size_t j = 0; j < r->n_attrs; j++, ai++) {
			lasync__v1__attr__init(&as[ai]);
			as[ai].path = r->attrs[j].path;
			as[ai].json = r->attrs[j].json;
			aps[ai] = &as[ai];
		}
		rs[i].members = &mps[mi];
		rs[i].n_members = r->n_members;
		for (size_t j = 0; j < r->n_members; j++, mi++) {
			lasync__v1__member_ref__init(&ms[mi]);
			ms[mi].external_id = r->members[j].external_id;
			ms[mi].type = (Lasync__V1__ResourceType)r->members[j].type;
			mps[mi] = &ms[mi];
		}
		rps[i] = &rs[i];
	}
	ps.resources = rps;
	ps.n_resources = st->n_res;
	*len = lasync__v1__portal_state__get_packed_size(&ps);
	buf = lasync_xmalloc(*len);
	lasync__v1__portal_state__pack(&ps, buf);
	free(rs);
	free(rps);
	free(as);
	free(aps);
	free(ms);
	free(mps);
	return buf;
}

lasync_state *lasync_state_decode(const uint8_t *buf, size_t len, char *err,
				  size_t errlen)
{
	Lasync__V1__PortalState *ps =
		lasync__v1__portal_state__unpack(NULL, len, buf);
	lasync_state *st;

	if (ps == NULL) {
		snprintf(err, errlen, "not a PortalState message (%zu bytes)",
			 len);
		return NULL;
	}
	st = lasync_state_new(ps->tenant_id);
	st->generation = ps->generation;
	st->sync_id = lasync_xstrdup(ps->sync_id);
	for (size_t i = 0; i < ps->n_resources; i++) {
		const Lasync__V1__StateResource *pr = ps->resources[i];

		if (pr->type != LASYNC__V1__RESOURCE_TYPE__RESOURCE_USER &&
		    pr->type != LASYNC__V1__RESOURCE_TYPE__RESOURCE_GROUP) {
			snprintf(err, errlen, "resource %zu has type %d", i,
				 (int)pr->type);
			lasync_state_free(st);
			lasync__v1__portal_state__free_unpacked(ps, NULL);
			return NULL;
		}
		lasync_sres *r = lasync_state_resource(
			st, (lasync_res_type)pr->type, pr->external_id);

		for (size_t j = 0; j < pr->n_attrs; j++)
			lasync_state_set(r, pr->attrs[j]->path,
					 pr->attrs[j]->json);
		for (size_t j = 0; j < pr->n_members; j++)
			lasync_state_member(
				r, pr->members[j]->external_id,
				(lasync_res_type)pr->members[j]->type);
	}
	lasync__v1__portal_state__free_unpacked(ps, NULL);
	lasync_state_finish(st);
	return st;
}
