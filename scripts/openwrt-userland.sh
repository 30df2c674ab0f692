#!/bin/bash
# Builds OpenWrt's userland (the pieces listed in scripts/openwrt-sources.txt) into a cached tree
# and prints the tree's path on stdout (everything else goes to stderr).
#
#   scripts/openwrt-userland.sh            build if needed, print the tree's path
#   scripts/openwrt-userland.sh --key      print only the cache key
#
# The tree is laid out like a router's root on a merged-/usr system: programs OpenWrt keeps in
# /sbin, /bin and /lib sit under usr/ (Debian's /sbin, /bin and /lib are links into /usr), so
# tests/router mounts TREE/usr over /usr and TREE/etc over /etc in a throw-away namespace and
# OpenWrt's hard-coded paths are real. usr/bin/sh is busybox (Debian's busybox-static): the ash
# that OpenWrt's scripts are written for. Outside such a namespace run its programs with
# LD_LIBRARY_PATH=TREE/usr/lib.
#
# Sources, first found: $OPENWRT_SRC (a folder of NAME.tar.gz), ../shared/openwrt-src next to
# the project, else a shallow clone of each pinned commit (needs internet). Archives are checked
# against their sha256; a clone against its commit.
#
# Cache: $OPENWRT_USERLAND_CACHE (default ~/.cache/ikev2d/openwrt-userland)/<key>, the key
# being a hash of the source list and this script, so a changed pin or build flag builds a new
# tree and an unchanged one is reused. Several test runs may build and read at once: a tree is
# built in a temporary folder and renamed into place when complete, under a lock per key.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
PROJECT="$(dirname "$HERE")"
SOURCES_LIST="$HERE/openwrt-sources.txt"
CACHE="${OPENWRT_USERLAND_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ikev2d/openwrt-userland}"
JOBS="$(nproc 2>/dev/null || echo 2)"

say() { printf '==> openwrt-userland: %s\n' "$*" >&2; }
die() { printf 'openwrt-userland: %s\n' "$*" >&2; exit 1; }

cache_key() {
	cat "$SOURCES_LIST" "$0" | sha256sum | cut -c1-16
}

# The source list without comments: NAME URL COMMIT SHA256 PATHS per line.
sources() {
	grep -v '^[[:space:]]*\(#\|$\)' "$SOURCES_LIST"
}

source_dir() {
	if [ -n "${OPENWRT_SRC:-}" ]; then
		[ -d "$OPENWRT_SRC" ] || die "OPENWRT_SRC=$OPENWRT_SRC is not a folder"
		echo "$OPENWRT_SRC"
	elif [ -d "$PROJECT/../shared/openwrt-src" ]; then
		(cd "$PROJECT/../shared/openwrt-src" && pwd)
	fi
}

# unpack_all SRC_FOLDER DEST: every archive, checked, unpacked to DEST/NAME.
unpack_all() {
	local from="$1" dest="$2" name url commit sha paths archive
	while read -r name url commit sha paths; do
		archive="$from/$name.tar.gz"
		[ -f "$archive" ] || die "$archive is missing"
		echo "$sha  $archive" | sha256sum --quiet -c - >&2 || die "$archive: sha256 differs from $SOURCES_LIST"
		tar -xzf "$archive" -C "$dest"
		[ -d "$dest/$name" ] || die "$archive does not unpack to $name/"
	done < <(sources)
}

# clone_all DEST: each pinned commit, shallow, only the listed paths.
clone_all() {
	local dest="$1" name url commit sha paths repo
	command -v git >/dev/null || die "no sources: set OPENWRT_SRC, or install git to clone them"
	while read -r name url commit sha paths; do
		say "cloning $name at ${commit:0:12} from $url"
		repo="$dest/.git-$name"
		git init -q "$repo"
		git -C "$repo" fetch -q --depth 1 "$url" "$commit"
		[ "$(git -C "$repo" rev-parse FETCH_HEAD)" = "$commit" ] || die "$url: fetched commit differs"
		# shellcheck disable=SC2086  # the path list splits on commas into separate arguments
		git -C "$repo" archive --prefix="$name/" "$commit" -- ${paths//,/ } | tar -x -C "$dest"
		rm -rf "$repo"
	done < <(sources)
}

# cmake_build NAME [CMAKE OPTION]...: configure, build and install one piece into $T
# (in its source folder when IN_SOURCE=1: jsonpath's custom commands use relative paths).
cmake_build() {
	local name="$1" dir="$B/$1"
	shift
	[ "${IN_SOURCE:-0}" = 1 ] && dir="$S/$name"
	say "building $name"
	cmake -S "$S/$name" -B "$dir" -Wno-dev \
		-DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_PREFIX_PATH="$T/usr" \
		-DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_EXE_LINKER_FLAGS="$LDFLAGS" \
		-DCMAKE_SHARED_LINKER_FLAGS="$LDFLAGS" -DCMAKE_MODULE_LINKER_FLAGS="$LDFLAGS" \
		"$@" >"$B/$name.log" 2>&1 || { tail -n 40 "$B/$name.log" >&2; die "$name: cmake failed"; }
	{ make -C "$dir" -j"$JOBS" && make -C "$dir" install DESTDIR="$T"; } \
		>>"$B/$name.log" 2>&1 || { tail -n 40 "$B/$name.log" >&2; die "$name: build failed"; }
}

# move_to DIR PROGRAM...: OpenWrt keeps these in /sbin or /bin, which on a merged-/usr host
# are usr/sbin and usr/bin; CMake installed them wherever their project says.
move_to() {
	local dir="$T/usr/$1" name found
	shift
	mkdir -p "$dir"
	for name in "$@"; do
		found="$(find "$T/usr/bin" "$T/usr/sbin" -maxdepth 1 -name "$name" 2>/dev/null | head -n 1)"
		[ -n "$found" ] || die "$name was not installed"
		[ "$found" = "$dir/$name" ] || mv "$found" "$dir/"
	done
}

build_libs() {
	cmake_build libubox -DBUILD_LUA=OFF -DBUILD_EXAMPLES=OFF -DBUILD_TESTS=OFF
	cmake_build ubus -DBUILD_LUA=OFF -DBUILD_EXAMPLES=OFF -DBUILD_TESTS=OFF
	cmake_build uci -DBUILD_LUA=OFF -DBUILD_TESTS=OFF
	cmake_build ucode -DNL80211_SUPPORT=OFF -DRTNL_SUPPORT=OFF -DDIGEST_SUPPORT=OFF \
		-DZLIB_SUPPORT=OFF -DUBUS_SUPPORT=ON -DUCI_SUPPORT=ON -DULOOP_SUPPORT=ON \
		-DDEBUG_SUPPORT=OFF -DLOG_SUPPORT=ON
	cmake_build udebug
}

build_daemons() {
	# rpc-sys needs strlcpy (absent from glibc 2.36); ucode.c uses GNU extensions.
	sed -i '1i #define _GNU_SOURCE' "$S/rpcd/ucode.c"
	cmake_build rpcd -DIWINFO_SUPPORT=OFF -DUCODE_SUPPORT=ON -DFILE_SUPPORT=ON -DRPCSYS_SUPPORT=OFF
	# procd: no jail/seccomp/capabilities (not PID 1 here), no -Werror, strlcpy supplied.
	sed -i 's/-Werror//g' "$S/procd/CMakeLists.txt"
	printf '%s\n' '#include <string.h>' \
		'size_t strlcpy(char *d, const char *s, size_t n) { size_t l = strlen(s);' \
		'	if (n) { size_t c = l < n - 1 ? l : n - 1; memcpy(d, s, c); d[c] = 0; } return l; }' \
		>"$B/strlcpy.c"
	cc -O2 -c -o "$B/strlcpy.o" "$B/strlcpy.c"
	cmake_build procd -DJAIL_SUPPORT=OFF -DSECCOMP_SUPPORT=OFF -DUTRACE_SUPPORT=OFF \
		-DCAPABILITY_SUPPORT=OFF -DCMAKE_EXE_LINKER_FLAGS="$LDFLAGS $B/strlcpy.o"
	IN_SOURCE=1 cmake_build jsonpath
	cmake_build opkg-lede -DBUILD_TESTS=OFF
	cmake_build uhttpd -DTLS_SUPPORT=OFF -DLUA_SUPPORT=OFF -DUCODE_SUPPORT=ON -DUBUS_SUPPORT=ON \
		-DCMAKE_C_FLAGS="$CFLAGS -D_GNU_SOURCE="
	cmake_build lucihttp -DBUILD_LUA=OFF -DBUILD_UCODE=ON -DBUILD_TESTS=OFF \
		-DCMAKE_C_FLAGS="$CFLAGS -D_GNU_SOURCE="
	move_to sbin ubusd uci procd rpcd
	mv "$T/usr/bin/jsonpath" "$T/usr/bin/jsonfilter"
	ln -sf opkg-cl "$T/usr/bin/opkg"
}

build_apk() {
	say "building apk-tools"
	meson setup "$B/apk-tools" "$S/apk-tools" --prefix=/usr --libdir=lib --buildtype=release \
		-Ddocs=disabled -Dhelp=disabled -Dlua=disabled -Dpython=disabled -Dtests=disabled \
		-Dzstd=disabled -Durl_backend=libfetch >"$B/apk-tools.log" 2>&1 \
		|| { tail -n 40 "$B/apk-tools.log" >&2; die "apk-tools: meson failed"; }
	{ ninja -C "$B/apk-tools" && DESTDIR="$T" ninja -C "$B/apk-tools" install; } \
		>>"$B/apk-tools.log" 2>&1 || { tail -n 40 "$B/apk-tools.log" >&2; die "apk-tools: build failed"; }
}

build_luci() {
	say "building luci-base (po2lmo, jsmin, luci.core, luci.version) and ucode-mod-html"
	local luci="$S/luci" base="$S/luci/modules/luci-base" commit
	commit="$(sources | awk '$1 == "luci" { print substr($3, 1, 12) }')"
	# compile = core.so (the ucode module luci.core) + version.uc (luci.version): LuCI's
	# dispatcher and its rpcd plugin import both.
	make -C "$base/src" po2lmo jsmin compile CFLAGS="$CFLAGS" FPIC=-fPIC \
		LDFLAGS="-Wl,--no-as-needed $LDFLAGS" LUCI_VERSION="git-$commit" LUCI_GITBRANCH=master \
		>"$B/luci.log" 2>&1 || { tail -n 40 "$B/luci.log" >&2; die "luci-base: build failed"; }
	install -D -m 0755 "$base/src/po2lmo" "$T/usr/bin/po2lmo"
	install -D -m 0755 "$base/src/jsmin" "$T/usr/bin/jsmin"
	mkdir -p "$T/usr/lib/ucode"
	# shellcheck disable=SC2086  # the flags are lists of words
	cc $CFLAGS -fPIC -shared -o "$T/usr/lib/ucode/html.so" \
		"$luci/contrib/package/ucode-mod-html/src/html.c" $LDFLAGS
	# LuCI's runtime (luci-base, the bootstrap theme, luci-mod-status) as their packages
	# install it, in a layer of its own: only the LuCI tests put it over the router's root.
	local L="$T/luci-root" theme="$luci/themes/luci-theme-bootstrap"
	local status="$luci/modules/luci-mod-status" part
	mkdir -p "$L/usr/share/ucode/luci" "$L/www"
	cp -a "$base/ucode/." "$L/usr/share/ucode/luci/"
	install -D -m 0755 "$base/src/core.so" "$L/usr/lib/ucode/luci/core.so"
	install -m 0644 "$base/src/version.uc" "$L/usr/share/ucode/luci/version.uc"
	for part in "$base" "$theme" "$status"; do
		cp -a "$part/htdocs/." "$L/www/"
		if [ -d "$part/root" ]; then cp -a "$part/root/." "$L/"; fi
		if [ -d "$part/ucode" ]; then cp -a "$part/ucode/." "$L/usr/share/ucode/luci/"; fi
	done
	# rpcd and ubusd refuse group/world-writable ACL files (the archives are group-writable).
	chmod -R go-w "$L"
}

# firewall4 is ucode and shell only; OpenWrt's shell libraries come from openwrt-files.
install_scripts() {
	say "installing firewall4 and OpenWrt's shell libraries"
	local fw="$S/firewall4/root" of="$S/openwrt-files/package"
	cp -a "$fw/usr/." "$T/usr/"
	install -D -m 0755 "$fw/sbin/fw4" "$T/usr/sbin/fw4"
	install -D -m 0755 "$fw/etc/init.d/firewall" "$T/etc/init.d/firewall"
	install -D -m 0644 "$fw/etc/config/firewall" "$T/etc/config/firewall"
	cp -a "$fw/etc/nftables.d" "$T/etc/"
	local bf="$of/base-files/files"
	install -D -m 0755 "$bf/etc/rc.common" "$T/etc/rc.common"
	install -D -m 0644 "$bf/lib/functions.sh" "$T/usr/lib/functions.sh"
	mkdir -p "$T/usr/lib/functions"
	cp -a "$bf/lib/functions/." "$T/usr/lib/functions/"
	install -m 0644 "$of/system/procd/files/procd.sh" "$T/usr/lib/functions/procd.sh"
	install -D -m 0755 "$of/system/procd/files/reload_config" "$T/usr/sbin/reload_config"
	install -D -m 0755 "$of/system/procd/files/service" "$T/usr/sbin/service"
	install -D -m 0644 "$of/system/uci/files/lib/config/uci.sh" "$T/usr/lib/config/uci.sh"
	install -D -m 0755 "$of/system/rpcd/files/rpcd.init" "$T/etc/init.d/rpcd"
	install -D -m 0644 "$S/rpcd/unauthenticated.json" "$T/usr/share/rpcd/acl.d/unauthenticated.json"
	install -D -m 0644 "$of/system/rpcd/files/rpcd.config" "$T/etc/config/rpcd"
	install -D -m 0644 "$of/network/services/dnsmasq/files/dhcp.conf" "$T/etc/config/dhcp"
	# dnsmasq's init script and files, not installed: a test that runs a dnsmasq (Debian's
	# binary) under OpenWrt's init script puts them in place
	mkdir -p "$T/usr/share/openwrt-files"
	cp -a "$of/network/services/dnsmasq/files" "$T/usr/share/openwrt-files/dnsmasq"
	# Reference files, not installed on a router: how the build system packs and installs.
	mkdir -p "$T/usr/share/openwrt-build"
	cp "$S/openwrt-files/include/package-pack.mk" "$S/openwrt-files/include/rootfs.mk" \
		"$T/usr/share/openwrt-build/"
	ln -sf /usr/bin/busybox "$T/usr/bin/sh"
	chmod -R go-w "$T/etc" "$T/usr"
}

build_tree() {
	local work="$1" from
	S="$work/src" B="$work/build" T="$work/tree"
	mkdir -p "$S" "$B" "$T"
	CFLAGS="-O2 -I$T/usr/include"
	LDFLAGS="-L$T/usr/lib -Wl,-rpath-link,$T/usr/lib"
	# For build files that ignore CMAKE_*_FLAGS (uhttpd's ucode module links a bare -lucode).
	export LIBRARY_PATH="$T/usr/lib" C_INCLUDE_PATH="$T/usr/include"
	from="$(source_dir)"
	if [ -n "$from" ]; then
		say "sources: $from"
		unpack_all "$from" "$S"
	else
		say "sources: no OPENWRT_SRC or ../shared/openwrt-src; cloning the pinned commits"
		clone_all "$S"
	fi
	build_libs
	build_daemons
	build_apk
	build_luci
	install_scripts
	cp "$SOURCES_LIST" "$T/.sources"
}

main() {
	local key final lock
	key="$(cache_key)"
	if [ "${1:-}" = "--key" ]; then
		echo "$key"
		return
	fi
	final="$CACHE/$key"
	if [ ! -d "$final" ]; then
		mkdir -p "$CACHE"
		lock="$CACHE/.lock-$key"
		exec 9>"$lock"
		flock 9
		if [ ! -d "$final" ]; then
			work="$(mktemp -d "$CACHE/.build-$key.XXXXXX")"
			trap 'rm -rf "$work"' EXIT
			say "building into $final (about a minute)"
			build_tree "$work"
			mv -T "$work/tree" "$final"
			rm -rf "$work"
			say "done: $final"
		fi
		exec 9>&-
	fi
	echo "$final"
}

main "$@"
