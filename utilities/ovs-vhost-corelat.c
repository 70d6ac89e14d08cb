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

/* ovs-vhost-corelat: how long one cache line takes to go from one core to
 * another and back, in nanoseconds.
 *
 *     ovs-vhost-corelat [CORE_A CORE_B [ROUND_TRIPS]]
 *
 * ovs-vhost-bench runs it around every measurement.  A guest's driver and
 * the switch poll the same rings from two cores, so every packet costs a
 * few such transfers; on a virtual machine the host may move the two
 * virtual cores apart for a while, and then every contender runs at a
 * fraction of its rate.  A measurement taken then is not compared with the
 * others: the benchmark waits and takes it again. */

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The line that goes back and forth: 1 from the first core, 0 back. */
static _Alignas(64) atomic_int ball;
static long round_trips = 200000;

static int
pin(int core)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(core, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *
returner(void *core_)
{
    int core = *(int *) core_;

    if (pin(core)) {
        fprintf(stderr, "ovs-vhost-corelat: cannot run on core %d\n", core);
        exit(1);
    }
    /* One more than timed: the first waits for this thread to start. */
    for (long i = 0; i <= round_trips; i++) {
        while (atomic_load_explicit(&ball, memory_order_acquire) != 1) {
            continue;
        }
        atomic_store_explicit(&ball, 0, memory_order_release);
    }
    return NULL;
}

int
main(int argc, char *argv[])
{
    int core_a = argc > 2 ? atoi(argv[1]) : 0;
    int core_b = argc > 2 ? atoi(argv[2]) : 1;
    struct timespec start, end;
    pthread_t thread;
    int error;

    if (argc > 3) {
        round_trips = atol(argv[3]);
    }
    if (round_trips <= 0 || argc == 2 || argc > 4) {
        fprintf(stderr, "usage: %s [CORE_A CORE_B [ROUND_TRIPS]]\n",
                argv[0]);
        return 1;
    }

    error = pthread_create(&thread, NULL, returner, &core_a);
    if (error) {
        fprintf(stderr, "ovs-vhost-corelat: %s\n", strerror(error));
        return 1;
    }
    if (pin(core_b)) {
        fprintf(stderr, "ovs-vhost-corelat: cannot run on core %d\n",
                core_b);
        return 1;
    }

    for (long i = 0; i <= round_trips; i++) {
        if (i == 1) {
            clock_gettime(CLOCK_MONOTONIC, &start);
        }
        atomic_store_explicit(&ball, 1, memory_order_release);
        while (atomic_load_explicit(&ball, memory_order_acquire) != 0) {
            continue;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    pthread_join(thread, NULL);

    printf("%.1f\n", ((end.tv_sec - start.tv_sec) * 1e9
                      + (end.tv_nsec - start.tv_nsec)) / round_trips);
    return 0;
}
