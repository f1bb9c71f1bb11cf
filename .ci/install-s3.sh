#!/usr/bin/env bash
# Installs the loopback S3 server the storage tests use (s3s-fs 0.14.1, the newest that builds
# with Rust 1.95) unless it is already there, and prints the binary's path on stdout.
#   HOD_S3S_FS  use this binary instead (nothing is installed)
#   HOD_TOOLS   install root (default ~/.cache/hod-tools; the binary goes to $HOD_TOOLS/bin)
# The tests find the binary in $HOD_S3S_FS, PATH or $HOD_TOOLS/bin, so
# `export HOD_S3S_FS="$(.ci/install-s3.sh)"` is optional. About 5 minutes of build on 2 cores.
set -euo pipefail

if [[ -n "${HOD_S3S_FS:-}" ]]; then
    if [[ -x "$HOD_S3S_FS" ]]; then
        echo "$HOD_S3S_FS"
        exit 0
    fi
    echo "install-s3.sh: HOD_S3S_FS=$HOD_S3S_FS is not an executable file" >&2
    exit 1
fi

root="${HOD_TOOLS:-$HOME/.cache/hod-tools}"
bin="$root/bin/s3s-fs"
if [[ ! -x "$bin" ]]; then
    echo "install-s3.sh: building s3s-fs 0.14.1 into $root (once)" >&2
    # cargo prints its progress on stderr; stdout carries only the path.
    cargo install --locked --root "$root" s3s-fs@0.14.1 --features binary >&2
fi
echo "$bin"
