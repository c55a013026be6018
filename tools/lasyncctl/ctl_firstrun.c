/*
 * ctl_firstrun.c - onboarding a school whose portal already holds groups
 * and profiles (R19): first-run plan | apply.
 *
 * A tenant created first_run_pending has its snapshots fetched and mapped,
 * but nothing is applied; the mapper keeps the desired state of the newest
 * one in Redis (<prefix>:{tenant}:firstrun).  `plan` reads that state and
 * the portal and proposes, per LAS group, a portal group to link - the same
 * name first, else the same year level (the portal group's yearLevels, else
 * the numbers in its name: "Groep 1/2A" -> 1, 2); a LAS samengestelde groep
 * is offered the portal's samengestelde groepen - and shows what R20 will
 * make of the profiles.  It writes a readable report (stdout, and --report)
 * and an editable JSON plan.  `apply` checks the plan against the LAS and
 * the portal as they are now, refuses a stale or inconsistent one saying
 * what changed, stores the group links in the tenant config, activates the
 * tenant and requests the first (full) sync.
 *
 * The plan file holds group names and LAS ids; profile names only appear in
 * the report on the terminal, never in a log.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "lasync_attr.h"
#include "lasync_clock.h"
#include "lasync_event.h"
#include "lasync_match.h"
#include "lasync_mem.h"
#include "lasync_redis.h"
#include "lasync_secret.h"
#include "lasync_state.h"

#define PLAN_VERSION 1
#define MAX_STATE_BYTES (1024L * 1024 * 1024)

/* One LAS group of the desired state. */
typedef struct lgroup {
	const char *ext;
	char *name;
	char *kind;		/* jaargroep | samengesteld | instroom */
	json_t *years;		/* sorted array of strings */
} lgroup;

/* One portal group. */
typedef struct pgroup {
	json_t *doc;		/* borrowed from the listing */
	const char *id, *name, *ext;
	char *norm;		/* normalised name */
	json_t *years;		/* yearLevels, else the numbers in the name */
	bool composite;
	size_t members;
	int claimed;		/* index of the LAS group it is proposed to */
} pgroup;

/* One proposal. */
typedef struct proposal {
	const char *action;	/* link | create | keep */
	int pg;			/* portal group index, -1 */
	const char *match;	/* exact_name | year_level | linked | none */
	json_t *alternatives;	/* other candidates */
} proposal;

/* ---- reading the desired state ---- */

static char *json_text(const char *canon)
{
	json_t *v = canon ? json_loads(canon, JSON_DECODE_ANY, NULL) : NULL;
	char *s = lasync_xstrdup(json_is_string(v) ? json_string_value(v)
						   : "");

	json_decref(v);
	return s;
}

static int cmp_str_json(const void *a, const void *b)
{
	const char *x = json_string_value(*(json_t *const *)a);
	const char *y = json_string_value(*(json_t *const *)b);
	size_t lx = strlen(x), ly = strlen(y);

	/* numeric years sort as numbers: "2" before "10" */
	return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x, y);
}

/* sorted_years - a sorted, de-duplicated copy of an array of year strings */
static json_t *sorted_years(json_t *arr)
{
	size_t n = json_array_size(arr), k = 0;
	json_t **v = lasync_xcalloc(n + 1, sizeof(*v));
	json_t *out = json_array();

	for (size_t i = 0; i < n; i++)
		if (json_is_string(json_array_get(arr, i)))
			v[k++] = json_array_get(arr, i);
	qsort(v, k, sizeof(*v), cmp_str_json);
	for (size_t i = 0; i < k; i++)
		if (i == 0 || !json_equal(v[i], v[i - 1]))
			json_array_append(out, v[i]);
	free(v);
	return out;
}

/* load_state - the tenant's first-run desired state from Redis */
static lasync_state *load_state(ctl *c, const char *tenant)
{
	char k[256], err[512];
	const char *argv[] = {"GET", k};
	lasync_redis *r = lasync_redis_new(c->redis_url, 5000, err, sizeof(err));
	redisReply *rep;
	lasync_state *st;
	uint8_t *raw;
	size_t raw_len;

	if (r == NULL)
		ctl_die("redis: %s", err);
	lasync_redis_key(k, sizeof(k), c->prefix, tenant, "firstrun", NULL);
	rep = lasync_redis_cmd(r, 2, argv, NULL, err, sizeof(err));
	if (rep == NULL)
		ctl_die("redis: %s", err);
	if (rep->type != REDIS_REPLY_STRING)
		ctl_die("no mapped LAS snapshot for tenant %s yet: request one "
			"with `lasyncctl sync %s --wait 300` (a first_run_pending "
			"tenant is mapped, nothing is applied), then plan again",
			tenant, tenant);
	raw = lasync_zstd_decompress(rep->str, rep->len, MAX_STATE_BYTES,
				     &raw_len, err, sizeof(err));
	freeReplyObject(rep);
	lasync_redis_free(r);
	if (raw == NULL)
		ctl_die("first-run state of %s: %s", tenant, err);
	st = lasync_state_decode(raw, raw_len, err, sizeof(err));
	free(raw);
	if (st == NULL)
		ctl_die("first-run state of %s: %s", tenant, err);
	lasync_state_finish(st);
	return st;
}

static int cmp_lgroup(const void *a, const void *b)
{
	const lgroup *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->ext, y->ext);
}

/* las_groups - the groups of the desired state, sorted by name */
static lgroup *las_groups(const lasync_state *st, size_t *n)
{
	lgroup *g = lasync_xcalloc(st->n_res + 1, sizeof(*g));

	*n = 0;
	for (size_t i = 0; i < st->n_res; i++) {
		const lasync_sres *r = st->res[i];

		if (r->type != LASYNC_RES_GROUP)
			continue;
		const char *y = lasync_sres_get(r, LASYNC_G_YEARS);
		json_t *yv = y ? json_loads(y, JSON_DECODE_ANY, NULL) : NULL;

		g[*n].ext = r->external_id;
		g[*n].name = json_text(lasync_sres_get(r, LASYNC_G_DISPLAY));
		g[*n].kind = json_text(lasync_sres_get(r, LASYNC_G_KIND));
		g[*n].years = sorted_years(yv);
		json_decref(yv);
		(*n)++;
	}
	qsort(g, *n, sizeof(*g), cmp_lgroup);
	return g;
}

static void lgroups_free(lgroup *g, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(g[i].name);
		free(g[i].kind);
		json_decref(g[i].years);
	}
	free(g);
}

/* profile_digest - what a LAS profile is now, for staleness checks */
static void profile_digest(const lasync_sres *r, char out[LASYNC_ID_LEN])
{
	lasync_digest *d = lasync_digest_new();

	for (size_t i = 0; i < r->n_attrs; i++) {
		lasync_digest_add_str(d, r->attrs[i].path);
		lasync_digest_add_str(d, r->attrs[i].json);
	}
	lasync_digest_final(d, out);
	out[16] = '\0';
}

/* ---- the portal ---- */

/* name_years - the numbers 1..8 in a group name: "Groep 1/2A" -> 1, 2 */
static json_t *name_years(const char *name)
{
	json_t *arr = json_array(), *out;

	for (const char *p = name; p && *p;) {
		if (!isdigit((unsigned char)*p)) {
			p++;
			continue;
		}
		long v = strtol(p, (char **)&p, 10);

		if (v >= 1 && v <= 8) {
			char b[4];

			snprintf(b, sizeof(b), "%ld", v);
			json_array_append_new(arr, json_string(b));
		}
	}
	out = sorted_years(arr);
	json_decref(arr);
	return out;
}

static int cmp_pgroup(const void *a, const void *b)
{
	const pgroup *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->id, y->id);
}

/* portal_groups - the portal's groups, sorted by name */
static pgroup *portal_groups(json_t *list, size_t *n)
{
	size_t m = json_array_size(list);
	pgroup *p = lasync_xcalloc(m + 1, sizeof(*p));

	*n = 0;
	for (size_t i = 0; i < m; i++) {
		json_t *doc = json_array_get(list, i);
		json_t *ext = json_object_get(doc, LASYNC_SCHEMA_GROUP_EXT);
		json_t *yl = json_object_get(ext, "yearLevels");
		const char *kind =
			json_string_value(json_object_get(ext, "kind"));
		pgroup *g = &p[*n];

		g->doc = doc;
		g->id = json_string_value(json_object_get(doc, "id"));
		if (g->id == NULL)
			continue;
		g->name = json_string_value(json_object_get(doc,
							    "displayName"));
		if (g->name == NULL)
			g->name = "";
		g->ext = json_string_value(json_object_get(doc, "externalId"));
		g->norm = lasync_match_norm(g->name);
		g->years = json_array_size(yl) > 0 ? sorted_years(yl)
						   : name_years(g->name);
		g->composite = kind ? strcmp(kind, "samengesteld") == 0
				    : json_array_size(g->years) >= 2;
		g->members = json_array_size(json_object_get(doc, "members"));
		g->claimed = -1;
		(*n)++;
	}
	qsort(p, *n, sizeof(*p), cmp_pgroup);
	return p;
}

static void pgroups_free(pgroup *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].norm);
		json_decref(p[i].years);
	}
	free(p);
}

/* ---- proposals ---- */

/* year_score - 2 when the year sets are equal, 1 when the LAS group's
 * years are all in the portal group's, else 0 (no years: 0) */
static int year_score(const json_t *las, const json_t *portal)
{
	size_t i;
	json_t *v;

	if (json_array_size(las) == 0 || json_array_size(portal) == 0)
		return 0;
	if (json_equal((json_t *)las, (json_t *)portal))
		return 2;
	json_array_foreach(las, i, v) {
		size_t j;
		json_t *w;
		bool found = false;

		json_array_foreach(portal, j, w) found |= json_equal(v, w);
		if (!found)
			return 0;
	}
	return 1;
}

static bool compatible(const lgroup *l, const pgroup *p)
{
	return (strcmp(l->kind, "samengesteld") == 0) == p->composite;
}

static void propose(const lgroup *lg, size_t nl, pgroup *pg, size_t np,
		    proposal *out, bool no_links)
{
	for (size_t i = 0; i < nl; i++)
		out[i] = (proposal){"create", -1, "none", json_array()};
	/* already linked: the portal knows the group by its externalId */
	for (size_t i = 0; i < nl; i++)
		for (size_t j = 0; j < np; j++)
			if (pg[j].ext && strcmp(pg[j].ext, lg[i].ext) == 0) {
				out[i].action = "keep";
				out[i].pg = (int)j;
				out[i].match = "linked";
				pg[j].claimed = (int)i;
			}
	if (no_links)
		return;
	/* exact name (case, whitespace and diacritics aside) */
	for (size_t i = 0; i < nl; i++) {
		char *norm = lasync_match_norm(lg[i].name);

		for (size_t j = 0; j < np && out[i].pg < 0; j++)
			if (pg[j].ext == NULL && pg[j].claimed < 0 &&
			    strcmp(pg[j].norm, norm) == 0) {
				out[i] = (proposal){"link", (int)j,
						    "exact_name",
						    out[i].alternatives};
				pg[j].claimed = (int)i;
			}
		free(norm);
	}
	/* the same year level: equal sets first, then contained ones */
	for (int want = 2; want >= 1; want--)
		for (size_t i = 0; i < nl; i++) {
			if (out[i].pg >= 0)
				continue;
			for (size_t j = 0; j < np && out[i].pg < 0; j++)
				if (pg[j].ext == NULL && pg[j].claimed < 0 &&
				    compatible(&lg[i], &pg[j]) &&
				    year_score(lg[i].years, pg[j].years) ==
					    want) {
					out[i].action = "link";
					out[i].pg = (int)j;
					out[i].match = "year_level";
					pg[j].claimed = (int)i;
				}
		}
	/* what else the school could choose: unlinked portal groups of the
	 * same year level or kind */
	for (size_t i = 0; i < nl; i++) {
		if (strcmp(out[i].action, "keep") == 0)
			continue;
		for (size_t j = 0; j < np; j++)
			if (pg[j].ext == NULL && (int)j != out[i].pg &&
			    compatible(&lg[i], &pg[j]) &&
			    year_score(lg[i].years, pg[j].years) > 0)
				json_array_append_new(
					out[i].alternatives,
					json_pack("{s:s,s:s}", "portal_id",
						  pg[j].id, "name",
						  pg[j].name));
	}
}

/* ---- profiles ---- */

enum { K_STUDENT, K_GUARDIAN, K_STAFF, K_N };
static const char *const kind_names[K_N] = {"student", "guardian", "staff"};

static int kind_index(unsigned kind)
{
	return kind == LASYNC_KIND_STUDENT    ? K_STUDENT
	       : kind == LASYNC_KIND_GUARDIAN ? K_GUARDIAN
	       : kind == LASYNC_KIND_STAFF    ? K_STAFF
					      : -1;
}

typedef struct pcounts {
	long linked, disputed, fresh, already;
} pcounts;

/* correlate - R20 on the desired state's users vs the portal's users:
 * counts per kind; the disputed ones are listed on the report */
static void correlate(const lasync_state *st, json_t *users, pcounts *k,
		      json_t *disputed, bool names)
{
	size_t nu = json_array_size(users), n = 0, m = 0;
	lasync_profile *las = lasync_xcalloc(st->n_res + 1, sizeof(*las));
	lasync_profile *portal = lasync_xcalloc(nu + 1, sizeof(*portal));
	const lasync_sres **lr = lasync_xcalloc(st->n_res + 1, sizeof(*lr));
	json_t **pd = lasync_xcalloc(nu + 1, sizeof(*pd));
	json_t *known = json_object();
	int *out, **cands = NULL;

	for (size_t j = 0; j < nu; j++) {
		json_t *u = json_array_get(users, j);
		const char *ext =
			json_string_value(json_object_get(u, "externalId"));

		if (ext != NULL) {
			json_object_set_new(known, ext, json_true());
			continue;
		}
		lasync_profile_from_scim(u, &portal[m]);
		pd[m++] = u;
	}
	for (size_t i = 0; i < st->n_res; i++) {
		const lasync_sres *r = st->res[i];
		int ki;

		if (r->type != LASYNC_RES_USER)
			continue;
		ki = kind_index(lasync_sres_kind(r));
		if (ki < 0)
			continue;
		if (json_object_get(known, r->external_id)) {
			k[ki].already++;
			continue;
		}
		lasync_profile_from_state(r, &las[n]);
		lr[n++] = r;
	}
	out = lasync_xcalloc(n + 1, sizeof(int));
	lasync_match_all(las, n, portal, m, out, &cands);
	for (size_t i = 0; i < n; i++) {
		int ki = kind_index(las[i].kind);

		if (out[i] >= 0) {
			k[ki].linked++;
		} else if (out[i] == LASYNC_MATCH_DISPUTED) {
			json_t *c = json_array();
			char *name = json_text(
				lasync_sres_get(lr[i], LASYNC_A_DISPLAY));

			k[ki].disputed++;
			for (int x = 0; cands[i][x] >= 0; x++) {
				json_t *d = pd[cands[i][x]];

				json_array_append_new(
					c, json_pack("{s:s,s:s?}", "portal_id",
						     json_string_value(json_object_get(
							     d, "id")),
						     "name",
						     names ? json_string_value(
								     json_object_get(
									     d,
									     "displayName"))
							   : NULL));
			}
			json_array_append_new(
				disputed,
				json_pack("{s:s,s:s,s:s?,s:o}", "external_id",
					  lr[i]->external_id, "kind",
					  kind_names[ki], "name",
					  names ? name : NULL, "candidates",
					  c));
			free(name);
		} else {
			k[ki].fresh++;
		}
	}
	for (size_t i = 0; i < n; i++) {
		free(cands[i]);
		lasync_profile_clear(&las[i]);
	}
	for (size_t j = 0; j < m; j++)
		lasync_profile_clear(&portal[j]);
	free(cands);
	free(out);
	free(las);
	free(portal);
	free(lr);
	free(pd);
	json_decref(known);
}

/* ---- plan ---- */

/* summer - 1 July to 1 September: linking carries group-bound data into
 * the new school year (AVG) */
static bool summer(const char *date)
{
	return strncmp(date + 5, "07-01", 5) >= 0 &&
	       strncmp(date + 5, "09-01", 5) <= 0;
}

static const char *years_text(json_t *years, char *buf, size_t len)
{
	size_t i, o = 0;
	json_t *v;

	buf[0] = '\0';
	json_array_foreach(years, i, v)
		o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s",
				      i ? "," : "", json_string_value(v));
	return buf;
}

static const char *match_text(const char *m)
{
	return strcmp(m, "exact_name") == 0   ? "same name"
	       : strcmp(m, "year_level") == 0 ? "same year level"
	       : strcmp(m, "linked") == 0     ? "already linked"
					      : "no portal group";
}

static void report(FILE *f, const lasync_tenant *t, const lasync_state *st,
		   const char *today, bool warn, bool no_links,
		   const lgroup *lg, size_t nl, const pgroup *pg, size_t np,
		   const proposal *pr, const pcounts *k, json_t *disputed,
		   const char *path)
{
	char yb[64];
	size_t left = 0;

	fprintf(f,
		"First-run plan for %s (%s, BRIN %s-%s), %s\n"
		"LAS snapshot: sync %s, generation %lld\n\n",
		t->tenant_id, lasync_vendor_name(t->vendor), t->brin,
		t->dependance, today, st->sync_id ? st->sync_id : "-",
		(long long)st->generation);
	if (warn)
		fprintf(f,
			"WARNING (AVG): between 1 July and 1 September, "
			"linking a portal group carries its group-bound data "
			"(news, photos, calendar) into the new school year.  "
			"Plan with --no-group-links to start with new "
			"groups.\n\n");
	if (no_links)
		fprintf(f, "Group links: none (--no-group-links): every LAS "
			   "group is created new.\n\n");
	fprintf(f, "LAS groups (%zu) -> proposed portal group\n", nl);
	for (size_t i = 0; i < nl; i++) {
		fprintf(f, "  %-28s %-12s [%s]  ", lg[i].name, lg[i].kind,
			years_text(lg[i].years, yb, sizeof(yb)));
		if (pr[i].pg >= 0)
			fprintf(f, "%s -> \"%s\" (%s)\n",
				strcmp(pr[i].action, "keep") == 0 ? "keep"
								  : "link",
				pg[pr[i].pg].name, match_text(pr[i].match));
		else
			fprintf(f, "create\n");
		size_t j;
		json_t *a;

		json_array_foreach(pr[i].alternatives, j, a)
			fprintf(f, "  %-28s   or link \"%s\" (%s)\n", "",
				json_string_value(json_object_get(a, "name")),
				json_string_value(
					json_object_get(a, "portal_id")));
	}
	for (size_t j = 0; j < np; j++)
		left += pg[j].ext == NULL && pg[j].claimed < 0;
	fprintf(f, "\nPortal groups without a LAS group (%zu): they keep "
		   "their data; once empty, `lasyncctl groups orphaned` lists "
		   "them\n", left);
	for (size_t j = 0; j < np; j++)
		if (pg[j].ext == NULL && pg[j].claimed < 0)
			fprintf(f, "  %-28s %s, %zu members\n", pg[j].name,
				pg[j].id, pg[j].members);
	fprintf(f, "\nProfiles (R20)   linked  disputed  new  already "
		   "linked\n");
	for (int i = 0; i < K_N; i++)
		fprintf(f, "  %-14s %6ld %9ld %4ld %15ld\n", kind_names[i],
			k[i].linked, k[i].disputed, k[i].fresh, k[i].already);
	if (t->settings.new_profiles &&
	    strcmp(t->settings.new_profiles, "review") == 0)
		fprintf(f, "  new_profiles=review: new profiles wait in the "
			   "link queue too\n");
	if (json_array_size(disputed) > 0) {
		size_t i;
		json_t *d;

		fprintf(f, "\nDisputed profiles go to the link queue (\"Niet "
			   "gekoppelde profielen\") at the first sync:\n");
		json_array_foreach(disputed, i, d) {
			json_t *cand = json_object_get(d, "candidates");
			size_t j;
			json_t *x;

			fprintf(f, "  %s %s (%s):",
				json_string_value(json_object_get(d, "kind")),
				json_string_value(
					json_object_get(d, "external_id")),
				json_string_value(json_object_get(d, "name")));
			json_array_foreach(cand, j, x)
				fprintf(f, "%s %s (%s)", j ? "," : "",
					json_string_value(
						json_object_get(x, "name")),
					json_string_value(
						json_object_get(x, "portal_id")));
			fputc('\n', f);
		}
		fprintf(f, "  work the queue with `lasyncctl links list|"
			   "resolve %s`\n", t->tenant_id);
	}
	if (path != NULL)
		fprintf(f,
			"\nPlan written to %s.  Edit a group's \"action\" "
			"(\"link\" with a \"portal_id\", or \"create\"), then:\n"
			"  lasyncctl first-run apply %s %s\n",
			path, t->tenant_id, path);
}

/* plan_json - the editable plan */
static json_t *plan_json(const lasync_tenant *t, const lasync_state *st,
			 const char *today, bool warn, bool no_links,
			 const lgroup *lg, size_t nl, const pgroup *pg,
			 const proposal *pr, const pcounts *k)
{
	json_t *groups = json_array(), *profiles = json_object();
	json_t *seen = json_object(), *warnings = json_array();

	for (size_t i = 0; i < nl; i++) {
		json_t *g = json_pack(
			"{s:s,s:s,s:s,s:O,s:s}", "external_id", lg[i].ext,
			"name", lg[i].name, "kind", lg[i].kind, "year_levels",
			lg[i].years, "action", pr[i].action);

		if (pr[i].pg >= 0) {
			json_object_set_new(g, "portal_id",
					    json_string(pg[pr[i].pg].id));
			json_object_set_new(g, "portal_name",
					    json_string(pg[pr[i].pg].name));
		}
		json_object_set_new(g, "match", json_string(pr[i].match));
		json_object_set(g, "alternatives", pr[i].alternatives);
		json_array_append_new(groups, g);
	}
	for (int i = 0; i < K_N; i++)
		json_object_set_new(profiles, kind_names[i],
				    json_pack("{s:I,s:I,s:I,s:I}", "linked",
					      (json_int_t)k[i].linked,
					      "disputed",
					      (json_int_t)k[i].disputed, "new",
					      (json_int_t)k[i].fresh,
					      "already_linked",
					      (json_int_t)k[i].already));
	for (size_t i = 0; i < st->n_res; i++) {
		char d[LASYNC_ID_LEN];

		if (st->res[i]->type != LASYNC_RES_USER)
			continue;
		profile_digest(st->res[i], d);
		json_object_set_new(seen, st->res[i]->external_id,
				    json_string(d));
	}
	if (warn)
		json_array_append_new(warnings, json_string("avg_summer"));
	return json_pack("{s:i,s:s,s:s,s:s,s:{s:s,s:I,s:o},s:b,s:o,s:o,s:o}",
			 "plan_version", PLAN_VERSION, "tenant",
			 t->tenant_id, "vendor", lasync_vendor_name(t->vendor),
			 "planned_on", today, "las", "sync_id",
			 st->sync_id ? st->sync_id : "", "generation",
			 (json_int_t)st->generation, "profiles", seen,
			 "no_group_links", no_links, "warnings", warnings,
			 "groups", groups, "profile_outcome", profiles);
}

static void usage_plan(void)
{
	fprintf(stderr,
		"usage: lasyncctl first-run plan <tenant> [--out plan.json] "
		"[--report file] [--no-group-links] [--date YYYY-MM-DD]\n"
		"       lasyncctl first-run apply <tenant> <plan.json> "
		"[--wait S] [--as-of YYYY-MM-DD]\n");
}

static lasync_tenant *pending_tenant(lasync_tenants *tt, const char *id)
{
	lasync_tenant *t = lasync_tenants_get(tt, id);

	if (t == NULL)
		ctl_die("no tenant %s", id);
	return t;
}

static int cmd_plan(ctl *c, int argc, char **argv)
{
	const char *tenant = NULL, *out_path = NULL, *rep_path = NULL;
	char today[11], *def_path = NULL;
	bool no_links = false;

	lasync_date_amsterdam(lasync_now_ms(), today);
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out_path = argv[++i];
		else if (strcmp(argv[i], "--report") == 0 && i + 1 < argc)
			rep_path = argv[++i];
		else if (strcmp(argv[i], "--no-group-links") == 0)
			no_links = true;
		else if (strcmp(argv[i], "--date") == 0 && i + 1 < argc &&
			 lasync_date_valid(argv[i + 1]))
			snprintf(today, sizeof(today), "%s", argv[++i]);
		else if (argv[i][0] != '-' && tenant == NULL)
			tenant = argv[i];
		else {
			usage_plan();
			return 2;
		}
	}
	if (tenant == NULL) {
		usage_plan();
		return 2;
	}
	if (out_path == NULL)
		out_path = def_path =
			lasync_xasprintf("first-run-%s.json", tenant);

	lasync_tenants *tt = ctl_tenants(c);
	lasync_tenant *t = pending_tenant(tt, tenant);

	if (t->state != LASYNC_TENANT_FIRST_RUN_PENDING)
		ctl_die("tenant %s is active: first-run is over (R20 keeps "
			"linking profiles on every sync; see `lasyncctl links "
			"list %s`)",
			tenant, tenant);
	lasync_state *st = load_state(c, tenant);
	char *auth = ctl_portal_auth(t);
	json_t *pgl = ctl_portal_list(t, auth, "Groups");
	json_t *users = ctl_portal_list(t, auth, "Users");
	size_t nl, np;
	lgroup *lg = las_groups(st, &nl);
	pgroup *pg = portal_groups(pgl, &np);
	proposal *pr = lasync_xcalloc(nl + 1, sizeof(*pr));
	pcounts k[K_N];
	json_t *disputed = json_array();
	bool warn = summer(today);

	lasync_secret_free(auth);
	memset(k, 0, sizeof(k));
	propose(lg, nl, pg, np, pr, no_links);
	correlate(st, users, k, disputed, true);

	json_t *plan = plan_json(t, st, today, warn, no_links, lg, nl, pg, pr,
				 k);

	if (json_dump_file(plan, out_path, JSON_INDENT(2)) != 0)
		ctl_die("cannot write the plan to %s", out_path);
	report(stdout, t, st, today, warn, no_links, lg, nl, pg, np, pr, k,
	       disputed, out_path);
	if (rep_path != NULL) {
		FILE *f = fopen(rep_path, "w");

		if (f == NULL)
			ctl_die("cannot write the report to %s", rep_path);
		report(f, t, st, today, warn, no_links, lg, nl, pg, np, pr, k,
		       disputed, out_path);
		fclose(f);
	}
	for (size_t i = 0; i < nl; i++)
		json_decref(pr[i].alternatives);
	free(pr);
	json_decref(plan);
	json_decref(disputed);
	lgroups_free(lg, nl);
	pgroups_free(pg, np);
	json_decref(pgl);
	json_decref(users);
	lasync_state_free(st);
	lasync_tenants_free(tt);
	free(def_path);
	return 0;
}

/* ---- apply ---- */

typedef struct problems {
	json_t *lines;		/* array of strings */
} problems;

static void problem(problems *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void problem(problems *p, const char *fmt, ...)
{
	va_list ap;
	char buf[1024];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(p->lines, json_string(buf));
}

static void fail(problems *p, const char *head, const char *tail)
{
	size_t i;
	json_t *v;

	fprintf(stderr, "lasyncctl: %s\n", head);
	json_array_foreach(p->lines, i, v)
		fprintf(stderr, "  - %s\n", json_string_value(v));
	fprintf(stderr, "%s\n", tail);
	exit(1);
}

/* stale - what changed in the LAS between the plan and now */
static void stale(json_t *plan, const lasync_state *st, const lgroup *lg,
		  size_t nl, problems *p)
{
	json_t *pgs = json_object_get(plan, "groups");
	json_t *seen = json_object_get(json_object_get(plan, "las"),
				       "profiles");
	json_t *byext = json_object();
	size_t i;
	json_t *g;
	long added = 0, removed = 0, changed = 0;
	char ex_added[256] = "", ex_removed[256] = "", ex_changed[256] = "";

	json_array_foreach(pgs, i, g) {
		const char *ext = json_string_value(
			json_object_get(g, "external_id"));

		if (ext != NULL)
			json_object_set(byext, ext, g);
	}
	for (size_t j = 0; j < nl; j++) {
		json_t *was = json_object_get(byext, lg[j].ext);
		const char *name =
			json_string_value(json_object_get(was, "name"));

		if (was == NULL) {
			problem(p, "LAS group \"%s\" (%s) is new", lg[j].name,
				lg[j].ext);
			continue;
		}
		if (name == NULL || strcmp(name, lg[j].name) != 0)
			problem(p, "LAS group %s was renamed: \"%s\" -> \"%s\"",
				lg[j].ext, name ? name : "", lg[j].name);
		if (!json_equal(json_object_get(was, "year_levels"),
				lg[j].years)) {
			char a[64], b[64];

			problem(p,
				"LAS group \"%s\" changed year levels: [%s] "
				"-> [%s]",
				lg[j].name,
				years_text(json_object_get(was, "year_levels"),
					   a, sizeof(a)),
				years_text(lg[j].years, b, sizeof(b)));
		}
		json_object_del(byext, lg[j].ext);
	}
	const char *ext;
	json_t *was;

	json_object_foreach(byext, ext, was)
		problem(p, "LAS group \"%s\" (%s) is gone",
			json_string_value(json_object_get(was, "name")), ext);
	json_decref(byext);
	/* profiles: by id and a digest of their values */
	json_t *now = json_object();

	for (size_t j = 0; j < st->n_res; j++) {
		char d[LASYNC_ID_LEN];
		const lasync_sres *r = st->res[j];
		const char *before;

		if (r->type != LASYNC_RES_USER)
			continue;
		json_object_set_new(now, r->external_id, json_true());
		profile_digest(r, d);
		before = json_string_value(json_object_get(seen,
							   r->external_id));
		if (before == NULL) {
			if (added++ < 3)
				snprintf(ex_added + strlen(ex_added),
					 sizeof(ex_added) - strlen(ex_added),
					 " %s", r->external_id);
		} else if (strcmp(before, d) != 0 && changed++ < 3) {
			snprintf(ex_changed + strlen(ex_changed),
				 sizeof(ex_changed) - strlen(ex_changed),
				 " %s", r->external_id);
		}
	}
	json_object_foreach(seen, ext, was)
		if (json_object_get(now, ext) == NULL && removed++ < 3)
			snprintf(ex_removed + strlen(ex_removed),
				 sizeof(ex_removed) - strlen(ex_removed), " %s",
				 ext);
	json_decref(now);
	if (added)
		problem(p, "%ld LAS profile(s) added:%s%s", added, ex_added,
			added > 3 ? " ..." : "");
	if (removed)
		problem(p, "%ld LAS profile(s) removed:%s%s", removed,
			ex_removed, removed > 3 ? " ..." : "");
	if (changed)
		problem(p, "%ld LAS profile(s) changed:%s%s", changed,
			ex_changed, changed > 3 ? " ..." : "");
}

/* check_links - the plan's choices against the portal as it is now;
 * fills links (external_id -> portal_id) */
static void check_links(json_t *plan, const pgroup *pg, size_t np,
			json_t *links, problems *p)
{
	json_t *used = json_object();
	size_t i;
	json_t *g;

	json_array_foreach(json_object_get(plan, "groups"), i, g) {
		const char *ext = json_string_value(
			json_object_get(g, "external_id"));
		const char *act =
			json_string_value(json_object_get(g, "action"));
		const char *pid =
			json_string_value(json_object_get(g, "portal_id"));
		const char *name =
			json_string_value(json_object_get(g, "name"));
		const pgroup *hit = NULL;

		if (ext == NULL || name == NULL) {
			problem(p, "groups[%zu] has no external_id or name", i);
			continue;
		}
		if (act == NULL ||
		    (strcmp(act, "link") != 0 && strcmp(act, "create") != 0 &&
		     strcmp(act, "keep") != 0)) {
			problem(p,
				"group \"%s\": action must be \"link\", "
				"\"create\" or \"keep\"",
				name);
			continue;
		}
		if (strcmp(act, "create") == 0)
			continue;
		if (pid == NULL) {
			problem(p, "group \"%s\": action %s needs a portal_id",
				name, act);
			continue;
		}
		for (size_t j = 0; j < np && hit == NULL; j++)
			if (strcmp(pg[j].id, pid) == 0)
				hit = &pg[j];
		if (hit == NULL) {
			const char *was = json_string_value(
				json_object_get(g, "portal_name"));

			if (was != NULL)
				problem(p,
					"group \"%s\": portal group \"%s\" "
					"(%s) does not exist (any more)",
					name, was, pid);
			else
				problem(p,
					"group \"%s\": portal group %s does "
					"not exist (any more)",
					name, pid);
			continue;
		}
		if (hit->ext != NULL && strcmp(hit->ext, ext) != 0) {
			problem(p,
				"group \"%s\": portal group \"%s\" (%s) is "
				"already linked to %s",
				name, hit->name, pid, hit->ext);
			continue;
		}
		const char *other =
			json_string_value(json_object_get(used, pid));

		if (other != NULL) {
			problem(p,
				"portal group \"%s\" (%s) is chosen for both "
				"\"%s\" and \"%s\"",
				hit->name, pid, other, name);
			continue;
		}
		json_object_set_new(used, pid, json_string(name));
		if (strcmp(act, "link") == 0)
			json_object_set_new(links, ext, json_string(pid));
	}
	json_decref(used);
}

/* activated - a copy of t, active, with the plan's group links */
static lasync_tenant *activated(const lasync_tenant *t, json_t *links)
{
	char err[256];
	size_t len, i = 0;
	uint8_t *wire = lasync_tenant_encode(t, &len);
	lasync_tenant *n = lasync_tenant_decode(wire, len, err, sizeof(err));
	const char *ext;
	json_t *pid;

	free(wire);
	if (n == NULL)
		ctl_die("tenant %s: %s", t->tenant_id, err);
	for (size_t j = 0; j < n->n_group_links; j++) {
		free(n->group_links[j].external_id);
		free(n->group_links[j].portal_id);
	}
	free(n->group_links);
	n->n_group_links = json_object_size(links);
	n->group_links = lasync_xcalloc(n->n_group_links + 1,
					sizeof(*n->group_links));
	json_object_foreach(links, ext, pid) {
		n->group_links[i].external_id = lasync_xstrdup(ext);
		n->group_links[i].portal_id =
			lasync_xstrdup(json_string_value(pid));
		i++;
	}
	n->state = LASYNC_TENANT_ACTIVE;
	n->revision = ctl_next_revision(t);
	return n;
}

static int cmd_apply(ctl *c, int argc, char **argv)
{
	const char *tenant = NULL, *path = NULL, *as_of = NULL;
	long wait = 0;
	json_error_t je;
	char today[11];

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc)
			wait = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--as-of") == 0 && i + 1 < argc &&
			 lasync_date_valid(argv[i + 1]))
			as_of = argv[++i];
		else if (argv[i][0] != '-' && tenant == NULL)
			tenant = argv[i];
		else if (argv[i][0] != '-' && path == NULL)
			path = argv[i];
		else {
			usage_plan();
			return 2;
		}
	}
	if (tenant == NULL || path == NULL) {
		usage_plan();
		return 2;
	}
	json_t *plan = json_load_file(path, 0, &je);

	if (plan == NULL)
		ctl_die("%s:%d: not a plan: %s", path, je.line, je.text);
	if (json_integer_value(json_object_get(plan, "plan_version")) !=
		    PLAN_VERSION ||
	    !json_is_array(json_object_get(plan, "groups")))
		ctl_die("%s: not a first-run plan (plan_version %d with "
			"groups)",
			path, PLAN_VERSION);
	const char *pt = json_string_value(json_object_get(plan, "tenant"));

	if (pt == NULL || strcmp(pt, tenant) != 0)
		ctl_die("%s is the plan of tenant %s, not %s", path,
			pt ? pt : "?", tenant);

	lasync_tenants *tt = ctl_tenants(c);
	lasync_tenant *t = pending_tenant(tt, tenant);

	if (t->state != LASYNC_TENANT_FIRST_RUN_PENDING)
		ctl_die("tenant %s is already active: a first-run plan applies "
			"only once",
			tenant);
	lasync_state *st = load_state(c, tenant);
	size_t nl, np;
	lgroup *lg = las_groups(st, &nl);
	problems p = {json_array()};

	stale(plan, st, lg, nl, &p);
	if (json_array_size(p.lines) > 0) {
		char head[512];

		snprintf(head, sizeof(head),
			 "refused: the plan is stale, the LAS changed since it "
			 "was made (sync %s -> %s):",
			 json_string_value(json_object_get(
				 json_object_get(plan, "las"), "sync_id")),
			 st->sync_id ? st->sync_id : "-");
		char tail[256];

		snprintf(tail, sizeof(tail),
			 "Make a new plan: lasyncctl first-run plan %s",
			 tenant);
		fail(&p, head, tail);
	}
	char *auth = ctl_portal_auth(t);
	json_t *pgl = ctl_portal_list(t, auth, "Groups");
	pgroup *pg = portal_groups(pgl, &np);
	json_t *links = json_object();

	lasync_secret_free(auth);
	check_links(plan, pg, np, links, &p);
	if (json_array_size(p.lines) > 0)
		fail(&p, "refused: the plan does not fit the portal:",
		     "Edit the plan, or make a new one with `lasyncctl "
		     "first-run plan`.");
	lasync_date_amsterdam(lasync_now_ms(), today);
	if (json_object_size(links) > 0 && summer(today))
		fprintf(stderr,
			"lasyncctl: note (AVG): linked groups take their "
			"group-bound data into the new school year\n");

	lasync_tenant *n = activated(t, links);
	size_t wlen;
	uint8_t *wire = lasync_tenant_encode(n, &wlen);
	char topic[256];

	ctl_topic(c, topic, sizeof(topic), LASYNC_T_TENANTS, NULL);
	if (ctl_produce(c, topic, n->tenant_id, wire, wlen) != 0)
		ctl_die("tenant %s not written: nothing changed", tenant);
	free(wire);
	printf("first-run applied for %s: %zu group(s) linked, %zu created; "
	       "tenant active\n",
	       tenant, json_object_size(links),
	       nl - json_object_size(links));

	ctl_sync_opts o = {
		.full = true, .wait = wait, .as_of = as_of, .reason = "first-run"};
	int rc = ctl_request_sync(c, n, &o);

	if (rc == 0 && wait <= 0)
		printf("first sync requested: follow it with `lasyncctl "
		       "status`\n");
	lasync_tenant_free(n);
	json_decref(links);
	json_decref(p.lines);
	pgroups_free(pg, np);
	json_decref(pgl);
	lgroups_free(lg, nl);
	lasync_state_free(st);
	lasync_tenants_free(tt);
	json_decref(plan);
	return rc;
}

int ctl_firstrun(ctl *c, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "plan") == 0)
		return cmd_plan(c, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "apply") == 0)
		return cmd_apply(c, argc - 1, argv + 1);
	usage_plan();
	return 2;
}
