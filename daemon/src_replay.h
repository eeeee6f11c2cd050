/* src_replay.h - replays a file as one athlete session.
 *
 * A recording (.gaitrec) is replayed frame by frame: each recorded frame's bytes go through
 * session_feed_frame, the very decode path live frames take, so the feeds reproduce the live
 * session's strides exactly. A gait CSV v1 file is read with daemon/input.h and its SI samples
 * are pushed with session_push_sample (CSV sessions are not re-recorded).
 * Pacing: data time follows wall time times env->speed; speed 0 replays as fast as possible in
 * slices of SOURCE_BUDGET_US so the loop keeps servicing the sockets. Damage stops the replay
 * with a warning naming the file and byte offset or line; everything before it is analysed.
 */
#ifndef GAITD_SRC_REPLAY_H
#define GAITD_SRC_REPLAY_H
#include <stddef.h>
#include "source.h"

/* Opens path (format detected from content). Fills *src and returns 0, or -1 with a message
 * naming the file in err. Caller owns *src (src->ops->free(src->impl)). */
int src_replay_new(source_t *src, const char *path, const source_env_t *env, char *err,
                   size_t errcap);

#endif
