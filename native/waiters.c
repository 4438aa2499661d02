// Requests waiting for JavaScript: the calls queued for the main thread, the batch a read brings its siblings into, and the timer thread that answers at the deadline.
#include "procstat.h"

/**
 * The main thread is known to be stuck when a call handed to it has waited longer than the
 * deadline: then requests are answered at once instead of waiting the deadline again. (A stale
 * heartbeat alone is not proof: right after a long task the loop runs its timers last.)
 */
int stuck(mount_t *m) {
  return m->queued > 0 && now_ms() - m->queued_since > m->deadline_ms;
}

/**
 * Hands a call to the main thread. Its loop is woken only by the first call of an empty queue
 * (after the lock is released), and runs the calls queued by then in that one wake.
 */
int queue_call(mount_t *m, int kind, uint64_t ino, write_req_t *w, int prefetch) {
  call_t *c = calloc(1, sizeof *c);
  if (!c) return 0;               /* its request is answered at the deadline */
  c->kind = kind;
  c->ino = ino;
  c->write = w;
  c->prefetch = (uint8_t)prefetch;
  if (!m->calls) {
    out_t *o = later(OUT_CALL, NULL);
    if (o) o->m = m;
  }
  if (m->calls_tail) m->calls_tail->next = c; else m->calls = c;
  m->calls_tail = c;
  if (!prefetch && m->queued++ == 0) m->queued_since = now_ms();
  return 1;
}

/**
 * Deadlines only grow (arrival + deadline_ms), so the timer thread, asleep until an earlier one,
 * needs no wake-up: signalling it on every open cost a context switch and a contended lock per file.
 */
void wake_timer_by(mount_t *m, double deadline) {
  if (deadline >= m->timer_due) return;
  m->timer_due = deadline;
  pthread_cond_signal(&m->wake);
}

/** A value file whose content JavaScript makes (not procstat/'s own, not write-only). */
static int is_value(node_t *n) {
  return !n->is_dir && !n->local && !n->gone && (n->mode & 0444);
}

/**
 * Content a batch produced less than BATCH_FRESH_MS ago, or less than AHEAD_FRESH_MS ago for a
 * sibling's reader and not taken by an open since, with no write applied since.
 */
int fresh(mount_t *m, node_t *n, double now) {
  if (!n->has_content || n->produced <= 0 || n->produced < m->fresh_after) return 0;
  double age = now - n->produced;
  return age <= BATCH_FRESH_MS || (n->prefetched && age <= AHEAD_FRESH_MS);
}

/** Whether a batch should produce sibling `s` of a file being read: it is likely to be opened next. */
/**
 * Whether a batch should produce sibling `s` of a file being read: it is likely to be opened next.
 * `scanning`: the file being read was itself produced ahead and not taken in time, so its reader
 * walks the files a batch produces, only slower than AHEAD_FRESH_MS (a loaded CPU).
 */
static int worth_producing(mount_t *m, node_t *s, double now, int scanning) {
  if (!is_value(s) || s->inflight || fresh(m, s, now)) return 0;
  if (now - s->opened < PASSED_MS) return 0;          /* this reader has been there already */
  if (scanning) {
    s->prefetched = s->unread = 0;
    return 1;
  }
  // Produced before and never taken: nobody reads it (a `watch` on one file of the directory).
  if (s->prefetched) { s->prefetched = 0; s->unread = 1; }
  return !s->unread;
}

/** Queues sibling `s` for the batch if it is worth producing; whether the batch is full. */
static int take_sibling(mount_t *m, node_t *s, double now, int scanning, int *taken) {
  if (worth_producing(m, s, now, scanning) && queue_call(m, CALL_READ, s->ino, NULL, 1)) { s->inflight = 1; (*taken)++; }
  return *taken >= PREFETCH_MAX;
}

/**
 * A reader that opens one value of a directory usually opens the others next (grep -r, cat *),
 * and then the directories that follow: the batch that produces this file produces up to
 * PREFETCH_MAX of those too, the ones after it first. A sibling opened in the last PASSED_MS, or
 * produced and never taken, is left out, so a scan faster than AHEAD_FRESH_MS runs each getter once.
 */
static void prefetch_siblings(mount_t *m, node_t *n) {
  node_t *dir = find(m, n->parent);
  if (!dir || dir->elements) return;
  double now = now_ms();
  int taken = 0, looked = 0, scanning = n->prefetched;
  n->prefetched = 0;
  for (node_t *s = n->next; s && looked++ < PREFETCH_LOOK; s = s->next) if (take_sibling(m, s, now, scanning, &taken)) return;
  for (node_t *s = dir->first; s && s != n && looked++ < PREFETCH_LOOK; s = s->next) if (take_sibling(m, s, now, scanning, &taken)) return;
  // Then the files of the directories that follow, which a walk in listing order (grep -r, find) reaches next.
  for (node_t *d = dir->next; d && looked++ < PREFETCH_LOOK; d = d->next) {
    if (!d->is_dir || d->elements || (d->lazy && !d->listed)) continue;
    for (node_t *s = d->first; s && looked++ < PREFETCH_LOOK; s = s->next) if (take_sibling(m, s, now, scanning, &taken)) return;
  }
}

/**
 * A walk in listing order (grep -r, find) opens a directory's lazy subdirectories one after the
 * other, each needing a listing from JavaScript: once a reader opens the one after a directory
 * listed in the last PASSED_MS, the next LIST_AHEAD are listed in the same turn of the main thread,
 * while the reader works on this one. A lone open lists only its own.
 */
static void list_ahead(mount_t *m, node_t *dir, double now) {
  node_t *before = dir->prev;
  if (!before || !before->is_dir || !before->lazy || now - before->list_asked > PASSED_MS) return;
  int taken = 0, looked = 0;
  for (node_t *d = dir->next; d && taken < LIST_AHEAD && looked++ < 4 * LIST_AHEAD; d = d->next) {
    if (!d->is_dir || !d->lazy || d->listed || d->inflight || d->gone) continue;
    if (queue_call(m, CALL_LIST, d->ino, NULL, 1)) { d->inflight = 1; d->list_asked = now; taken++; }
  }
}

void add_waiter(mount_t *m, node_t *n, fuse_req_t req, int kind, struct fuse_file_info *fi, const char *name) {
  if (m->stopping) { later_err(req, ENOTCONN); return; }
  waiter_t *w = calloc(1, sizeof *w);
  if (!w || (name && !(w->name = strdup(name)))) { free(w); later_err(req, ENOMEM); return; }
  w->req = req;
  w->kind = kind;
  w->node = n;
  w->deadline = now_ms() + m->deadline_ms;
  if (fi) w->fi = *fi;
  w->next = n->waiters;
  if (n->waiters) n->waiters->prev = w;
  n->waiters = w;
  w->earlier = m->newest;
  if (m->newest) m->newest->later = w; else m->oldest = w;
  m->newest = w;
  if (!n->inflight) {
    n->inflight = 1;
    queue_call(m, kind == W_OPEN ? CALL_READ : CALL_LIST, n->ino, NULL, 0);
    if (kind == W_OPEN) prefetch_siblings(m, n);
    else {
      n->list_asked = now_ms();
      list_ahead(m, n, n->list_asked);
    }
  }
  wake_timer_by(m, w->deadline);
}

void unlink_waiter(mount_t *m, waiter_t *w) {
  if (w->prev) w->prev->next = w->next; else w->node->waiters = w->next;
  if (w->next) w->next->prev = w->prev;
  if (w->earlier) w->earlier->later = w->later; else m->oldest = w->later;
  if (w->later) w->later->earlier = w->earlier; else m->newest = w->earlier;
}

void free_waiter(waiter_t *w) {
  free(w->name);
  free(w);
}

void fail_waiters(mount_t *m, node_t *n, int err) {
  while (n->waiters) {
    waiter_t *w = n->waiters;
    unlink_waiter(m, w);
    later_err(w->req, err);
    free_waiter(w);
  }
}

/** A waiter whose directory is now listed, or whose value arrived: answered as the request asked. */
void settle(mount_t *m, waiter_t *w, const char *content, size_t len, int err) {
  if (err) later_err(w->req, err);
  else if (w->kind == W_OPEN) reply_open(m, w->req, &w->fi, w->node, content, len);
  else if (w->kind == W_OPENDIR) reply_opendir(m, w->req, &w->fi, w->node);
  else answer_lookup(m, w->req, w->node, w->name);
}

/** Past the deadline: the last content served for the file, else EAGAIN. */
void expire(mount_t *m, waiter_t *w) {
  if (w->kind == W_OPEN && w->node->has_content) {
    m->stale_reads++;
    reply_open(m, w->req, &w->fi, w->node, w->node->content, w->node->content_len);
  } else {
    later_err(w->req, EAGAIN);
  }
}

/** Answers requests that JavaScript has not answered within the deadline. */
void *timer_main(void *arg) {
  mount_t *m = arg;
  block_fatal_signals();
  pthread_setname_np(pthread_self(), "procstat-timer");  /* the addon's own, as ps -T shows */
  double ops_seen = 0;  /* when it first found added nodes waiting for the table (0: none) */
  pthread_mutex_lock(&m->lock);
  while (!m->stopping) {
    double now = now_ms(), next = now + 1000;
    if (!__atomic_load_n(&m->ops, __ATOMIC_ACQUIRE)) {
      ops_seen = 0;
    } else if (ops_seen == 0) {
      ops_seen = now;
    } else if (now - ops_seen >= OPS_DELAY_MS) {
      apply_ops(m);
      ops_seen = 0;
    }
    while (m->oldest && m->oldest->deadline <= now) {
      waiter_t *w = m->oldest;
      unlink_waiter(m, w);
      expire(m, w);
      free_waiter(w);
    }
    if (m->oldest) next = m->oldest->deadline;
    if (ops_seen && ops_seen + OPS_DELAY_MS < next) next = ops_seen + OPS_DELAY_MS;
    for (write_req_t *w = m->writes; w; w = w->next) {
      if (w->state != WRITE_PENDING) continue;
      if (w->deadline <= now) {
        w->state = WRITE_CANCELLED;           /* the main thread will drop it, never apply it */
        later_err(w->req, EAGAIN);
      } else if (w->deadline < next) {
        next = w->deadline;
      }
    }
    pthread_mutex_unlock(&m->lock);
    send_later();
    pthread_mutex_lock(&m->lock);
    if (m->stopping) break;
    // What arrived while the replies went out signalled no one: count it in.
    if (m->oldest && m->oldest->deadline < next) next = m->oldest->deadline;
    for (write_req_t *w = m->writes; w; w = w->next) if (w->state == WRITE_PENDING && w->deadline < next) next = w->deadline;
    // A deadline it was woken for stands though its request was answered since: the opens that
    // follow until then have later deadlines and need not wake it (one wake per deadline, not per open).
    if (m->timer_due > now_ms() && m->timer_due < next) next = m->timer_due;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    double wait = next - now_ms();
    if (wait < 1) wait = 1;
    long long ns = until.tv_nsec + (long long)(wait * 1e6);
    until.tv_sec += (time_t)(ns / 1000000000LL);
    until.tv_nsec = (long)(ns % 1000000000LL);
    m->timer_due = now_ms() + wait;
    pthread_cond_timedwait(&m->wake, &m->lock, &until);
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
  return NULL;
}
