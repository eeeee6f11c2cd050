/* fuzz_focus_rules.c - focus_rules_parse (dsp/dsp_focus.h): focus-area rules from INI text (the
 * shipped dsp/focus_rules.ini or a user's file given to `gaitctl report`). The text is the input
 * up to its first NUL. Invariants: 0 with at most FOCUS_MAX_RULES rules, or -1 with a message. */
#include <string.h>
#include "dsp_focus.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static focus_rules_t r;
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    char err[512];
    err[0] = '\0';
    int rc = focus_rules_parse(&r, text, "fuzz_rules.ini", err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
    if (rc < 0)
        FUZZ_CHECK(err[0] != '\0');
    else
        FUZZ_CHECK(r.n >= 0 && r.n <= FOCUS_MAX_RULES);
    free(text);
    return 0;
}
