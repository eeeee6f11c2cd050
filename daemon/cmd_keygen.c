/* cmd_keygen.c - gaitctl keygen [--force] NAME
 *
 * Makes a CURVE key pair (zmq_curve_keypair) and writes NAME.key (the secret key, mode 0600
 * whatever the umask) and NAME.pub (the public key), see keys.h and SECURITY.md; prints the
 * public key. NAME may hold a directory: `gaitctl keygen /etc/gaitd/server` (a trailing .key or
 * .pub is dropped). Refuses to
 * overwrite either file unless --force. Exit status: 0 ok, 1 cannot write, 2 bad usage.
 */
#include <stdio.h>
#include <string.h>
#include "keys.h"

int cmd_keygen(int argc, char **argv);

static void keygen_usage(FILE *f)
{
    fprintf(f, "usage: gaitctl keygen [--force] NAME\n"
               "  writes NAME.key (secret CURVE key, mode 0600: keep it where it is) and\n"
               "  NAME.pub (public key: give it to the other side), e.g.\n"
               "    gaitctl keygen /etc/gaitd/server   (gaitd's key: [security] server_key)\n"
               "    gaitctl keygen ~/.config/gaitd/coach1   (a coach's key: its .pub goes into\n"
               "                                         gaitd's config as [client coach1])\n"
               "  --force  replace existing files\n");
}

int cmd_keygen(int argc, char **argv)
{
    const char *name = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            keygen_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--force")) {
            force = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "gaitctl keygen: unknown option '%s'\n", a);
            keygen_usage(stderr);
            return 2;
        } else if (!name) {
            name = a;
        } else {
            fprintf(stderr, "gaitctl keygen: unexpected argument '%s'\n", a);
            keygen_usage(stderr);
            return 2;
        }
    }
    if (!name || !*name) {
        keygen_usage(stderr);
        return 2;
    }
    char prefix[4096]; /* "server.key" or "server.pub" given: "server" meant */
    size_t n = strlen(name);
    if (n >= sizeof prefix) {
        fprintf(stderr, "gaitctl keygen: %s: name too long\n", name);
        return 2;
    }
    memcpy(prefix, name, n + 1);
    if (n > 4 && (!strcmp(prefix + n - 4, ".key") || !strcmp(prefix + n - 4, ".pub")))
        prefix[n - 4] = '\0';
    name = prefix;
    keys_pair_t kp;
    char err[600];
    if (keys_generate(name, force, &kp, err, sizeof err) != 0) {
        fprintf(stderr, "gaitctl keygen: %s\n", err);
        return 1;
    }
    printf("wrote %s.key (secret key, mode 0600) and %s.pub\npublic-key = %s\n", name, name,
           kp.public_z85);
    explicit_bzero(&kp, sizeof kp);
    return fflush(stdout) == 0 ? 0 : 1;
}
