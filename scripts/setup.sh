#!/usr/bin/env bash
# Prepare a Debian 12 machine for Lamina, then configure and build it.
#
#   scripts/setup.sh [--no-build]
#
# Idempotent: installs only the packages that are missing (as root, or with
# sudo), builds the Linux guest images into images/linux/ (Debian's arm64
# kernel and a BusyBox initramfs: scripts/build-guest-images.sh, which does
# nothing when they are up to date), then configures the build directory
# ($LAMINA_BUILD_DIR, default build/) with Ninja and builds everything: the
# hypervisor image, the test guests, the host tools and the tests.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${LAMINA_BUILD_DIR:-$REPO_DIR/build}"

PACKAGES=(
  cmake ninja-build g++
  g++-aarch64-linux-gnu binutils-aarch64-linux-gnu
  qemu-system-arm device-tree-compiler gdb-multiarch
  libgtest-dev libgmock-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  libcpp-httplib-dev libasio-dev pkg-config
  python3 python3-prometheus-client cpio
  clang libclang-rt-14-dev
)

log() { printf 'setup: %s\n' "$*"; }

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    log "need root to run: $*  (run as root or install sudo)" >&2
    return 1
  fi
}

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

install_packages() {
  if ! command -v dpkg-query >/dev/null; then
    log "not a Debian system: install by hand: ${PACKAGES[*]}" >&2
    return 0
  fi
  local missing=() package
  for package in "${PACKAGES[@]}"; do
    is_installed "$package" || missing+=("$package")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "all packages present"
    return 0
  fi
  log "installing: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The Linux guest images (Debian's arm64 cloud kernel, a BusyBox initramfs
# with guests/linux/): downloaded with apt and built into images/linux/, or
# $LAMINA_IMAGES_DIR. Up to date images are left alone, without network.
fetch_guest_images() {
  "$REPO_DIR/scripts/build-guest-images.sh"
}

configure_and_build() {
  if [[ -f "$BUILD_DIR/CMakeCache.txt" ]]; then
    cmake -S "$REPO_DIR" -B "$BUILD_DIR"   # keep the generator it was made with
  else
    cmake -S "$REPO_DIR" -B "$BUILD_DIR" -G Ninja
  fi
  cmake --build "$BUILD_DIR"
}

main() {
  local build=1
  case "${1:-}" in
    "") ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; return 0 ;;
    *) log "unknown option: $1 (try --help)" >&2; return 2 ;;
  esac
  install_packages
  fetch_guest_images
  if [[ $build -eq 1 ]]; then
    configure_and_build
  fi
}

main "$@"
