// SIGINT and SIGTERM: the mount goes first, then the signal does what it would have done. The list of live mounts.
#include "procstat.h"

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
  // A user's mount: fusermount3 -u, as auto_unmount cannot (fork and exec are async-signal-safe).
  for (mount_t *m = live_head; m; m = m->next_live) {
    if (!m->unmount_argv[0]) continue;
    pid_t pid = fork();
    if (pid == 0) { execvp("fusermount3", m->unmount_argv); _exit(127); }
    for (int t = 0; pid > 0 && t < 1000; t++) {
      if (waitpid(pid, NULL, WNOHANG) != 0) break;
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
void track_mount(mount_t *m, const int take_signals[2]) {
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

void untrack_mount(mount_t *m) {
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

/** The mount with this id, locked (and the registry with it), or NULL; see unlock_by_id(). */
mount_t *lock_by_id(uint32_t id) {
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

void unlock_by_id(mount_t *m) {
  pthread_mutex_unlock(&m->lock);
  pthread_mutex_unlock(&live_lock);
  send_later();
}
