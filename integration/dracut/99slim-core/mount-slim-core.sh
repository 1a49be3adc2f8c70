#!/bin/sh
# dracut pre-pivot hook, before kdump's own: mounts the squashfs image that holds node and slim-core.
grep -q ' /opt/slim-core ' /proc/mounts && return 0
modprobe loop 2>/dev/null
modprobe squashfs 2>/dev/null
mount -t squashfs -o loop,ro /slim-core.sqfs /opt/slim-core || echo "slim-core: cannot mount /slim-core.sqfs" > /dev/console
