// The FUSE thread, which reads the device and follows its reader's CPU, and the notify thread.
#include "procstat.h"

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

void follow_reader(fuse_req_t req) {
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

/** The addon's threads never run the SIGINT/SIGTERM handler: it waits for the FUSE thread. */
void block_fatal_signals(void) {
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
void *loop_main(void *arg) {
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
    // One request per poll(): a reader waits for each answer, so the device rarely holds a second one,
    // and reading until it is drained cost a read that finds it empty per request. (Looking 50 µs
    // more for a reader's next request made scans slower: on its reader's CPU, the looking keeps the
    // reader off that CPU.)
    int res = fuse_session_receive_buf(m->se, &buf);
    if (res > 0) fuse_session_process_buf(m->se, &buf);
    else if (res != -EAGAIN && res != -EINTR) break;   /* the connection has ended */
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
void *notify_main(void *arg) {
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
