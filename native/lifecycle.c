// A mount's life: the heartbeat, procstat/, shutdown and release.
#include "procstat.h"

/** Every HEARTBEAT_MS on the main thread; a beat that comes late ends a stall, which is recorded. */
void on_beat(uv_timer_t *timer) {
  mount_t *m = timer->data;
  double now = now_ms(), before = m->last_beat;
  m->last_beat = now;
  if (m->stall_threshold_ms > 0 && now - before >= m->stall_threshold_ms) record_stall(m, before, now - before);
}

static void close_handle(uv_handle_t *handle) {
  free(handle);
}

/**
 * Answers every waiting request, stops the timer and notify threads while the FUSE thread still
 * answers the kernel (a pending invalidation may wait on a lookup), then stops the FUSE thread,
 * closes /dev/fuse (which aborts the connection: no reader stays stuck) and lets fusermount3
 * remove the mount.
 */
void shutdown_mount(mount_t *m) {
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
  unmount_as_user(m);
  // A byte, then the pipe's end: the watcher exits knowing the mount ended here, not with the process.
  if (m->watch_fd >= 0 && write(m->watch_fd, "", 1) < 0) { /* the watcher then takes it for a death: fusermount3 -u again, harmless */ }
  if (m->watch_fd >= 0) close(m->watch_fd);
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

void release_mount(mount_t *m) {
  if (--m->refs > 0) return;
  for (op_t *op = m->ops, *next; op; op = next) {
    next = op->next;
    free(op);
  }
  free_table(m);
  for (uint32_t i = 0; i < m->description_count; i++) for (int x = 0; x < X_COUNT; x++) free(m->descriptions[i].text[x]);
  free(m->descriptions);
  free(m->stack);
  free(m->mountpoint);
  pthread_mutex_destroy(&m->lock);
  pthread_mutex_destroy(&m->ops_lock);
  pthread_cond_destroy(&m->wake);
  pthread_cond_destroy(&m->inval_wake);
  free(m);
}

void cleanup_hook(void *arg) {
  mount_t *m = arg;
  if (!m->mounted) return;
  shutdown_mount(m);
  napi_delete_reference(m->env, m->on_read);
  napi_delete_reference(m->env, m->on_list);
  napi_delete_reference(m->env, m->on_write);
  close_calls(m);
}

void handle_finalize(napi_env env, void *data, void *hint) {
  mount_t *m = data;
  (void)hint;
  if (m->mounted) {
    napi_remove_env_cleanup_hook(env, cleanup_hook, m);
    cleanup_hook(m);
  }
  release_mount(m);
}

void add_status_dir(mount_t *m) {
  node_t *root = find(m, ROOT_INO);
  node_t *dir = insert(m, root, STATUS_INO_BASE, "procstat", S_IFDIR | 0755, F_DIR);
  node_t *blocked = insert(m, dir, STATUS_INO_BASE + 1, "event_loop_blocked_ms", S_IFREG | 0444, 0);
  node_t *stale = insert(m, dir, STATUS_INO_BASE + 2, "stale_reads", S_IFREG | 0444, 0);
  if (blocked) blocked->local = LOCAL_BLOCKED_MS;
  if (stale) stale->local = LOCAL_STALE_READS;
  add_stall_dir(m, dir);
}

static napi_ref ref_of(napi_env env, napi_value handlers, const char *name) {
  napi_value fn;
  napi_ref ref = NULL;
  if (napi_get_named_property(env, handlers, name, &fn) == napi_ok) napi_create_reference(env, fn, 1, &ref);
  return ref;
}

/** The table with its root and procstat/; NULL out of memory. */
static mount_t *new_mount(napi_env env, const mount_args_t *a) {
  mount_t *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  pthread_mutex_init(&m->lock, NULL);
  pthread_mutex_init(&m->ops_lock, NULL);
  pthread_cond_init(&m->wake, NULL);
  pthread_cond_init(&m->inval_wake, NULL);
  m->env = env;
  m->deadline_ms = a->deadline_ms;
  m->budget_ms = a->budget_ms;
  m->stall_threshold_ms = a->stall_threshold_ms;
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
  if (!root) { release_mount(m); return NULL; }
  root->listed = 1;
  add_status_dir(m);
  return m;
}

/** The heartbeat and the wake for calls, on the main thread's loop; neither keeps the process alive. */
static int start_loop_handles(napi_env env, mount_t *m, napi_value handlers) {
  uv_loop_t *loop;
  napi_value name;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return -1;
  if (!(m->heartbeat = calloc(1, sizeof *m->heartbeat))) return -1;
  uv_timer_init(loop, m->heartbeat);
  m->heartbeat->data = m;
  uv_timer_start(m->heartbeat, on_beat, HEARTBEAT_MS, HEARTBEAT_MS);
  uv_unref((uv_handle_t *)m->heartbeat);
  m->on_read = ref_of(env, handlers, "read");
  m->on_list = ref_of(env, handlers, "list");
  m->on_write = ref_of(env, handlers, "write");
  if (napi_create_string_utf8(env, "procstat", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &m->async_context) != napi_ok) return -1;
  m->calls_wake = calloc(1, sizeof *m->calls_wake);
  if (!m->calls_wake || uv_async_init(loop, m->calls_wake, on_calls) != 0) { free(m->calls_wake); m->calls_wake = NULL; return -1; }
  m->calls_wake->data = m;
  m->refs++;                      /* dropped when calls_wake has closed */
  uv_unref((uv_handle_t *)m->calls_wake);
  return 0;
}

/** The FUSE, timer and notify threads; on failure, those started are stopped again. */
static int start_threads(mount_t *m) {
  uint64_t one = 1;
  if (pthread_create(&m->loop_thread, NULL, loop_main, m) != 0) return -1;
  if (pthread_create(&m->timer_thread, NULL, timer_main, m) != 0) {
    if (write(m->stop_fd, &one, sizeof one) < 0) {}
    pthread_join(m->loop_thread, NULL);
    return -1;
  }
  if (pthread_create(&m->notify_thread, NULL, notify_main, m) != 0) {
    lock_tree(m);
    m->stopping = 1;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->lock);
    send_later();
    pthread_join(m->timer_thread, NULL);
    if (write(m->stop_fd, &one, sizeof one) < 0) {}
    pthread_join(m->loop_thread, NULL);
    return -1;
  }
  m->threads_started = 1;
  return 0;
}

/**
 * Mounts (fusermount3 with the socket kept), starts the threads and registers the mount for
 * signals and the environment's cleanup. NULL on failure, with `*code` and `error` set.
 */
mount_t *mount_start(napi_env env, const mount_args_t *a, napi_value handlers, const char **code, char *error, size_t error_size) {
  *code = "EMOUNT";
  mount_t *m = new_mount(env, a);
  if (m && !(m->mountpoint = strdup(a->mountpoint))) { release_mount(m); m = NULL; }
  if (!m) { *code = "ENOMEM"; snprintf(error, error_size, "out of memory"); return NULL; }
  if (geteuid() != 0) {
    char *argv[] = { "fusermount3", "-u", "-q", "-z", "--", m->mountpoint, NULL };
    memcpy(m->unmount_argv, argv, sizeof argv);
  }
  int fd = spawn_fusermount(m, a->mountpoint, a->options, error, error_size);
  if (fd < 0) {
    if (strcmp(error, "ENOFUSERMOUNT") == 0) *code = "ENOFUSERMOUNT";
    release_mount(m);
    return NULL;
  }
  m->fuse_fd = fd;
  char *args_v[] = { "procstat", NULL };
  struct fuse_args args = FUSE_ARGS_INIT(1, args_v);
  char devpath[32];
  snprintf(devpath, sizeof devpath, "/dev/fd/%d", fd);
  m->se = fuse_session_new(&args, &operations, sizeof operations, m);
  if (!m->se || fuse_session_mount(m->se, devpath) != 0) {
    snprintf(error, error_size, "libfuse could not use the FUSE device");
    goto undo;
  }
  m->session_owns_fd = 1;
  if ((m->stop_fd = eventfd(0, EFD_CLOEXEC)) < 0) { snprintf(error, error_size, "eventfd: %s", strerror(errno)); goto undo; }
  // Non-blocking: the FUSE thread polls it with the stop descriptor, then reads.
  int flags = fcntl(m->fuse_fd, F_GETFL);
  if (start_loop_handles(env, m, handlers) != 0 || flags < 0 || fcntl(m->fuse_fd, F_SETFL, flags | O_NONBLOCK) < 0) goto fail;
  m->mounted = 1;
  if (start_threads(m) != 0) goto fail;
  track_mount(m, a->take_signals);
  m->tracked = 1;
  if (napi_add_env_cleanup_hook(env, cleanup_hook, m) != napi_ok) goto fail;
  return m;

fail:
  snprintf(error, error_size, "could not start the FUSE threads");
undo:
  m->mounted = 1;
  shutdown_mount(m);
  close_calls(m);
  release_mount(m);
  return NULL;
}
