// The watcher process: a process killed by a signal must never leave its mount stuck.
#include "procstat.h"

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

/** The mount's end, a byte on the pipe, or EOF: the whole process is gone without unmounting. */
static int ended_cleanly(int fd) {
  char byte;
  return read(fd, &byte, 1) == 1;
}

/** The process is gone or stuck: a non-root user's mount is removed here (auto_unmount cannot), else nothing. */
static void remove_left_mount(char *const *unmount_argv) {
  if (unmount_argv) execvp("fusermount3", unmount_argv);
  _exit(0);
}

void watch_main(int read_fd, int write_fd, pid_t parent, const char *abort_path, const char *stat_path, char *const *unmount_argv) {
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
    if (ppoll(&end, 1, &tick, &none) > 0) {
      if (ended_cleanly(read_fd)) _exit(0);
      remove_left_mount(unmount_argv);
    }
  }
  struct timespec grace = { 0, 200 * 1000 * 1000 };
  if (ppoll(&end, 1, &grace, &none) > 0) {
    if (ended_cleanly(read_fd)) _exit(0);
    remove_left_mount(unmount_argv);
  }
  int fd = open(abort_path, O_WRONLY);
  if (fd >= 0 && write(fd, "1", 1) < 0) { /* nothing more to try */ }
  if (fd >= 0) close(fd);
  remove_left_mount(unmount_argv);
}

/**
 * Starts the mount's watcher (watch_main); `dev` is the mount's device number (stat of the
 * mountpoint), which names its connection in fusectl. Without fusectl, as root, it does nothing.
 */
void start_watcher(mount_t *m, unsigned dev) {
  if (!m->mounted || m->watcher > 0) return;
  char abort_path[64], stat_path[64];
  snprintf(abort_path, sizeof abort_path, "/sys/fs/fuse/connections/%u/abort", dev);
  pid_t parent = getpid();
  snprintf(stat_path, sizeof stat_path, "/proc/%d/task/%ld/stat", (int)parent, (long)syscall(SYS_gettid));
  int fds[2];
  char *const *unmount_argv = m->unmount_argv[0] ? m->unmount_argv : NULL;
  // Needed where it can abort the connection (root: fusectl) or remove a user's mount.
  if ((access(abort_path, W_OK) != 0 && !unmount_argv) || pipe2(fds, O_CLOEXEC) != 0) return;
  pid_t pid = fork();
  if (pid == 0) watch_main(fds[0], fds[1], parent, abort_path, stat_path, unmount_argv);
  close(fds[0]);
  if (pid < 0) {
    close(fds[1]);
    return;
  }
  m->watcher = pid;
  m->watch_fd = fds[1];
  memcpy(m->abort_path, abort_path, sizeof abort_path);
}
