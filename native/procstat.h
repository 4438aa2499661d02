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
// answered without JavaScript. No application thread's CPU affinity is ever changed (the FUSE thread
// moves itself to its reader's CPU: threads.c).
//
// This header is the one the addon's files share; each file's first line says its job.
#ifndef PROCSTAT_H
#define PROCSTAT_H

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
#define PREFETCH_MAX 64               /* values a read's batch produces beside the file asked for: siblings, then the next directories' */
#define PREFETCH_LOOK 256             /* ... of the nodes it looks at */
#define LIST_AHEAD 16                 /* lazy directories listed ahead of a walk in listing order */
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
  double list_asked;              /* a lazy directory: when its listing was last asked for */
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
  char *mountpoint;
  /*
   * `fusermount3 -u -q -z -- MOUNTPOINT`, for a process that is not root (NULL otherwise): its
   * fusermount3's auto_unmount cannot remove the mount (it checks the mountpoint with the user's
   * uid and gets EACCES), so procstat does, as libfuse itself does for users. Made at mount: the
   * signal handler and the watcher run it without allocating.
   */
  char *unmount_argv[7];
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

/**
 * How long the timer thread lets changes gather before it applies them, when no request does it
 * first: one wake-up for a burst of changes, not one per change.
 */
#define OPS_DELAY_MS 2


#define STALL_DIR_INO (STATUS_INO_BASE + 10)
#define RECENT_DIR_INO (STATUS_INO_BASE + 11)
#define RECORD_INO_BASE (STATUS_INO_BASE + 1000)  /* + the stall's number */
#define RECENT_KEEP 16

/* table.c */
int add_later(mount_t *m, uint64_t parent, uint64_t ino, const char *name, size_t len, int flags, uint32_t mode, uint32_t description);
int remove_now_or_later(mount_t *m, uint64_t ino);
void set_hidden(mount_t *m, uint64_t ino, int hidden);

double now_ms(void);

node_t *find(mount_t *m, uint64_t ino);

node_t *find_child(mount_t *m, uint64_t parent, const char *name);

node_t *insert(mount_t *m, node_t *parent, uint64_t ino, const char *name, uint32_t mode, int flags);

void maybe_free(mount_t *m, node_t *n);

void remove_subtree(mount_t *m, node_t *top);

void queue_op(mount_t *m, op_t *op);

void remove_node(mount_t *m, node_t *n);

void apply_ops(mount_t *m);

void lock_tree(mount_t *m);

void free_table(mount_t *m);

/* replies.c */

out_t *later(int kind, fuse_req_t req);

void later_err(fuse_req_t req, int err);

void queue_inval(mount_t *m, uint64_t parent, const char *name);

void fill_attr(mount_t *m, node_t *n, struct stat *st);

void fill_entry(mount_t *m, node_t *n, struct fuse_entry_param *e);

void reply_entry(mount_t *m, fuse_req_t req, node_t *n);

void reply_open(mount_t *m, fuse_req_t req, struct fuse_file_info *fi, node_t *n, const char *content, size_t len);

void free_listing(mount_t *m, listing_t *l);

void reply_opendir(mount_t *m, fuse_req_t req, struct fuse_file_info *fi, node_t *dir);

void send_later(void);

/* waiters.c */

int stuck(mount_t *m);

int queue_call(mount_t *m, int kind, uint64_t ino, write_req_t *w, int prefetch);

void wake_timer_by(mount_t *m, double deadline);

int fresh(mount_t *m, node_t *n, double now);

void add_waiter(mount_t *m, node_t *n, fuse_req_t req, int kind, struct fuse_file_info *fi, const char *name);

void unlink_waiter(mount_t *m, waiter_t *w);

void free_waiter(waiter_t *w);

void fail_waiters(mount_t *m, node_t *n, int err);

void settle(mount_t *m, waiter_t *w, const char *content, size_t len, int err);

void expire(mount_t *m, waiter_t *w);

void *timer_main(void *arg);

/* requests.c */

mount_t *mount_of(fuse_req_t req);

void answer_lookup(mount_t *m, fuse_req_t req, node_t *dir, const char *name);

extern const struct fuse_lowlevel_ops operations;

/* threads.c */

void follow_reader(fuse_req_t req);

void block_fatal_signals(void);

void *loop_main(void *arg);

void *notify_main(void *arg);

/* calls.c */

void on_calls(uv_async_t *async);

void close_calls(mount_t *m);

/* signals.c */

void track_mount(mount_t *m, const int take_signals[2]);

void untrack_mount(mount_t *m);

mount_t *lock_by_id(uint32_t id);

void unlock_by_id(mount_t *m);

/* watcher.c */
void start_watcher(mount_t *m, unsigned dev);

void watch_main(int read_fd, int write_fd, pid_t parent, const char *abort_path, const char *stat_path, char *const *unmount_argv);

/* fusermount.c */
void unmount_as_user(mount_t *m);

int spawn_fusermount(mount_t *m, const char *mountpoint, const char *options, char *error, size_t error_size);

/* lifecycle.c */
/** What mount() is given. */
typedef struct mount_args {
  const char *mountpoint, *options;
  double deadline_ms, stall_threshold_ms, budget_ms;
  int take_signals[2];
} mount_args_t;
mount_t *mount_start(napi_env env, const mount_args_t *a, napi_value handlers, const char **code, char *error, size_t error_size);

void on_beat(uv_timer_t *timer);

void shutdown_mount(mount_t *m);

void release_mount(mount_t *m);

void cleanup_hook(void *arg);

void handle_finalize(napi_env env, void *data, void *hint);

void add_status_dir(mount_t *m);

/* status.c */
int stall_state(uint32_t id, double *blocked, double *key, double *threshold, int *needs_stack);
void set_stall_stack(uint32_t id, double key, char *text);
uint32_t add_description(mount_t *m, description_t *d);

double blocked_ms(mount_t *m);

char *local_content(mount_t *m, node_t *n, size_t *len);

extern const char *const xattr_names[X_COUNT];

void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);

void add_stall_dir(mount_t *m, node_t *status);

void record_stall(mount_t *m, double began, double duration);

#endif
