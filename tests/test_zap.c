/* test_zap.c - daemon/zap.c: the CURVE allow-list ([security] and [client NAME] lines), the
 * ZAP decisions, per-key rights (feeds per athlete, control), and the handler with real
 * ZeroMQ sockets: a CURVE XPUB in manual mode and a CURVE REP in one context (as in gaitd),
 * clients with an allowed key, a key allowed one athlete only, an unknown key and no key
 * (plaintext) in another. Also: gaitd's default endpoints listen on loopback only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>
#include "config.h"
#include "control.h"
#include "keys.h"
#include "loop.h"
#include "opts.h"
#include "zap.h"

static char dir[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/gaitd-zap-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* --- defaults and endpoints --- */

static void test_defaults_loopback(void **state)
{
    (void)state;
    gaitd_opts_t o;
    gaitd_opts_default(&o);
    assert_string_equal(o.pub, "tcp://127.0.0.1:5556");
    assert_string_equal(o.control, "tcp://127.0.0.1:5557");
    assert_true(zap_endpoint_is_local(o.pub));
    assert_true(zap_endpoint_is_local(o.control));

    assert_true(zap_endpoint_is_local("tcp://127.0.0.1:1"));
    assert_true(zap_endpoint_is_local("tcp://127.1.2.3:80"));
    assert_true(zap_endpoint_is_local("tcp://localhost:5556"));
    assert_true(zap_endpoint_is_local("tcp://[::1]:5556"));
    assert_true(zap_endpoint_is_local("ipc:///run/gaitd/feed"));
    assert_true(zap_endpoint_is_local("inproc://x"));
    assert_false(zap_endpoint_is_local("tcp://*:5556"));
    assert_false(zap_endpoint_is_local("tcp://0.0.0.0:5556"));
    assert_false(zap_endpoint_is_local("tcp://192.0.2.2:5556"));
    assert_false(zap_endpoint_is_local("tcp://eth0:5556"));
    assert_false(zap_endpoint_is_local("tcp://127.0.0.1.example.com:5556"));
    assert_false(zap_endpoint_is_local("tcp://[::]:5556"));
    assert_false(zap_endpoint_is_local("ws://127.0.0.1:5556"));
}

/* A real bind of the default form: the listening address ZeroMQ reports is loopback. */
static void test_bound_endpoint(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_XPUB);
    assert_int_equal(zmq_bind(s, "tcp://127.0.0.1:*"), 0);
    char ep[256];
    size_t n = sizeof ep;
    assert_int_equal(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &n), 0);
    assert_int_equal(strncmp(ep, "tcp://127.0.0.1:", 16), 0);
    assert_true(zap_endpoint_is_local(ep));
    zmq_close(s);
    zmq_ctx_term(ctx);
}

/* --- configuration --- */

static char pub1[41], sec1[41], pub2[41], sec2[41], pub3[41], sec3[41];

static int set(zap_cfg_t *c, const char *section, const char *key, const char *value, int line,
               char *msg)
{
    return zap_cfg_set(c, section, key, value, line, msg, 300);
}

static void test_cfg_sections(void **state)
{
    (void)state;
    assert_true(zap_cfg_section("security", 8));
    assert_true(zap_cfg_section("client coach1", 13));
    assert_true(zap_cfg_section("client   x", 10));
    assert_false(zap_cfg_section("client", 6));
    assert_false(zap_cfg_section("client ", 7));
    assert_false(zap_cfg_section("clientx", 7));
    assert_false(zap_cfg_section("securityx", 9));
    assert_false(zap_cfg_section("daemon", 6));
    assert_true(zap_cfg_section("security]junk", 8)); /* n bytes only */
}

static void test_cfg_good(void **state)
{
    (void)state;
    zap_cfg_t c;
    char msg[300];
    memset(&c, 0, sizeof c);
    assert_false(zap_cfg_enabled(&c));
    assert_int_equal(set(&c, "security", "server_key", "/etc/gaitd/server.key", 2, msg), 0);
    assert_int_equal(set(&c, "client coach1", "public_key", pub1, 4, msg), 0);
    assert_int_equal(set(&c, "client coach1", "feeds", "*", 5, msg), 0);
    assert_int_equal(set(&c, "client coach1", "control", "yes", 6, msg), 0);
    assert_int_equal(set(&c, "client viewer", "public_key", pub2, 8, msg), 0);
    assert_int_equal(set(&c, "client viewer", "feeds", "sim1 | sim2,anna.b  x_y-z", 9, msg), 0);
    assert_int_equal(set(&c, "client viewer", "control", "read", 10, msg), 0);
    assert_int_equal(set(&c, "client nobody", "public_key_file", "nobody.pub", 12, msg), 0);
    assert_int_equal(set(&c, "client nobody", "feeds", "none", 13, msg), 0);
    int line = 0;
    assert_int_equal(zap_cfg_check(&c, &line, msg, sizeof msg), 0);
    assert_true(zap_cfg_enabled(&c));
    assert_int_equal(c.n_clients, 3);
    const zap_client_t *v = zap_cfg_find_name(&c, "viewer");
    assert_non_null(v);
    assert_int_equal(v->line, 8);
    assert_int_equal(v->n_feeds, 4);
    assert_string_equal(v->feeds[0], "sim1");
    assert_string_equal(v->feeds[1], "sim2");
    assert_string_equal(v->feeds[2], "anna.b");
    assert_string_equal(v->feeds[3], "x_y-z");
    assert_int_equal(v->control, ZAP_CONTROL_READ);
    const zap_client_t *a = zap_cfg_find_name(&c, "coach1");
    assert_true(a->all_feeds);
    assert_int_equal(a->control, ZAP_CONTROL_YES);
    const zap_client_t *n = zap_cfg_find_name(&c, "nobody");
    assert_false(n->all_feeds);
    assert_int_equal(n->n_feeds, 0);
    assert_int_equal(n->control, ZAP_CONTROL_NO); /* the default */
    assert_string_equal(n->key_file, "nobody.pub");
    assert_null(zap_cfg_find_name(&c, "ghost"));
    assert_null(zap_cfg_find_name(&c, NULL));
    uint8_t k[32];
    assert_int_equal(keys_z85_decode(pub2, k, msg, sizeof msg), 0);
    assert_ptr_equal(zap_cfg_find_key(&c, k), v);
}

static void expect_set_error(const char *section, const char *key, const char *value,
                             const char *want)
{
    zap_cfg_t c;
    char msg[300];
    memset(&c, 0, sizeof c);
    assert_int_equal(set(&c, "client other", "public_key", pub3, 1, msg), 0);
    assert_int_equal(set(&c, "client other", "feeds", "sim1", 2, msg), 0);
    if (strcmp(section, "security") || !strcmp(value, "again.key"))
        assert_int_equal(set(&c, "security", "server_key", "s.key", 3, msg), 0);
    int rc = set(&c, section, key, value, 9, msg);
    if (rc != -1 || !strstr(msg, want))
        fail_msg("[%s] %s = %s: rc %d, message '%s', want '%s'", section, key, value, rc, msg,
                 want);
}

static void test_cfg_errors(void **state)
{
    (void)state;
    char shortkey[41];
    memcpy(shortkey, pub1, sizeof shortkey);
    shortkey[39] = '\0';
    expect_set_error("security", "server", "x", "unknown key (known: server_key)");
    expect_set_error("security", "server_key", "", "expected a file path, got ''");
    expect_set_error("security", "server_key", "~/s.key", "'~' is not expanded");
    expect_set_error("security", "server_key", "again.key", "given twice (first on line 3)");
    expect_set_error("client coach1", "public_key", shortkey,
                     "expected 40 Z85 characters, got 39 (a public key from gaitctl keygen's "
                     ".pub file)");
    expect_set_error("client coach1", "public_key", pub3,
                     "the same key as [client other] (line 1)");
    expect_set_error("client other", "public_key", pub1, "the key is already given on line 1");
    expect_set_error("client other", "public_key_file", "o.pub", "the key is already given");
    expect_set_error("client other", "feeds", "sim2", "given twice (first on line 2)");
    expect_set_error("client coach1", "feeds", "",
                     "expected athlete names (sim1, sim2), * "
                     "(every athlete) or none, got ''");
    expect_set_error("client coach1", "feeds", "sim1, *", "'*' stands alone");
    expect_set_error("client coach1", "feeds", "sim/1", "'sim/1' is not an athlete name");
    expect_set_error("client coach1", "feeds", "a b c d e f g h i j k l m n o p q",
                     "more than 16 athletes");
    expect_set_error("client coach1", "control", "maybe",
                     "expected no, read (commands that only "
                     "read) or yes (every command), got 'maybe'");
    expect_set_error("client coach1", "feed", "*",
                     "unknown key (known: public_key, "
                     "public_key_file, feeds, control)");
    expect_set_error("client co/ach", "feeds", "*", "client name 'co/ach': expected 1 to 63");
    char longname[100];
    snprintf(longname, sizeof longname, "client %070d", 7);
    expect_set_error(longname, "feeds", "*", "expected 1 to 63");
}

static void test_cfg_check(void **state)
{
    (void)state;
    zap_cfg_t c;
    char msg[300];
    int line = 0;
    /* a client with rights but no key */
    memset(&c, 0, sizeof c);
    set(&c, "security", "server_key", "s.key", 2, msg);
    set(&c, "client coach1", "feeds", "*", 5, msg);
    assert_int_equal(zap_cfg_check(&c, &line, msg, sizeof msg), -1);
    assert_int_equal(line, 5);
    assert_string_equal(msg, "[client coach1]: no public_key or public_key_file");
    /* clients but no server key */
    memset(&c, 0, sizeof c);
    set(&c, "client coach1", "public_key", pub1, 7, msg);
    assert_int_equal(zap_cfg_check(&c, &line, msg, sizeof msg), -1);
    assert_int_equal(line, 7);
    assert_non_null(strstr(msg, "CURVE clients need [security] server_key"));
    /* a server key and no client */
    memset(&c, 0, sizeof c);
    set(&c, "security", "server_key", "s.key", 3, msg);
    assert_int_equal(zap_cfg_check(&c, &line, msg, sizeof msg), -1);
    assert_int_equal(line, 3);
    assert_non_null(strstr(msg, "no [client NAME] section"));
    /* nothing at all: security off */
    memset(&c, 0, sizeof c);
    assert_int_equal(zap_cfg_check(&c, &line, msg, sizeof msg), 0);
    assert_false(zap_cfg_enabled(&c));
    char err[300];
    assert_int_equal(zap_cfg_load_keys(&c, "x.ini", err, sizeof err), 0);
    /* too many clients */
    memset(&c, 0, sizeof c);
    for (int i = 0; i < ZAP_MAX_CLIENTS; i++) {
        char s[32];
        snprintf(s, sizeof s, "client c%d", i);
        assert_int_equal(set(&c, s, "feeds", "*", i + 1, msg), 0);
    }
    assert_int_equal(set(&c, "client one-more", "feeds", "*", 99, msg), -1);
    assert_non_null(strstr(msg, "more than 64 [client NAME] sections"));
}

static void keyfile(const char *name, keys_pair_t *kp)
{
    char prefix[PATH_MAX + 32], err[600];
    snprintf(prefix, sizeof prefix, "%s/%s", dir, name);
    if (keys_generate(prefix, 1, kp, err, sizeof err) != 0)
        fail_msg("%s", err);
}

static void test_cfg_load_keys(void **state)
{
    (void)state;
    keys_pair_t srv, c1;
    keyfile("server", &srv);
    keyfile("coach1", &c1);
    char p[PATH_MAX + 32], msg[300], err[900];
    zap_cfg_t c;
    memset(&c, 0, sizeof c);
    snprintf(p, sizeof p, "%s/server.key", dir);
    set(&c, "security", "server_key", p, 2, msg);
    snprintf(p, sizeof p, "%s/coach1.pub", dir);
    set(&c, "client coach1", "public_key_file", p, 4, msg);
    set(&c, "client coach2", "public_key", pub2, 6, msg);
    assert_int_equal(zap_cfg_load_keys(&c, "g.ini", err, sizeof err), 0);
    assert_true(c.keys_loaded);
    assert_string_equal(c.server_public, srv.public_z85);
    assert_string_equal(c.server_secret, srv.secret_z85);
    assert_string_equal(c.clients[0].public_z85, c1.public_z85);
    uint8_t k[32];
    keys_z85_decode(c1.public_z85, k, msg, sizeof msg);
    assert_ptr_equal(zap_cfg_find_key(&c, k), &c.clients[0]);

    /* errors name the configuration line and the key file */
    snprintf(p, sizeof p, "%s/server.key", dir);
    chmod(p, 0644);
    assert_int_equal(zap_cfg_load_keys(&c, "g.ini", err, sizeof err), -1);
    assert_non_null(strstr(err, "g.ini:2: [security] server_key: "));
    assert_non_null(strstr(err, "server.key: mode 0644"));
    chmod(p, 0600);
    snprintf(c.clients[0].key_file, sizeof c.clients[0].key_file, "%s/nope.pub", dir);
    assert_int_equal(zap_cfg_load_keys(&c, "g.ini", err, sizeof err), -1);
    assert_non_null(strstr(err, "g.ini:4: [client coach1] public_key_file: "));
    assert_non_null(strstr(err, "nope.pub: cannot open the key file"));
    /* the same key twice (one inline, one from a file) */
    snprintf(c.clients[0].key_file, sizeof c.clients[0].key_file, "%s/coach1.pub", dir);
    memcpy(c.clients[1].public_z85, c1.public_z85, 41);
    assert_int_equal(zap_cfg_load_keys(&c, "g.ini", err, sizeof err), -1);
    assert_non_null(strstr(err, "g.ini:6: [client coach2]: the same key as [client coach1]"));
    /* the server's own key as a client key */
    memcpy(c.clients[1].public_z85, srv.public_z85, 41);
    assert_int_equal(zap_cfg_load_keys(&c, "g.ini", err, sizeof err), -1);
    assert_non_null(strstr(err, "this is gaitd's own key"));
}

/* The same lines through the configuration file parser (config.c): file:line messages. */
static void expect_config(const char *text, const char *want)
{
    config_t *c = malloc(sizeof *c);
    char err[600];
    config_default(c);
    int rc = config_load_string(c, "g.ini", text, err, sizeof err);
    if (want ? rc != -1 || !strstr(err, want) : rc != 0)
        fail_msg("rc %d, '%s', want '%s' for:\n%s", rc, rc ? err : "", want ? want : "", text);
    free(c);
}

static void test_config_file(void **state)
{
    (void)state;
    char text[1024];
    config_t *c = malloc(sizeof *c);
    char err[600];
    config_default(c);
    assert_false(zap_cfg_enabled(&c->security)); /* off by default */
    snprintf(text, sizeof text,
             "[daemon]\npub = tcp://*:5556\n\n[security]\nserver_key = /etc/gaitd/server.key\n\n"
             "[client coach1]\npublic_key = %s ; a comment\nfeeds = *\ncontrol = yes\n"
             "[client viewer]\npublic_key_file = viewer.pub\nfeeds = sim1|sim2\n",
             pub1);
    if (config_load_string(c, "g.ini", text, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_true(zap_cfg_enabled(&c->security));
    assert_string_equal(c->security.server_key, "/etc/gaitd/server.key");
    assert_int_equal(c->security.server_key_line, 5);
    assert_int_equal(c->security.n_clients, 2);
    assert_string_equal(c->security.clients[0].public_z85, pub1);
    assert_int_equal(c->security.clients[0].line, 8);
    assert_int_equal(c->security.clients[1].n_feeds, 2);
    free(c);

    snprintf(text, sizeof text,
             "[security]\nserver_key = s.key\n[client coach1]\n"
             "public_key = %.39s\n",
             pub1);
    expect_config(text, "g.ini:4: [client coach1] public_key: expected 40 Z85 characters, got 39");
    expect_config("[security]\nserver_key = s.key\n",
                  "g.ini:2: [security] server_key: no [client NAME] section");
    expect_config("[security]\nserverkey = s.key\n",
                  "g.ini:2: [security] serverkey: unknown key (known: server_key)");
    expect_config("[security]\nserver_key = s.key\n\n[client x]\nfeeds = *\n",
                  "g.ini:5: [client x]: no public_key or public_key_file");
    snprintf(text, sizeof text, "[client c]\npublic_key = %s\n", pub1);
    expect_config(text, "g.ini:2: [client c]: CURVE clients need [security] server_key");
    expect_config("[client]\nfeeds = *\n", "g.ini:1: unknown section [client]");
    snprintf(text, sizeof text,
             "[security]\nserver_key = s.key\n[client a]\npublic_key = %s\n"
             "[client b]\npublic_key = %s\n",
             pub1, pub1);
    expect_config(text, "g.ini:6: [client b] public_key: the same key as [client a] (line 4)");
    snprintf(text, sizeof text,
             "[security]\nserver_key = s.key\n[client a]\npublic_key = %s\n"
             "feeds = sim1\n  sim2\n",
             pub1);
    expect_config(text, "g.ini:6: [client a] feeds: value continued on an indented line");
    expect_config("[daemon]\nhwm = 5\n", NULL); /* no [security]: fine */
}

/* --- decisions --- */

static zap_cfg_t rights; /* coach1: all, control yes; viewer: sim1, read; feedonly:
                            sim2, control no; ctlonly: no feeds, control yes */

static void rights_cfg(void)
{
    char msg[300];
    memset(&rights, 0, sizeof rights);
    set(&rights, "security", "server_key", "s.key", 1, msg);
    set(&rights, "client coach1", "public_key", pub1, 2, msg);
    set(&rights, "client coach1", "feeds", "*", 3, msg);
    set(&rights, "client coach1", "control", "yes", 4, msg);
    set(&rights, "client viewer", "public_key", pub2, 5, msg);
    set(&rights, "client viewer", "feeds", "sim1", 6, msg);
    set(&rights, "client viewer", "control", "read", 7, msg);
    set(&rights, "client feedonly", "public_key", pub3, 8, msg);
    set(&rights, "client feedonly", "feeds", "sim2", 9, msg);
}

static void test_decide(void **state)
{
    (void)state;
    rights_cfg();
    char msg[300], why[200];
    char p4[41], s4[41];
    zmq_curve_keypair(p4, s4);
    set(&rights, "client ctlonly", "public_key", p4, 10, msg);
    set(&rights, "client ctlonly", "control", "yes", 11, msg);
    uint8_t k1[32], k2[32], k3[32], k4[32], unknown[32];
    keys_z85_decode(pub1, k1, msg, sizeof msg);
    keys_z85_decode(pub2, k2, msg, sizeof msg);
    keys_z85_decode(pub3, k3, msg, sizeof msg);
    keys_z85_decode(p4, k4, msg, sizeof msg);
    char pu[41], su[41];
    zmq_curve_keypair(pu, su);
    keys_z85_decode(pu, unknown, msg, sizeof msg);
    const zap_client_t *who;

    assert_int_equal(zap_decide(&rights, "feeds", "CURVE", k1, 32, &who, why, sizeof why), 200);
    assert_string_equal(who->name, "coach1");
    assert_int_equal(zap_decide(&rights, "control", "CURVE", k1, 32, &who, why, sizeof why), 200);
    assert_int_equal(zap_decide(&rights, "feeds", "CURVE", k2, 32, &who, why, sizeof why), 200);
    assert_string_equal(who->name, "viewer");
    assert_int_equal(zap_decide(&rights, "control", "CURVE", k2, 32, &who, why, sizeof why), 200);
    assert_int_equal(zap_decide(&rights, "feeds", "CURVE", k3, 32, &who, why, sizeof why), 200);
    /* refused: */
    assert_int_equal(zap_decide(&rights, "control", "CURVE", k3, 32, &who, why, sizeof why), 400);
    assert_null(who);
    assert_string_equal(why, "client feedonly may not use the control endpoint (control = no)");
    assert_int_equal(zap_decide(&rights, "feeds", "CURVE", k4, 32, &who, why, sizeof why), 400);
    assert_string_equal(why, "client ctlonly may watch no feed (feeds = none)");
    assert_int_equal(zap_decide(&rights, "control", "CURVE", k4, 32, &who, why, sizeof why), 200);
    assert_int_equal(zap_decide(&rights, "feeds", "CURVE", unknown, 32, &who, why, sizeof why),
                     400);
    assert_string_equal(why, "key not in the allow-list");
    assert_int_equal(zap_decide(&rights, "control", "CURVE", unknown, 32, &who, why, sizeof why),
                     400);
    assert_int_equal(zap_decide(&rights, "feeds", "NULL", NULL, 0, &who, why, sizeof why), 400);
    assert_string_equal(why, "mechanism NULL refused (CURVE only)");
    assert_int_equal(zap_decide(&rights, "feeds", "PLAIN", k1, 32, &who, why, sizeof why), 400);
    assert_int_equal(zap_decide(&rights, "feeds", "CURVE", k1, 31, &who, why, sizeof why), 400);
    assert_int_equal(zap_decide(&rights, "other", "CURVE", k1, 32, &who, why, sizeof why), 400);
    assert_string_equal(why, "unknown ZAP domain 'other'");
}

static void test_may_control(void **state)
{
    (void)state;
    rights_cfg();
    assert_true(zap_client_may_control(&rights, "coach1", 0));
    assert_true(zap_client_may_control(&rights, "coach1", 1));
    assert_true(zap_client_may_control(&rights, "viewer", 0));
    assert_false(zap_client_may_control(&rights, "viewer", 1));
    assert_false(zap_client_may_control(&rights, "feedonly", 0));
    assert_false(zap_client_may_control(&rights, "feedonly", 1));
    assert_false(zap_client_may_control(&rights, "ghost", 0));
    assert_false(zap_client_may_control(&rights, NULL, 0));
    assert_false(zap_client_may_control(&rights, "", 0));
}

typedef struct got {
    char p[8][80];
    int n;
} got_t;

static void collect(void *ud, const char *prefix, size_t n)
{
    got_t *g = ud;
    if (g->n < 8)
        snprintf(g->p[g->n++], 80, "%.*s", (int)n, prefix);
}

static int prefixes(const char *who, const char *p, got_t *g)
{
    memset(g, 0, sizeof *g);
    return zap_feed_prefixes(zap_cfg_find_name(&rights, who), p, strlen(p), collect, g);
}

static void test_feed_prefixes(void **state)
{
    (void)state;
    rights_cfg();
    char msg[300];
    set(&rights, "client two", "public_key_file", "x.pub", 20, msg);
    set(&rights, "client two", "feeds", "sim1, sim10", 21, msg);
    got_t g;
    /* feeds = *: as asked */
    assert_int_equal(prefixes("coach1", "", &g), 1);
    assert_string_equal(g.p[0], "");
    assert_int_equal(prefixes("coach1", "gait/sim2/", &g), 1);
    assert_string_equal(g.p[0], "gait/sim2/");
    /* one athlete: within its topics as asked, wider ones narrowed to it, others nothing */
    assert_int_equal(prefixes("viewer", "gait/sim1/stride", &g), 1);
    assert_string_equal(g.p[0], "gait/sim1/stride");
    assert_int_equal(prefixes("viewer", "gait/sim1/", &g), 1);
    assert_string_equal(g.p[0], "gait/sim1/");
    assert_int_equal(prefixes("viewer", "", &g), 1);
    assert_string_equal(g.p[0], "gait/sim1/");
    assert_int_equal(prefixes("viewer", "gait/", &g), 1);
    assert_string_equal(g.p[0], "gait/sim1/");
    assert_int_equal(prefixes("viewer", "gait/sim1", &g), 1); /* would match sim10 too */
    assert_string_equal(g.p[0], "gait/sim1/");
    assert_int_equal(prefixes("viewer", "gait/sim2/", &g), 0);
    assert_int_equal(prefixes("viewer", "gait/sim10/", &g), 0);
    assert_int_equal(prefixes("viewer", "gait/sim1x", &g), 0);
    assert_int_equal(prefixes("viewer", "other", &g), 0);
    /* two athletes whose names share a prefix */
    assert_int_equal(prefixes("two", "gait/sim1", &g), 2);
    assert_string_equal(g.p[0], "gait/sim1/");
    assert_string_equal(g.p[1], "gait/sim10/");
    assert_int_equal(prefixes("two", "gait/sim10/window", &g), 1);
    assert_string_equal(g.p[0], "gait/sim10/window");
    /* an unknown peer gets nothing */
    assert_int_equal(prefixes("ghost", "", &g), 0);
}

/* --- the handler with real sockets --- */

typedef struct rig {
    void *sctx, *cctx;
    loop_t *loop;
    zap_t *zap;
    void *xpub, *rep;
    zap_cfg_t cfg;
    int subs_applied;
    log_t lg;
    FILE *logf;
    char logpath[PATH_MAX + 32];
} rig_t;

/* The XPUB's subscription messages, applied through the allow-list (as feed_pub.c does). */
static void on_xpub(loop_t *l, void *ud, short revents)
{
    rig_t *r = ud;
    (void)l;
    (void)revents;
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (zmq_msg_recv(&m, r->xpub, ZMQ_DONTWAIT) >= 0)
        if (zap_xpub_subscription(r->zap, r->xpub, &m) > 0)
            r->subs_applied++;
    zmq_msg_close(&m);
}

/* The log so far into text; 1 if it contains want. */
static int log_text(rig_t *r, char *text, size_t cap, const char *want)
{
    fflush(r->logf);
    rewind(r->logf);
    size_t n = fread(text, 1, cap - 1, r->logf);
    text[n] = '\0';
    fseek(r->logf, 0, SEEK_END);
    return strstr(text, want) != NULL;
}

/* Runs one iteration of the loop (ZAP handler, monitors, XPUB), waiting at most ms. */
static void pump(rig_t *r, int ms)
{
    loop_once(r->loop, ms);
}

static void *client(rig_t *r, int type, const char *pub, const char *sec, const char *ep)
{
    void *s = zmq_socket(r->cctx, type);
    int zero = 0, ms = 20000;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &ms, sizeof ms);
    if (pub) {
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, r->cfg.server_public, 40);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 40);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40);
    }
    assert_int_equal(zmq_connect(s, ep), 0);
    return s;
}

/* Receives one two-frame message without waiting: 1 with the topic in t, 0 if none. */
static int recv_topic(void *s, char *t, size_t cap)
{
    int n = zmq_recv(s, t, cap - 1, ZMQ_DONTWAIT);
    if (n < 0)
        return 0;
    t[n < (int)cap - 1 ? n : (int)cap - 1] = '\0';
    char body[64];
    zmq_recv(s, body, sizeof body, 0);
    return 1;
}

static void publish(rig_t *r, const char *topic)
{
    assert_true(zmq_send(r->xpub, topic, strlen(topic), ZMQ_SNDMORE) >= 0);
    assert_true(zmq_send(r->xpub, "{}", 2, 0) >= 0);
}

static json_t *cmd_ok(void *ud, const json_t *req)
{
    (void)ud;
    (void)req;
    return json_pack("{s:b}", "done", 1);
}

static void on_control(loop_t *l, void *ud, short revents)
{
    (void)l;
    (void)revents;
    control_on_readable(ud);
}

static void test_handler(void **state)
{
    (void)state;
    rig_t r;
    memset(&r, 0, sizeof r);
    char msg[300], err[600];
    keys_pair_t srv;
    keyfile("hserver", &srv);
    snprintf(r.logpath, sizeof r.logpath, "%s/zap.log", dir);
    r.logf = fopen(r.logpath, "w+");
    assert_non_null(r.logf);
    log_init(&r.lg, LOG_INFO, r.logf);
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/hserver.key", dir);
    set(&r.cfg, "security", "server_key", p, 1, msg);
    set(&r.cfg, "client coach1", "public_key", pub1, 2, msg);
    set(&r.cfg, "client coach1", "feeds", "*", 3, msg);
    set(&r.cfg, "client coach1", "control", "yes", 4, msg);
    set(&r.cfg, "client viewer", "public_key", pub2, 5, msg);
    set(&r.cfg, "client viewer", "feeds", "sim1", 6, msg);
    set(&r.cfg, "client viewer", "control", "read", 7, msg);
    assert_int_equal(zap_cfg_load_keys(&r.cfg, "t.ini", err, sizeof err), 0);

    r.sctx = zmq_ctx_new();
    r.cctx = zmq_ctx_new();
    /* keys not loaded: refused */
    zap_cfg_t unloaded;
    memset(&unloaded, 0, sizeof unloaded);
    r.loop = loop_new();
    assert_null(zap_new(r.sctx, &unloaded, r.loop, &r.lg, err, sizeof err));
    r.zap = zap_new(r.sctx, &r.cfg, r.loop, &r.lg, err, sizeof err);
    assert_non_null(r.zap);
    assert_ptr_equal(zap_config(r.zap), &r.cfg);
    /* a second handler in the same context cannot bind */
    assert_null(zap_new(r.sctx, &r.cfg, NULL, &r.lg, err, sizeof err));
    assert_non_null(strstr(err, ZAP_ENDPOINT));

    r.xpub = zmq_socket(r.sctx, ZMQ_XPUB);
    int one = 1, zero = 0;
    assert_int_equal(zap_server_setup(r.zap, r.xpub, ZAP_DOMAIN_FEEDS, err, sizeof err), 0);
    zmq_setsockopt(r.xpub, ZMQ_XPUB_MANUAL, &one, sizeof one);
    zmq_setsockopt(r.xpub, ZMQ_LINGER, &zero, sizeof zero);
    char fep[PATH_MAX + 32], cep[PATH_MAX + 32];
    snprintf(fep, sizeof fep, "ipc://%s/feed", dir);
    snprintf(cep, sizeof cep, "ipc://%s/ctl", dir);
    assert_int_equal(zmq_bind(r.xpub, fep), 0);
    int xio = loop_add_socket(r.loop, r.xpub, ZMQ_POLLIN, on_xpub, &r);
    r.rep = zmq_socket(r.sctx, ZMQ_REP);
    assert_int_equal(zap_server_setup(r.zap, r.rep, ZAP_DOMAIN_CONTROL, err, sizeof err), 0);
    zmq_setsockopt(r.rep, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_bind(r.rep, cep), 0);

    /* subscribers: every athlete; sim1 only; an unknown key; no key at all */
    char pu[41], su[41];
    zmq_curve_keypair(pu, su);
    void *all = client(&r, ZMQ_SUB, pub1, sec1, fep);
    void *one1 = client(&r, ZMQ_SUB, pub2, sec2, fep);
    void *stranger = client(&r, ZMQ_SUB, pu, su, fep);
    void *plain = client(&r, ZMQ_SUB, NULL, NULL, fep);
    void *impostor = client(&r, ZMQ_SUB, pub1, sec2, fep); /* coach1's key, not its secret */
    zmq_setsockopt(impostor, ZMQ_SUBSCRIBE, "", 0);
    zmq_setsockopt(all, ZMQ_SUBSCRIBE, "", 0);
    zmq_setsockopt(one1, ZMQ_SUBSCRIBE, "", 0);            /* narrowed to gait/sim1/ */
    zmq_setsockopt(one1, ZMQ_SUBSCRIBE, "gait/sim2/", 10); /* refused */
    zmq_setsockopt(stranger, ZMQ_SUBSCRIBE, "", 0);
    zmq_setsockopt(plain, ZMQ_SUBSCRIBE, "", 0);
    /* wait (no time limit asserted, just a generous bound) until both allowed subscriptions
     * are in, the stranger has been refused and the plaintext and impostor handshakes failed */
    for (int i = 0; i < 600 && (r.subs_applied < 2 || zap_refused(r.zap) < 1 ||
                                zap_handshake_failures(r.zap) < 2);
         i++)
        pump(&r, 100);
    assert_int_equal(r.subs_applied, 2);
    assert_true(zap_refused(r.zap) >= 1);
    assert_true(zap_handshake_failures(r.zap) >= 2);
    assert_int_equal(zap_accepted(r.zap), 2);

    publish(&r, "gait/sim1/stride");
    publish(&r, "gait/sim2/stride");
    publish(&r, "gait/sim10/stride");
    publish(&r, "gait/sim1/end");
    char t[80];
    const char *want_all[] = {"gait/sim1/stride", "gait/sim2/stride", "gait/sim10/stride",
                              "gait/sim1/end"};
    for (int i = 0; i < 4; i++) {
        assert_true(zmq_recv(all, t, sizeof t - 1, 0) >= 0); /* RCVTIMEO 20 s */
        char body[16];
        zmq_recv(all, body, sizeof body, 0);
        assert_memory_equal(t, want_all[i], strlen(want_all[i]));
    }
    const char *want_one[] = {"gait/sim1/stride", "gait/sim1/end"};
    for (int i = 0; i < 2; i++) {
        int n = zmq_recv(one1, t, sizeof t - 1, 0);
        assert_true(n >= 0);
        t[n] = '\0';
        char body[16];
        zmq_recv(one1, body, sizeof body, 0);
        assert_string_equal(t, want_one[i]);
    }
    /* the marker arrived after sim2's and sim10's: none of theirs reached the sim1-only key,
     * nothing reached the unknown key or the plaintext subscriber */
    assert_int_equal(recv_topic(one1, t, sizeof t), 0);
    assert_int_equal(recv_topic(stranger, t, sizeof t), 0);
    assert_int_equal(recv_topic(plain, t, sizeof t), 0);
    assert_int_equal(recv_topic(impostor, t, sizeof t), 0);

    /* control: the REP sees who asks (User-Id); read-only vs state-changing */
    void *ctl_view = client(&r, ZMQ_REQ, pub2, sec2, cep);
    void *ctl_coach = client(&r, ZMQ_REQ, pub1, sec1, cep);
    const struct {
        void *s;
        const char *name;
        int may_read, may_change;
    } asks[] = {{ctl_view, "viewer", 1, 0}, {ctl_coach, "coach1", 1, 1}};
    for (int i = 0; i < 2; i++) {
        assert_true(zmq_send(asks[i].s, "{\"cmd\":\"ping\"}", 14, 0) >= 0);
        zmq_msg_t m;
        zmq_msg_init(&m);
        int got = -1;
        for (int k = 0; k < 600 && got < 0; k++) {
            pump(&r, 50);
            got = zmq_msg_recv(&m, r.rep, ZMQ_DONTWAIT);
        }
        assert_true(got >= 0);
        const char *peer = zap_peer_name(&m);
        assert_non_null(peer);
        assert_string_equal(peer, asks[i].name);
        assert_int_equal(zap_may_control(r.zap, peer, 0), asks[i].may_read);
        assert_int_equal(zap_may_control(r.zap, peer, 1), asks[i].may_change);
        zmq_msg_close(&m);
        zmq_send(r.rep, "ok", 2, 0);
        char rb[8];
        assert_int_equal(zmq_recv(asks[i].s, rb, sizeof rb, 0), 2);
    }

    /* control.c with the handler: read-only commands for control = read, state changes only
     * for control = yes ("forbidden" otherwise) */
    char cep2[PATH_MAX + 32];
    snprintf(cep2, sizeof cep2, "ipc://%s/ctl2", dir);
    control_t *ctl = control_new_ex(r.sctx, cep2, r.zap, &r.lg, err, sizeof err);
    assert_non_null(ctl);
    control_add_ex(ctl, "status", 0, cmd_ok, NULL);
    control_add_ex(ctl, "assign", CONTROL_CHANGES_STATE, cmd_ok, NULL);
    int cio = loop_add_socket(r.loop, control_socket(ctl), ZMQ_POLLIN, on_control, ctl);
    void *v2 = client(&r, ZMQ_REQ, pub2, sec2, cep2);
    void *c2 = client(&r, ZMQ_REQ, pub1, sec1, cep2);
    const struct {
        void *s;
        const char *req, *want;
    } reqs[] = {
        {v2, "{\"cmd\":\"ping\"}", "\"pong\":true"},
        {v2, "{\"cmd\":\"status\"}", "\"ok\":true"},
        {v2, "{\"cmd\":\"assign\"}",
         "\"code\":\"forbidden\",\"message\":\"'assign' changes "
         "the daemon's state: client 'viewer' is not allowed (needs "
         "control = yes)\""},
        {c2, "{\"cmd\":\"assign\"}", "{\"ok\":true,\"done\":true}"},
        {c2, "{\"cmd\":\"status\"}", "{\"ok\":true,\"done\":true}"},
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        assert_true(zmq_send(reqs[i].s, reqs[i].req, strlen(reqs[i].req), 0) >= 0);
        char rb[512];
        int got = -1;
        for (int k = 0; k < 600 && got < 0; k++) {
            pump(&r, 50);
            got = zmq_recv(reqs[i].s, rb, sizeof rb - 1, ZMQ_DONTWAIT);
        }
        assert_true(got >= 0);
        rb[got] = '\0';
        if (!strstr(rb, reqs[i].want))
            fail_msg("%s -> %s, want %s", reqs[i].req, rb, reqs[i].want);
    }
    zmq_close(v2);
    zmq_close(c2);
    loop_del_io(r.loop, cio);
    control_free(&ctl);

    /* the log names the refused key, the endpoint (domain) and where it came from */
    char text[16384];
    for (int i = 0; i < 600 && !(log_text(&r, text, sizeof text, "cryptographic error") &&
                                 strstr(text, "plaintext"));
         i++)
        pump(&r, 100);
    char want[200];
    snprintf(want, sizeof want, "refused CURVE key %s on feeds from", pu);
    if (!strstr(text, want))
        fail_msg("log has no '%s':\n%s", want, text);
    const char *wants[] = {
        "key not in the allow-list",
        "subscription 'gait/sim2/' of viewer refused",
        "viewer (key ",
        "on feeds from ipc://", /* the monitor: the endpoint */
        "plaintext",            /* mismatch or hung up: the race decides */
        "cryptographic error: a wrong key",
        "refused 'assign' changes the daemon's state: client 'viewer'",
    };
    for (size_t i = 0; i < sizeof wants / sizeof wants[0]; i++)
        if (!strstr(text, wants[i]))
            fail_msg("log has no '%s':\n%s", wants[i], text);
    assert_null(strstr(text, srv.secret_z85)); /* never the secret */

    zmq_close(all);
    zmq_close(one1);
    zmq_close(stranger);
    zmq_close(plain);
    zmq_close(impostor);
    zmq_close(ctl_view);
    zmq_close(ctl_coach);
    zmq_ctx_term(r.cctx);
    loop_del_io(r.loop, xio);
    zmq_close(r.xpub);
    zmq_close(r.rep);
    zap_free(&r.zap);
    assert_null(r.zap);
    zap_free(&r.zap); /* NULL: nothing */
    zmq_ctx_term(r.sctx);
    loop_free(&r.loop);
    fclose(r.logf);
}

static int keys_setup(void **state)
{
    (void)state;
    return zmq_curve_keypair(pub1, sec1) || zmq_curve_keypair(pub2, sec2) ||
           zmq_curve_keypair(pub3, sec3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_loopback),
        cmocka_unit_test(test_bound_endpoint),
        cmocka_unit_test(test_cfg_sections),
        cmocka_unit_test(test_cfg_good),
        cmocka_unit_test(test_cfg_errors),
        cmocka_unit_test(test_cfg_check),
        cmocka_unit_test(test_cfg_load_keys),
        cmocka_unit_test(test_config_file),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_may_control),
        cmocka_unit_test(test_feed_prefixes),
        cmocka_unit_test(test_handler),
    };
    if (keys_setup(NULL) != 0)
        return 1;
    return cmocka_run_group_tests(tests, setup, teardown);
}
