// procstat/: the loop's health, the stall recorder (procstat/stall/) and every file's description as user.procstat.* attributes.
#include "procstat.h"

static void describe_stall(mount_t *m, FILE *out);

double blocked_ms(mount_t *m) {
  double age = now_ms() - m->last_beat;
  return age < BLOCKED_AFTER_MS ? 0 : age;
}

/** The content of a file the addon answers itself (procstat/), or NULL; the caller frees it. */
char *local_content(mount_t *m, node_t *n, size_t *len) {
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

const char *const xattr_names[X_COUNT] = { "user.procstat.kind", "user.procstat.help", "user.procstat.unit" };

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

void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
  char *copy;
  ssize_t len = copy_xattr(mount_of(req), ino, name, &copy);
  reply_xattr(req, len, copy, size);
}

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  char *copy;
  ssize_t len = copy_xattr(mount_of(req), ino, NULL, &copy);
  reply_xattr(req, len, copy, size);
}

void add_stall_dir(mount_t *m, node_t *status) {
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
void record_stall(mount_t *m, double began, double duration) {
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

/**
 * The stall the mount with this id is in, for the stall watcher (a worker thread: a stalled main
 * thread cannot answer, and a healthy one is never disturbed): -1 once it is unmounted. `key` names
 * the stall (the last beat before it) for set_stall_stack().
 */
int stall_state(uint32_t id, double *blocked, double *key, double *threshold, int *needs_stack) {
  mount_t *m = lock_by_id(id);
  if (!m) return -1;
  *key = m->last_beat;
  *blocked = now_ms() - *key;
  *threshold = m->stall_threshold_ms;
  *needs_stack = *threshold > 0 && *blocked >= *threshold && !(m->stack && m->stack_key == *key);
  unlock_by_id(m);
  return 0;
}

/** The stack of stall `key` (taken over: freed here); dropped if that stall has ended. */
void set_stall_stack(uint32_t id, double key, char *text) {
  mount_t *m = lock_by_id(id);
  if (m && m->last_beat == key) {
    free(m->stack);
    m->stack = text;
    m->stack_key = key;
    text = NULL;
  }
  if (m) unlock_by_id(m);
  free(text);
}

/** Keeps `d` (taken over) and returns its number for add(), or 0 out of memory. */
uint32_t add_description(mount_t *m, description_t *d) {
  lock_tree(m);
  description_t *grown = realloc(m->descriptions, (m->description_count + 1) * sizeof *grown);
  if (grown) {
    m->descriptions = grown;
    grown[m->description_count++] = *d;
  }
  uint32_t number = grown ? m->description_count : 0;
  pthread_mutex_unlock(&m->lock);
  send_later();
  return number;
}
