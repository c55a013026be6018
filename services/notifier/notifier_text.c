/*
 * notifier_text.c - what the notifier's e-mails say, in Dutch (R21, R17).
 *
 * Each message is written once as a sequence of blocks (paragraphs, lists,
 * old -> new rows) and rendered twice: as plain text and as HTML.  Block
 * text is plain text - code-written wording plus values a parent typed -
 * so the HTML rendering escapes all of it; nothing a parent sends can add
 * markup.  The wording follows the school-facing support page ("je",
 * ParnasSys/ESIS is leidend, the next sync shows it in Ouderportaal).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lasync_mem.h"
#include "notifier.h"

typedef struct doc {
	FILE *t, *h;
	char *tb, *hb;
	size_t tl, hl;
} doc;

static void doc_open(doc *d, const char *title)
{
	char *et = notifier_mail_html_escape(title);

	memset(d, 0, sizeof(*d));
	d->t = open_memstream(&d->tb, &d->tl);
	d->h = open_memstream(&d->hb, &d->hl);
	if (d->t == NULL || d->h == NULL)
		lasync_panic_oom();
	fprintf(d->h,
		"<!DOCTYPE html>\n<html lang=\"nl\">\n<head>\n"
		"<meta charset=\"utf-8\">\n<title>%s</title>\n</head>\n"
		"<body style=\"font-family: Arial, sans-serif; font-size: "
		"14px;\">\n",
		et);
	free(et);
}

/* doc_p - a paragraph of plain text (formatted, then escaped for HTML) */
static void doc_p(doc *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void doc_p(doc *d, const char *fmt, ...)
{
	va_list ap;
	char *s, *e;

	va_start(ap, fmt);
	s = lasync_xvasprintf(fmt, ap);
	va_end(ap);
	e = notifier_mail_html_escape(s);
	fprintf(d->t, "%s\n\n", s);
	fprintf(d->h, "<p>%s</p>\n", e);
	free(e);
	free(s);
}

static void doc_list(doc *d, char *const *items, size_t n)
{
	fputs("<ul>\n", d->h);
	for (size_t i = 0; i < n; i++) {
		char *e = notifier_mail_html_escape(items[i]);

		fprintf(d->t, "  - %s\n", items[i]);
		fprintf(d->h, "<li>%s</li>\n", e);
		free(e);
	}
	fputs("</ul>\n", d->h);
	fputs("\n", d->t);
}

/* doc_changes - "label: old -> new" rows; an empty value reads "(leeg)" */
static void doc_changes(doc *d, const Lasync__V1__ParentSuggestion *s)
{
	fputs("<table style=\"border-collapse: collapse;\">\n"
	      "<tr><th align=\"left\">Gegeven</th><th align=\"left\">Was</th>"
	      "<th></th><th align=\"left\">Wordt</th></tr>\n",
	      d->h);
	for (size_t i = 0; i < s->n_fields; i++) {
		const Lasync__V1__SuggestionField *f = s->fields[i];
		const notifier_field *def = notifier_field_find(f->field);
		const char *label = def ? def->label : f->field;
		const char *o = f->old_value[0] ? f->old_value : "(leeg)";
		const char *n = f->new_value[0] ? f->new_value : "(leeg)";
		char *el = notifier_mail_html_escape(label);
		char *eo = notifier_mail_html_escape(o);
		char *en = notifier_mail_html_escape(n);

		fprintf(d->t, "  %s: %s \xe2\x86\x92 %s\n", label, o, n);
		fprintf(d->h,
			"<tr><td style=\"padding: 2px 12px 2px 0;\">%s</td>"
			"<td style=\"padding: 2px 12px 2px 0;\">%s</td>"
			"<td style=\"padding: 2px 12px 2px 0;\">&rarr;</td>"
			"<td style=\"padding: 2px 0;\"><strong>%s</strong>"
			"</td></tr>\n",
			el, eo, en);
		free(el);
		free(eo);
		free(en);
	}
	fputs("</table>\n", d->h);
	fputs("\n", d->t);
}

static void doc_close(doc *d, notifier_content *out, char *subject)
{
	fputs("</body>\n</html>\n", d->h);
	fclose(d->t);
	fclose(d->h);
	out->subject = subject;
	out->text = d->tb;
	out->html = d->hb;
}

void notifier_content_free(notifier_content *c)
{
	if (c == NULL)
		return;
	free(c->subject);
	free(c->text);
	free(c->html);
	memset(c, 0, sizeof(*c));
}

/* add_label - append label to the ", "-separated list *l (malloc'd) */
static void add_label(char **l, const char *label)
{
	char *prev = *l;

	*l = lasync_xasprintf("%s%s%s", prev ? prev : "", prev ? ", " : "",
			      label);
	free(prev);
}

static const char *vendor_name(int vendor)
{
	switch (vendor) {
	case LASYNC__V1__VENDOR__VENDOR_PARNASSYS:
		return "ParnasSys";
	case LASYNC__V1__VENDOR__VENDOR_ESIS:
		return "ESIS";
	default:
		return "het LAS";
	}
}

/* when - "29-11-2026 om 09:20" in Amsterdam time (the daemon set TZ) */
static void when(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%d-%m-%Y om %H:%M", &tm);
}

static void day(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%d-%m-%Y", &tm);
}

/* --- R21: a parent's suggestion -------------------------------------- */

void notifier_text_suggestion(const Lasync__V1__ParentSuggestion *s,
			      int vendor, notifier_content *out)
{
	const char *las = vendor_name(vendor);
	char at[64], *subject, *portal_only = NULL, **kids;
	size_t n_portal = 0;
	doc d;

	when(s->submitted_at_ms, at, sizeof(at));
	if (s->n_children == 0)
		subject = lasync_xstrdup(
			"Wijziging doorgegeven door een ouder/verzorger");
	else if (s->n_children == 1)
		subject = lasync_xasprintf(
			"Wijziging doorgegeven door ouder/verzorger van %s",
			s->children[0]->display_name);
	else if (s->n_children == 2)
		subject = lasync_xasprintf(
			"Wijziging doorgegeven door ouder/verzorger van %s en %s",
			s->children[0]->display_name,
			s->children[1]->display_name);
	else
		subject = lasync_xasprintf(
			"Wijziging doorgegeven door ouder/verzorger van %s en "
			"%zu andere kinderen",
			s->children[0]->display_name, s->n_children - 1);

	doc_open(&d, subject);
	doc_p(&d, "Beste collega,");
	doc_p(&d,
	      "Een ouder/verzorger heeft op %s in Ouderportaal de volgende "
	      "gegevens gewijzigd:",
	      at);
	doc_changes(&d, s);
	if (s->n_children > 0) {
		kids = lasync_xcalloc(s->n_children, sizeof(*kids));
		for (size_t i = 0; i < s->n_children; i++)
			kids[i] = s->children[i]->display_name;
		doc_p(&d, "Het gaat om de ouder/verzorger van:");
		doc_list(&d, kids, s->n_children);
		free(kids);
	}
	for (size_t i = 0; i < s->n_fields; i++) {
		const notifier_field *f = notifier_field_find(s->fields[i]->field);

		if (f == NULL || notifier_field_owned(f, vendor))
			continue;
		add_label(&portal_only, f->label);
		n_portal++;
	}
	if (n_portal < s->n_fields) {
		doc_p(&d,
		      "%s is leidend: wat een ouder in Ouderportaal wijzigt, "
		      "wordt bij de volgende synchronisatie weer vervangen door "
		      "wat in %s staat. Pas de gegevens daarom aan in %s. Na de "
		      "eerstvolgende synchronisatie zijn de nieuwe gegevens "
		      "zichtbaar in Ouderportaal.",
		      las, las, las);
		doc_p(&d, "Twijfel je of de wijziging klopt? Neem dan eerst "
			  "contact op met de ouder/verzorger.");
	}
	if (n_portal > 0)
		doc_p(&d,
		      "%s: dit gegeven komt niet uit %s. De wijziging staat al "
		      "in Ouderportaal en vraagt geen actie.",
		      portal_only, las);
	doc_p(&d,
	      "Je ontvangt dit bericht omdat je de %s-koppeling beheert of "
	      "het recht \"Melding ouder-/kindgegevens\" hebt. Kenmerk: %s.",
	      las, s->suggestion_id);
	free(portal_only);
	doc_close(&d, out, subject);
}

/* --- R17: a held sync ------------------------------------------------ */

/* number_after - the decimal number right after the first occurrence of
 * word in s, or -1 */
static long number_after(const char *s, const char *word)
{
	const char *p = strstr(s, word);
	long v = 0;
	int nd = 0;

	if (p == NULL)
		return -1;
	for (p += strlen(word); *p >= '0' && *p <= '9' && nd < 9; p++, nd++)
		v = v * 10 + (*p - '0');
	return nd ? v : -1;
}

void notifier_held_counts(const Lasync__V1__SyncResult *r, unsigned *n,
			  unsigned *m)
{
	/* The mapper's guard writes "would deactivate N of M active
	 * profiles ..." as the reason. */
	long vn = number_after(r->reason, "deactivate ");
	const char *of = strstr(r->reason, "deactivate ");
	long vm = of ? number_after(of, " of ") : -1;

	*n = vn >= 0 ? (unsigned)vn
		     : (r->counts ? r->counts->users_deactivated : 0);
	*m = vm >= 0 ? (unsigned)vm : 0;
}

void notifier_text_held(const Lasync__V1__SyncResult *r, int vendor,
			notifier_content *out)
{
	const char *las = vendor_name(vendor);
	char at[64], *subject, *items[2];
	unsigned n, m;
	doc d;

	notifier_held_counts(r, &n, &m);
	when(r->finished_at_ms ? r->finished_at_ms : r->header->produced_at_ms,
	     at, sizeof(at));
	subject = lasync_xasprintf("Synchronisatie met %s tegengehouden: "
				   "niets aangepast in Ouderportaal",
				   las);
	doc_open(&d, subject);
	doc_p(&d, "Beste koppelingsbeheerder,");
	if (m > 0)
		doc_p(&d,
		      "De synchronisatie met %s van %s is tegengehouden. Ze zou "
		      "%u van de %u actieve profielen in Ouderportaal "
		      "deactiveren (leerlingen, ouders/verzorgers en "
		      "medewerkers die uit %s komen). Dat is meer dan de "
		      "veiligheidsgrens, daarom is er niets aangepast in "
		      "Ouderportaal.",
		      las, at, n, m, las);
	else
		doc_p(&d,
		      "De synchronisatie met %s van %s is tegengehouden. Ze zou "
		      "%u profielen in Ouderportaal deactiveren. Dat is meer "
		      "dan de veiligheidsgrens, daarom is er niets aangepast in "
		      "Ouderportaal.",
		      las, at, n);
	doc_p(&d,
	      "Meestal is er dan iets misgegaan in %s, bijvoorbeeld een "
	      "onvolledige export of leerlingen die per ongeluk zijn "
	      "uitgeschreven. Soms klopt het wel, bijvoorbeeld bij de "
	      "jaarovergang als groep 8 vertrekt.",
	      las);
	doc_p(&d, "Wat nu?");
	items[0] = lasync_xasprintf(
		"Klopt het niet? Controleer en herstel de gegevens in %s. De "
		"volgende synchronisatie vervangt dan deze tegengehouden "
		"synchronisatie.",
		las);
	items[1] = lasync_xstrdup(
		"Klopt het wel? Neem contact op met support en noem het "
		"kenmerk hieronder. Na je bevestiging geven wij de "
		"synchronisatie vrij.");
	doc_list(&d, items, 2);
	free(items[0]);
	free(items[1]);
	doc_p(&d, "Tot die tijd blijft Ouderportaal zoals het was. Kenmerk: "
		  "%s.",
	      r->header->sync_id);
	doc_close(&d, out, subject);
}

/* --- the weekly reminder --------------------------------------------- */

void notifier_text_reminder(const nstatus *const *open, size_t n,
			    int vendor, notifier_content *out)
{
	const char *las = vendor_name(vendor);
	char *subject, **items = lasync_xcalloc(n + 1, sizeof(*items));
	doc d;

	subject = lasync_xasprintf(
		"Herinnering: %zu %s van ouders nog niet verwerkt in %s", n,
		n == 1 ? "wijziging" : "wijzigingen", las);
	doc_open(&d, subject);
	doc_p(&d, "Beste collega,");
	doc_p(&d,
	      "Deze wijzigingen die ouders/verzorgers in Ouderportaal hebben "
	      "doorgegeven, staan na een week nog niet in %s:",
	      las);
	for (size_t i = 0; i < n; i++) {
		char on[16], *labels = NULL;

		day(open[i]->submitted_at_ms ? open[i]->submitted_at_ms
					     : open[i]->received_at_ms,
		    on, sizeof(on));
		for (size_t j = 0; j < open[i]->n_fields; j++) {
			const notifier_field *f =
				notifier_field_find(open[i]->fields[j]->field);

			if (f != NULL && open[i]->fields[j]->owned &&
			    !open[i]->fields[j]->matched)
				add_label(&labels, f->label);
		}
		items[i] = lasync_xasprintf("doorgegeven op %s: %s (kenmerk %s)",
					    on, labels ? labels : "-",
					    open[i]->ref);
		free(labels);
	}
	doc_list(&d, items, n);
	doc_p(&d,
	      "Over elke wijziging heb je eerder een e-mail ontvangen met de "
	      "details. Pas de gegevens aan in %s; na de eerstvolgende "
	      "synchronisatie zijn ze zichtbaar in Ouderportaal en staan ze "
	      "niet meer in deze herinnering.",
	      las);
	doc_p(&d, "Je ontvangt deze herinnering één keer per week zolang er "
		  "wijzigingen openstaan.");
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
	doc_close(&d, out, subject);
}
