// The inode table: nodes by number and by (parent, name), and the changes JavaScript queues for it (op_t).
#include "procstat.h"

double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

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

node_t *find(mount_t *m, uint64_t ino) {
  for (node_t *n = m->by_ino[ino_bucket(ino, m->ino_buckets)]; n; n = n->ino_next) if (n->ino == ino) return n;
  return NULL;
}

/** The live child `name` of `parent`: removed nodes leave the entry table at once. */
node_t *find_child(mount_t *m, uint64_t parent, const char *name) {
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

node_t *insert(mount_t *m, node_t *parent, uint64_t ino, const char *name, uint32_t mode, int flags) {
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
void maybe_free(mount_t *m, node_t *n) {
  if (n->gone && n->nlookup == 0 && n->opens == 0 && n->listings == 0 && !n->waiters && !n->inflight) free_node(m, n);
}

/**
 * Removes `n` and everything below it (iteratively: a tree may be deeper than any stack). The
 * kernel is told to forget the top entry if it ever looked it up; entries below are unreachable.
 */
void remove_subtree(mount_t *m, node_t *top) {
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

void queue_op(mount_t *m, op_t *op) {
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
void remove_node(mount_t *m, node_t *n) {
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
void apply_ops(mount_t *m) {
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
void lock_tree(mount_t *m) {
  pthread_mutex_lock(&m->lock);
  apply_ops(m);
}

void free_table(mount_t *m) {
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

/** A node JavaScript adds, queued (op_t); -1 out of memory. */
int add_later(mount_t *m, uint64_t parent, uint64_t ino, const char *name, size_t len, int flags, uint32_t mode, uint32_t description) {
  op_t *op = malloc(sizeof *op + len + 1);
  if (!op) return -1;
  *op = (op_t){ .kind = OP_ADD, .flags = flags, .mode = mode, .description = description, .parent = parent, .ino = ino };
  memcpy(op->name, name, len + 1);
  queue_op(m, op);
  return 0;
}

/**
 * A node JavaScript removes, with everything below it. Not in the table yet (still queued) or never
 * looked up, the kernel has no entry of it to forget: the removal is queued, under the table's
 * lock, so no lookup can come between the check and the queue. Else it is made at once, so that
 * the kernel forgets the entry before a reader finds it in its own cache. -1 out of memory.
 */
int remove_now_or_later(mount_t *m, uint64_t ino) {
  op_t *op = malloc(sizeof *op);
  if (!op) return -1;
  *op = (op_t){ .kind = OP_REMOVE, .ino = ino };
  pthread_mutex_lock(&m->lock);
  node_t *n = find(m, ino);
  if (n && n->nlookup > 0) {
    apply_ops(m);  /* in order: what was queued before this removal first */
    remove_node(m, find(m, ino));
    free(op);
  } else {
    queue_op(m, op);
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
  return 0;
}

/** Left out of its directory's listing, still found by name. */
void set_hidden(mount_t *m, uint64_t ino, int hidden) {
  lock_tree(m);
  node_t *n = find(m, ino);
  if (n) n->hidden = (uint8_t)hidden;
  pthread_mutex_unlock(&m->lock);
  send_later();
}
