/* fuzz.h - shared by the libFuzzer targets (tests/fuzz/fuzz_<name>.c) and the replay driver.
 *
 * Each target defines LLVMFuzzerTestOneInput. Built two ways (tests/fuzz/CMakeLists.txt):
 *   fuzz_<name>   clang, -fsanitize=fuzzer,address,undefined (GAITD_FUZZ=ON, scripts/fuzz)
 *   replay_<name> any compiler, with replay_main.c: runs the checked-in corpus and regression
 *                 inputs through the same entry point on every ctest.
 * FUZZ_CHECK states an invariant: on violation it names it and aborts, which libFuzzer reports
 * as a crash (input saved) and ctest as a failure. Not assert(): the tests build with NDEBUG.
 */
#ifndef GAITD_TESTS_FUZZ_H
#define GAITD_TESTS_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond);    \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

#endif
