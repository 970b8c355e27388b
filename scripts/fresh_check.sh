#!/usr/bin/env bash
# Opt-in set-up check (slow, not part of .ci/run): proves the README's two set-up commands pass
# on a fresh Debian bookworm machine. As root, it
#   1. builds (once; reused while complete) a pristine minimal bookworm chroot with debootstrap
#      from the Debian mirror this machine's apt uses, under DIR/base;
#   2. copies it to DIR/run (a fresh copy every time, so nothing installed by an earlier run
#      counts), clones the repository at COMMIT to /work/twinverify inside and bind-mounts
#      /work/shared read-only beside it as /work/shared;
#   3. gives the chroot the host's Rust toolchain (a fresh image has none and none can be
#      downloaded here): ~/.rustup and ~/.cargo/bin bind-mounted read-only, CARGO_HOME a
#      writable /root/.cargo holding a copy of the host's registry cache (the host's is not
#      written);
#   4. runs, as root inside the chroot and at nice 19, exactly the README's commands
#      `bash scripts/demo.sh` and `bash scripts/test.sh`, and prints PASS/FAIL with the time of
#      each. Exits non-zero when either fails. Everything mounted is unmounted on exit.
#
# Usage: sudo bash scripts/fresh_check.sh [DIR] [COMMIT]
#   DIR     where the chroots live (or TWINVERIFY_FRESH_DIR; default /var/tmp/twinverify-fresh)
#   COMMIT  what to check (or TWINVERIFY_FRESH_COMMIT; default HEAD of this repository)
#   TWINVERIFY_FRESH_MIRROR  overrides the Debian mirror
#   TWINVERIFY_FRESH_RUN     a shell command run in the chroot's repo instead of the two README
#                            commands (e.g. 'bash scripts/deps.sh && dpkg -s libclang-dev')
# The repo's git history is needed, not its working tree: uncommitted changes are not checked.
set -euo pipefail

die() { echo "fresh_check: $*" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, mounts)"

src=$(cd "$(dirname "$0")/.." && pwd)
dir=$(realpath -m "${1:-${TWINVERIFY_FRESH_DIR:-/var/tmp/twinverify-fresh}}")
commit=${2:-${TWINVERIFY_FRESH_COMMIT:-HEAD}}
commit=$(git -C "$src" rev-parse --verify "$commit^{commit}") || die "no commit $commit in $src"
suite=bookworm
rust_home=${RUSTUP_HOME:-$HOME/.rustup}
cargo_home=${CARGO_HOME:-$HOME/.cargo}
shared=$(cd "$src/.." && pwd)/shared
[ -d "$shared" ] || shared=/work/shared
[ -d "$rust_home/toolchains" ] || die "no Rust toolchain in $rust_home"
[ -d "$cargo_home/bin" ] || die "no $cargo_home/bin"

# The mirror apt uses here: the first URI serving $suite in the enabled sources.
mirror() {
  [ -n "${TWINVERIFY_FRESH_MIRROR:-}" ] && { echo "$TWINVERIFY_FRESH_MIRROR"; return; }
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v s="$suite" '$1 == "deb" { for (i = 2; i < NF; i++) if ($i !~ /^\[/ && $(i+1) == s) { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822 stanzas are separated by blank lines
    awk -v s="$suite" 'BEGIN { RS = "" } /(^|\n)Types:[^\n]*deb([ \n]|$)/ {
        u = ""; ok = 0; n = split($0, l, "\n")
        for (i = 1; i <= n; i++) {
          if (l[i] ~ /^URIs:/) { split(l[i], w, " "); u = w[2] }
          if (l[i] ~ /^Suites:/) { m = split(l[i], w, " "); for (j = 2; j <= m; j++) if (w[j] == s) ok = 1 }
        }
        if (ok && u != "") { print u; exit } }' "$f"
  done
}
url=$(mirror | head -n 1)
[ -n "$url" ] || url=http://deb.debian.org/debian

base=$dir/base
run=$dir/run
mounts=()   # mounted by this run, unmounted in reverse order on exit

mounted_under() { awk -v p="$1" '$2 == p || index($2, p "/") == 1 { print $2 }' /proc/self/mounts; }
cleanup() {
  local rc=$? i pid
  # processes still running inside the chroot (only on interruption) are ours: end them by id
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$run" ] && kill "$pid" 2>/dev/null || true
  done
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" || echo "fresh_check: could not unmount ${mounts[i]}" >&2
  done
  mounts=()
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. the pristine base (a marker says debootstrap finished)
if [ ! -f "$base/.twinverify-fresh-complete" ]; then
  command -v debootstrap >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  [ -z "$(mounted_under "$base.tmp")$(mounted_under "$base")" ] || die "something is mounted under $base"
  rm -rf --one-file-system "$base.tmp" "$base"
  mkdir -p "$dir"
  echo "fresh_check: debootstrap --variant=minbase $suite from $url into $base" >&2
  nice -n 19 debootstrap --variant=minbase "$suite" "$base.tmp" "$url" >"$dir/debootstrap.log" 2>&1 ||
    { tail -n 20 "$dir/debootstrap.log" >&2; die "debootstrap failed (log: $dir/debootstrap.log)"; }
  date -u +%FT%TZ >"$base.tmp/.twinverify-fresh-complete"
  mv "$base.tmp" "$base"
fi

# 2. a fresh copy of it, with the repository at $commit
[ -z "$(mounted_under "$run")" ] || die "something is still mounted under $run (an earlier run?): $(mounted_under "$run" | tr '\n' ' ')"
rm -rf --one-file-system "$run"
cp -a "$base" "$run"
rm -f "$run/.twinverify-fresh-complete"
cp -L /etc/resolv.conf "$run/etc/resolv.conf"
# no daemon may start inside the chroot (a convention of chroots, not a package the build needs)
printf '#!/bin/sh\nexit 101\n' >"$run/usr/sbin/policy-rc.d"; chmod +x "$run/usr/sbin/policy-rc.d"
mkdir -p "$run/work"
git clone -q --no-checkout "$(git -C "$src" rev-parse --path-format=absolute --git-common-dir)" "$run/work/twinverify"
git -C "$run/work/twinverify" -c advice.detachedHead=false checkout -q "$commit" ||
  die "commit $commit is not on any branch of $src (clone could not see it)"
rm -rf "$run/work/twinverify/.git"   # the check is about the tree, and a fresh machine has no git

# 3. mounts: kernel file systems, the toolchain (read-only), ../shared (read-only)
bind() { # bind SRC DEST [ro]
  mkdir -p "$2"
  mount --bind "$1" "$2"; mounts+=("$2")
  mount --make-private "$2"   # on systemd hosts / is shared: nothing mounted below may leak out
  [ "${3:-}" != ro ] || mount -o remount,bind,ro "$2"
}
mount -t proc proc "$run/proc"; mounts+=("$run/proc")
mount -t sysfs sysfs "$run/sys"; mounts+=("$run/sys")
bind /dev "$run/dev"
bind /dev/pts "$run/dev/pts"
bind /dev/shm "$run/dev/shm"
bind "$rust_home" "$run/root/.rustup" ro
bind "$cargo_home/bin" "$run/root/.cargo/bin" ro
mkdir -p "$run/root/.cargo/registry"
for d in cache index; do
  [ ! -d "$cargo_home/registry/$d" ] || cp -a "$cargo_home/registry/$d" "$run/root/.cargo/registry/"
done
[ ! -d "$shared" ] || bind "$shared" "$run/work/shared" ro

# 4. the commands, as root in the chroot with a clean environment
in_chroot() {
  nice -n 19 chroot "$run" /usr/bin/env -i HOME=/root USER=root LOGNAME=root TERM=dumb LANG=C.UTF-8 \
    PATH=/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    RUSTUP_HOME=/root/.rustup CARGO_HOME=/root/.cargo \
    ${TWINVERIFY_SLOW:+TWINVERIFY_SLOW=$TWINVERIFY_SLOW} \
    /bin/bash -c "cd /work/twinverify && $1"
}
hms() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
if [ -n "${TWINVERIFY_FRESH_RUN:-}" ]; then
  cmds=("$TWINVERIFY_FRESH_RUN")
else
  cmds=("bash scripts/demo.sh" "bash scripts/test.sh")
fi
echo "fresh_check: $commit in a fresh $suite chroot ($run; mirror $url)"
results=(); failed=0
for c in "${cmds[@]}"; do
  echo "fresh_check: ==> ${c%%$'\n'*}"
  t0=$(date +%s)
  # in the background so that a signal runs the clean-up at once (bash defers traps while a
  # foreground child runs)
  in_chroot "$c" &
  if wait $!; then r=PASS; else r="FAIL (exit $?)"; failed=1; fi
  label=${c%%$'\n'*}; [ "$label" = "$c" ] || label="$label …"
  line="$r  $label  ($(hms $(($(date +%s) - t0))))"
  echo "fresh_check: <== $line"
  results+=("$line")
done
echo "fresh_check: summary for $commit:"
printf 'fresh_check:   %s\n' "${results[@]}"
if [ "$failed" -eq 0 ]; then echo "fresh_check: PASS"; else echo "fresh_check: FAIL"; exit 1; fi
