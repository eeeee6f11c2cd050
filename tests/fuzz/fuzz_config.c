/* fuzz_config.c - config_load_string (daemon/config.h): gaitd's INI configuration file, parsed
 * with libinih, every value checked. The text is the input up to its first NUL.
 * Invariants: 0, or -1 with a message; a file that loads applies to default options without harm,
 * and loading is deterministic (the same text gives the same config). */
#include <string.h>
#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static config_t c, c2;
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    char err[512];
    err[0] = '\0';
    config_default(&c);
    int rc = config_load_string(&c, "fuzz.ini", text, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
    if (rc < 0) {
        FUZZ_CHECK(err[0] != '\0');
    } else {
        gaitd_opts_t o;
        gaitd_opts_default(&o);
        config_apply(&c, &o);
        config_default(&c2);
        FUZZ_CHECK(config_load_string(&c2, "fuzz.ini", text, err, sizeof err) == 0);
        FUZZ_CHECK(memcmp(&c, &c2, sizeof c) == 0);
    }
    free(text);
    return 0;
}
