/*
 * mapper_preview.c - the readable report of a preview (dry-run) sync.
 *
 * One block per operation, in the order the applier would run them.  The
 * first line of a block is fixed-format for tools and tests:
 *
 *   [PATCH] user parnassys:guardian:200001 "Anna de Vries"
 *       addresses[type eq "home"]: {"locality":"Utrecht",...} -> {...}
 *
 * Old values come from the expected state: they are what lasync last wrote,
 * which is what the portal holds unless someone edited it there (a full
 * reconcile compares with the portal itself and repairs that).  The report
 * holds personal data: it travels in the sync result to the operator's
 * terminal and is never logged.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lasync_attr.h"
#include "lasync_mem.h"
#include "mapper_diff.h"

typedef struct rbuf {
	char *p;
	size_t len, cap;
} rbuf;

static void rprintf(rbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void rprintf(rbuf *b, const char *fmt, ...)
{
	va_list ap;

	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);

		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->p = lasync_xrealloc(b->p, b->cap);
	}
}

static const char *type_name(Lasync__V1__OpType t)
{
	switch (t) {
	case LASYNC__V1__OP_TYPE__OP_UPSERT:
		return "UPSERT";
	case LASYNC__V1__OP_TYPE__OP_PATCH:
		return "PATCH";
	case LASYNC__V1__OP_TYPE__OP_ADD_MEMBERS:
		return "ADD_MEMBERS";
	case LASYNC__V1__OP_TYPE__OP_REMOVE_MEMBERS:
		return "REMOVE_MEMBERS";
	case LASYNC__V1__OP_TYPE__OP_SET_MEMBERS:
		return "SET_MEMBERS";
	default:
		return "OP";
	}
}

/* display - the displayName of a resource, as text, into buf */
static const char *display(const lasync_sres *r, char *buf, size_t len)
{
	const char *v = r ? lasync_sres_get(r, "displayName") : NULL;
	size_t n;

	buf[0] = '\0';
	if (v == NULL)
		return buf;
	/* canonical JSON string: strip the quotes, keep the escapes */
	n = strlen(v);
	if (n >= 2 && v[0] == '"')
		snprintf(buf, len, "%.*s", (int)(n - 2), v + 1);
	return buf;
}

static const lasync_sres *find(const lasync_state *st,
			       const Lasync__V1__Operation *op)
{
	return st ? lasync_state_find(st, (lasync_res_type)op->resource,
				      op->external_id)
		  : NULL;
}

static const char *old_value(const lasync_sres *e, const char *path)
{
	const char *v = e ? lasync_sres_get(e, path) : NULL;

	return v ? v : "(none)";
}

char *mapper_preview_report(const mapper_diff_in *in, const mapper_ops *ops,
			    const char *sync_id, const char *sync_date,
			    const char *held_reason)
{
	rbuf b = {lasync_xmalloc(4096), 0, 4096};
	char name[256], mname[256];

	b.p[0] = '\0';
	rprintf(&b, "Preview of sync %s for tenant %s (sync date %s): %zu "
		    "operation(s)%s\n",
		sync_id, in->tenant_id, sync_date, ops->n,
		in->expected == NULL || in->full
			? ", compared with the portal itself at apply time"
			: "");
	if (held_reason != NULL)
		rprintf(&b, "WOULD BE HELD (deletion guard): %s\n", held_reason);
	for (size_t i = 0; i < ops->n; i++) {
		const Lasync__V1__Operation *op = ops->ops[i];
		const lasync_sres *d = find(in->desired, op);
		const lasync_sres *e = find(in->expected, op);
		const char *kind = op->resource ==
						   LASYNC__V1__RESOURCE_TYPE__RESOURCE_GROUP
					   ? "group"
					   : "user";

		rprintf(&b, "[%s] %s %s \"%s\"\n", type_name(op->type), kind,
			op->external_id,
			display(d ? d : e, name, sizeof(name)));
		switch (op->type) {
		case LASYNC__V1__OP_TYPE__OP_UPSERT:
			rprintf(&b, "    %s\n",
				e == NULL && in->expected != NULL
					? "create (after looking it up in the "
					  "portal)"
					: "create, or compare with the portal "
					  "and repair what differs");
			for (size_t k = 0; k < op->n_set; k++)
				rprintf(&b, "    %s: %s\n", op->set[k]->path,
					op->set[k]->json);
			break;
		case LASYNC__V1__OP_TYPE__OP_PATCH:
			for (size_t k = 0; k < op->n_set; k++) {
				if (strcmp(op->set[k]->path, "active") == 0 &&
				    strcmp(op->set[k]->json, "false") == 0)
					rprintf(&b, "    deactivate (left the LAS)\n");
				else if (strcmp(op->set[k]->path,
						LASYNC_G_ORPHANED) == 0 &&
					 strcmp(op->set[k]->json, "true") == 0)
					rprintf(&b, "    mark lasOrphaned (left the "
						    "LAS; the school may "
						    "remove it)\n");
				else
					rprintf(&b, "    %s: %s -> %s\n",
						op->set[k]->path,
						old_value(e, op->set[k]->path),
						op->set[k]->json);
			}
			for (size_t k = 0; k < op->n_remove; k++)
				rprintf(&b, "    %s: %s -> (removed)\n",
					op->remove[k],
					old_value(e, op->remove[k]));
			break;
		default:
			for (size_t k = 0; k < op->n_members; k++) {
				const Lasync__V1__MemberRef *m = op->members[k];
				const lasync_sres *mr =
					lasync_state_find(in->desired,
							  (lasync_res_type)m->type,
							  m->external_id);

				if (mr == NULL && in->expected)
					mr = lasync_state_find(
						in->expected,
						(lasync_res_type)m->type,
						m->external_id);
				rprintf(&b, "    %s %s \"%s\"\n",
					op->type == LASYNC__V1__OP_TYPE__OP_REMOVE_MEMBERS
						? "-"
						: "+",
					m->external_id,
					display(mr, mname, sizeof(mname)));
			}
			for (size_t k = 0; k < op->n_keep_kinds; k++)
				rprintf(&b, "    (%s memberships are left alone)\n",
					op->keep_kinds[k]);
			break;
		}
	}
	if (ops->n == 0)
		rprintf(&b, "Nothing to change.\n");
	return b.p;
}
