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

/* Joins the "vhost" port type to ovs-vswitchd.
 *
 * ovs-vswitchd knows its netdev types from the providers registered with
 * netdev_register_provider(), so registering ours before main() runs is all
 * it takes: no file of Open vSwitch changes.  The type then appears in the
 * Open_vSwitch table's iface_types column and dpif-netdev opens it like any
 * other port.  Our unixctl commands are registered the same way. */

#include <config.h>

#include "netdev-provider.h"
#include "netdev-vhost.h"
#include "util.h"
#include "vhost-show.h"

OVS_CONSTRUCTOR(vhost_register)
{
    /* Nothing can be logged yet; a failure here is a build error. */
    ovs_assert(!netdev_register_provider(&netdev_vhost_class));
    vhost_show_register();
}
