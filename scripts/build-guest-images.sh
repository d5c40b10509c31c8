#!/usr/bin/env bash
# Build the Linux guest images: Debian's arm64 cloud kernel and a BusyBox
# initramfs with Lamina's /init, the guest test scripts and a few modules.
#
#   scripts/build-guest-images.sh [--force | --check]
#
# Output, in $LAMINA_IMAGES_DIR (default: <repo>/images/linux):
#   Image              the kernel, an uncompressed arm64 Image
#   initramfs.cpio.gz  newc cpio, gzip: BusyBox, /init, /tests, modules
#   VERSION            what they were built from (package versions, a hash of
#                      this script and of guests/linux/)
#   cache/             the downloaded .deb packages
#
# Idempotent: when VERSION matches the package versions apt knows and the
# inputs' hash, nothing is done (no network). An edit of guests/linux/ only
# rebuilds the initramfs from the cached packages. Otherwise it adds the
# arm64 foreign architecture if missing (root or sudo), runs apt-get update
# only if apt does not know the packages, and downloads them with
# apt-get download. Needs: apt, dpkg-deb, cpio, gzip, python3.
#   --force  rebuild even if up to date
#   --check  only say whether the images are up to date (exit 0) or not (1)
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPT="$REPO_DIR/scripts/build-guest-images.sh"
GUEST_DIR="$REPO_DIR/guests/linux"
OUT_DIR="${LAMINA_IMAGES_DIR:-$REPO_DIR/images/linux}"
CACHE_DIR="$OUT_DIR/cache"

ARCH=arm64
KERNEL_META=linux-image-cloud-arm64   # depends on linux-image-<abi>-cloud-arm64
BUSYBOX_PACKAGE="busybox-static"

# Modules shipped in the initramfs (their dependencies come along). Names
# as the kernel knows them: '-' and '_' are the same.
MODULES=(
  virtio virtio_ring virtio_mmio virtio_net virtio_blk virtio_console
  virtio_balloon virtio_input evdev virtio_rng arm_smccc_trng brd
)
OPTIONAL_MODULES=(vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport)

log() { printf 'build-guest-images: %s\n' "$*"; }
die() { printf 'build-guest-images: error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "need root to run: $*  (run as root or install sudo)"
  fi
}

# --- What the images are built from -----------------------------------------

# A hash of everything in the repository that goes into the images.
inputs_hash() {
  (
    cd "$REPO_DIR"
    { echo scripts/build-guest-images.sh; find guests/linux -type f; } | LC_ALL=C sort |
      while IFS= read -r file; do
        printf '%s %s\n' "$(sha256sum < "$file" | cut -d' ' -f1)" "$file"
      done
  ) | sha256sum | cut -d' ' -f1
}

# Sets KERNEL_PACKAGE, KERNEL_VERSION and BUSYBOX_VERSION from apt's local
# package lists (no network); fails when apt does not know the packages.
resolve_packages() {
  KERNEL_PACKAGE=$(apt-cache depends "$KERNEL_META:$ARCH" 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*-cloud-arm64\)\(:arm64\)\{0,1\}$/\1/p' | head -n1) || true
  [[ -n $KERNEL_PACKAGE ]] || return 1
  # The candidate versions of both, in one (slow) apt-cache call.
  local versions
  versions=$(apt-cache show --no-all-versions "$KERNEL_PACKAGE:$ARCH" "$BUSYBOX_PACKAGE:$ARCH" \
    2>/dev/null | awk '/^Package: / { package = $2 } /^Version: / { print package, $2 }') || true
  KERNEL_VERSION=$(awk -v p="$KERNEL_PACKAGE" '$1 == p { print $2; exit }' <<< "$versions")
  BUSYBOX_VERSION=$(awk -v p="$BUSYBOX_PACKAGE" '$1 == p { print $2; exit }' <<< "$versions")
  [[ -n $KERNEL_VERSION && -n $BUSYBOX_VERSION ]]
}

stamp_value() {
  sed -n "s/^$1=//p" "$OUT_DIR/VERSION" 2>/dev/null | head -n1
}

images_present() {
  [[ -s $OUT_DIR/Image && -s $OUT_DIR/initramfs.cpio.gz && -s $OUT_DIR/VERSION ]]
}

# The .deb file of package $1 at version $2 in the cache, if downloaded.
cached_deb() {
  local file="$CACHE_DIR/${1}_${2//:/%3a}_$ARCH.deb"
  [[ -s $file ]] && printf '%s\n' "$file"
}

# --- Getting the packages -----------------------------------------------------

ensure_arm64_architecture() {
  if ! dpkg --print-foreign-architectures | grep -qx "$ARCH"; then
    log "adding the $ARCH foreign architecture"
    as_root dpkg --add-architecture "$ARCH"
  fi
}

# Downloads package $1 version $2 into the cache; fails if apt cannot.
download() {
  local package=$1 version=$2 dir
  dir=$(mktemp -d "$WORK/download.XXXXXX")
  # As root, apt fetches as the _apt user: let it write into the directory
  # (otherwise apt warns and downloads unsandboxed).
  if [[ $(id -u) -eq 0 ]] && id _apt >/dev/null 2>&1; then
    chown _apt "$dir"
  fi
  log "downloading $package $version ($ARCH)"
  (cd "$dir" && apt-get download -q "$package:$ARCH=$version") || return 1
  local debs=("$dir"/*.deb)
  [[ ${#debs[@]} -eq 1 && -s ${debs[0]} ]] || die "apt-get download $package left no .deb"
  mkdir -p "$CACHE_DIR"
  mv "${debs[0]}" "$CACHE_DIR/${package}_${version//:/%3a}_$ARCH.deb"
}

# Both packages in the cache. Should the mirror no longer have the versions
# apt's lists name (lists older than a security update), update them once
# and try again.
fetch_packages() {
  local attempt
  for attempt in 1 2; do
    if { cached_deb "$KERNEL_PACKAGE" "$KERNEL_VERSION" >/dev/null ||
           download "$KERNEL_PACKAGE" "$KERNEL_VERSION"; } &&
       { cached_deb "$BUSYBOX_PACKAGE" "$BUSYBOX_VERSION" >/dev/null ||
           download "$BUSYBOX_PACKAGE" "$BUSYBOX_VERSION"; }; then
      return 0
    fi
    [[ $attempt -eq 1 ]] || break
    log "download failed: apt-get update, then once more"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    resolve_packages || die "apt knows no $KERNEL_META:$ARCH or $BUSYBOX_PACKAGE:$ARCH after apt-get update"
  done
  die "could not download $KERNEL_PACKAGE $KERNEL_VERSION and $BUSYBOX_PACKAGE $BUSYBOX_VERSION"
}

# Drops cached packages other than the ones in use.
prune_cache() {
  local file keep_kernel keep_busybox
  keep_kernel=$(basename "$(cached_deb "$KERNEL_PACKAGE" "$KERNEL_VERSION")")
  keep_busybox=$(basename "$(cached_deb "$BUSYBOX_PACKAGE" "$BUSYBOX_VERSION")")
  for file in "$CACHE_DIR"/*.deb; do
    [[ -e $file ]] || continue
    case "$(basename "$file")" in
      "$keep_kernel"|"$keep_busybox") ;;
      *) log "removing old $(basename "$file")"; rm -f "$file" ;;
    esac
  done
}

# --- The kernel ---------------------------------------------------------------

# Copies the kernel as an uncompressed arm64 Image (magic "ARM\x64" at byte
# 56). Debian's arm64 vmlinuz already is one (with an EFI stub); a gzipped
# one is unpacked.
install_kernel() {
  local source=$1 target=$2
  case "$(od -An -tx1 -N2 "$source" | tr -d ' \n')" in
    1f8b) gzip -dc "$source" > "$target" ;;
    *) cp "$source" "$target" ;;
  esac
  [[ $(od -An -tx1 -j56 -N4 "$target" | tr -d ' \n') == 41524d64 ]] ||
    die "$source is not an arm64 Image (no ARM\\x64 magic at byte 56, not gzip of one)"
}

# --- The initramfs --------------------------------------------------------------

# Prints "<dir>/<applet>" for every applet of a BusyBox binary, where
# `busybox --list-full` would put it. An arm64 busybox cannot run on the
# build machine, so this reads the binary's own tables: the applet names
# (one NUL-separated, sorted string starting "[", "[[") and the packed
# install-location table (4 bits per applet: 0 = /, 1 = /bin, 2 = /sbin,
# 3 = /usr/bin, 4 = /usr/sbin), found as the only byte run that decodes to
# known locations of a few applets. Without a match, all go into bin/.
busybox_applets() {
  if "$1" --list-full 2>/dev/null; then return 0; fi  # runs natively on arm64
  python3 - "$1" <<'PYTHON'
import sys

data = open(sys.argv[1], "rb").read()
start = data.find(b"[\0[[\0")
if start < 0:
    sys.exit("build-guest-images: no applet name table in " + sys.argv[1])
names = data[start:data.index(b"\0\0", start)].decode("ascii").split("\0")
if names != sorted(names):
    sys.exit("build-guest-images: the applet names of " + sys.argv[1] + " are not sorted")
count, size = len(names), (len(names) + 1) // 2
index = {name: i for i, name in enumerate(names)}
anchors = {"[": 3, "sh": 1, "mount": 1, "reboot": 2, "chroot": 4, "nproc": 3}
anchors = {index[name]: where for name, where in anchors.items() if name in index}
valid = bytes(b for b in range(256) if b & 15 <= 4 and b >> 4 <= 4)

def location(table, i):
    return (table[i // 2] >> (4 * (i % 2))) & 15

found = set()
run_start = 0
for position in range(len(data) + 1):
    if position < len(data) and data[position] in valid:
        continue
    for offset in range(run_start, position - size + 1):
        table = data[offset:offset + size]
        if all(location(table, i) == where for i, where in anchors.items()):
            found.add(table)
    run_start = position + 1
directories = ["", "bin/", "sbin/", "usr/bin/", "usr/sbin/"]
if len(anchors) >= 4 and len(found) == 1:
    table = found.pop()
    for i, name in enumerate(names):
        print(directories[location(table, i)] + name)
else:
    print("build-guest-images: warning: BusyBox's install-location table not found; "
          "every applet goes into /bin", file=sys.stderr)
    for name in names:
        print("bin/" + name)
PYTHON
}

# Reads the depends= field of a module's .modinfo (comma-separated names).
module_depends() {
  tr '\0' '\n' < "$1" | awk -F= '$1 == "depends" && !seen { print $2; seen = 1 }' | tr ',' ' '
}

# Copies the modules of MODULES and OPTIONAL_MODULES with their
# dependencies from the kernel tree $1 (lib/modules/<release>) into $2 (the
# same directory in the initramfs), and writes there:
#   modules.dep   kmod's format, read by BusyBox modprobe: "<path>: <deps>",
#                 deps listed so that the last one is loaded first
#   modules.list  the module names, one per line, in a working load order
install_modules() {
  local tree=$1 target=$2 file name module
  declare -gA MODULE_PATH=() MODULE_DEPS=() MODULE_STATE=()
  MODULE_ORDER=()
  while IFS= read -r -d '' file; do
    name=$(basename "$file" .ko)
    MODULE_PATH[${name//-/_}]=${file#"$tree"/}
  done < <(find "$tree/kernel" -name '*.ko' -print0)

  for module in "${MODULES[@]}"; do
    [[ -n ${MODULE_PATH[$module]:-} ]] || die "module $module is not in $(basename "$tree")"
    visit_module "$tree" "$module"
  done
  for module in "${OPTIONAL_MODULES[@]}"; do
    if [[ -n ${MODULE_PATH[$module]:-} ]]; then
      visit_module "$tree" "$module"
    else
      log "optional module $module is not in this kernel; skipped"
    fi
  done

  : > "$target/modules.dep"
  : > "$target/modules.list"
  local -a closure=()
  local -A seen_set=()
  local line i
  for module in "${MODULE_ORDER[@]}"; do
    mkdir -p "$target/$(dirname "${MODULE_PATH[$module]}")"
    cp "$tree/${MODULE_PATH[$module]}" "$target/${MODULE_PATH[$module]}"
    printf '%s\n' "$module" >> "$target/modules.list"
    # All of its dependencies, deepest last (reverse of a load order).
    closure=()
    seen_set=()
    collect_closure "$module"
    line="${MODULE_PATH[$module]}:"
    for ((i = ${#closure[@]} - 1; i >= 0; i--)); do
      line+=" ${MODULE_PATH[${closure[i]}]}"
    done
    printf '%s\n' "$line" >> "$target/modules.dep"
  done
  # kmod's modprobe wants to know what is built in; BusyBox's does not care.
  [[ -f $tree/modules.builtin ]] && cp "$tree/modules.builtin" "$target/modules.builtin"
  return 0
}

# Depth-first: dependencies before the module, each module once.
visit_module() {
  local tree=$1 module=$2 dep
  case "${MODULE_STATE[$module]:-}" in
    "done") return 0 ;;
    visiting) die "module dependency cycle through $module" ;;
  esac
  [[ -n ${MODULE_PATH[$module]:-} ]] || die "module $module (a dependency) is not in the kernel package"
  MODULE_STATE[$module]=visiting
  MODULE_DEPS[$module]=$(module_depends "$tree/${MODULE_PATH[$module]}")
  for dep in ${MODULE_DEPS[$module]}; do
    visit_module "$tree" "${dep//-/_}"
  done
  MODULE_STATE[$module]="done"
  MODULE_ORDER+=("$module")
}

# Appends the dependencies of $1 (not $1 itself) to `closure` in load order
# (`closure` and `seen_set` are install_modules' locals).
collect_closure() {
  local dep
  for dep in ${MODULE_DEPS[$1]}; do
    dep=${dep//-/_}
    [[ -n ${seen_set[$dep]:-} ]] && continue
    seen_set[$dep]=1
    collect_closure "$dep"
    closure+=("$dep")
  done
}

build_initramfs() {
  local busybox_tree=$1 kernel_tree=$2 release=$3 output=$4
  local root="$WORK/initramfs" busybox applet test
  mkdir -p "$root"
  (cd "$root" && mkdir -p bin sbin usr/bin usr/sbin dev proc sys tmp run root etc mnt \
    var/log "lib/modules/$release" tests)
  chmod 1777 "$root/tmp"
  chmod 700 "$root/root"

  busybox=$(find "$busybox_tree" -path '*/bin/busybox' -type f | head -n1)
  [[ -n $busybox ]] || die "no bin/busybox in the $BUSYBOX_PACKAGE package"
  install -m 755 "$busybox" "$root/bin/busybox"
  local count=0
  while IFS= read -r applet; do
    applet=${applet#/}
    case "$applet" in
      */busybox|busybox|linuxrc|*/linuxrc) continue ;;   # /init is ours
    esac
    [[ $applet == */* ]] || applet="bin/$applet"
    ln -sf /bin/busybox "$root/$applet"
    count=$((count + 1))
  done < <(busybox_applets "$busybox")
  [[ -L $root/bin/sh ]] || die "BusyBox has no sh applet?"
  log "busybox: $count applet links"

  install -m 755 "$GUEST_DIR/init" "$root/init"
  for test in "$GUEST_DIR"/tests/*.sh; do
    [[ -e $test ]] && install -m 755 "$test" "$root/tests/$(basename "$test")"
  done
  mkdir -p "$root/etc/lamina"
  cp -R "$GUEST_DIR/www" "$root/etc/lamina/www"
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
  printf 'root:x:0:\n' > "$root/etc/group"

  install_modules "$kernel_tree" "$root/lib/modules/$release"
  log "modules (load order): $(tr '\n' ' ' < "$root/lib/modules/$release/modules.list")"

  # Fixed times and owners: the same inputs give the same archive.
  find "$root" -exec touch -h -d @0 {} +
  (cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc --owner=0:0 --reproducible) | gzip -9n > "$output"
}

# --- Main ---------------------------------------------------------------------

build() {
  local inputs=$1
  local kernel_deb busybox_deb
  fetch_packages
  kernel_deb=$(cached_deb "$KERNEL_PACKAGE" "$KERNEL_VERSION") || die "no $KERNEL_PACKAGE in $CACHE_DIR"
  busybox_deb=$(cached_deb "$BUSYBOX_PACKAGE" "$BUSYBOX_VERSION") || die "no $BUSYBOX_PACKAGE in $CACHE_DIR"

  log "unpacking $(basename "$kernel_deb") and $(basename "$busybox_deb")"
  dpkg-deb -x "$kernel_deb" "$WORK/kernel"
  dpkg-deb -x "$busybox_deb" "$WORK/busybox"
  local vmlinuz release kernel_tree
  vmlinuz=$(find "$WORK/kernel/boot" -name 'vmlinuz-*' -type f | head -n1)
  [[ -n $vmlinuz ]] || die "no boot/vmlinuz-* in $(basename "$kernel_deb")"
  release=${vmlinuz##*/vmlinuz-}
  for kernel_tree in "$WORK/kernel/lib/modules/$release" "$WORK/kernel/usr/lib/modules/$release" ""; do
    [[ -z $kernel_tree || -d $kernel_tree ]] && break
  done
  [[ -n $kernel_tree ]] || die "no modules for $release in $(basename "$kernel_deb")"

  mkdir -p "$OUT_DIR"
  install_kernel "$vmlinuz" "$WORK/Image"
  build_initramfs "$WORK/busybox" "$kernel_tree" "$release" "$WORK/initramfs.cpio.gz"
  {
    echo "# Lamina's Linux guest images, made by scripts/build-guest-images.sh"
    echo "kernel_package=$KERNEL_PACKAGE"
    echo "kernel_version=$KERNEL_VERSION"
    echo "kernel_release=$release"
    echo "busybox_package=$BUSYBOX_PACKAGE"
    echo "busybox_version=$BUSYBOX_VERSION"
    echo "inputs_sha256=$inputs"
  } > "$WORK/VERSION"
  # VERSION last: an interrupted build leaves no stamp that claims it is done.
  rm -f "$OUT_DIR/VERSION"
  mv -f "$WORK/Image" "$OUT_DIR/Image"
  mv -f "$WORK/initramfs.cpio.gz" "$OUT_DIR/initramfs.cpio.gz"
  mv -f "$WORK/VERSION" "$OUT_DIR/VERSION"
  prune_cache
  log "built $OUT_DIR: Image ($(stat -c %s "$OUT_DIR/Image") bytes, $release)," \
    "initramfs.cpio.gz ($(stat -c %s "$OUT_DIR/initramfs.cpio.gz") bytes)"
}

main() {
  local force=0 check=0
  case "${1:-}" in
    "") ;;
    --force) force=1 ;;
    --check) check=1 ;;
    -h|--help) sed -n '2,21p' "$SCRIPT" | sed 's/^# \{0,1\}//'; return 0 ;;
    *) die "unknown option: $1 (try --help)" ;;
  esac
  for tool in apt-get apt-cache dpkg dpkg-deb cpio gzip python3; do
    command -v "$tool" >/dev/null || die "$tool not found (scripts/setup.sh installs what is needed)"
  done

  local inputs known=1
  inputs=$(inputs_hash)
  resolve_packages || known=0

  # Up to date: the stamp names what apt offers now and the same inputs. When
  # apt's lists do not know the packages at all, the images are kept as they are.
  if [[ $force -eq 0 ]] && images_present && [[ $(stamp_value inputs_sha256) == "$inputs" ]]; then
    if [[ $known -eq 0 ]] || [[ $(stamp_value kernel_package) == "$KERNEL_PACKAGE" &&
          $(stamp_value kernel_version) == "$KERNEL_VERSION" &&
          $(stamp_value busybox_version) == "$BUSYBOX_VERSION" ]]; then
      log "up to date: $OUT_DIR ($(stamp_value kernel_package) $(stamp_value kernel_version)," \
        "busybox $(stamp_value busybox_version))"
      return 0
    fi
  fi
  if [[ $check -eq 1 ]]; then
    log "not up to date: $OUT_DIR"
    return 1
  fi

  WORK=$(mktemp -d "${TMPDIR:-/tmp}/lamina-guest-images.XXXXXX")
  chmod 755 "$WORK"   # apt's _apt user must reach the download directory
  trap 'rm -rf "$WORK"' EXIT

  if [[ $known -eq 0 ]]; then
    ensure_arm64_architecture
    if ! resolve_packages; then
      log "apt does not know $KERNEL_META:$ARCH and $BUSYBOX_PACKAGE:$ARCH yet: apt-get update"
      as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
      resolve_packages || die "apt knows no $KERNEL_META:$ARCH or $BUSYBOX_PACKAGE:$ARCH" \
        "(is a Debian mirror with $ARCH packages in the sources?)"
    fi
  fi
  build "$inputs"
}

main "$@"
