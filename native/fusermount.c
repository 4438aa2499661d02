// Mounting: fusermount3 with auto_unmount, its socket kept until unmount.
#include "procstat.h"

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
int spawn_fusermount(mount_t *m, const char *mountpoint, const char *options, char *error, size_t error_size) {
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
 * Removes the mount as its (non-root) user, once its device is closed: `fusermount3 -u -q -z`
 * (lazily: a reader still inside lets go later). Nothing to do for root (auto_unmount does it).
 */
void unmount_as_user(mount_t *m) {
  if (!m->unmount_argv[0]) return;
  pid_t pid;
  if (posix_spawnp(&pid, "fusermount3", NULL, NULL, m->unmount_argv, environ) != 0) return;
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
}
