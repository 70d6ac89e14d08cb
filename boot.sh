#! /bin/sh
# Generates configure and Makefile.in.  Same as "autoreconf -fi".
set -e
autoreconf --install --force
