/*
 * lasync_state.c - portal states: build, sort, look up, and (de)serialise
 * as lasync.v1.PortalState for the expected state kept in Redis.
 *
 * Resources are found through a sorted array after lasync_state_finish();
 * while building, lasync_state_resource() uses a small open-addressing hash
 * so that building a 5,000-user school stays linear.  The hash is kept up
 * lazily: states built in order (decode, copies) append without it, and the
 * first lookup that needs it indexes what it has not seen yet.
 *
 * Memory: a state's resources and every string and array in them come from
 * the state's own pool and die with the state in one go; a replaced value
 * stays in the pool until then.  A state of a large school makes tens of
 * thousands of small strings, and one malloc/free each was a large part of
 * the mapper's time (BENCHMARKS.md).  Attribute paths are interned per
 * state, so finding a resource's attribute compares pointers, and a path
 * is stored once per state, not once per resource.
 */
#include "lasync_state.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lasync/v1/ops.pb-c.h" /* the ResourceType values */
#include "lasync_log.h"
#include "lasync_mem.h"

/* --- the pool -------------------------------------------------------- */

#define POOL_CHUNK (64u * 1024u)

typedef struct pool_chunk {
	struct pool_chunk *next;
	size_t size, used;
	max_align_t data[];
} pool_chunk;

typedef struct pool {
	pool_chunk *head;
} pool;

/* pool_alloc - n bytes (not zeroed) aligned to align (a power of two) */
static void *pool_alloc(pool *p, size_t n, size_t align)
{
	pool_chunk *c = p->head;
	size_t off = c ? (c->used + align - 1) & ~(align - 1) : 0;

	if (c == NULL || off > c->size || c->size - off < n) {
		size_t size = n > POOL_CHUNK / 4 ? n : POOL_CHUNK;

		c = lasync_xmalloc(sizeof(*c) + size);
		c->size = size;
		c->used = 0;
		if (n > POOL_CHUNK / 4 && p->head != NULL) {
			/* a big block gets its own chunk behind the head,
			 * which keeps its free room */
			c->next = p->head->next;
			p->head->next = c;
			c->used = n;
			return c->data;
		}
		c->next = p->head;
		p->head = c;
		off = 0;
	}
	c->used = off + n;
	return (char *)c->data + off;
}

static char *pool_strndup(pool *p, const char *s, size_t n)
{
	char *d = pool_alloc(p, n + 1, 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static void pool_free(pool *p)
{
	for (pool_chunk *c = p->head, *next; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	p->head = NULL;
}

/* pool_grow - room for at least need elements of sz in *arr; the old
 * block is left to the pool */
static void pool_grow(pool *p, void **arr, size_t *cap, size_t n, size_t need,
		      size_t sz)
{
	size_t nc;
	void *a;

	if (need <= *cap)
		return;
	nc = *cap ? *cap * 2 : 4;
	while (nc < need)
		nc *= 2;
	if (sz != 0 && nc > SIZE_MAX / sz)
		lasync_panic_oom();
	a = pool_alloc(p, nc * sz, _Alignof(max_align_t));
	if (n > 0)
		memcpy(a, *arr, n * sz);
	*arr = a;
	*cap = nc;
}

/* --- the state behind the public struct ------------------------------ */

/* Build-time index: externalId+type -> resource.  count: how many of
 * st->res (in creation order) it holds. */
typedef struct state_index {
	lasync_sres **slots;
	size_t cap, count;
} state_index;

/* Interned attribute paths: hash slots, and a cache from the caller's
 * pointer (paths are mostly string literals) to the interned copy; a hit
 * is confirmed with one strcmp, since a caller's buffer may be reused for
 * another path. */
#define PATH_CACHE 64
typedef struct path_table {
	const char **slots;
	size_t cap, n;
	struct {
		const char *from, *to;
	} cache[PATH_CACHE];
} path_table;

struct state_ext {
	lasync_state st;
	pool pool;
	state_index idx;
	path_table paths;
	lasync_sres **order;	/* resources in creation order, for idx */
	size_t n_order, cap_order;
};

/* A resource knows its state, so that setters reach the pool. */
typedef struct sres_ext {
	lasync_sres r;
	struct state_ext *owner;
} sres_ext;

static struct state_ext *ext_of(lasync_state *st)
{
	return (struct state_ext *)st;
}

static struct state_ext *owner_of(lasync_sres *r)
{
	return ((sres_ext *)r)->owner;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static uint64_t hash_key(lasync_res_type type, const char *s)
{
	return hash_str(1469598103934665603ULL ^ (uint64_t)type, s);
}

/* intern - the state's copy of path */
static const char *intern(struct state_ext *x, const char *path)
{
	path_table *t = &x->paths;
	size_t c = ((uintptr_t)path >> 3) % PATH_CACHE;

	if (t->cache[c].from == path && strcmp(t->cache[c].to, path) == 0)
		return t->cache[c].to;
	if ((t->n + 1) * 2 > t->cap) {
		const char **old = t->slots;
		size_t old_cap = t->cap;

		t->cap = t->cap ? t->cap * 2 : 64;
		t->slots = lasync_xcalloc(t->cap, sizeof(*t->slots));
		for (size_t i = 0; i < old_cap; i++) {
			if (old[i] == NULL)
				continue;
			size_t k = (size_t)hash_str(1469598103934665603ULL,
						    old[i]) &
				   (t->cap - 1);

			while (t->slots[k] != NULL)
				k = (k + 1) & (t->cap - 1);
			t->slots[k] = old[i];
		}
		free(old);
	}
	size_t k = (size_t)hash_str(1469598103934665603ULL, path) &
		   (t->cap - 1);

	for (; t->slots[k] != NULL; k = (k + 1) & (t->cap - 1))
		if (strcmp(t->slots[k], path) == 0)
			goto out;
	t->slots[k] = pool_strndup(&x->pool, path, strlen(path));
	t->n++;
out:
	t->cache[c].from = path;
	t->cache[c].to = t->slots[k];
	return t->slots[k];
}

static void index_insert(state_index *ix, lasync_sres *r)
{
	size_t mask = ix->cap - 1;
	size_t i = (size_t)hash_key(r->type, r->external_id) & mask;

	while (ix->slots[i] != NULL)
		i = (i + 1) & mask;
	ix->slots[i] = r;
}

/* index_update - make the index hold every resource, with room for one
 * more */
static void index_update(struct state_ext *x)
{
	state_index *ix = &x->idx;

	if (ix->cap == 0 || (x->n_order + 1) * 2 > ix->cap) {
		size_t cap = 64;

		while (cap < (x->n_order + 1) * 2)
			cap *= 2;
		free(ix->slots);
		ix->slots = lasync_xcalloc(cap, sizeof(*ix->slots));
		ix->cap = cap;
		ix->count = 0;
	}
	for (; ix->count < x->n_order; ix->count++)
		index_insert(ix, x->order[ix->count]);
}

lasync_state *lasync_state_new(const char *tenant_id)
{
	struct state_ext *x = lasync_xcalloc(1, sizeof(*x));

	if (tenant_id != NULL)
		x->st.tenant_id = lasync_xstrdup(tenant_id);
	x->st.sorted = true;
	return &x->st;
}

void lasync_state_free(lasync_state *st)
{
	struct state_ext *x;

	if (st == NULL)
		return;
	x = ext_of(st);
	pool_free(&x->pool);
	free(st->res);
	free(st->tenant_id);
	free(st->sync_id);
	free(x->idx.slots);
	free(x->paths.slots);
	free(x->order);
	free(x);
}

/* append - a new empty resource at the end (no index lookup) */
static lasync_sres *append(struct state_ext *x, lasync_res_type type,
			   const char *external_id, size_t ext_len)
{
	lasync_state *st = &x->st;
	sres_ext *e = pool_alloc(&x->pool, sizeof(*e), _Alignof(sres_ext));

	memset(e, 0, sizeof(*e));
	e->owner = x;
	e->r.type = type;
	e->r.external_id = pool_strndup(&x->pool, external_id, ext_len);
	lasync_grow(&st->res, &st->cap_res, st->n_res + 1);
	if (st->sorted && st->n_res > 0) {
		const lasync_sres *last = st->res[st->n_res - 1];

		if (last->type > type ||
		    (last->type == type &&
		     strcmp(last->external_id, e->r.external_id) >= 0))
			st->sorted = false;
	}
	st->res[st->n_res++] = &e->r;
	lasync_grow(&x->order, &x->cap_order, x->n_order + 1);
	x->order[x->n_order++] = &e->r;
	return &e->r;
}

lasync_sres *lasync_state_resource(lasync_state *st, lasync_res_type type,
				   const char *external_id)
{
	struct state_ext *x = ext_of(st);
	state_index *ix = &x->idx;
	lasync_sres *r;

	index_update(x);
	size_t mask = ix->cap - 1;
	size_t i = (size_t)hash_key(type, external_id) & mask;

	for (; ix->slots[i] != NULL; i = (i + 1) & mask) {
		r = ix->slots[i];
		if (r->type == type && strcmp(r->external_id, external_id) == 0)
			return r;
	}
	r = append(x, type, external_id, strlen(external_id));
	ix->slots[i] = r;
	ix->count++;
	return r;
}

/* set_interned - set path (interned) to json (already in the pool) */
static void set_interned(struct state_ext *x, lasync_sres *r, const char *p,
			 char *json)
{
	for (size_t i = 0; i < r->n_attrs; i++) {
		if (r->attrs[i].path == p) {
			r->attrs[i].json = json;
			return;
		}
	}
	pool_grow(&x->pool, (void **)&r->attrs, &r->cap_attrs, r->n_attrs,
		  r->n_attrs + 1, sizeof(*r->attrs));
	r->attrs[r->n_attrs].path = (char *)p;
	r->attrs[r->n_attrs].json = json;
	r->n_attrs++;
}

void lasync_state_set(lasync_sres *r, const char *path, const char *json)
{
	struct state_ext *x = owner_of(r);

	set_interned(x, r, intern(x, path),
		     pool_strndup(&x->pool, json, strlen(json)));
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

/* plain_len - the length of s when its canonical JSON text is just s in
 * quotes (printable ASCII without '"' or '\\'); -1 when it needs escapes
 * or UTF-8 checks, which jansson does */
static long plain_len(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p; p++)
		if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
			return -1;
	return (long)(p - (const unsigned char *)s);
}

/* text_mem - append s[0..n) and keep the text NUL-terminated */
static void text_mem(lasync_state_text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;

		while (cap < t->len + n + 1)
			cap *= 2;
		t->s = lasync_xrealloc(t->s, cap);
		t->cap = cap;
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

void lasync_state_text_raw(lasync_state_text *t, const char *s)
{
	text_mem(t, s, strlen(s));
}

bool lasync_state_text_string(lasync_state_text *t, const char *s)
{
	long n = plain_len(s);

	if (n < 0) {
		json_t *v = json_string(s);
		char *c;

		if (v == NULL)
			return false;	/* not UTF-8 */
		c = lasync_json_canon(v);
		json_decref(v);
		if (c == NULL)
			lasync_panic_oom();
		lasync_state_text_raw(t, c);
		free(c);
		return true;
	}
	text_mem(t, "\"", 1);
	text_mem(t, s, (size_t)n);
	text_mem(t, "\"", 1);
	return true;
}

void lasync_state_set_string(lasync_sres *r, const char *path, const char *s)
{
	struct state_ext *x = owner_of(r);
	long n = plain_len(s);

	if (n < 0) {
		lasync_state_set_json(r, path, json_string(s));
		return;
	}
	char *j = pool_alloc(&x->pool, (size_t)n + 3, 1);

	j[0] = '"';
	memcpy(j + 1, s, (size_t)n);
	j[n + 1] = '"';
	j[n + 2] = '\0';
	set_interned(x, r, intern(x, path), j);
}

void lasync_state_set_bool(lasync_sres *r, const char *path, bool b)
{
	struct state_ext *x = owner_of(r);
	static const char t[] = "true", f[] = "false";

	/* the literals outlive every state; nothing frees attribute values */
	set_interned(x, r, intern(x, path), (char *)(b ? t : f));
}

void lasync_state_member(lasync_sres *r, const char *external_id,
			 lasync_res_type type)
{
	struct state_ext *x = owner_of(r);

	pool_grow(&x->pool, (void **)&r->members, &r->cap_members,
		  r->n_members, r->n_members + 1, sizeof(*r->members));
	r->members[r->n_members].external_id =
		pool_strndup(&x->pool, external_id, strlen(external_id));
	r->members[r->n_members].type = type;
	r->n_members++;
}

lasync_sres *lasync_state_copy(lasync_state *st, const lasync_sres *r)
{
	struct state_ext *x = ext_of(st);
	lasync_sres *c;

	c = append(x, r->type, r->external_id, strlen(r->external_id));
	if (r->n_attrs > 0) {
		pool_grow(&x->pool, (void **)&c->attrs, &c->cap_attrs, 0,
			  r->n_attrs, sizeof(*c->attrs));
		for (size_t i = 0; i < r->n_attrs; i++) {
			c->attrs[i].path = (char *)intern(x, r->attrs[i].path);
			c->attrs[i].json = pool_strndup(
				&x->pool, r->attrs[i].json,
				strlen(r->attrs[i].json));
		}
		c->n_attrs = r->n_attrs;
	}
	if (r->n_members > 0) {
		pool_grow(&x->pool, (void **)&c->members, &c->cap_members, 0,
			  r->n_members, sizeof(*c->members));
		for (size_t i = 0; i < r->n_members; i++) {
			c->members[i].external_id = pool_strndup(
				&x->pool, r->members[i].external_id,
				strlen(r->members[i].external_id));
			c->members[i].type = r->members[i].type;
		}
		c->n_members = r->n_members;
	}
	return c;
}

static int cmp_res(const void *a, const void *b)
{
	const lasync_sres *x = *(lasync_sres *const *)a;
	const lasync_sres *y = *(lasync_sres *const *)b;

	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	return strcmp(x->external_id, y->external_id);
}

static int cmp_member(const void *a, const void *b)
{
	const lasync_smember *x = a, *y = b;
	int c = strcmp(x->external_id, y->external_id);

	if (c != 0)
		return c;
	return (int)x->type - (int)y->type;
}

/* sort_attrs - by path; a resource has a dozen at most, mostly in order
 * already, where insertion sort beats qsort's merge sort by far */
static void sort_attrs(lasync_sattr *a, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		lasync_sattr v = a[i];
		size_t j = i;

		while (j > 0 && strcmp(a[j - 1].path, v.path) > 0) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = v;
	}
}

static void sres_finish(lasync_sres *r)
{
	size_t o = 0;
	bool sorted = true;

	sort_attrs(r->attrs, r->n_attrs);
	for (size_t i = 1; i < r->n_members && sorted; i++)
		sorted = cmp_member(&r->members[i - 1], &r->members[i]) < 0;
	if (sorted)
		return;	/* strictly increasing: no duplicates either */
	qsort(r->members, r->n_members, sizeof(*r->members), cmp_member);
	for (size_t i = 0; i < r->n_members; i++) {
		if (o > 0 && cmp_member(&r->members[o - 1], &r->members[i]) == 0)
			continue;
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
 * Wire form: lasync.v1.PortalState (proto/lasync/v1/ops.proto), written and
 * read here directly rather than through protobuf-c's structs, which cost
 * an allocation per string both ways (a fifth of a steady-state sync's
 * mapper time).  The bytes are exactly protobuf-c's: fields in number
 * order, proto3 defaults (0, "") left out; the reader takes any valid
 * encoding (unknown fields skipped, last value of a field wins).
 */

/* field numbers and wire types */
enum {
	WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5,
	PS_TENANT = 1, PS_GENERATION = 2, PS_SYNC = 3, PS_RESOURCE = 4,
	SR_TYPE = 1, SR_EXT = 2, SR_ATTR = 3, SR_MEMBER = 4,
	AT_PATH = 1, AT_JSON = 2,
	MR_EXT = 1, MR_TYPE = 2,
};

static size_t varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* size of a length-delimited field of n bytes (tags here are one byte) */
static size_t len_field(size_t n)
{
	return 1 + varint_size(n) + n;
}

static size_t str_field(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n ? len_field(n) : 0;
}

static uint8_t *put_str(uint8_t *p, int field, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0)
		return p;
	*p++ = (uint8_t)(field << 3 | WT_LEN);
	p = put_varint(p, n);
	memcpy(p, s, n);
	return p + n;
}

/* enum_size / put_enum - an enum field (int32 on the wire: a negative
 * value takes ten bytes, as protobuf-c writes it) */
static size_t enum_size(int v)
{
	return v ? 1 + varint_size((uint64_t)(int64_t)v) : 0;
}

static uint8_t *put_enum(uint8_t *p, int field, int v)
{
	if (v == 0)
		return p;
	*p++ = (uint8_t)(field << 3 | WT_VARINT);
	return put_varint(p, (uint64_t)(int64_t)v);
}

static size_t attr_size(const lasync_sattr *a)
{
	return str_field(a->path) + str_field(a->json);
}

static size_t member_size(const lasync_smember *m)
{
	return str_field(m->external_id) + enum_size((int)m->type);
}

static size_t res_size(const lasync_sres *r)
{
	size_t n = enum_size((int)r->type) + str_field(r->external_id);

	for (size_t i = 0; i < r->n_attrs; i++)
		n += len_field(attr_size(&r->attrs[i]));
	for (size_t i = 0; i < r->n_members; i++)
		n += len_field(member_size(&r->members[i]));
	return n;
}

uint8_t *lasync_state_encode(lasync_state *st, size_t *len)
{
	size_t total, *sizes;
	uint8_t *buf, *p;

	lasync_state_finish(st);
	sizes = lasync_xcalloc(st->n_res + 1, sizeof(*sizes));
	total = str_field(st->tenant_id) + str_field(st->sync_id);
	if (st->generation != 0)
		total += 1 + varint_size((uint64_t)st->generation);
	for (size_t i = 0; i < st->n_res; i++) {
		sizes[i] = res_size(st->res[i]);
		total += len_field(sizes[i]);
	}
	buf = p = lasync_xmalloc(total ? total : 1);
	p = put_str(p, PS_TENANT, st->tenant_id);
	if (st->generation != 0) {
		*p++ = PS_GENERATION << 3 | WT_VARINT;
		p = put_varint(p, (uint64_t)st->generation);
	}
	p = put_str(p, PS_SYNC, st->sync_id);
	for (size_t i = 0; i < st->n_res; i++) {
		const lasync_sres *r = st->res[i];

		*p++ = PS_RESOURCE << 3 | WT_LEN;
		p = put_varint(p, sizes[i]);
		p = put_enum(p, SR_TYPE, (int)r->type);
		p = put_str(p, SR_EXT, r->external_id);
		for (size_t j = 0; j < r->n_attrs; j++) {
			*p++ = SR_ATTR << 3 | WT_LEN;
			p = put_varint(p, attr_size(&r->attrs[j]));
			p = put_str(p, AT_PATH, r->attrs[j].path);
			p = put_str(p, AT_JSON, r->attrs[j].json);
		}
		for (size_t j = 0; j < r->n_members; j++) {
			*p++ = SR_MEMBER << 3 | WT_LEN;
			p = put_varint(p, member_size(&r->members[j]));
			p = put_str(p, MR_EXT, r->members[j].external_id);
			p = put_enum(p, MR_TYPE, (int)r->members[j].type);
		}
	}
	free(sizes);
	if ((size_t)(p - buf) != total)
		lasync_panic("state_encode", "size=%zu wrote=%zu", total,
			     (size_t)(p - buf));
	*len = total;
	return buf;
}

/* A reader over one message: its bytes, and the field just read. */
typedef struct wire {
	const uint8_t *p, *end;
	unsigned field, type;
	uint64_t v;		/* varint value */
	const uint8_t *data;	/* length-delimited bytes */
	size_t len;
} wire;

static bool get_varint(wire *w, uint64_t *out)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (w->p == w->end)
			return false;
		uint8_t b = *w->p++;

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

/* next - the next field: 1, 0 at the end, -1 when malformed.  Fields of
 * other wire types than varint and length are skipped here. */
static int next(wire *w)
{
	uint64_t tag;

	for (;;) {
		if (w->p == w->end)
			return 0;
		if (!get_varint(w, &tag) || tag >> 3 == 0 || tag >> 3 > UINT32_MAX)
			return -1;
		w->field = (unsigned)(tag >> 3);
		w->type = (unsigned)(tag & 7);
		switch (w->type) {
		case WT_VARINT:
			return get_varint(w, &w->v) ? 1 : -1;
		case WT_LEN:
			if (!get_varint(w, &w->v) ||
			    w->v > (uint64_t)(w->end - w->p))
				return -1;
			w->data = w->p;
			w->len = (size_t)w->v;
			w->p += w->len;
			return 1;
		case WT_I64:
			if (w->end - w->p < 8)
				return -1;
			w->p += 8;
			break;
		case WT_I32:
			if (w->end - w->p < 4)
				return -1;
			w->p += 4;
			break;
		default:
			return -1;	/* groups: never in ours */
		}
	}
}

static wire sub(const wire *w)
{
	wire s = {.p = w->data, .end = w->data + w->len};

	return s;
}

/* wstr - a length-delimited field as a C string in the pool (protobuf-c
 * would stop at an embedded NUL too, as every C caller does) */
static char *wstr(pool *p, const wire *w)
{
	const void *nul = memchr(w->data, 0, w->len);

	return pool_strndup(p, (const char *)w->data,
			    nul ? (size_t)((const uint8_t *)nul - w->data)
				: w->len);
}

/* decode_attr / decode_member - one Attr / MemberRef into r */
static int decode_attr(struct state_ext *x, lasync_sres *r, const wire *w)
{
	wire a = sub(w);
	const char *path = "";
	char *json = NULL;
	int rc;

	while ((rc = next(&a)) > 0) {
		if (a.type != WT_LEN)
			continue;
		if (a.field == AT_PATH)
			path = wstr(&x->pool, &a);
		else if (a.field == AT_JSON)
			json = wstr(&x->pool, &a);
	}
	if (rc < 0)
		return -1;
	set_interned(x, r, intern(x, path), json ? json : (char *)"");
	return 0;
}

static int decode_member(struct state_ext *x, lasync_sres *r, const wire *w)
{
	wire m = sub(w);
	const char *ext = "";
	int type = 0, rc;

	while ((rc = next(&m)) > 0) {
		if (m.field == MR_EXT && m.type == WT_LEN)
			ext = wstr(&x->pool, &m);
		else if (m.field == MR_TYPE && m.type == WT_VARINT)
			type = (int)(int32_t)m.v;
	}
	if (rc < 0)
		return -1;
	pool_grow(&x->pool, (void **)&r->members, &r->cap_members,
		  r->n_members, r->n_members + 1, sizeof(*r->members));
	r->members[r->n_members].external_id = (char *)ext;
	r->members[r->n_members].type = (lasync_res_type)type;
	r->n_members++;
	return 0;
}

/* decode_resource - one StateResource: its key first (a field may come in
 * any order and the last one counts), then its attributes and members */
static int decode_resource(lasync_state *st, const wire *w, size_t i,
			   char *err, size_t errlen)
{
	struct state_ext *x = ext_of(st);
	wire f = sub(w);
	const uint8_t *ext = NULL;
	size_t ext_len = 0;
	int type = 0, rc;
	lasync_sres *r = NULL;

	while ((rc = next(&f)) > 0) {
		if (f.field == SR_TYPE && f.type == WT_VARINT) {
			type = (int)(int32_t)f.v;
		} else if (f.field == SR_EXT && f.type == WT_LEN) {
			const void *nul = memchr(f.data, 0, f.len);

			ext = f.data;
			ext_len = nul ? (size_t)((const uint8_t *)nul - f.data)
				      : f.len;
		}
	}
	if (rc < 0)
		return -1;
	if (type != LASYNC__V1__RESOURCE_TYPE__RESOURCE_USER &&
	    type != LASYNC__V1__RESOURCE_TYPE__RESOURCE_GROUP) {
		snprintf(err, errlen, "resource %zu has type %d", i, type);
		return -2;
	}
	/* An encoded state is sorted and free of duplicates: append.
	 * Anything else (not ours) goes through the index, which merges a
	 * duplicate as lasync_state_resource() does. */
	if (st->sorted) {
		r = append(x, (lasync_res_type)type,
			   ext ? (const char *)ext : "", ext_len);
		if (!st->sorted) {	/* out of order: take it back */
			st->n_res--;
			x->n_order--;
			r = NULL;
		}
	}
	if (r == NULL) {
		char *key = pool_strndup(&x->pool,
					 ext ? (const char *)ext : "", ext_len);

		r = lasync_state_resource(st, (lasync_res_type)type, key);
	}
	f = sub(w);
	while ((rc = next(&f)) > 0) {
		if (f.type != WT_LEN)
			continue;
		if (f.field == SR_ATTR && decode_attr(x, r, &f) < 0)
			return -1;
		if (f.field == SR_MEMBER && decode_member(x, r, &f) < 0)
			return -1;
	}
	return rc;
}

lasync_state *lasync_state_decode(const uint8_t *buf, size_t len, char *err,
				  size_t errlen)
{
	wire w = {.p = buf, .end = buf + len};
	lasync_state *st = lasync_state_new(NULL);
	const uint8_t *tenant = NULL, *sync = NULL;
	size_t tenant_len = 0, sync_len = 0, i = 0;
	int rc;

	/* the scalars first: the last occurrence of each wins */
	while ((rc = next(&w)) > 0) {
		if (w.field == PS_TENANT && w.type == WT_LEN) {
			tenant = w.data;
			tenant_len = w.len;
		} else if (w.field == PS_GENERATION && w.type == WT_VARINT) {
			st->generation = (int64_t)w.v;
		} else if (w.field == PS_SYNC && w.type == WT_LEN) {
			sync = w.data;
			sync_len = w.len;
		}
	}
	if (rc < 0)
		goto out_malformed;
	st->tenant_id = lasync_xstrndup(tenant ? (const char *)tenant : "",
					tenant_len);
	st->sync_id = lasync_xstrndup(sync ? (const char *)sync : "", sync_len);
	st->tenant_id[strnlen(st->tenant_id, tenant_len)] = '\0';
	st->sync_id[strnlen(st->sync_id, sync_len)] = '\0';
	w.p = buf;
	while ((rc = next(&w)) > 0) {
		if (w.field != PS_RESOURCE || w.type != WT_LEN)
			continue;
		rc = decode_resource(st, &w, i++, err, errlen);
		if (rc == -2) {
			lasync_state_free(st);
			return NULL;
		}
		if (rc < 0)
			goto out_malformed;
	}
	if (rc < 0)
		goto out_malformed;
	lasync_state_finish(st);
	return st;
out_malformed:
	snprintf(err, errlen, "not a PortalState message (%zu bytes)", len);
	lasync_state_free(st);
	return NULL;
}
