/*
 * mapper_diff.c - the diff (see mapper_diff.h).
 *
 * Both states are sorted by (type, externalId) and each resource's
 * attributes by path, so the diff is a merge walk: linear in the size of
 * the school.  Operation ids are digests of (tenant, generation, operation
 * content): the same change set produced twice (a redelivered snapshot)
 * yields the same ids, so the applier does each operation once.
 */
#include "mapper_diff.h"

#include <stdlib.h>
#include <string.h>

#include "lasync_attr.h"
#include "lasync_event.h"
#include "lasync_mem.h"

const char *mapper_op_kind(const char *external_id, char *buf, size_t len)
{
	const char *a = strchr(external_id, ':');
	const char *b = a ? strchr(a + 1, ':') : NULL;

	buf[0] = '\0';
	if (a != NULL && b != NULL && (size_t)(b - a - 1) < len) {
		memcpy(buf, a + 1, (size_t)(b - a - 1));
		buf[b - a - 1] = '\0';
	}
	return buf;
}

/* --- building operations --------------------------------------------- */

static Lasync__V1__Operation *op_new(mapper_ops *o, Lasync__V1__OpType type,
				     const lasync_sres *r, uint32_t stage)
{
	Lasync__V1__Operation *op = lasync_xcalloc(1, sizeof(*op));

	lasync__v1__operation__init(op);
	op->type = type;
	op->resource = (Lasync__V1__ResourceType)r->type;
	op->external_id = lasync_xstrdup(r->external_id);
	op->stage = stage;
	lasync_grow(&o->ops, &o->cap, o->n + 1);
	o->ops[o->n++] = op;
	o->counts.ops_total++;
	return op;
}

static void op_set(Lasync__V1__Operation *op, const char *path,
		   const char *json)
{
	Lasync__V1__Attr *a = lasync_xcalloc(1, sizeof(*a));

	lasync__v1__attr__init(a);
	a->path = lasync_xstrdup(path);
	a->json = lasync_xstrdup(json);
	op->set = lasync_xreallocarray(op->set, op->n_set + 1,
				       sizeof(*op->set));
	op->set[op->n_set++] = a;
}

static void op_remove(Lasync__V1__Operation *op, const char *path)
{
	op->remove = lasync_xreallocarray(op->remove, op->n_remove + 1,
					  sizeof(*op->remove));
	op->remove[op->n_remove++] = lasync_xstrdup(path);
}

static void op_member(Lasync__V1__Operation *op, const lasync_smember *m)
{
	Lasync__V1__MemberRef *r = lasync_xcalloc(1, sizeof(*r));

	lasync__v1__member_ref__init(r);
	r->external_id = lasync_xstrdup(m->external_id);
	r->type = (Lasync__V1__ResourceType)m->type;
	op->members = lasync_xreallocarray(op->members, op->n_members + 1,
					   sizeof(*op->members));
	op->members[op->n_members++] = r;
}

static void op_keep(Lasync__V1__Operation *op, const char *kind)
{
	op->keep_kinds = lasync_xreallocarray(op->keep_kinds,
					      op->n_keep_kinds + 1,
					      sizeof(*op->keep_kinds));
	op->keep_kinds[op->n_keep_kinds++] = lasync_xstrdup(kind);
}

/* op_seal - compute the deterministic id of a finished operation */
static void op_seal(Lasync__V1__Operation *op, const char *tenant,
		    int64_t generation)
{
	lasync_digest *d = lasync_digest_new();
	char id[LASYNC_ID_LEN];

	lasync_digest_add_str(d, tenant);
	lasync_digest_add_i64(d, generation);
	lasync_digest_add_i64(d, op->type);
	lasync_digest_add_i64(d, op->resource);
	lasync_digest_add_str(d, op->external_id);
	lasync_digest_add_i64(d, op->stage);
	for (size_t i = 0; i < op->n_set; i++) {
		lasync_digest_add_str(d, op->set[i]->path);
		lasync_digest_add_str(d, op->set[i]->json);
	}
	for (size_t i = 0; i < op->n_remove; i++)
		lasync_digest_add_str(d, op->remove[i]);
	for (size_t i = 0; i < op->n_members; i++) {
		lasync_digest_add_str(d, op->members[i]->external_id);
		lasync_digest_add_i64(d, op->members[i]->type);
	}
	for (size_t i = 0; i < op->n_keep_kinds; i++)
		lasync_digest_add_str(d, op->keep_kinds[i]);
	lasync_digest_final(d, id);
	op->op_id = lasync_xstrdup(id);
}

void mapper_ops_free(mapper_ops *o)
{
	for (size_t i = 0; i < o->n; i++) {
		Lasync__V1__Operation *op = o->ops[i];

		free(op->op_id);
		free(op->external_id);
		for (size_t j = 0; j < op->n_set; j++) {
			free(op->set[j]->path);
			free(op->set[j]->json);
			free(op->set[j]);
		}
		free(op->set);
		for (size_t j = 0; j < op->n_remove; j++)
			free(op->remove[j]);
		free(op->remove);
		for (size_t j = 0; j < op->n_members; j++) {
			free(op->members[j]->external_id);
			free(op->members[j]);
		}
		free(op->members);
		for (size_t j = 0; j < op->n_keep_kinds; j++)
			free(op->keep_kinds[j]);
		free(op->keep_kinds);
		free(op);
	}
	free(o->ops);
	memset(o, 0, sizeof(*o));
}

/* --- helpers --------------------------------------------------------- */

static uint32_t user_stage(const lasync_sres *r)
{
	return lasync_sres_kind(r) == LASYNC_KIND_GUARDIAN
		       ? MAPPER_STAGE_GUARDIANS
		       : MAPPER_STAGE_USERS;
}

static bool is_staff(const char *external_id)
{
	char k[32];

	return strcmp(mapper_op_kind(external_id, k, sizeof(k)), "staff") == 0;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* is_dirty - did a parent edit this profile in the portal (R9)? */
static bool is_dirty(const mapper_diff_in *in, const char *external_id)
{
	return in->n_dirty > 0 &&
	       bsearch(&external_id, in->dirty, in->n_dirty, sizeof(char *),
		       cmp_cstr) != NULL;
}

/* copy_res - a copy of r in st (attributes and members) */
static lasync_sres *copy_res(lasync_state *st, const lasync_sres *r)
{
	lasync_sres *c = lasync_state_resource(st, r->type, r->external_id);

	for (size_t i = 0; i < r->n_attrs; i++)
		lasync_state_set(c, r->attrs[i].path, r->attrs[i].json);
	for (size_t i = 0; i < r->n_members; i++)
		lasync_state_member(c, r->members[i].external_id,
				    r->members[i].type);
	return c;
}

/* upsert - UPSERT of the whole desired resource (create-only included) */
static void upsert(mapper_ops *o, const lasync_sres *d, uint32_t stage)
{
	Lasync__V1__Operation *op = op_new(o, LASYNC__V1__OP_TYPE__OP_UPSERT,
					   d, stage);

	for (size_t i = 0; i < d->n_attrs; i++)
		op_set(op, d->attrs[i].path, d->attrs[i].json);
	if (d->type == LASYNC_RES_GROUP)
		o->counts.groups_created++;
	else
		o->counts.users_created++;
}

/* patch - PATCH the owned attributes that differ; NULL when none do */
static Lasync__V1__Operation *patch(mapper_ops *o, const lasync_sres *d,
				    const lasync_sres *e, uint32_t stage)
{
	Lasync__V1__Operation *op = NULL;
	size_t i = 0, j = 0;

	while (i < d->n_attrs || j < e->n_attrs) {
		int c = i == d->n_attrs	  ? 1
			: j == e->n_attrs ? -1
					  : strcmp(d->attrs[i].path,
						   e->attrs[j].path);
		const char *path = c <= 0 ? d->attrs[i].path : e->attrs[j].path;
		const char *dv = c <= 0 ? d->attrs[i].json : NULL;
		const char *ev = c >= 0 ? e->attrs[j].json : NULL;
		const lasync_attr_def *def = lasync_attr_find(d->type, path);

		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
		if (def == NULL || def->owner == LASYNC_OWN_CREATE)
			continue;
		if (lasync_streq(dv, ev))
			continue;
		if (dv == NULL && def->owner == LASYNC_OWN_STICKY)
			continue;
		if (op == NULL)
			op = op_new(o, LASYNC__V1__OP_TYPE__OP_PATCH, d, stage);
		if (dv != NULL)
			op_set(op, path, dv);
		else
			op_remove(op, path);
	}
	if (op != NULL) {
		if (d->type == LASYNC_RES_GROUP)
			o->counts.groups_updated++;
		else
			o->counts.users_updated++;
	}
	return op;
}

/* members_diff - ADD/REMOVE the LAS members that differ (both sorted) */
static void members_diff(mapper_ops *o, const lasync_sres *g,
			 const lasync_smember *dm, size_t nd,
			 const lasync_smember *em, size_t ne, bool link_staff)
{
	Lasync__V1__Operation *add = NULL, *rem = NULL;
	size_t i = 0, j = 0;

	while (i < nd || j < ne) {
		int c = i == nd	  ? 1
			: j == ne ? -1
				  : strcmp(dm[i].external_id, em[j].external_id);

		if (c == 0 && dm[i].type != em[j].type)
			c = dm[i].type < em[j].type ? -1 : 1;
		if (c == 0) {
			i++;
			j++;
			continue;
		}
		const lasync_smember *m = c < 0 ? &dm[i++] : &em[j++];

		/* R12: with link_staff_to_groups=false lasync never adds or
		 * removes a staff membership. */
		if (!link_staff && is_staff(m->external_id))
			continue;
		if (c < 0) {
			if (add == NULL)
				add = op_new(o,
					     LASYNC__V1__OP_TYPE__OP_ADD_MEMBERS,
					     g, MAPPER_STAGE_MEMBERS);
			op_member(add, m);
			o->counts.members_added++;
		} else {
			if (rem == NULL)
				rem = op_new(
					o, LASYNC__V1__OP_TYPE__OP_REMOVE_MEMBERS,
					g, MAPPER_STAGE_MEMBERS);
			op_member(rem, m);
			o->counts.members_removed++;
		}
	}
}

static void set_members(mapper_ops *o, const lasync_sres *g, bool link_staff)
{
	Lasync__V1__Operation *op = op_new(o, LASYNC__V1__OP_TYPE__OP_SET_MEMBERS,
					   g, MAPPER_STAGE_MEMBERS);

	for (size_t i = 0; i < g->n_members; i++)
		if (link_staff || !is_staff(g->members[i].external_id))
			op_member(op, &g->members[i]);
	if (!link_staff)
		op_keep(op, "staff");
}

static int cmp_stage(const void *a, const void *b)
{
	const Lasync__V1__Operation *x = *(Lasync__V1__Operation *const *)a;
	const Lasync__V1__Operation *y = *(Lasync__V1__Operation *const *)b;

	if (x->stage != y->stage)
		return x->stage < y->stage ? -1 : 1;
	/* Stable within a stage: by externalId, then type. */
	int c = strcmp(x->external_id, y->external_id);

	if (c != 0)
		return c;
	return (int)x->type - (int)y->type;
}

/* --- the diff -------------------------------------------------------- */

lasync_state *mapper_diff(const mapper_diff_in *in, mapper_ops *out)
{
	const lasync_state *d = in->desired, *e = in->expected;
	lasync_state *next = lasync_state_new(in->tenant_id);
	bool reconcile = e == NULL || in->full;
	size_t i = 0, j = 0;

	memset(out, 0, sizeof(*out));
	lasync__v1__change_counts__init(&out->counts);
	next->generation = in->generation;
	while (i < d->n_res || (e != NULL && j < e->n_res)) {
		const lasync_sres *dr = i < d->n_res ? d->res[i] : NULL;
		const lasync_sres *er = e && j < e->n_res ? e->res[j] : NULL;
		int c;

		if (dr == NULL)
			c = 1;
		else if (er == NULL)
			c = -1;
		else if (dr->type != er->type)
			c = dr->type < er->type ? -1 : 1;
		else
			c = strcmp(dr->external_id, er->external_id);

		if (c <= 0) {
			/* Desired (and maybe expected). */
			uint32_t stage = dr->type == LASYNC_RES_GROUP
						 ? MAPPER_STAGE_GROUPS
						 : user_stage(dr);
			lasync_sres *n = copy_res(next, dr);

			if (reconcile || c < 0 || is_dirty(in, dr->external_id))
				upsert(out, dr, stage);
			else
				patch(out, dr, er, stage);
			if (c == 0) {
				/* Sticky values the LAS dropped stay known. */
				for (size_t k = 0; k < er->n_attrs; k++) {
					const lasync_attr_def *def =
						lasync_attr_find(
							er->type,
							er->attrs[k].path);

					if (def != NULL &&
					    def->owner != LASYNC_OWN_STRONG &&
					    lasync_sres_get(dr,
							    er->attrs[k].path) ==
						    NULL)
						lasync_state_set(
							n, er->attrs[k].path,
							er->attrs[k].json);
				}
			}
			if (dr->type == LASYNC_RES_GROUP) {
				/* A dirty group had members deferred (a
				 * profile in the link queue): write them whole */
				if (reconcile || is_dirty(in, dr->external_id))
					set_members(out, dr, in->link_staff);
				else if (c < 0)
					members_diff(out, dr, dr->members,
						     dr->n_members, NULL, 0,
						     in->link_staff);
				else
					members_diff(out, dr, dr->members,
						     dr->n_members, er->members,
						     er->n_members,
						     in->link_staff);
			}
			i++;
			if (c == 0)
				j++;
			continue;
		}
		/* Known before, gone from the LAS: never deleted. */
		lasync_sres *n = copy_res(next, er);

		j++;
		if (er->type == LASYNC_RES_GROUP) {
			/* R5: orphaned, LAS members out. */
			const char *orph = lasync_sres_get(er, LASYNC_G_ORPHANED);

			n->n_members = 0;
			for (size_t k = 0; k < er->n_members; k++)
				free(n->members[k].external_id);
			lasync_state_set(n, LASYNC_G_ORPHANED, "true");
			if (!lasync_streq(orph, "true")) {
				Lasync__V1__Operation *op = op_new(
					out, LASYNC__V1__OP_TYPE__OP_PATCH, er,
					MAPPER_STAGE_GROUPS);

				op_set(op, LASYNC_G_ORPHANED, "true");
				out->counts.groups_updated++;
			}
			members_diff(out, er, NULL, 0, er->members,
				     er->n_members, in->link_staff);
			continue;
		}
		/* R16: a leaver is deactivated. */
		const char *act = lasync_sres_get(er, LASYNC_A_ACTIVE);

		lasync_state_set(n, LASYNC_A_ACTIVE, "false");
		if (!lasync_streq(act, "false")) {
			Lasync__V1__Operation *op = op_new(
				out, LASYNC__V1__OP_TYPE__OP_PATCH, er,
				MAPPER_STAGE_LEAVERS);

			op_set(op, LASYNC_A_ACTIVE, "false");
			out->counts.users_deactivated++;
			out->deactivations++;
		}
	}
	if (reconcile && d->n_res > 0) {
		/* R5: LAS-linked students leave portal-made jaargroepen
		 * (the applier finds those in the portal itself). */
		lasync_sres prune = {.type = LASYNC_RES_GROUP,
				     .external_id = (char *)"lasync:prune"};

		op_new(out, LASYNC__V1__OP_TYPE__OP_PRUNE_MEMBERS, &prune,
		       MAPPER_STAGE_MEMBERS);
	}
	for (size_t k = 0; k < out->n; k++)
		op_seal(out->ops[k], in->tenant_id, in->generation);
	if (out->n > 1)
		qsort(out->ops, out->n, sizeof(*out->ops), cmp_stage);
	lasync_state_finish(next);
	return next;
}
