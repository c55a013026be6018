/*
 * notifier_resolve.c - recognise the LAS catching up with a suggestion
 * (R21: "marks a suggestion resolved once the LAS value equals the
 * suggested one").
 *
 * The notifier follows <prefix>.portal-changes, the change sets the mapper
 * emits.  An UPSERT carries every owned attribute of a profile (a missing
 * path means the LAS has no value); a PATCH carries the changed values and
 * the removed paths (any other path is unchanged, so it says nothing).
 * For each owned field of an open suggestion of that profile, the value
 * the LAS now has is normalised and digested the way the suggested value
 * was (notifier_value_digest); equal digests mark the field matched.  Once
 * every owned field is matched the suggestion is resolved.  Values are
 * never kept or logged: only their digests meet.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "lasync_attr.h"
#include "lasync_mem.h"
#include "notifier.h"

/* las_value - what the operation says the LAS holds for field f: 1 with
 * *out (a string the caller frees, "" for none) when it says, 0 when the
 * operation does not speak about it */
static int las_value(const Lasync__V1__Operation *op, const notifier_field *f,
		     char **out)
{
	const char *json = NULL;
	json_t *v, *x;

	*out = NULL;
	for (size_t i = 0; i < op->n_set; i++)
		if (strcmp(op->set[i]->path, f->path) == 0)
			json = op->set[i]->json;
	if (json == NULL) {
		bool removed = false;

		for (size_t i = 0; i < op->n_remove; i++)
			removed = removed || strcmp(op->remove[i], f->path) == 0;
		if (op->type != LASYNC__V1__OP_TYPE__OP_UPSERT && !removed)
			return 0;
		*out = lasync_xstrdup("");
		return 1;
	}
	v = json_loads(json, JSON_DECODE_ANY, NULL);
	x = f->sub ? json_object_get(v, f->sub) : v;
	*out = lasync_xstrdup(json_is_string(x) ? json_string_value(x) : "");
	json_decref(v);
	return 1;
}

nstatus *notifier_resolve_op(const nstatus *st,
			     const Lasync__V1__Operation *op, int64_t now_ms)
{
	nstatus *upd;
	bool changed = false, all = true, any_owned = false;

	if (!notifier_status_open(st) ||
	    op->resource != LASYNC__V1__RESOURCE_TYPE__RESOURCE_USER ||
	    (op->type != LASYNC__V1__OP_TYPE__OP_UPSERT &&
	     op->type != LASYNC__V1__OP_TYPE__OP_PATCH) ||
	    st->parent_external_id[0] == '\0' ||
	    strcmp(op->external_id, st->parent_external_id) != 0)
		return NULL;
	upd = lasync_xcalloc(1, sizeof(*upd));
	lasync__v1__notification_status__init(upd);
	upd->tenant_id = st->tenant_id;
	upd->kind = st->kind;
	upd->ref = st->ref;
	upd->fields = lasync_xcalloc(st->n_fields + 1, sizeof(*upd->fields));
	for (size_t i = 0; i < st->n_fields; i++) {
		const Lasync__V1__SuggestionFieldState *f = st->fields[i];
		Lasync__V1__SuggestionFieldState *o =
			lasync_xcalloc(1, sizeof(*o));
		const notifier_field *def = notifier_field_find(f->field);
		char *val, dg[33];

		*o = *f;
		upd->fields[upd->n_fields++] = o;
		if (!f->owned)
			continue;
		any_owned = true;
		if (!f->matched && def != NULL && las_value(op, def, &val)) {
			notifier_value_digest(st->tenant_id, st->ref, f->field,
					      val, dg);
			if (strcmp(dg, f->new_digest) == 0) {
				o->matched = true;
				changed = true;
			}
			free(val);
		}
		all = all && o->matched;
	}
	if (!changed) {
		notifier_resolve_free(upd);
		return NULL;
	}
	if (all && any_owned)
		upd->resolved_at_ms = now_ms;
	return upd;
}

void notifier_resolve_free(nstatus *upd)
{
	if (upd == NULL)
		return;
	for (size_t i = 0; i < upd->n_fields; i++)
		free(upd->fields[i]);
	free(upd->fields);
	free(upd);
}
