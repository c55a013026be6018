/*
 * ctl_dlq.c - dead letters: list, show, replay (DESIGN §2).
 *
 *   lasyncctl dlq list   [--tenant T] [--since WHEN] [--topic SUBSTR]
 *   lasyncctl dlq show   <dlq-topic> <partition> <offset>
 *   lasyncctl dlq replay [--tenant T] [--since WHEN] [--topic SUBSTR]
 *                        [--dry-run] [--again] [--force] [--max-replays N]
 *
 * Every "<prefix>.*.dlq" topic is read from the beginning.  A replay
 * republishes the original message to its origin topic, keyed as before,
 * with the header lasync.replays = previous replays + 1 (the job engine
 * copies it into the next dead letter, so a letter that keeps dying is
 * refused after --max-replays unless --force).  Only once the broker has
 * acknowledged the republish is the letter recorded as replayed (the
 * compacted "<prefix>.dlq-replays" topic, keyed "<topic>:<partition>:
 * <offset>"); a replayed letter is skipped by later replays unless --again.
 * A dead-lettered change set that has since been superseded (the tenant's
 * applied generation is newer) is not re-sent: its replay requests a fresh
 * full sync of the tenant instead.
 *
 * WHEN is an ISO date (2026-11-29, UTC), an ISO time (2026-11-29T08:00:00Z,
 * or with its offset: 2026-11-29T09:00:00+01:00), or a duration back from
 * now (90m, 6h, 2d).  Output carries ids, classes and
 * counts only; payloads (which may hold personal data) are summarised.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "lasync/v1/ops.pb-c.h"
#include "lasync/v1/sync.pb-c.h"
#include "lasync_clock.h"
#include "lasync_config.h"
#include "lasync_mem.h"
#include "lasync_redis.h"

typedef struct letter {
	char *topic;		/* the dead-letter topic */
	int32_t partition;
	int64_t offset;
	int64_t ts_ms;
	Lasync__V1__DeadLetter *dl; /* NULL: undecodable */
	bool replayed;
	char key[128];
} letter;

typedef struct letters {
	letter *v;
	size_t n, cap;
	json_t *replayed;	/* "<topic>:<p>:<o>" -> how */
	const char *reading;	/* topic being read */
} letters;

typedef struct filter {
	const char *tenant, *topic;
	int64_t since_ms;
	bool dry_run, again, force;
	long max_replays;
} filter;

static void take_letter(void *ctx, const rd_kafka_message_t *m)
{
	letters *ls = ctx;
	rd_kafka_timestamp_type_t tt;
	letter l = {0};

	l.topic = lasync_xstrdup(ls->reading);
	l.partition = m->partition;
	l.offset = m->offset;
	l.ts_ms = rd_kafka_message_timestamp(m, &tt);
	l.dl = lasync__v1__dead_letter__unpack(NULL, m->len, m->payload);
	if (m->key != NULL) {
		size_t n = m->key_len < sizeof(l.key) - 1 ? m->key_len
							  : sizeof(l.key) - 1;

		memcpy(l.key, m->key, n);
		l.key[n] = '\0';
	}
	lasync_grow(&ls->v, &ls->cap, ls->n + 1);
	ls->v[ls->n++] = l;
}

static void take_replay(void *ctx, const rd_kafka_message_t *m)
{
	letters *ls = ctx;
	char key[512];
	size_t n = m->key_len < sizeof(key) - 1 ? m->key_len : sizeof(key) - 1;

	if (m->key == NULL)
		return;
	memcpy(key, m->key, n);
	key[n] = '\0';
	if (m->len == 0)
		json_object_del(ls->replayed, key);
	else
		json_object_set_new(ls->replayed, key,
				    json_stringn(m->payload, m->len));
}

static void letter_key(const letter *l, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%d:%lld", l->topic, (int)l->partition,
		 (long long)l->offset);
}

/* load - every dead letter of every DLQ topic, and the replay record */
static void load(ctl *c, letters *ls)
{
	rd_kafka_t *rk = ctl_reader(c);
	const struct rd_kafka_metadata *md = NULL;
	char pfx[256], err[512], rt[256];
	size_t plen;
	bool have_record = false;

	snprintf(pfx, sizeof(pfx), "%s.", c->prefix);
	plen = strlen(pfx);
	ctl_topic(c, rt, sizeof(rt), LASYNC_T_DLQ_REPLAYS, NULL);
	if (rd_kafka_metadata(rk, 1, NULL, &md, (int)c->timeout_ms) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR)
		ctl_die("cannot list topics");
	rd_kafka_destroy(rk);
	for (int i = 0; i < md->topic_cnt; i++) {
		const char *t = md->topics[i].topic;
		size_t tl = strlen(t);

		if (strcmp(t, rt) == 0)
			have_record = true;
		if (strncmp(t, pfx, plen) != 0 || tl < 4 ||
		    strcmp(t + tl - 4, ".dlq") != 0)
			continue;
		rk = ctl_reader(c);
		ls->reading = t;
		if (lasync_kafka_catch_up(rk, t, RD_KAFKA_OFFSET_BEGINNING,
					  (int)c->timeout_ms, take_letter, ls,
					  err, sizeof(err)) != 0)
			ctl_die("%s", err);
		rd_kafka_destroy(rk);
	}
	rd_kafka_metadata_destroy(md);
	/* No replay record topic yet (topics never ensured) is fine: nothing
	 * was replayed.  Any other failure to read it is not. */
	if (have_record) {
		rk = ctl_reader(c);
		if (lasync_kafka_catch_up(rk, rt, RD_KAFKA_OFFSET_BEGINNING,
					  (int)c->timeout_ms, take_replay, ls,
					  err, sizeof(err)) != 0)
			ctl_die("%s", err);
		rd_kafka_destroy(rk);
	}
	for (size_t i = 0; i < ls->n; i++) {
		char k[512];

		letter_key(&ls->v[i], k, sizeof(k));
		ls->v[i].replayed = json_object_get(ls->replayed, k) != NULL;
	}
}

static void letters_free(letters *ls)
{
	for (size_t i = 0; i < ls->n; i++) {
		free(ls->v[i].topic);
		if (ls->v[i].dl)
			lasync__v1__dead_letter__free_unpacked(ls->v[i].dl,
							       NULL);
	}
	free(ls->v);
	json_decref(ls->replayed);
}

/* two_digits - "00".."99" at p, or -1 */
static long two_digits(const char *p)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return -1;
	return (p[0] - '0') * 10 + (p[1] - '0');
}

/* parse_time - "YYYY-MM-DDTHH:MM:SS" then "Z", "+HH:MM", "-HH:MM" or
 * nothing (UTC, as every time lasyncctl prints), to unix ms.  An offset is
 * honoured, never ignored: 09:00:00+01:00 is 08:00:00Z. */
static int parse_time(const char *s, int64_t *out)
{
	char d[11];
	long day, hh, mm, ss, off = 0;
	const char *z = s + 19;

	memcpy(d, s, 10);
	d[10] = '\0';
	hh = two_digits(s + 11);
	mm = two_digits(s + 14);
	ss = two_digits(s + 17);
	if (lasync_date_parse(d, &day) != 0 || s[13] != ':' || s[16] != ':' ||
	    hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60)
		return -1;
	if (strcmp(z, "Z") == 0 || *z == '\0') {
		off = 0;
	} else if ((*z == '+' || *z == '-') && strlen(z) == 6 && z[3] == ':') {
		long oh = two_digits(z + 1), om = two_digits(z + 4);

		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return -1;
		off = (oh * 60 + om) * 60 * (*z == '-' ? -1 : 1);
	} else {
		return -1;
	}
	*out = ((int64_t)day * 86400 + hh * 3600 + mm * 60 + ss - off) * 1000;
	return 0;
}

/* parse_when - ISO date/time or a duration back from now, to unix ms */
static int parse_when(const char *s, int64_t *out)
{
	long day, n;
	size_t len = strlen(s);
	char unit = len ? s[len - 1] : 0;

	if (lasync_date_parse(s, &day) == 0) {
		*out = (int64_t)day * 86400000;
		return 0;
	}
	if (len >= 19 && s[10] == 'T')
		return parse_time(s, out);
	if (len < 2 || (unit != 'm' && unit != 'h' && unit != 'd'))
		return -1;
	char num[32];

	if (len - 1 >= sizeof(num))
		return -1;
	memcpy(num, s, len - 1);
	num[len - 1] = '\0';
	if (lasync_parse_long(num, 1, 100000, &n) != 0)
		return -1;
	*out = lasync_now_ms() -
	       (int64_t)n * (unit == 'm' ? 60000 : unit == 'h' ? 3600000 : 86400000);
	return 0;
}

static bool selected(const letter *l, const filter *f)
{
	if (f->tenant && strcmp(l->key, f->tenant) != 0)
		return false;
	if (f->since_ms && l->ts_ms < f->since_ms)
		return false;
	if (f->topic && strstr(l->topic, f->topic) == NULL)
		return false;
	return true;
}

static void print_letter(const letter *l)
{
	char when[32] = "-";
	time_t t = (time_t)(l->ts_ms / 1000);
	struct tm tm;

	if (l->ts_ms > 0) {
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	if (l->dl == NULL) {
		printf("%s %d:%lld %s tenant=%s (undecodable dead letter)\n",
		       l->topic, (int)l->partition, (long long)l->offset, when,
		       l->key);
		return;
	}
	printf("%s %d:%lld %s tenant=%s origin=%s:%d:%lld stage=%s class=%s "
	       "attempts=%u replays=%u%s\n    %s\n",
	       l->topic, (int)l->partition, (long long)l->offset, when, l->key,
	       l->dl->origin_topic, (int)l->dl->origin_partition,
	       (long long)l->dl->origin_offset, l->dl->stage,
	       l->dl->error_class, l->dl->attempts, l->dl->replays,
	       l->replayed ? " [replayed]" : "", l->dl->error);
}

static int parse_filter(int argc, char **argv, filter *f)
{
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc)
			f->tenant = argv[++i];
		else if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc)
			f->topic = argv[++i];
		else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
			if (parse_when(argv[++i], &f->since_ms) != 0)
				ctl_die("--since \"%s\": use 2026-11-29, "
					"2026-11-29T08:00:00Z, "
					"2026-11-29T09:00:00+01:00, 90m, 6h or 2d",
					argv[i]);
		} else if (strcmp(argv[i], "--dry-run") == 0)
			f->dry_run = true;
		else if (strcmp(argv[i], "--again") == 0)
			f->again = true;
		else if (strcmp(argv[i], "--force") == 0)
			f->force = true;
		else if (strcmp(argv[i], "--max-replays") == 0 && i + 1 < argc) {
			if (lasync_parse_long(argv[++i], 0, 1000,
					      &f->max_replays) != 0)
				ctl_die("--max-replays needs 0..1000");
		} else
			return -1;
	}
	return 0;
}

/* summary - what a dead letter's payload is, without personal data */
static void summary(const letter *l)
{
	const Lasync__V1__DeadLetter *dl = l->dl;
	const ProtobufCBinaryData *p = &dl->payload;

	if (strstr(dl->origin_topic, ".sync-requests.")) {
		Lasync__V1__SyncRequest *r =
			lasync__v1__sync_request__unpack(NULL, p->len, p->data);

		if (r && r->header)
			printf("  sync request: sync=%s full=%d preview=%d "
			       "as_of=%s reason=%s\n",
			       r->header->sync_id, r->full, r->preview,
			       r->as_of, r->reason);
		else
			printf("  payload: %zu bytes, not a SyncRequest\n",
			       p->len);
		if (r)
			lasync__v1__sync_request__free_unpacked(r, NULL);
	} else if (strstr(dl->origin_topic, ".snapshots.")) {
		Lasync__V1__Snapshot *s =
			lasync__v1__snapshot__unpack(NULL, p->len, p->data);

		if (s && s->header) {
			printf("  snapshot: sync=%s generation=%lld "
			       "sync_date=%s documents=%zu\n",
			       s->header->sync_id,
			       (long long)s->header->generation, s->sync_date,
			       s->n_documents);
			for (size_t i = 0; i < s->n_documents; i++)
				printf("    %s: %llu bytes\n",
				       s->documents[i]->name,
				       (unsigned long long)
					       s->documents[i]->raw_size);
		} else
			printf("  payload: %zu bytes, not a Snapshot\n", p->len);
		if (s)
			lasync__v1__snapshot__free_unpacked(s, NULL);
	} else if (strstr(dl->origin_topic, ".portal-changes")) {
		Lasync__V1__ChangeSet *cs =
			lasync__v1__change_set__unpack(NULL, p->len, p->data);

		if (cs && cs->header)
			printf("  change set: sync=%s generation=%lld part=%u/%u "
			       "operations=%zu reconcile=%d\n",
			       cs->header->sync_id,
			       (long long)cs->header->generation, cs->part,
			       cs->parts, cs->n_ops, cs->reconcile);
		else
			printf("  payload: %zu bytes, not a ChangeSet\n",
			       p->len);
		if (cs)
			lasync__v1__change_set__free_unpacked(cs, NULL);
	} else {
		printf("  payload: %zu bytes\n", p->len);
	}
}

/* superseded - is this dead-lettered change set older than what the
 * tenant has applied since? */
static bool superseded(ctl *c, lasync_redis *r, const letter *l)
{
	const ProtobufCBinaryData *p = &l->dl->payload;
	Lasync__V1__ChangeSet *cs;
	char key[256], err[256];
	bool old = false;

	if (strstr(l->dl->origin_topic, ".portal-changes") == NULL ||
	    strcmp(l->dl->stage, "applier") != 0)
		return false;
	cs = lasync__v1__change_set__unpack(NULL, p->len, p->data);
	if (cs == NULL || cs->header == NULL) {
		if (cs)
			lasync__v1__change_set__free_unpacked(cs, NULL);
		return false;
	}
	lasync_redis_key(key, sizeof(key), c->prefix, l->key, "applied", NULL);
	const char *argv[] = {"GET", key};
	redisReply *rep = lasync_redis_cmd(r, 2, argv, NULL, err, sizeof(err));

	if (rep == NULL)
		ctl_die("redis: %s (needed to tell a superseded change set)",
			err);
	if (rep->type == REDIS_REPLY_STRING) {
		char v[32];

		snprintf(v, sizeof(v), "%.*s", (int)rep->len, rep->str);
		old = strtoll(v, NULL, 10) > cs->header->generation;
	}
	freeReplyObject(rep);
	lasync__v1__change_set__free_unpacked(cs, NULL);
	return old;
}

static int record_replay(ctl *c, const letter *l, const char *how)
{
	char k[512], rt[256], *v;
	int rc;

	letter_key(l, k, sizeof(k));
	v = lasync_xasprintf("{\"at\":%lld,\"as\":\"%s\"}",
			     (long long)lasync_now_ms(), how);
	ctl_topic(c, rt, sizeof(rt), LASYNC_T_DLQ_REPLAYS, NULL);
	rc = ctl_produce(c, rt, k, v, strlen(v));
	free(v);
	return rc;
}

/* republish - the original message back to its origin topic, one replay
 * more; 0 once the broker acknowledged it */
static int republish(ctl *c, const letter *l)
{
	rd_kafka_headers_t *h = rd_kafka_headers_new(2);
	char n[16];

	snprintf(n, sizeof(n), "%u", l->dl->replays + 1);
	rd_kafka_header_add(h, LASYNC_H_REPLAYS, -1, n, -1);
	return ctl_produce_headers(c, l->dl->origin_topic, l->key,
				   l->dl->payload.data, l->dl->payload.len, h);
}

static int dlq_replay(ctl *c, letters *ls, const filter *f)
{
	lasync_tenants *tt = ctl_tenants(c);
	lasync_redis *r;
	json_t *full_done = json_object();
	char err[256];
	size_t n_rep = 0, n_full = 0, n_skip = 0;
	int rc = 0;

	r = lasync_redis_new(c->redis_url, 2000, err, sizeof(err));
	if (r == NULL)
		ctl_die("%s", err);
	for (size_t i = 0; i < ls->n; i++) {
		letter *l = &ls->v[i];

		if (!selected(l, f))
			continue;
		if (l->dl == NULL) {
			printf("skip %s %d:%lld: undecodable dead letter\n",
			       l->topic, (int)l->partition, (long long)l->offset);
			n_skip++;
			continue;
		}
		if (l->replayed && !f->again) {
			n_skip++;
			continue;
		}
		if ((long)l->dl->replays >= f->max_replays && !f->force) {
			printf("skip %s %d:%lld: replayed %u times already (a "
			       "loop?); --force to replay anyway\n",
			       l->topic, (int)l->partition, (long long)l->offset,
			       l->dl->replays);
			n_skip++;
			continue;
		}
		if (superseded(c, r, l)) {
			lasync_tenant *t = lasync_tenants_get(tt, l->key);

			if (t == NULL) {
				printf("skip %s %d:%lld: tenant %s is gone\n",
				       l->topic, (int)l->partition,
				       (long long)l->offset, l->key);
				n_skip++;
				continue;
			}
			if (json_object_get(full_done, l->key) == NULL) {
				printf("%s %s %d:%lld: superseded change set -> "
				       "full sync of %s\n",
				       f->dry_run ? "would replay" : "replay",
				       l->topic, (int)l->partition,
				       (long long)l->offset, l->key);
				if (!f->dry_run) {
					char sid[33];
					ctl_sync_opts o = {.full = true,
							   .reason = "replay"};

					if (ctl_send_sync(c, t, &o, sid) != 0) {
						rc = 1;
						continue;
					}
				}
				json_object_set_new(full_done, l->key,
						    json_true());
				n_full++;
			}
			if (!f->dry_run && record_replay(c, l, "full_sync") != 0)
				rc = 1;
			continue;
		}
		printf("%s %s %d:%lld -> %s (replay %u)\n",
		       f->dry_run ? "would replay" : "replay", l->topic,
		       (int)l->partition, (long long)l->offset,
		       l->dl->origin_topic, l->dl->replays + 1);
		if (f->dry_run) {
			n_rep++;
			continue;
		}
		if (republish(c, l) != 0 ||
		    record_replay(c, l, "republished") != 0) {
			rc = 1;
			continue;
		}
		n_rep++;
	}
	printf("%s %zu dead letter(s), %zu full sync(s); skipped %zu\n",
	       f->dry_run ? "would replay" : "replayed", n_rep, n_full, n_skip);
	json_decref(full_done);
	lasync_redis_free(r);
	lasync_tenants_free(tt);
	return rc;
}

int ctl_dlq(ctl *c, int argc, char **argv)
{
	letters ls = {NULL, 0, 0, json_object(), NULL};
	filter f = {.max_replays = 3};
	int rc = 0;

	if (argc < 1)
		goto usage;
	if (strcmp(argv[0], "show") == 0) {
		long part, off;

		if (argc != 4 || lasync_parse_long(argv[2], 0, 100000, &part) ||
		    lasync_parse_long(argv[3], 0, (long)1 << 62, &off))
			goto usage;
		load(c, &ls);
		for (size_t i = 0; i < ls.n; i++) {
			letter *l = &ls.v[i];

			if (strcmp(l->topic, argv[1]) != 0 ||
			    l->partition != part || l->offset != off)
				continue;
			print_letter(l);
			if (l->dl)
				summary(l);
			letters_free(&ls);
			return 0;
		}
		fprintf(stderr, "lasyncctl: no dead letter %s %ld:%ld\n",
			argv[1], part, off);
		letters_free(&ls);
		return 1;
	}
	if (parse_filter(argc - 1, argv + 1, &f) != 0)
		goto usage;
	load(c, &ls);
	if (strcmp(argv[0], "list") == 0) {
		size_t n = 0;

		for (size_t i = 0; i < ls.n; i++)
			if (selected(&ls.v[i], &f)) {
				print_letter(&ls.v[i]);
				n++;
			}
		printf("%zu dead letter(s)\n", n);
	} else if (strcmp(argv[0], "replay") == 0) {
		rc = dlq_replay(c, &ls, &f);
	} else {
		letters_free(&ls);
		goto usage;
	}
	letters_free(&ls);
	return rc;
usage:
	fprintf(stderr,
		"usage: lasyncctl dlq list [--tenant T] [--since WHEN] [--topic "
		"S]\n"
		"       lasyncctl dlq show <dlq-topic> <partition> <offset>\n"
		"       lasyncctl dlq replay [--tenant T] [--since WHEN] [--topic "
		"S] [--dry-run] [--again] [--force] [--max-replays N]\n");
	json_decref(ls.replayed);
	return 2;
}
