/* zap.h - CURVE security for gaitd's feeds and control (design and set-up: SECURITY.md).
 *
 * Without a [security] section gaitd runs as before: plaintext ZeroMQ, endpoints on loopback
 * by default. With `[security] server_key = FILE` both the feed (XPUB) and the control (REP)
 * sockets become CURVE servers (encrypted, every client authenticated by its key), and libzmq
 * asks the ZAP handler here (ZeroMQ RFC 27, a REP socket on inproc://zeromq.zap.01 in gaitd's
 * context, served by gaitd's event loop) about every new connection:
 *
 *   [security]
 *   server_key = /etc/gaitd/server.key          ; gaitctl keygen /etc/gaitd/server
 *   [client coach1]                             ; one section per allowed client key
 *   public_key = rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7   ; or public_key_file = coach1.pub
 *   feeds = sim1, sim2                          ; athletes it may watch: names, * (all), none
 *   control = read                              ; no | read | yes (yes: also state changes)
 *
 * A key not in the list is refused (ZAP status 400) and logged with its Z85 key, the endpoint
 * (ZAP domain "feeds" or "control") and the peer's address; repeats of the same refusal are
 * counted and logged at most once a minute. An accepted connection carries the client's name
 * as its ZAP User-Id, which libzmq attaches to every message from it (zmq_msg_gets(m,
 * "User-Id")): the feed publisher (XPUB in ZMQ_XPUB_MANUAL mode) lets each subscription through
 * only for the athletes the key may watch (zap_xpub_subscription), and the control endpoint
 * refuses state-changing commands to keys without control = yes (zap_may_control).
 *
 * zap_cfg_t is a plain struct (no heap) filled by the configuration file parser (config.c calls
 * zap_cfg_section / zap_cfg_set / zap_cfg_check) and completed by zap_cfg_load_keys at start.
 */
#ifndef GAITD_ZAP_H
#define GAITD_ZAP_H
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>
#include "keys.h"
#include "log.h"
#include "loop.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_MAX_CLIENTS 64
#define ZAP_MAX_FEEDS 16 /* athletes named in one client's feeds = */
#define ZAP_NAME 64      /* client and athlete names: 1..63 bytes */
#define ZAP_PATH 256
#define ZAP_DOMAIN_FEEDS "feeds"
#define ZAP_DOMAIN_CONTROL "control"

enum zap_control {
    ZAP_CONTROL_NO = 0,   /* refused on the control endpoint (default) */
    ZAP_CONTROL_READ = 1, /* commands that only read (status, sessions, ...) */
    ZAP_CONTROL_YES = 2,  /* every command, including those that change state */
};

typedef struct zap_client {
    char name[ZAP_NAME];               /* [client NAME]: the User-Id of its connections */
    char public_z85[KEYS_Z85_LEN + 1]; /* "" until known (public_key_file: at load) */
    uint8_t key[KEYS_BIN_LEN];
    char key_file[ZAP_PATH]; /* public_key_file, "" if the key is inline */
    int all_feeds;           /* feeds = * */
    char feeds[ZAP_MAX_FEEDS][ZAP_NAME];
    int n_feeds;
    int control;                            /* enum zap_control */
    int line;                               /* first line of its section */
    int key_line, feeds_line, control_line; /* line of each key, 0 = not given */
} zap_client_t;

typedef struct zap_cfg {
    char server_key[ZAP_PATH]; /* [security] server_key: secret key file, "" = off */
    int server_key_line;
    int section_line; /* first line of [security], 0 = absent */
    zap_client_t clients[ZAP_MAX_CLIENTS];
    int n_clients;
    /* filled by zap_cfg_load_keys: */
    int keys_loaded;
    char server_public[KEYS_Z85_LEN + 1];
    char server_secret[KEYS_Z85_LEN + 1];
} zap_cfg_t;

/* --- configuration (called by config.c) --- */

/* 1 if section (n bytes, not NUL-terminated) is "security" or "client NAME". */
int zap_cfg_section(const char *section, size_t n);
/* Takes one "key = value" line (line number line) of such a section. Returns 0, or -1 with
 * a message in msg (what was expected and found; the caller adds "file:line: [section] key: "). */
int zap_cfg_set(zap_cfg_t *c, const char *section, const char *key, const char *value, int line,
                char *msg, size_t cap);
/* Whole-file checks after parsing (a client without a key, clients without server_key, ...).
 * Returns 0, or -1 with *line the line to report and a message in msg. */
int zap_cfg_check(const zap_cfg_t *c, int *line, char *msg, size_t cap);
/* 1 if the configuration turns CURVE on ([security] server_key given). */
int zap_cfg_enabled(const zap_cfg_t *c);
/* Reads the server's secret key file and the clients' public_key_files (gaitd, at start; not at
 * config load, so `gaitctl sessions --config` never needs the secret). cfg_name names the
 * configuration file in messages: "gaitd.ini:4: [security] server_key: server.key: mode 0644:
 * ...". Returns 0 or -1 with a message in err. */
int zap_cfg_load_keys(zap_cfg_t *c, const char *cfg_name, char *err, size_t errcap);

/* --- decisions (pure) --- */

/* The client with this 32-byte key, or NULL. */
const zap_client_t *zap_cfg_find_key(const zap_cfg_t *c, const uint8_t *key);
/* The client called name, or NULL (name may be NULL). */
const zap_client_t *zap_cfg_find_name(const zap_cfg_t *c, const char *name);

/* The ZAP verdict for one connection: 200 (accepted, *who its client) or 400 (refused, *who
 * NULL) with the reason in why. mechanism must be "CURVE" with a 32-byte credential; domain
 * "feeds" needs feeds other than none, "control" needs control other than no. */
int zap_decide(const zap_cfg_t *c, const char *domain, const char *mechanism, const uint8_t *cred,
               size_t cred_len, const zap_client_t **who, char *why, size_t whycap);

/* May the client called peer run a command? changes_state: the command changes the daemon's
 * state (control.h CONTROL_CHANGES_STATE). NULL or unknown peer: no. Returns 1 or 0. */
int zap_client_may_control(const zap_cfg_t *c, const char *peer, int changes_state);

/* Calls fn(ud, prefix, n) for every subscription prefix the client may hold when it asks for
 * prefix p (n bytes) on the feeds (topics "gait/<athlete>/<kind>"): feeds = * passes p
 * through; p within one allowed athlete's topics ("gait/sim1/", "gait/sim1/stride") passes
 * through; a wider p ("", "gait/", "gait/sim") becomes one "gait/<athlete>/" per allowed
 * athlete it covers. Returns the number of calls (0: nothing allowed). */
int zap_feed_prefixes(const zap_client_t *cl, const char *p, size_t n,
                      void (*fn)(void *ud, const char *prefix, size_t n), void *ud);

/* --- the ZAP handler --- */

typedef struct zap zap_t;

/* Binds the ZAP handler (REP on ZAP_ENDPOINT) in zctx. cfg (keys loaded) is borrowed and must
 * outlive the handler. Create it before, and free it after, every CURVE server socket of zctx
 * (libzmq would accept every key if no handler were bound; the sockets also ask libzmq to
 * refuse then, where it supports ZMQ_ZAP_ENFORCE_DOMAIN). With a loop, the handler registers
 * its sockets there (the ZAP socket and one monitor per server socket, which logs failed
 * handshakes: plaintext clients, wrong keys); without (tests), the caller polls zap_socket.
 * Returns NULL with a message in err. Caller owns the result. */
zap_t *zap_new(void *zctx, const zap_cfg_t *cfg, loop_t *loop, const log_t *lg, char *err,
               size_t errcap);
/* Unregisters and closes the handler's sockets and sets *z to NULL. Call after closing the
 * CURVE server sockets. */
void zap_free(zap_t **z);
/* The REP socket, for an event loop (ZMQ_POLLIN). */
void *zap_socket(zap_t *z);
/* Answers every pending ZAP request without blocking. */
void zap_on_readable(zap_t *z);
/* Counters: connections accepted and refused. */
uint64_t zap_accepted(const zap_t *z);
uint64_t zap_refused(const zap_t *z);
/* Failed CURVE handshakes seen by the monitors (plaintext clients, wrong keys). */
uint64_t zap_handshake_failures(const zap_t *z);
const zap_cfg_t *zap_config(const zap_t *z);

/* Makes sock (before it binds) a CURVE server with the server's secret key and ZAP domain
 * domain (ZAP_DOMAIN_FEEDS or ZAP_DOMAIN_CONTROL); with a loop, also monitors its handshakes.
 * Returns 0 or -1 with a message in err. */
int zap_server_setup(zap_t *z, void *sock, const char *domain, char *err, size_t errcap);

/* The authenticated client name of the peer that sent m (its ZAP User-Id), or NULL. */
const char *zap_peer_name(zmq_msg_t *m);

/* zap_client_may_control over the handler's configuration. */
int zap_may_control(const zap_t *z, const char *peer, int changes_state);

/* Feed side, XPUB with ZMQ_XPUB_MANUAL: applies the (un)subscription message m just received
 * from xpub, for the prefixes its sender's key allows (zap_feed_prefixes); a subscription that
 * yields nothing is logged and ignored. Returns the number of prefixes applied. */
int zap_xpub_subscription(const zap_t *z, void *xpub, zmq_msg_t *m);

/* 1 if endpoint only listens on the loopback interface (tcp://127.x.x.x, tcp://localhost,
 * tcp://[::1]) or is not a network endpoint (ipc://, inproc://). */
int zap_endpoint_is_local(const char *endpoint);

#endif
