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

#include "vhost-socket.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coverage.h"
#include "fatal-signal.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "socket-util.h"
#include "timeval.h"
#include "util.h"
#include "vhost-user.h"

VLOG_DEFINE_THIS_MODULE(vhost_socket);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

COVERAGE_DEFINE(vhost_socket_connect_fail);
COVERAGE_DEFINE(vhost_socket_extra_conn);
COVERAGE_DEFINE(vhost_socket_listen_fail);
COVERAGE_DEFINE(vhost_socket_accept_fail);
COVERAGE_DEFINE(vhost_socket_fds_lost);

/* How long a client waits between attempts to connect, and a server that
 * ran out of descriptors or memory between attempts to listen or
 * accept. */
#define RECONNECT_MSEC 1000

struct vhost_socket {
    char *name;                 /* Port name, for log messages. */
    char *path;
    bool server;

    int listen_fd;              /* Server mode only; -1 while the socket
                                 * cannot be made (out of resources). */
    int conn_fd;                /* -1 while not connected. */
    long long int next_connect; /* When to try to connect (client mode),
                                 * or to listen or accept again after
                                 * running out of resources (server). */
    int last_connect_error;     /* To log each error once. */
    bool fds_lost;              /* The last connection ended because the
                                 * kernel could not pass us descriptors. */

    /* The message being received: 'got' bytes of header and payload so
     * far, and the descriptors that came with them. */
    struct vhost_user_msg rx;
    size_t got;
};

static void
rx_reset(struct vhost_socket *sock)
{
    vhost_user_msg_close_fds(&sock->rx);
    sock->got = 0;
}

/* Whether 'error' is the system running short of something that may be
 * back later (descriptors, memory), rather than a mistake to report. */
static bool
is_resource_error(int error)
{
    return (error == EMFILE || error == ENFILE || error == ENOBUFS
            || error == ENOMEM);
}

/* Makes the socket that a server-mode port listens on. */
static int
open_listener(struct vhost_socket *sock, char **errp)
{
    struct stat st;
    int fd;

    /* make_unix_socket() replaces what is at 'path'; only ever replace an
     * old socket, never a file that something else put there. */
    if (!lstat(sock->path, &st) && !S_ISSOCK(st.st_mode)) {
        *errp = xasprintf("%s exists and is not a socket", sock->path);
        return EEXIST;
    }
    char *dir = dir_name(sock->path);
    int error = stat(dir, &st) ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    if (error) {
        *errp = xasprintf("cannot create socket %s: directory %s: %s",
                          sock->path, dir, ovs_strerror(error));
        free(dir);
        return error;
    }
    free(dir);

    fd = make_unix_socket(SOCK_STREAM, true, sock->path, NULL);
    if (fd < 0) {
        *errp = xasprintf("cannot create socket %s (%s)", sock->path,
                          ovs_strerror(-fd));
        return -fd;
    }
    if (listen(fd, 1)) {
        error = errno;
        *errp = xasprintf("cannot listen on %s (%s)", sock->path,
                          ovs_strerror(error));
        close(fd);
        fatal_signal_unlink_file_now(sock->path);
        return error;
    }
    sock->listen_fd = fd;
    return 0;
}

/* A server-mode port could not make its socket: 'reason' (which this
 * frees) says why, and status:socket_error will.  It tries again in a
 * second. */
static void
listen_later(struct vhost_socket *sock, int error, char *reason)
{
    COVERAGE_INC(vhost_socket_listen_fail);
    if (error != sock->last_connect_error) {
        VLOG_WARN("%s: %s; trying again every second", sock->name, reason);
        sock->last_connect_error = error;
    }
    free(reason);
    sock->next_connect = time_msec() + RECONNECT_MSEC;
}

/* Server mode, with no listening socket yet: tries to make it. */
static void
retry_listen(struct vhost_socket *sock)
{
    char *reason;
    int error;

    if (time_msec() < sock->next_connect) {
        return;
    }
    error = open_listener(sock, &reason);
    if (!error) {
        VLOG_INFO("%s: listening on %s", sock->name, sock->path);
        sock->last_connect_error = 0;
        sock->next_connect = LLONG_MIN;
    } else {
        /* Out of resources still, or something took the path meanwhile:
         * either way, say so once and keep trying. */
        listen_later(sock, error, reason);
    }
}

/* Whether a frontend waits to be accepted.  accept4() is not enough to
 * tell: it takes a descriptor number first, so at our limit it fails with
 * EMFILE even when nobody is there. */
static bool
frontend_waiting(const struct vhost_socket *sock)
{
    struct pollfd pfd = { .fd = sock->listen_fd, .events = POLLIN };

    return poll(&pfd, 1, 0) > 0 && pfd.revents & POLLIN;
}

/* Server mode: accept4() failed with 'error'.  Out of descriptors or
 * memory, or refused (EPERM from a security module), the frontend waits in
 * the backlog while we wait a second: the listening socket stays readable,
 * so waiting on it would spin. */
static void
accept_failed(struct vhost_socket *sock, int error)
{
    if (error == EAGAIN || error == EINTR || error == ECONNABORTED) {
        return;
    }
    COVERAGE_INC(vhost_socket_accept_fail);
    VLOG_WARN_RL(&rl, "%s: cannot accept a vhost-user connection on %s "
                 "(%s); trying again in a second", sock->name, sock->path,
                 ovs_strerror(error));
    sock->next_connect = time_msec() + RECONNECT_MSEC;
}

/* Opens the socket of port 'name': in server mode, listens on 'path' now;
 * in client mode, connects to 'path' from vhost_socket_run(). */
int
vhost_socket_open(const char *name, const char *path, bool server,
                  struct vhost_socket **sockp, char **errp)
{
    struct vhost_socket *sock = xzalloc(sizeof *sock);
    int error = 0;

    *errp = NULL;
    sock->name = xstrdup(name);
    sock->path = xstrdup(path);
    sock->server = server;
    sock->listen_fd = -1;
    sock->conn_fd = -1;
    sock->next_connect = LLONG_MIN;

    if (server) {
        error = open_listener(sock, errp);
        if (error && is_resource_error(error)) {
            /* Out of descriptors is no reason to lose the port: it gets
             * its socket as soon as there is one (vhost_socket_run()). */
            listen_later(sock, error, *errp);
            *errp = NULL;
            error = 0;
        } else if (error) {
            free(sock->name);
            free(sock->path);
            free(sock);
            sock = NULL;
        }
    }
    *sockp = sock;
    return error;
}

void
vhost_socket_disconnect(struct vhost_socket *sock)
{
    if (sock->conn_fd >= 0) {
        close(sock->conn_fd);
        sock->conn_fd = -1;
    }
    rx_reset(sock);
    /* A frontend that restarts comes back soon: try at once. */
    sock->next_connect = LLONG_MIN;
}

void
vhost_socket_close(struct vhost_socket *sock)
{
    if (sock) {
        vhost_socket_disconnect(sock);
        if (sock->listen_fd >= 0) {
            close(sock->listen_fd);
            fatal_signal_unlink_file_now(sock->path);
        }
        free(sock->name);
        free(sock->path);
        free(sock);
    }
}

static enum vhost_socket_event
try_connect(struct vhost_socket *sock)
{
    int fd;

    if (sock->server) {
        if (sock->listen_fd < 0) {
            retry_listen(sock);
            return VHOST_SOCKET_IDLE;
        }
        if (time_msec() < sock->next_connect || !frontend_waiting(sock)) {
            return VHOST_SOCKET_IDLE;
        }
        fd = accept4(sock->listen_fd, NULL, NULL,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            accept_failed(sock, errno);
            return VHOST_SOCKET_IDLE;
        }
    } else {
        if (time_msec() < sock->next_connect) {
            return VHOST_SOCKET_IDLE;
        }
        fd = make_unix_socket(SOCK_STREAM, true, NULL, sock->path);
        if (fd < 0) {
            COVERAGE_INC(vhost_socket_connect_fail);
            if (-fd != sock->last_connect_error) {
                if (is_resource_error(-fd)) {
                    VLOG_WARN("%s: cannot connect to vhost-user server %s "
                              "(%s); trying again every second",
                              sock->name, sock->path, ovs_strerror(-fd));
                } else {
                    VLOG_INFO("%s: waiting for vhost-user server %s (%s)",
                              sock->name, sock->path, ovs_strerror(-fd));
                }
                sock->last_connect_error = -fd;
            }
            sock->next_connect = time_msec() + RECONNECT_MSEC;
            return VHOST_SOCKET_IDLE;
        }
        sock->last_connect_error = 0;
    }
    sock->conn_fd = fd;
    rx_reset(sock);
    return VHOST_SOCKET_CONNECTED;
}

/* Server mode: a frontend is already connected, so any other that tries is
 * turned away. */
static void
refuse_extra_connections(struct vhost_socket *sock)
{
    if (time_msec() < sock->next_connect || !frontend_waiting(sock)) {
        return;
    }

    int fd = accept4(sock->listen_fd, NULL, NULL,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
        COVERAGE_INC(vhost_socket_extra_conn);
        VLOG_WARN_RL(&rl, "%s: refused a second vhost-user connection on %s",
                     sock->name, sock->path);
        close(fd);
    } else {
        accept_failed(sock, errno);
    }
}

/* Takes the file descriptors out of 'msg's control data into 'sock->rx'.
 * Returns 0 if all came, otherwise a reason: there were more than a
 * message may carry, or the kernel could not give us some of them. */
static char *
collect_fds(struct vhost_socket *sock, struct msghdr *msg)
{
    size_t n_received = 0;
    bool too_many = false;

    for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg); cmsg;
         cmsg = CMSG_NXTHDR(msg, cmsg)) {
        if (cmsg->cmsg_level != SOL_SOCKET
            || cmsg->cmsg_type != SCM_RIGHTS) {
            continue;
        }

        size_t n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const int *fds = ALIGNED_CAST(const int *, CMSG_DATA(cmsg));
        for (size_t i = 0; i < n; i++) {
            if (sock->rx.n_fds < VHOST_USER_MAX_FDS) {
                sock->rx.fds[sock->rx.n_fds++] = fds[i];
            } else {
                close(fds[i]);
                too_many = true;
            }
        }
        n_received += n;
    }

    if (too_many) {
        return xasprintf("a message came with more than %d file "
                         "descriptors", VHOST_USER_MAX_FDS);
    } else if (msg->msg_flags & MSG_CTRUNC) {
        /* The control buffer has room for as many as a message may
         * carry, so with fewer than that the kernel had no descriptor for
         * the rest: we are at our limit (RLIMIT_NOFILE). */
        if (n_received >= VHOST_USER_MAX_FDS) {
            return xasprintf("a message came with more than %d file "
                             "descriptors", VHOST_USER_MAX_FDS);
        }
        COVERAGE_INC(vhost_socket_fds_lost);
        sock->fds_lost = true;
        return xstrdup("file descriptors sent with a message were lost: "
                       "ovs-vswitchd is out of file descriptors");
    }
    return NULL;
}

/* Reads what is there of the current message.  Returns 0 if the message is
 * complete, EAGAIN if more is to come, otherwise an error with a reason. */
static int
receive(struct vhost_socket *sock, char **reasonp)
{
    const size_t hdr_size = sizeof sock->rx.hdr;

    for (;;) {
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
        } control;
        struct iovec iov;
        struct msghdr msg;
        ssize_t n;

        if (sock->got < hdr_size) {
            iov.iov_base = (char *) &sock->rx.hdr + sock->got;
            iov.iov_len = hdr_size - sock->got;
        } else if (sock->got < hdr_size + sock->rx.hdr.size) {
            iov.iov_base = (char *) &sock->rx.payload + (sock->got
                                                          - hdr_size);
            iov.iov_len = hdr_size + sock->rx.hdr.size - sock->got;
        } else {
            return 0;
        }

        memset(&msg, 0, sizeof msg);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof control.buf;
        n = recvmsg(sock->conn_fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                return EAGAIN;
            }
            *reasonp = xasprintf("receive error (%s)", ovs_strerror(errno));
            return errno;
        } else if (!n) {
            *reasonp = xstrdup(sock->got ? "closed in the middle of a message"
                                         : "closed by the frontend");
            return EOF;
        }

        *reasonp = collect_fds(sock, &msg);
        if (*reasonp) {
            return EPROTO;
        }

        bool had_header = sock->got >= hdr_size;
        sock->got += n;
        if (!had_header && sock->got >= hdr_size) {
            if (sock->rx.hdr.size > VHOST_USER_MAX_PAYLOAD) {
                *reasonp = xasprintf("request %"PRIu32": %"PRIu32"-byte "
                                     "payload, more than any request has",
                                     sock->rx.hdr.request,
                                     sock->rx.hdr.size);
                return EPROTO;
            }
            /* Fields beyond a short payload read as zero. */
            memset(&sock->rx.payload, 0, sizeof sock->rx.payload);
        }
    }
}

/* Does the next thing there is to do on 'sock': connect, accept, or read.
 * On VHOST_SOCKET_MESSAGE, '*msg' holds the message and owns its
 * descriptors.  On VHOST_SOCKET_DISCONNECTED or VHOST_SOCKET_BAD_MESSAGE,
 * '*reasonp' says why (the caller frees it). */
enum vhost_socket_event
vhost_socket_run(struct vhost_socket *sock, struct vhost_user_msg *msg,
                 char **reasonp)
{
    int error;

    *reasonp = NULL;
    if (sock->conn_fd < 0) {
        return try_connect(sock);
    }
    if (sock->server) {
        refuse_extra_connections(sock);
    }

    error = receive(sock, reasonp);
    if (error == EAGAIN) {
        return VHOST_SOCKET_IDLE;
    } else if (error) {
        vhost_socket_disconnect(sock);
        if (sock->fds_lost) {
            /* A frontend that comes straight back would lose them again:
             * give descriptors a second to come free. */
            sock->fds_lost = false;
            sock->next_connect = time_msec() + RECONNECT_MSEC;
        }
        return (error == EPROTO ? VHOST_SOCKET_BAD_MESSAGE
                : VHOST_SOCKET_DISCONNECTED);
    }

    *msg = sock->rx;
    sock->rx.n_fds = 0;
    sock->got = 0;
    return VHOST_SOCKET_MESSAGE;
}

/* Sends 'msg' (a reply, without descriptors).  A frontend that does not read
 * its replies gets disconnected rather than blocking us. */
int
vhost_socket_send(struct vhost_socket *sock, const struct vhost_user_msg *msg)
{
    struct iovec iov[2] = {
        { .iov_base = CONST_CAST(struct vhost_user_header *, &msg->hdr),
          .iov_len = sizeof msg->hdr },
        { .iov_base = CONST_CAST(union vhost_user_payload *, &msg->payload),
          .iov_len = msg->hdr.size },
    };
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
    size_t total = sizeof msg->hdr + msg->hdr.size;
    ssize_t n;

    if (sock->conn_fd < 0) {
        return ENOTCONN;
    }
    do {
        n = sendmsg(sock->conn_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);

    if (n < 0) {
        return errno;
    }
    return n == total ? 0 : EAGAIN;
}

void
vhost_socket_wait(const struct vhost_socket *sock)
{
    if (sock->conn_fd >= 0) {
        poll_fd_wait(sock->conn_fd, POLLIN);
    }
    if (sock->server) {
        if (sock->listen_fd < 0 || time_msec() < sock->next_connect) {
            /* Out of resources: a timer, as the listening socket stays
             * readable while its frontend waits. */
            poll_timer_wait_until(sock->next_connect);
        } else {
            /* A frontend to accept or, while connected, to turn away. */
            poll_fd_wait(sock->listen_fd, POLLIN);
        }
    } else if (sock->conn_fd < 0) {
        poll_timer_wait_until(sock->next_connect);
    }
}

bool
vhost_socket_is_connected(const struct vhost_socket *sock)
{
    return sock->conn_fd >= 0;
}

/* Server mode: 0 if 'sock' listens, otherwise why it cannot yet. */
int
vhost_socket_listen_error(const struct vhost_socket *sock)
{
    return sock->server && sock->listen_fd < 0 ? sock->last_connect_error : 0;
}

bool
vhost_socket_is_server(const struct vhost_socket *sock)
{
    return sock->server;
}

const char *
vhost_socket_path(const struct vhost_socket *sock)
{
    return sock->path;
}
