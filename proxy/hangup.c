/* proxy/hangup.c - end a dialog from the middle: a BYE to each user agent */
#include "proxy/hangup.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/base/log.h"
#include "proxy/core/conf.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/txn.h"
#include "store/rcu.h"

/* txn_tag(): job id, dialog index (4 bits), side (1 bit). */
#define TAG_SHIFT 5
#define ID_MASK	  ((1u << (32 - TAG_SHIFT)) - 1)

/* One dialog being ended: the two BYEs, until they are sent. */
struct leg_out {
	char *bye[DLG__SIDES];
	size_t len[DLG__SIDES];
	struct peer to[DLG__SIDES];
	char branch[DLG__SIDES][TXN_BRANCH_MAX];
	size_t blen[DLG__SIDES];
};

/* One dialog.end under way: malloc'd, in the shard's list. */
struct job {
	struct job *next;
	unsigned id;
	unsigned pending; /* BYEs without a final answer */
	hangup_done_fn *done;
	void *arg;
	struct hangup_result res; /* slices into strings */
	char *strings;		  /* Call-ID and tags, malloc'd */
};

struct hangup {
	const struct conf *c;
	struct txn_layer *l;
	unsigned shard;
	unsigned next_id;
	unsigned njobs;
	struct job *jobs;
};

int hangup_new(const struct conf *c, struct txn_layer *l, unsigned shard,
	       struct hangup **hp)
{
	struct hangup *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->c = c;
	h->l = l;
	h->shard = shard;
	*hp = h;
	return 0;
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	free(j->strings);
	free(j);
}

void hangup_free(struct hangup *h)
{
	struct job *j;

	if (!h)
		return;
	/* Bounded by the jobs under way. */
	while ((j = h->jobs) != NULL) {
		h->jobs = j->next;
		j->done(j->arg, -ECANCELED, &j->res);
		job_free(j);
	}
	free(h);
}

unsigned hangup_pending(const struct hangup *h)
{
	return h ? h->njobs : 0;
}

/* "host:port" of the listen entry to send to @p to from (the one it
 * came in on when the family matches, else the first of its family). */
static int via_host(const struct hangup *h, const struct peer *to, char *buf,
		    size_t size)
{
	const struct conf_listen *l = NULL;
	int fam = to->addr.ss_family, n;

	if (to->listen_idx < h->c->nlisten &&
	    h->c->listen[to->listen_idx].addr.ss_family == fam)
		l = &h->c->listen[to->listen_idx];
	for (unsigned i = 0; !l && i < h->c->nlisten; i++)
		if (h->c->listen[i].addr.ss_family == fam)
			l = &h->c->listen[i];
	if (!l)
		return -EAFNOSUPPORT;
	/* The advertised address when the entry has one (conf.h). */
	if (l->adv_host)
		n = snprintf(buf, size, "%s:%u", l->adv_host, l->adv_port);
	else
		n = snprintf(buf, size,
			     strchr(l->address, ':') ? "[%s]:%u" : "%s:%u",
			     l->address, l->port);
	return n > 0 && (size_t)n < size ? 0 : -ENOSPC;
}

/* A URI for @p s, or @p alt when it is empty. */
static struct slice or (struct slice s, struct slice alt)
{
	return s.len ? s : alt;
}

/*
 * The BYE to side @p to of dialog @p d, sent as if by the other side
 * (RFC 3261 §12.2.1.1): Request-URI its remote target, Route its route
 * set, From and To the other way round, CSeq the sender's last + 1.
 * Malloc'd into *bufp.
 */
static int bye_print(const struct hangup *h, const struct dlg *d,
		     enum dlg_side to, const char *branch, char **bufp,
		     size_t *lenp)
{
	enum dlg_side from = to == DLG_CALLER ? DLG_CALLEE : DLG_CALLER;
	struct slice uri[DLG__SIDES] = { d->caller, d->callee };
	struct slice tag[DLG__SIDES] = { d->caller_tag, d->callee_tag };
	struct slice ruri, route = d->ua[to].route;
	struct peer hop = dlg_hop_peer(&d->ua[to].hop);
	const struct peer *p = &hop;
	char hostport[96];
	uint64_t cseq = (uint64_t)d->ua[from].cseq + 1;
	size_t size;
	char *buf;
	int n, err;

	err = via_host(h, p, hostport, sizeof(hostport));
	if (err)
		return err;
	uri[DLG_CALLER] = or (uri[DLG_CALLER], d->ua[DLG_CALLER].contact);
	uri[DLG_CALLEE] = or (uri[DLG_CALLEE], d->ua[DLG_CALLEE].contact);
	ruri = or (d->ua[to].contact, uri[to]);
	if (!ruri.len || !uri[from].len)
		return -EINVAL;
	size = 512 + ruri.len + route.len + uri[0].len + uri[1].len +
	       tag[0].len + tag[1].len + d->call_id.len;
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	n = snprintf(buf, size,
		     "BYE %.*s SIP/2.0\r\n"
		     "Via: SIP/2.0/%s %s;rport;branch=%s\r\n"
		     "Max-Forwards: 70\r\n"
		     "%s%.*s%s"
		     "From: <%.*s>;tag=%.*s\r\n"
		     "To: <%.*s>;tag=%.*s\r\n"
		     "Call-ID: %.*s\r\n"
		     "CSeq: %" PRIu64 " BYE\r\n"
		     "Content-Length: 0\r\n\r\n",
		     (int)ruri.len, ruri.p, peer_proto_name(p->proto), hostport,
		     branch, route.len ? "Route: " : "", (int)route.len,
		     route.p, route.len ? "\r\n" : "", (int)uri[from].len,
		     uri[from].p, (int)tag[from].len, tag[from].p,
		     (int)uri[to].len, uri[to].p, (int)tag[to].len, tag[to].p,
		     (int)d->call_id.len, d->call_id.p, cseq);
	if (n < 0 || (size_t)n >= size) {
		free(buf);
		return -ENOSPC;
	}
	*bufp = buf;
	*lenp = (size_t)n;
	return 0;
}

/* What the read section collects: copies, nothing borrowed. */
struct collect {
	struct hangup *h;
	struct job *j;
	struct leg_out out[HANGUP_MAX_DIALOGS];
	unsigned early, ending;
	size_t strings_len;
	int err;
};

static struct slice put(char **pp, struct slice s)
{
	struct slice r = slice_make(*pp, s.len);

	if (s.len)
		memcpy(*pp, s.p, s.len);
	*pp += s.len;
	return r;
}

static void collect_cb(const struct dlg *d, void *arg)
{
	struct collect *x = arg;
	struct hangup_leg *g;
	struct leg_out *o;
	char *p;
	int err = 0;

	if (d->state == DLG_EARLY)
		x->early++;
	if (d->state == DLG_TERMINATED)
		x->ending++;
	if (d->state != DLG_CONFIRMED || d->owner != x->h->shard ||
	    x->j->res.n == HANGUP_MAX_DIALOGS || x->err)
		return;
	o = &x->out[x->j->res.n];
	for (int s = 0; s < DLG__SIDES && !err; s++) {
		o->to[s] = dlg_hop_peer(&d->ua[s].hop);
		o->blen[s] = txn_branch_make(x->h->l, 0, o->branch[s]);
		err = bye_print(x->h, d, (enum dlg_side)s, o->branch[s],
				&o->bye[s], &o->len[s]);
	}
	p = err ? NULL : malloc(d->caller_tag.len + d->callee_tag.len + 1);
	if (!p) {
		free(o->bye[0]);
		free(o->bye[1]);
		memset(o, 0, sizeof(*o));
		x->err = err ? err : -ENOMEM;
		return;
	}
	/* The tags go to the job's strings when the scan is over. */
	g = &x->j->res.leg[x->j->res.n++];
	g->caller_tag = slice_make(p, d->caller_tag.len);
	g->callee_tag = slice_make(p + d->caller_tag.len, d->callee_tag.len);
	put(&p, d->caller_tag);
	put(&p, d->callee_tag);
}

/* Move the Call-ID and the tags (malloc'd one by one by collect_cb())
 * into one block the job owns. */
static int job_strings(struct job *j, struct slice call_id)
{
	size_t len = call_id.len;
	char *p;

	for (unsigned i = 0; i < j->res.n; i++)
		len +=
		    j->res.leg[i].caller_tag.len + j->res.leg[i].callee_tag.len;
	j->strings = malloc(len + 1);
	if (!j->strings)
		return -ENOMEM;
	p = j->strings;
	j->res.call_id = put(&p, call_id);
	for (unsigned i = 0; i < j->res.n; i++) {
		struct hangup_leg *g = &j->res.leg[i];
		char *block = (char *)g->caller_tag.p;

		g->caller_tag = put(&p, g->caller_tag);
		g->callee_tag = put(&p, g->callee_tag);
		free(block);
	}
	return 0;
}

static struct job *job_find(struct hangup *h, unsigned id, struct job ***linkp)
{
	struct job **link = &h->jobs;

	/* Bounded by the jobs under way. */
	for (; *link; link = &(*link)->next)
		if ((*link)->id == id) {
			*linkp = link;
			return *link;
		}
	return NULL;
}

/* A BYE's outcome (txn_cli_fn): arg is the shard's struct hangup, which
 * outlives its transactions; the tag says which job and leg. */
static void on_bye(struct txn *ct, const struct sipmsg *m, unsigned status,
		   void *arg)
{
	struct hangup *h = arg;
	unsigned tag = txn_tag(ct), st = m ? m->status : status;
	unsigned i = (tag >> 1) & (HANGUP_MAX_DIALOGS - 1), side = tag & 1;
	struct job **link, *j;

	if (st < 200)
		return;
	j = job_find(h, tag >> TAG_SHIFT, &link);
	if (!j || i >= j->res.n || j->res.leg[i].status[side])
		return;
	j->res.leg[i].status[side] = st;
	if (--j->pending)
		return;
	*link = j->next;
	h->njobs--;
	for (i = 0; i < j->res.n; i++)
		dlg_remove(j->res.call_id, j->res.leg[i].caller_tag,
			   j->res.leg[i].callee_tag);
	j->done(j->arg, 0, &j->res);
	job_free(j);
}

int hangup_start(struct hangup *h, struct slice call_id, hangup_done_fn *done,
		 void *arg)
{
	struct collect x;
	struct txn *ct;
	struct job *j;
	int err = 0, send_err = 0;

	if (!call_id.len)
		return -EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	memset(&x, 0, sizeof(x));
	x.h = h;
	x.j = j;
	j->id = h->next_id++ & ID_MASK;
	j->done = done;
	j->arg = arg;
	urcu_memb_read_lock();
	dlg_foreach_call_rcu(call_id, collect_cb, &x);
	urcu_memb_read_unlock();
	err = x.err ? x.err : job_strings(j, call_id);
	if (!err && !j->res.n)
		err = x.early ? -EBUSY : x.ending ? -EALREADY : -ENOENT;
	for (unsigned i = 0; i < j->res.n; i++) {
		unsigned sent = 0;

		/* Bounded: two BYEs per dialog. */
		for (unsigned s = 0; !err && s < DLG__SIDES; s++) {
			int e = txn_cli_new(
			    h->l, NULL, SIP_BYE, &x.out[i].to[s],
			    slice_make(x.out[i].branch[s], x.out[i].blen[s]),
			    x.out[i].bye[s], x.out[i].len[s],
			    (j->id << TAG_SHIFT) | (i << 1) | s, on_bye, h,
			    &ct);

			if (e) {
				/* Not sent: as RFC 3261 §17.1.4 says. */
				j->res.leg[i].status[s] = 503;
				send_err = e;
			} else {
				j->pending++;
				sent++;
			}
		}
		free(x.out[i].bye[0]);
		free(x.out[i].bye[1]);
		if (sent)
			dlg_set_state(call_id, j->res.leg[i].caller_tag,
				      j->res.leg[i].callee_tag, DLG_TERMINATED);
	}
	if (!err && !j->pending)
		err = send_err ? send_err : -EIO;
	if (err) {
		/* Tags still in their own blocks when the strings failed. */
		if (!j->strings)
			for (unsigned i = 0; i < j->res.n; i++)
				free((char *)j->res.leg[i].caller_tag.p);
		job_free(j);
		return err;
	}
	j->next = h->jobs;
	h->jobs = j;
	h->njobs++;
	if (log_enabled(LOG_INFO))
		log_msg(LOG_INFO,
			"dialog %.*s: ending %u dialog(s), BYE both ways",
			(int)call_id.len, call_id.p, j->res.n);
	return 0;
}
