/*
 * mapper_diff.c - the diff (see mapper_diff.h).
 *
 * Both states are sorted by (type, externalId) and each resource's
 * attributes by path, so the diff is a merge walk: linear in the size of
 * the school.  Operation ids are digests of (tenant, generation, operation
 * content): the same change set produced twice (a redelivered snapshot)
 * yields the same ids, so the applier does each operation once.
 *
 * The operations and all their strings live in one arena (mapper_ops
 * .arena): a first import makes thousands of them with a dozen strings
 * each, and allocating and freeing those one by one was a fifth of the
 * diff's time.
 */
#include "mapper_diff.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "lasync_arena.h"
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

/* grow - room for one more pointer in an arena array of n */
static void *grow(lasync_arena *a, void *arr, size_t n, size_t sz)
{
	/* capacities are the powers of two: grow when n is one */
	if (n == 0 || (n & (n - 1)) == 0)
		return lasync_arena_grow(a, arr, n, n ? n * 2 : 1, sz);
	return arr;
}

/* borrow - an operation's string: the desired or expected state's own (or
 * a literal), not a copy; mapper_diff's callers free the operations
 * before those states (mapper_diff.h) */
static char *borrow(const char *s)
{
	return (char *)s;
}

static Lasync__V1__Operation *op_new(mapper_ops *o, Lasync__V1__OpType type,
				     const lasync_sres *r, uint32_t stage)
{
	Lasync__V1__Operation *op = lasync_arena_alloc(o->arena, sizeof(*op));

	lasync__v1__operation__init(op);
	op->type = type;
	op->resource = (Lasync__V1__ResourceType)r->type;
	op->external_id = borrow(r->external_id);
	op->stage = stage;
	lasync_grow(&o->ops, &o->cap, o->n + 1);
	o->ops[o->n++] = op;
	o->counts.ops_total++;
	return op;
}

static void op_set(mapper_ops *o, Lasync__V1__Operation *op,
		   const char *path, const char *json)
{
	Lasync__V1__Attr *a = lasync_arena_alloc(o->arena, sizeof(*a));

	lasync__v1__attr__init(a);
	a->path = borrow(path);
	a->json = borrow(json);
	op->set = grow(o->arena, op->set, op->n_set, sizeof(*op->set));
	op->set[op->n_set++] = a;
}

static void op_remove(mapper_ops *o, Lasync__V1__Operation *op,
		      const char *path)
{
	op->remove = grow(o->arena, op->remove, op->n_remove,
			  sizeof(*op->remove));
	op->remove[op->n_remove++] = borrow(path);
}

static void op_member(mapper_ops *o, Lasync__V1__Operation *op,
		      const lasync_smember *m)
{
	Lasync__V1__MemberRef *r = lasync_arena_alloc(o->arena, sizeof(*r));

	lasync__v1__member_ref__init(r);
	r->external_id = borrow(m->external_id);
	r->type = (Lasync__V1__ResourceType)m->type;
	op->members = grow(o->arena, op->members, op->n_members,
			   sizeof(*op->members));
	op->members[op->n_members++] = r;
}

static void op_keep(mapper_ops *o, Lasync__V1__Operation *op,
		    const char *kind)
{
	op->keep_kinds = grow(o->arena, op->keep_kinds, op->n_keep_kinds,
			      sizeof(*op->keep_kinds));
	op->keep_kinds[op->n_keep_kinds++] = borrow(kind);
}

/*
 * Operation ids: lasync_digest's digest (SHA-256 over parts each preceded
 * by its length as 8 bytes little-endian, a NULL string as 8 bytes 0xff;
 * the first 128 bits in hex), computed here with one reused context for
 * the whole diff: a fresh EVP context and digest fetch per operation cost
 * more than the hashing itself.  The parts of one operation are gathered
 * in one scratch buffer and hashed with a single update: an update per
 * part (most of them 8 bytes) ran SHA-256 at a tenth of its speed.  The
 * ids are the same bytes as before.
 */
typedef struct sealer {
	EVP_MD_CTX *ctx;
	EVP_MD *md;
	unsigned char *buf;
	size_t len, cap;
} sealer;

static unsigned char *seal_room(sealer *s, size_t n)
{
	unsigned char *p;

	if (n > s->cap - s->len) {
		size_t cap = s->cap ? s->cap : 4096;

		while (cap - s->len < n) {
			if (cap > SIZE_MAX / 2)
				lasync_panic_oom();
			cap *= 2;
		}
		s->buf = lasync_xrealloc(s->buf, cap);
		s->cap = cap;
	}
	p = s->buf + s->len;
	s->len += n;
	return p;
}

static void seal_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void seal_part(sealer *s, const void *data, size_t len)
{
	unsigned char *p = seal_room(s, 8 + len);

	seal_u64(p, len);
	if (len)
		memcpy(p + 8, data, len);
}

static void seal_str(sealer *s, const char *str)
{
	if (str == NULL)
		memset(seal_room(s, 8), 0xff, 8);
	else
		seal_part(s, str, strlen(str));
}

static void seal_i64(sealer *s, int64_t v)
{
	unsigned char *p = seal_room(s, 16);

	seal_u64(p, 8);
	seal_u64(p + 8, (uint64_t)v);
}

/* op_seal - compute the deterministic id of a finished operation */
static void op_seal(sealer *s, mapper_ops *o, Lasync__V1__Operation *op,
		    const char *tenant, int64_t generation)
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char *id;

	s->len = 0;
	seal_str(s, tenant);
	seal_i64(s, generation);
	seal_i64(s, op->type);
	seal_i64(s, op->resource);
	seal_str(s, op->external_id);
	seal_i64(s, op->stage);
	for (size_t i = 0; i < op->n_set; i++) {
		seal_str(s, op->set[i]->path);
		seal_str(s, op->set[i]->json);
	}
	for (size_t i = 0; i < op->n_remove; i++)
		seal_str(s, op->remove[i]);
	for (size_t i = 0; i < op->n_members; i++) {
		seal_str(s, op->members[i]->external_id);
		seal_i64(s, op->members[i]->type);
	}
	for (size_t i = 0; i < op->n_keep_kinds; i++)
		seal_str(s, op->keep_kinds[i]);
	if (EVP_DigestInit_ex(s->ctx, s->md, NULL) != 1 ||
	    EVP_DigestUpdate(s->ctx, s->buf, s->len) != 1 ||
	    EVP_DigestFinal_ex(s->ctx, md, &n) != 1 || n < 16)
		lasync_panic_oom();
	id = lasync_arena_alloc(o->arena, LASYNC_ID_LEN);
	for (int i = 0; i < 16; i++) {
		id[2 * i] = hexd[md[i] >> 4];
		id[2 * i + 1] = hexd[md[i] & 15];
	}
	id[32] = '\0';
	op->op_id = id;
}

void mapper_ops_free(mapper_ops *o)
{
	lasync_arena_free(o->arena);
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

/* keep_sticky - sticky (and create-only) values the LAS dropped stay
 * known in the next state n: the expected attributes absent from the
 * desired ones, found by a merge walk of the two sorted lists */
static void keep_sticky(lasync_sres *n, const lasync_sres *d,
			const lasync_sres *e)
{
	size_t i = 0;

	for (size_t k = 0; k < e->n_attrs; k++) {
		int c = 1;

		while (i < d->n_attrs &&
		       (c = strcmp(d->attrs[i].path, e->attrs[k].path)) < 0)
			i++;
		if (i < d->n_attrs && c == 0)
			continue;
		const lasync_attr_def *def =
			lasync_attr_find(e->type, e->attrs[k].path);

		if (def != NULL && def->owner != LASYNC_OWN_STRONG)
			lasync_state_set(n, e->attrs[k].path, e->attrs[k].json);
	}
}

/* upsert - UPSERT of the whole desired resource (create-only included) */
static void upsert(mapper_ops *o, const lasync_sres *d, uint32_t stage)
{
	Lasync__V1__Operation *op = op_new(o, LASYNC__V1__OP_TYPE__OP_UPSERT,
					   d, stage);

	for (size_t i = 0; i < d->n_attrs; i++)
		op_set(o, op, d->attrs[i].path, d->attrs[i].json);
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

		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
		/* equal values (the usual case) need no ownership lookup */
		if (lasync_streq(dv, ev))
			continue;
		const lasync_attr_def *def = lasync_attr_find(d->type, path);

		if (def == NULL || def->owner == LASYNC_OWN_CREATE)
			continue;
		if (dv == NULL && def->owner == LASYNC_OWN_STICKY)
			continue;
		if (op == NULL)
			op = op_new(o, LASYNC__V1__OP_TYPE__OP_PATCH, d, stage);
		if (dv != NULL)
			op_set(o, op, path, dv);
		else
			op_remove(o, op, path);
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
			op_member(o, add, m);
			o->counts.members_added++;
		} else {
			if (rem == NULL)
				rem = op_new(
					o, LASYNC__V1__OP_TYPE__OP_REMOVE_MEMBERS,
					g, MAPPER_STAGE_MEMBERS);
			op_member(o, rem, m);
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
			op_member(o, op, &g->members[i]);
	if (!link_staff)
		op_keep(o, op, "staff");
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
	out->arena = lasync_arena_new();
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
			lasync_sres *n = lasync_state_copy(next, dr);

			if (reconcile || c < 0 || is_dirty(in, dr->external_id))
				upsert(out, dr, stage);
			else
				patch(out, dr, er, stage);
			if (c == 0)
				keep_sticky(n, dr, er);
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
		lasync_sres *n = lasync_state_copy(next, er);

		j++;
		if (er->type == LASYNC_RES_GROUP) {
			/* R5: orphaned, LAS members out. */
			const char *orph = lasync_sres_get(er, LASYNC_G_ORPHANED);

			n->n_members = 0; /* the strings stay in next's pool */
			lasync_state_set(n, LASYNC_G_ORPHANED, "true");
			if (!lasync_streq(orph, "true")) {
				Lasync__V1__Operation *op = op_new(
					out, LASYNC__V1__OP_TYPE__OP_PATCH, er,
					MAPPER_STAGE_GROUPS);

				op_set(out, op, LASYNC_G_ORPHANED, "true");
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

			op_set(out, op, LASYNC_A_ACTIVE, "false");
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
	if (out->n > 0) {
		sealer sl = {.ctx = EVP_MD_CTX_new(),
			     .md = EVP_MD_fetch(NULL, "SHA256", NULL)};

		if (sl.ctx == NULL || sl.md == NULL)
			lasync_panic_oom();
		for (size_t k = 0; k < out->n; k++)
			op_seal(&sl, out, out->ops[k], in->tenant_id,
				in->generation);
		free(sl.buf);
		EVP_MD_free(sl.md);
		EVP_MD_CTX_free(sl.ctx);
	}
	if (out->n > 1)
		qsort(out->ops, out->n, sizeof(*out->ops), cmp_stage);
	lasync_state_finish(next);
	return next;
}
