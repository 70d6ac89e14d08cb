/*
 * Copyright (c) 2026 The ovs-vhost authors.
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at:
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

#include <config.h>

#include "fuzz-util.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>

#include "fatal-signal.h"
#include "openvswitch/vlog.h"
#include "util.h"

int
fuzz_count_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    int n = 0;

    if (!dir) {
        ovs_fatal(errno, "/proc/self/fd");
    }
    while (readdir(dir)) {
        n++;
    }
    closedir(dir);
    return n;
}

void
fuzz_init(void)
{
    /* OVS handles these to clean up before it dies, and would re-raise
     * them with the default action (a libFuzzer timeout would then kill the
     * fuzzer without a report); libFuzzer only installs its handlers where
     * there are none.  Keep whatever was there before. */
    static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGALRM,
                                   SIGSEGV };
    struct sigaction old[ARRAY_SIZE(signals)];

    for (size_t i = 0; i < ARRAY_SIZE(signals); i++) {
        sigaction(signals[i], NULL, &old[i]);
    }
    fatal_signal_init();
    for (size_t i = 0; i < ARRAY_SIZE(signals); i++) {
        sigaction(signals[i], &old[i], NULL);
    }

    vlog_set_levels(NULL, VLF_CONSOLE, VLL_OFF);
    vlog_set_levels(NULL, VLF_SYSLOG, VLL_OFF);
    if (!vlog_set_log_file("/dev/null")) {
        vlog_set_levels(NULL, VLF_FILE, VLL_DBG);
    }
}
