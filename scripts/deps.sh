#!/usr/bin/env bash
# Installs the system packages twinverify's build and tests need on a fresh Debian machine
# (only what is missing; needs root or sudo), then checks again and fails with one line per
# thing still absent. Run by scripts/demo.sh and scripts/test.sh.
#
# What the build really needs (not what happens to be on this machine):
#   - a C and a C++ compiler and cmake: highs-sys builds HiGHS from source;
#   - libclang itself (libclang.so or libclang-N.so, not libclang-cpp.so, which LLVM ships too)
#     and clang's builtin headers (stddef.h): bindgen loads the former and parses with the latter;
#   - cbc and glpsol for the external-solver tests; the DejaVu font for chart text.
set -euo pipefail

have_libclang() {
  # the files clang-sys accepts; libclang-cpp is a different library
  local f
  for f in $( (ldconfig -p 2>/dev/null | awk '{print $NF}'; ls /usr/lib/llvm-*/lib/* 2>/dev/null) |
    grep -E '/libclang(-[0-9.]+)?\.so(\.[0-9.]+)?$'); do
    [ -e "$f" ] && return 0
  done
  return 1
}
have_clang_headers() {
  ls /usr/lib/llvm-*/lib/clang/*/include/stddef.h >/dev/null 2>&1
}
font=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf

# "package: check" pairs; the check is evaluated before and after installing
checks=(
  "gcc:command -v cc"
  "g++:command -v c++"
  "make:command -v make"
  "cmake:command -v cmake"
  "libclang-dev:have_libclang && have_clang_headers"
  "coinor-cbc:command -v cbc"
  "glpk-utils:command -v glpsol"
  "fonts-dejavu-core:test -f $font"
)

missing() {
  local entry
  for entry in "${checks[@]}"; do
    eval "${entry#*:}" >/dev/null 2>&1 || echo "${entry%%:*}"
  done
}

need=($(missing))
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing system packages: ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  still=($(missing))
  if [ ${#still[@]} -gt 0 ]; then
    echo "deps.sh: still missing after apt-get install: ${still[*]}" >&2
    exit 1
  fi
fi
