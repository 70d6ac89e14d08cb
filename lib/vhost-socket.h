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

#ifndef VHOST_SOCKET_H
#define VHOST_SOCKET_H 1

/* The unix socket of one vhost-user port and its one connection.
 *
 * In server mode we listen on a path and take one frontend at a time; in
 * client mode we connect to the frontend's path, and keep trying every
 * second while it is not there.  Messages are read without blocking and
 * reassembled, with the file descriptors that came with them, so that one
 * slow or hostile frontend cannot hold up any other port.
 *
 * Running out of file descriptors (or socket memory) loses no port: one
 * that cannot make its socket, accept or connect logs why and tries again
 * every second; a connection whose descriptors the kernel could not pass
 * on is closed, as the frontend's messages are then incomplete. */

#include <stdbool.h>

#include "openvswitch/compiler.h"

struct vhost_socket;
struct vhost_user_msg;

enum vhost_socket_event {
    VHOST_SOCKET_IDLE,          /* Nothing to do now. */
    VHOST_SOCKET_CONNECTED,     /* A frontend is now connected. */
    VHOST_SOCKET_MESSAGE,       /* A whole message arrived. */
    VHOST_SOCKET_DISCONNECTED,  /* The connection is gone. */
    VHOST_SOCKET_BAD_MESSAGE,   /* A message could not be framed: too large,
                                 * or too many descriptors; the connection
                                 * is closed. */
};

int vhost_socket_open(const char *name, const char *path, bool server,
                      struct vhost_socket **, char **errp)
    OVS_WARN_UNUSED_RESULT;
void vhost_socket_close(struct vhost_socket *);

enum vhost_socket_event vhost_socket_run(struct vhost_socket *,
                                         struct vhost_user_msg *,
                                         char **reasonp);
int vhost_socket_send(struct vhost_socket *, const struct vhost_user_msg *);
void vhost_socket_disconnect(struct vhost_socket *);
void vhost_socket_wait(const struct vhost_socket *);

bool vhost_socket_is_connected(const struct vhost_socket *);
bool vhost_socket_is_server(const struct vhost_socket *);
int vhost_socket_listen_error(const struct vhost_socket *);
const char *vhost_socket_path(const struct vhost_socket *);

#endif /* vhost-socket.h */
