// procstat's FUSE binding: libfuse3's low-level (inode) API, N-API only.
//
// The structure of the tree lives here, in an inode table that JavaScript keeps current with
// add()/remove() as the program creates and removes things. The addon's FUSE thread reads
// /dev/fuse and answers lookup, getattr, readdir(plus), read, flush, release and xattrs from that
// table without JavaScript; the main thread never reads the device. Only the content of a value
// (on open), the listing of a lazy directory and a parameter write need JavaScript: they are
// queued, and the main thread (woken by a uv_async) runs what is queued in batches, within a budget
// per turn of its event loop. A read's batch also produces the values of the file's siblings,
// which opens arriving within BATCH_FRESH_MS are served without JavaScript. A timer thread answers
// what JavaScript has not answered within the deadline (the last content served, or EAGAIN); a
// notify thread tells the kernel about removed entries (libfuse deadlocks if that is done on a
// request's path). procstat/ is the addon's own: the loop's health, the stall recorder
// (procstat/stall/), and each file's description as user.procstat.* extended attributes, all
// answered without JavaScript. No thread's CPU affinity is ever changed.
#define FUSE_USE_VERSION 34
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <dlfcn.h>

extern char **environ;

#define ROOT_INO 1
#define STATUS_INO_BASE (UINT64_C(1) << 60) /* procstat/ and its files; JavaScript ids stay far below */
#define CACHE_SECONDS 3600.0                 /* entries and attributes: removals are announced */
#define HEARTBEAT_MS 10
#define BLOCKED_AFTER_MS 50
#define MAX_PENDING_WRITE (64 * 1024)
#define BATCH_FRESH_MS 2.0            /* a value produced in a batch serves the opens that arrive this long after */
#define AHEAD_FRESH_MS 20.0           /* ... and, produced for a sibling's reader, the first open of its own this long after */
#define PREFETCH_MAX 64               /* siblings a read's batch produces beside the file asked for */
#define NEXT_REQUEST_WAIT_MS 0.05     /* how long the FUSE thread looks for a next request before it sleeps */
#define PASSED_MS 100.0               /* a sibling opened this recently has been passed by its reader: not produced again */

/* F_ELEMENTS: an array's or Map's directory, whose entries leave without JavaScript telling: its files are never served from a batch. */
enum { F_DIR = 1, F_LAZY = 2, F_HIDDEN = 4, F_ELEMENTS = 8 };
enum { LOCAL_NONE, LOCAL_BLOCKED_MS, LOCAL_STALE_READS, LOCAL_STALL_STACK, LOCAL_STALL_COUNT, LOCAL_STALL_LONGEST, LOCAL_RECORD, LOCAL_KINDS };
enum { W_OPEN, W_LOOKUP, W_OPENDIR };
enum { CALL_READ, CALL_LIST, CALL_WRITE };
enum { WRITE_PENDING, WRITE_TAKEN, WRITE_CANCELLED };

typedef struct mount mount_t;

/** A FUSE request waiting for JavaScript: an open for a value, or a lookup/opendir for a lazy directory. */
typedef struct waiter {
  fuse_req_t req;
  int kind;
  double deadline;
  struct fuse_file_info fi;
  char *name;                     /* W_LOOKUP */
  struct node *node;              /* what it waits on */
  struct waiter *next, *prev;     /* in node->waiters */
  struct waiter *later, *earlier; /* in the mount's queue, oldest (earliest deadline) first */
} waiter_t;

typedef struct node {
  uint64_t ino, parent;
  char *name;
  uint32_t mode;
  uint8_t is_dir, lazy, listed, hidden, gone, local, elements;
  uint8_t inflight;               /* a JavaScript call for this node is queued or running */
  uint64_t nlookup;               /* the kernel's references (lookup count) */
  uint32_t opens;
  uint32_t description;           /* 1 + its index in the mount's descriptions; 0: none */
  uint32_t listings;              /* open listings holding it (the directory's own included) */
  struct node *first, *last, *prev, *next; /* children in insertion order; siblings */
  struct node *ino_next, *ent_next;        /* hash chains */
  char *content;                  /* the last content produced: what a read past the deadline gets */
  size_t content_len;
  uint8_t has_content;
  uint8_t prefetched;             /* `content` came with a sibling's batch and no open has taken it yet */
  uint8_t unread;                 /* such content went stale untaken: left out of batches until it is opened */
  double produced;                /* when the batch that produced `content` began (0: not fresh) */
  double opened;                  /* when a reader last opened it */
  waiter_t *waiters;
} node_t;

/** An open file: its content fixed at open, and the bytes of a write not yet applied. */
typedef struct handle {
  uint64_t ino;
  char *content;
  size_t len;
  char *pending;
  size_t pending_len;
  uint64_t written;               /* offset the next write must start at */
  uint64_t writer;                /* the lock owner (the writing process's file table) of the pending bytes */
  uint8_t refused;                /* the value being written grew past MAX_PENDING_WRITE: its rest is refused too */
} handle_t;

/**
 * An open directory: its listing taken at opendir. It holds the nodes themselves (each counted in
 * its `listings`, so none is freed meanwhile): readdir then looks nothing up in a table that may
 * hold millions of nodes.
 */
typedef struct listing {
  struct node *dir;
  size_t count;
  struct node **entries;
} listing_t;

/** A write handed to JavaScript; exactly one of the main thread and the timer thread decides it. */
typedef struct write_req {
  fuse_req_t req;
  uint64_t ino;
  char *data;
  size_t len;
  size_t reply_size;              /* bytes to acknowledge (0 for a flush) */
  int is_flush;
  int state;
  double deadline;
  struct write_req *next, *prev;
} write_req_t;

/** What the main thread is asked to do, queued in the mount until its loop runs them. */
typedef struct call {
  int kind;
  uint64_t ino;
  write_req_t *write;
  uint8_t prefetch;               /* CALL_READ of a sibling nobody waits for yet */
  struct call *next;
} call_t;

/**
 * Replies decided while the table's lock is held are sent after it is released: a reply wakes the
 * reader, and a thread preempted inside that write while holding the lock would stall every other
 * thread (the main thread's add/remove above all). Each thread keeps its own list.
 */
enum { OUT_ERR, OUT_ENTRY, OUT_OPEN, OUT_OPENDIR, OUT_WRITE, OUT_CALL };
typedef struct out {
  int kind;
  fuse_req_t req;
  int err;
  size_t count;
  struct fuse_entry_param entry;
  struct fuse_file_info fi;
  mount_t *m;
  uint64_t ino;
  void *ptr;
  struct out *next;
} out_t;
static __thread out_t *out_head, *out_tail;

/** What a file is, as `getfattr -d` shows it: user.procstat.kind, .help and .unit (NULL: absent). */
enum { X_KIND, X_HELP, X_UNIT, X_COUNT };
typedef struct description {
  char *text[X_COUNT];
} description_t;

typedef struct inval {
  uint64_t parent;
  char *name;
  struct inval *next;
} inval_t;

/**
 * A node JavaScript added or removed, put in (or taken out of) the table by the next thread that
 * takes its lock (lock_tree()): the main thread neither waits for that lock nor pays for the
 * table's hash lookups, and every request sees every change made before it arrived. A removal is
 * queued only while the kernel has never looked the node up; else it is made at once, so that the
 * kernel is told to forget the entry before a reader finds it in its own cache.
 */
enum { OP_ADD, OP_REMOVE };
typedef struct op {
  struct op *next;
  int kind;
  int flags;                      /* OP_ADD: F_DIR | F_LAZY | F_HIDDEN */
  uint32_t mode, description;
  uint64_t parent, ino;
  char name[];                    /* OP_ADD */
} op_t;

struct mount {
  pthread_mutex_t lock;
  /* Guards only the queue of changes (ops): held for an append or a take, never while working. */
  pthread_mutex_t ops_lock;
  op_t *ops, *ops_tail;
  pthread_cond_t wake;           /* the timer thread: a deadline earlier than timer_due, or stop */
  double timer_due;              /* when the timer thread wakes next by itself */
  pthread_cond_t inval_wake;     /* the notify thread: an entry to invalidate, or stop */
  struct fuse_session *se;
  int fuse_fd, stop_fd, helper_sock;
  int session_owns_fd;
  pid_t helper;
  pid_t watcher;                  /* the watcher process (watch_main), 0 if none */
  int watch_fd;                   /* the write end of its pipe: closed when the mount ends */
  char abort_path[64];            /* the connection's fusectl abort file, "" if unknown */
  pthread_t loop_thread, timer_thread, notify_thread;
  int threads_started, stopping, mounted, tracked;
  volatile int loop_exited;
  napi_env env;
  uv_async_t *calls_wake;          /* wakes the main thread for the calls queued */
  napi_async_context async_context;
  call_t *calls, *calls_tail;
  napi_ref on_read, on_list, on_write;
  uv_timer_t *heartbeat;
  volatile double last_beat;
  double deadline_ms;
  double budget_ms;               /* the main thread's time for calls in one turn of its loop */
  double fresh_after;             /* content produced before this is not fresh (a write was applied since) */
  double mount_time;
  uint64_t stale_reads;
  uid_t uid;
  gid_t gid;
  int refs;                       /* the JavaScript handle and calls_wake */
  struct mount *volatile next_live; /* in the list of live mounts (signals.c) */
  node_t **by_ino, **by_entry;
  size_t ino_buckets, entry_buckets, count;
  size_t queued;                  /* calls handed to the main thread and not yet started */
  double queued_since;            /* when the oldest of those was handed over (or the last one started) */
  waiter_t *oldest, *newest;      /* every waiter, in arrival order: deadlines are arrival + deadline_ms */
  write_req_t *writes;
  inval_t *inval_head, *inval_tail;
  uint32_t id;                    /* how another thread's JavaScript (the stall watcher) names this mount */
  description_t *descriptions;    /* never shrinks: nodes refer to them by index */
  uint32_t description_count;
  double stall_threshold_ms;      /* 0: no stall recorder */
  double stack_key;               /* the stall `stack` was taken in: the last beat before it */
  char *stack;
  uint64_t stall_count;
  double stall_longest_ms;
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double blocked_ms(mount_t *m) {
  double age = now_ms() - m->last_beat;
  return age < BLOCKED_AFTER_MS ? 0 : age;
}

/**
 * The main thread is known to be stuck when a call handed to it has waited longer than the
 * deadline: then requests are answered at once instead of waiting the deadline again. (A stale
 * heartbeat alone is not proof: right after a long task the loop runs its timers last.)
 */
static int stuck(mount_t *m) {
  return m->queued > 0 && now_ms() - m->queued_since > m->deadline_ms;
}

/* ---------- the inode table ---------- */

static uint64_t hash64(uint64_t x) {
  x ^= x >> 33; x *= UINT64_C(0xff51afd7ed558ccd); x ^= x >> 33;
  return x;
}

static uint64_t hash_entry(uint64_t parent, const char *name) {
  uint64_t h = hash64(parent) ^ UINT64_C(1469598103934665603);
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * UINT64_C(1099511628211);
  return h;
}

/**
 * JavaScript numbers its nodes in sequence, so the low bits spread them evenly and nodes made
 * together share cache lines and pages. (Hashed, each insert stored into a random page of a 1 MB
 * array: perf put half of insert()'s time in that one store when instances are made in bulk.)
 */
static size_t ino_bucket(uint64_t ino, size_t buckets) {
  return (size_t)(ino & (buckets - 1));
}

static node_t *find(mount_t *m, uint64_t ino) {
  for (node_t *n = m->by_ino[ino_bucket(ino, m->ino_buckets)]; n; n = n->ino_next) if (n->ino == ino) return n;
  return NULL;
}

/** The live child `name` of `parent`: removed nodes leave the entry table at once. */
static node_t *find_child(mount_t *m, uint64_t parent, const char *name) {
  for (node_t *n = m->by_entry[hash_entry(parent, name) & (m->entry_buckets - 1)]; n; n = n->ent_next) {
    if (n->parent == parent && strcmp(n->name, name) == 0) return n;
  }
  return NULL;
}

static void rehash(mount_t *m) {
  size_t size = m->ino_buckets * 2;
  node_t **by_ino = calloc(size, sizeof *by_ino), **by_entry = calloc(size, sizeof *by_entry);
  if (!by_ino || !by_entry) { free(by_ino); free(by_entry); return; }
  for (size_t i = 0; i < m->ino_buckets; i++) {
    for (node_t *n = m->by_ino[i], *next; n; n = next) {
      next = n->ino_next;
      n->ino_next = by_ino[ino_bucket(n->ino, size)];
      by_ino[ino_bucket(n->ino, size)] = n;
    }
    for (node_t *n = m->by_entry[i], *next; n; n = next) {
      next = n->ent_next;
      uint64_t h = hash_entry(n->parent, n->name) & (size - 1);
      n->ent_next = by_entry[h];
      by_entry[h] = n;
    }
  }
  free(m->by_ino);
  free(m->by_entry);
  m->by_ino = by_ino;
  m->by_entry = by_entry;
  m->ino_buckets = m->entry_buckets = size;
}

static void unhash_ino(mount_t *m, node_t *n) {
  for (node_t **p = &m->by_ino[ino_bucket(n->ino, m->ino_buckets)]; *p; p = &(*p)->ino_next) {
    if (*p == n) { *p = n->ino_next; return; }
  }
}

static void unhash_entry(mount_t *m, node_t *n) {
  for (node_t **p = &m->by_entry[hash_entry(n->parent, n->name) & (m->entry_buckets - 1)]; *p; p = &(*p)->ent_next) {
    if (*p == n) { *p = n->ent_next; return; }
  }
}

static node_t *insert(mount_t *m, node_t *parent, uint64_t ino, const char *name, uint32_t mode, int flags) {
  if (m->count + 1 > m->ino_buckets) rehash(m);
  node_t *n = calloc(1, sizeof *n);
  if (!n || !(n->name = strdup(name))) { free(n); return NULL; }
  n->ino = ino;
  n->mode = mode;
  n->is_dir = (flags & F_DIR) != 0;
  n->lazy = (flags & F_LAZY) != 0;
  n->hidden = (flags & F_HIDDEN) != 0;
  n->elements = (flags & F_ELEMENTS) != 0;
  n->ino_next = m->by_ino[ino_bucket(ino, m->ino_buckets)];
  m->by_ino[ino_bucket(ino, m->ino_buckets)] = n;
  m->count++;
  if (parent) {
    n->parent = parent->ino;
    uint64_t h = hash_entry(n->parent, name) & (m->entry_buckets - 1);
    n->ent_next = m->by_entry[h];
    m->by_entry[h] = n;
    n->prev = parent->last;
    if (parent->last) parent->last->next = n; else parent->first = n;
    parent->last = n;
  }
  return n;
}

static void free_node(mount_t *m, node_t *n) {
  unhash_ino(m, n);
  m->count--;
  free(n->name);
  free(n->content);
  free(n);
}

/** A removed node stays while the kernel holds references to it or files of it are open. */
static void maybe_free(mount_t *m, node_t *n) {
  if (n->gone && n->nlookup == 0 && n->opens == 0 && n->listings == 0 && !n->waiters && !n->inflight) free_node(m, n);
}

static out_t *later(int kind, fuse_req_t req) {
  out_t *o = calloc(1, sizeof *o);
  if (!o) { if (req) fuse_reply_err(req, ENOMEM); return NULL; }
  o->kind = kind;
  o->req = req;
  if (out_tail) out_tail->next = o; else out_head = o;
  out_tail = o;
  return o;
}

static void later_err(fuse_req_t req, int err) {
  out_t *o = later(OUT_ERR, req);
  if (o) o->err = err;
}

static void send_later(void);

static void queue_inval(mount_t *m, uint64_t parent, const char *name) {
  inval_t *i = calloc(1, sizeof *i);
  if (!i || !(i->name = strdup(name))) { free(i); return; }
  i->parent = parent;
  if (m->inval_tail) m->inval_tail->next = i; else m->inval_head = i;
  m->inval_tail = i;
  pthread_cond_signal(&m->inval_wake);
}

static void fail_waiters(mount_t *m, node_t *n, int err);

/**
 * Removes `n` and everything below it (iteratively: a tree may be deeper than any stack). The
 * kernel is told to forget the top entry if it ever looked it up; entries below are unreachable.
 */
static void remove_subtree(mount_t *m, node_t *top) {
  node_t *parent = find(m, top->parent);
  if (top->nlookup > 0) queue_inval(m, top->parent, top->name);
  if (parent) {
    if (top->prev) top->prev->next = top->next; else parent->first = top->next;
    if (top->next) top->next->prev = top->prev; else parent->last = top->prev;
  }
  top->prev = top->next = NULL;
  // Walk the subtree as a stack threaded through `next`.
  node_t *stack = top;
  while (stack) {
    node_t *n = stack;
    stack = n->next;
    n->next = n->prev = NULL;
    for (node_t *c = n->first, *following; c; c = following) {
      following = c->next;
      c->next = stack;
      stack = c;
    }
    n->first = n->last = NULL;
    unhash_entry(m, n);
    n->gone = 1;
    fail_waiters(m, n, ENOENT);
    maybe_free(m, n);
  }
}

/* ---------- changes from JavaScript, queued (op_t) ---------- */

/**
 * How long the timer thread lets changes gather before it applies them, when no request does it
 * first: one wake-up for a burst of changes, not one per change.
 */
#define OPS_DELAY_MS 2

static void queue_op(mount_t *m, op_t *op) {
  pthread_mutex_lock(&m->ops_lock);
  int first = m->ops_tail == NULL;
  if (m->ops_tail) m->ops_tail->next = op; else __atomic_store_n(&m->ops, op, __ATOMIC_RELEASE);
  m->ops_tail = op;
  pthread_mutex_unlock(&m->ops_lock);
  // A wake lost to a race (the timer thread about to wait) only leaves them to the next request,
  // removal or second.
  if (first) pthread_cond_signal(&m->wake);
}

/** Removes `n` unless it is the root or in procstat/ (the mount's own). */
static void remove_node(mount_t *m, node_t *n) {
  if (n && !n->gone && n->ino != ROOT_INO && n->ino < STATUS_INO_BASE) remove_subtree(m, n);
}

static void apply_op(mount_t *m, op_t *op) {
  if (op->kind == OP_REMOVE) {
    remove_node(m, find(m, op->ino));
    return;
  }
  node_t *dir = find(m, op->parent);
  if (!dir || dir->gone || find(m, op->ino)) return;
  node_t *old = find_child(m, dir->ino, op->name);
  if (old && old->ino >= STATUS_INO_BASE) return;  /* procstat/ is the mount's own */
  if (old) remove_subtree(m, old);                 /* a replaced entry: the kernel forgets the old one */
  // Out of memory, the entry is missing, as a lookup that cannot allocate fails.
  node_t *n = insert(m, dir, op->ino, op->name, op->mode | ((op->flags & F_DIR) ? S_IFDIR : S_IFREG), op->flags);
  if (n && op->description <= m->description_count) n->description = op->description;
}

/** Applies the queued changes, in the order they were made; the table's lock is held. */
static void apply_ops(mount_t *m) {
  if (!__atomic_load_n(&m->ops, __ATOMIC_ACQUIRE)) return;
  pthread_mutex_lock(&m->ops_lock);
  op_t *op = m->ops;
  __atomic_store_n(&m->ops, NULL, __ATOMIC_RELEASE);
  m->ops_tail = NULL;
  pthread_mutex_unlock(&m->ops_lock);
  for (op_t *next; op; op = next) {
    next = op->next;
    apply_op(m, op);
    free(op);
  }
}

/** Takes the table's lock with every change JavaScript made so far applied: what a request sees. */
static void lock_tree(mount_t *m) {
  pthread_mutex_lock(&m->lock);
  apply_ops(m);
}

/* ---------- replies ---------- */

static void fill_attr(mount_t *m, node_t *n, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_ino = n->ino;
  st->st_mode = n->mode;
  st->st_nlink = n->is_dir ? 2 : 1;
  st->st_uid = m->uid;
  st->st_gid = m->gid;
  st->st_blksize = 4096;
  st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = (time_t)m->mount_time;
}

static void fill_entry(mount_t *m, node_t *n, struct fuse_entry_param *e) {
  memset(e, 0, sizeof *e);
  e->ino = n->ino;
  e->attr_timeout = e->entry_timeout = CACHE_SECONDS;
  fill_attr(m, n, &e->attr);
}

/** Counted now; taken back in send_later() should the reply not reach the kernel. */
static void reply_entry(mount_t *m, fuse_req_t req, node_t *n) {
  out_t *o = later(OUT_ENTRY, req);
  if (!o) return;
  fill_entry(m, n, &o->entry);
  o->m = m;
  o->ino = n->ino;
  n->nlookup++;
}

/** Opens a handle on `content`; the handle owns a copy. */
static void reply_open(mount_t *m, fuse_req_t req, struct fuse_file_info *fi, node_t *n, const char *content, size_t len) {
  handle_t *h = calloc(1, sizeof *h);
  if (!h || (len && !(h->content = malloc(len)))) { free(h); later_err(req, ENOMEM); return; }
  if (len) memcpy(h->content, content, len);
  h->len = len;
  h->ino = n->ino;
  fi->fh = (uint64_t)(uintptr_t)h;
  fi->direct_io = 1;                          /* never cached: every cat sees the live value */
  fi->noflush = (fi->flags & O_ACCMODE) == O_RDONLY;  /* flush only matters to writers */
  out_t *o = later(OUT_OPEN, req);
  if (!o) { free(h->content); free(h); return; }
  o->fi = *fi;
  o->m = m;
  o->ino = n->ino;
  o->ptr = h;
  n->opens++;
}

static listing_t *take_listing(node_t *dir) {
  size_t count = 0;
  for (node_t *c = dir->first; c; c = c->next) if (!c->hidden) count++;
  listing_t *l = calloc(1, sizeof *l);
  if (!l) return NULL;
  l->entries = calloc(count ? count : 1, sizeof *l->entries);
  if (!l->entries) { free(l); return NULL; }
  l->dir = dir;
  dir->listings++;
  for (node_t *c = dir->first; c; c = c->next) {
    if (c->hidden) continue;
    l->entries[l->count++] = c;
    c->listings++;
  }
  return l;
}

/** Call with the lock held. */
static void free_listing(mount_t *m, listing_t *l) {
  for (size_t i = 0; i < l->count; i++) {
    l->entries[i]->listings--;
    maybe_free(m, l->entries[i]);
  }
  l->dir->listings--;
  maybe_free(m, l->dir);
  free(l->entries);
  free(l);
}

static void reply_opendir(mount_t *m, fuse_req_t req, struct fuse_file_info *fi, node_t *dir) {
  listing_t *l = take_listing(dir);
  if (!l) { later_err(req, ENOMEM); return; }
  fi->fh = (uint64_t)(uintptr_t)l;
  out_t *o = later(OUT_OPENDIR, req);
  if (!o) { free_listing(m, l); return; }
  o->fi = *fi;
  o->m = m;
  o->ptr = l;
}

/* ---------- waiting for JavaScript ---------- */

/**
 * Hands a call to the main thread. Its loop is woken only by the first call of an empty queue
 * (after the lock is released), and runs the calls queued by then in that one wake.
 */
static int queue_call(mount_t *m, int kind, uint64_t ino, write_req_t *w, int prefetch) {
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

/** Sends what this thread decided under the lock. Call with the lock released. */
static void send_later(void) {
  out_t *o = out_head;
  out_head = out_tail = NULL;
  while (o) {
    out_t *next = o->next;
    int failed = 0;
    switch (o->kind) {
      case OUT_ERR: fuse_reply_err(o->req, o->err); break;
      case OUT_WRITE: fuse_reply_write(o->req, o->count); break;
      case OUT_ENTRY: failed = fuse_reply_entry(o->req, &o->entry) != 0; break;
      case OUT_OPENDIR:
        if (fuse_reply_open(o->req, &o->fi) != 0) {
          pthread_mutex_lock(&o->m->lock);
          free_listing(o->m, o->ptr);
          pthread_mutex_unlock(&o->m->lock);
        }
        break;
      case OUT_OPEN:
        failed = fuse_reply_open(o->req, &o->fi) != 0;
        if (failed) { free(((handle_t *)o->ptr)->content); free(o->ptr); }
        break;
      case OUT_CALL: uv_async_send(o->m->calls_wake); break;
    }
    if (failed) {
      // The kernel did not take the reply: take back the lookup or open counted for it.
      pthread_mutex_lock(&o->m->lock);
      node_t *n = find(o->m, o->ino);
      if (n && o->kind == OUT_ENTRY && n->nlookup) n->nlookup--;
      if (n && o->kind == OUT_OPEN && n->opens) n->opens--;
      if (n) maybe_free(o->m, n);
      pthread_mutex_unlock(&o->m->lock);
    }
    free(o);
    o = next;
  }
}

/**
 * Deadlines only grow (arrival + deadline_ms), so the timer thread, asleep until an earlier one,
 * needs no wake-up: signalling it on every open cost a context switch and a contended lock per file.
 */
static void wake_timer_by(mount_t *m, double deadline) {
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
static int fresh(mount_t *m, node_t *n, double now) {
  if (!n->has_content || n->produced <= 0 || n->produced < m->fresh_after) return 0;
  double age = now - n->produced;
  return age <= BATCH_FRESH_MS || (n->prefetched && age <= AHEAD_FRESH_MS);
}

/** Whether a batch should produce sibling `s` of a file being read: it is likely to be opened next. */
static int worth_producing(mount_t *m, node_t *s, double now) {
  if (!is_value(s) || s->inflight || fresh(m, s, now)) return 0;
  if (now - s->opened < PASSED_MS) return 0;          /* this reader has been there already */
  // Produced before and never taken: nobody reads it (a `watch` on one file of the directory).
  if (s->prefetched) { s->prefetched = 0; s->unread = 1; }
  return !s->unread;
}

/**
 * A reader that opens one value of a directory usually opens the others next (grep -r, cat *):
 * the batch that produces this file produces up to PREFETCH_MAX siblings too, those after it first.
 * Each getter still runs once per scan: a sibling opened in the last PASSED_MS, or produced and
 * never taken, is left out.
 */
static void prefetch_siblings(mount_t *m, node_t *n) {
  node_t *dir = find(m, n->parent);
  if (!dir || dir->elements) return;
  double now = now_ms();
  int taken = 0, looked = 0;
  for (node_t *s = n->next; s && taken < PREFETCH_MAX && looked < 4 * PREFETCH_MAX; s = s->next, looked++) {
    if (worth_producing(m, s, now) && queue_call(m, CALL_READ, s->ino, NULL, 1)) { s->inflight = 1; taken++; }
  }
  for (node_t *s = dir->first; s && s != n && taken < PREFETCH_MAX && looked < 4 * PREFETCH_MAX; s = s->next, looked++) {
    if (worth_producing(m, s, now) && queue_call(m, CALL_READ, s->ino, NULL, 1)) { s->inflight = 1; taken++; }
  }
}

static void add_waiter(mount_t *m, node_t *n, fuse_req_t req, int kind, struct fuse_file_info *fi, const char *name) {
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
  }
  wake_timer_by(m, w->deadline);
}

static void unlink_waiter(mount_t *m, waiter_t *w) {
  if (w->prev) w->prev->next = w->next; else w->node->waiters = w->next;
  if (w->next) w->next->prev = w->prev;
  if (w->earlier) w->earlier->later = w->later; else m->oldest = w->later;
  if (w->later) w->later->earlier = w->earlier; else m->newest = w->earlier;
}

static void free_waiter(waiter_t *w) {
  free(w->name);
  free(w);
}

static void fail_waiters(mount_t *m, node_t *n, int err) {
  while (n->waiters) {
    waiter_t *w = n->waiters;
    unlink_waiter(m, w);
    later_err(w->req, err);
    free_waiter(w);
  }
}

static void answer_lookup(mount_t *m, fuse_req_t req, node_t *dir, const char *name);

/** A waiter whose directory is now listed, or whose value arrived: answered as the request asked. */
static void settle(mount_t *m, waiter_t *w, const char *content, size_t len, int err) {
  if (err) later_err(w->req, err);
  else if (w->kind == W_OPEN) reply_open(m, w->req, &w->fi, w->node, content, len);
  else if (w->kind == W_OPENDIR) reply_opendir(m, w->req, &w->fi, w->node);
  else answer_lookup(m, w->req, w->node, w->name);
}

/** Past the deadline: the last content served for the file, else EAGAIN. */
static void expire(mount_t *m, waiter_t *w) {
  if (w->kind == W_OPEN && w->node->has_content) {
    m->stale_reads++;
    reply_open(m, w->req, &w->fi, w->node, w->node->content, w->node->content_len);
  } else {
    later_err(w->req, EAGAIN);
  }
}

/* ---------- the kernel's requests (FUSE thread) ---------- */

static mount_t *mount_of(fuse_req_t req) {
  return fuse_req_userdata(req);
}

static void answer_lookup(mount_t *m, fuse_req_t req, node_t *dir, const char *name) {
  node_t *child = find_child(m, dir->ino, name);
  if (child) reply_entry(m, req, child);
  else later_err(req, ENOENT);
}

/** A lazy directory is listed by JavaScript the first time it is used; past the deadline, EAGAIN. */
static int needs_listing(mount_t *m, node_t *dir, fuse_req_t req) {
  if (!dir->lazy || dir->listed) return 0;
  if (stuck(m)) { later_err(req, EAGAIN); return -1; }
  return 1;
}

/*
 * Following the reader. A reader and the FUSE thread take turns (request, reply, next request), and
 * each round trip costs about twice as much when the two run on different CPUs, which the scheduler
 * chooses mostly at random. So at a turn's first request (a turn: what the FUSE thread answers
 * between two sleeps), the FUSE thread moves to the CPU its reader last ran on: it narrows its own
 * affinity to that CPU, which migrates it there, and at once puts back the affinity it had, which
 * leaves it there. Only the addon's own thread moves: no thread of the application, which starts
 * nothing from this thread.
 */
static __thread int turn_followed = 1;    /* this turn has followed a reader, or found no need (1: not the FUSE thread) */

/** The CPU a thread last ran on (field 39 of /proc/<tid>/stat), or -1. */
static int last_cpu_of(pid_t tid) {
  char path[48], stat[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t len = read(fd, stat, sizeof stat - 1);
  close(fd);
  if (len <= 0) return -1;
  stat[len] = 0;
  char *p = strrchr(stat, ')');     /* the command name before it may hold spaces */
  if (!p) return -1;
  for (int field = 2; field < 39; p++) {
    if (!*p) return -1;
    if (*p == ' ') field++;
  }
  return atoi(p);
}

/** Whether /proc shows this process's own pid namespace (the kernel gives readers' pids in it). */
static int proc_is_ours(void) {
  static int known = -1;
  if (known < 0) {
    char link[32] = { 0 };
    known = readlink("/proc/self", link, sizeof link - 1) > 0 && atoi(link) == (int)getpid();
  }
  return known;
}

static void follow_reader(fuse_req_t req) {
  if (turn_followed) return;
  turn_followed = 1;
  pid_t tid = fuse_req_ctx(req)->pid;     /* 0: a process outside the mount's pid namespace */
  int cpu = tid > 0 && proc_is_ours() ? last_cpu_of(tid) : -1;
  if (cpu < 0 || cpu == sched_getcpu()) return;
  // Only within the affinity the application has (taskset, cgroup cpusets).
  cpu_set_t own, reader;
  if (sched_getaffinity(0, sizeof own, &own) != 0 || !CPU_ISSET(cpu, &own)) return;
  CPU_ZERO(&reader);
  CPU_SET(cpu, &reader);
  if (sched_setaffinity(0, sizeof reader, &reader) != 0) return;
  // Put back unless someone (`taskset -p`) set another affinity in between.
  cpu_set_t now;
  if (sched_getaffinity(0, sizeof now, &now) == 0 && CPU_EQUAL(&now, &reader)) sched_setaffinity(0, sizeof own, &own);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  mount_t *m = mount_of(req);
  follow_reader(req);
  lock_tree(m);
  node_t *dir = find(m, parent);
  if (!dir || dir->gone || !dir->is_dir) later_err(req, dir && !dir->gone ? ENOTDIR : ENOENT);
  else {
    int listing = needs_listing(m, dir, req);
    if (listing == 1) add_waiter(m, dir, req, W_LOOKUP, NULL, name);
    else if (listing == 0) answer_lookup(m, req, dir, name);
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
}

static void forget_one(mount_t *m, fuse_ino_t ino, uint64_t count) {
  node_t *n = find(m, ino);
  if (!n) return;
  n->nlookup = n->nlookup > count ? n->nlookup - count : 0;
  maybe_free(m, n);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  mount_t *m = mount_of(req);
  lock_tree(m);
  forget_one(m, ino, nlookup);
  pthread_mutex_unlock(&m->lock);
  send_later();
  fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
  mount_t *m = mount_of(req);
  lock_tree(m);
  for (size_t i = 0; i < count; i++) forget_one(m, forgets[i].ino, forgets[i].nlookup);
  pthread_mutex_unlock(&m->lock);
  send_later();
  fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  mount_t *m = mount_of(req);
  struct stat st;
  lock_tree(m);
  node_t *n = find(m, ino);
  int ok = n && !n->gone;
  if (ok) fill_attr(m, n, &st);
  pthread_mutex_unlock(&m->lock);
  send_later();
  if (ok) fuse_reply_attr(req, &st, CACHE_SECONDS);
  else fuse_reply_err(req, ENOENT);
  (void)fi;
}

/** Only `echo 5 > parameter` needs this: O_TRUNC of a writable file. Everything else is refused. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
  mount_t *m = mount_of(req);
  struct stat st;
  int err = 0;
  lock_tree(m);
  node_t *n = find(m, ino);
  if (!n || n->gone) err = ENOENT;
  else if (to_set & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME)) err = EPERM;
  else if ((to_set & FUSE_SET_ATTR_SIZE) && (n->is_dir || !(n->mode & 0222))) err = n->is_dir ? EISDIR : EACCES;
  else if (!(to_set & FUSE_SET_ATTR_SIZE)) err = EPERM;
  else fill_attr(m, n, &st);
  pthread_mutex_unlock(&m->lock);
  send_later();
  if (err) fuse_reply_err(req, err);
  else fuse_reply_attr(req, &st, CACHE_SECONDS);
  (void)attr; (void)fi;
}

static void describe_stall(mount_t *m, FILE *out);

/** The content of a file the addon answers itself (procstat/), or NULL; the caller frees it. */
static char *local_content(mount_t *m, node_t *n, size_t *len) {
  char *text = NULL;
  FILE *out = open_memstream(&text, len);
  if (!out) return NULL;
  switch (n->local) {
    case LOCAL_BLOCKED_MS: fprintf(out, "%llu\n", (unsigned long long)blocked_ms(m)); break;
    case LOCAL_STALE_READS: fprintf(out, "%llu\n", (unsigned long long)m->stale_reads); break;
    case LOCAL_STALL_STACK: describe_stall(m, out); break;
    case LOCAL_STALL_COUNT: fprintf(out, "%llu\n", (unsigned long long)m->stall_count); break;
    case LOCAL_STALL_LONGEST: fprintf(out, "%.0f\n", m->stall_longest_ms); break;
    case LOCAL_RECORD: fwrite(n->content, 1, n->content_len, out); break;
  }
  return fclose(out) == 0 ? text : (free(text), NULL);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  mount_t *m = mount_of(req);
  follow_reader(req);
  lock_tree(m);
  node_t *n = find(m, ino);
  int mode = fi->flags & O_ACCMODE;
  int wants_read = mode != O_WRONLY, wants_write = mode != O_RDONLY;
  if (!n || n->gone) later_err(req, ENOENT);
  else if (n->is_dir) later_err(req, EISDIR);
  else if ((wants_read && !(n->mode & 0444)) || (wants_write && !(n->mode & 0222))) later_err(req, EACCES);
  else if (n->local) {
    size_t len = 0;
    char *text = local_content(m, n, &len);
    if (text) reply_open(m, req, fi, n, text, len);
    else later_err(req, ENOMEM);
    free(text);
  } else if (!wants_read) {
    reply_open(m, req, fi, n, NULL, 0);
  } else if (stuck(m)) {
    // Known to be stuck: answer at once rather than wait the deadline again.
    waiter_t w = { .req = req, .kind = W_OPEN, .node = n, .fi = *fi };
    expire(m, &w);
  } else {
    double now = now_ms();
    n->opened = now;
    n->unread = 0;
    node_t *dir = find(m, n->parent);
    if (fresh(m, n, now) && dir && !dir->elements) {
      n->prefetched = 0;
      reply_open(m, req, fi, n, n->content, n->content_len);
    } else {
      add_waiter(m, n, req, W_OPEN, fi, NULL);
    }
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  mount_t *m = mount_of(req);
  handle_t *h = (handle_t *)(uintptr_t)fi->fh;
  lock_tree(m);
  node_t *n = find(m, ino);
  int gone = !n || n->gone;
  pthread_mutex_unlock(&m->lock);
  send_later();
  // The handle is this request's alone until release: read it without the lock.
  if (gone) fuse_reply_err(req, ENOENT);
  else if ((size_t)off >= h->len) fuse_reply_buf(req, NULL, 0);
  else fuse_reply_buf(req, h->content + off, h->len - (size_t)off < size ? h->len - (size_t)off : size);
}

/** Hands the bytes written since the last apply to JavaScript; the reply comes from whoever decides. */
static void apply_write(mount_t *m, fuse_req_t req, handle_t *h, size_t reply_size, int is_flush) {
  write_req_t *w = calloc(1, sizeof *w);
  if (!w) { later_err(req, ENOMEM); return; }
  w->req = req;
  w->ino = h->ino;
  w->data = h->pending;
  w->len = h->pending_len;
  w->reply_size = reply_size;
  w->is_flush = is_flush;
  w->state = WRITE_PENDING;
  w->deadline = now_ms() + m->deadline_ms;
  h->pending = NULL;
  h->pending_len = 0;
  if (stuck(m) || m->stopping) {
    later_err(req, EAGAIN);
    free(w->data);
    free(w);
    return;
  }
  w->next = m->writes;
  if (m->writes) m->writes->prev = w;
  m->writes = w;
  queue_call(m, CALL_WRITE, h->ino, w, 0);
  wake_timer_by(m, w->deadline);
}

/**
 * A value is applied once, whole: at a write that ends with a newline, else when the process that
 * wrote it closes the file (its flush), else when the last descriptor goes (release). Pieces must
 * follow each other; a write elsewhere cannot make a value.
 */
static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  mount_t *m = mount_of(req);
  handle_t *h = (handle_t *)(uintptr_t)fi->fh;
  lock_tree(m);
  node_t *n = find(m, ino);
  if (!n || n->gone) later_err(req, ENOENT);
  else if ((uint64_t)off != h->written) later_err(req, EINVAL);
  else if (h->refused || h->pending_len + size > MAX_PENDING_WRITE) {
    // Refused whole: this piece and every later one up to the value's end (a newline, or close),
    // so that its tail is never applied as a value of its own.
    free(h->pending);
    h->pending = NULL;
    h->pending_len = 0;
    h->written += size;
    h->refused = !(size > 0 && buf[size - 1] == '\n');
    later_err(req, EINVAL);
  } else {
    char *grown = realloc(h->pending, h->pending_len + size + 1);
    if (!grown) later_err(req, ENOMEM);
    else {
      memcpy(grown + h->pending_len, buf, size);
      h->pending = grown;
      h->pending_len += size;
      h->written += size;
      h->writer = fi->lock_owner;
      if (size > 0 && buf[size - 1] == '\n') apply_write(m, req, h, size, 0);
      else { out_t *o = later(OUT_WRITE, req); if (o) o->count = size; }
    }
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  mount_t *m = mount_of(req);
  handle_t *h = (handle_t *)(uintptr_t)fi->fh;
  lock_tree(m);
  if (h->refused) {
    h->refused = 0;
    later_err(req, EINVAL);               /* close() reports the refused value */
  } else if (h->pending_len > 0 && fi->lock_owner == h->writer) apply_write(m, req, h, 0, 1);
  else later_err(req, 0);                 /* nothing pending, or another process closing a descriptor it inherited */
  pthread_mutex_unlock(&m->lock);
  send_later();
  (void)ino;
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  mount_t *m = mount_of(req);
  handle_t *h = (handle_t *)(uintptr_t)fi->fh;
  lock_tree(m);
  node_t *n = find(m, ino);
  // Bytes no close of their writer applied (the last descriptor was another process's): applied now,
  // the release answered when it is (nobody waits to hear an error).
  int applying = n && !n->gone && h->pending_len > 0 && !h->refused;
  if (applying) apply_write(m, req, h, 0, 1);
  if (n) {
    if (n->opens) n->opens--;
    maybe_free(m, n);
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
  free(h->content);
  free(h->pending);
  free(h);
  if (!applying) fuse_reply_err(req, 0);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  mount_t *m = mount_of(req);
  follow_reader(req);
  lock_tree(m);
  node_t *n = find(m, ino);
  if (!n || n->gone) later_err(req, ENOENT);
  else if (!n->is_dir) later_err(req, ENOTDIR);
  else {
    int listing = needs_listing(m, n, req);
    if (listing == 1) add_waiter(m, n, req, W_OPENDIR, fi, NULL);
    else if (listing == 0) reply_opendir(m, req, fi, n);
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
}

/** readdir and readdirplus: offsets are positions in the listing taken at opendir (0 and 1: `.` and `..`). */
static void list_dir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi, int plus) {
  mount_t *m = mount_of(req);
  listing_t *l = (listing_t *)(uintptr_t)fi->fh;
  char *buf = malloc(size);
  if (!buf) { fuse_reply_err(req, ENOMEM); return; }
  size_t used = 0;
  lock_tree(m);
  for (size_t i = (size_t)off; i < l->count + 2; i++) {
    struct fuse_entry_param e;
    const char *name;
    node_t *n = NULL;
    if (i < 2) {
      memset(&e, 0, sizeof e);                 /* ino 0: the kernel makes no entry for dots */
      e.attr.st_mode = S_IFDIR | 0755;
      e.attr.st_ino = i == 0 ? ino : (l->dir->parent ? l->dir->parent : ROOT_INO);
      name = i == 0 ? "." : "..";
    } else {
      n = l->entries[i - 2];
      if (n->gone) continue;                   /* removed since opendir */
      fill_entry(m, n, &e);
      name = n->name;
    }
    size_t need = plus ? fuse_add_direntry_plus(req, buf + used, size - used, name, &e, (off_t)i + 1)
                       : fuse_add_direntry(req, buf + used, size - used, name, &e.attr, (off_t)i + 1);
    if (need > size - used) break;
    used += need;
    if (plus && n) n->nlookup++;               /* readdirplus counts as a lookup of each entry */
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
  fuse_reply_buf(req, buf, used);
  free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  list_dir(req, ino, size, off, fi, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  list_dir(req, ino, size, off, fi, 1);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  mount_t *m = mount_of(req);
  lock_tree(m);
  free_listing(m, (listing_t *)(uintptr_t)fi->fh);
  pthread_mutex_unlock(&m->lock);
  send_later();
  fuse_reply_err(req, 0);
  (void)ino;
}

static void refuse(fuse_req_t req) {
  fuse_reply_err(req, EPERM);
}

static void op_mknod(fuse_req_t req, fuse_ino_t p, const char *n, mode_t mode, dev_t rdev) { refuse(req); (void)p; (void)n; (void)mode; (void)rdev; }
static void op_mkdir(fuse_req_t req, fuse_ino_t p, const char *n, mode_t mode) { refuse(req); (void)p; (void)n; (void)mode; }
static void op_unlink(fuse_req_t req, fuse_ino_t p, const char *n) { refuse(req); (void)p; (void)n; }
static void op_symlink(fuse_req_t req, const char *l, fuse_ino_t p, const char *n) { refuse(req); (void)l; (void)p; (void)n; }
static void op_rename(fuse_req_t req, fuse_ino_t p, const char *n, fuse_ino_t np, const char *nn, unsigned int f) {
  refuse(req); (void)p; (void)n; (void)np; (void)nn; (void)f;
}
static void op_link(fuse_req_t req, fuse_ino_t i, fuse_ino_t p, const char *n) { refuse(req); (void)i; (void)p; (void)n; }
static void op_create(fuse_req_t req, fuse_ino_t p, const char *n, mode_t mode, struct fuse_file_info *fi) {
  refuse(req); (void)p; (void)n; (void)mode; (void)fi;
}
static void op_setxattr(fuse_req_t req, fuse_ino_t i, const char *n, const char *v, size_t s, int f) {
  refuse(req); (void)i; (void)n; (void)v; (void)s; (void)f;
}
static void op_removexattr(fuse_req_t req, fuse_ino_t i, const char *n) { refuse(req); (void)i; (void)n; }

/* ---------- descriptions: user.procstat.kind, .help and .unit ---------- */

static const char *const xattr_names[X_COUNT] = { "user.procstat.kind", "user.procstat.help", "user.procstat.unit" };

/** procstat/'s own files describe themselves the same way. */
static const char *const local_descriptions[LOCAL_KINDS][X_COUNT] = {
  [LOCAL_BLOCKED_MS] = { "gauge", "how long the event loop has not answered (0 when it is healthy)", "ms" },
  [LOCAL_STALE_READS] = { "counter", "reads answered at the deadline with the last content served (a read answered EAGAIN is not counted)", NULL },
  [LOCAL_STALL_STACK] = { "stat", "the blocked main thread's stack while the event loop is stalled", NULL },
  [LOCAL_STALL_COUNT] = { "counter", "stalls of the event loop past the threshold", NULL },
  [LOCAL_STALL_LONGEST] = { "gauge", "the longest stall of the event loop", "ms" },
  [LOCAL_RECORD] = { "stat", "one stall: when it began, how long it lasted, the stack taken during it", NULL },
};

static const char *xattr_of(mount_t *m, node_t *n, int which) {
  if (n->local) return local_descriptions[n->local][which];
  if (n->description) return m->descriptions[n->description - 1].text[which];
  return NULL;
}

/** Copies the attribute (or, with `name` NULL, the list of names) under the lock; -errno on failure. */
static ssize_t copy_xattr(mount_t *m, fuse_ino_t ino, const char *name, char **copy) {
  ssize_t len = 0;
  *copy = NULL;
  lock_tree(m);
  node_t *n = find(m, ino);
  if (!n || n->gone) len = -ENOENT;
  else if (name) {
    const char *value = NULL;
    for (int x = 0; x < X_COUNT; x++) if (strcmp(name, xattr_names[x]) == 0) value = xattr_of(m, n, x);
    if (!value) len = -ENODATA;
    else if (!(*copy = strdup(value))) len = -ENOMEM;
    else len = (ssize_t)strlen(value);
  } else {
    char list[128];
    for (int x = 0; x < X_COUNT; x++) {
      if (!xattr_of(m, n, x)) continue;
      memcpy(list + len, xattr_names[x], strlen(xattr_names[x]) + 1);
      len += (ssize_t)strlen(xattr_names[x]) + 1;
    }
    if (len && !(*copy = malloc((size_t)len))) len = -ENOMEM;
    else if (len) memcpy(*copy, list, (size_t)len);
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
  return len;
}

/** size 0 asks for the length; a buffer too small is ERANGE (getxattr(2)). */
static void reply_xattr(fuse_req_t req, ssize_t len, char *copy, size_t size) {
  if (len < 0) fuse_reply_err(req, (int)-len);
  else if (size == 0) fuse_reply_xattr(req, (size_t)len);
  else if ((size_t)len > size) fuse_reply_err(req, ERANGE);
  else fuse_reply_buf(req, copy, (size_t)len);
  free(copy);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
  char *copy;
  ssize_t len = copy_xattr(mount_of(req), ino, name, &copy);
  reply_xattr(req, len, copy, size);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  char *copy;
  ssize_t len = copy_xattr(mount_of(req), ino, NULL, &copy);
  reply_xattr(req, len, copy, size);
}

static const struct fuse_lowlevel_ops operations = {
  .lookup = op_lookup, .forget = op_forget, .forget_multi = op_forget_multi, .getattr = op_getattr,
  .setattr = op_setattr, .open = op_open, .read = op_read, .write = op_write, .flush = op_flush,
  .release = op_release, .opendir = op_opendir, .readdir = op_readdir, .readdirplus = op_readdirplus,
  .releasedir = op_releasedir, .mknod = op_mknod, .mkdir = op_mkdir, .unlink = op_unlink, .rmdir = op_unlink,
  .symlink = op_symlink, .rename = op_rename, .link = op_link, .create = op_create, .setxattr = op_setxattr,
  .removexattr = op_removexattr, .getxattr = op_getxattr, .listxattr = op_listxattr,
};

/* ---------- threads ---------- */

/** The addon's threads never run the SIGINT/SIGTERM handler: it waits for the FUSE thread. */
static void block_fatal_signals(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/**
 * The FUSE thread: reads every request from the device and answers it, from the table or by
 * queueing what needs JavaScript for the main thread. A poll on the stop descriptor ends it.
 */
static void *loop_main(void *arg) {
  mount_t *m = arg;
  block_fatal_signals();
  pthread_setname_np(pthread_self(), "procstat-fuse");  /* the addon's own, as ps -T shows */
  struct fuse_buf buf = { .mem = NULL };
  struct pollfd fds[2] = { { .fd = m->stop_fd, .events = POLLIN }, { .fd = m->fuse_fd, .events = POLLIN } };
  while (!fuse_session_exited(m->se)) {
    fds[1].revents = 0;
    turn_followed = 0;
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents) break;
    if (fds[1].revents & (POLLERR | POLLHUP | POLLNVAL)) break;
    if (!fds[1].revents) continue;
    // A reader's next request usually follows within microseconds (the READ after an OPEN, grep's
    // next file): looking for it a moment costs less than sleeping and being woken for it.
    double wait_ends = 0;
    int res;
    while ((res = fuse_session_receive_buf(m->se, &buf)) > 0 || res == -EINTR || res == -EAGAIN) {
      if (res > 0) { fuse_session_process_buf(m->se, &buf); wait_ends = 0; continue; }
      if (res == -EINTR) continue;
      double now = now_ms();
      if (wait_ends == 0) wait_ends = now + NEXT_REQUEST_WAIT_MS;
      else if (now >= wait_ends) break;
    }
    if (res <= 0 && res != -EAGAIN && res != -EINTR) break;   /* the connection has ended */
  }
  free(buf.mem);
  m->loop_exited = 1;
  return NULL;
}

/**
 * Tells the kernel about removed entries. A thread of its own: the kernel's invalidation waits for
 * the directory's lock, which a lookup in that directory holds until it is answered, and that
 * answer may be one the timer thread gives at the deadline.
 */
static void *notify_main(void *arg) {
  mount_t *m = arg;
  block_fatal_signals();
  pthread_setname_np(pthread_self(), "procstat-notify");  /* the addon's own, as ps -T shows */
  // Not lock_tree(): an invalidation must not wait for queued changes to be applied first.
  pthread_mutex_lock(&m->lock);
  while (!m->stopping) {
    inval_t *i = m->inval_head;
    if (!i) { pthread_cond_wait(&m->inval_wake, &m->lock); continue; }
    m->inval_head = i->next;
    if (!m->inval_head) m->inval_tail = NULL;
    pthread_mutex_unlock(&m->lock);
    send_later();
    fuse_lowlevel_notify_inval_entry(m->se, i->parent, i->name, strlen(i->name));
    free(i->name);
    free(i);
    pthread_mutex_lock(&m->lock);
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
  return NULL;
}

/** Answers requests that JavaScript has not answered within the deadline. */
static void *timer_main(void *arg) {
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

/* ---------- the main thread's side ---------- */

#define CHECK(call) do { if ((call) != napi_ok) goto fail; } while (0)

static void unlink_write(mount_t *m, write_req_t *w) {
  if (w->prev) w->prev->next = w->next; else m->writes = w->next;
  if (w->next) w->next->prev = w->prev;
}

static napi_value call_handler(napi_env env, napi_ref ref, int argc, napi_value *argv) {
  napi_value fn, global, result = NULL;
  if (napi_get_reference_value(env, ref, &fn) != napi_ok || napi_get_global(env, &global) != napi_ok) return NULL;
  if (napi_call_function(env, global, fn, (size_t)argc, argv, &result) != napi_ok) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);  /* the handlers catch their own errors */
    return NULL;
  }
  return result;
}

/** The JavaScript answer: a string (the content) or a number (an errno). */
static int read_result(napi_env env, napi_value result, char **content, size_t *len) {
  napi_valuetype type;
  if (!result || napi_typeof(env, result, &type) != napi_ok) return EIO;
  if (type == napi_number) {
    int32_t err = EIO;
    napi_get_value_int32(env, result, &err);
    return err > 0 ? err : EIO;
  }
  if (type != napi_string || napi_get_value_string_utf8(env, result, NULL, 0, len) != napi_ok) return EIO;
  *content = malloc(*len + 1);
  if (!*content) return ENOMEM;
  napi_get_value_string_utf8(env, result, *content, *len + 1, len);
  return 0;
}

static void finish_list(napi_env env, mount_t *m, uint64_t ino) {
  // Where the node is, too: JavaScript may have told this entry without making its node (an instance's directory).
  char name[256] = "";
  uint64_t parent = 0;
  lock_tree(m);
  node_t *listed = find(m, ino);
  if (listed) {
    parent = listed->parent;
    snprintf(name, sizeof name, "%s", listed->name ? listed->name : "");
  }
  pthread_mutex_unlock(&m->lock);
  napi_value args[3], result;
  napi_create_double(env, (double)ino, &args[0]);
  napi_create_double(env, (double)parent, &args[1]);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &args[2]);
  result = call_handler(env, m->on_list, 3, args);
  int32_t err = EIO;
  if (result) napi_get_value_int32(env, result, &err);
  lock_tree(m);
  node_t *n = find(m, ino);
  if (n) {
    n->inflight = 0;
    if (!err) n->listed = 1;
    for (waiter_t *w = n->waiters, *following; w; w = following) {
      following = w->next;
      unlink_waiter(m, w);
      settle(m, w, NULL, 0, n->gone ? ENOENT : err);
      free_waiter(w);
    }
    maybe_free(m, n);
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
}

static void finish_write(napi_env env, mount_t *m, write_req_t *w) {
  lock_tree(m);
  int taken = w->state == WRITE_PENDING;
  if (taken) w->state = WRITE_TAKEN;
  unlink_write(m, w);
  pthread_mutex_unlock(&m->lock);
  send_later();
  if (taken) {
    napi_value args[2], result;
    void *data;
    napi_create_double(env, (double)w->ino, &args[0]);
    napi_create_buffer_copy(env, w->len, w->data ? w->data : "", &data, &args[1]);
    result = call_handler(env, m->on_write, 2, args);
    int32_t err = EIO;
    if (result) napi_get_value_int32(env, result, &err);
    // Values produced before the write may show what it changed: none is served without a call now.
    lock_tree(m);
    m->fresh_after = now_ms();
    pthread_mutex_unlock(&m->lock);
    if (err) fuse_reply_err(w->req, err);
    else if (w->is_flush) fuse_reply_err(w->req, 0);
    else fuse_reply_write(w->req, w->reply_size);
  }
  free(w->data);
  free(w);
}

static void release_mount(mount_t *m);

/** A call that will not run: unmounted, its request was answered at unmount. */
static void drop_call(call_t *c) {
  if (c->kind == CALL_WRITE) {
    free(c->write->data);
    free(c->write);
  }
  free(c);
}

/** A call is starting: the loop is alive, so what still waits is timed from now (see stuck()). */
static void started(mount_t *m, call_t *c) {
  if (!c->prefetch && m->queued > 0 && --m->queued > 0) m->queued_since = now_ms();
}

static void run_call(napi_env env, mount_t *m, call_t *c) {
  lock_tree(m);
  started(m, c);
  pthread_mutex_unlock(&m->lock);
  send_later();
  if (c->kind == CALL_LIST) finish_list(env, m, c->ino);
  else finish_write(env, m, c->write);
  free(c);
}

/** Puts calls that did not run back at the head of the queue, in their order; the loop runs them next turn. */
static void put_back(mount_t *m, call_t *first, call_t *last) {
  if (!first) return;
  lock_tree(m);
  last->next = m->calls;
  if (!m->calls) m->calls_tail = last;
  m->calls = first;
  pthread_mutex_unlock(&m->lock);
  if (m->calls_wake) uv_async_send(m->calls_wake);
}

/** Where a batch's answer lands: the node's content, and every open waiting for it. */
static void produced(mount_t *m, node_t *n, int err, char *content, size_t len, double began, int prefetch) {
  if (!err) {
    // A late answer still becomes the last value.
    free(n->content);
    n->content = content;
    n->content_len = len;
    n->has_content = 1;
    n->produced = began;
    n->prefetched = prefetch && !n->waiters;
  }
  for (waiter_t *w = n->waiters, *following; w; w = following) {
    following = w->next;
    unlink_waiter(m, w);
    settle(m, w, n->content, n->content_len, err);
    free_waiter(w);
  }
}

/**
 * One JavaScript call for every value queued: read([ino, …], budgetMs) → [content or errno, …],
 * shorter when the budget ran out. Files asked for by an open come first; a file nobody waits for
 * that was not reached is dropped, one an open waits for goes back to the queue (`left`).
 */
static void run_reads(napi_env env, mount_t *m, call_t *reads, size_t count, double budget, call_t **left_first, call_t **left_last) {
  call_t **batch = calloc(count ? count : 1, sizeof *batch);
  napi_value array, args[2], result = NULL;
  size_t used = 0;
  lock_tree(m);
  for (int pass = 0; pass < 2; pass++) {
    for (call_t *c = reads; c; c = c->next) {
      if (c->prefetch != pass) continue;
      node_t *n = find(m, c->ino);
      if (batch && n && !n->gone) { batch[used++] = c; started(m, c); continue; }
      if (n) { n->inflight = 0; maybe_free(m, n); }
      if (!c->prefetch) started(m, c);
    }
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
  if (!batch) { while (reads) { call_t *next = reads->next; free(reads); reads = next; } return; }
  double began = now_ms();
  if (napi_create_array_with_length(env, used, &array) == napi_ok) {
    for (size_t i = 0; i < used; i++) {
      napi_value ino;
      napi_create_double(env, (double)batch[i]->ino, &ino);
      napi_set_element(env, array, (uint32_t)i, ino);
    }
    args[0] = array;
    napi_create_double(env, budget, &args[1]);
    result = call_handler(env, m->on_read, 2, args);
  }
  uint32_t done = 0;
  bool is_array = false;
  if (result && napi_is_array(env, result, &is_array) == napi_ok && is_array) napi_get_array_length(env, result, &done);
  if (done > used) done = (uint32_t)used;
  char **contents = calloc(done ? done : 1, sizeof *contents);
  size_t *lens = calloc(done ? done : 1, sizeof *lens);
  int *errs = calloc(done ? done : 1, sizeof *errs);
  for (uint32_t i = 0; contents && lens && errs && i < done; i++) {
    napi_value element = NULL;
    napi_get_element(env, result, i, &element);
    errs[i] = read_result(env, element, &contents[i], &lens[i]);
  }
  if (!contents || !lens || !errs) done = 0;
  lock_tree(m);
  for (size_t i = 0; i < used; i++) {
    call_t *c = batch[i];
    node_t *n = find(m, c->ino);
    if (n && i >= done && n->waiters && !n->gone) {
      // Not reached within the budget: an open waits for it, so it runs next turn.
      c->prefetch = 0;
      c->next = NULL;
      if (*left_last) (*left_last)->next = c; else *left_first = c;
      *left_last = c;
      if (m->queued++ == 0) m->queued_since = now_ms();
      continue;
    }
    if (n) {
      n->inflight = 0;
      if (i < done) {
        produced(m, n, errs[i], contents[i], lens[i], began, c->prefetch);
        if (!errs[i]) contents[i] = NULL;
      } else {
        fail_waiters(m, n, EIO);
      }
      maybe_free(m, n);
    }
    free(c);
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
  for (uint32_t i = 0; contents && i < done; i++) free(contents[i]);
  free(contents);
  free(lens);
  free(errs);
  free(batch);
}

static call_t *take_calls(mount_t *m) {
  lock_tree(m);
  call_t *c = m->calls;
  m->calls = m->calls_tail = NULL;
  pthread_mutex_unlock(&m->lock);
  return c;
}

/**
 * Runs the calls queued, within the budget of one turn of the loop: listings and writes one by one
 * (at least one per turn), then every value in one batch (run_reads) with the time left. What did
 * not fit goes back to the queue for the next turn, after the program's own callbacks. One
 * callback: the program's promise reactions and nextTick callbacks run after the batch, as after
 * any I/O callback.
 */
static void run_calls(mount_t *m) {
  napi_env env = m->env;
  double began = now_ms();
  call_t *c = take_calls(m);
  napi_handle_scope scope;
  napi_callback_scope callback_scope = NULL;
  napi_value resource;
  if (!c) return;
  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    call_t *last = c;
    while (last->next) last = last->next;
    put_back(m, c, last);
    return;
  }
  if (napi_create_object(env, &resource) == napi_ok) napi_open_callback_scope(env, resource, m->async_context, &callback_scope);
  call_t *reads = NULL, *reads_last = NULL, *left = NULL, *left_last = NULL;
  size_t read_count = 0;
  int ran = 0;
  while (c) {
    call_t *next = c->next;
    c->next = NULL;
    if (!m->mounted) drop_call(c);                        /* unmounted by a call before it */
    else if (c->kind == CALL_READ) {
      if (reads_last) reads_last->next = c; else reads = c;
      reads_last = c;
      read_count++;
    } else if (ran && now_ms() - began >= m->budget_ms) {
      if (left_last) left_last->next = c; else left = c;
      left_last = c;
    } else {
      run_call(env, m, c);
      ran = 1;
    }
    c = next;
  }
  if (reads && !m->mounted) {
    while (reads) { call_t *next = reads->next; drop_call(reads); reads = next; }
  } else if (reads) {
    double budget = m->budget_ms - (now_ms() - began);
    run_reads(env, m, reads, read_count, budget > 0 ? budget : 0, &left, &left_last);
  }
  if (left && !m->mounted) {
    while (left) { call_t *next = left->next; drop_call(left); left = next; }
  } else if (left) {
    put_back(m, left, left_last);
  }
  if (callback_scope) napi_close_callback_scope(env, callback_scope);
  napi_close_handle_scope(env, scope);
}

static void on_calls(uv_async_t *async) {
  run_calls(async->data);
}

static void calls_closed(uv_handle_t *handle) {
  mount_t *m = handle->data;
  free(handle);
  release_mount(m);
}

/** Once the FUSE thread has stopped, no call comes any more: the queue is dropped and the wake closed. */
static void close_calls(mount_t *m) {
  while (m->calls) {
    call_t *c = m->calls;
    m->calls = c->next;
    drop_call(c);
  }
  m->calls_tail = NULL;
  if (m->async_context) napi_async_destroy(m->env, m->async_context);
  m->async_context = NULL;
  if (m->calls_wake) uv_close((uv_handle_t *)m->calls_wake, calls_closed);
  m->calls_wake = NULL;
}

static void record_stall(mount_t *m, double began, double duration);

/** Every HEARTBEAT_MS on the main thread; a beat that comes late ends a stall, which is recorded. */
static void on_beat(uv_timer_t *timer) {
  mount_t *m = timer->data;
  double now = now_ms(), before = m->last_beat;
  m->last_beat = now;
  if (m->stall_threshold_ms > 0 && now - before >= m->stall_threshold_ms) record_stall(m, before, now - before);
}

static void close_handle(uv_handle_t *handle) {
  free(handle);
}

/* ---------- SIGINT and SIGTERM: the mount goes first, then the signal does what it would have done ---------- */

/*
 * Every live mount, for the signal handler and the stall watcher: a list linked through the mounts
 * (no limit), changed under live_lock. The handler only follows it: a mount is linked once whole,
 * and unlinked before it is freed.
 */
static mount_t *volatile live_head;
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static const int fatal_signals[2] = { SIGINT, SIGTERM };
static struct sigaction previous_action[2];
static int handler_installed[2];
static int live_mounts;

/**
 * Async-signal-safe: closes every mount's device (the connection is aborted, no reader stays
 * stuck) and fusermount3's socket, waits for fusermount3 to remove the mount, then puts back the
 * action that was there before procstat (Node's own, which ends the process by that signal) and
 * raises the signal again. Nothing here needs the main thread, so a stuck loop dies all the same.
 */
static void on_fatal_signal(int sig) {
  uint64_t one = 1;
  for (mount_t *m = live_head; m; m = m->next_live) if (write(m->stop_fd, &one, sizeof one) < 0) {}
  // The device is released only once the FUSE thread has left poll(); then closing it aborts the
  // connection, and fusermount3 sees a dead mount (ENOTCONN) and removes it. Bounded: 500 ms.
  struct timespec ms = { 0, 1000000 };
  for (mount_t *m = live_head; m; m = m->next_live) {
    for (int t = 0; !m->loop_exited && t < 500; t++) nanosleep(&ms, NULL);
  }
  // Aborted first: a notify thread blocked in the kernel keeps the device open (its write holds it),
  // so closing the descriptor alone would neither end the connection nor let fusermount3 remove it.
  for (mount_t *m = live_head; m; m = m->next_live) {
    int fd = m->abort_path[0] ? open(m->abort_path, O_WRONLY) : -1;
    if (fd >= 0) {
      if (write(fd, "1", 1) < 0) { /* closing the device below is the other way */ }
      close(fd);
    }
  }
  for (mount_t *m = live_head; m; m = m->next_live) { close(m->fuse_fd); close(m->helper_sock); }
  // Bounded too: should the connection outlive the descriptor, fusermount3 could wait on it.
  for (mount_t *m = live_head; m; m = m->next_live) {
    for (int t = 0; m->helper > 0 && t < 1000; t++) {
      if (waitpid(m->helper, NULL, WNOHANG) != 0) break;
      nanosleep(&ms, NULL);
    }
  }
  int k = sig == SIGINT ? 0 : 1;
  sigaction(sig, &previous_action[k], NULL);
  raise(sig);
}

/** Keeps this library loaded for good: a signal handler must never point into an unloaded addon (a worker's). */
static void pin_library(void) {
  static int pinned;
  Dl_info info;
  if (pinned || !dladdr((void *)on_fatal_signal, &info) || !info.dli_fname) return;
  if (dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE)) pinned = 1;
}

/** `take_signals` is false for a signal the program listens to itself: then its handler decides. */
static void track_mount(mount_t *m, const int take_signals[2]) {
  static uint32_t last_id;
  pthread_mutex_lock(&live_lock);
  m->id = ++last_id;
  m->next_live = live_head;
  __atomic_store_n(&live_head, m, __ATOMIC_RELEASE);
  if (live_mounts++ == 0) {
    pin_library();
    for (int k = 0; k < 2; k++) {
      struct sigaction ours;
      memset(&ours, 0, sizeof ours);
      ours.sa_handler = on_fatal_signal;
      sigfillset(&ours.sa_mask);
      handler_installed[k] = take_signals[k] && sigaction(fatal_signals[k], &ours, &previous_action[k]) == 0;
    }
  }
  pthread_mutex_unlock(&live_lock);
}

static void untrack_mount(mount_t *m) {
  pthread_mutex_lock(&live_lock);
  for (mount_t *volatile *p = &live_head; *p; p = &(*p)->next_live) {
    if (*p == m) { *p = m->next_live; break; }
  }
  if (--live_mounts == 0) {
    for (int k = 0; k < 2; k++) {
      struct sigaction current;
      // Only if it is still ours: a listener the program added since has replaced it.
      if (handler_installed[k] && sigaction(fatal_signals[k], NULL, &current) == 0 && current.sa_handler == on_fatal_signal) {
        sigaction(fatal_signals[k], &previous_action[k], NULL);
      }
      handler_installed[k] = 0;
    }
  }
  pthread_mutex_unlock(&live_lock);
}

/* ---------- mounting: fusermount3 with auto_unmount, its socket kept until unmount ---------- */

static int receive_fd(int sock) {
  char byte;
  struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
  char control[CMSG_SPACE(sizeof(int))];
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
  ssize_t res;
  do res = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); while (res < 0 && errno == EINTR);
  if (res <= 0) return -1;
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
  if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
  return fd;
}

/**
 * Runs `fusermount3 -o OPTIONS -- MOUNTPOINT` with the socket as its fd 3, without a shell. With
 * auto_unmount it stays alive holding the socket and unmounts when the socket closes and the
 * connection is dead: when this process dies by any signal, or after unmount() closed /dev/fuse.
 */
static int spawn_fusermount(mount_t *m, const char *mountpoint, const char *options, char *error, size_t error_size) {
  int sv[2], errpipe[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) { snprintf(error, error_size, "socketpair: %s", strerror(errno)); return -1; }
  if (pipe2(errpipe, O_CLOEXEC) < 0) { close(sv[0]); close(sv[1]); snprintf(error, error_size, "pipe: %s", strerror(errno)); return -1; }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, sv[1], 3);
  posix_spawn_file_actions_adddup2(&actions, errpipe[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  size_t envc = 0;
  while (environ[envc]) envc++;
  char **env = calloc(envc + 2, sizeof *env);
  size_t k = 0;
  for (size_t i = 0; env && i < envc; i++) if (strncmp(environ[i], "_FUSE_COMMFD=", 13) != 0) env[k++] = environ[i];
  if (env) env[k++] = "_FUSE_COMMFD=3";
  char *argv[] = { "fusermount3", "-o", (char *)options, "--", (char *)mountpoint, NULL };
  int res = env ? posix_spawnp(&m->helper, "fusermount3", &actions, &attr, argv, env) : ENOMEM;
  free(env);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(sv[1]);
  close(errpipe[1]);
  if (res != 0) {
    close(sv[0]);
    close(errpipe[0]);
    snprintf(error, error_size, res == ENOENT ? "ENOFUSERMOUNT" : "spawning fusermount3: %s", strerror(res));
    return -1;
  }
  int fd = receive_fd(sv[0]);
  if (fd < 0) {
    waitpid(m->helper, NULL, 0);
    m->helper = 0;
    ssize_t got = read(errpipe[0], error, error_size - 1);
    error[got > 0 ? got : 0] = 0;
    while (got > 0 && (error[got - 1] == '\n')) error[--got] = 0;
    if (!error[0]) snprintf(error, error_size, "fusermount3 failed");
    close(errpipe[0]);
    close(sv[0]);
    return -1;
  }
  close(errpipe[0]);
  // A dying process's descriptors close in order: the device first (the connection is then dead),
  // then the socket that wakes fusermount3, which removes a mount only when it finds it dead.
  int sock = fcntl(sv[0], F_DUPFD_CLOEXEC, fd + 1);
  if (sock >= 0) { close(sv[0]); sv[0] = sock; }
  m->helper_sock = sv[0];
  return fd;
}

/**
 * Answers every waiting request, stops the timer and notify threads while the FUSE thread still
 * answers the kernel (a pending invalidation may wait on a lookup), then stops the FUSE thread,
 * closes /dev/fuse (which aborts the connection: no reader stays stuck) and lets fusermount3
 * remove the mount.
 */
static void shutdown_mount(mount_t *m) {
  if (!m->mounted) return;
  m->mounted = 0;
  if (m->tracked) untrack_mount(m);
  lock_tree(m);
  m->stopping = 1;
  while (m->oldest) {
    waiter_t *w = m->oldest;
    unlink_waiter(m, w);
    later_err(w->req, ENOTCONN);
    free_waiter(w);
  }
  for (write_req_t *w = m->writes; w; w = w->next) if (w->state == WRITE_PENDING) { w->state = WRITE_CANCELLED; later_err(w->req, ENOTCONN); }
  pthread_cond_signal(&m->wake);
  pthread_cond_signal(&m->inval_wake);
  pthread_mutex_unlock(&m->lock);
  send_later();
  if (m->threads_started) {
    pthread_join(m->timer_thread, NULL);
    pthread_join(m->notify_thread, NULL);
  }
  uint64_t one = 1;
  if (write(m->stop_fd, &one, sizeof one) < 0) { /* the loop also ends when the device closes */ }
  if (m->threads_started) pthread_join(m->loop_thread, NULL);
  if (m->se) fuse_session_destroy(m->se);  /* closes /dev/fuse once the session has it */
  if (!m->session_owns_fd && m->fuse_fd >= 0) close(m->fuse_fd);
  m->se = NULL;
  close(m->stop_fd);
  if (m->helper_sock >= 0) close(m->helper_sock);
  if (m->helper > 0) {
    int status;
    while (waitpid(m->helper, &status, 0) < 0 && errno == EINTR) {}
  }
  if (m->watch_fd >= 0) close(m->watch_fd);  /* the watcher sees its pipe end and exits */
  if (m->watcher > 0) {
    int status;
    while (waitpid(m->watcher, &status, 0) < 0 && errno == EINTR) {}
  }
  while (m->inval_head) {
    inval_t *i = m->inval_head;
    m->inval_head = i->next;
    free(i->name);
    free(i);
  }
  if (m->heartbeat) {
    uv_timer_stop(m->heartbeat);
    uv_close((uv_handle_t *)m->heartbeat, close_handle);
    m->heartbeat = NULL;
  }
}

static void free_table(mount_t *m) {
  for (size_t b = 0; b < m->ino_buckets; b++) {
    for (node_t *n = m->by_ino[b], *next; n; n = next) {
      next = n->ino_next;
      free(n->name);
      free(n->content);
      free(n);
    }
  }
  free(m->by_ino);
  free(m->by_entry);
}

static void release_mount(mount_t *m) {
  if (--m->refs > 0) return;
  for (op_t *op = m->ops, *next; op; op = next) {
    next = op->next;
    free(op);
  }
  free_table(m);
  for (uint32_t i = 0; i < m->description_count; i++) for (int x = 0; x < X_COUNT; x++) free(m->descriptions[i].text[x]);
  free(m->descriptions);
  free(m->stack);
  pthread_mutex_destroy(&m->lock);
  pthread_mutex_destroy(&m->ops_lock);
  pthread_cond_destroy(&m->wake);
  pthread_cond_destroy(&m->inval_wake);
  free(m);
}

static void cleanup_hook(void *arg) {
  mount_t *m = arg;
  if (!m->mounted) return;
  shutdown_mount(m);
  napi_delete_reference(m->env, m->on_read);
  napi_delete_reference(m->env, m->on_list);
  napi_delete_reference(m->env, m->on_write);
  close_calls(m);
}

static void handle_finalize(napi_env env, void *data, void *hint) {
  mount_t *m = data;
  (void)hint;
  if (m->mounted) {
    napi_remove_env_cleanup_hook(env, cleanup_hook, m);
    cleanup_hook(m);
  }
  release_mount(m);
}

static napi_value throw_error(napi_env env, const char *code, const char *message) {
  napi_throw_error(env, code, message);
  return NULL;
}

static mount_t *get_mount(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok) return NULL;
  return data;
}

static napi_ref ref_of(napi_env env, napi_value handlers, const char *name) {
  napi_value fn;
  napi_ref ref = NULL;
  if (napi_get_named_property(env, handlers, name, &fn) == napi_ok) napi_create_reference(env, fn, 1, &ref);
  return ref;
}

static void add_stall_dir(mount_t *m, node_t *status);

static void add_status_dir(mount_t *m) {
  node_t *root = find(m, ROOT_INO);
  node_t *dir = insert(m, root, STATUS_INO_BASE, "procstat", S_IFDIR | 0755, F_DIR);
  node_t *blocked = insert(m, dir, STATUS_INO_BASE + 1, "event_loop_blocked_ms", S_IFREG | 0444, 0);
  node_t *stale = insert(m, dir, STATUS_INO_BASE + 2, "stale_reads", S_IFREG | 0444, 0);
  if (blocked) blocked->local = LOCAL_BLOCKED_MS;
  if (stale) stale->local = LOCAL_STALE_READS;
  add_stall_dir(m, dir);
}

/** mount(mountpoint, fusermountOptions, deadlineMs, { read, list, write }, takeSigint, takeSigterm, stallThresholdMs, budgetMs) → handle */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8], handle, name;
  bool take_sigint = false, take_sigterm = false;
  char mountpoint[4096], options[1024], error[512] = "";
  double deadline, stall_threshold = 0, budget = 1;
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) return throw_error(env, "EINVAL", "mount: 4 arguments");
  if (napi_get_value_string_utf8(env, argv[0], mountpoint, sizeof mountpoint, &len) != napi_ok) return throw_error(env, "EINVAL", "mount: path");
  if (napi_get_value_string_utf8(env, argv[1], options, sizeof options, &len) != napi_ok) return throw_error(env, "EINVAL", "mount: options");
  if (napi_get_value_double(env, argv[2], &deadline) != napi_ok) return throw_error(env, "EINVAL", "mount: deadline");
  if (argc >= 6) { napi_get_value_bool(env, argv[4], &take_sigint); napi_get_value_bool(env, argv[5], &take_sigterm); }
  if (argc >= 7) napi_get_value_double(env, argv[6], &stall_threshold);
  if (argc >= 8) napi_get_value_double(env, argv[7], &budget);

  mount_t *m = calloc(1, sizeof *m);
  if (!m) return throw_error(env, "ENOMEM", "out of memory");
  pthread_mutex_init(&m->lock, NULL);
  pthread_mutex_init(&m->ops_lock, NULL);
  pthread_cond_init(&m->wake, NULL);
  pthread_cond_init(&m->inval_wake, NULL);
  m->env = env;
  m->deadline_ms = deadline;
  m->budget_ms = budget;
  m->stall_threshold_ms = stall_threshold;
  m->uid = getuid();
  m->gid = getgid();
  m->mount_time = (double)time(NULL);
  m->last_beat = now_ms();
  m->helper_sock = -1;
  m->watch_fd = -1;
  m->stop_fd = -1;
  m->fuse_fd = -1;
  m->refs = 1;
  m->ino_buckets = m->entry_buckets = 1024;
  m->by_ino = calloc(m->ino_buckets, sizeof *m->by_ino);
  m->by_entry = calloc(m->entry_buckets, sizeof *m->by_entry);
  node_t *root = m->by_ino && m->by_entry ? insert(m, NULL, ROOT_INO, "", S_IFDIR | 0755, F_DIR) : NULL;
  if (!root) { release_mount(m); return throw_error(env, "ENOMEM", "out of memory"); }
  root->listed = 1;
  add_status_dir(m);

  int fd = spawn_fusermount(m, mountpoint, options, error, sizeof error);
  if (fd < 0) { release_mount(m); return throw_error(env, strcmp(error, "ENOFUSERMOUNT") == 0 ? "ENOFUSERMOUNT" : "EMOUNT", error); }
  m->fuse_fd = fd;
  char *args_v[] = { "procstat", NULL };
  struct fuse_args args = FUSE_ARGS_INIT(1, args_v);
  char devpath[32];
  snprintf(devpath, sizeof devpath, "/dev/fd/%d", fd);
  m->se = fuse_session_new(&args, &operations, sizeof operations, m);
  if (!m->se || fuse_session_mount(m->se, devpath) != 0) {
    snprintf(error, sizeof error, "libfuse could not use the FUSE device");
    goto undo;
  }
  m->session_owns_fd = 1;
  if ((m->stop_fd = eventfd(0, EFD_CLOEXEC)) < 0) { snprintf(error, sizeof error, "eventfd: %s", strerror(errno)); goto undo; }

  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  m->heartbeat = calloc(1, sizeof *m->heartbeat);
  if (!m->heartbeat) goto undo;
  uv_timer_init(loop, m->heartbeat);
  m->heartbeat->data = m;
  uv_timer_start(m->heartbeat, on_beat, HEARTBEAT_MS, HEARTBEAT_MS);
  uv_unref((uv_handle_t *)m->heartbeat);  /* never keeps the process alive */

  m->on_read = ref_of(env, argv[3], "read");
  m->on_list = ref_of(env, argv[3], "list");
  m->on_write = ref_of(env, argv[3], "write");
  CHECK(napi_create_string_utf8(env, "procstat", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, NULL, name, &m->async_context));
  m->calls_wake = calloc(1, sizeof *m->calls_wake);
  if (!m->calls_wake || uv_async_init(loop, m->calls_wake, on_calls) != 0) { free(m->calls_wake); m->calls_wake = NULL; goto fail; }
  m->calls_wake->data = m;
  m->refs++;                      /* dropped when calls_wake has closed */
  uv_unref((uv_handle_t *)m->calls_wake);  /* never keeps the process alive */
  // Non-blocking: the FUSE thread polls it with the stop descriptor, then reads.
  int flags = fcntl(m->fuse_fd, F_GETFL);
  if (flags < 0 || fcntl(m->fuse_fd, F_SETFL, flags | O_NONBLOCK) < 0) goto fail;
  m->mounted = 1;
  if (pthread_create(&m->loop_thread, NULL, loop_main, m) != 0) goto fail;
  if (pthread_create(&m->timer_thread, NULL, timer_main, m) != 0) {
    uint64_t one = 1;
    if (write(m->stop_fd, &one, sizeof one) < 0) {}
    pthread_join(m->loop_thread, NULL);
    goto fail;
  }
  if (pthread_create(&m->notify_thread, NULL, notify_main, m) != 0) {
    lock_tree(m);
    m->stopping = 1;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->lock);
  send_later();
    pthread_join(m->timer_thread, NULL);
    uint64_t one = 1;
    if (write(m->stop_fd, &one, sizeof one) < 0) {}
    pthread_join(m->loop_thread, NULL);
    goto fail;
  }
  m->threads_started = 1;
  const int take[2] = { take_sigint, take_sigterm };
  track_mount(m, take);
  m->tracked = 1;
  CHECK(napi_add_env_cleanup_hook(env, cleanup_hook, m));
  CHECK(napi_create_external(env, m, handle_finalize, NULL, &handle));
  return handle;

fail:
  snprintf(error, sizeof error, "could not start the FUSE threads");
undo:
  m->mounted = 1;
  shutdown_mount(m);
  close_calls(m);
  release_mount(m);
  return throw_error(env, "EMOUNT", error);
}

/** add(handle, parentIno, ino, name, flags, mode[, description]): flags F_DIR | F_LAZY | F_HIDDEN. */
static napi_value js_add(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  double parent, ino;
  int32_t flags, mode;
  uint32_t description = 0;
  char name[256];
  size_t len;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  mount_t *m = argc >= 6 ? get_mount(env, argv[0]) : NULL;
  if (argc == 7) napi_get_value_uint32(env, argv[6], &description);
  if (!m || napi_get_value_double(env, argv[1], &parent) != napi_ok || napi_get_value_double(env, argv[2], &ino) != napi_ok ||
      napi_get_value_string_utf8(env, argv[3], name, sizeof name, &len) != napi_ok ||
      napi_get_value_int32(env, argv[4], &flags) != napi_ok || napi_get_value_int32(env, argv[5], &mode) != napi_ok) {
    return throw_error(env, "EINVAL", "add(handle, parent, ino, name, flags, mode)");
  }
  if (!m->mounted) return NULL;
  op_t *op = malloc(sizeof *op + len + 1);
  if (!op) return throw_error(env, "ENOMEM", "out of memory");
  *op = (op_t){ .kind = OP_ADD, .flags = flags, .mode = (uint32_t)mode, .description = description,
                .parent = (uint64_t)parent, .ino = (uint64_t)ino };
  memcpy(op->name, name, len + 1);
  queue_op(m, op);
  return NULL;
}

/* ---------- the watcher: a process killed by a signal must never leave its mount stuck ---------- */

static volatile sig_atomic_t mounting_thread_died;

static void note_death(int sig) {
  (void)sig;
  mounting_thread_died = 1;
}

/**
 * The watcher process, forked by the thread that mounted (so: system calls only). A process killed
 * while its notify thread waits in the kernel (fuse_reverse_inval_entry) for a directory lock that a
 * reader's lookup holds, a lookup only this process could answer, never finishes dying: that thread
 * cannot be killed, so /dev/fuse is never closed, the connection never aborted, and the mount and its
 * readers stay stuck. The watcher holds only a pipe whose other end the mount holds. At its end
 * (unmount, or the whole process gone) it exits; when the mounting thread dies (PR_SET_PDEATHSIG) and
 * the end does not follow within 200 ms, it aborts the connection through fusectl, which answers every
 * waiting request and lets the process finish dying.
 */
/** Whether the thread whose /proc stat file is `stat_path` is exiting or dumping core (PF_EXITING, PF_DUMPCORE): system calls only. */
static int thread_dying(const char *stat_path) {
  char text[1024];
  int fd = open(stat_path, O_RDONLY);
  if (fd < 0) return 1;                        /* gone */
  ssize_t len = read(fd, text, sizeof text - 1);
  close(fd);
  if (len <= 0) return 1;
  text[len] = 0;
  char *at = strrchr(text, ')');               /* the command name may hold spaces and parentheses */
  // After ") ": state, ppid, pgrp, session, tty_nr, tpgid, then flags.
  for (int field = 0; at && field < 7; field++) at = strchr(at + 1, ' ');
  if (!at) return 0;
  unsigned long flags = 0;
  for (at++; *at >= '0' && *at <= '9'; at++) flags = flags * 10 + (unsigned long)(*at - '0');
  return (flags & (0x4 /* PF_EXITING */ | 0x200 /* PF_DUMPCORE */)) != 0;
}

static void watch_main(int read_fd, int write_fd, pid_t parent, const char *abort_path, const char *stat_path) {
  close(write_fd);
  if (read_fd > 0) close_range(0, read_fd - 1, 0);
  close_range(read_fd + 1, ~0U, 0);
  struct sigaction ignore = { .sa_handler = SIG_IGN }, note = { .sa_handler = note_death };
  const int ignored[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR2 };
  for (size_t i = 0; i < sizeof ignored / sizeof *ignored; i++) sigaction(ignored[i], &ignore, NULL);
  sigaction(SIGUSR1, &note, NULL);
  sigset_t blocked, none;
  sigemptyset(&none);
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGUSR1);
  sigprocmask(SIG_SETMASK, &blocked, NULL);   /* taken only inside ppoll: a death is never missed */
  prctl(PR_SET_PDEATHSIG, SIGUSR1);
  if (getppid() != parent) mounting_thread_died = 1;
  struct pollfd end = { .fd = read_fd, .events = POLLIN };
  // Checked 10 times a second too: a thread dumping core has not died yet, and may never.
  struct timespec tick = { 0, 100 * 1000 * 1000 };
  while (!mounting_thread_died && !thread_dying(stat_path)) {
    if (ppoll(&end, 1, &tick, &none) > 0) _exit(0);   /* nothing is ever written: this is the end */
  }
  struct timespec grace = { 0, 200 * 1000 * 1000 };
  if (ppoll(&end, 1, &grace, &none) > 0) _exit(0);
  int fd = open(abort_path, O_WRONLY);
  if (fd >= 0 && write(fd, "1", 1) < 0) { /* nothing more to try */ }
  _exit(0);
}

/**
 * watch(handle, dev): starts the mount's watcher (watch_main); `dev` is the mount's device number
 * (stat of the mountpoint), which names its connection in fusectl. Without fusectl it does nothing.
 */
static napi_value js_watch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  double dev;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  mount_t *m = argc == 2 ? get_mount(env, argv[0]) : NULL;
  if (!m || napi_get_value_double(env, argv[1], &dev) != napi_ok) return throw_error(env, "EINVAL", "watch(handle, dev)");
  if (!m->mounted || m->watcher > 0) return NULL;
  char abort_path[64], stat_path[64];
  snprintf(abort_path, sizeof abort_path, "/sys/fs/fuse/connections/%u/abort", (unsigned)dev);
  pid_t parent = getpid();
  snprintf(stat_path, sizeof stat_path, "/proc/%d/task/%ld/stat", (int)parent, (long)syscall(SYS_gettid));
  int fds[2];
  if (access(abort_path, W_OK) != 0 || pipe2(fds, O_CLOEXEC) != 0) return NULL;
  pid_t pid = fork();
  if (pid == 0) watch_main(fds[0], fds[1], parent, abort_path, stat_path);
  close(fds[0]);
  if (pid < 0) {
    close(fds[1]);
    return NULL;
  }
  m->watcher = pid;
  m->watch_fd = fds[1];
  memcpy(m->abort_path, abort_path, sizeof abort_path);
  return NULL;
}

/** remove(handle, ino): the node and everything below it; open files of them answer ENOENT. */
static napi_value js_remove(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  double ino;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  mount_t *m = argc == 2 ? get_mount(env, argv[0]) : NULL;
  if (!m || napi_get_value_double(env, argv[1], &ino) != napi_ok) return throw_error(env, "EINVAL", "remove(handle, ino)");
  if (!m->mounted) return NULL;
  op_t *op = malloc(sizeof *op);
  if (!op) return throw_error(env, "ENOMEM", "out of memory");
  *op = (op_t){ .kind = OP_REMOVE, .ino = (uint64_t)ino };
  pthread_mutex_lock(&m->lock);
  node_t *n = find(m, (uint64_t)ino);
  // Not in the table yet (still queued) or never looked up: the kernel has no entry of it to forget.
  // Queued under the table's lock, so no lookup can come between the check and the queue.
  if (n && n->nlookup > 0) {
    apply_ops(m);  /* in order: what was queued before this removal first */
    remove_node(m, find(m, (uint64_t)ino));
    free(op);
  } else {
    queue_op(m, op);
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
  return NULL;
}

/** setHidden(handle, ino, hidden): left out of its directory's listing, still found by name. */
static napi_value js_set_hidden(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  double ino;
  bool hidden;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  mount_t *m = argc == 3 ? get_mount(env, argv[0]) : NULL;
  if (!m || napi_get_value_double(env, argv[1], &ino) != napi_ok || napi_get_value_bool(env, argv[2], &hidden) != napi_ok) {
    return throw_error(env, "EINVAL", "setHidden(handle, ino, hidden)");
  }
  if (!m->mounted) return NULL;
  lock_tree(m);
  node_t *n = find(m, (uint64_t)ino);
  if (n) n->hidden = hidden;
  pthread_mutex_unlock(&m->lock);
  send_later();
  return NULL;
}

/** unmount(handle): synchronous; safe to call twice and at process exit. */
static napi_value js_unmount(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  mount_t *m = argc == 1 ? get_mount(env, argv[0]) : NULL;
  if (!m) return throw_error(env, "EINVAL", "unmount(handle)");
  if (m->mounted) {
    napi_remove_env_cleanup_hook(env, cleanup_hook, m);
    cleanup_hook(m);
  }
  return NULL;
}

static void set_number(napi_env env, napi_value object, const char *name, double number) {
  napi_value value;
  napi_create_double(env, number, &value);
  napi_set_named_property(env, object, name, value);
}

/** status(handle) → { staleReads, blockedMs, nodes, id, stalls, longestStallMs } */
static napi_value js_status(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  mount_t *m = argc == 1 ? get_mount(env, argv[0]) : NULL;
  if (!m) return throw_error(env, "EINVAL", "status(handle)");
  napi_create_object(env, &result);
  lock_tree(m);
  double stale = (double)m->stale_reads, nodes = (double)m->count;
  double stalls = (double)m->stall_count, longest = m->stall_longest_ms;
  pthread_mutex_unlock(&m->lock);
  send_later();
  set_number(env, result, "staleReads", stale);
  set_number(env, result, "blockedMs", blocked_ms(m));
  set_number(env, result, "nodes", nodes);
  set_number(env, result, "id", m->id);
  set_number(env, result, "stalls", stalls);
  set_number(env, result, "longestStallMs", longest);
  return result;
}

/* ---------- the stall recorder: procstat/stall/ ---------- */

#define STALL_DIR_INO (STATUS_INO_BASE + 10)
#define RECENT_DIR_INO (STATUS_INO_BASE + 11)
#define RECORD_INO_BASE (STATUS_INO_BASE + 1000)  /* + the stall's number */
#define RECENT_KEEP 16

static void add_stall_dir(mount_t *m, node_t *status) {
  node_t *dir = status ? insert(m, status, STALL_DIR_INO, "stall", S_IFDIR | 0755, F_DIR) : NULL;
  if (!dir) return;
  const struct { const char *name; int local; } files[] = {
    { "stack", LOCAL_STALL_STACK }, { "count", LOCAL_STALL_COUNT }, { "longest_ms", LOCAL_STALL_LONGEST },
  };
  for (int i = 0; i < 3; i++) {
    node_t *n = insert(m, dir, STALL_DIR_INO + 2 + (uint64_t)i, files[i].name, S_IFREG | 0444, 0);
    if (n) n->local = files[i].local;
  }
  insert(m, dir, RECENT_DIR_INO, "recent", S_IFDIR | 0755, F_DIR);
}

/** `stall/stack`: how long the loop has been blocked and the stack the watcher took meanwhile. */
static void describe_stall(mount_t *m, FILE *out) {
  double before = m->last_beat, blocked = now_ms() - before;
  if (m->stall_threshold_ms <= 0) fprintf(out, "the stall recorder is off (stallThresholdMs: 0)\n");
  else if (blocked < m->stall_threshold_ms) {
    fprintf(out, "not stalled: the event loop answered %.0f ms ago (stalls past %.0f ms are recorded in recent/)\n",
      blocked, m->stall_threshold_ms);
  } else if (!m->stack || m->stack_key != before) {
    fprintf(out, "blocked for %.0f ms (threshold %.0f ms); the stack is being taken, read again\n", blocked, m->stall_threshold_ms);
  } else {
    fprintf(out, "blocked for %.0f ms (threshold %.0f ms)\n%s", blocked, m->stall_threshold_ms, m->stack);
  }
}

static void iso_time(double epoch_ms, char *buf, size_t size) {
  time_t seconds = (time_t)(epoch_ms / 1000);
  struct tm tm;
  gmtime_r(&seconds, &tm);
  size_t len = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + len, size - len, ".%03dZ", (int)((long long)epoch_ms % 1000));
}

static double epoch_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/** On the main thread, at the first beat after a stall: one file in recent/ (the last 16 kept). */
static void record_stall(mount_t *m, double began, double duration) {
  char start[40], *text = NULL;
  size_t len = 0;
  iso_time(epoch_now_ms() - duration, start, sizeof start);
  FILE *out = open_memstream(&text, &len);
  if (!out) return;
  lock_tree(m);
  fprintf(out, "start: %s\nduration_ms: %.0f\n%s", start, duration,
    m->stack && m->stack_key == began ? m->stack : "the stall ended before its stack could be taken\n");
  if (fclose(out) != 0) { free(text); text = NULL; }
  free(m->stack);
  m->stack = NULL;
  uint64_t number = ++m->stall_count;
  if (duration > m->stall_longest_ms) m->stall_longest_ms = duration;
  node_t *dir = find(m, RECENT_DIR_INO);
  char name[24];
  snprintf(name, sizeof name, "%llu", (unsigned long long)number);
  node_t *n = dir && text ? insert(m, dir, RECORD_INO_BASE + number, name, S_IFREG | 0444, 0) : NULL;
  if (n) {
    n->local = LOCAL_RECORD;
    n->content = text;
    n->content_len = len;
    text = NULL;
  }
  node_t *old = number > RECENT_KEEP ? find(m, RECORD_INO_BASE + number - RECENT_KEEP) : NULL;
  if (old && !old->gone) remove_subtree(m, old);
  pthread_mutex_unlock(&m->lock);
  send_later();
  free(text);
}

/** The mount with this id, locked (and the registry with it), or NULL; see unlock_by_id(). */
static mount_t *lock_by_id(uint32_t id) {
  pthread_mutex_lock(&live_lock);
  for (mount_t *m = live_head; m; m = m->next_live) {
    if (m->id == id) {
      pthread_mutex_lock(&m->lock);
      return m;
    }
  }
  pthread_mutex_unlock(&live_lock);
  return NULL;
}

static void unlock_by_id(mount_t *m) {
  pthread_mutex_unlock(&m->lock);
  pthread_mutex_unlock(&live_lock);
  send_later();
}

/**
 * stallState(id) → { blockedMs, key, thresholdMs, needsStack } or null once unmounted. Called by
 * the stall watcher, a worker thread: a stalled main thread cannot answer, and a healthy one is
 * never disturbed. `key` names the stall (the last beat before it) for setStallStack().
 */
static napi_value js_stall_state(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result, value;
  uint32_t id = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &id) != napi_ok) return throw_error(env, "EINVAL", "stallState(id)");
  mount_t *m = lock_by_id(id);
  if (!m) return NULL;
  double key = m->last_beat, blocked = now_ms() - key, threshold = m->stall_threshold_ms;
  bool needs = threshold > 0 && blocked >= threshold && !(m->stack && m->stack_key == key);
  unlock_by_id(m);
  napi_create_object(env, &result);
  set_number(env, result, "blockedMs", blocked);
  set_number(env, result, "key", key);
  set_number(env, result, "thresholdMs", threshold);
  napi_get_boolean(env, needs, &value);
  napi_set_named_property(env, result, "needsStack", value);
  return result;
}

/** setStallStack(id, key, text): the stack of stall `key`; dropped if that stall has ended. */
static napi_value js_set_stall_stack(napi_env env, napi_callback_info info) {
  size_t argc = 3, len = 0;
  napi_value argv[3];
  uint32_t id = 0;
  double key = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3 || napi_get_value_uint32(env, argv[0], &id) != napi_ok || napi_get_value_double(env, argv[1], &key) != napi_ok ||
      napi_get_value_string_utf8(env, argv[2], NULL, 0, &len) != napi_ok) {
    return throw_error(env, "EINVAL", "setStallStack(id, key, text)");
  }
  char *text = malloc(len + 1);
  if (!text) return throw_error(env, "ENOMEM", "out of memory");
  napi_get_value_string_utf8(env, argv[2], text, len + 1, &len);
  mount_t *m = lock_by_id(id);
  if (m && m->last_beat == key) {
    free(m->stack);
    m->stack = text;
    m->stack_key = key;
    text = NULL;
  }
  if (m) unlock_by_id(m);
  free(text);
  return NULL;
}

/* ---------- descriptions from JavaScript ---------- */

/** describe(handle, kind, help, unit) → a number for add(); help and unit may be undefined. */
static napi_value js_describe(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  mount_t *m = argc == 4 ? get_mount(env, argv[0]) : NULL;
  if (!m) return throw_error(env, "EINVAL", "describe(handle, kind, help, unit)");
  description_t d = { { NULL } };
  for (int x = 0; x < X_COUNT; x++) {
    size_t len;
    if (napi_get_value_string_utf8(env, argv[1 + x], NULL, 0, &len) != napi_ok) continue;  /* undefined: absent */
    if (!(d.text[x] = malloc(len + 1))) goto nomem;
    napi_get_value_string_utf8(env, argv[1 + x], d.text[x], len + 1, &len);
  }
  lock_tree(m);
  description_t *grown = realloc(m->descriptions, (m->description_count + 1) * sizeof *grown);
  if (grown) {
    m->descriptions = grown;
    grown[m->description_count++] = d;
  }
  uint32_t number = m->description_count;
  pthread_mutex_unlock(&m->lock);
  send_later();
  if (!grown) goto nomem;
  napi_create_uint32(env, number, &result);
  return result;
nomem:
  for (int x = 0; x < X_COUNT; x++) free(d.text[x]);
  return throw_error(env, "ENOMEM", "out of memory");
}

/** descriptionOf(path) → { kind, help, unit } from the file's user.procstat.* attributes (the CLI). */
static napi_value js_description_of(napi_env env, napi_callback_info info) {
  size_t argc = 1, len;
  napi_value argv[1], result, value;
  char path[4096], buf[4096];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok) {
    return throw_error(env, "EINVAL", "descriptionOf(path)");
  }
  napi_create_object(env, &result);
  const char *keys[X_COUNT] = { "kind", "help", "unit" };
  for (int x = 0; x < X_COUNT; x++) {
    ssize_t got = getxattr(path, xattr_names[x], buf, sizeof buf);
    if (got < 0) continue;
    napi_create_string_utf8(env, buf, (size_t)got, &value);
    napi_set_named_property(env, result, keys[x], value);
  }
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    { "mount", NULL, js_mount, NULL, NULL, NULL, napi_default, NULL },
    { "add", NULL, js_add, NULL, NULL, NULL, napi_default, NULL },
    { "remove", NULL, js_remove, NULL, NULL, NULL, napi_default, NULL },
    { "setHidden", NULL, js_set_hidden, NULL, NULL, NULL, napi_default, NULL },
    { "unmount", NULL, js_unmount, NULL, NULL, NULL, napi_default, NULL },
    { "watch", NULL, js_watch, NULL, NULL, NULL, napi_default, NULL },
    { "status", NULL, js_status, NULL, NULL, NULL, napi_default, NULL },
    { "describe", NULL, js_describe, NULL, NULL, NULL, napi_default, NULL },
    { "stallState", NULL, js_stall_state, NULL, NULL, NULL, napi_default, NULL },
    { "setStallStack", NULL, js_set_stall_stack, NULL, NULL, NULL, napi_default, NULL },
    { "descriptionOf", NULL, js_description_of, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
