// The UDP receive/send loop of a cnm DNS server, on a thread of its own: recvmmsg a batch of
// queries, answer each one whose bytes (all but the 16-bit id, and the client's address when the
// name table is scoped) match an answer the JavaScript side stored, patch the id, and sendmmsg the
// batch. Everything else is handed to JavaScript (a thread-safe function), which answers it with
// dns-packet (and may store that answer here for the next identical query). This file never
// decodes or encodes a DNS message: it compares bytes and copies the id.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <node_api.h>

#define BATCH 64
#define MAX_QUERY 512     // queries longer than this always go to JavaScript
#define MAX_DATAGRAM 4096 // a longer datagram is not a query anyone sends: dropped
#define MAX_ANSWER 4096   // answers longer than this are not stored
#define MAX_ENTRIES 4096  // stored answers; beyond, one is evicted (the least asked of a few)
#define MAX_NEGATIVE 512  // of which negative (NXDOMAIN, no data): random names evict only each other
#define BUCKETS 8192
#define MAX_PENDING 4096  // misses queued for JavaScript; beyond, dropped (as a full socket buffer would)
#define REWARM 64         // the keys most asked for, handed back on clear to be answered anew at once
#define MAX_RULES 64      // client prefixes allowed, and the server's own addresses refused
#define CLIENT_SLOTS 1024 // per-client miss budgets (a direct-mapped table by the address's hash)
#define MISS_RATE 500     // misses per second one client may hand to JavaScript (a token bucket)
#define MISS_BURST 1000   // ... and at once
#define ALL_MISS_RATE 4000   // misses per second all clients together may hand over (many addresses)
#define ALL_MISS_BURST 8000  // ... and at once
#define PRESSURE 512      // misses queued for JavaScript from which a client over budget is dropped
#define EVICT_SAMPLE 8    // entries looked at to pick the one evicted

typedef struct entry {
  struct entry *next;
  uint32_t hash;
  uint16_t key_len, answer_len;
  uint32_t hits;
  uint8_t negative;  // NXDOMAIN or no answer records: counted against MAX_NEGATIVE
  uint8_t *answer;  // key bytes follow the answer in the same allocation
} entry_t;

#define PRIORITY_IDLE -1  // the loop thread's policy: SCHED_IDLE; 0..19: SCHED_OTHER at that nice value
#define HOLD_MAX_MS 100   // the longest one hold of the control plane keeps a loop waiting

// A client's budget of misses handed to JavaScript.
typedef struct {
  uint8_t used;
  double tokens;
  uint64_t last_ms;
} budget_t;

// A client rule: an allowed prefix, or one of the server's own addresses (refused).
typedef struct {
  uint8_t addr[16];
  uint8_t bits;
} rule_t;

typedef struct {
  int fd, efd, family;
  int priority;  // PRIORITY_IDLE or a nice value (0..19), applied by the thread to itself
  pthread_t thread;
  int started, closed;
  int refs;  // the JavaScript handle and the thread-safe function: freed when both are gone
  napi_threadsafe_function tsfn;
  pthread_mutex_t lock;  // guards the table, scoped, generation
  entry_t *buckets[BUCKETS];
  uint32_t entries, negatives;
  uint32_t cursor;  // the bucket the next eviction starts looking at
  int scoped;
  // Who may be answered (set at open, read-only after): a source inside one of `allow` (any when
  // there is none) and not one of `deny` (the server's own addresses: a host process querying the
  // gateway has it as its source).
  rule_t allow[MAX_RULES], deny[MAX_RULES];
  int nallow, ndeny;
  budget_t budgets[CLIENT_SLOTS];  // the loop thread's only
  budget_t all;                    // every client's misses together
  uint32_t generation;
  // Counters (written by the loop thread only; read racily for stats).
  volatile uint64_t hits, misses, dropped, foreign, limited;
  volatile uint64_t held, hold_expired;  // batches that waited for a hold; holds outlived (HOLD_MAX_MS)
  uint64_t expired_epoch;                // the hold this loop last found outlived (counted once)
  volatile int32_t pending;
  // The loop's buffers.
  uint8_t in[BATCH][MAX_DATAGRAM];
  uint8_t out[BATCH][MAX_ANSWER];
  struct sockaddr_storage from[BATCH];
  struct mmsghdr in_msgs[BATCH], out_msgs[BATCH];
  struct iovec in_iov[BATCH], out_iov[BATCH];
} loop_t;

typedef struct {
  uint8_t *msg;
  size_t len;
  struct sockaddr_storage from;
  uint8_t key[16 + MAX_QUERY];
  size_t key_len;  // 0: the query is not cacheable (too long)
  uint32_t generation;
} miss_t;

static uint32_t fnv1a(const uint8_t *p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static const uint8_t *addr_bytes(const loop_t *l, const struct sockaddr_storage *from) {
  return l->family == 4 ? (const uint8_t *)&((const struct sockaddr_in *)from)->sin_addr
                        : (const uint8_t *)&((const struct sockaddr_in6 *)from)->sin6_addr;
}

static int rule_matches(const rule_t *r, const uint8_t *a) {
  int full = r->bits / 8, rest = r->bits % 8;
  if (memcmp(r->addr, a, full) != 0) return 0;
  if (rest == 0) return 1;
  uint8_t mask = (uint8_t)(0xff << (8 - rest));
  return (r->addr[full] & mask) == (a[full] & mask);
}

// Whether a query from this source may be answered (or handed over) at all.
static int client_allowed(const loop_t *l, const struct sockaddr_storage *from) {
  const uint8_t *a = addr_bytes(l, from);
  for (int i = 0; i < l->ndeny; i++)
    if (rule_matches(&l->deny[i], a)) return 0;
  if (l->nallow == 0) return 1;
  for (int i = 0; i < l->nallow; i++)
    if (rule_matches(&l->allow[i], a)) return 1;
  return 0;
}

// Refills a token bucket for the time since its last use and takes one token: 0 when empty.
static int take_token(budget_t *b, uint64_t now_ms, double rate, double burst) {
  if (!b->used) {
    b->used = 1;
    b->tokens = burst;
  } else {
    b->tokens += (double)(now_ms - b->last_ms) * rate / 1000.0;
    if (b->tokens > burst) b->tokens = burst;
  }
  b->last_ms = now_ms;
  if (b->tokens < 1) return 0;
  b->tokens -= 1;
  return 1;
}

// Takes one miss from the client's budget and the server's: 0 when either is spent (the miss is
// dropped). Clients whose addresses share a slot share its budget: switching between addresses
// never refills one. The server's budget bounds a flood from many addresses.
static int take_budget(loop_t *l, const struct sockaddr_storage *from, uint64_t now_ms) {
  const uint8_t *a = addr_bytes(l, from);
  budget_t *b = &l->budgets[fnv1a(a, l->family == 4 ? 4 : 16) % CLIENT_SLOTS];
  return take_token(b, now_ms, MISS_RATE, MISS_BURST) && take_token(&l->all, now_ms, ALL_MISS_RATE, ALL_MISS_BURST);
}

static uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

// The control plane's hold, one for the whole process: while the daemon changes the kernel (a
// connect, a disconnect, a network created), every loop leaves the CPU to it before its next batch,
// and the queries meanwhile wait in the socket's receive buffer, answered once the hold ends. On a
// host whose cores a query flood keeps busy, the API's work then still gets a core. A hold keeps a
// loop waiting at most HOLD_MAX_MS from when it began: one never released stops nothing for longer.
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cond;
static pthread_once_t hold_once = PTHREAD_ONCE_INIT;
static int hold_count;          // holds taken and not released (guarded by hold_lock; read unlocked as a hint)
static uint64_t hold_epoch;     // bumped each time a hold begins (count 0 -> 1), guarded
static uint64_t hold_since_ms;  // when the current hold began, guarded

static void hold_init(void) {
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);  // the clock of now_ms
  pthread_cond_init(&hold_cond, &a);
  pthread_condattr_destroy(&a);
}

static void wake_holders(void) {
  pthread_once(&hold_once, hold_init);
  pthread_mutex_lock(&hold_lock);
  pthread_cond_broadcast(&hold_cond);
  pthread_mutex_unlock(&hold_lock);
}

// Called by the loop thread before each batch: waits while a hold lasts (not past its bound), or
// until the loop is closed.
static void wait_hold(loop_t *l) {
  if (__atomic_load_n(&hold_count, __ATOMIC_ACQUIRE) == 0) return;
  pthread_once(&hold_once, hold_init);
  pthread_mutex_lock(&hold_lock);
  int waited = 0;
  while (hold_count > 0 && !__atomic_load_n(&l->closed, __ATOMIC_ACQUIRE)) {
    uint64_t until = hold_since_ms + HOLD_MAX_MS;
    if (now_ms() >= until) {
      if (l->expired_epoch != hold_epoch) {
        l->expired_epoch = hold_epoch;
        l->hold_expired++;
      }
      break;
    }
    waited = 1;
    struct timespec ts = {.tv_sec = (time_t)(until / 1000), .tv_nsec = (long)(until % 1000) * 1000000L};
    pthread_cond_timedwait(&hold_cond, &hold_lock, &ts);
  }
  pthread_mutex_unlock(&hold_lock);
  if (waited) l->held++;
}

// Removes one entry (under the lock): of a few looked at from the cursor on, a negative one when
// `negative_only`, else the least asked (negative ones first). Never empties the whole table.
static void table_evict(loop_t *l, int negative_only) {
  entry_t **victim = NULL;
  uint64_t best = UINT64_MAX;
  int seen = 0;
  for (uint32_t i = 0; i < BUCKETS && seen < EVICT_SAMPLE; i++) {
    uint32_t b = (l->cursor + i) % BUCKETS;
    for (entry_t **pe = &l->buckets[b]; *pe; pe = &(*pe)->next) {
      entry_t *e = *pe;
      if (negative_only && !e->negative) continue;
      uint64_t score = ((uint64_t)(e->negative ? 0 : 1) << 32) | e->hits;
      if (score < best) {
        best = score;
        victim = pe;
      }
      seen++;
    }
    if (seen >= EVICT_SAMPLE) l->cursor = (b + 1) % BUCKETS;
  }
  if (!victim) return;
  entry_t *e = *victim;
  *victim = e->next;
  l->entries--;
  if (e->negative) l->negatives--;
  free(e);
}

static void table_clear(loop_t *l) {
  for (int i = 0; i < BUCKETS; i++) {
    entry_t *e = l->buckets[i];
    while (e) {
      entry_t *next = e->next;
      free(e);
      e = next;
    }
    l->buckets[i] = NULL;
  }
  l->entries = 0;
  l->negatives = 0;
}

// The key of a query: the client's address bytes when scoped, then the message after its id.
static size_t make_key(const loop_t *l, const struct sockaddr_storage *from, const uint8_t *msg, size_t len,
                       uint8_t *key) {
  size_t k = 0;
  if (l->scoped) {
    if (l->family == 4) {
      memcpy(key, &((const struct sockaddr_in *)from)->sin_addr, 4);
      k = 4;
    } else {
      memcpy(key, &((const struct sockaddr_in6 *)from)->sin6_addr, 16);
      k = 16;
    }
  }
  memcpy(key + k, msg + 2, len - 2);
  return k + len - 2;
}

static const entry_t *table_get(const loop_t *l, const uint8_t *key, size_t key_len, uint32_t hash) {
  for (const entry_t *e = l->buckets[hash % BUCKETS]; e; e = e->next) {
    if (e->hash == hash && e->key_len == key_len && memcmp(e->answer + e->answer_len, key, key_len) == 0) return e;
  }
  return NULL;
}

// Lowers the calling thread's CPU priority (Linux schedules threads, so this leaves the rest of
// the process alone): under a saturating query load the API's own work (and the kernel work of a
// connect) gets a core first, and the loop takes what is left. Failing to lower it is harmless.
static void lower_priority(int priority) {
  if (priority == PRIORITY_IDLE) {
    struct sched_param p = {.sched_priority = 0};
    (void)sched_setscheduler(0, SCHED_IDLE, &p);  // pid 0: the calling thread
  } else if (priority > 0) {
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), priority);
  }
}

static void *run_loop(void *arg) {
  loop_t *l = arg;
  uint8_t key[16 + MAX_QUERY];
  pthread_setname_np(pthread_self(), "cnm-dns-udp");  // how ps/top (and the tests) find it
  lower_priority(l->priority);
  for (;;) {
    struct pollfd p[2] = {{.fd = l->fd, .events = POLLIN}, {.fd = l->efd, .events = POLLIN}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents) break;
    for (;;) {
      wait_hold(l);
      if (__atomic_load_n(&l->closed, __ATOMIC_ACQUIRE)) break;
      for (int i = 0; i < BATCH; i++) {
        l->in_iov[i] = (struct iovec){.iov_base = l->in[i], .iov_len = sizeof l->in[i]};
        l->in_msgs[i].msg_hdr = (struct msghdr){.msg_name = &l->from[i],
                                                .msg_namelen = sizeof l->from[i],
                                                .msg_iov = &l->in_iov[i],
                                                .msg_iovlen = 1};
      }
      int n = recvmmsg(l->fd, l->in_msgs, BATCH, MSG_DONTWAIT, NULL);
      if (n <= 0) break;
      int out = 0;
      miss_t *misses[BATCH];
      int nmiss = 0;
      uint64_t now = now_ms();
      pthread_mutex_lock(&l->lock);
      for (int i = 0; i < n; i++) {
        // A source outside the network (spoofed, a host process, a routed outsider) gets nothing:
        // no answer to reflect, nothing forwarded for it.
        if (!client_allowed(l, &l->from[i])) {
          l->foreign++;
          continue;
        }
        size_t len = l->in_msgs[i].msg_len;
        const uint8_t *msg = l->in[i];
        int flags = l->in_msgs[i].msg_hdr.msg_flags;
        int cacheable = len >= 12 && len <= MAX_QUERY && !(flags & MSG_TRUNC) && !(msg[2] & 0x80);
        if (cacheable) {
          size_t key_len = make_key(l, &l->from[i], msg, len, key);
          uint32_t hash = fnv1a(key, key_len);
          entry_t *e = (entry_t *)table_get(l, key, key_len, hash);
          if (e) {
            e->hits++;
            memcpy(l->out[out], e->answer, e->answer_len);
            l->out[out][0] = msg[0];
            l->out[out][1] = msg[1];
            l->out_iov[out] = (struct iovec){.iov_base = l->out[out], .iov_len = e->answer_len};
            l->out_msgs[out].msg_hdr = (struct msghdr){.msg_name = &l->from[i],
                                                       .msg_namelen = l->in_msgs[i].msg_hdr.msg_namelen,
                                                       .msg_iov = &l->out_iov[out],
                                                       .msg_iovlen = 1};
            out++;
            continue;
          }
        }
        if (flags & MSG_TRUNC || __atomic_load_n(&l->pending, __ATOMIC_RELAXED) >= MAX_PENDING) {
          l->dropped++;
          continue;
        }
        // Budgets are always spent, but enforced only while the event loop is behind (a backlog):
        // a client asking many forwarded names loses nothing while they are answered in time, and
        // a flood cannot keep the event loop's queue full, nor keep others' misses out of it.
        if (!take_budget(l, &l->from[i], now) && __atomic_load_n(&l->pending, __ATOMIC_RELAXED) >= PRESSURE) {
          l->limited++;
          continue;
        }
        miss_t *m = malloc(sizeof *m);
        if (!m || !(m->msg = malloc(len ? len : 1))) {
          free(m);
          l->dropped++;
          continue;
        }
        memcpy(m->msg, msg, len);
        m->len = len;
        m->from = l->from[i];
        m->key_len = cacheable ? make_key(l, &l->from[i], msg, len, m->key) : 0;
        m->generation = l->generation;
        misses[nmiss++] = m;
      }
      pthread_mutex_unlock(&l->lock);
      l->hits += out;
      for (int sent = 0; sent < out;) {
        int r = sendmmsg(l->fd, l->out_msgs + sent, out - sent, MSG_DONTWAIT);
        // A send that fails (the client's ICMP error, ENOBUFS under a flood) costs that answer only.
        sent += r > 0 ? r : 1;
      }
      for (int i = 0; i < nmiss; i++) {
        __atomic_add_fetch(&l->pending, 1, __ATOMIC_RELAXED);
        if (napi_call_threadsafe_function(l->tsfn, misses[i], napi_tsfn_nonblocking) != napi_ok) {
          __atomic_sub_fetch(&l->pending, 1, __ATOMIC_RELAXED);
          free(misses[i]->msg);
          free(misses[i]);
          l->dropped++;
        } else {
          l->misses++;
        }
      }
      if (n < BATCH) break;
    }
  }
  return NULL;
}

// ---- N-API glue -------------------------------------------------------------------------------

#define CHECK(call)                                                  \
  do {                                                               \
    if ((call) != napi_ok) {                                         \
      napi_throw_error(env, "ERR_DNS_NATIVE", "N-API call failed"); \
      return NULL;                                                   \
    }                                                                \
  } while (0)

static napi_value throw_errno(napi_env env, int err, const char *what) {
  const char *name = strerrorname_np(err);
  napi_throw_error(env, name ? name : "EINVAL", what);
  return NULL;
}

static void address_of(const struct sockaddr_storage *s, char *text, int *port) {
  if (s->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const void *)s;
    inet_ntop(AF_INET6, &a->sin6_addr, text, INET6_ADDRSTRLEN);
    *port = ntohs(a->sin6_port);
  } else {
    const struct sockaddr_in *a = (const void *)s;
    inet_ntop(AF_INET, &a->sin_addr, text, INET6_ADDRSTRLEN);
    *port = ntohs(a->sin_port);
  }
}

// JavaScript side of a miss: callback(message, address, port, key | null, generation).
static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  miss_t *m = data;
  loop_t *l = context;
  __atomic_sub_fetch(&l->pending, 1, __ATOMIC_RELAXED);
  if (env != NULL && cb != NULL) {
    napi_value argv[5], undef;
    void *copy;
    char text[INET6_ADDRSTRLEN];
    int port;
    address_of(&m->from, text, &port);
    napi_create_buffer_copy(env, m->len, m->msg, &copy, &argv[0]);
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &argv[1]);
    napi_create_int32(env, port, &argv[2]);
    if (m->key_len) napi_create_buffer_copy(env, m->key_len, m->key, &copy, &argv[3]);
    else napi_get_null(env, &argv[3]);
    napi_create_uint32(env, m->generation, &argv[4]);
    napi_get_undefined(env, &undef);
    napi_call_function(env, undef, cb, 5, argv, NULL);
  }
  free(m->msg);
  free(m);
}

static void stop_loop(loop_t *l) {
  if (l->closed) return;
  __atomic_store_n(&l->closed, 1, __ATOMIC_RELEASE);
  if (l->started) {
    uint64_t one = 1;
    ssize_t w = write(l->efd, &one, sizeof one);
    (void)w;
    wake_holders();  // a loop waiting for a hold stops at once
    pthread_join(l->thread, NULL);
    napi_release_threadsafe_function(l->tsfn, napi_tsfn_release);
  }
  close(l->fd);
  close(l->efd);
}

static void unref_loop(loop_t *l) {
  if (__atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) > 0) return;
  table_clear(l);
  pthread_mutex_destroy(&l->lock);
  free(l);
}

// The JavaScript handle was collected.
static void finalize_loop(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  stop_loop(data);
  unref_loop(data);
}

// The thread-safe function is gone (after close, once the queued misses were delivered).
static void finalize_tsfn(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  unref_loop(data);
}

static loop_t *get_loop(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "not a DNS UDP loop");
    return NULL;
  }
  return p;
}

static int parse_address(const char *text, int family, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (family == 6) {
    struct sockaddr_in6 *a = (void *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    *len = sizeof *a;
    return inet_pton(AF_INET6, text, &a->sin6_addr) == 1;
  }
  struct sockaddr_in *a = (void *)ss;
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  *len = sizeof *a;
  return inet_pton(AF_INET, text, &a->sin_addr) == 1;
}

// Whether the client rules are well formed: records of [1 allow | 0 deny, prefix length, the
// address's 4 or 16 bytes], at most MAX_RULES of each kind.
static int rules_valid(int family, const uint8_t *p, size_t len) {
  size_t n = family == 4 ? 4 : 16, rec = n + 2;
  int allow = 0, deny = 0;
  if (len % rec != 0) return 0;
  for (size_t off = 0; off < len; off += rec) {
    if (p[off] > 1 || p[off + 1] > n * 8) return 0;
    if (p[off] == 1 ? ++allow > MAX_RULES : ++deny > MAX_RULES) return 0;
  }
  return 1;
}

// Reads the client rules (checked by rules_valid) into the loop.
static void parse_rules(loop_t *l, const uint8_t *p, size_t len) {
  size_t n = l->family == 4 ? 4 : 16, rec = n + 2;
  for (size_t off = 0; off < len; off += rec) {
    rule_t *r = p[off] == 1 ? &l->allow[l->nallow++] : &l->deny[l->ndeny++];
    memset(r->addr, 0, sizeof r->addr);
    memcpy(r->addr, p + off + 2, n);
    r->bits = p[off + 1];
  }
}

// open(address, family, port, onMiss, priority, clients) -> [loop, port]: binds a UDP socket and
// starts the loop on a thread at `priority` (-1: SCHED_IDLE; 0..19: nice value). `clients`: the
// rules of who is answered (parse_rules).
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char text[INET6_ADDRSTRLEN + 1];
  size_t tl;
  int32_t family, port, priority;
  void *rules;
  size_t rules_len;
  if (argc < 6 || napi_get_buffer_info(env, argv[5], &rules, &rules_len) != napi_ok ||
      napi_get_value_string_utf8(env, argv[0], text, sizeof text, &tl) != napi_ok ||
      napi_get_value_int32(env, argv[1], &family) != napi_ok || napi_get_value_int32(env, argv[2], &port) != napi_ok ||
      napi_get_value_int32(env, argv[4], &priority) != napi_ok || (family != 4 && family != 6) || port < 0 ||
      port > 65535 || priority < PRIORITY_IDLE || priority > 19) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "open(address, family, port, onMiss, priority, clients)");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sl;
  if (!parse_address(text, family, port, &ss, &sl)) return throw_errno(env, EINVAL, "invalid address");
  if (!rules_valid(family, rules, rules_len)) return throw_errno(env, EINVAL, "invalid client rules");
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
  int on = 1;
  if (family == 6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind");
  }
  getsockname(fd, (struct sockaddr *)&ss, &sl);
  int bound = ntohs(family == 6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
  int efd = eventfd(0, EFD_CLOEXEC);
  loop_t *l = efd < 0 ? NULL : calloc(1, sizeof *l);
  if (!l) {
    int err = efd < 0 ? errno : ENOMEM;
    if (efd >= 0) close(efd);
    close(fd);
    return throw_errno(env, err, "eventfd");
  }
  l->fd = fd;
  l->efd = efd;
  l->family = family;
  l->priority = priority;
  parse_rules(l, rules, rules_len);
  pthread_mutex_init(&l->lock, NULL);
  napi_value name, external;
  napi_create_string_utf8(env, "cnm-dns-udp", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[3], NULL, name, 0, 1, l, finalize_tsfn, l, call_js, &l->tsfn) !=
      napi_ok) {
    l->closed = 1;
    close(fd);
    close(efd);
    free(l);
    napi_throw_error(env, "ERR_DNS_NATIVE", "cannot create the thread-safe function");
    return NULL;
  }
  l->refs = 1;
  // The loop must not keep the process alive by itself (a server is closed by its owner).
  napi_unref_threadsafe_function(env, l->tsfn);
  if (napi_create_external(env, l, finalize_loop, NULL, &external) != napi_ok) {
    stop_loop(l);
    napi_release_threadsafe_function(l->tsfn, napi_tsfn_abort);  // its finalizer frees l
    napi_throw_error(env, "ERR_DNS_NATIVE", "cannot create the handle");
    return NULL;
  }
  l->refs = 2;
  int err = pthread_create(&l->thread, NULL, run_loop, l);
  if (err) {
    stop_loop(l);
    napi_release_threadsafe_function(l->tsfn, napi_tsfn_abort);  // the handle's finalizer frees l
    return throw_errno(env, err, "pthread_create");
  }
  l->started = 1;
  napi_value result, port_value;
  napi_create_array_with_length(env, 2, &result);
  napi_create_int32(env, bound, &port_value);
  napi_set_element(env, result, 0, external);
  napi_set_element(env, result, 1, port_value);
  return result;
}

// send(loop, message, address, port) -> boolean
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  loop_t *l = argc == 4 ? get_loop(env, argv[0]) : NULL;
  if (!l) return NULL;
  void *data;
  size_t len, tl;
  char text[INET6_ADDRSTRLEN + 1];
  int32_t port;
  struct sockaddr_storage ss;
  socklen_t sl;
  if (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok ||
      napi_get_value_string_utf8(env, argv[2], text, sizeof text, &tl) != napi_ok ||
      napi_get_value_int32(env, argv[3], &port) != napi_ok || !parse_address(text, l->family, port, &ss, &sl)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "send(loop, message, address, port)");
    return NULL;
  }
  int ok = !l->closed && sendto(l->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) == (ssize_t)len;
  napi_get_boolean(env, ok, &result);
  return result;
}

// store(loop, generation, key, answer): the answer to a query with this key, unless the table
// changed (clear) since the query was handed over.
static napi_value js_store(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  loop_t *l = argc == 4 ? get_loop(env, argv[0]) : NULL;
  if (!l) return NULL;
  uint32_t generation;
  void *key, *answer;
  size_t key_len, answer_len;
  if (napi_get_value_uint32(env, argv[1], &generation) != napi_ok ||
      napi_get_buffer_info(env, argv[2], &key, &key_len) != napi_ok ||
      napi_get_buffer_info(env, argv[3], &answer, &answer_len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "store(loop, generation, key, answer)");
    return NULL;
  }
  if (answer_len < 12 || answer_len > MAX_ANSWER || key_len == 0 || key_len > 16 + MAX_QUERY) return NULL;
  uint32_t hash = fnv1a(key, key_len);
  pthread_mutex_lock(&l->lock);
  if (generation == l->generation && !table_get(l, key, key_len, hash)) {
    const uint8_t *a = answer;
    // NXDOMAIN (or any error) or no answer records: what a flood of random names stores.
    uint8_t negative = (a[3] & 0x0f) != 0 || (a[6] == 0 && a[7] == 0);
    if (negative && l->negatives >= MAX_NEGATIVE) table_evict(l, 1);
    if (l->entries >= MAX_ENTRIES) table_evict(l, 0);
    entry_t *e = l->entries >= MAX_ENTRIES ? NULL : malloc(sizeof *e + answer_len + key_len);
    if (e) {
      e->hash = hash;
      e->hits = 0;
      e->negative = negative;
      l->negatives += negative;
      e->key_len = key_len;
      e->answer_len = answer_len;
      e->answer = (uint8_t *)(e + 1);
      memcpy(e->answer, answer, answer_len);
      memcpy(e->answer + answer_len, key, key_len);
      e->next = l->buckets[hash % BUCKETS];
      l->buckets[hash % BUCKETS] = e;
      l->entries++;
    }
  }
  pthread_mutex_unlock(&l->lock);
  return NULL;
}

static int by_hits(const void *a, const void *b) {
  uint32_t x = (*(entry_t *const *)a)->hits, y = (*(entry_t *const *)b)->hits;
  return x < y ? 1 : x > y ? -1 : 0;
}

// clear(loop, scoped) -> [generation, keys]: forgets every stored answer (the names changed); keys
// include the client's address from now on when `scoped`. Queries handed over before are not
// stored (their generation). `keys`: the REWARM keys asked for most, for JavaScript to answer anew
// and store right away, so a change does not send every query in flight to the event loop.

static napi_value js_clear(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  loop_t *l = argc == 2 ? get_loop(env, argv[0]) : NULL;
  if (!l) return NULL;
  bool scoped;
  if (napi_get_value_bool(env, argv[1], &scoped) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "clear(loop, scoped)");
    return NULL;
  }
  entry_t **all = malloc(sizeof(entry_t *) * MAX_ENTRIES);
  napi_value keys, result, gen, k;
  void *copy;
  napi_create_array(env, &keys);
  pthread_mutex_lock(&l->lock);
  uint32_t n = 0;
  for (int i = 0; all && i < BUCKETS; i++)
    for (entry_t *e = l->buckets[i]; e && n < MAX_ENTRIES; e = e->next) all[n++] = e;
  if (n > 0) qsort(all, n, sizeof *all, by_hits);
  for (uint32_t i = 0; i < n && i < REWARM && all[i]->hits > 0; i++) {
    napi_create_buffer_copy(env, all[i]->key_len, all[i]->answer + all[i]->answer_len, &copy, &k);
    napi_set_element(env, keys, i, k);
  }
  table_clear(l);
  l->scoped = scoped;
  l->generation++;
  uint32_t generation = l->generation;
  pthread_mutex_unlock(&l->lock);
  free(all);
  napi_create_array_with_length(env, 2, &result);
  napi_create_uint32(env, generation, &gen);
  napi_set_element(env, result, 0, gen);
  napi_set_element(env, result, 1, keys);
  return result;
}

// stats(loop) -> [answered here, handed to JavaScript, dropped (queue full), foreign source, over
// budget, batches that waited for a hold, holds that outlived HOLD_MAX_MS]
static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result, v;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  loop_t *l = argc == 1 ? get_loop(env, argv[0]) : NULL;
  if (!l) return NULL;
  napi_create_array_with_length(env, 7, &result);
  uint64_t values[7] = {l->hits, l->misses, l->dropped, l->foreign, l->limited, l->held, l->hold_expired};
  for (uint32_t i = 0; i < 7; i++) {
    napi_create_double(env, (double)values[i], &v);
    napi_set_element(env, result, i, v);
  }
  return result;
}

// close(loop): stops the thread and closes the socket; misses already queued are still delivered.
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  loop_t *l = argc == 1 ? get_loop(env, argv[0]) : NULL;
  if (!l) return NULL;
  stop_loop(l);
  return NULL;
}

// hold(): every loop of the process waits before its next batch until release() (at most
// HOLD_MAX_MS from the first hold); holds nest.
static napi_value js_hold(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  pthread_once(&hold_once, hold_init);
  pthread_mutex_lock(&hold_lock);
  if (hold_count++ == 0) {
    hold_epoch++;
    hold_since_ms = now_ms();
  }
  pthread_mutex_unlock(&hold_lock);
  return NULL;
}

// release(): ends one hold; the loops go on when none is left.
static napi_value js_release(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  pthread_once(&hold_once, hold_init);
  pthread_mutex_lock(&hold_lock);
  if (hold_count > 0 && --hold_count == 0) pthread_cond_broadcast(&hold_cond);
  pthread_mutex_unlock(&hold_lock);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"store", NULL, js_store, NULL, NULL, NULL, napi_default, NULL},
      {"clear", NULL, js_clear, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"hold", NULL, js_hold, NULL, NULL, NULL, napi_default, NULL},
      {"release", NULL, js_release, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GEN_MODULE_NAME, init)
